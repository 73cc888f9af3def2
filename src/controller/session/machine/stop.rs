//! Stage 1: cancel and timeout come first: they stop whatever else would
//! happen. Sessions still running are cancelled in ImmyBot; an unanswered
//! start is looked up first (it cannot be cancelled unnamed) and never
//! started again; the object ends `Cancelled` or `TimedOut` once nothing
//! runs, its waiting computers counted as never started.

use std::time::Duration;

use super::seen::Seen;
use super::{Next, Observed, Step, unanswered};
use crate::api::{MaintenanceSessionStatus, Phase};
use crate::controller::session::attempts::timeout_passed;

pub(super) fn cancel_or_timeout(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let spec = seen.spec;
    let (final_phase, why) = match &spec.cancel {
        Some(c) => (Phase::Cancelled, format!("cancelled: {}", c.reason)),
        None if timeout_passed(spec, st, o.now) => (
            Phase::TimedOut,
            format!("spec.timeout ({}) passed", spec.timeout.clone().unwrap_or_default()),
        ),
        None => return None,
    };
    if st.phase.is_some_and(Phase::is_final) {
        // Finished already: there is nothing left to cancel.
        return Some(Next::keep());
    }
    if let Some(a) = seen.unanswered() {
        // Cannot cancel what we cannot name: find the sessions first, and
        // never start the attempt again.
        return Some(unanswered::wait_or_adopt(o, a, &why, false));
    }
    if !seen.active_ids.is_empty() && !super::observe_only::may_act(seen) {
        let phase = st.phase.unwrap_or(Phase::Running);
        return Some(Next::show(
            phase,
            "CancelAwaitingApproval",
            format!(
                "{why}; the operator did not start ImmyBot session(s) {:?} (spec.observe), so cancelling them needs an approval of this object first (kubectl immybot approve)",
                seen.active_ids
            ),
        ));
    }
    if !seen.active_ids.is_empty() {
        let phase = st.phase.unwrap_or(Phase::Running);
        // A cancel ImmyBot accepted is never asked again: the object waits
        // for ImmyBot to end those sessions.
        let to_ask: Vec<i32> = seen
            .active_ids
            .iter()
            .copied()
            .filter(|id| !st.cancel_accepted.contains(id))
            .collect();
        let accepted = seen.active_ids.len() - to_ask.len();
        let message = if to_ask.is_empty() {
            format!("{why}; ImmyBot accepted the cancel of {accepted} session(s) and has not ended them yet")
        } else {
            format!("{why}; cancelling {} ImmyBot session(s)", to_ask.len())
        };
        let next = Next::show(phase, "Cancelling", message).requeue(Some(Duration::from_secs(5)));
        return Some(if to_ask.is_empty() {
            next
        } else {
            next.step(Step::Cancel { session_ids: to_ask })
        });
    }
    if let Some(summary) = st.summary.as_mut() {
        // Computers still waiting for another session never ran.
        let never_ran = seen.waiting.len() as i32;
        summary.waiting -= never_ran.min(summary.waiting);
        summary.not_started += never_ran;
    }
    if st.phase == Some(final_phase) {
        return Some(Next::keep());
    }
    let why = if seen.waiting.is_empty() {
        why
    } else {
        format!(
            "{why}; {} computer(s) never ran (busy with other ImmyBot sessions)",
            seen.waiting.len()
        )
    };
    Some(Next::show(final_phase, final_phase.as_str(), why))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{immy, observe};
    use super::*;
    use crate::test_fixtures::*;
    use immybot_client::SessionStatus;

    #[test]
    fn without_cancel_or_timeout_the_stage_passes() {
        let object = session().attempt(1, 30, &[7]).build();
        assert_eq!(
            observe(&object, &[immy(7, 101, SessionStatus::Running)], cancel_or_timeout),
            None
        );
    }

    #[test]
    fn running_sessions_are_cancelled_and_the_phase_kept_until_they_end() {
        let object = session().attempt(1, 30, &[7]).cancelled("CHG-9 rollback").build();
        let next = observe(&object, &[immy(7, 101, SessionStatus::Running)], cancel_or_timeout).unwrap();
        assert_eq!(next.step, Step::Cancel { session_ids: vec![7] });
        assert_eq!(next.shown.map(|s| s.reason), Some("Cancelling"));
        let done = observe(&object, &[immy(7, 101, SessionStatus::Cancelled)], cancel_or_timeout).unwrap();
        assert_eq!(done.step, Step::None);
        assert_eq!(done.shown.map(|s| s.phase), Some(Phase::Cancelled));
    }

    #[test]
    fn a_cancel_immybot_accepted_is_never_asked_again() {
        let object = session()
            .attempt(1, 30, &[7, 8])
            .cancelled("CHG-9 rollback")
            .status(|s| s.cancel_accepted = vec![7])
            .build();
        let running = [
            immy(7, 101, SessionStatus::Running),
            immy(8, 102, SessionStatus::Running),
        ];
        let next = observe(&object, &running, cancel_or_timeout).unwrap();
        assert_eq!(next.step, Step::Cancel { session_ids: vec![8] });
        let both = session()
            .attempt(1, 30, &[7, 8])
            .cancelled("CHG-9 rollback")
            .status(|s| s.cancel_accepted = vec![7, 8])
            .build();
        let next = observe(&both, &running, cancel_or_timeout).unwrap();
        assert_eq!(next.step, Step::None, "waits for ImmyBot, asks nothing again");
        assert!(
            next.shown
                .is_some_and(|s| s.message.contains("accepted the cancel of 2"))
        );
    }

    #[test]
    fn an_unanswered_start_is_looked_up_and_never_restarted() {
        let object = session().attempt(1, 600, &[]).cancelled("stop").build();
        let next = observe(&object, &[], cancel_or_timeout).unwrap();
        assert_eq!(
            next.step,
            Step::Adopt {
                attempt: 1,
                restart: false
            }
        );
    }

    #[test]
    fn a_passed_timeout_ends_the_session_timed_out() {
        let object = session().attempt(1, 7200, &[7]).timeout("1h").build();
        let next = observe(&object, &[immy(7, 101, SessionStatus::Passed)], cancel_or_timeout).unwrap();
        assert_eq!(next.shown.map(|s| s.phase), Some(Phase::TimedOut));
    }
}
