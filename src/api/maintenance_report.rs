//! `MaintenanceReport`: what maintenance did over a period, for people
//! outside the cluster (a customer's monthly report, a change board),
//! asked from Kubernetes and answered once in its status (the
//! `SessionSearch` pattern). ImmyBot is the system of record: every
//! session ImmyBot ran in the period counts, whoever started it (its own
//! schedules, onboarding, a person in ImmyBot, this operator), so deleting
//! a MaintenanceSession does not take its history out of a report.
//! Approvals and cancellations are Kubernetes' own records, read from the
//! objects in the report's namespace. Read only: it needs no approval.
//! `kubectl immybot report` creates one and renders it as Markdown, HTML
//! or CSV.
//!
//! Bounded for the object size limit whatever the fleet and period: the
//! status holds counts, never rows (at most `MAX_TENANTS` tenants, the rest
//! folded into one line; `MAX_FAILED_ITEMS` items each; one count per
//! week, at most `MAX_WEEKS`; at most `MAX_RECORDS` approvals and
//! cancellations listed, all counted): about 400 KB at most, 12 months of
//! 50 tenants.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Tenants listed one by one; more are folded into `otherTenants`.
pub const MAX_TENANTS: usize = 50;
/// Failed items listed per tenant, most failures first.
pub const MAX_FAILED_ITEMS: usize = 10;
/// Weeks of the trend: a period is at most `MAX_PERIOD_DAYS` long.
pub const MAX_WEEKS: usize = 54;
/// The longest period a report covers.
pub const MAX_PERIOD_DAYS: i64 = 372;
/// Approvals and cancellations listed (all are counted).
pub const MAX_RECORDS: usize = 50;

/// A report of the maintenance ImmyBot ran over a period, answered once in
/// status.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "MaintenanceReport",
    namespaced,
    doc = "A report of the maintenance ImmyBot ran over a period (sessions per tenant, computers passed, failed and missed, the items that failed most, compliance at the end, approvals and cancellations, the weekly trend of failures), answered once in status for people outside the cluster. Read only: it needs no approval. Deleted when its ttl passes. `kubectl immybot report` renders it.",
    status = "MaintenanceReportStatus",
    shortname = "imr",
    category = "immybot",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Sessions","type":"integer","jsonPath":".status.summary.sessions"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.summary.computersFailed"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","jsonPath":".status.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("a MaintenanceReport is one question: create a new one to ask another"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.until) || self.since < self.until").message("since must be before until"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.until) || timestamp(self.until) - timestamp(self.since) <= duration('8928h')").message("a report covers at most 372 days"))]
pub struct MaintenanceReportSpec {
    /// Which ImmyBot instance to report on, through which connection
    /// (`ImmyBotConnection` in this namespace, or
    /// `ClusterImmyBotConnection`); unset, the default connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<super::ConnectionRef>,
    /// The period's start (RFC 3339).
    pub since: Time,
    /// The period's end (RFC 3339); unset, when the report is answered. At
    /// most 372 days after `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
    /// Only these tenants, by ImmyBot name (case-insensitive, resolved when
    /// the report is answered; a name that matches no tenant or several
    /// fails the report with the candidates); empty: every tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub tenants: Vec<String>,
    /// Which MaintenanceSessions of this namespace the approvals and
    /// cancellations come from (ImmyBot's sessions are not labelled: the
    /// tenants narrow those); unset, all of this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// How long the answer is kept; then the object deletes itself (e.g.
    /// `24h`, the default; at most `168h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(s|m|h))+$"))]
    pub ttl: Option<String>,
}

/// The answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceReportStatus {
    /// `Pending` (not answered yet), `Complete`, or `Failed` (`message` says
    /// why; ask again with a new object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<super::SearchPhase>,
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
    /// The period reported, as answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<ReportPeriod>,
    /// How many ImmyBot calls the answer cost (all at the budget's lowest
    /// priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immybot_calls: Option<i32>,
    /// The whole report in one line of counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ReportCounts>,
    /// Failures week by week over every tenant reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weeks: Vec<WeekCounts>,
    /// One entry per tenant, most sessions first, at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantReport>,
    /// The tenants past the first 50, folded into one line of counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_tenants: Option<ReportCounts>,
    /// Approvals given in the period (MaintenanceApprovals of this
    /// namespace, of sessions and schedules; with `selector`, of the
    /// selected sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<PeopleRecords>,
    /// Cancellations made in the period (`spec.cancel` of the selected
    /// sessions, who set it and when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellations: Option<PeopleRecords>,
}

/// A period, both ends.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportPeriod {
    pub since: Time,
    pub until: Time,
}

/// Counts over a tenant, several, or all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportCounts {
    /// Sessions ImmyBot created in the period, whoever started them.
    pub sessions: i64,
    /// Of them, started by one of ImmyBot's own schedules.
    #[serde(default)]
    pub sessions_by_schedule: i64,
    /// Computers with at least one session in the period.
    pub computers: i64,
    /// Computers whose last session in the period passed.
    pub computers_passed: i64,
    /// Computers whose last session in the period failed (or partly).
    pub computers_failed: i64,
    /// Computers whose last session in the period was missed (offline).
    pub computers_missed: i64,
    /// Failed maintenance actions in the period.
    #[serde(default)]
    pub failed_actions: i64,
    /// Computers ImmyBot showed out of compliance when the report was
    /// answered (its latest non-compliant actions per tenant); absent when
    /// that could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computers_non_compliant: Option<i64>,
}

/// One tenant's part of the report.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    /// The ImmyBot tenant id (0: rows that named no tenant).
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub counts: ReportCounts,
    /// The items that failed most, most failures first, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_items: Vec<FailedItem>,
    /// Failures week by week.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weeks: Vec<WeekCounts>,
}

/// A maintenance item that failed, and why most often.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedItem {
    pub name: String,
    /// Failed actions of it in the period.
    pub failures: i64,
    /// Computers it failed on.
    pub computers: i64,
    /// The reason ImmyBot gave most often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One week (ISO 8601, Monday first).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeekCounts {
    /// The week's Monday (`2026-11-30`).
    pub week: String,
    pub sessions: i64,
    /// Sessions that failed or partly failed.
    pub failed: i64,
}

/// Who did something, counted, the latest listed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeopleRecords {
    pub count: i64,
    /// How many each person made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_person: Vec<PersonCount>,
    /// The latest, newest first, at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest: Vec<PersonRecord>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonCount {
    pub person: String,
    pub count: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonRecord {
    /// The object approved or cancelled (a MaintenanceSession, or the
    /// schedule an approval names).
    pub session: String,
    pub person: String,
    pub at: Time,
}
