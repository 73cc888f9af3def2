//! Stage 6: ImmyBot has the sessions: show where they stand, start the next
//! wave of a rollout, rerun failed computers while retries are left, or
//! end the object with its outcome.

use std::time::Duration;

use super::seen::Seen;
use super::{Next, Observed, Step, health_gate, waves, window_gate};
use crate::api::{MaintenanceSessionStatus, Phase, attempt_purpose};
use crate::controller::session::attempts::{is_rerun, new_attempt, timeout_recheck};
use crate::controller::session::rollout;
use crate::controller::session::status_mapping::{Aggregate, Mapped};

/// How often a session that is waiting on ImmyBot is looked at, besides the
/// poller's triggers.
const RUNNING_RECHECK: Duration = Duration::from_secs(60);

pub(super) fn sessions(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
    continue_halted: bool,
) -> Next {
    let Some(mapped) = &seen.mapped else {
        let phase = st.phase.unwrap_or(Phase::Queued);
        return Next::show(phase, "Observing", "reading the ImmyBot sessions").requeue(Some(Duration::from_secs(5)));
    };
    if let (Some(_), Some(plan)) = (seen.waves, st.rollout.clone())
        && mapped.aggregate.is_finished()
        && mapped.aggregate != Aggregate::AllCancelled
        && rollout::next_wave(&plan, &seen.attempts).is_some()
    {
        return waves::between_waves(st, o, seen, plan, mapped, continue_halted);
    }
    let wave_prefix = assess_rollout(st, seen, mapped);
    // A wave runs with more to come: a firing health gate halts what is
    // left (recorded now, shown when the wave ends).
    let more_waves = st
        .rollout
        .as_ref()
        .is_some_and(|plan| rollout::next_wave(plan, &seen.attempts).is_some());
    let gate_words = if more_waves && !mapped.aggregate.is_finished() {
        health_gate::while_running(st, o, seen).unwrap_or_default()
    } else {
        String::new()
    };
    let gate_recheck = (more_waves && !mapped.aggregate.is_finished())
        .then(|| health_gate::running_recheck(seen))
        .flatten();
    let next = match mapped.aggregate {
        Aggregate::Partial | Aggregate::AllFailed => return rerun_or_end(st, o, seen, mapped),
        Aggregate::Queued => Next::show(
            Phase::Queued,
            "Queued",
            format!("{}{gate_words}", queued_message(mapped.summary.queued)),
        ),
        Aggregate::Running => {
            let suffix = if seen.spec.suspend {
                "; spec.suspend is true, but ImmyBot cannot pause a running session, so it goes on and no new attempt will start"
            } else {
                ""
            };
            let queued = match mapped.summary.queued {
                0 => String::new(),
                n => format!("; {n} queued in ImmyBot behind its concurrent-session limit"),
            };
            Next::show(
                Phase::Running,
                "Running",
                format!(
                    "{wave_prefix}{} of the computers finished{queued}{suffix}{gate_words}",
                    mapped.progress
                ),
            )
        }
        Aggregate::Postponed => Next::show(
            Phase::Postponed,
            "Postponed",
            "a user postponed a reboot; the session waits until it is resumed in ImmyBot",
        ),
        Aggregate::AllPassed => Next::show(
            Phase::Succeeded,
            "Succeeded",
            format!("all {} computer(s) passed", mapped.summary.computers),
        ),
        Aggregate::AllCancelled => Next::show(
            Phase::Cancelled,
            "CancelledInImmyBot",
            "the sessions were cancelled in ImmyBot",
        ),
    };
    let again = recheck(o, seen, mapped);
    next.requeue(match (again, gate_recheck) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Brings a rollout's record up to date (no halt can come from here: the
/// last wave, or a wave still running), and says which wave it is on.
fn assess_rollout(st: &mut MaintenanceSessionStatus, seen: &Seen<'_>, mapped: &Mapped) -> String {
    let (Some(rollout_spec), Some(plan)) = (seen.waves, st.rollout.as_mut()) else {
        return String::new();
    };
    let brakes = rollout::Brakes::of(rollout_spec, plan.computer_ids.len());
    let _ = rollout::assess(plan, &seen.attempts, &rollout::Outcomes::of(mapped), &brakes);
    format!("wave {} of {}: ", plan.current_wave, plan.waves)
}

/// Some or all computers did not pass: rerun them while retries are left
/// (approved, not suspended, inside the windows), else end the object
/// `PartiallySucceeded` or `Failed`, naming the worst.
fn rerun_or_end(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>, mapped: &Mapped) -> Next {
    let spec = seen.spec;
    let allowed = 1 + spec.retry.limit.max(0) + spec.retry.requests.max(0);
    let used = 1 + seen.attempts.iter().filter(|a| is_rerun(a)).count() as i32;
    if let Some(current) = seen.current()
        && used < allowed
        && seen.approved
        && !spec.suspend
        && !mapped.failed_computer_ids.is_empty()
    {
        if let Some(wait) = window_gate::hold(st, o) {
            return wait;
        }
        let attempt = new_attempt(
            &seen.uid,
            current.number + 1,
            o.now,
            mapped.failed_computer_ids.clone(),
            attempt_purpose::RERUN,
        );
        st.completion_time = None;
        return Next::show(
            Phase::Starting,
            "Retrying",
            format!(
                "rerunning {} failed computer(s): run {} of {allowed}",
                mapped.failed_computer_ids.len(),
                used + 1
            ),
        )
        .step(Step::Start(attempt));
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
    Next::show(
        phase,
        phase.as_str(),
        format!(
            "{} computer(s) did not pass: {}{hint}",
            mapped.failed_computer_ids.len(),
            failed.join(", ")
        ),
    )
    .requeue(recheck(o, seen, mapped))
}

/// When to look again: soon while ImmyBot works, else when the timeout
/// would pass.
fn recheck(o: &Observed<'_>, seen: &Seen<'_>, mapped: &Mapped) -> Option<Duration> {
    (!mapped.aggregate.is_finished())
        .then_some(RUNNING_RECHECK)
        .or_else(|| timeout_recheck(seen.spec, &o.object.status, o.now))
}

/// What a session ImmyBot has queued waits for, in words.
fn queued_message(queued: i32) -> String {
    let what = match queued {
        0 => return "ImmyBot accepted the sessions and has not run them yet".to_owned(),
        1 => "ImmyBot accepted the session and has not begun it".to_owned(),
        n => format!("ImmyBot accepted {n} sessions and has begun none"),
    };
    format!(
        "{what}: waiting for ImmyBot, which runs at most its concurrent-session limit at once (an instance setting; spec.priority High bypasses it)"
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{immy, observe};
    use super::*;
    use crate::test_fixtures::*;
    use immybot_client::SessionStatus;

    fn stage(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
        Some(sessions(st, o, seen, false))
    }

    fn shown(next: &Next) -> Option<(Phase, &'static str)> {
        next.shown.as_ref().map(|s| (s.phase, s.reason))
    }

    #[test]
    fn where_the_sessions_stand_is_the_phase() {
        let object = session().attempt(1, 30, &[7]).build();
        let running = observe(&object, &[immy(7, 101, SessionStatus::Running)], stage).unwrap();
        assert_eq!(shown(&running), Some((Phase::Running, "Running")));
        assert_eq!(running.requeue_after, Some(RUNNING_RECHECK));
        let passed = observe(&object, &[immy(7, 101, SessionStatus::Passed)], stage).unwrap();
        assert_eq!(shown(&passed), Some((Phase::Succeeded, "Succeeded")));
    }

    #[test]
    fn failures_are_rerun_while_retries_are_left_then_end_the_object() {
        let with_retry = session().retries(1).attempt(1, 30, &[7]).build();
        let failed = [immy(7, 101, SessionStatus::Failed)];
        let rerun = observe(&with_retry, &failed, stage).unwrap();
        assert_eq!(shown(&rerun), Some((Phase::Starting, "Retrying")));
        assert!(matches!(&rerun.step, Step::Start(a) if a.number == 2 && a.computer_ids == vec![101]));
        let without = session().attempt(1, 30, &[7]).build();
        let ended = observe(&without, &failed, stage).unwrap();
        assert_eq!(shown(&ended), Some((Phase::Failed, "Failed")));
        assert!(
            ended
                .shown
                .is_some_and(|s| s.message.contains("increase spec.retry.requests"))
        );
    }
}
