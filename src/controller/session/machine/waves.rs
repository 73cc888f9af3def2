//! A rollout in waves (`spec.rollout`): plan before the first wave, then
//! between waves halt, hold or start the next one. Pure, like the rest of
//! `decide`; `session/rollout.rs` holds the plan's arithmetic.

use super::seen::Seen;
use super::{Next, Observed, Step, health_gate, plan_gate, window_gate};
use crate::api::{Attempt, MaintenanceSessionStatus, Phase, RolloutStatus, attempt_purpose};
use crate::controller::session::attempts::{new_attempt, timeout_recheck};
use crate::controller::session::rollout::{self, Halt};
use crate::controller::session::status_mapping::Mapped;

/// The first start of a rollout in waves: plan it (once), then start the
/// first wave (the pilot, if there is one).
pub(super) fn first_wave(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Next {
    let Some(plan) = st.rollout.clone() else {
        return Next::show(
            Phase::Pending,
            "PlanningRollout",
            "listing the target's computers to plan the waves",
        )
        .step(Step::PlanRollout);
    };
    start_wave(st, o, seen, &plan, &[], 1, "")
}

/// Starts the next wave of `plan` as attempt `number`.
fn start_wave(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
    plan: &RolloutStatus,
    attempts: &[Attempt],
    number: i32,
    done: &str,
) -> Next {
    let Some((purpose, ids)) = rollout::next_wave(plan, attempts) else {
        // Unreachable by construction (callers ask `next_wave` first); keep
        // rather than start anything.
        return Next::keep();
    };
    // The health gate is read last, right before the start: nothing that
    // holds the wave for other reasons needs it.
    if let Some(held) = health_gate::before_wave(st, o, seen, done) {
        return held;
    }
    let uid = &seen.uid;
    let wave = rollout::started(attempts).0 + 1;
    // `onDrift: Reapprove`: each wave is checked against the plan first.
    if let Some(check) = plan_gate::before_start(st, o, seen, wave, ids.clone()) {
        return check;
    }
    let attempt = new_attempt(uid, number, o.now, ids.clone(), purpose);
    let what = if purpose == attempt_purpose::PILOT {
        "the pilot, wave"
    } else {
        "wave"
    };
    if let Some(r) = st.rollout.as_mut() {
        r.current_wave = wave;
        r.started += ids.len() as i32;
        r.remaining = (r.computer_ids.len() as i32 - r.started).max(0);
    }
    Next::show(
        if number == 1 { Phase::Starting } else { Phase::Running },
        "StartingWave",
        format!("starting {what} {wave} of {} ({} computer(s))", plan.waves, ids.len()),
    )
    .step(Step::Start(attempt))
}

/// A wave has finished and more are to come: halt on the pilot's or the
/// budget's failures, hold for suspend, approval or the windows, or start
/// the next wave.
pub(super) fn between_waves(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
    mut plan: RolloutStatus,
    mapped: &Mapped,
    continue_halted: bool,
) -> Next {
    let spec = seen.spec;
    let halt = assess(&mut plan, seen, mapped, continue_halted);
    let done = format!(
        "wave {} of {} finished ({} passed, {} failed, {} not started)",
        plan.current_wave, plan.waves, plan.passed, plan.failed, plan.remaining
    );
    st.rollout = Some(plan.clone());
    if continue_halted {
        health_gate::resumed(st);
    }
    let hold = |phase, reason, message: String| {
        Next::show(phase, reason, message).requeue(timeout_recheck(spec, &o.object.status, o.now))
    };
    if let Some(halt) = halt {
        let name = o.object.metadata.name.as_deref().unwrap_or_default();
        let (reason, why) = halted(&halt, &plan);
        return hold(
            Phase::Halted,
            reason,
            format!(
                "{done}; halted: {why}. To continue: raise spec.rollout.maxFailures (or maxFailuresPerTenant) or run `kubectl immybot resume {name}`; to stop: `kubectl immybot cancel {name}`"
            ),
        );
    }
    if spec.suspend {
        return hold(
            Phase::Suspended,
            "SuspendedBetweenWaves",
            format!("{done}; spec.suspend is true: the next wave starts when it is false"),
        );
    }
    if !seen.approved {
        return hold(
            Phase::AwaitingApproval,
            "AwaitingApproval",
            format!("{done}; the next wave starts once the session is approved again"),
        );
    }
    if let Some(wait) = window_gate::hold(st, o) {
        return wait;
    }
    let number = seen.current().map_or(1, |a| a.number + 1);
    let plan = st.rollout.clone().unwrap_or(plan);
    start_wave(st, o, seen, &plan, &seen.attempts, number, &format!("{done}; "))
}

/// Where the plan stands after this wave; a halt unless the failures are
/// within the budget (or a person continued, accepting them).
fn assess(plan: &mut RolloutStatus, seen: &Seen<'_>, mapped: &Mapped, continue_halted: bool) -> Option<Halt> {
    let rollout_spec = seen.waves?;
    let brakes = rollout::Brakes::of(rollout_spec, plan.computer_ids.len());
    let outcomes = rollout::Outcomes::of(mapped);
    let halt = rollout::assess(plan, &seen.attempts, &outcomes, &brakes);
    if continue_halted && halt.is_some() {
        rollout::accept_failures(plan);
        return rollout::assess(plan, &seen.attempts, &outcomes, &brakes);
    }
    halt
}

/// The condition reason and the words of a halt.
fn halted(halt: &Halt, plan: &RolloutStatus) -> (&'static str, String) {
    match halt {
        Halt::PilotFailed { failed } => {
            let ids: Vec<String> = failed.iter().take(10).map(i32::to_string).collect();
            (
                "PilotFailed",
                format!("the pilot failed on {} computer(s) ({})", failed.len(), ids.join(", ")),
            )
        }
        Halt::TenantBudgetExhausted {
            tenant,
            name,
            failed,
            budget,
        } => (
            "TenantFailureBudgetExhausted",
            format!(
                "{failed} computer(s) of tenant {} failed, more than spec.rollout.maxFailuresPerTenant allows there ({budget})",
                name.clone().unwrap_or_else(|| format!("#{tenant}"))
            ),
        ),
        Halt::BudgetExhausted { failed, budget } => (
            "FailureBudgetExhausted",
            format!(
                "{failed} computer(s) failed, more than spec.rollout.maxFailures allows ({budget}{})",
                if plan.accepted_failures > 0 {
                    format!(" beyond the {} accepted", plan.accepted_failures)
                } else {
                    String::new()
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_names_its_reason_and_the_failed_computers() {
        let plan = RolloutStatus::default();
        let (reason, why) = halted(&Halt::PilotFailed { failed: vec![3, 4] }, &plan);
        assert_eq!(reason, "PilotFailed");
        assert_eq!(why, "the pilot failed on 2 computer(s) (3, 4)");
        let accepted = RolloutStatus {
            accepted_failures: 1,
            ..Default::default()
        };
        let (reason, why) = halted(&Halt::BudgetExhausted { failed: 3, budget: 1 }, &accepted);
        assert_eq!(reason, "FailureBudgetExhausted");
        assert!(why.ends_with("(1 beyond the 1 accepted)"), "{why}");
    }
}
