//! The state machine's decisions for a rollout in waves (`spec.rollout`):
//! plan before the first wave, then between waves halt, hold or start the
//! next one. Pure, like the rest of `decide`; `rollout.rs` holds the plan's
//! arithmetic.

use super::{Decision, Observed, Step, new_attempt, rollout, set_phase, settle, timeout_recheck, window_gate};
use crate::api::{Attempt, MaintenanceSessionStatus, Phase, attempt_purpose};

/// The first start of a rollout in waves: plan it (once), then start the
/// first wave (the pilot, if there is one).
pub(super) fn first_wave(mut st: MaintenanceSessionStatus, o: &Observed<'_>, uid: &str) -> Decision {
    let Some(plan) = st.rollout.clone() else {
        set_phase(
            &mut st,
            o,
            Phase::Pending,
            "PlanningRollout",
            "listing the target's computers to plan the waves",
        );
        return Decision {
            status: st,
            step: Step::PlanRollout,
            requeue_after: None,
        };
    };
    start_wave(st, o, &plan, &[], 1, uid)
}

/// Starts the next wave of `plan` as attempt `number`.
fn start_wave(
    mut st: MaintenanceSessionStatus,
    o: &Observed<'_>,
    plan: &crate::api::RolloutStatus,
    attempts: &[Attempt],
    number: i32,
    uid: &str,
) -> Decision {
    let Some((purpose, ids)) = rollout::next_wave(plan, attempts) else {
        // Unreachable by construction (callers ask `next_wave` first); settle
        // rather than start anything.
        return settle(st, o, None);
    };
    let wave = rollout::started(attempts).0 + 1;
    let attempt = new_attempt(uid, number, o.now, ids.clone(), purpose);
    let what = if purpose == attempt_purpose::PILOT {
        "the pilot, wave"
    } else {
        "wave"
    };
    set_phase(
        &mut st,
        o,
        if number == 1 { Phase::Starting } else { Phase::Running },
        "StartingWave",
        format!("starting {what} {wave} of {} ({} computer(s))", plan.waves, ids.len()),
    );
    if let Some(r) = st.rollout.as_mut() {
        r.current_wave = wave;
        r.started += ids.len() as i32;
        r.remaining = (r.computer_ids.len() as i32 - r.started).max(0);
    }
    Decision {
        status: st,
        step: Step::Start(attempt),
        requeue_after: None,
    }
}

/// A wave has finished and more are to come: halt on the pilot's or the
/// budget's failures, hold for suspend, approval or the windows, or start
/// the next wave.
#[allow(clippy::too_many_arguments)]
pub(super) fn between_waves(
    mut st: MaintenanceSessionStatus,
    o: &Observed<'_>,
    mut plan: crate::api::RolloutStatus,
    rollout_spec: &crate::api::RolloutSpec,
    mapped: &crate::controller::session::status_mapping::Mapped,
    current: &Attempt,
    uid: &str,
    approved: bool,
    continue_halted: bool,
) -> Decision {
    let spec = &o.object.spec;
    let attempts: Vec<Attempt> = st.immybot.as_ref().map(|r| r.attempts.clone()).unwrap_or_default();
    let budget = rollout::budget_of(rollout_spec, plan.computer_ids.len());
    let mut halt = rollout::assess(
        &mut plan,
        &attempts,
        &mapped.failed_computer_ids,
        mapped.summary.passed,
        budget,
    );
    if continue_halted && halt.is_some() {
        plan.accepted_failures = plan.failed;
        halt = rollout::assess(
            &mut plan,
            &attempts,
            &mapped.failed_computer_ids,
            mapped.summary.passed,
            budget,
        );
    }
    let done = format!(
        "wave {} of {} finished ({} passed, {} failed, {} not started)",
        plan.current_wave, plan.waves, plan.passed, plan.failed, plan.remaining
    );
    st.rollout = Some(plan.clone());
    if let Some(halt) = halt {
        let why = match halt {
            rollout::Halt::PilotFailed { failed } => format!(
                "the pilot failed on {} computer(s) {:?}",
                failed.len(),
                failed.iter().take(10).collect::<Vec<_>>()
            ),
            rollout::Halt::BudgetExhausted { failed, budget } => format!(
                "{failed} computer(s) failed, more than spec.rollout.maxFailures allows ({budget}{})",
                if plan.accepted_failures > 0 {
                    format!(" beyond the {} accepted", plan.accepted_failures)
                } else {
                    String::new()
                }
            ),
        };
        let reason = if why.starts_with("the pilot") {
            "PilotFailed"
        } else {
            "FailureBudgetExhausted"
        };
        let message = format!(
            "{done}; halted: {why}. To continue: raise spec.rollout.maxFailures or run `kubectl immybot resume {name}`; to stop: `kubectl immybot cancel {name}`",
            name = o.object.metadata.name.as_deref().unwrap_or_default()
        );
        set_phase(&mut st, o, Phase::Halted, reason, message);
        return settle(st, o, timeout_recheck(spec, &o.object.status, o.now));
    }
    if spec.suspend {
        set_phase(
            &mut st,
            o,
            Phase::Suspended,
            "SuspendedBetweenWaves",
            format!("{done}; spec.suspend is true: the next wave starts when it is false"),
        );
        return settle(st, o, timeout_recheck(spec, &o.object.status, o.now));
    }
    if !approved {
        set_phase(
            &mut st,
            o,
            Phase::AwaitingApproval,
            "AwaitingApproval",
            format!("{done}; the next wave starts once the session is approved again"),
        );
        return settle(st, o, timeout_recheck(spec, &o.object.status, o.now));
    }
    if let Some(wait) = window_gate(&mut st, o) {
        return wait;
    }
    start_wave(st, o, &plan, &attempts, current.number + 1, uid)
}
