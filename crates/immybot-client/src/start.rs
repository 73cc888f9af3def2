//! The start call: `RunImmyServiceRequestBody` and the response shapes seen
//! in the wild. Starting a session is the one destructive, non-idempotent
//! call, so its result must say precisely what is known and what is not.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::*;

/// `RunImmybotComputerRequestBody`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputerTarget {
    pub computer_id: i32,
}

/// `RunImmybotTenantRequestBody`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantTarget {
    pub tenant_id: i32,
}

/// `RunImmyServiceRequestBody`, the fields this operator sets. Absent fields
/// take ImmyBot's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computers: Option<Vec<ComputerTarget>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<TenantTarget>>,
    pub skip_background_job: bool,
    pub full_maintenance: bool,
    pub detection_only: bool,
    pub resolution_only: bool,
    pub inventory_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_type: Option<DatabaseType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot_preference: Option<RebootPreference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_action: Option<PromptTimeoutAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_minutes: Option<i32>,
    pub auto_consent_to_reboots: bool,
    pub suppress_reboots_during_business_hours: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_behavior: Option<ComputerOfflineMaintenanceSessionBehavior>,
    /// Chosen by the caller and echoed on every session the call creates:
    /// how an interrupted start is recognised later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_group_id: Option<Uuid>,
    pub propagate_to_child_tenants: bool,
    pub send_detection_email: bool,
    pub send_follow_up_email: bool,
}

/// The enum-valued fields of [`StartRequest`] and the name table of each.
/// With [`super::EnumEncoding::Names`] the client rewrites exactly these.
const START_ENUM_FIELDS: &[(&str, &[(i64, &str)])] = &[
    ("deploymentType", DatabaseType::VARIANTS),
    ("rebootPreference", RebootPreference::VARIANTS),
    ("promptTimeoutAction", PromptTimeoutAction::VARIANTS),
    ("offlineBehavior", ComputerOfflineMaintenanceSessionBehavior::VARIANTS),
];

/// Rewrites a serialised start body's enum integers as names.
pub(crate) fn enums_as_names(body: &mut serde_json::Value) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    for (field, table) in START_ENUM_FIELDS {
        if let Some(value) = obj.get_mut(*field)
            && let Some(code) = value.as_i64()
            && let Some((_, name)) = table.iter().find(|(c, _)| *c == code)
        {
            *value = serde_json::Value::String((*name).to_owned());
        }
    }
}

/// One session in a start response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartedSession {
    pub session_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i32>,
}

/// The object form of a start response seen in the wild.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartResponseBody {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions_started: Vec<StartedSession>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions_already_in_progress: Vec<StartedSession>,
}

/// What a start call is known to have done.
#[derive(Clone, Debug, PartialEq)]
pub enum StartOutcome {
    /// Sessions were created (and possibly some computers were busy).
    Started {
        started: Vec<StartedSession>,
        already_in_progress: Vec<StartedSession>,
    },
    /// ImmyBot refused: every targeted computer already has a session.
    /// Not an error to retry blindly.
    AllAlreadyInProgress(Vec<StartedSession>),
    /// The call was accepted but named no session (202, or a bare object
    /// without ids). Find the sessions through `dx` and `sessionGroupId`.
    Accepted,
}

impl StartOutcome {
    /// Decodes the three shapes the notes list: the object with
    /// `sessionsStarted`/`sessionsAlreadyInProgress`, an object with `id`,
    /// and an empty body. `None` means the body was none of those.
    pub fn decode(body: &[u8]) -> Option<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Some(StartOutcome::Accepted);
        }
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let obj = value.as_object()?;
        if obj.contains_key("sessionsStarted") || obj.contains_key("sessionsAlreadyInProgress") {
            let parsed: StartResponseBody = serde_json::from_value(value).ok()?;
            return Some(
                match (
                    parsed.sessions_started.is_empty(),
                    parsed.sessions_already_in_progress.is_empty(),
                ) {
                    (true, false) => StartOutcome::AllAlreadyInProgress(parsed.sessions_already_in_progress),
                    (true, true) => StartOutcome::Accepted,
                    _ => StartOutcome::Started {
                        started: parsed.sessions_started,
                        already_in_progress: parsed.sessions_already_in_progress,
                    },
                },
            );
        }
        match obj
            .get("id")
            .and_then(serde_json::Value::as_i64)
            .and_then(|i| i32::try_from(i).ok())
        {
            Some(id) => Some(StartOutcome::Started {
                started: vec![StartedSession {
                    session_id: id,
                    ..Default::default()
                }],
                already_in_progress: vec![],
            }),
            None => Some(StartOutcome::Accepted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_sessions_started_shape() {
        let body = br#"{"sessionsStarted":[{"sessionId":7,"computerId":3,"tenantId":1,"personId":null}],
                        "sessionsAlreadyInProgress":[{"sessionId":5,"computerId":4}]}"#;
        let outcome = StartOutcome::decode(body).unwrap();
        assert_eq!(
            outcome,
            StartOutcome::Started {
                started: vec![StartedSession {
                    session_id: 7,
                    computer_id: Some(3),
                    tenant_id: Some(1),
                    person_id: None
                }],
                already_in_progress: vec![StartedSession {
                    session_id: 5,
                    computer_id: Some(4),
                    ..Default::default()
                }],
            }
        );
    }

    #[test]
    fn all_in_progress_is_its_own_outcome() {
        let body = br#"{"sessionsStarted":[],"sessionsAlreadyInProgress":[{"sessionId":5,"computerId":4}]}"#;
        assert!(
            matches!(StartOutcome::decode(body), Some(StartOutcome::AllAlreadyInProgress(v)) if v[0].session_id == 5)
        );
    }

    #[test]
    fn decodes_id_and_empty_shapes() {
        assert_eq!(
            StartOutcome::decode(br#"{"id": 12}"#),
            Some(StartOutcome::Started {
                started: vec![StartedSession {
                    session_id: 12,
                    ..Default::default()
                }],
                already_in_progress: vec![]
            })
        );
        assert_eq!(StartOutcome::decode(b""), Some(StartOutcome::Accepted));
        assert_eq!(StartOutcome::decode(b"  \n"), Some(StartOutcome::Accepted));
        assert_eq!(StartOutcome::decode(br#"{"ok":true}"#), Some(StartOutcome::Accepted));
        assert_eq!(StartOutcome::decode(b"<html>"), None);
        assert_eq!(StartOutcome::decode(b"[1,2]"), None);
    }

    #[test]
    fn enum_names_rewrite_touches_only_enum_fields() {
        let req = StartRequest {
            reboot_preference: Some(RebootPreference::Force),
            offline_behavior: Some(ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect),
            prompt_timeout_minutes: Some(2),
            ..Default::default()
        };
        let mut body = serde_json::to_value(&req).unwrap();
        enums_as_names(&mut body);
        assert_eq!(body["rebootPreference"], "Force");
        assert_eq!(body["offlineBehavior"], "ApplyOnConnect");
        assert_eq!(body["promptTimeoutMinutes"], 2);
    }
}
