//! Stage 2: nothing started yet. In order: a person's hold (suspend), the
//! approval, names to resolve, the windows, a rollout's plan and first
//! wave, else the first start.

use super::seen::Seen;
use super::{Next, Observed, Step, waves, window_gate};
use crate::api::{MaintenanceSessionStatus, Phase, attempt_purpose};
use crate::controller::conditions::{self, APPROVED};
use crate::controller::session::attempts::{first_targets, needs_resolution, new_attempt};

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
    if !seen.approved {
        let message = conditions::get(&st.conditions, APPROVED)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let waiting = Next::show(Phase::AwaitingApproval, "AwaitingApproval", message);
        // Before anyone approves, what the approval would let loose: names
        // resolved (read only), then the blast radius of this digest.
        if needs_resolution(spec, st) {
            return Some(waiting.step(Step::ResolveTargets));
        }
        let digest = o.digest.to_string();
        if st.blast_radius.as_ref().is_none_or(|b| b.digest != digest) {
            return Some(waiting.step(Step::MeasureBlastRadius { digest }));
        }
        return Some(waiting);
    }
    if needs_resolution(spec, st) {
        return Some(
            Next::show(
                Phase::Pending,
                "ResolvingTargets",
                "looking up computer and tenant names in ImmyBot",
            )
            .step(Step::ResolveTargets),
        );
    }
    if let Some(wait) = window_gate::hold(st, o) {
        return Some(wait);
    }
    if seen.waves.is_some() {
        return Some(waves::first_wave(st, o, &seen.uid));
    }
    let attempt = new_attempt(&seen.uid, 1, o.now, first_targets(spec, st), attempt_purpose::START);
    Some(Next::show(Phase::Starting, "Starting", "starting the maintenance in ImmyBot").step(Step::Start(attempt)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{observe, observe_with};
    use super::*;
    use crate::test_fixtures::*;

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
        let Step::MeasureBlastRadius { digest } = waiting.step else {
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
                Some(Step::MeasureBlastRadius { digest: d }) if d != digest
            ),
            "another digest is measured again"
        );
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
