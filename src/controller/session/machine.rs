//! The MaintenanceSession state machine: observed state in, the next status
//! and the one next step out. Pure: no clients, no clock, no I/O, so every
//! transition is a unit test. The shell (`reconciler.rs`) gathers what is
//! observed, calls [`decide`], writes the status and performs the step.
//!
//! `decide` is its stages in order, each a function of its own (and its
//! own tests) that either decides or passes: `seen` mirrors what was
//! observed into the status, then `stop` (cancel and timeout), `not_started`
//! (nothing started yet), `unanswered` (a start without its answer),
//! `resume` (a person asked to resume), `busy` (computers ImmyBot found
//! busy), `action_rerun` (failed actions a person asked to rerun) and
//! `mirror` (sessions exist). A stage returns a [`Next`]: the phase
//! to show, the step, when to look again; [`finish`] applies it once.
//! `window_gate` and `waves` are what several stages ask.
//!
//! Steps are single and idempotent; after performing one, the shell decides
//! again. See docs/design.md for the phases and the start protocol.

pub(super) mod action_rerun;
mod busy;
pub mod health_gate;
mod mirror;
mod not_started;
mod observe_only;
mod plan_gate;
mod resume;
mod seen;
mod stop;
mod unanswered;
mod waves;
mod window_gate;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use super::attempts::{is_settled, needs_resolution, parse_duration};
use super::phase::{At, set_phase};
use crate::api::{Attempt, MaintenanceSession, MaintenanceSessionStatus, Phase};
use crate::controller::approval::Verdict;
use crate::controller::approval::digest::ApprovalDigest;
use crate::controller::conditions;
use immybot_client::{MaintenanceSession as ImmySession, SessionLog};

/// Everything [`decide`] looks at.
pub struct Observed<'a> {
    pub object: &'a MaintenanceSession,
    pub digest: &'a ApprovalDigest,
    pub verdict: &'a Verdict,
    /// ImmyBot's view of every session id recorded in status (all attempts),
    /// with their actions.
    pub sessions: &'a [ImmySession],
    /// For objects whose `NoAction` rows are counted by ImmyBot rather than
    /// read: the count per maintenance item.
    pub compliant_by_item: Option<&'a std::collections::BTreeMap<String, i64>>,
    /// Recent log lines of some of those sessions.
    pub logs: &'a [SessionLog],
    /// Log excerpts of failed actions, by action id (`action_excerpts`).
    pub action_excerpts: &'a std::collections::BTreeMap<i32, Vec<String>>,
    pub now: Timestamp,
    /// The ImmyBot instance, as recorded in status.
    pub instance: &'a str,
    /// The connection it is reached through (`None`: the operator's flags).
    pub connection: Option<&'a crate::api::ConnectionRef>,
    /// How long an unanswered start may still be in flight elsewhere before
    /// its sessions are looked up (see the start protocol).
    pub start_grace: Duration,
    /// How long to wait before trying computers ImmyBot reported busy again;
    /// it doubles with every round that found all of them still busy, up to
    /// ten times this.
    pub busy_retry: Duration,
    /// The pilot rule's threshold in the object's namespace (`api::pilot`).
    pub pilot_required_above: Option<i32>,
    /// Plans are required above this many computers (`PlanRule`).
    pub plan_required_above: Option<i32>,
    /// Whether a plan's detection may run: always, unless the operator is
    /// set to make it wait for an approval of the spec (`PlanRule`).
    pub plan_detection_approved: bool,
    /// The health gate's reading, for a rollout with `healthGate` that may
    /// start a wave or runs one (`None`: not read).
    pub health_gate: Option<&'a crate::controller::health_gate::GateReading>,
}

/// The next thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Nothing but the status.
    None,
    /// Resolve computer or tenant names to ImmyBot ids.
    ResolveTargets,
    /// Measure what an approval of `digest` would let loose
    /// (`status.blastRadius`): before anyone approves, and for a tenant once
    /// more after the approval `counted_for`, right before its start.
    MeasureBlastRadius {
        digest: String,
        counted_for: Option<String>,
    },
    /// Record the rollout's plan (`status.rollout`): the target's computers
    /// in wave order, listed once (a tenant's from ImmyBot).
    PlanRollout,
    /// Record the intent of a plan's detection-only start (or a drift
    /// check's, `check`), already in the decided status, then send it
    /// (`spec.plan`; `plan::protocol`).
    Detect { check: bool },
    /// Read the plan's (or drift check's) detection sessions; once they
    /// ended, make the plan (or compare it with the approved one).
    ReadDetection { check: bool },
    /// Record this attempt's intent (a write with a resourceVersion
    /// precondition), then send the start.
    Start(Attempt),
    /// An attempt's answer never arrived: find its sessions by group id. If
    /// there are none, start it again when `restart` (still approved, not
    /// suspended, cancelled or timed out), else forget the attempt: it
    /// created nothing, and nothing may start now.
    Adopt { attempt: i32, restart: bool },
    /// Cancel these ImmyBot sessions.
    Cancel { session_ids: Vec<i32> },
    /// Record `status.resume` (already in the decided status), then resume
    /// these postponed ImmyBot sessions (none: report that nothing waited).
    Resume { session_ids: Vec<i32> },
    /// Record this action rerun as `Sent` (already in the decided status),
    /// then rerun the action in ImmyBot and find the session it made.
    RerunAction { action_id: i32 },
    /// A rerun recorded as sent has no session after the grace: look it up
    /// by `actionIdToRerun`; if ImmyBot has none, send it again when
    /// `resend` (still approved, not suspended or cancelled), else record
    /// that it did not run.
    FindActionRerun { action_id: i32, resend: bool },
}

/// What [`decide`] concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: MaintenanceSessionStatus,
    pub step: Step,
    /// When to look again if nothing else triggers a reconcile.
    pub requeue_after: Option<Duration>,
}

impl Observed<'_> {
    /// What this decision stamps on the status.
    fn at(&self) -> At<'_> {
        At {
            generation: self.object.metadata.generation,
            now: self.now,
            instance: self.instance,
            connection: self.connection,
        }
    }
}

/// What a stage decided: the phase to show (with its reason and message),
/// the one step, and when to look again.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Next {
    shown: Option<Shown>,
    step: Step,
    requeue_after: Option<Duration>,
}

/// A phase as it will show, with the conditions that follow it.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    phase: Phase,
    reason: &'static str,
    message: String,
    /// Also `Stalled=True` (a person must fix the spec), whatever the phase.
    stalled: bool,
}

impl Next {
    /// Show `phase`, do nothing else.
    fn show(phase: Phase, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            shown: Some(Shown {
                phase,
                reason,
                message: message.into(),
                stalled: false,
            }),
            step: Step::None,
            requeue_after: None,
        }
    }

    /// Keep the phase as it is.
    fn keep() -> Self {
        Self {
            shown: None,
            step: Step::None,
            requeue_after: None,
        }
    }

    fn step(mut self, step: Step) -> Self {
        self.step = step;
        self
    }

    fn requeue(mut self, after: Option<Duration>) -> Self {
        self.requeue_after = after;
        self
    }

    /// A person must act: `Stalled=True` and no `Reconciling`.
    fn stalled(mut self) -> Self {
        if let Some(s) = self.shown.as_mut() {
            s.stalled = true;
        }
        self
    }
}

pub fn decide(o: &Observed<'_>) -> Decision {
    // A settled object (final, nothing more asked of it) keeps its status;
    // only the generation counts as observed. The shell does not even call
    // this for one; the core keeps the rule on its own all the same.
    if is_settled(o.object) {
        let mut st = o.object.status.clone().unwrap_or_default();
        st.observed_generation = o.object.metadata.generation;
        return Decision {
            status: st,
            step: Step::None,
            requeue_after: None,
        };
    }
    let (mut st, seen) = seen::refresh(o);
    plan_gate::record_unplanned(&mut st, o);
    // 0. An observe-only object records the session it mirrors.
    if let Some(next) = observe_only::begin(&mut st, o, &seen) {
        return finish(st, o, next);
    }
    // 1. Cancel and timeout come first: they stop whatever else would happen.
    if let Some(next) = stop::cancel_or_timeout(&mut st, o, &seen) {
        return finish(st, o, next);
    }
    // 2. Nothing started yet.
    if let Some(next) = not_started::begin(&mut st, o, &seen) {
        return finish(st, o, next);
    }
    // 3. The current attempt has no answer yet.
    if let Some(next) = unanswered::recover(o, &seen) {
        return finish(st, o, next);
    }
    // 4. A person asked to resume postponed sessions (or a halted rollout).
    let continue_halted = match resume::requested(&mut st, o, &seen) {
        resume::Resume::Send(next) => return finish(st, o, *next),
        resume::Resume::ContinueHalted => true,
        resume::Resume::Nothing => false,
    };
    // 5. Computers ImmyBot found busy: start them when they are free.
    if let Some(next) = busy::waiting_computers(&mut st, o, &seen) {
        return finish(st, o, next);
    }
    // 6. Reruns of failed actions a person asked for.
    if let Some(next) = action_rerun::reruns(&mut st, o, &seen) {
        return finish(st, o, next);
    }
    // 7. Sessions exist: mirror them, start the next wave, rerun or end.
    let next = mirror::sessions(&mut st, o, &seen, continue_halted);
    finish(st, o, next)
}

/// Applies a stage's decision: the phase and its conditions, the
/// completion time of a final phase (set once).
fn finish(mut st: MaintenanceSessionStatus, o: &Observed<'_>, next: Next) -> Decision {
    if let Some(shown) = next.shown {
        set_phase(&mut st, o.at(), shown.phase, shown.reason, shown.message.clone());
        if shown.stalled {
            let (g, now) = (o.object.metadata.generation, o.now);
            conditions::remove(&mut st.conditions, conditions::RECONCILING);
            conditions::set(
                &mut st.conditions,
                conditions::STALLED,
                true,
                shown.reason,
                shown.message,
                g,
                now,
            );
        }
    }
    if st.phase.is_some_and(Phase::is_final) && st.completion_time.is_none() {
        st.completion_time = Some(Time(o.now));
    }
    Decision {
        status: st,
        step: next.step,
        requeue_after: next.requeue_after,
    }
}

/// Whether an attempt's answer was never recorded (no sessions, no busy
/// computers).
fn is_unanswered(a: &Attempt) -> bool {
    a.session_ids.is_empty() && a.busy_computer_ids.is_empty()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rollout_tests;

#[cfg(test)]
mod properties;
