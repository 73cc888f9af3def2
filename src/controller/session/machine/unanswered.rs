//! Stage 3: the current attempt was sent (or may have been) and its answer
//! was never recorded. While it may still be in flight elsewhere, wait;
//! then look its sessions up by `sessionGroupId` (the start protocol), and
//! start it again only if it created nothing and a start is allowed now.

use super::seen::Seen;
use super::{Next, Observed, Step};
use crate::api::{Attempt, Phase};
use crate::controller::session::attempts::age;

pub(super) fn recover(o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let current = seen.unanswered()?;
    let restart = seen.approved && !seen.spec.suspend;
    Some(wait_or_adopt(
        o,
        current,
        "the start's answer has not been recorded",
        restart,
    ))
}

/// Waits out the grace period of `attempt`, then adopts it.
pub(super) fn wait_or_adopt(o: &Observed<'_>, attempt: &Attempt, why: &str, restart: bool) -> Next {
    let age = age(attempt, o.now);
    if age < o.start_grace {
        return Next::show(
            Phase::Starting,
            "Starting",
            format!("{why}; waiting for the start of attempt {} to complete", attempt.number),
        )
        .requeue(Some(o.start_grace - age));
    }
    Next::show(
        Phase::Starting,
        "RecoveringStart",
        format!(
            "{why}; looking up the sessions of attempt {} by sessionGroupId {}",
            attempt.number, attempt.session_group_id
        ),
    )
    .step(Step::Adopt {
        attempt: attempt.number,
        restart,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::observe;
    use super::*;
    use crate::test_fixtures::*;

    fn stage(_: &mut crate::api::MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
        recover(o, seen)
    }

    #[test]
    fn an_answered_attempt_passes() {
        assert_eq!(observe(&session().attempt(1, 30, &[7]).build(), &[], stage), None);
    }

    #[test]
    fn a_young_attempt_is_waited_for_then_adopted() {
        let young = observe(&session().attempt(1, 30, &[]).build(), &[], stage).unwrap();
        assert_eq!(young.step, Step::None);
        assert_eq!(young.requeue_after, Some(Duration::from_secs(60)));
        let old = observe(&session().attempt(1, 600, &[]).build(), &[], stage).unwrap();
        assert_eq!(
            old.step,
            Step::Adopt {
                attempt: 1,
                restart: true
            }
        );
    }

    #[test]
    fn a_suspended_object_adopts_without_restarting() {
        let next = observe(&session().attempt(1, 600, &[]).suspended().build(), &[], stage).unwrap();
        assert_eq!(
            next.step,
            Step::Adopt {
                attempt: 1,
                restart: false
            }
        );
    }
}
