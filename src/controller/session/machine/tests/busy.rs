//! Computers ImmyBot found busy: waiting, backing off, starting them later.

use super::*;

#[test]
fn all_computers_busy_waits_then_starts_them_with_a_new_attempt() {
    let busy = |age| session().attempt(1, age, &[]).busy(&[101]).build();
    let d = run(&busy(10), &approved(), &[]);
    assert_eq!((d.status.phase, d.step.clone()), (Some(Phase::Queued), Step::None));
    assert_eq!(d.requeue_after, Some(Duration::from_secs(50)));
    assert_eq!(
        d.status.start_time,
        Some(Time(at(-10))),
        "a busy answer is an answer: the timeout runs"
    );
    let summary = d.status.summary.clone().unwrap();
    assert_eq!((summary.computers, summary.waiting), (1, 1));
    assert_eq!(d.status.progress.as_deref(), Some("0/1"));
    let ready = conditions::get(&d.status.conditions, READY).unwrap();
    assert!(
        ready.message.contains("held by ImmyBot session 9101"),
        "{}",
        ready.message
    );
    match run(&busy(61), &approved(), &[]).step {
        Step::Start(a) => {
            assert_eq!(a.number, 2, "a new attempt: a new group id, never the answered one's");
            assert_eq!(a.session_group_id, SessionGroupId::for_attempt("uid-1", 2).to_string());
            assert_eq!(a.computer_ids, vec![101]);
            assert_eq!(a.purpose.as_deref(), Some("ComputersBusy"));
            assert_eq!(a.busy_round, 1, "nothing started: the next wait is longer");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn busy_retries_back_off_and_honour_suspend_approval_cancel_and_timeout() {
    // Round 2 waits 4 minutes.
    let round2 = |age| {
        session()
            .attempt(3, age, &[])
            .purpose("ComputersBusy")
            .busy(&[101])
            .status(|s| s.immybot.as_mut().unwrap().attempts[0].busy_round = 2)
            .build()
    };
    assert_eq!(run(&round2(200), &approved(), &[]).step, Step::None);
    assert!(matches!(run(&round2(241), &approved(), &[]).step, Step::Start(_)));
    // Suspended or no longer approved: no start, and the message says why.
    let mut suspended = round2(600);
    suspended.spec.suspend = true;
    let d = run(&suspended, &approved(), &[]);
    assert_eq!(d.step, Step::None);
    assert!(
        conditions::get(&d.status.conditions, READY)
            .unwrap()
            .message
            .contains("spec.suspend")
    );
    assert_eq!(run(&round2(600), &refused(), &[]).step, Step::None);
    // Cancelled while waiting: it ends, and the waiting computer never ran.
    let cancelled = session()
        .attempt(1, 100, &[7])
        .busy(&[102])
        .computers(&[101, 102])
        .cancelled("CHG-9 withdrawn")
        .build();
    let d = run(&cancelled, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_eq!(d.status.phase, Some(Phase::Cancelled));
    let summary = d.status.summary.clone().unwrap();
    assert_eq!((summary.passed, summary.not_started, summary.waiting), (1, 1, 0));
    // Timed out while waiting: the same.
    let timed_out = session()
        .attempt(1, 4000, &[7])
        .busy(&[102])
        .computers(&[101, 102])
        .timeout("1h")
        .build();
    let d = run(&timed_out, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_eq!(d.status.phase, Some(Phase::TimedOut));
    assert_eq!(d.status.summary.unwrap().not_started, 1);
}

#[test]
fn a_session_with_a_busy_computer_is_not_succeeded_until_it_ran() {
    // Computer 101 got a session and passed; 102 was busy.
    let object = session()
        .computers(&[101, 102])
        .attempt(1, 30, &[7])
        .busy(&[102])
        .build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_ne!(d.status.phase, Some(Phase::Succeeded));
    assert_eq!(d.status.phase, Some(Phase::Queued));
    assert_eq!(d.status.progress.as_deref(), Some("1/2"));
    assert_eq!(d.status.waiting_computers.len(), 1);
    // Due: computer 102 alone is started, in attempt 2; sessions go on.
    let later = session()
        .computers(&[101, 102])
        .attempt(1, 61, &[7])
        .busy(&[102])
        .build();
    match run(&later, &approved(), &[immy(7, 101, SessionStatus::Running)]) {
        Decision {
            step: Step::Start(a),
            status,
            ..
        } => {
            assert_eq!((a.number, a.computer_ids.clone(), a.busy_round), (2, vec![102], 0));
            assert_eq!(status.phase, Some(Phase::Running));
        }
        other => panic!("{other:?}"),
    }
    // Once 102 ran and passed in attempt 2, the whole session succeeded.
    let done = session()
        .computers(&[101, 102])
        .attempt(1, 200, &[7])
        .attempt(2, 100, &[8])
        .purpose("ComputersBusy")
        .build();
    let d = run(
        &done,
        &approved(),
        &[immy(7, 101, SessionStatus::Passed), immy(8, 102, SessionStatus::Passed)],
    );
    assert_eq!(d.status.phase, Some(Phase::Succeeded));
    assert_eq!(d.status.progress.as_deref(), Some("2/2"));
}

#[test]
fn busy_attempts_do_not_use_up_retries() {
    // Start, then a ComputersBusy attempt; 102 failed. limit 1: one rerun left.
    let object = session()
        .computers(&[101, 102])
        .retries(1)
        .attempt(1, 300, &[7])
        .attempt(2, 200, &[8])
        .purpose("ComputersBusy")
        .build();
    let d = run(
        &object,
        &approved(),
        &[immy(7, 101, SessionStatus::Passed), immy(8, 102, SessionStatus::Failed)],
    );
    match d.step {
        Step::Start(a) => assert_eq!((a.number, a.purpose.as_deref()), (3, Some("Rerun"))),
        other => panic!("{other:?}"),
    }
}
