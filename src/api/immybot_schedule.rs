//! `ImmyBotSchedule`: one of ImmyBot's own maintenance schedules, managed
//! from Kubernetes the way Crossplane manages an external resource. ImmyBot
//! runs it; the operator creates it once approved, keeps it as approved,
//! and shows what it did.
//!
//! The doc comments are what `kubectl explain immybotschedules.spec` shows.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{ComputerRef, InlineApproval, OfflineBehavior, RebootSpec, TenantRef};

/// One ImmyBot maintenance schedule, declared: who, when, what and how.
/// ImmyBot runs it; nothing is created or changed in ImmyBot before someone
/// other than the requester approves the spec (MaintenanceApproval with
/// `kind: ImmyBotSchedule`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "ImmyBotSchedule",
    namespaced,
    doc = "One of ImmyBot's own maintenance schedules, managed from Kubernetes: created once approved by someone other than the requester, kept as approved, its runs shown in status.",
    status = "ImmyBotScheduleStatus",
    shortname = "imsched",
    category = "immybot",
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".status.scheduleSummary"}"#,
    printcolumn = r#"{"name":"Time Zone","type":"string","jsonPath":".spec.timeZone"}"#,
    printcolumn = r#"{"name":"Next Run","type":"date","jsonPath":".status.nextRunTime"}"#,
    printcolumn = r#"{"name":"Last Result","type":"string","jsonPath":".status.lastRun.result"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"ImmyBot ID","type":"integer","jsonPath":".status.scheduleId","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.connectionRef) == has(oldSelf.connectionRef) && (!has(self.connectionRef) || self.connectionRef == oldSelf.connectionRef)").message("spec.connectionRef cannot change: the schedule lives in that instance; create a new ImmyBotSchedule for another"))]
#[x_kube(validation = kube::core::Rule::new("[has(self.daily), has(self.weekly), has(self.monthly), has(self.cron)].filter(x, x).size() == 1").message("set exactly one of daily, weekly, monthly or cron"))]
pub struct ImmyBotScheduleSpec {
    /// The Kubernetes user who asks for this schedule (checked at admission,
    /// as for MaintenanceSession). An approver must be someone else. Cannot
    /// change.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.requestedBy cannot change"))]
    #[schemars(length(min = 1, max = 253))]
    pub requested_by: String,

    /// Why this schedule exists (a ticket, a change request). Required.
    #[x_kube(validation = kube::core::Rule::new("self.trim().size() > 0").message("spec.reason must say why this schedule exists, not be blank"))]
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,

    /// Which computers the schedule maintains.
    pub target: ScheduleTarget,

    /// Which ImmyBot instance holds the schedule, through which connection
    /// (`ImmyBotConnection` in this namespace, or
    /// `ClusterImmyBotConnection`); unset, the default connection. Covered
    /// by the approval (it names this object, whose connection is fixed);
    /// cannot change (the schedule lives in that instance): create a new
    /// ImmyBotSchedule for another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<super::ConnectionRef>,

    /// Every day at `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyWhen>,
    /// On the given weekdays at `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyWhen>,
    /// On one day of every month at `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<MonthlyWhen>,
    /// A five-field cron expression (minute hour day-of-month month
    /// day-of-week). ImmyBot runs a schedule at most once a day, so the
    /// minute and hour fields must be single numbers, e.g. `30 22 * * 1-5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new(CRON_RULE).message("cron must have five fields (minute hour day-of-month month day-of-week) with a single number in minute (0-59) and hour (0-23): ImmyBot runs a schedule at most once a day, e.g. '30 22 * * 1-5'"))]
    #[schemars(length(min = 9, max = 128))]
    pub cron: Option<String>,

    /// The IANA time zone the times are in (e.g. `Europe/Berlin`). An
    /// unknown name is reported in the Ready condition.
    #[serde(default = "utc")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
    )]
    pub time_zone: String,

    /// Run at each computer's own local time instead of `timeZone`.
    #[serde(default)]
    pub use_computers_time_zone: bool,

    /// Start in the middle of each computer's non-active hours (Windows
    /// "active hours") instead of at the time.
    #[serde(default)]
    pub after_active_hours: bool,

    /// One maintenance item instead of full maintenance. ImmyBot still
    /// creates a session for every targeted computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_item: Option<MaintenanceItem>,

    /// Also apply Windows updates (full maintenance only).
    #[serde(default)]
    pub apply_windows_updates: bool,

    /// How reboots are handled (as on MaintenanceSession).
    #[serde(default)]
    pub reboot: RebootSpec,

    /// What happens to offline computers (as on MaintenanceSession).
    #[serde(default)]
    pub offline: OfflineBehavior,

    /// What the logged-on user is shown.
    #[serde(default)]
    pub prompts: UserPrompts,

    /// Which emails ImmyBot sends.
    #[serde(default)]
    pub emails: ScheduleEmails,

    /// Approval in the manifest itself (GitOps), as on MaintenanceSession.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<InlineApproval>,

    /// Disables the schedule in ImmyBot (`disabled`). Needs no approval.
    #[serde(default)]
    pub suspend: bool,

    /// What deleting this object does to the ImmyBot schedule: `Delete`
    /// (default) cancels its running sessions and deletes it; `Orphan`
    /// leaves it in ImmyBot.
    #[serde(default)]
    pub deletion_policy: ScheduleDeletionPolicy,

    /// What a change made in ImmyBot (or the schedule's deletion there)
    /// leads to: `Correct` (default) puts the approved definition back;
    /// `Report` only sets the `Drifted` condition.
    #[serde(default)]
    pub drift_policy: DriftPolicy,

    /// Take over an existing ImmyBot schedule instead of creating one. Once
    /// approved, its definition is replaced by this spec. Cannot change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.adopt cannot change; create a new ImmyBotSchedule to manage another schedule"))]
    pub adopt: Option<AdoptSpec>,

    /// Increment to run the schedule now (`kubectl immybot run-now`). Each
    /// increment runs it once; an interrupted request is never repeated.
    #[serde(default)]
    pub run_now: Counter,

    /// Increment to cancel the sessions the schedule is running
    /// (`kubectl immybot cancel-running`).
    #[serde(default)]
    pub cancel_running: Counter,
}

/// The default time zone.
fn utc() -> String {
    "UTC".into()
}

/// A cron expression ImmyBot accepts: five fields, single numbers in minute
/// and hour, and only digits, `*`, `,`, `-`, `/` and names elsewhere.
const CRON_RULE: &str = r"self.matches('^\\s*([0-9]|[1-5][0-9])\\s+([0-9]|1[0-9]|2[0-3])\\s+[0-9*,/\\-]+\\s+[0-9A-Za-z*,/\\-]+\\s+[0-9A-Za-z*,/\\-]+\\s*$')";

/// Every day at a time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyWhen {
    /// `HH:mm` (24-hour) in `timeZone`.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub time: String,
}

/// Some weekdays at a time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeeklyWhen {
    /// The weekdays (at least one).
    #[schemars(length(min = 1, max = 7))]
    pub days: Vec<Weekday>,
    /// `HH:mm` (24-hour) in `timeZone`.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub time: String,
}

/// One day of every month at a time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyWhen {
    /// The day of the month, 1 to 28 (every month has it).
    #[schemars(range(min = 1, max = 28))]
    pub day: i32,
    /// `HH:mm` (24-hour) in `timeZone`.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub time: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
pub enum Weekday {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

/// Which computers a schedule maintains: exactly one of `computer` or
/// `tenant`, narrowed by `deviceFilter`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.computer) != has(self.tenant)").message("target must set exactly one of computer or tenant"))]
pub struct ScheduleTarget {
    /// One computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer: Option<ComputerRef>,
    /// Every computer of a tenant (and of its child tenants with
    /// `includeChildTenants`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
    /// Which devices of the target: ImmyBot's default is
    /// `WorkstationsAndPortableDevices`.
    #[serde(default)]
    pub device_filter: DeviceFilter,
}

/// ImmyBot's `targetGroupFilter`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum DeviceFilter {
    All,
    Servers,
    Workstations,
    PortableDevices,
    #[default]
    WorkstationsAndPortableDevices,
    DomainControllers,
    PrimaryDomainControllers,
}

/// One maintenance item (software or task) by ImmyBot's type and identifier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceItem {
    /// ImmyBot's maintenance type.
    #[serde(rename = "type")]
    pub item_type: MaintenanceItemType,
    /// The item's identifier in ImmyBot (e.g. the software id).
    #[schemars(length(min = 1, max = 256))]
    pub identifier: String,
}

/// ImmyBot's `MaintenanceType`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum MaintenanceItemType {
    GlobalSoftware,
    LocalSoftware,
    ChocolateySoftware,
    NiniteSoftware,
    LocalMaintenanceTask,
    GlobalMaintenanceTask,
}

/// What the logged-on user is shown during maintenance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPrompts {
    /// A "Run now" button in the follow-up email.
    #[serde(default)]
    pub show_run_now_button: bool,
    /// A "Postpone" button.
    #[serde(default)]
    pub show_postpone_button: bool,
    /// The list of maintenance actions.
    #[serde(default)]
    pub show_maintenance_actions: bool,
}

/// Emails ImmyBot sends for each run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEmails {
    /// After detection, what will change.
    #[serde(default)]
    pub detection: bool,
    /// The detection email even when every computer is compliant.
    #[serde(default)]
    pub detection_when_compliant: bool,
    /// After maintenance, a follow-up.
    #[serde(default)]
    pub follow_up: bool,
    /// The follow-up only when a user action is needed.
    #[serde(default)]
    pub follow_up_only_if_action_needed: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum ScheduleDeletionPolicy {
    /// Cancel the schedule's running sessions and delete it in ImmyBot.
    #[default]
    Delete,
    /// Leave the schedule in ImmyBot.
    Orphan,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum DriftPolicy {
    /// Put the approved definition back, with an event naming what differed.
    #[default]
    Correct,
    /// Only report it (the `Drifted` condition).
    Report,
}

/// An existing ImmyBot schedule to take over.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdoptSpec {
    /// The ImmyBot schedule id.
    #[schemars(range(min = 1))]
    pub schedule_id: i32,
}

/// A request counter: each increment asks for the action once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counter {
    #[serde(default)]
    #[schemars(range(min = 0, max = 100000))]
    pub requests: i32,
}

/// What the operator knows of the schedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImmyBotScheduleStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The digest an approval must name (covers the object and everything
    /// that decides what the schedule does; not suspend, reason, policies
    /// or the request counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_digest: Option<String>,
    /// The ImmyBot schedule's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<i32>,
    /// The ImmyBot instance (base URL) the schedule lives in, and the
    /// connection it is reached through (absent: the operator's flags).
    /// Fixed once a schedule was created or adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<super::ConnectionRef>,
    /// A create sent (or about to be) whose answer has not been recorded:
    /// after a crash, the schedule is looked for before anything is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingCreate>,
    /// The digest of the definition last written to ImmyBot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_digest: Option<String>,
    /// The definition last written to ImmyBot (the approved one), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub applied_definition: Option<serde_json::Value>,
    /// The schedule's definition as last read from ImmyBot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub observed_definition: Option<serde_json::Value>,
    /// A one-line summary of when it runs, e.g. `30 22 * * 1-5 Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_summary: Option<String>,
    /// The next run, computed from the schedule and its time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<Time>,
    /// Whether ImmyBot lists it among the running schedules.
    #[serde(default)]
    pub running: bool,
    /// Run-now requests acted on (`spec.runNow.requests` at the time).
    #[serde(default)]
    pub run_now_handled: i32,
    /// A run-now request sent (or about to be) and not yet confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_now_pending: Option<i32>,
    /// Cancel-running requests acted on.
    #[serde(default)]
    pub cancel_running_handled: i32,
    /// The newest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<ScheduleRun>,
    /// Recent runs, newest first (at most 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<ScheduleRun>,
    /// What an approval lets loose, measured in ImmyBot before anyone
    /// approves (how many computers, which tenants, which offline), and
    /// again every hour while an approval of a tenant names a count: a
    /// tenant grown past the count its approver saw is disabled in ImmyBot
    /// until someone approves the new count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<super::BlastRadius>,
    /// Who last changed each control (suspend, runNow, cancelRunning,
    /// deletionPolicy, driftPolicy) and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<super::ControlRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A create in flight.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingCreate {
    /// The digest of the definition being created.
    pub digest: String,
    /// When the intent was recorded (before the call).
    pub intent_time: Time,
}

/// One run of the schedule: the sessions ImmyBot started together.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRun {
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// `Running`, `Succeeded`, `PartiallySucceeded` or `Failed`.
    pub result: String,
    pub computers: i32,
    pub passed: i32,
    pub failed: i32,
    pub missed: i32,
    pub running: i32,
    /// The computers that did worst (at most 10), by ImmyBot session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worst: Vec<RunComputer>,
}

/// One computer of a run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunComputer {
    pub computer_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    pub session_id: i32,
    pub status: String,
}

/// A JSON object kept as it is (ImmyBot's definition, field names as on
/// the wire).
fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
