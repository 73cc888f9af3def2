//! A notification as a CloudEvent (spec 1.0, structured JSON mode), built
//! with the CloudEvents SDK. The data names the object and says what
//! happened in the status's words; it carries nothing of the spec but who
//! asked and why: no targets' parameters, no credentials.

use cloudevents::{EventBuilder as _, EventBuilderV10};

use crate::api::{MaintenanceSession, NotificationRecord};

/// The media type of a structured-mode CloudEvent in JSON.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The event's `source`: the object's API path, as Tekton's events name
/// their runs.
pub fn source(obj: &MaintenanceSession) -> String {
    format!(
        "/apis/immybot.io/v1alpha1/namespaces/{}/maintenancesessions/{}",
        obj.metadata.namespace.as_deref().unwrap_or_default(),
        obj.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The structured-mode body of `record`'s CloudEvent.
pub fn body(obj: &MaintenanceSession, record: &NotificationRecord) -> Result<Vec<u8>, String> {
    let data = serde_json::json!({
        "kind": "MaintenanceSession",
        "namespace": obj.metadata.namespace,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
        "reason": record.reason,
        "message": record.message,
        "requestedBy": obj.spec.requested_by,
        "changeReason": obj.spec.reason,
    });
    let event = EventBuilderV10::new()
        .id(record.id.clone())
        .source(source(obj))
        .ty(record.type_.clone())
        .subject(obj.metadata.name.clone().unwrap_or_default())
        .time(record.time.0.to_string())
        .data("application/json", data)
        .build()
        .map_err(|e| format!("building the CloudEvent: {e}"))?;
    serde_json::to_vec(&event).map_err(|e| format!("encoding the CloudEvent: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NotificationState;
    use crate::test_fixtures::session;

    #[test]
    fn the_event_is_structured_cloudevents_json_with_the_records_id() {
        let mut obj = session().build();
        obj.metadata.namespace = Some("msp".into());
        obj.metadata.uid = Some("u-1".into());
        let record = NotificationRecord {
            id: "abc123".into(),
            type_: "io.immybot.maintenancesession.rollout.halted.v1".into(),
            reason: "HealthGateFailed".into(),
            message: "the health gate fires: EndpointDown".into(),
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time("2026-12-07T01:00:00Z".parse().unwrap()),
            state: NotificationState::Pending,
            sent_at: None,
        };
        let v: serde_json::Value = serde_json::from_slice(&body(&obj, &record).unwrap()).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["id"], "abc123");
        assert_eq!(v["type"], "io.immybot.maintenancesession.rollout.halted.v1");
        assert_eq!(
            v["source"],
            format!(
                "/apis/immybot.io/v1alpha1/namespaces/msp/maintenancesessions/{}",
                obj.metadata.name.clone().unwrap()
            )
        );
        assert_eq!(v["time"], "2026-12-07T01:00:00Z");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["data"]["reason"], "HealthGateFailed");
        let keys: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "changeReason",
                "kind",
                "message",
                "name",
                "namespace",
                "reason",
                "requestedBy",
                "uid"
            ],
            "nothing of the spec beyond who asked and why"
        );
    }
}
