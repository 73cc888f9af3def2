//! The contract: what the client sends and what the simulator answers must
//! validate against the instance's OpenAPI document (`tests/data/`).

use immybot_client::*;
use serde_json::Value;

use crate::support::*;

/// The document's component schemas as JSON Schema. OpenAPI 3.0 marks
/// nullable fields with `nullable: true`, which JSON Schema does not know:
/// such a field's type gains `"null"` (or, for a `$ref`, a null alternative).
fn openapi() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/immybot-openapi.json"
    ))
    .unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    fn convert(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for child in map.values_mut() {
                    convert(child);
                }
                if map.remove("nullable") == Some(Value::Bool(true)) {
                    if let Some(Value::String(t)) = map.get("type").cloned() {
                        map.insert("type".into(), serde_json::json!([t, "null"]));
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    } else {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), serde_json::json!([inner, {"type": "null"}]));
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(convert),
            _ => {}
        }
    }
    convert(&mut doc);
    doc
}

/// Validates `instance` against `schema` (e.g. `{"$ref": "#/components/schemas/X"}`).
fn check(doc: &Value, schema: Value, instance: &Value, what: &str) {
    let mut root = schema;
    root["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema for {what}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the OpenAPI document:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

fn schema(name: &str) -> Value {
    serde_json::json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    serde_json::json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}})
}

/// The schema check itself must be able to fail, or the tests below prove nothing.
#[test]
fn the_checker_rejects_what_the_document_forbids() {
    let doc = openapi();
    let mut root = schema("RunImmyServiceRequestBody");
    root["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    assert!(validator.is_valid(&serde_json::json!({"rebootPreference": 1, "sessionGroupId": null})));
    assert!(
        !validator.is_valid(&serde_json::json!({"rebootPreference": 7})),
        "7 is no RebootPreference"
    );
    assert!(!validator.is_valid(&serde_json::json!({"computers": [{"computerId": "one"}]})));
    assert!(
        !validator.is_valid(&serde_json::json!({"fullMaintenance": null})),
        "not nullable"
    );
}

#[tokio::test]
async fn every_request_body_the_client_builds_validates() {
    let doc = openapi();
    let bed = Bed::new().await;
    let full = StartRequest {
        computers: Some(vec![ComputerTarget {
            computer_id: RECEPTION_PC,
        }]),
        tenants: Some(vec![TenantTarget { tenant_id: NORTHWIND }]),
        skip_background_job: true,
        // A single deployment is the alternative to full maintenance.
        full_maintenance: false,
        deployment_id: Some(12),
        deployment_type: Some(DatabaseType::Local),
        reboot_preference: Some(RebootPreference::Force),
        prompt_timeout_action: Some(PromptTimeoutAction::FailSession),
        prompt_timeout_minutes: Some(15),
        auto_consent_to_reboots: true,
        suppress_reboots_during_business_hours: true,
        offline_behavior: Some(ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect),
        session_group_id: Some(uuid::Uuid::new_v4()),
        propagate_to_child_tenants: true,
        ..Default::default()
    };
    let minimal = StartRequest {
        computers: Some(vec![ComputerTarget {
            computer_id: FINANCE_LT,
        }]),
        ..Default::default()
    };
    for request in [&full, &minimal] {
        bed.client.start(request, StartEndpoint::Immediate).await.unwrap();
    }
    bed.client.cancel_many(&[1, 2]).await.unwrap();
    let starts = bed.sim.state.bodies("POST /api/v1/run-immy-service");
    assert_eq!(starts.len(), 2);
    for body in &starts {
        check(&doc, schema("RunImmyServiceRequestBody"), body, "a start body");
    }
    for body in bed.sim.state.bodies("POST /api/v1/maintenance-sessions/cancel") {
        check(&doc, schema("CancelSessionsRequestBody"), &body, "a cancel body");
    }
}

#[tokio::test]
async fn every_response_the_simulator_sends_validates() {
    let doc = openapi();
    let bed = Bed::new().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC, FINANCE_LT], |_| {}).await;
    let ids = Bed::started_ids(&outcome);
    bed.advance(60);
    let session = bed.client.session(ids[1], true, true).await.unwrap();
    let action = session.maintenance_actions.unwrap()[0].id;
    let id = ids[0];
    let cases: Vec<(String, Value)> = vec![
        (
            format!("api/v1/maintenance-sessions/{id}?includeActions=true&includeStages=true"),
            schema("GetMaintenanceSessionResponse"),
        ),
        (
            format!("api/v1/maintenance-sessions/{id}"),
            schema("GetMaintenanceSessionResponse"),
        ),
        (
            "api/v1/maintenance-sessions/dx?skip=0&take=10".into(),
            schema("LoadResult"),
        ),
        (
            "api/v1/maintenance-sessions/status-counts".into(),
            schema("GetSessionStatusCountsPayload"),
        ),
        (
            format!("api/v1/maintenance-sessions/{id}/phases"),
            array_of("GetMaintenanceSessionPhaseResponse"),
        ),
        (
            format!("api/v1/maintenance-sessions/{id}/logs"),
            array_of("GetMaintenanceSessionLogResponse"),
        ),
        (
            format!("api/v1/maintenance-sessions/{id}/last-log"),
            schema("GetMaintenanceSessionLogResponse"),
        ),
        (
            format!("api/v1/maintenance-actions/{action}/logs"),
            array_of("GetMaintenanceSessionLogResponse"),
        ),
        (
            format!("api/v1/computers/{RECEPTION_PC}"),
            schema("GetComputerResponse"),
        ),
        ("api/v1/computers/dx?take=10".into(), schema("LoadResult")),
        ("api/v1/tenants".into(), array_of("GetTenantResponse")),
        (format!("api/v1/tenants/{FABRIKAM}"), schema("GetTenantResponse")),
    ];
    for (path, want) in cases {
        let (status, ct, body) = bed.raw_get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let value: Value = serde_json::from_str(&body).unwrap();
        check(&doc, want, &value, &path);
    }
    // dx rows are typed by the list they come from.
    let (_, _, body) = bed.raw_get("api/v1/maintenance-sessions/dx?take=10").await;
    let rows: Value = serde_json::from_str(&body).unwrap();
    for row in rows["data"].as_array().unwrap() {
        check(&doc, schema("GetMaintenanceSessionResponse"), row, "a sessions dx row");
    }
    let (_, _, body) = bed.raw_get("api/v1/computers/dx?take=10").await;
    let rows: Value = serde_json::from_str(&body).unwrap();
    for row in rows["data"].as_array().unwrap() {
        check(&doc, schema("ComputerListViewModel"), row, "a computers dx row");
    }
    // rerun answers an integer.
    let token = bed.token().await;
    let rerun: Value = reqwest::Client::new()
        .post(
            bed.sim
                .base_url()
                .join(&format!("api/v1/maintenance-sessions/{id}/rerun"))
                .unwrap(),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(
        &doc,
        serde_json::json!({"type": "integer", "format": "int32"}),
        &rerun,
        "rerun",
    );
}
