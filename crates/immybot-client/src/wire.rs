//! Response and request shapes of the ImmyBot API, field names exactly as in
//! the OpenAPI document (`tests/data/immybot-openapi.json`).
//!
//! Decoding is tolerant on purpose: the document calls itself unofficial, so
//! every field is optional, unknown fields are ignored and enums keep unknown
//! values. Encoding leaves out absent fields (never `null` for a field the
//! document does not mark nullable), so that what we send, and what the
//! simulator answers, validates against the document.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::enums::*;

/// A point in time as ImmyBot writes it. .NET sometimes omits the offset
/// (`2024-05-01T10:00:00`); such a value is UTC, which is how ImmyBot stores
/// its `...UTC` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WireTime(pub jiff::Timestamp);

impl WireTime {
    pub fn parse(s: &str) -> Option<Self> {
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Some(Self(ts));
        }
        let civil = s.parse::<jiff::civil::DateTime>().ok()?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| Self(z.timestamp()))
    }
}

impl fmt::Display for WireTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for WireTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WireTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WireTime::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a date-time: {s:?}")))
    }
}

/// `GetMaintenanceSessionResponse`: one session, optionally with its actions,
/// stages and logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MaintenanceSession {
    pub id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_status: Option<SessionStatus>,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<WireTime>,
    #[serde(rename = "updatedDateUTC", skip_serializing_if = "Option::is_none")]
    pub updated_date_utc: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub full_maintenance: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_updates_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_stage_status: Option<SessionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_job_args: Option<SessionJobArgs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_execution_date: Option<WireTime>,
    /// The ImmyBot schedule that started this session, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_id: Option<i32>,
    /// Present only when asked for with `includeActions=true`, and seen
    /// missing even then: absent is not "no actions".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_actions: Option<Vec<MaintenanceAction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<MaintenanceSessionStage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<SessionLog>>,
}

impl MaintenanceSession {
    /// The correlation key a start call put on this session, if any.
    pub fn session_group_id(&self) -> Option<Uuid> {
        self.session_job_args.as_ref().and_then(|a| a.session_group_id)
    }
}

/// `SessionJobArgs`: how a session was started, echoed back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionJobArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_group_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot_preference: Option<RebootPreference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_behavior: Option<ComputerOfflineMaintenanceSessionBehavior>,
    pub detection_only: bool,
    pub resolution_only: bool,
    pub inventory_only: bool,
    pub rerunning_action: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id_to_rerun: Option<i32>,
    pub manually_resumed: bool,
}

/// `GetMaintenanceSessionStageResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MaintenanceSessionStage {
    pub id: i32,
    pub maintenance_session_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_status: Option<SessionStatus>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub stage_type: Option<SessionStageType>,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<WireTime>,
    #[serde(rename = "updatedDateUTC", skip_serializing_if = "Option::is_none")]
    pub updated_date_utc: Option<WireTime>,
}

/// `GetMaintenanceActionResponse`: one thing a session did (or would do) to
/// one computer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MaintenanceAction {
    pub id: i32,
    pub maintenance_session_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<MaintenanceActionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MaintenanceActionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<MaintenanceType>,
    /// Required (though nullable) in the document, so always written.
    pub maintenance_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_version_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_version_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<MaintenanceActionResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_reason: Option<MaintenanceActionResultReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_reason_message: Option<String>,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<WireTime>,
    /// The read-only `*Name` fields live rows carry next to (or, with
    /// `select=`, instead of) the enum values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_type_name: Option<String>,
}

impl MaintenanceAction {
    /// Fills each enum from its `*Name` field where only the name came.
    pub fn with_names_resolved(mut self) -> Self {
        fn from_name<T: serde::de::DeserializeOwned>(name: &Option<String>) -> Option<T> {
            serde_json::from_value(serde_json::Value::String(name.clone()?)).ok()
        }
        if self.action_type.is_none() {
            self.action_type = from_name(&self.action_type_name);
        }
        if self.status.is_none() {
            self.status = from_name(&self.status_name);
        }
        if self.result.is_none() {
            self.result = from_name(&self.result_name);
        }
        if self.maintenance_type.is_none() {
            self.maintenance_type = from_name(&self.maintenance_type_name);
        }
        self
    }
}

/// `GetMaintenanceSessionPhaseResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionPhase {
    pub id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_name: Option<String>,
    pub maintenance_session_id: i32,
    pub maintenance_session_stage_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_action_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SessionPhaseStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_percent_complete: Option<f64>,
    pub progress_completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_started_utc: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_completed_utc: Option<WireTime>,
}

/// `GetMaintenanceSessionLogResponse`: one log line. `script` and
/// `scriptOutput` are not modelled: they can carry whatever a script printed,
/// and nothing of ours needs them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionLog {
    pub id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub maintenance_session_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_session_stage_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_action_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_log_type: Option<SessionLogType>,
}

/// `LoadResult`: a DevExtreme `dx` page. `data` items are decoded by the
/// caller, one by one, so that one odd row does not lose the page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoadResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<serde_json::Value>>,
    pub total_count: i32,
    pub group_count: i32,
}

/// `GetSessionStatusCountsPayload`: counts keyed by status (name or number,
/// as the instance writes them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionStatusCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<std::collections::BTreeMap<String, i64>>,
    pub total: f64,
}

/// `CancelSessionsRequestBody`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelSessionsRequest {
    pub session_ids: Vec<i32>,
}

/// `GetComputerResponse` (the fields a reconciler uses).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Computer {
    pub id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    pub tenant_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    pub is_online: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    pub exclude_from_maintenance: bool,
}

/// `ComputerListViewModel`: a row of `GET /computers/dx`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ComputerListItem {
    pub id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    pub tenant_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_online: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_session_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_session_status: Option<SessionStatus>,
}

/// `GetTenantResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tenant {
    pub id: i32,
    /// Required (though nullable) in the document, so always written.
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_tenant_id: Option<i32>,
    pub active: bool,
    pub is_msp: bool,
}
