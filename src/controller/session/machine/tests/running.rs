//! Sessions running and ending: the mirror, reruns, resume, what is final
//! and settled.

use super::*;

#[test]
fn resume_requests_are_acted_on_once_and_recorded() {
    let mut object = session().attempt(1, 100, &[7]).build();
    object.spec.resume.requests = 1;
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Postponed)]);
    assert_eq!(d.step, Step::Resume { session_ids: vec![7] });
    let record = d.status.resume.clone().unwrap();
    assert_eq!((record.requests, record.session_ids), (1, vec![7]));
    // Recorded: the same request is not acted on again.
    object.status = Some(d.status);
    let again = run(&object, &approved(), &[immy(7, 101, SessionStatus::Postponed)]);
    assert_eq!(again.step, Step::None);
    assert_eq!(again.status.phase, Some(Phase::Postponed));
}

#[test]
fn running_sessions_are_mirrored_and_start_time_is_set_once() {
    let object = session().attempt(1, 200, &[7]).build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Running)]);
    assert_eq!(d.status.phase, Some(Phase::Running));
    assert_eq!(condition(&d, RECONCILING), Some("True"));
    assert_eq!(d.status.start_time, Some(Time(at(-200))));
    assert_eq!(d.status.progress.as_deref(), Some("0/1"));
    assert_eq!(d.status.computers[0].session_status, "Running");
    assert!(d.requeue_after.is_some());
}

#[test]
fn sessions_immybot_queued_read_as_waiting_for_it_not_stuck() {
    let object = session()
        .computers(&[101, 102, 103])
        .attempt(1, 200, &[7, 8, 9])
        .build();
    let d = run(
        &object,
        &approved(),
        &[
            immy(7, 101, SessionStatus::Created),
            immy(8, 102, SessionStatus::Pending),
            immy(9, 103, SessionStatus::Pending),
        ],
    );
    assert_eq!(d.status.phase, Some(Phase::Queued));
    assert_eq!(d.status.summary.as_ref().map(|s| s.queued), Some(3));
    let ready = d.status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(
        ready.message.contains("3 sessions") && ready.message.contains("concurrent-session limit"),
        "{}",
        ready.message
    );
    // One begun, two still queued: running, and the queue is said.
    let d = run(
        &object,
        &approved(),
        &[
            immy(7, 101, SessionStatus::Running),
            immy(8, 102, SessionStatus::Pending),
            immy(9, 103, SessionStatus::Pending),
        ],
    );
    assert_eq!(d.status.phase, Some(Phase::Running));
    let ready = d.status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(ready.message.contains("2 queued in ImmyBot"), "{}", ready.message);
}

#[test]
fn queued_and_postponed() {
    let object = session().attempt(1, 200, &[7]).build();
    assert_eq!(
        run(&object, &approved(), &[immy(7, 101, SessionStatus::Pending)])
            .status
            .phase,
        Some(Phase::Queued)
    );
    assert_eq!(
        run(&object, &approved(), &[immy(7, 101, SessionStatus::Postponed)])
            .status
            .phase,
        Some(Phase::Postponed)
    );
}

#[test]
fn all_passed_succeeds_with_kstatus_conditions_and_a_completion_time() {
    let object = session().attempt(1, 200, &[7]).build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_eq!(d.status.phase, Some(Phase::Succeeded));
    assert_eq!(
        (condition(&d, READY), condition(&d, SUCCEEDED), condition(&d, STALLED)),
        (Some("True"), Some("True"), None)
    );
    assert_eq!(condition(&d, RECONCILING), None);
    assert_eq!(d.status.completion_time, Some(Time(now())));
    assert_eq!(d.requeue_after, None);
}

#[test]
fn failures_are_rerun_within_the_retry_limit_then_final() {
    let two = session().computers(&[101, 102]).retries(1);
    let object = two.attempt(1, 300, &[7, 8]).build();
    let sessions = [immy(7, 101, SessionStatus::Passed), immy(8, 102, SessionStatus::Failed)];
    match run(&object, &approved(), &sessions).step {
        Step::Start(a) => assert_eq!((a.number, a.computer_ids), (2, vec![102])),
        other => panic!("{other:?}"),
    }
    let exhausted = session()
        .computers(&[101, 102])
        .retries(1)
        .attempt(1, 300, &[7, 8])
        .attempt(2, 100, &[9])
        .build();
    let sessions = [
        immy(7, 101, SessionStatus::Passed),
        immy(8, 102, SessionStatus::Failed),
        immy(9, 102, SessionStatus::Failed),
    ];
    let d = run(&exhausted, &approved(), &sessions);
    assert_eq!(d.status.phase, Some(Phase::PartiallySucceeded));
    assert_eq!(
        (condition(&d, STALLED), condition(&d, SUCCEEDED)),
        (Some("True"), Some("False"))
    );
    let message = &conditions::get(&d.status.conditions, READY).unwrap().message;
    assert!(message.contains("PC") || message.contains("102"), "{message}");
    assert!(message.contains("spec.retry.requests"), "{message}");
    // The rerun passed: the newest session per computer decides.
    let fixed = [
        immy(7, 101, SessionStatus::Passed),
        immy(8, 102, SessionStatus::Failed),
        immy(9, 102, SessionStatus::Passed),
    ];
    assert_eq!(
        run(&exhausted, &approved(), &fixed).status.phase,
        Some(Phase::Succeeded)
    );
}

#[test]
fn a_person_can_ask_for_one_more_run_after_the_end() {
    let mut object = session().attempt(1, 300, &[7]).status(|s| {
        s.phase = Some(Phase::Failed);
        s.completion_time = Some(Time(at(-10)));
    });
    object.spec.retry.requests = 1;
    let d = run(&object.build(), &approved(), &[immy(7, 101, SessionStatus::Failed)]);
    assert!(matches!(d.step, Step::Start(ref a) if a.number == 2), "{:?}", d.step);
    assert_eq!(d.status.completion_time, None, "the session is open again");
    assert_eq!(d.status.start_time, Some(Time(at(-300))), "startTime never moves");
}

#[test]
fn retries_need_approval_and_respect_suspend() {
    let object = session().retries(2).attempt(1, 300, &[7]).build();
    let failed = [immy(7, 101, SessionStatus::Failed)];
    assert_eq!(run(&object, &refused(), &failed).status.phase, Some(Phase::Failed));
    let suspended = session().retries(2).suspended().attempt(1, 300, &[7]).build();
    assert_eq!(run(&suspended, &approved(), &failed).status.phase, Some(Phase::Failed));
}

#[test]
fn a_final_session_stays_final() {
    let object = session()
        .attempt(1, 300, &[7])
        .status(|s| s.phase = Some(Phase::Succeeded))
        .cancelled("late")
        .build();
    let d = run(&object, &approved(), &[immy(7, 101, SessionStatus::Passed)]);
    assert_eq!((d.status.phase, d.step), (Some(Phase::Succeeded), Step::None));
}

#[test]
fn durations_parse_as_the_schema_allows() {
    assert_eq!(parse_duration(Some("90m")), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration(Some("1h30m")), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration(Some("45s")), Some(Duration::from_secs(45)));
    assert_eq!(parse_duration(Some("500ms")), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration(Some("10")), None);
    assert_eq!(parse_duration(Some("0s")), None);
    assert_eq!(parse_duration(None), None);
}

#[test]
fn only_final_objects_nothing_can_reopen_are_settled() {
    let with_phase =
        |b: crate::test_fixtures::SessionBuilder, phase: Phase| b.status(|s| s.phase = Some(phase)).build();
    assert!(!is_settled(&session().build()), "never looked at");
    assert!(!is_settled(&with_phase(
        session().attempt(1, 100, &[7]),
        Phase::Running
    )));
    assert!(is_settled(&with_phase(
        session().attempt(1, 100, &[7]),
        Phase::Succeeded
    )));
    assert!(is_settled(&with_phase(session().attempt(1, 100, &[7]), Phase::Failed)));
    // A rerun left (limit) or asked for (requests) reopens a failure.
    assert!(!is_settled(&with_phase(
        session().retries(1).attempt(1, 100, &[7]),
        Phase::Failed
    )));
    let mut asked = with_phase(session().attempt(1, 100, &[7]), Phase::PartiallySucceeded);
    asked.spec.retry.requests = 1;
    assert!(!is_settled(&asked));
    // ... unless it was used, or the session was cancelled.
    let used = with_phase(
        session().retries(1).attempt(1, 200, &[7]).attempt(2, 100, &[8]),
        Phase::Failed,
    );
    assert!(is_settled(&used));
    assert!(is_settled(&with_phase(
        session().retries(1).cancelled("no").attempt(1, 100, &[7]),
        Phase::Cancelled
    )));
    // A resume asked for after the end is still acted on (recorded).
    let mut resume = with_phase(session().attempt(1, 100, &[7]), Phase::Succeeded);
    resume.spec.resume.requests = 1;
    assert!(!is_settled(&resume));
}

// Windows. The tests' "now" is Sunday 2026-03-01 10:00 UTC.
