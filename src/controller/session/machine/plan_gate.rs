//! Part of stage 2 (nothing started yet), for objects with `spec.plan`:
//! the plan is made before anyone can approve it (and made again when the
//! spec changed or it grew older than `maxAge`), and with `onDrift:
//! Reapprove` it is checked by a fresh detection right before the start.
//! The detection's intent goes into the decided status (the start
//! protocol's first step); the shell sends it (`plan::protocol`).

use super::seen::Seen;
use super::{Next, Observed, Step};
use crate::api::{MaintenanceSessionStatus, Phase, PlanCheck, PlanState};
use crate::controller::session::attempts::{first_targets, needs_resolution};
use crate::controller::session::plan::content::{beyond, grouped};
use crate::controller::session::plan::detection_reading::changes_of;
use crate::controller::session::plan::{
    checks_drift, current, detection_attempt, expired, expires_at, new_plan, next_detection, planned, purpose,
};

/// Before the approval: the plan of this spec, made and fresh. `None`:
/// no plan asked for, names still to resolve, or the plan is ready.
pub(super) fn before_approval(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let settings = planned(seen.spec)?;
    if needs_resolution(seen.spec, st) {
        return None;
    }
    let digest = o.digest.to_string();
    let why = match current(Some(st), &digest) {
        None => purpose::INITIAL,
        Some(plan) if plan.state == PlanState::Detecting => {
            return Some(planning(
                "detecting what this session would do (a detection-only session in ImmyBot)",
            ));
        }
        Some(plan) if expired(plan, settings, o.now) => purpose::EXPIRED,
        Some(_) => return None,
    };
    if !o.plan_detection_approved {
        let name = o.object.metadata.name.as_deref().unwrap_or_default();
        return Some(Next::show(
            Phase::AwaitingApproval,
            "AwaitingApproval",
            format!(
                "the operator makes a plan's detection wait for an approval of the spec (--plan-detection-needs-approval): someone other than the requester approves the spec first (kubectl immybot approve {name} --before-plan), then its plan"
            ),
        ));
    }
    let attempt = detection_attempt(
        &seen.uid,
        next_detection(st),
        o.now,
        first_targets(seen.spec, st),
        purpose::PLAN_ATTEMPT,
    );
    st.plan = Some(new_plan(&digest, why, attempt));
    let message = match why {
        purpose::EXPIRED => {
            "the plan is older than spec.plan.maxAge: detecting again; the new plan needs a new approval"
        }
        _ => "making the plan: a detection-only session in ImmyBot finds what this session would do",
    };
    Some(planning(message).step(Step::Detect { check: false }))
}

fn planning(message: &str) -> Next {
    Next::show(Phase::Pending, "Planning", message).step(Step::ReadDetection { check: false })
}

/// When to look again while a ready plan waits for its approval: when it
/// expires.
pub(super) fn wake_at_expiry(
    st: &MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
) -> Option<std::time::Duration> {
    let settings = planned(seen.spec)?;
    let at = expires_at(current(Some(st), o.digest.as_str())?, settings)?;
    let left = at.duration_since(o.now);
    std::time::Duration::try_from(left)
        .ok()
        .map(|d| d.max(std::time::Duration::from_secs(1)))
}

/// Right before start `wave` (1: the first start, or a rollout's wave)
/// of `computers` (empty: the tenant), approved and in a window: with
/// `onDrift: Reapprove`, detection of those computers once more; the
/// shell compares it with the approved plan and, on drift, makes the plan
/// grown by it the one to approve (which the approval then no longer
/// names). `None`: start.
pub(super) fn before_start(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
    wave: i32,
    computers: Vec<i32>,
) -> Option<Next> {
    if !checks_drift(seen.spec) {
        return None;
    }
    let plan = current(Some(st), o.digest.as_str())?;
    let number = plan.number;
    match plan.check.as_ref().filter(|c| c.plan == number && c.wave == wave) {
        Some(c) if c.state == PlanState::Ready => None,
        Some(_) => Some(checking(wave).step(Step::ReadDetection { check: true })),
        None => {
            let attempt = detection_attempt(&seen.uid, next_detection(st), o.now, computers, purpose::CHECK_ATTEMPT);
            if let Some(plan) = st.plan.as_mut() {
                plan.check = Some(PlanCheck {
                    plan: number,
                    wave,
                    state: PlanState::Detecting,
                    attempt,
                    completed_at: None,
                });
            }
            Some(checking(wave).step(Step::Detect { check: true }))
        }
    }
}

/// Once something started: what ran beyond the approved plan (per item
/// and action, on more computers than planned, or not planned at all),
/// into `status.plan.unplanned` and the `Unplanned` condition (whose
/// arrival the shell announces with an event). Under either `onDrift`.
pub(super) fn record_unplanned(st: &mut MaintenanceSessionStatus, o: &Observed<'_>) {
    if planned(&o.object.spec).is_none() || o.sessions.is_empty() {
        return;
    }
    let digest = o.digest.to_string();
    let Some(plan) = st
        .plan
        .as_mut()
        .filter(|p| p.spec_digest == digest && p.state == PlanState::Ready)
    else {
        return;
    };
    let ran = grouped(&changes_of(o.sessions));
    let found = beyond(&plan.items, &ran);
    if found.is_empty() || found == plan.unplanned {
        return;
    }
    let message = format!(
        "ran beyond the approved plan {}: {}",
        plan.digest.as_deref().unwrap_or_default(),
        crate::controller::session::plan::content::describe(&found)
    );
    plan.unplanned = found;
    crate::controller::conditions::set(
        &mut st.conditions,
        crate::controller::conditions::UNPLANNED,
        true,
        "UnplannedActions",
        message,
        o.object.metadata.generation,
        o.now,
    );
}

fn checking(wave: i32) -> Next {
    let (phase, what) = if wave <= 1 {
        (Phase::Starting, "the start".to_string())
    } else {
        (Phase::Running, format!("wave {wave}"))
    };
    Next::show(
        phase,
        "CheckingPlan",
        format!(
            "detecting once more before {what} (spec.plan.onDrift: Reapprove): what changed since the plan was approved holds it for a new approval"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::observe_with;
    use super::*;
    use crate::api::{OnDrift, PlanSpec};
    use crate::test_fixtures::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn with_plan(on_drift: OnDrift) -> SessionBuilder {
        let mut b = session();
        b.0.spec.plan = Some(PlanSpec {
            enabled: true,
            max_age: Some("1h".into()),
            on_drift,
        });
        b
    }

    fn step_of(next: Option<Next>) -> Option<Step> {
        next.map(|n| n.step)
    }

    #[test]
    fn a_plan_is_made_before_the_approval_and_read_until_it_is_ready() {
        let obj = with_plan(OnDrift::Reapprove).build();
        let mut st = obj.status.clone().unwrap_or_default();
        let seen_step = super::super::tests::run_stage(&obj, &refused(), |st2, o, seen| {
            let next = before_approval(st2, o, seen);
            st = st2.clone();
            next
        });
        assert_eq!(step_of(seen_step), Some(Step::Detect { check: false }));
        let plan = st.plan.clone().expect("the intent is in the decided status");
        assert_eq!(
            (plan.number, plan.purpose.as_str(), plan.state),
            (1, "Initial", PlanState::Detecting)
        );
        assert_ne!(
            plan.attempt.session_group_id,
            crate::controller::session::group_id::SessionGroupId::for_attempt(
                obj.metadata.uid.as_deref().unwrap_or_default(),
                1
            )
            .to_string(),
            "a plan's group id is never a maintenance attempt's"
        );
        // Recorded: read until it is ready.
        let detecting = SessionBuilder(obj.clone())
            .status(|s| s.plan = Some(plan.clone()))
            .build();
        let next = observe_with(&detecting, &refused(), &[], before_approval);
        assert_eq!(step_of(next), Some(Step::ReadDetection { check: false }));
        // Ready and fresh: nothing to do here.
        let mut ready = plan.clone();
        ready.state = PlanState::Ready;
        ready.completed_at = Some(Time(now()));
        ready.digest = Some("sha256:ab".into());
        let obj = SessionBuilder(obj).status(|s| s.plan = Some(ready.clone())).build();
        assert_eq!(observe_with(&obj, &refused(), &[], before_approval), None);
        // Older than maxAge (1h): made again, as plan 2.
        let mut old = ready;
        old.completed_at = Some(Time(now() - jiff::SignedDuration::from_hours(2)));
        let stale = SessionBuilder(obj).status(|s| s.plan = Some(old)).build();
        let mut after = None;
        let next = super::super::tests::run_stage(&stale, &refused(), |st, o, seen| {
            let n = before_approval(st, o, seen);
            after = st.plan.clone();
            n
        });
        assert_eq!(step_of(next), Some(Step::Detect { check: false }));
        let after = after.unwrap();
        assert_eq!((after.number, after.purpose.as_str()), (2, "Expired"));
    }

    #[test]
    fn another_spec_is_planned_again() {
        let obj = with_plan(OnDrift::Proceed).build();
        let mut plan = crate::controller::session::plan::new_plan(
            "sha256:another-spec",
            "Initial",
            detection_attempt("u", 1, now(), vec![], "Plan"),
        );
        plan.state = PlanState::Ready;
        plan.completed_at = Some(Time(now()));
        let obj = SessionBuilder(obj).status(|s| s.plan = Some(plan)).build();
        assert_eq!(
            step_of(observe_with(&obj, &refused(), &[], before_approval)),
            Some(Step::Detect { check: false })
        );
    }

    #[test]
    fn reapprove_checks_once_before_the_start_and_proceed_does_not() {
        let proceed = with_plan(OnDrift::Proceed).build();
        assert_eq!(
            observe_with(&proceed, &approved(), &[], |st, o, seen| before_start(
                st,
                o,
                seen,
                1,
                vec![]
            )),
            None
        );
        let obj = with_plan(OnDrift::Reapprove).build();
        let digest = crate::controller::approval::digest::ApprovalDigest::of("uid-1", &obj.spec);
        let mut plan = crate::controller::session::plan::new_plan(
            digest.as_str(),
            "Initial",
            detection_attempt("u", 1, now(), vec![], "Plan"),
        );
        plan.state = PlanState::Ready;
        plan.completed_at = Some(Time(now()));
        let obj = SessionBuilder(obj).status(|s| s.plan = Some(plan.clone())).build();
        let mut check = None;
        let next = super::super::tests::run_stage(&obj, &approved(), |st, o, seen| {
            let n = before_start(st, o, seen, 1, vec![]);
            check = st.plan.as_ref().and_then(|p| p.check.clone());
            n
        });
        assert_eq!(step_of(next), Some(Step::Detect { check: true }));
        let check = check.expect("the check's intent");
        assert_eq!((check.plan, check.wave, check.attempt.number), (1, 1, 2));
        let mut passed = check;
        passed.state = PlanState::Ready;
        plan.check = Some(passed);
        let obj = SessionBuilder(obj).status(|s| s.plan = Some(plan)).build();
        assert_eq!(
            observe_with(&obj, &approved(), &[], |st, o, seen| before_start(
                st,
                o,
                seen,
                1,
                vec![]
            )),
            None,
            "checked: start"
        );
        // Wave 2 of a rollout is checked on its own.
        assert_eq!(
            step_of(observe_with(&obj, &approved(), &[], |st, o, seen| before_start(
                st,
                o,
                seen,
                2,
                vec![7]
            ))),
            Some(Step::Detect { check: true })
        );
    }
}
