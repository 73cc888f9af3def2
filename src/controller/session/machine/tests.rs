//! Every transition of the state machine, on fixtures.

use std::time::Duration;

use super::*;
use crate::api::{NamedId, ResolvedTarget, Weekday};
use crate::controller::conditions::{APPROVED, READY, RECONCILING, STALLED, SUCCEEDED};
use crate::controller::session::group_id::SessionGroupId;
use crate::test_fixtures::*;
use immybot_client::{MaintenanceSession as ImmySession, SessionStatus};

pub(super) const GRACE: Duration = Duration::from_secs(90);

/// Nothing read for excerpts.
static NO_EXCERPTS: std::collections::BTreeMap<i32, Vec<String>> = std::collections::BTreeMap::new();

/// What a reconcile observes, with the fixtures' instance, clock and
/// intervals: the one place the tests build an `Observed`.
pub(super) fn observed<'a>(
    object: &'a MaintenanceSession,
    digest: &'a ApprovalDigest,
    verdict: &'a Verdict,
    sessions: &'a [ImmySession],
) -> Observed<'a> {
    Observed {
        object,
        digest,
        verdict,
        sessions,
        compliant_by_item: None,
        action_excerpts: &NO_EXCERPTS,
        logs: &[],
        now: now(),
        instance: "https://acme.immy.bot/",
        start_grace: GRACE,
        busy_retry: Duration::from_secs(60),
        pilot_required_above: None,
        plan_required_above: None,
        plan_detection_approved: true,
    }
}

fn run(object: &MaintenanceSession, verdict: &Verdict, sessions: &[ImmySession]) -> Decision {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    decide(&observed(object, &digest, verdict, sessions))
}

/// One stage alone, on `object` approved by bob, with `sessions` observed.
pub(super) fn observe(
    object: &MaintenanceSession,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    observe_with(object, &approved(), sessions, stage)
}

/// `observe` with another verdict.
pub(super) fn observe_with(
    object: &MaintenanceSession,
    verdict: &Verdict,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let o = observed(object, &digest, verdict, sessions);
    let (mut st, seen) = super::seen::refresh(&o);
    stage(&mut st, &o, &seen)
}

/// `observe_with` for a stage that also looks at the status it left.
pub(super) fn run_stage(
    object: &MaintenanceSession,
    verdict: &Verdict,
    mut stage: impl FnMut(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let o = observed(object, &digest, verdict, &[]);
    let (mut st, seen) = super::seen::refresh(&o);
    stage(&mut st, &o, &seen)
}

/// `observe`, keeping the status the stage left (`out`).
pub(super) fn observe_with_status(
    object: &MaintenanceSession,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
    out: &mut Option<MaintenanceSessionStatus>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let verdict = approved();
    let o = observed(object, &digest, &verdict, sessions);
    let (mut st, seen) = super::seen::refresh(&o);
    let next = stage(&mut st, &o, &seen);
    *out = Some(st);
    next
}

pub(super) fn immy(id: i32, computer: i32, status: SessionStatus) -> ImmySession {
    ImmySession {
        id,
        computer_id: Some(computer),
        session_status: Some(status),
        ..Default::default()
    }
}

fn condition<'a>(d: &'a Decision, t: &str) -> Option<&'a str> {
    conditions::get(&d.status.conditions, t).map(|c| c.status.as_str())
}

#[test]
fn unapproved_sessions_wait_for_approval_and_start_nothing() {
    let d = run(&session().build(), &refused(), &[]);
    assert_eq!(d.status.phase, Some(Phase::AwaitingApproval));
    assert!(
        matches!(d.step, Step::MeasureBlastRadius { .. }),
        "nothing starts; only what it would let loose is measured: {:?}",
        d.step
    );
    assert_eq!(condition(&d, APPROVED), Some("False"));
    assert_eq!(condition(&d, READY), Some("False"));
    assert_eq!(
        condition(&d, RECONCILING),
        None,
        "waiting on a person is not the controller's work"
    );
    assert_eq!(condition(&d, SUCCEEDED), Some("Unknown"));
    assert!(
        d.status
            .approval_digest
            .as_deref()
            .is_some_and(|x| x.starts_with("sha256:"))
    );
}

#[test]
fn approval_starts_attempt_one_with_a_derived_group_id() {
    let d = run(&session().build(), &approved(), &[]);
    assert_eq!(d.status.phase, Some(Phase::Starting));
    match &d.step {
        Step::Start(a) => {
            assert_eq!(a.number, 1);
            assert_eq!(a.session_group_id, SessionGroupId::for_attempt("uid-1", 1).to_string());
            assert_eq!(a.computer_ids, vec![101]);
            assert_eq!(a.intent_time, Time(now()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.status.approval.as_ref().map(|r| r.approved_by.as_str()), Some("bob"));
    assert_eq!(condition(&d, APPROVED), Some("True"));
}

#[test]
fn suspended_sessions_do_not_start() {
    let d = run(&session().suspended().build(), &approved(), &[]);
    assert_eq!((d.status.phase, d.step), (Some(Phase::Suspended), Step::None));
    // Suspended shows before approval; the condition still tells about approval.
    let d = run(&session().suspended().build(), &refused(), &[]);
    assert_eq!(d.status.phase, Some(Phase::Suspended));
    assert_eq!(condition(&d, APPROVED), Some("False"));
}

#[test]
fn a_tenant_target_starts_without_a_computer_list() {
    let d = run(&session().tenant(3).build(), &approved(), &[]);
    match d.step {
        Step::Start(a) => assert!(a.computer_ids.is_empty(), "{a:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.status.target_summary.as_deref(), Some("tenant #3"));
}

#[test]
fn names_are_resolved_before_starting() {
    let d = run(&session().computer_named("RECEPTION-PC").build(), &approved(), &[]);
    assert_eq!(d.step, Step::ResolveTargets);
    let resolved = session().computer_named("RECEPTION-PC").status(|s| {
        s.resolved_target = Some(ResolvedTarget {
            computers: vec![NamedId {
                id: 101,
                name: Some("reception-pc".into()),
            }],
            tenant: None,
        })
    });
    match run(&resolved.build(), &approved(), &[]).step {
        Step::Start(a) => assert_eq!(a.computer_ids, vec![101]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unanswered_start_waits_out_the_grace_then_adopts() {
    let young = session().attempt(1, 30, &[]).build();
    let d = run(&young, &approved(), &[]);
    assert_eq!(d.step, Step::None);
    assert_eq!(d.requeue_after, Some(GRACE - Duration::from_secs(30)));
    assert_eq!(d.status.phase, Some(Phase::Starting));

    let old = session().attempt(1, 120, &[]).build();
    let d = run(&old, &approved(), &[]);
    assert_eq!(
        d.step,
        Step::Adopt {
            attempt: 1,
            restart: true
        }
    );
    // Not approved any more, or suspended: look up, but never start again.
    assert_eq!(
        run(&old, &refused(), &[]).step,
        Step::Adopt {
            attempt: 1,
            restart: false
        }
    );
    assert!(
        conditions::get(&d.status.conditions, READY)
            .unwrap()
            .message
            .contains("sessionGroupId")
    );
}

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
fn the_reason_is_recorded_in_status() {
    let d = run(&session().build(), &refused(), &[]);
    assert_eq!(d.status.reason.as_deref(), Some("CHG-1 monthly patching"));
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
fn a_changed_spec_revokes_the_approval_before_start() {
    let object = session().status(|s| {
        s.approval = Some(crate::api::ApprovalRecord {
            digest: "sha256:old".into(),
            approved_by: "bob".into(),
            approved_at: Time(at(-60)),
            method: "MaintenanceApproval".into(),
            source: None,
            comment: None,
            computers: None,
            plan_digest: None,
        })
    });
    let refused = Verdict::NotApproved {
        reason: "DigestMismatch",
        message: "spec changed".into(),
    };
    let d = run(&object.build(), &refused, &[]);
    assert_eq!(d.status.phase, Some(Phase::AwaitingApproval));
    assert_eq!(d.status.approval, None);
    assert_eq!(
        conditions::get(&d.status.conditions, APPROVED).unwrap().reason,
        "DigestMismatch"
    );
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
