//! `MaintenanceSchedule`: recurring MaintenanceSessions that the operator
//! creates on a cron, the way a CronJob creates Jobs, so that every run gets
//! the session's safety (approval, windows, waves, failure budget).
//!
//! The doc comments are what `kubectl explain maintenanceschedules.spec`
//! shows. Where CronJob has a semantic, this kind has the same one, and the
//! field says so.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{
    DeletionPolicy, DeploymentRef, MaintenanceSessionSpec, MaintenanceWindow, OfflineBehavior, Phase, RebootSpec,
    RetrySpec, RolloutSpec, SessionMode, SessionPriority, SessionTarget,
};

/// Recurring maintenance the operator runs: on each `schedule` time it
/// creates a MaintenanceSession from `sessionTemplate`, owned by this object
/// and named after the scheduled time. Each run waits for its own approval,
/// unless a standing approval (MaintenanceApproval with `kind:
/// MaintenanceSchedule` and an expiry) covers the template.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "MaintenanceSchedule",
    namespaced,
    doc = "Recurring MaintenanceSessions run by the operator on a cron (CronJob semantics): each run is a MaintenanceSession owned by this object, approved per run or by a standing approval of the template.",
    status = "MaintenanceScheduleStatus",
    shortname = "imms",
    category = "immybot",
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Time Zone","type":"string","jsonPath":".spec.timeZone"}"#,
    printcolumn = r#"{"name":"Suspend","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Active","type":"integer","jsonPath":".status.activeCount"}"#,
    printcolumn = r#"{"name":"Last Schedule","type":"date","jsonPath":".status.lastScheduleTime"}"#,
    printcolumn = r#"{"name":"Next Schedule","type":"date","jsonPath":".status.nextScheduleTime"}"#,
    printcolumn = r#"{"name":"Last Result","type":"string","jsonPath":".status.lastRun.phase"}"#,
    printcolumn = r#"{"name":"Standing Approval","type":"string","jsonPath":".status.conditions[?(@.type==\"StandingApproval\")].status","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // Run names are `<name>-<minutes since the epoch>` and carry the name
    // in a label: 52 characters leave room for both (CronJob's own limit).
    validation = kube::core::Rule::new("self.metadata.name.size() <= 52").message("a MaintenanceSchedule's name has at most 52 characters: its runs are named <name>-<scheduled minute>")
)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceScheduleSpec {
    /// The Kubernetes user who asks for this recurring maintenance (checked
    /// at admission, as for MaintenanceSession). Nobody who requested it may
    /// approve its runs or its template. Cannot change.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.requestedBy cannot change"))]
    #[schemars(length(min = 1, max = 253))]
    pub requested_by: String,

    /// When runs are created: five cron fields (minute hour day-of-month
    /// month day-of-week) or `@hourly`, `@daily`, `@weekly`, `@monthly`,
    /// `@yearly`. As CronJob.
    #[schemars(length(min = 1, max = 128))]
    pub schedule: String,

    /// The IANA time zone `schedule` is read in (e.g. `Europe/Berlin`).
    /// Default UTC (CronJob's default is the controller manager's zone; an
    /// operator's zone is no one's wall clock). Across a daylight-saving
    /// change a time in the skipped hour runs once at the end of the gap,
    /// and a time in the repeated hour runs once, at its first occurrence.
    #[serde(default = "utc")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
    )]
    pub time_zone: String,

    /// The MaintenanceSession each run is made from.
    pub session_template: SessionTemplate,

    /// What happens when a run is due while an earlier one is still active
    /// (not in a final phase, including one awaiting approval). As CronJob:
    /// `Allow` (default) creates it anyway; `Forbid` skips it (it is created
    /// late if the active run ends within `startingDeadlineSeconds`);
    /// `Replace` deletes the active runs (their ImmyBot sessions are
    /// cancelled per their `deletionPolicy`) and creates the new one.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,

    /// How late a run may still be created after its scheduled time (the
    /// operator was down, the schedule suspended, or `Forbid` held it).
    /// Later than this, the run is missed: an event says so and nothing is
    /// created. Unset: no deadline. When several times were missed, only
    /// the latest is run. As CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub starting_deadline_seconds: Option<i64>,

    /// How many runs that ended `Succeeded` are kept (oldest deleted first).
    /// Default 3, as CronJob.
    #[serde(default = "three")]
    #[schemars(range(min = 0, max = 100))]
    pub successful_runs_history_limit: i32,

    /// How many runs that ended otherwise (`PartiallySucceeded`, `Failed`,
    /// `Cancelled`, `TimedOut`) are kept. Default 1, as CronJob.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 100))]
    pub failed_runs_history_limit: i32,

    /// While true no run is created; runs already created go on. Times
    /// missed while suspended count as missed (see
    /// `startingDeadlineSeconds`). As CronJob.
    #[serde(default)]
    pub suspend: bool,

    /// A standing approval in the manifest itself (GitOps: the merged pull
    /// request approves the template). Honoured only where the operator
    /// allows inline approval for the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<super::InlineApproval>,
}

/// What the runs are: a MaintenanceSession spec without the fields the
/// operator fills in (`requestedBy`, `scheduledBy`) or that act on one run
/// (`approval`, `cancel`, `resume`, `suspend`), plus the run's labels and
/// annotations.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionTemplate {
    /// Labels and annotations every run gets (the operator adds
    /// `immybot.io/schedule`).
    #[serde(default, skip_serializing_if = "TemplateMetadata::is_empty")]
    pub metadata: TemplateMetadata,
    /// The run's spec, as on MaintenanceSession.
    pub spec: SessionTemplateSpec,
}

/// Labels and annotations for the runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels for each run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations for each run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl TemplateMetadata {
    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// The fields of a MaintenanceSession spec a template sets; each means what
/// it means there (`kubectl explain maintenancesessions.spec`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.deployment) || self.mode != 'InventoryOnly'").message("a single deployment cannot run in mode InventoryOnly: use Full, DetectionOnly or ResolutionOnly with deployment"))]
#[x_kube(validation = kube::core::Rule::new(TEMPLATE_WAVES_NEED_MANY).message("strategy Waves needs a computers or tenant target: one computer has nothing to split"))]
#[x_kube(validation = kube::core::Rule::new(TEMPLATE_TENANT_BY_TENANT_NEEDS_A_TREE).message("rollout.tenantByTenant needs a tenant target with includeChildTenants: true"))]
pub struct SessionTemplateSpec {
    /// The computers each run maintains.
    pub target: SessionTarget,
    /// `Full` (default), `DetectionOnly`, `ResolutionOnly` or `InventoryOnly`.
    #[serde(default)]
    pub mode: SessionMode,
    /// A single deployment instead of full maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentRef>,
    /// How reboots are handled.
    #[serde(default)]
    pub reboot: RebootSpec,
    /// What happens to computers offline when a run starts.
    #[serde(default)]
    pub offline: OfflineBehavior,
    /// `High` bypasses ImmyBot's limit on concurrent sessions.
    #[serde(default)]
    pub priority: SessionPriority,
    /// Which connection each run uses (see `kubectl explain
    /// maintenancesessions.spec.connectionRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<super::ConnectionRef>,
    /// Why this maintenance runs; every run records it.
    #[x_kube(validation = kube::core::Rule::new("self.trim().size() > 0").message("reason must say why this maintenance runs (a ticket or change request), not be blank"))]
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// How long each run may run after it started (e.g. `4h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// When each run may start work in ImmyBot (see docs/rollouts.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub windows: Vec<MaintenanceWindow>,
    /// All at once, or in waves with a pilot and a failure budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    /// Automatic reruns of each run's failed computers.
    #[serde(default)]
    pub retry: RetrySpec,
    /// What deleting a run (pruning, Replace, the schedule's deletion) does
    /// to its ImmyBot sessions still running: `Cancel` (default) or `Orphan`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

const TEMPLATE_WAVES_NEED_MANY: &str = "!has(self.rollout) || self.rollout.strategy != 'Waves' || \
has(self.target.computers) || has(self.target.tenant)";

const TEMPLATE_TENANT_BY_TENANT_NEEDS_A_TREE: &str = "!has(self.rollout) || !has(self.rollout.tenantByTenant) || \
(has(self.target.tenant) && has(self.target.tenant.includeChildTenants) && self.target.tenant.includeChildTenants)";

impl SessionTemplateSpec {
    /// The run's spec: the template, requested by the operator's own user
    /// (admission checks that the creator is the requester), recording
    /// which schedule and time it is for.
    pub fn to_session_spec(&self, requested_by: &str, scheduled_by: Option<ScheduledBy>) -> MaintenanceSessionSpec {
        MaintenanceSessionSpec {
            requested_by: requested_by.to_owned(),
            scheduled_by,
            target: self.target.clone(),
            observe: None,
            mode: self.mode,
            deployment: self.deployment.clone(),
            reboot: self.reboot.clone(),
            offline: self.offline,
            priority: self.priority,
            connection_ref: self.connection_ref.clone(),
            reason: self.reason.clone(),
            approval: None,
            suspend: false,
            cancel: None,
            timeout: self.timeout.clone(),
            windows: self.windows.clone(),
            rollout: self.rollout.clone(),
            // Plans are not in templates: a run's plan would need a person
            // to approve each run, which a standing approval is there to
            // spare (docs/design.md, "Plan, then approve").
            plan: None,
            retry: self.retry.clone(),
            resume: Default::default(),
            deletion_policy: self.deletion_policy,
        }
    }
}

/// On a MaintenanceSession the operator created for a MaintenanceSchedule:
/// which schedule, who asked for it, and for which time. Set at creation by
/// the operator only; it cannot change or be removed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledBy {
    /// The MaintenanceSchedule's name (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub schedule: String,
    /// Its `metadata.uid`.
    #[schemars(length(min = 1, max = 64))]
    pub uid: String,
    /// Its `spec.requestedBy`: that person may not approve this run either.
    #[schemars(length(min = 1, max = 253))]
    pub requested_by: String,
    /// The scheduled time this run is for.
    pub scheduled_time: Time,
}

/// CronJob's concurrency policies.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Create the run even while earlier ones are active.
    #[default]
    Allow,
    /// Skip the run while an earlier one is active.
    Forbid,
    /// Delete the active runs, then create the new one.
    Replace,
}

/// What the controller observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceScheduleStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The scheduled time of the latest run created. A time is run once:
    /// only times after this one are due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the latest run that ended `Succeeded` completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// The next time a run is due (absent while suspended or invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// The runs not yet in a final phase, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<RunRef>,
    /// `active`'s length, for `kubectl get`.
    #[serde(default)]
    pub active_count: i32,
    /// The latest run that reached a final phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRef>,
    /// The digest a standing approval must name: the template's effect
    /// (target, mode, deployment, reboot, offline, priority, windows,
    /// rollout shape), `schedule`, `timeZone`, this object's uid and
    /// requester. Changing any of them revokes a standing approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_digest: Option<String>,
    /// The standing approval in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing_approval: Option<StandingApprovalRecord>,
    /// Who last changed each control (suspend, concurrencyPolicy, the
    /// deadline, the history limits, the template's controls) and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<super::ControlRecord>,
    /// `Ready` and `Stalled` (kstatus), and `StandingApproval`: whether runs
    /// start without an approval of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    /// The MaintenanceSession's name.
    pub name: String,
    /// The time it was scheduled for.
    pub scheduled_time: Time,
    /// Its phase when last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

/// Who approved the template, how, and until when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandingApprovalRecord {
    /// Who approved the template.
    pub approved_by: String,
    /// `MaintenanceApproval` or `Inline`.
    pub method: String,
    /// The MaintenanceApproval's name, or the inline approval's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it stops letting runs start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}

fn utc() -> String {
    "UTC".into()
}

fn three() -> i32 {
    3
}

fn one() -> i32 {
    1
}
