//! `MaintenanceSession`: one ImmyBot maintenance run, declared.
//!
//! The doc comments here are what `kubectl explain maintenancesessions.spec`
//! shows, so they are written for the person filling in a manifest.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A maintenance session declared as a Kubernetes object: which computers,
/// what to run, how reboots are handled, and why. Starting one installs
/// software and may reboot machines.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "MaintenanceSession",
    namespaced,
    doc = "One ImmyBot maintenance run, declared: which computers, what to run, how reboots are handled, and why. Nothing starts before someone other than the requester approves it (MaintenanceApproval).",
    status = "MaintenanceSessionStatus",
    shortname = "ims",
    category = "immybot",
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".status.targetSummary"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Approved","type":"string","jsonPath":".status.conditions[?(@.type==\"Approved\")].status"}"#,
    printcolumn = r#"{"name":"Progress","type":"string","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Next Window","type":"date","jsonPath":".status.nextWindowOpening"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".spec.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new(IMMUTABLE_ONCE_STARTED).message("target, mode, deployment, reboot, offline, priority, connectionRef and reason cannot change once the session has started; create a new MaintenanceSession instead"),
    validation = kube::core::Rule::new(ROLLOUT_FIXED_ONCE_STARTED).message("spec.rollout (strategy, pilot, maxConcurrent, tenantByTenant) cannot change once the session has started: the rollout was planned from it; only maxFailures, maxFailuresPerTenant and countOfflineAsFailures can"),
    validation = kube::core::Rule::new("has(self.spec.scheduledBy) == has(oldSelf.spec.scheduledBy)").message("spec.scheduledBy cannot be added or removed after creation"),
    validation = kube::core::Rule::new("has(self.spec.observe) == has(oldSelf.spec.observe)").message("spec.observe cannot be added or removed after creation"),
    validation = kube::core::Rule::new(WAVES_NEED_MANY).message("strategy Waves needs a computers or tenant target: one computer has nothing to split"),
    validation = kube::core::Rule::new(TENANT_BY_TENANT_NEEDS_A_TREE).message("rollout.tenantByTenant needs a tenant target with includeChildTenants: true")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(oldSelf.cancel) || has(self.cancel)").message("spec.cancel is final: it cannot be removed once set"))]
#[x_kube(validation = kube::core::Rule::new("has(self.observe) != has(self.target)").message("set exactly one of spec.target (computers the operator starts maintenance on) or spec.observe (one ImmyBot session it only mirrors)"))]
#[x_kube(validation = kube::core::Rule::new(OBSERVE_ONLY).message("an observed session (spec.observe) mirrors one ImmyBot session: it has no rollout, deployment or plan, and reruns only its failed actions (spec.retry.failedActions), not whole computers (retry.limit and retry.requests stay 0)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.deployment) || self.mode != 'InventoryOnly'").message("a single deployment cannot run in mode InventoryOnly: use Full, DetectionOnly or ResolutionOnly with spec.deployment"))]
pub struct MaintenanceSessionSpec {
    /// The Kubernetes user who asks for this maintenance. Admission checks
    /// that it is the user creating the object, and only this user may later
    /// change what the maintenance does (target, mode, deployment, reboot,
    /// offline, priority, reason, approval); an approver must be someone
    /// else (four eyes). Cannot change.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.requestedBy cannot change"))]
    #[schemars(length(min = 1, max = 253))]
    pub requested_by: String,

    /// Set by the operator on the runs it creates for a MaintenanceSchedule:
    /// which schedule, its requester (who may not approve the run either)
    /// and the scheduled time. Cannot be set by hand to any effect (a
    /// standing approval covers only runs the operator itself requested),
    /// changed, or removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.scheduledBy cannot change"))]
    pub scheduled_by: Option<super::ScheduledBy>,

    /// The computers this session maintains: exactly one of `computer`,
    /// `computers` or `tenant`. Not with `observe`.
    #[serde(default, skip_serializing_if = "SessionTarget::is_empty")]
    pub target: SessionTarget,

    /// Mirror one ImmyBot session the operator did not start (a schedule's,
    /// onboarding's, a person's in ImmyBot), by its id: observe only. Its
    /// outcomes, stages and log excerpts show as any other's; nothing is
    /// started, so no approval is needed to observe. Cancelling it
    /// (`spec.cancel`) or rerunning its failed actions
    /// (`spec.retry.failedActions`) acts on ImmyBot and needs an approval as
    /// a start does; deleting the object never cancels it. Instead of
    /// `target`; set at creation (`kubectl immybot import <session-id>`),
    /// cannot change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.observe cannot change"))]
    pub observe: Option<ObserveRef>,

    /// What the session runs. `Full` detects, executes and resolves;
    /// `DetectionOnly` reports what would change and changes nothing. With
    /// `deployment`, the mode applies to that one deployment only.
    #[serde(default)]
    pub mode: SessionMode,

    /// Run a single deployment instead of full maintenance (everything
    /// assigned to the computers). Not with mode `InventoryOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentRef>,

    /// How reboots are handled. The default reboots only when an install
    /// requires it.
    #[serde(default)]
    pub reboot: RebootSpec,

    /// What happens to computers that are offline when the session starts.
    #[serde(default)]
    pub offline: OfflineBehavior,

    /// `High` bypasses ImmyBot's instance-wide limit on concurrent sessions.
    #[serde(default)]
    pub priority: SessionPriority,

    /// Which ImmyBot instance, through which connection
    /// (`ImmyBotConnection` in this namespace, or
    /// `ClusterImmyBotConnection`). Unset: the default connection when the
    /// session is first decided on (see `kubectl explain
    /// immybotconnections.spec.default`); once it has started, the one it
    /// started through, for good. Covered by the approval; cannot change
    /// once the session has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<super::ConnectionRef>,

    /// Why this maintenance runs (a ticket, a change request). Required;
    /// recorded in status (`status.reason`) and in the start event, so that
    /// every run has an explanation. Cannot change once the session started.
    #[x_kube(validation = kube::core::Rule::new("self.trim().size() > 0").message("spec.reason must say why this maintenance runs (a ticket or change request), not be blank"))]
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,

    /// Approval in the manifest itself, for GitOps: the merged pull request is
    /// the approval. Honoured only when the operator is configured to allow
    /// inline approval for this namespace; otherwise ignored and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<InlineApproval>,

    /// While true, nothing new starts. ImmyBot cannot pause a running session:
    /// sessions already started go on, and status says so.
    #[serde(default)]
    pub suspend: bool,

    /// Cancels the session in ImmyBot and ends it `Cancelled`. Final: once set
    /// it cannot be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.cancel is final: it cannot be changed once set"))]
    pub cancel: Option<CancelRequest>,

    /// How long the session may run after it started (e.g. `90m`, `4h`). When
    /// it passes, the sessions are cancelled in ImmyBot and the phase is `TimedOut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub timeout: Option<String>,

    /// When work may start in ImmyBot: nothing starts (first start, reruns,
    /// busy computers) outside every window; the phase is then
    /// `WaitingForWindow` and `status.nextWindowOpening` says when. A
    /// session already running when a window closes goes on. Empty: any time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub windows: Vec<super::MaintenanceWindow>,

    /// How the computers of a `computers` or `tenant` target are started:
    /// all at once (the default), or in waves with a pilot and a failure
    /// budget. See docs/rollouts.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<super::RolloutSpec>,

    /// Plan, then approve: before anyone approves, a detection-only ImmyBot
    /// session finds what this one would do (which items install, update
    /// or uninstall on which computers, which computers could not be
    /// detected), `status.plan` shows it, and the approval must name the
    /// plan's digest as well (`kubectl immybot approve` does). Detection
    /// changes nothing in ImmyBot, so the plan needs no approval of its
    /// own. See docs/design.md, "Plan, then approve".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::PlanSpec>,

    /// Automatic and manual reruns of computers whose sessions failed.
    #[serde(default)]
    pub retry: RetrySpec,

    /// Resumes ImmyBot sessions that wait for a user who postponed a reboot
    /// (phase `Postponed`).
    #[serde(default)]
    pub resume: ResumeSpec,

    /// What deleting this object does to ImmyBot sessions that still run:
    /// `Cancel` (default) cancels them first, `Orphan` leaves them running.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// An observed session is not started: nothing of a start
/// applies to it but the controls (cancel, failed-action reruns, timeout).
const OBSERVE_ONLY: &str = "!has(self.observe) || (!has(self.rollout) && !has(self.deployment) && !has(self.plan) && \
(!has(self.retry) || ((!has(self.retry.limit) || self.retry.limit == 0) && \
(!has(self.retry.requests) || self.retry.requests == 0))))";

/// The ImmyBot session an observe-only MaintenanceSession mirrors.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObserveRef {
    /// The ImmyBot maintenance session id.
    #[schemars(range(min = 1))]
    pub session_id: i32,
}

/// The root rule that freezes what decides the maintenance once it started.
/// A rule on the root may read `status`, which a rule on `spec` may not.
const IMMUTABLE_ONCE_STARTED: &str = "!has(oldSelf.status) || !has(oldSelf.status.startTime) || \
(has(self.spec.target) == has(oldSelf.spec.target) && \
(!has(self.spec.target) || self.spec.target == oldSelf.spec.target) && self.spec.mode == oldSelf.spec.mode && \
self.spec.reboot == oldSelf.spec.reboot && self.spec.offline == oldSelf.spec.offline && \
self.spec.priority == oldSelf.spec.priority && self.spec.reason == oldSelf.spec.reason && \
has(self.spec.deployment) == has(oldSelf.spec.deployment) && \
(!has(self.spec.deployment) || self.spec.deployment == oldSelf.spec.deployment) && \
has(self.spec.connectionRef) == has(oldSelf.spec.connectionRef) && \
(!has(self.spec.connectionRef) || self.spec.connectionRef == oldSelf.spec.connectionRef))";

/// The rollout's shape is recorded when it starts; only the failure budget
/// (a brake, not an effect) may change after that.
const ROLLOUT_FIXED_ONCE_STARTED: &str = "!has(oldSelf.status) || !has(oldSelf.status.startTime) || \
(has(self.spec.rollout) == has(oldSelf.spec.rollout) && (!has(self.spec.rollout) || \
(self.spec.rollout.strategy == oldSelf.spec.rollout.strategy && \
has(self.spec.rollout.pilot) == has(oldSelf.spec.rollout.pilot) && \
(!has(self.spec.rollout.pilot) || self.spec.rollout.pilot == oldSelf.spec.rollout.pilot) && \
has(self.spec.rollout.maxConcurrent) == has(oldSelf.spec.rollout.maxConcurrent) && \
(!has(self.spec.rollout.maxConcurrent) || self.spec.rollout.maxConcurrent == oldSelf.spec.rollout.maxConcurrent) && \
has(self.spec.rollout.tenantByTenant) == has(oldSelf.spec.rollout.tenantByTenant) && \
(!has(self.spec.rollout.tenantByTenant) || self.spec.rollout.tenantByTenant == oldSelf.spec.rollout.tenantByTenant))))";

/// Waves split a set of computers: one computer has nothing to split. A
/// tenant with its child tenants is planned over the whole tree.
const WAVES_NEED_MANY: &str = "!has(self.spec.rollout) || self.spec.rollout.strategy != 'Waves' || \
has(self.spec.target.computers) || has(self.spec.target.tenant)";

const TENANT_BY_TENANT_NEEDS_A_TREE: &str = "!has(self.spec.rollout) || !has(self.spec.rollout.tenantByTenant) || \
(has(self.spec.target.tenant) && has(self.spec.target.tenant.includeChildTenants) && \
self.spec.target.tenant.includeChildTenants)";

/// A single deployment to run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRef {
    /// The ImmyBot deployment id.
    #[schemars(range(min = 1))]
    pub id: i32,
    /// Whether the deployment is tenant-local or global.
    #[serde(rename = "type")]
    pub deployment_type: DeploymentType,
}

/// Where a deployment is defined.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum DeploymentType {
    Local,
    Global,
}

/// An approval written into the manifest (GitOps).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineApproval {
    /// Who approved, e.g. the reviewer of the pull request.
    #[schemars(length(min = 1, max = 253))]
    pub approved_by: String,
    /// Where the approval can be checked, e.g. the pull request URL.
    #[schemars(length(min = 1, max = 2048))]
    pub reference: String,
}

/// A request to cancel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    /// Why the session is cancelled; recorded in events and status.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
}

/// Reruns of failed computers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySpec {
    /// Automatic reruns of the computers whose sessions failed (0 to 10).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub limit: i32,
    /// Increment to ask for one more rerun of the failed computers beyond
    /// `limit`, e.g. after fixing the cause (`kubectl immybot retry`).
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub requests: i32,
    /// Reruns of single failed maintenance actions instead of whole
    /// computers (`kubectl immybot retry --failed-actions`): each increment
    /// of `requests` reruns, once, the failed actions that match, through
    /// ImmyBot's rerun of one action. Only actions this object's sessions
    /// ran and that failed, on their own computers: nothing the approval
    /// did not cover. Recorded in `status.actionReruns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_actions: Option<FailedActionsRetry>,
}

/// A request to rerun failed maintenance actions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedActionsRetry {
    /// Increment to rerun the failed actions that match (once per
    /// increment, whatever restarts). Set with the filters below, which
    /// are read when the increment is acted on.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub requests: i32,
    /// Only this computer's failed actions: its ImmyBot id, or its name as
    /// status shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub computer: Option<String>,
    /// Only failed actions of this maintenance item: its name as status
    /// shows it (`status.computers[].actions[].name`), any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub action: Option<String>,
}

/// Requests to resume postponed ImmyBot sessions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeSpec {
    /// Increment to resume, through the ImmyBot API, every session of this
    /// object that a user postponed (`kubectl immybot resume`). Each increment
    /// is acted on once and recorded in `status.resume` and an event.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub requests: i32,
}

/// What deletion does to running ImmyBot sessions.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum DeletionPolicy {
    /// Cancel running sessions, wait (bounded) for ImmyBot to confirm, then release.
    #[default]
    Cancel,
    /// Release at once; ImmyBot sessions go on.
    Orphan,
}

/// Which computers a session maintains. Exactly one field is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("[has(self.computer), has(self.computers), has(self.tenant)].filter(x, x).size() == 1").message("target must set exactly one of computer, computers or tenant"))]
pub struct SessionTarget {
    /// A single computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer: Option<ComputerRef>,

    /// Several computers, one ImmyBot session each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub computers: Option<Vec<ComputerRef>>,

    /// Every computer of an ImmyBot tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
}

impl SessionTarget {
    /// No computer, list or tenant: an observed session's.
    pub fn is_empty(&self) -> bool {
        self.computer.is_none() && self.computers.is_none() && self.tenant.is_none()
    }
}

/// A computer, by ImmyBot id or by its name. Names are resolved through
/// the ImmyBot API and the resolved id is recorded in status.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.id) != has(self.name)").message("a computer is named by exactly one of id or name"))]
pub struct ComputerRef {
    /// The ImmyBot computer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub id: Option<i32>,
    /// The computer name as ImmyBot shows it; must match exactly one computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
}

/// An ImmyBot tenant, by id or by name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.id) != has(self.name)").message("a tenant is named by exactly one of id or name"))]
pub struct TenantRef {
    /// The ImmyBot tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub id: Option<i32>,
    /// The tenant name as ImmyBot shows it; must match exactly one tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
    /// Also maintain the computers of the tenant's child tenants.
    #[serde(default)]
    pub include_child_tenants: bool,
}

/// What a session runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum SessionMode {
    /// Detection, execution and resolution: brings computers to their desired state.
    #[default]
    Full,
    /// Detection only: reports what would change, installs nothing.
    DetectionOnly,
    /// Resolution only.
    ResolutionOnly,
    /// Inventory only: refreshes what ImmyBot knows about the computers.
    InventoryOnly,
}

/// Reboot handling.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RebootSpec {
    /// `Never` suppresses reboots (actions that need one end `RebootsSuppressed`),
    /// `IfRequired` reboots when an install requires it, `Always` forces a
    /// reboot, `Prompt` asks the logged-on user.
    #[serde(default)]
    pub policy: RebootPolicy,
    /// With `Prompt`: minutes the user has to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1440))]
    pub prompt_timeout_minutes: Option<i32>,
    /// With `Prompt`: what happens when the user does not answer in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_action: Option<PromptTimeoutAction>,
    /// Suppress reboots during the computer's business hours.
    #[serde(default)]
    pub suppress_during_business_hours: bool,
    /// Consent to reboots on the user's behalf.
    #[serde(default)]
    pub auto_consent: bool,
}

/// What happens when a reboot prompt is not answered.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum PromptTimeoutAction {
    /// Reboot anyway.
    Reboot,
    /// Do not reboot.
    Suppress,
    /// Fail the session.
    FailSession,
}

/// When a computer may be rebooted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum RebootPolicy {
    /// Never reboot (ImmyBot `Suppress`).
    Never,
    /// Reboot when an install requires it (ImmyBot `Normal`).
    #[default]
    IfRequired,
    /// Always reboot (ImmyBot `Force`).
    Always,
    /// Ask the logged-on user (ImmyBot `Prompt`).
    Prompt,
}

/// What happens to offline computers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum OfflineBehavior {
    /// Skip computers that are offline when the session starts.
    #[default]
    Skip,
    /// Wait and run when the computer next connects.
    ApplyOnConnect,
}

/// Session priority.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum SessionPriority {
    /// Queued behind ImmyBot's concurrent-session limit.
    #[default]
    Normal,
    /// Bypasses ImmyBot's concurrent-session limit.
    High,
}

// The status is in its own file: it is the larger half and changes for
// different reasons than the spec.
pub use super::maintenance_session_status::*;
