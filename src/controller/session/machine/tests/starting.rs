//! Before and at the first start: approval, suspend, names, an unanswered
//! start, a spec changed before the start.

use super::*;

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
fn the_reason_is_recorded_in_status() {
    let d = run(&session().build(), &refused(), &[]);
    assert_eq!(d.status.reason.as_deref(), Some("CHG-1 monthly patching"));
}
