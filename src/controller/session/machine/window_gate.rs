//! Whether work may start in ImmyBot now (`spec.windows`), for every stage
//! that would start something: the first start, reruns, busy computers,
//! the next wave.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Next, Observed};
use crate::api::{MaintenanceSessionStatus, Phase};
use crate::controller::windows::{WindowState, parse, state_at};

/// When `spec.windows` open next if they are closed now; `Ok(None)` when
/// work may start now; the reason when they cannot be read.
pub(super) fn closed_until(o: &Observed<'_>) -> Result<Option<Timestamp>, String> {
    Ok(match state_at(&parse(&o.object.spec.windows)?, o.now) {
        WindowState::Always | WindowState::Open { .. } => None,
        WindowState::Closed { opens } => Some(opens),
    })
}

/// `None` when work may start now; otherwise the decision that waits: for
/// the next opening, or for a person to fix windows that cannot be read
/// (Stalled; nothing starts). Records `status.nextWindowOpening`.
pub(super) fn hold(st: &mut MaintenanceSessionStatus, o: &Observed<'_>) -> Option<Next> {
    st.next_window_opening = None;
    match closed_until(o) {
        Ok(None) => None,
        Ok(Some(opens)) => {
            st.next_window_opening = Some(Time(opens));
            let wait = Duration::try_from(opens.duration_since(o.now)).unwrap_or(Duration::from_secs(1));
            Some(
                Next::show(
                    Phase::WaitingForWindow,
                    "WaitingForWindow",
                    format!("outside spec.windows: nothing starts before the next window opens at {opens}"),
                )
                .requeue(Some(wait.max(Duration::from_secs(1)))),
            )
        }
        Err(why) => Some(
            Next::show(
                Phase::Pending,
                "InvalidWindows",
                format!("{why}; nothing starts until spec.windows is fixed"),
            )
            .stalled(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::observe;
    use super::*;
    use crate::api::Weekday;
    use crate::test_fixtures::*;

    fn stage(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, _: &super::super::seen::Seen<'_>) -> Option<Next> {
        hold(st, o)
    }

    #[test]
    fn no_windows_let_work_start() {
        assert_eq!(observe(&session().build(), &[], stage), None);
    }

    #[test]
    fn a_closed_window_waits_for_its_opening_and_an_unreadable_one_stalls() {
        // `now()` is a Sunday morning: a Saturday-night window is closed.
        let closed = session().window(&[Weekday::Saturday], "22:00", "4h", "UTC").build();
        let next = observe(&closed, &[], stage).unwrap();
        assert_eq!(next.shown.as_ref().map(|s| s.phase), Some(Phase::WaitingForWindow));
        assert!(next.requeue_after.is_some());
        let broken = session()
            .window(&[Weekday::Saturday], "22:00", "4h", "Mars/Olympus")
            .build();
        let next = observe(&broken, &[], stage).unwrap();
        assert!(next.shown.is_some_and(|s| s.stalled && s.reason == "InvalidWindows"));
    }
}
