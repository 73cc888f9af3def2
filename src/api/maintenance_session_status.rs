//! `MaintenanceSession.status`: what the controller observed, written only by
//! the controller. Sized for large tenants: per-item aggregates for every
//! computer, full detail only for the worst few (see `MAX_COMPUTERS_IN_STATUS`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

/// How many computers a status lists in full; the rest are counted.
pub const MAX_COMPUTERS_IN_STATUS: usize = 25;
/// How many log lines the status keeps.
pub const LOG_TAIL_LINES: usize = 10;

/// What the controller observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceSessionStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the session is in its lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// When the first ImmyBot session was started; set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// With `spec.windows` closed and something to start: when the next
    /// window opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_window_opening: Option<Time>,
    /// When the session reached a final phase; set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// `Ready`, `Reconciling`, `Stalled` (kstatus), `Approved`, and the
    /// terminal `Succeeded` (Unknown until the end, as Tekton does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The approval digest of the current spec: what a `MaintenanceApproval`
    /// must name. Any change to what the maintenance does changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_digest: Option<String>,
    /// Who approved, when, how and for which digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
    /// Why this maintenance runs, as `spec.reason` said when it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One line naming the target, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_summary: Option<String>,
    /// Computers finished out of computers targeted, e.g. `7/10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// What an approval would let loose: the computers the target resolves
    /// to in ImmyBot, by tenant, offline and busy, measured before approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<super::BlastRadius>,
    /// What ImmyBot shows still out of compliance on the computers once the
    /// maintenance ended, read once (condition `Compliant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<super::ComplianceStatus>,
    /// The target as ImmyBot resolved it (names to ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_target: Option<ResolvedTarget>,
    /// What the controller asked ImmyBot for, attempt by attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immybot: Option<ImmyBotRefs>,
    /// Counts of computers by outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<OutcomeSummary>,
    /// Per maintenance item (software, task): counts by result over all computers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemSummary>,
    /// The worst computers in full (failures first), at most 25.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computers: Vec<ComputerStatus>,
    /// Targeted computers that have not run yet because ImmyBot reported them
    /// busy with another session (at most 25 listed; `summary` counts all).
    /// They are started as soon as they are free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_computers: Vec<WaitingComputer>,
    /// A rollout in waves: the computers as recorded at its start and where
    /// it stands (current wave, passed, failed, remaining, budget left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<super::RolloutStatus>,

    /// The plan (`spec.plan`): what a detection-only session found this
    /// session would do, and the digest an approval must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::PlanStatus>,
    /// The last `spec.resume.requests` acted on, and what it resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeRecord>,
    /// ImmyBot sessions whose cancel ImmyBot accepted (2xx), for
    /// `spec.cancel`, `spec.timeout` or deletion: a 2xx is an answer, so
    /// each is asked once, and the object waits for ImmyBot to end them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancel_accepted: Vec<i32>,
    /// Who last changed each control (suspend, cancel, timeout, retry,
    /// resume, deletionPolicy, rollout.maxFailures) and when; a control
    /// never changed from its default has no entry. With `approval`, who
    /// approved what and who stopped it, from the object alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<super::ControlRecord>,
    /// Reruns of failed actions (`spec.retry.failedActions`): the last
    /// request acted on and every action rerun so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_reruns: Option<ActionReruns>,
    /// The latest log lines, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<LogLine>,
    /// True while why it failed is still to be read: the outcome is
    /// written as soon as ImmyBot shows it, and the failed actions' log
    /// excerpts and the log tail follow, read at the ImmyBot budget's
    /// lowest priority (after every start and every read of an end that
    /// waits). Read once; an excerpt ImmyBot would not give then stays
    /// empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logs_pending: bool,
    /// What people were told (`--default-cloud-events-sink`): each
    /// occurrence worth a notification, recorded in the same write that
    /// made it, and whether its CloudEvent was delivered. The newest
    /// `MAX_NOTIFICATIONS`; one still pending is dropped only when that many
    /// newer ones are pending too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<super::NotificationRecord>,
}

/// Where a MaintenanceSession is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    /// Accepted, not yet looked at.
    Pending,
    /// Waiting for a `MaintenanceApproval` that names the current digest.
    AwaitingApproval,
    /// Approved, and outside every `spec.windows`: waits for the next
    /// opening (`status.nextWindowOpening`).
    WaitingForWindow,
    /// `spec.suspend` is true and nothing has started.
    Suspended,
    /// The start was recorded and is being sent to ImmyBot.
    Starting,
    /// ImmyBot accepted the sessions and has not run them yet.
    Queued,
    /// At least one session runs.
    Running,
    /// Waiting for a user who postponed a reboot.
    Postponed,
    /// A rollout in waves stopped between waves: the pilot failed or the
    /// failures passed `spec.rollout.maxFailures`. Continue with
    /// `kubectl immybot resume` (or a higher budget), or cancel.
    Halted,
    /// Every computer passed.
    Succeeded,
    /// Some computers passed and some failed.
    PartiallySucceeded,
    /// Every computer failed, or nothing could start.
    Failed,
    /// Cancelled through `spec.cancel`.
    Cancelled,
    /// Cancelled because `spec.timeout` passed.
    TimedOut,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::PartiallySucceeded | Phase::Failed | Phase::Cancelled | Phase::TimedOut
        )
    }
}

/// A recorded approval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The digest that was approved.
    pub digest: String,
    /// Who approved.
    pub approved_by: String,
    /// When the approval was accepted.
    pub approved_at: Time,
    /// `MaintenanceApproval`, `Inline` (GitOps) or `Policy` (the operator is
    /// configured not to require approval in this namespace).
    pub method: String,
    /// The `MaintenanceApproval` object, or the inline reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The approver's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The most computers the approval lets start (the blast radius the
    /// approver saw); absent: any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computers: Option<i32>,
    /// The plan digest the approval named (`spec.plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
}

/// The target after name resolution.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedTarget {
    /// Computers named in the spec, with their ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computers: Vec<NamedId>,
    /// The tenant named in the spec, with its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<NamedId>,
}

/// An ImmyBot object by id and name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedId {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// References into ImmyBot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImmyBotRefs {
    /// The ImmyBot instance (base URL).
    pub instance: String,
    /// The connection the instance is reached through; absent: the
    /// operator's own flags. Fixed once a session was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<super::ConnectionRef>,
    /// Every start the controller made or is making, oldest first. The last
    /// one is current; reruns of failed computers are further attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// One start: recorded before the call (the intent), completed with the
/// session ids after it. See docs/design.md, "The start protocol".
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first start, 2 for the first rerun, ...
    pub number: i32,
    /// The `sessionGroupId` sent with the start: UUIDv5 of the object's uid
    /// and the attempt number, so a restarted controller computes the same one.
    pub session_group_id: String,
    /// When the intent was recorded, before the start call.
    pub intent_time: Time,
    /// The computers this attempt targets (reruns target the failed ones);
    /// empty for a tenant target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computer_ids: Vec<i32>,
    /// The ImmyBot sessions this attempt created, once known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_ids: Vec<i32>,
    /// How the ids became known: `StartResponse` or `Adopted` (found through
    /// the session list after an interrupted start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_from: Option<String>,
    /// Computers ImmyBot reported busy with another session: this attempt
    /// did not start them, and a later attempt will.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_computer_ids: Vec<i32>,
    /// Why this attempt was made: `Start` (the first), `Rerun` (failed
    /// computers, counted against `spec.retry`), `ComputersBusy` (computers
    /// an earlier attempt found busy), or `Pilot`/`Wave` (a rollout's waves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// How many `ComputersBusy` attempts in a row found every computer still
    /// busy: the retry backoff grows with it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub busy_round: i32,
}

/// Why an attempt was made (`Attempt.purpose`).
pub mod attempt_purpose {
    pub const START: &str = "Start";
    pub const RERUN: &str = "Rerun";
    pub const COMPUTERS_BUSY: &str = "ComputersBusy";
    /// The pilot of a rollout in waves.
    pub const PILOT: &str = "Pilot";
    /// A wave of a rollout (after the pilot, if any).
    pub const WAVE: &str = "Wave";
    /// The ImmyBot session an observe-only object mirrors (`spec.observe`),
    /// recorded as its only attempt; the operator started nothing.
    pub const OBSERVED: &str = "Observed";
    /// Not an attempt: how the session reader follows an action rerun's
    /// session (`status.actionReruns`); never recorded.
    pub const ACTION_RERUN: &str = "ActionRerun";
}

/// A targeted computer that has not run yet: ImmyBot reported it busy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingComputer {
    pub id: i32,
    /// The ImmyBot session that held the computer when it was last tried
    /// (someone else's: a schedule, onboarding, a person in ImmyBot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by_session_id: Option<i32>,
}

/// A resume request acted on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeRecord {
    /// The `spec.resume.requests` value acted on.
    pub requests: i32,
    /// The postponed ImmyBot sessions it resumed (empty: none was postponed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_ids: Vec<i32>,
    /// When it was acted on.
    pub time: Time,
}

/// Computers by outcome.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeSummary {
    pub computers: i32,
    pub passed: i32,
    pub failed: i32,
    pub partially_passed: i32,
    pub running: i32,
    /// Not running yet, for any reason (queued, offline, postponed, ...).
    pub waiting: i32,
    /// Of those, the ones ImmyBot accepted and has not begun (`Created`,
    /// `Pending`): queued behind its concurrent-session limit, an instance
    /// setting (`spec.priority: High` bypasses it). Waiting for ImmyBot,
    /// not stuck.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queued: i32,
    pub cancelled: i32,
    pub missed: i32,
    /// Computers that never ran because they stayed busy with another ImmyBot
    /// session until this one ended (cancelled or timed out): not passed.
    #[serde(default)]
    pub not_started: i32,
}

/// One maintenance item over all computers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemSummary {
    /// The item's display name.
    pub name: String,
    /// ImmyBot's maintenance type, e.g. `GlobalSoftware`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<String>,
    pub succeeded: i32,
    pub failed: i32,
    pub pending: i32,
    pub compliant: i32,
    pub other: i32,
}

/// One computer in full.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputerStatus {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub session_id: i32,
    /// ImmyBot's session status, e.g. `Running`, `PartialPassed`.
    pub session_status: String,
    /// Each stage's ImmyBot status, where the session has the stage.
    #[serde(default)]
    pub stages: StageStatuses,
    /// This computer's maintenance actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionStatus>,
}

/// A session's stage statuses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageStatuses {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_updates: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
}

/// One maintenance action.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<String>,
    /// `Install`, `Update`, `NoAction`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `Success`, `Failed`, `Pending`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_reason: Option<String>,
    /// Why it failed, in ImmyBot's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// The ImmyBot maintenance action id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// The ImmyBot session that ran it, when that is not the computer's
    /// `sessionId`: a rerun of the action (`spec.retry.failedActions`),
    /// whose outcome is shown in place of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i32>,
    /// Why it failed, from its own log in ImmyBot: for a failed action of
    /// the computers listed here, the last few lines (error lines first
    /// kept), read once when it failed. Script parameters are blanked out
    /// (`[redacted]`); the operator's `--action-log-excerpts=false` leaves
    /// this empty. `kubectl immybot logs` prints it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_excerpt: Vec<String>,
}

/// How many action reruns an object keeps (and so may make): reruns of
/// more failures are what `spec.retry.requests` (whole computers) is for.
pub const MAX_ACTION_RERUNS: usize = 50;

/// Reruns of failed actions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionReruns {
    /// The last `spec.retry.failedActions.requests` acted on.
    pub requests: i32,
    /// What the last request did, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request: Option<String>,
    /// Every action rerun, oldest first (at most 50 in an object's life).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRerun>,
}

/// One failed action, rerun. The call is recorded before it is sent
/// (`Sent`, with `sentAt`): after a crash the controller looks for the
/// rerun's session in ImmyBot before it would ever send it again, so each
/// is sent once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionRerun {
    /// The `spec.retry.failedActions.requests` value that asked for it.
    pub request: i32,
    /// Who asked (the user stamped on the change of `spec.retry`, or
    /// `unknown`).
    pub requested_by: String,
    pub computer_id: i32,
    /// The action's name as status shows it.
    pub name: String,
    /// The session the action failed in, and the ImmyBot action id.
    pub session_id: i32,
    pub action_id: i32,
    /// When the failed outcome ended, as ImmyBot reported it: a later
    /// start or end of the same action is a rerun in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Time>,
    pub state: ActionRerunState,
    /// When the rerun call was recorded as about to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Time>,
    /// The ImmyBot session that reran it, once found: a session of its
    /// own, or `sessionId` itself when ImmyBot reran the action inside the
    /// session it belongs to (both readings of the rerun call exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_session_id: Option<i32>,
    /// When the controller last looked for an `Accepted` rerun's run
    /// (it looks at a slow pace, and never sends the call again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_at: Option<Time>,
    /// Why it did not run (ImmyBot's answer), for `NotRun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where an action rerun is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ActionRerunState {
    /// Chosen; waits for its computer to be free (one rerun at a time per
    /// computer) and for a window.
    Pending,
    /// The call is recorded as about to be sent; no answer is known (a
    /// crash or a lost answer): after the start grace it is looked up, and
    /// sent again only if ImmyBot shows no trace of it.
    Sent,
    /// ImmyBot answered the call (2xx), and its run is not seen yet. A 2xx
    /// is an answer: it is never sent again; it is looked for at a slow
    /// pace, and after the start grace condition `RerunNotSeen` says so.
    Accepted,
    /// ImmyBot runs it (`rerunSessionId`).
    Running,
    /// The rerun ended; its outcome replaces the failure in
    /// `status.computers`.
    Ended,
    /// ImmyBot refused it, or the object was cancelled first (`message`).
    NotRun,
}

impl ActionRerunState {
    /// Whether nothing more will happen to it.
    pub fn is_done(self) -> bool {
        matches!(self, ActionRerunState::Ended | ActionRerunState::NotRun)
    }
}

/// A log line.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    pub session_id: i32,
    pub message: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
