//! Stage 5: some targeted computers have not run because ImmyBot reported
//! them busy with another session (a schedule, onboarding, a person in
//! ImmyBot). They stay counted (`summary.waiting`, progress) and are
//! started with a new attempt of their own when the backoff is due, unless
//! suspended, no longer approved or outside the windows. Cancel and timeout
//! were handled before: they end the session and the waiting computers
//! count as not started.
//!
//! Only the last attempt can hold waiting computers: a `ComputersBusy`
//! attempt targets exactly the last attempt's busy computers, and reruns of
//! failed computers happen only once nothing waits.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::seen::Seen;
use super::{Next, Observed, Step, window_gate};
use crate::api::{Attempt, MaintenanceSessionStatus, Phase, attempt_purpose};
use crate::controller::session::attempts::{age, busy_retry_after, new_attempt, timeout_recheck};
use crate::controller::session::status_mapping::Aggregate;

pub(super) fn waiting_computers(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let current = seen.current().filter(|_| !seen.waiting.is_empty())?;
    let spec = seen.spec;
    let phase = match seen.mapped.as_ref().map(|m| m.aggregate) {
        Some(Aggregate::Running) => Phase::Running,
        Some(Aggregate::Postponed) => Phase::Postponed,
        _ => Phase::Queued,
    };
    let named = holders(st, &seen.waiting);
    let due_in = busy_retry_after(current, o.busy_retry).saturating_sub(age(current, o.now));
    let may_start = due_in.is_zero() && seen.approved && !spec.suspend;
    // Windows that cannot be read were refused before the first start, and
    // changing them needs a new approval: only "closed" can hold a retry.
    let window_closed = if may_start {
        window_gate::closed_until(o).ok().flatten().map(Time)
    } else {
        None
    };
    st.next_window_opening = window_closed.clone();
    if may_start && window_closed.is_none() {
        let message = format!("starting {} computer(s) that were busy: {named}", seen.waiting.len());
        return Some(Next::show(phase, "StartingWaitingComputers", message).step(Step::Start(retry(seen, current, o))));
    }
    let why_not = if spec.suspend {
        "; spec.suspend is true, so they will not be started until it is false".to_string()
    } else if !seen.approved {
        "; they start only once the session is approved again".to_string()
    } else if let Some(opens) = &window_closed {
        format!(
            "; outside spec.windows, they start when the next window opens at {}",
            opens.0
        )
    } else {
        format!("; trying again in {}s", due_in.as_secs().max(1))
    };
    let recheck = if spec.suspend || !seen.approved {
        None
    } else if let Some(opens) = &window_closed {
        Duration::try_from(opens.0.duration_since(o.now)).ok()
    } else {
        Some(due_in.max(Duration::from_secs(1)))
    };
    let message = format!(
        "{} computer(s) have not run yet because ImmyBot reports them busy with another session: {named}{why_not}",
        seen.waiting.len()
    );
    Some(
        Next::show(phase, "ComputersBusy", message)
            .requeue(recheck.or_else(|| timeout_recheck(spec, &o.object.status, o.now))),
    )
}

/// The attempt that starts the waiting computers; a round that started
/// nothing is followed by a longer wait.
fn retry(seen: &Seen<'_>, current: &Attempt, o: &Observed<'_>) -> Attempt {
    let round = if current.session_ids.is_empty() {
        current.busy_round + 1
    } else {
        0
    };
    let mut attempt = new_attempt(
        &seen.uid,
        current.number + 1,
        o.now,
        seen.waiting.clone(),
        attempt_purpose::COMPUTERS_BUSY,
    );
    attempt.busy_round = round;
    attempt
}

/// The first few waiting computers and the sessions that hold them.
fn holders(st: &MaintenanceSessionStatus, waiting: &[i32]) -> String {
    let holders: Vec<String> = st
        .waiting_computers
        .iter()
        .take(5)
        .map(|w| match w.held_by_session_id {
            Some(h) => format!("computer {} (held by ImmyBot session {h})", w.id),
            None => format!("computer {}", w.id),
        })
        .collect();
    if holders.is_empty() {
        let ids: Vec<String> = waiting.iter().map(i32::to_string).collect();
        format!("computers {}", ids.join(", "))
    } else {
        holders.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{immy, observe};
    use super::*;
    use crate::test_fixtures::*;
    use immybot_client::SessionStatus;

    #[test]
    fn nothing_waiting_passes() {
        assert_eq!(
            observe(&session().attempt(1, 30, &[7]).build(), &[], waiting_computers),
            None
        );
    }

    #[test]
    fn busy_computers_wait_for_the_backoff_then_start_in_an_attempt_of_their_own() {
        let young = session()
            .computers(&[101, 102])
            .attempt(1, 10, &[7])
            .busy(&[102])
            .build();
        let sessions = [immy(7, 101, SessionStatus::Running)];
        let waiting = observe(&young, &sessions, waiting_computers).unwrap();
        assert_eq!(waiting.step, Step::None);
        assert_eq!(
            waiting.shown.as_ref().map(|s| (s.phase, s.reason)),
            Some((Phase::Running, "ComputersBusy"))
        );
        let due = session()
            .computers(&[101, 102])
            .attempt(1, 120, &[7])
            .busy(&[102])
            .build();
        match observe(&due, &sessions, waiting_computers).map(|n| n.step) {
            Some(Step::Start(a)) => {
                assert_eq!((a.number, a.computer_ids.clone()), (2, vec![102]));
                assert_eq!(a.purpose.as_deref(), Some(attempt_purpose::COMPUTERS_BUSY));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn suspend_holds_them_without_a_recheck() {
        let held = session()
            .computers(&[101, 102])
            .attempt(1, 120, &[7])
            .busy(&[102])
            .suspended()
            .build();
        let next = observe(&held, &[immy(7, 101, SessionStatus::Running)], waiting_computers).unwrap();
        assert_eq!(next.step, Step::None);
        assert!(next.shown.is_some_and(|s| s.message.contains("spec.suspend is true")));
    }
}
