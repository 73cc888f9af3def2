//! `SessionSearch`: a question about ImmyBot's maintenance sessions, asked
//! from Kubernetes and answered once in its status (Velero's
//! ServerStatusRequest and DownloadRequest are the model). It finds
//! sessions whoever started them (ImmyBot's schedules, onboarding, a person
//! in ImmyBot, this operator), with Kubernetes RBAC as the only key: the
//! asker never holds ImmyBot credentials. It acts on nothing, so it needs no
//! approval; `kubectl immybot import <id>` turns a found session into an
//! observed MaintenanceSession.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// How many sessions one search may ask for.
pub const MAX_SEARCH_LIMIT: i32 = 500;

/// A search of ImmyBot's maintenance sessions, answered once in status.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "SessionSearch",
    namespaced,
    doc = "A search of ImmyBot's maintenance sessions (by computer, tenant, status and creation time), answered once in status, whoever started them. Read only: it needs no approval. Deleted when its ttl passes.",
    status = "SessionSearchStatus",
    shortname = "iss",
    category = "immybot",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Found","type":"integer","jsonPath":".status.found"}"#,
    printcolumn = r#"{"name":"More","type":"boolean","jsonPath":".status.truncated"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","jsonPath":".status.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("a SessionSearch is one question: create a new one to ask another"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.since) || !has(self.until) || self.since < self.until").message("since must be before until"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.computerId) || !has(self.computerName)").message("name the computer by computerId or computerName, not both"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.tenantId) || !has(self.tenantName)").message("name the tenant by tenantId or tenantName, not both"))]
pub struct SessionSearchSpec {
    /// Which ImmyBot instance to search, through which connection
    /// (`ImmyBotConnection` in this namespace, or
    /// `ClusterImmyBotConnection`); unset, the default connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<super::ConnectionRef>,
    /// Only sessions of this computer (its ImmyBot id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub computer_id: Option<i32>,
    /// Only sessions of the computer of this name, as ImmyBot shows it
    /// (case-insensitive): resolved once when the search is answered; a
    /// name that matches no computer, or several, fails the search with
    /// the candidates listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub computer_name: Option<String>,
    /// Only sessions of this tenant (its ImmyBot id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tenant_id: Option<i32>,
    /// Only sessions of the tenant of this name, resolved like
    /// `computerName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub tenant_name: Option<String>,
    /// Only sessions in any of these ImmyBot statuses (`Failed`,
    /// `PartialPassed`, `Running`, ...); empty: any status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 14))]
    pub statuses: Vec<SearchedStatus>,
    /// Only sessions created at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
    /// Only sessions created before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
    /// At most this many sessions, newest first (1 to 500; default 100).
    /// `status.truncated` says when there were more.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 500))]
    pub limit: i32,
    /// How long the answer is kept; then the object deletes itself (e.g.
    /// `1h`, the default; at most `168h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(s|m|h))+$"))]
    pub ttl: Option<String>,
}

fn default_limit() -> i32 {
    100
}

/// An ImmyBot session status a search can ask for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SearchedStatus {
    Passed,
    Running,
    Failed,
    Created,
    Cancelled,
    Postponed,
    Pending,
    PartialPassed,
    PendingConnectivity,
    Missed,
    MaxTrackedDevicesPerMonthExceeded,
    PendingPreflight,
    PendingEphemeralAgentConnection,
    MaintenanceForTrackableDevicesNotAllowed,
}

/// The answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSearchStatus {
    /// `Pending` (not answered yet), `Complete`, or `Failed` (`message` says
    /// why; ask again with a new object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SearchPhase>,
    /// `Ready` once answered (kstatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When ImmyBot was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// When the object deletes itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// How many sessions are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<i32>,
    /// Whether ImmyBot had more than `limit`: narrow the search.
    #[serde(default)]
    pub truncated: bool,
    /// The computer and tenant `computerName` and `tenantName` named, as
    /// resolved when the search was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_computer: Option<super::NamedId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_tenant: Option<super::NamedId>,
    /// The sessions found, newest first: only the fields below (ImmyBot's
    /// session objects carry task parameters in clear text, so nothing else
    /// of them is copied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<FoundSession>,
}

/// Where a search is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SearchPhase {
    Pending,
    Complete,
    Failed,
}

/// One session found. Fields ImmyBot's list did not carry are left out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundSession {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    /// ImmyBot's session status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<Time>,
    /// The ImmyBot schedule that started it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_id: Option<i32>,
}
