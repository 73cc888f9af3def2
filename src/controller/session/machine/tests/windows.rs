//! Maintenance windows: nothing starts outside them.

use super::*;

#[test]
fn outside_every_window_an_approved_session_waits_and_starts_nothing() {
    let object = session().window(&[Weekday::Sunday], "22:00", "2h", "UTC").build();
    let d = run(&object, &approved(), &[]);
    assert_eq!(d.step, Step::None);
    assert_eq!(d.status.phase, Some(Phase::WaitingForWindow));
    assert_eq!(
        d.status.next_window_opening,
        Some(Time("2026-03-01T22:00:00Z".parse().unwrap()))
    );
    assert_eq!(d.requeue_after, Some(Duration::from_secs(12 * 3600)));
    assert_eq!(condition(&d, RECONCILING), None, "waiting on the clock is not work");
    assert_eq!(condition(&d, READY), Some("False"));
    // Not approved yet: the approval is what it waits for first.
    assert_eq!(
        run(&object, &refused(), &[]).status.phase,
        Some(Phase::AwaitingApproval)
    );
}

#[test]
fn inside_a_window_it_starts_and_a_window_past_midnight_counts() {
    let open = session().window(&[Weekday::Sunday], "09:00", "3h", "UTC").build();
    assert!(matches!(run(&open, &approved(), &[]).step, Step::Start(_)));
    // Saturday 22:00 Berlin (21:00 UTC) for 14 h: open until Sunday 11:00 UTC.
    let overnight = session()
        .window(&[Weekday::Saturday], "22:00", "14h", "Europe/Berlin")
        .build();
    let d = run(&overnight, &approved(), &[]);
    assert!(matches!(d.step, Step::Start(_)), "{:?}", d.status.phase);
    assert_eq!(d.status.next_window_opening, None);
}

#[test]
fn windows_that_cannot_be_read_stall_with_the_reason_and_start_nothing() {
    let object = session()
        .window(&[Weekday::Sunday], "09:00", "3h", "Mars/Olympus")
        .build();
    let d = run(&object, &approved(), &[]);
    assert_eq!(d.step, Step::None);
    assert_eq!(condition(&d, STALLED), Some("True"));
    let ready = conditions::get(&d.status.conditions, READY).unwrap();
    assert!(ready.message.contains("spec.windows[0]: timeZone"), "{}", ready.message);
}

#[test]
fn reruns_wait_for_the_next_window_too() {
    let object = session()
        .computers(&[101, 102])
        .retries(1)
        .window(&[Weekday::Monday], "01:00", "1h", "UTC")
        .attempt(1, 300, &[7, 8])
        .build();
    let sessions = [immy(7, 101, SessionStatus::Passed), immy(8, 102, SessionStatus::Failed)];
    let d = run(&object, &approved(), &sessions);
    assert_eq!(d.step, Step::None, "no rerun outside the window");
    assert_eq!(d.status.phase, Some(Phase::WaitingForWindow));
    assert_eq!(
        d.status.next_window_opening,
        Some(Time("2026-03-02T01:00:00Z".parse().unwrap()))
    );
}

#[test]
fn windows_are_part_of_what_is_approved() {
    let plain = session().build();
    let windowed = session().window(&[Weekday::Sunday], "22:00", "2h", "UTC").build();
    assert_ne!(
        ApprovalDigest::of("uid-1", &plain.spec),
        ApprovalDigest::of("uid-1", &windowed.spec)
    );
}
