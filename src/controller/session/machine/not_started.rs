//! Stage 2: nothing started yet. In order: a person's hold (suspend), the
//! approval, names to resolve, the windows, a rollout's plan and first
//! wave, else the first start.

use super::seen::Seen;
use super::{Next, Observed, Step, plan_gate, waves, window_gate};
use crate::api::pilot::{has_pilot, how_to_add_a_pilot};
use crate::api::{MaintenanceSessionStatus, Phase, attempt_purpose};
use crate::controller::blast_radius::counted_for;
use crate::controller::conditions::{self, APPROVED};
use crate::controller::session::attempts::{first_targets, needs_resolution, new_attempt};
use crate::controller::session::plan::planned;

pub(super) fn begin(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    if seen.current().is_some() {
        return None;
    }
    let spec = seen.spec;
    // Suspend is the person's explicit hold, so it shows before approval;
    // the Approved condition still says where the approval stands.
    if spec.suspend {
        return Some(Next::show(
            Phase::Suspended,
            "Suspended",
            "spec.suspend is true: nothing will start until it is false",
        ));
    }
    if let Some(refused) = pilot_required(st, o, seen) {
        return Some(refused);
    }
    if let Some(refused) = plan_required(st, o, seen) {
        return Some(refused);
    }
    if let Some(planning) = plan_gate::before_approval(st, o, seen) {
        return Some(planning);
    }
    if !seen.approved {
        let message = conditions::get(&st.conditions, APPROVED)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        // A plan the drift check made anew says so: the start was held.
        let drifted = st.plan.as_ref().is_some_and(|p| !p.drift.is_empty());
        let reason = if drifted { "PlanDrifted" } else { "AwaitingApproval" };
        let waiting =
            Next::show(Phase::AwaitingApproval, reason, message).requeue(plan_gate::wake_at_expiry(st, o, seen));
        // Before anyone approves, what the approval would let loose: names
        // resolved (read only), then the blast radius of this digest.
        if needs_resolution(spec, st) {
            return Some(waiting.step(Step::ResolveTargets));
        }
        let digest = o.digest.to_string();
        if st.blast_radius.as_ref().is_none_or(|b| b.digest != digest) {
            return Some(waiting.step(Step::MeasureBlastRadius {
                digest,
                counted_for: None,
            }));
        }
        return Some(waiting);
    }
    if needs_resolution(spec, st) {
        return Some(resolving_names());
    }
    if let Some(wait) = window_gate::hold(st, o) {
        return Some(wait);
    }
    if let Some(hold) = grown_past_the_approval(st, o, seen) {
        return Some(hold);
    }
    if seen.waves.is_some() {
        // Each wave is checked against the plan as it starts (`start_wave`).
        return Some(waves::first_wave(st, o, seen));
    }
    if let Some(check) = plan_gate::before_start(st, o, seen, 1, first_targets(spec, st)) {
        return Some(check);
    }
    let attempt = new_attempt(&seen.uid, 1, o.now, first_targets(spec, st), attempt_purpose::START);
    Some(Next::show(Phase::Starting, "Starting", "starting the maintenance in ImmyBot").step(Step::Start(attempt)))
}

/// Names are looked up in ImmyBot (read only) before anything that needs
/// the computers they stand for.
fn resolving_names() -> Next {
    Next::show(
        Phase::Pending,
        "ResolvingTargets",
        "looking up computer and tenant names in ImmyBot",
    )
    .step(Step::ResolveTargets)
}

/// The pilot rule (`api::pilot`): a tenant-wide object of more computers
/// than the namespace's threshold, without a pilot, starts nothing and
/// waits for its spec to change (approval cannot lift it).
fn pilot_required(st: &MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let limit = o.pilot_required_above?;
    let tenant = seen.spec.target.tenant.as_ref()?;
    if has_pilot(seen.spec) || seen.spec.observe.is_some() {
        return None;
    }
    let computers = match counted(st, o, seen, "the pilot rule") {
        Ok(n) => n,
        Err(counting) => return Some(*counting),
    };
    (computers > limit).then(|| {
        Next::show(
            Phase::Pending,
            "PilotRequired",
            format!(
                "tenant-wide maintenance of {computers} computers needs a pilot in this namespace (more than {limit} without one); nothing starts: {}",
                how_to_add_a_pilot(tenant.include_child_tenants)
            ),
        )
        .stalled()
    })
}

/// Plans made mandatory (`--plan-required-above`): an object of more
/// computers than that, without `spec.plan`, starts nothing and waits for
/// its requester to add one (approval cannot lift it).
fn plan_required(st: &MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let limit = o.plan_required_above?;
    if planned(seen.spec).is_some() || seen.spec.observe.is_some() {
        return None;
    }
    let computers = match counted(st, o, seen, "the plan rule") {
        Ok(n) => n,
        Err(counting) => return Some(*counting),
    };
    (computers > limit).then(|| {
        Next::show(
            Phase::Pending,
            "PlanRequired",
            format!(
                "maintenance of {computers} computers needs a plan here (more than {limit} without one); nothing starts: add `plan: {{}}` to the spec, and a detection-only session shows what would change before anyone approves"
            ),
        )
        .stalled()
    })
}

/// The blast radius of this digest, or the step that measures it first
/// (an object approved at once has none yet), for a rule that needs it.
fn counted(st: &MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>, rule: &str) -> Result<i32, Box<Next>> {
    let digest = o.digest.to_string();
    if let Some(radius) = st.blast_radius.as_ref().filter(|b| b.digest == digest) {
        return Ok(radius.computers);
    }
    if needs_resolution(seen.spec, st) {
        return Err(Box::new(resolving_names()));
    }
    Err(Box::new(
        Next::show(
            Phase::Pending,
            "CountingComputers",
            format!("counting the target's computers for {rule}"),
        )
        .step(Step::MeasureBlastRadius {
            digest,
            counted_for: None,
        }),
    ))
}

/// A tenant can grow between the approval and the start. When the approval
/// names how many computers it lets start (the blast radius its approver
/// saw), the tenant is counted once more after the approval, right before
/// the first start; more computers than approved waits for a new approval
/// (fewer, or computers gone offline, do not: offline ones are what
/// `spec.offline` says). Computer and list targets cannot grow (their
/// computers are the spec's, which the digest covers) but are still held
/// to the count: a standing approval of a schedule names the most
/// computers any run may start.
fn grown_past_the_approval(st: &MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let approval = st.approval.as_ref()?;
    let limit = approval.computers?;
    if seen.spec.target.tenant.is_none() {
        let named = first_targets(seen.spec, st).len();
        return (named > usize::try_from(limit).unwrap_or(0)).then(|| {
            Next::show(
                Phase::AwaitingApproval,
                "BlastRadiusGrew",
                format!(
                    "the target names {named} computers; the approval by {} lets {limit} start: approve this object for its own count (kubectl immybot approve)",
                    approval.approved_by
                ),
            )
        });
    }
    let digest = o.digest.to_string();
    // Which approval: its source and time (a new approval counts again).
    let this = counted_for(
        approval.source.as_deref(),
        &approval.approved_by,
        Some(approval.approved_at.0),
    );
    let counted = st
        .blast_radius
        .as_ref()
        .filter(|b| b.digest == digest && b.counted_for.as_deref() == Some(this.as_str()));
    match counted {
        None => Some(
            Next::show(
                Phase::Starting,
                "CountingComputers",
                "counting the tenant's computers again before the start",
            )
            .step(Step::MeasureBlastRadius {
                digest,
                counted_for: Some(this),
            }),
        ),
        Some(b) if b.computers > limit => Some(Next::show(
            Phase::AwaitingApproval,
            "BlastRadiusGrew",
            format!(
                "the tenant now has {} computers; the approval by {} let {limit} start: review the blast radius and approve again (kubectl immybot approve)",
                b.computers, approval.approved_by
            ),
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{observe, observe_with};
    use super::*;
    use crate::test_fixtures::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn shown(next: Option<Next>) -> Option<(Phase, &'static str)> {
        next?.shown.map(|s| (s.phase, s.reason))
    }

    #[test]
    fn something_started_passes() {
        assert_eq!(observe(&session().attempt(1, 30, &[7]).build(), &[], begin), None);
    }

    #[test]
    fn suspend_shows_before_the_approval_and_the_approval_before_anything_else() {
        let suspended = session().suspended().build();
        assert_eq!(
            shown(observe_with(&suspended, &refused(), &[], begin)),
            Some((Phase::Suspended, "Suspended"))
        );
        assert_eq!(
            shown(observe_with(&session().build(), &refused(), &[], begin)),
            Some((Phase::AwaitingApproval, "AwaitingApproval"))
        );
    }

    #[test]
    fn before_approval_the_blast_radius_of_this_digest_is_measured_once() {
        let waiting = observe_with(&session().build(), &refused(), &[], begin).unwrap();
        let Step::MeasureBlastRadius { digest, .. } = waiting.step else {
            panic!("expected a measurement, got {:?}", waiting.step);
        };
        let measured = session()
            .status(|s| {
                s.blast_radius = Some(crate::api::BlastRadius {
                    digest: digest.clone(),
                    computers: 1,
                    ..Default::default()
                })
            })
            .build();
        assert_eq!(
            observe_with(&measured, &refused(), &[], begin).map(|n| n.step),
            Some(Step::None),
            "measured for this digest: nothing more"
        );
        let mut changed = measured.clone();
        changed.spec.mode = crate::api::SessionMode::DetectionOnly;
        assert!(
            matches!(
                observe_with(&changed, &refused(), &[], begin).map(|n| n.step),
                Some(Step::MeasureBlastRadius { digest: d, .. }) if d != digest
            ),
            "another digest is measured again"
        );
    }

    #[test]
    fn a_tenant_that_grew_past_its_approval_is_counted_again_then_waits() {
        let mut tenant = session();
        tenant.0.spec.target = serde_json::from_value(serde_json::json!({"tenant": {"id": 2}})).unwrap();
        let approved_at = now() - jiff::SignedDuration::from_secs(60);
        let with = |computers: i32, counted_for: Option<&str>| {
            let mut b = SessionBuilder(tenant.0.clone());
            b = b.status(|s| {
                s.approval = Some(crate::api::ApprovalRecord {
                    digest: String::new(),
                    approved_by: "bob".into(),
                    approved_at: Time(approved_at),
                    method: "MaintenanceApproval".into(),
                    source: None,
                    comment: None,
                    computers: Some(3),
                    plan_digest: None,
                });
                s.blast_radius = Some(crate::api::BlastRadius {
                    digest: crate::controller::ApprovalDigest::of("uid-1", &tenant.0.spec).to_string(),
                    counted_for: counted_for.map(str::to_owned),
                    computers,
                    ..Default::default()
                });
            });
            b.build()
        };
        // bob's approval lets 3 computers start.
        let verdict = approved_for(Some(3), Some(approved_at));
        let observe = |obj: &crate::api::MaintenanceSession| observe_with(obj, &verdict, &[], begin);
        // What the approver saw was measured before the approval: count again.
        let before = observe(&with(3, None)).unwrap();
        assert!(
            matches!(before.step, Step::MeasureBlastRadius { .. }),
            "{:?}",
            before.step
        );
        // Counted after it: 53 computers wait for a new approval ...
        let this = format!("bob-ok ({approved_at})");
        let grown = observe(&with(53, Some(&this))).unwrap();
        assert_eq!(
            shown(Some(grown.clone())),
            Some((Phase::AwaitingApproval, "BlastRadiusGrew"))
        );
        assert_eq!(grown.step, Step::None);
        // ... 3 (or fewer) start.
        assert!(matches!(
            observe(&with(3, Some(&this))).map(|n| n.step),
            Some(Step::Start(_))
        ));
        // Another approval (bob again, later) counts again.
        assert!(matches!(
            observe(&with(3, Some("bob-ok (2026-01-01T00:00:00Z)"))).map(|n| n.step),
            Some(Step::MeasureBlastRadius { .. })
        ));
    }

    #[test]
    fn a_list_above_the_approvals_count_waits_and_one_within_it_starts() {
        let counted = |n: i32| approved_for(Some(n), None);
        let three = session().computers(&[101, 102, 103]).build();
        let held = observe_with(&three, &counted(2), &[], begin).unwrap();
        assert_eq!(
            shown(Some(held.clone())),
            Some((Phase::AwaitingApproval, "BlastRadiusGrew"))
        );
        assert_eq!(held.step, Step::None);
        // No recount for a list: its computers are the spec's.
        assert!(matches!(
            observe_with(&three, &counted(3), &[], begin).map(|n| n.step),
            Some(Step::Start(_))
        ));
    }

    #[test]
    fn a_tenant_above_the_pilot_threshold_without_a_pilot_starts_nothing() {
        use super::super::tests::observed;
        let counted = |computers: i32, pilot: bool| {
            let mut b = session().tenant(2);
            if pilot {
                b = b.waves_with_pilot();
            }
            let obj = b.build();
            let digest = crate::controller::ApprovalDigest::of("uid-1", &obj.spec).to_string();
            let mut obj = obj;
            obj.status.get_or_insert_default().blast_radius = Some(crate::api::BlastRadius {
                digest,
                computers,
                ..Default::default()
            });
            obj
        };
        let decide = |obj: &crate::api::MaintenanceSession, limit: Option<i32>| {
            let digest = crate::controller::ApprovalDigest::of("uid-1", &obj.spec);
            let verdict = approved();
            let mut o = observed(obj, &digest, &verdict, &[]);
            o.pilot_required_above = limit;
            let (mut st, seen) = super::super::seen::refresh(&o);
            begin(&mut st, &o, &seen)
        };
        let refused = decide(&counted(51, false), Some(50)).unwrap();
        assert_eq!(shown(Some(refused.clone())), Some((Phase::Pending, "PilotRequired")));
        assert_eq!(refused.step, Step::None);
        assert!(
            refused
                .shown
                .as_ref()
                .is_some_and(|s| s.stalled && s.message.contains("51 computers"))
        );
        // At the threshold, with a pilot, or without a rule: on to the start.
        for (obj, limit) in [
            (counted(50, false), Some(50)),
            (counted(51, true), Some(50)),
            (counted(51, false), None),
        ] {
            assert_ne!(
                shown(decide(&obj, limit)).map(|s| s.1),
                Some("PilotRequired"),
                "{limit:?}"
            );
        }
        // Not counted for this digest: counted first.
        let mut uncounted = counted(51, false);
        uncounted.status = None;
        assert!(matches!(
            decide(&uncounted, Some(50)).map(|n| n.step),
            Some(Step::MeasureBlastRadius { counted_for: None, .. })
        ));
    }

    #[test]
    fn names_are_resolved_before_a_start() {
        let named = session().computer_named("RECEPTION-PC").build();
        assert_eq!(observe(&named, &[], begin).map(|n| n.step), Some(Step::ResolveTargets));
    }

    #[test]
    fn an_approved_object_starts_attempt_one() {
        match observe(&session().build(), &[], begin).map(|n| n.step) {
            Some(Step::Start(a)) => assert_eq!((a.number, a.computer_ids), (1, vec![101])),
            other => panic!("{other:?}"),
        }
    }
}
