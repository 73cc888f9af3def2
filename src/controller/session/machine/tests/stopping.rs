//! Cancel, timeout and suspend while sessions run.

use super::*;

#[test]
fn cancel_cancels_running_sessions_then_ends_cancelled() {
    let object = session().cancelled("wrong computer").attempt(1, 200, &[7, 8]).build();
    let d = run(
        &object,
        &approved(),
        &[
            immy(7, 101, SessionStatus::Running),
            immy(8, 102, SessionStatus::Passed),
        ],
    );
    assert_eq!(d.step, Step::Cancel { session_ids: vec![7] });
    let d = run(
        &object,
        &approved(),
        &[
            immy(7, 101, SessionStatus::Cancelled),
            immy(8, 102, SessionStatus::Passed),
        ],
    );
    assert_eq!(d.status.phase, Some(Phase::Cancelled));
    assert!(
        conditions::get(&d.status.conditions, READY)
            .unwrap()
            .message
            .contains("wrong computer")
    );
    assert_eq!(condition(&d, SUCCEEDED), Some("False"));
    // Before anything started, cancelling is immediate.
    let d = run(&session().cancelled("not needed").build(), &refused(), &[]);
    assert_eq!((d.status.phase, d.step), (Some(Phase::Cancelled), Step::None));
}

#[test]
fn cancel_with_an_unanswered_start_finds_the_sessions_first() {
    let object = session().cancelled("stop").attempt(1, 120, &[]).build();
    assert_eq!(
        run(&object, &approved(), &[]).step,
        Step::Adopt {
            attempt: 1,
            restart: false
        },
        "a cancelled session must never send its start again"
    );
}

#[test]
fn a_passed_timeout_cancels_and_ends_timed_out() {
    let object = session().timeout("2m").attempt(1, 200, &[7]).build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Running)]);
    assert_eq!(d.step, Step::Cancel { session_ids: vec![7] });
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Cancelled)]);
    assert_eq!(d.status.phase, Some(Phase::TimedOut));
    let within = session().timeout("1h").attempt(1, 200, &[7]).build();
    let d = run(&within, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_eq!(d.status.phase, Some(Phase::Succeeded));
}

#[test]
fn suspend_while_running_says_immybot_cannot_pause() {
    let object = session().suspended().attempt(1, 200, &[7]).build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Running)]);
    assert_eq!(d.status.phase, Some(Phase::Running));
    assert!(
        conditions::get(&d.status.conditions, READY)
            .unwrap()
            .message
            .contains("cannot pause")
    );
}
