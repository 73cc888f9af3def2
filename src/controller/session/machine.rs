//! The MaintenanceSession state machine: observed state in, the next status
//! and the one next step out. Pure: no clients, no clock, no I/O, so every
//! transition is a unit test (below). The shell (`reconciler.rs`) gathers
//! what is observed, calls [`decide`], writes the status and performs the step.
//!
//! Steps are single and idempotent; after performing one, the shell decides
//! again. See docs/design.md for the phases and the start protocol.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::attempts::{age, busy_retry_after, first_targets, is_rerun, new_attempt, timeout_passed, timeout_recheck};
pub use super::attempts::{is_settled, needs_resolution, parse_duration};
use super::phase::{phase_reason, record_approval, set_phase, target_summary};
use super::rollout;
use super::status_mapping::{Aggregate, log_tail, map_sessions};
use crate::api::{Attempt, MaintenanceSession, MaintenanceSessionStatus, Phase, ResumeRecord, attempt_purpose};
use crate::controller::approval::Verdict;
use crate::controller::approval::digest::ApprovalDigest;
use crate::controller::conditions::{self, APPROVED};
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
    pub now: Timestamp,
    /// The ImmyBot instance, as recorded in status.
    pub instance: &'a str,
    /// How long an unanswered start may still be in flight elsewhere before
    /// its sessions are looked up (see the start protocol).
    pub start_grace: Duration,
    /// How long to wait before trying computers ImmyBot reported busy again;
    /// it doubles with every round that found all of them still busy, up to
    /// ten times this.
    pub busy_retry: Duration,
}

/// The next thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Nothing but the status.
    None,
    /// Resolve computer or tenant names to ImmyBot ids.
    ResolveTargets,
    /// Record the rollout's plan (`status.rollout`): the target's computers
    /// in wave order, listed once (a tenant's from ImmyBot).
    PlanRollout,
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
}

/// What [`decide`] concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: MaintenanceSessionStatus,
    pub step: Step,
    /// When to look again if nothing else triggers a reconcile.
    pub requeue_after: Option<Duration>,
}

/// How often a session that is waiting on ImmyBot is looked at, besides the
/// poller's triggers.
const RUNNING_RECHECK: Duration = Duration::from_secs(60);

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
    let spec = &o.object.spec;
    let generation = o.object.metadata.generation;
    let uid = o.object.metadata.uid.clone().unwrap_or_default();
    let mut st = o.object.status.clone().unwrap_or_default();
    st.observed_generation = generation;
    st.approval_digest = Some(o.digest.to_string());
    st.target_summary = Some(target_summary(spec, &st));
    st.reason = Some(spec.reason.clone());
    let approved = record_approval(&mut st, o);

    let attempts: Vec<Attempt> = st.immybot.as_ref().map(|r| r.attempts.clone()).unwrap_or_default();
    let waves = spec.rollout.as_ref().filter(|r| r.is_waves());
    // In a rollout, what has been started so far is what is targeted: the
    // computers of later waves have not run, and are not failures.
    let targeted: Option<Vec<i32>> = match (waves, st.rollout.as_ref()) {
        (Some(_), Some(plan)) => Some(rollout::started_ids(plan, &attempts)),
        _ => (spec.target.computer.is_some() || spec.target.computers.is_some()).then(|| first_targets(spec, &st)),
    };
    let current = attempts.last();
    // Computers ImmyBot reported busy and no later attempt has started: only
    // the last attempt can hold them (see `waiting_or_retry_busy`).
    let waiting: Vec<i32> = current.map(|a| a.busy_computer_ids.clone()).unwrap_or_default();
    st.waiting_computers.retain(|w| waiting.contains(&w.id));
    let mapped = map_sessions(o.sessions, targeted.as_deref(), &waiting, o.compliant_by_item);
    if let Some(m) = &mapped {
        st.summary = Some(m.summary.clone());
        st.items = m.items.clone();
        st.computers = m.computers.clone();
        st.progress = Some(m.progress.clone());
    }
    if !o.logs.is_empty() {
        st.log_tail = log_tail(o.logs);
    }
    // The maintenance counts as started once ImmyBot answered a start, with
    // sessions or with computers it found busy: from then on the timeout runs
    // and what was approved is frozen.
    if st.start_time.is_none()
        && let Some(first) = attempts
            .iter()
            .find(|a| !a.session_ids.is_empty() || !a.busy_computer_ids.is_empty())
    {
        st.start_time = Some(Time(first.intent_time.0));
    }
    let active_ids: Vec<i32> = o
        .sessions
        .iter()
        .filter(|s| !s.session_status.as_ref().is_some_and(|x| x.is_terminal()))
        .map(|s| s.id)
        .collect();
    let unanswered = current.filter(|a| a.session_ids.is_empty() && a.busy_computer_ids.is_empty());

    // 1. Cancel and timeout come first: they stop whatever else would happen.
    let timed_out = timeout_passed(spec, &st, o.now);
    if spec.cancel.is_some() || timed_out {
        let (final_phase, why) = match &spec.cancel {
            Some(c) => (Phase::Cancelled, format!("cancelled: {}", c.reason)),
            None => (
                Phase::TimedOut,
                format!("spec.timeout ({}) passed", spec.timeout.clone().unwrap_or_default()),
            ),
        };
        if st.phase.is_some_and(Phase::is_final) {
            // Finished already: there is nothing left to cancel.
            return settle(st, o, None);
        }
        if let Some(a) = unanswered {
            // Cannot cancel what we cannot name: find the sessions first, and
            // never start the attempt again.
            return waiting_or_adopt(st, o, a, &why, false);
        }
        if !active_ids.is_empty() {
            let phase = st.phase.unwrap_or(Phase::Running);
            set_phase(
                &mut st,
                o,
                phase,
                "Cancelling",
                format!("{why}; cancelling {} ImmyBot session(s)", active_ids.len()),
            );
            return Decision {
                status: st,
                step: Step::Cancel {
                    session_ids: active_ids,
                },
                requeue_after: Some(Duration::from_secs(5)),
            };
        }
        if let Some(summary) = st.summary.as_mut() {
            // Computers still waiting for another session never ran.
            let never_ran = waiting.len() as i32;
            summary.waiting -= never_ran.min(summary.waiting);
            summary.not_started += never_ran;
        }
        if st.phase != Some(final_phase) {
            let why = if waiting.is_empty() {
                why
            } else {
                format!(
                    "{why}; {} computer(s) never ran (busy with other ImmyBot sessions)",
                    waiting.len()
                )
            };
            set_phase(&mut st, o, final_phase, phase_reason(final_phase), why);
        }
        return settle(st, o, None);
    }

    // 2. Nothing started yet.
    let Some(current) = current else {
        // Suspend is the person's explicit hold, so it shows before approval;
        // the Approved condition still says where the approval stands.
        if spec.suspend {
            set_phase(
                &mut st,
                o,
                Phase::Suspended,
                "Suspended",
                "spec.suspend is true: nothing will start until it is false",
            );
            return settle(st, o, None);
        }
        if !approved {
            let message = conditions::get(&st.conditions, APPROVED)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            set_phase(&mut st, o, Phase::AwaitingApproval, "AwaitingApproval", message);
            return settle(st, o, None);
        }
        if needs_resolution(spec, &st) {
            set_phase(
                &mut st,
                o,
                Phase::Pending,
                "ResolvingTargets",
                "looking up computer and tenant names in ImmyBot",
            );
            return Decision {
                status: st,
                step: Step::ResolveTargets,
                requeue_after: None,
            };
        }
        if let Some(wait) = window_gate(&mut st, o) {
            return wait;
        }
        if waves.is_some() {
            return first_wave(st, o, &uid);
        }
        let attempt = new_attempt(&uid, 1, o.now, first_targets(spec, &st), attempt_purpose::START);
        set_phase(
            &mut st,
            o,
            Phase::Starting,
            "Starting",
            "starting the maintenance in ImmyBot",
        );
        return Decision {
            status: st,
            step: Step::Start(attempt),
            requeue_after: None,
        };
    };

    // 3. The current attempt has no answer yet.
    if current.session_ids.is_empty() && current.busy_computer_ids.is_empty() {
        let restart = approved && !spec.suspend;
        return waiting_or_adopt(st, o, current, "the start's answer has not been recorded", restart);
    }

    // 4. A person asked to resume postponed sessions.
    let resume_handled = st.resume.as_ref().map(|r| r.requests).unwrap_or(0);
    let mut continue_halted = false;
    if spec.resume.requests > resume_handled {
        let postponed: Vec<i32> = o
            .sessions
            .iter()
            .filter(|s| s.session_status == Some(immybot_client::SessionStatus::Postponed))
            .map(|s| s.id)
            .collect();
        st.resume = Some(ResumeRecord {
            requests: spec.resume.requests,
            session_ids: postponed.clone(),
            time: Time(o.now),
        });
        // A halted rollout has nothing running: the request continues it,
        // accepting the failures so far (recorded with the next wave's
        // intent, or with this status).
        continue_halted = st.phase == Some(Phase::Halted) && postponed.is_empty();
    }
    if spec.resume.requests > resume_handled && !continue_halted {
        let postponed = st.resume.as_ref().map(|r| r.session_ids.clone()).unwrap_or_default();
        return Decision {
            status: st,
            step: Step::Resume { session_ids: postponed },
            requeue_after: None,
        };
    }

    // 5. Computers ImmyBot found busy: start them when they are free.
    if !waiting.is_empty() {
        return waiting_or_retry_busy(st, o, current, mapped.as_ref(), &uid, approved);
    }

    // 6. Sessions exist: mirror them.
    let Some(mapped) = mapped else {
        let phase = st.phase.unwrap_or(Phase::Queued);
        set_phase(&mut st, o, phase, "Observing", "reading the ImmyBot sessions");
        return settle(st, o, Some(Duration::from_secs(5)));
    };
    if let (Some(rollout_spec), Some(plan)) = (waves, st.rollout.clone())
        && mapped.aggregate.is_finished()
        && mapped.aggregate != Aggregate::AllCancelled
        && rollout::next_wave(&plan, &attempts).is_some()
    {
        return between_waves(
            st,
            o,
            plan,
            rollout_spec,
            &mapped,
            current,
            &uid,
            approved,
            continue_halted,
        );
    }
    if let (Some(rollout_spec), Some(plan)) = (waves, st.rollout.as_mut()) {
        let budget = rollout::budget_of(rollout_spec, plan.computer_ids.len());
        let _ = rollout::assess(
            plan,
            &attempts,
            &mapped.failed_computer_ids,
            mapped.summary.passed,
            budget,
        );
    }
    let wave_prefix = st
        .rollout
        .as_ref()
        .filter(|_| waves.is_some())
        .map(|p| format!("wave {} of {}: ", p.current_wave, p.waves))
        .unwrap_or_default();
    match mapped.aggregate {
        Aggregate::Queued => set_phase(
            &mut st,
            o,
            Phase::Queued,
            "Queued",
            "ImmyBot accepted the sessions and has not run them yet",
        ),
        Aggregate::Running => {
            let suffix = if spec.suspend {
                "; spec.suspend is true, but ImmyBot cannot pause a running session, so it goes on and no new attempt will start"
            } else {
                ""
            };
            set_phase(
                &mut st,
                o,
                Phase::Running,
                "Running",
                format!("{wave_prefix}{} of the computers finished{suffix}", mapped.progress),
            );
        }
        Aggregate::Postponed => set_phase(
            &mut st,
            o,
            Phase::Postponed,
            "Postponed",
            "a user postponed a reboot; the session waits until it is resumed in ImmyBot",
        ),
        Aggregate::AllPassed => set_phase(
            &mut st,
            o,
            Phase::Succeeded,
            "Succeeded",
            format!("all {} computer(s) passed", mapped.summary.computers),
        ),
        Aggregate::AllCancelled => set_phase(
            &mut st,
            o,
            Phase::Cancelled,
            "CancelledInImmyBot",
            "the sessions were cancelled in ImmyBot",
        ),
        Aggregate::Partial | Aggregate::AllFailed => {
            let allowed = 1 + spec.retry.limit.max(0) + spec.retry.requests.max(0);
            let used = 1 + attempts.iter().filter(|a| is_rerun(a)).count() as i32;
            if used < allowed && approved && !spec.suspend && !mapped.failed_computer_ids.is_empty() {
                if let Some(wait) = window_gate(&mut st, o) {
                    return wait;
                }
                let attempt = new_attempt(
                    &uid,
                    current.number + 1,
                    o.now,
                    mapped.failed_computer_ids.clone(),
                    attempt_purpose::RERUN,
                );
                st.completion_time = None;
                set_phase(
                    &mut st,
                    o,
                    Phase::Starting,
                    "Retrying",
                    format!(
                        "rerunning {} failed computer(s): run {} of {allowed}",
                        mapped.failed_computer_ids.len(),
                        used + 1
                    ),
                );
                return Decision {
                    status: st,
                    step: Step::Start(attempt),
                    requeue_after: None,
                };
            }
            let phase = if mapped.aggregate == Aggregate::AllFailed {
                Phase::Failed
            } else {
                Phase::PartiallySucceeded
            };
            let failed: Vec<String> = mapped
                .computers
                .iter()
                .filter(|c| c.session_status != "Passed")
                .take(5)
                .map(|c| {
                    format!(
                        "{} ({})",
                        c.name.clone().unwrap_or_else(|| c.id.to_string()),
                        c.session_status
                    )
                })
                .collect();
            let hint = if used < allowed {
                ""
            } else {
                "; increase spec.retry.requests to rerun the failed computers"
            };
            set_phase(
                &mut st,
                o,
                phase,
                phase_reason(phase),
                format!(
                    "{} computer(s) did not pass: {}{hint}",
                    mapped.failed_computer_ids.len(),
                    failed.join(", ")
                ),
            );
        }
    }
    let requeue = (!mapped.aggregate.is_finished()).then_some(RUNNING_RECHECK);
    settle(
        st,
        o,
        requeue.or_else(|| timeout_recheck(spec, &o.object.status, o.now)),
    )
}

/// Some targeted computers have not run because ImmyBot reported them busy
/// with another session (a schedule, onboarding, a person in ImmyBot). They
/// stay counted (`summary.waiting`, progress) and are started with a new
/// attempt of their own when the backoff is due, unless suspended or no
/// longer approved. Cancel and timeout were handled before: they end the
/// session and the waiting computers count as not started.
///
/// Only the last attempt can hold waiting computers: a `ComputersBusy`
/// attempt targets exactly the last attempt's busy computers, and reruns of
/// failed computers happen only once nothing waits.
fn waiting_or_retry_busy(
    mut st: MaintenanceSessionStatus,
    o: &Observed<'_>,
    current: &Attempt,
    mapped: Option<&super::status_mapping::Mapped>,
    uid: &str,
    approved: bool,
) -> Decision {
    let spec = &o.object.spec;
    let waiting = &current.busy_computer_ids;
    let phase = match mapped.map(|m| m.aggregate) {
        Some(Aggregate::Running) => Phase::Running,
        Some(Aggregate::Postponed) => Phase::Postponed,
        _ => Phase::Queued,
    };
    let holders: Vec<String> = st
        .waiting_computers
        .iter()
        .take(5)
        .map(|w| match w.held_by_session_id {
            Some(h) => format!("computer {} (held by ImmyBot session {h})", w.id),
            None => format!("computer {}", w.id),
        })
        .collect();
    let named = if holders.is_empty() {
        format!("{waiting:?}")
    } else {
        holders.join(", ")
    };
    let due_in = busy_retry_after(current, o.busy_retry).saturating_sub(age(current, o.now));
    // Windows that cannot be read were refused before the first start, and
    // changing them needs a new approval: only "closed" can hold a retry.
    let window_closed = if due_in.is_zero() && approved && !spec.suspend {
        closed_until(o).ok().flatten().map(Time)
    } else {
        None
    };
    st.next_window_opening = window_closed.clone();
    if due_in.is_zero() && approved && !spec.suspend && window_closed.is_none() {
        // A round that started nothing is followed by a longer wait.
        let round = if current.session_ids.is_empty() {
            current.busy_round + 1
        } else {
            0
        };
        let mut attempt = new_attempt(
            uid,
            current.number + 1,
            o.now,
            waiting.clone(),
            attempt_purpose::COMPUTERS_BUSY,
        );
        attempt.busy_round = round;
        set_phase(
            &mut st,
            o,
            phase,
            "StartingWaitingComputers",
            format!("starting {} computer(s) that were busy: {named}", waiting.len()),
        );
        return Decision {
            status: st,
            step: Step::Start(attempt),
            requeue_after: None,
        };
    }
    let why_not = if spec.suspend {
        "; spec.suspend is true, so they will not be started until it is false".to_string()
    } else if !approved {
        "; they start only once the session is approved again".to_string()
    } else if let Some(opens) = &window_closed {
        format!(
            "; outside spec.windows, they start when the next window opens at {}",
            opens.0
        )
    } else {
        format!("; trying again in {}s", due_in.as_secs().max(1))
    };
    set_phase(
        &mut st,
        o,
        phase,
        "ComputersBusy",
        format!(
            "{} computer(s) have not run yet because ImmyBot reports them busy with another session: {named}{why_not}",
            waiting.len()
        ),
    );
    let recheck = if spec.suspend || !approved {
        None
    } else if let Some(opens) = &window_closed {
        Duration::try_from(opens.0.duration_since(o.now)).ok()
    } else {
        Some(due_in.max(Duration::from_secs(1)))
    };
    settle(
        st,
        o,
        recheck.or_else(|| timeout_recheck(spec, &o.object.status, o.now)),
    )
}

/// The attempt was sent (or may have been): wait while it may still be in
/// flight elsewhere, then look its sessions up.
fn waiting_or_adopt(
    mut st: MaintenanceSessionStatus,
    o: &Observed<'_>,
    attempt: &Attempt,
    why: &str,
    restart: bool,
) -> Decision {
    let age = age(attempt, o.now);
    if age < o.start_grace {
        set_phase(
            &mut st,
            o,
            Phase::Starting,
            "Starting",
            format!("{why}; waiting for the start of attempt {} to complete", attempt.number),
        );
        return Decision {
            status: st,
            step: Step::None,
            requeue_after: Some(o.start_grace - age),
        };
    }
    set_phase(
        &mut st,
        o,
        Phase::Starting,
        "RecoveringStart",
        format!(
            "{why}; looking up the sessions of attempt {} by sessionGroupId {}",
            attempt.number, attempt.session_group_id
        ),
    );
    Decision {
        status: st,
        step: Step::Adopt {
            attempt: attempt.number,
            restart,
        },
        requeue_after: None,
    }
}

/// When `spec.windows` open next if they are closed now; `Ok(None)` when
/// work may start now; the reason when they cannot be read.
fn closed_until(o: &Observed<'_>) -> Result<Option<Timestamp>, String> {
    use crate::controller::windows::{WindowState, parse, state_at};
    Ok(match state_at(&parse(&o.object.spec.windows)?, o.now) {
        WindowState::Always | WindowState::Open { .. } => None,
        WindowState::Closed { opens } => Some(opens),
    })
}

/// `None` when work may start in ImmyBot now (`spec.windows`); otherwise
/// the decision that waits: for the next opening, or for a person to fix
/// windows that cannot be read (Stalled; nothing starts).
fn window_gate(st: &mut MaintenanceSessionStatus, o: &Observed<'_>) -> Option<Decision> {
    st.next_window_opening = None;
    match closed_until(o) {
        Ok(None) => None,
        Ok(Some(opens)) => {
            st.next_window_opening = Some(Time(opens));
            set_phase(
                st,
                o,
                Phase::WaitingForWindow,
                "WaitingForWindow",
                format!("outside spec.windows: nothing starts before the next window opens at {opens}"),
            );
            let wait = Duration::try_from(opens.duration_since(o.now)).unwrap_or(Duration::from_secs(1));
            Some(settle(st.clone(), o, Some(wait.max(Duration::from_secs(1)))))
        }
        Err(why) => {
            let message = format!("{why}; nothing starts until spec.windows is fixed");
            set_phase(st, o, Phase::Pending, "InvalidWindows", message.clone());
            let (g, now) = (o.object.metadata.generation, o.now);
            conditions::remove(&mut st.conditions, conditions::RECONCILING);
            conditions::set(
                &mut st.conditions,
                conditions::STALLED,
                true,
                "InvalidWindows",
                message,
                g,
                now,
            );
            Some(settle(st.clone(), o, None))
        }
    }
}

fn settle(mut st: MaintenanceSessionStatus, o: &Observed<'_>, requeue_after: Option<Duration>) -> Decision {
    if st.phase.is_some_and(Phase::is_final) && st.completion_time.is_none() {
        st.completion_time = Some(Time(o.now));
    }
    Decision {
        status: st,
        step: Step::None,
        requeue_after,
    }
}

// The decisions of a rollout in waves: a child module, so it shares this
// one's private helpers (`set_phase`, `settle`, `window_gate`).
mod waves;
use waves::{between_waves, first_wave};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rollout_tests;

#[cfg(test)]
mod properties;
