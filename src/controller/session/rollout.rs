//! Rollouts in waves, pure: the plan recorded when a rollout starts (which
//! computers, in which order, how many per wave, the failure budget) and
//! the questions `decide` asks of it between waves. No clients, no clock.
//!
//! The plan is the only record of which computer belongs to which wave, and
//! it never changes once written; what has started is read from the
//! attempts (one attempt per wave, through the same crash-safe start
//! protocol as any start), so there is nothing to keep in step.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::{Attempt, NamedId, RolloutSpec, RolloutStatus, attempt_purpose};

/// Orders `candidates` (the target's computers, as found when the rollout
/// starts) pilot first, the rest by ImmyBot id, and sizes the waves.
/// Errors say what to fix in `spec.rollout`.
pub fn plan(spec: &RolloutSpec, candidates: &[NamedId]) -> Result<RolloutStatus, String> {
    let mut all: Vec<&NamedId> = candidates.iter().collect();
    all.sort_by_key(|c| c.id);
    all.dedup_by_key(|c| c.id);
    let total = all.len() as i32;
    if total == 0 {
        return Err("the target has no computers to roll out to".into());
    }
    let mut pilot: Vec<i32> = Vec::new();
    if let Some(p) = &spec.pilot {
        if let Some(count) = p.count {
            if count >= total {
                return Err(format!(
                    "spec.rollout.pilot.count is {count}, but the target has only {total} computer(s): a pilot must leave computers for the waves"
                ));
            }
            pilot = all.iter().take(count as usize).map(|c| c.id).collect();
        }
        let mut unknown = Vec::new();
        for r in p.computers.iter().flatten() {
            let found = all.iter().find(|c| match (&r.id, &r.name) {
                (Some(id), _) => c.id == *id,
                (None, Some(name)) => c.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)),
                (None, None) => false,
            });
            match found {
                Some(c) if !pilot.contains(&c.id) => pilot.push(c.id),
                Some(_) => {}
                None => unknown.push(match (&r.id, &r.name) {
                    (Some(id), _) => format!("id {id}"),
                    (None, Some(name)) => format!("{name:?}"),
                    (None, None) => "an empty reference".into(),
                }),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "spec.rollout.pilot.computers names computers that are not in the target: {}",
                unknown.join(", ")
            ));
        }
        if pilot.len() as i32 >= total {
            return Err("spec.rollout.pilot.computers names every computer of the target: a pilot must leave computers for the waves".into());
        }
    }
    let wave_size = match &spec.max_concurrent {
        Some(v) => count_of(v, total, Rounding::Up)?.max(1),
        None => return Err("strategy Waves needs spec.rollout.maxConcurrent".into()),
    };
    let failure_budget = match &spec.max_failures {
        Some(v) => count_of(v, total, Rounding::Down)?,
        None => 0,
    };
    let rest: Vec<i32> = all.iter().map(|c| c.id).filter(|id| !pilot.contains(id)).collect();
    let waves = i32::from(!pilot.is_empty()) + (rest.len() as i32 + wave_size - 1) / wave_size;
    let pilot_size = pilot.len() as i32;
    let mut computer_ids = pilot;
    computer_ids.extend(rest);
    Ok(RolloutStatus {
        computer_ids,
        pilot_size,
        wave_size,
        waves,
        remaining: total,
        failure_budget,
        budget_left: failure_budget,
        ..Default::default()
    })
}

enum Rounding {
    Up,
    Down,
}

/// A count or a percentage of `total` (admission checked the forms).
fn count_of(v: &IntOrString, total: i32, rounding: Rounding) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok((*n).max(0)),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .filter(|p| (0..=100).contains(p))
                .ok_or_else(|| format!("{s:?} is neither a count nor a percentage such as \"10%\""))?;
            let scaled = percent * i64::from(total);
            Ok(match rounding {
                Rounding::Up => (scaled + 99) / 100,
                Rounding::Down => scaled / 100,
            } as i32)
        }
    }
}

/// Whether an attempt started a wave (the pilot counts as one).
pub fn is_wave(a: &Attempt) -> bool {
    matches!(
        a.purpose.as_deref(),
        Some(attempt_purpose::PILOT) | Some(attempt_purpose::WAVE)
    )
}

/// How many waves have started, and how many computers they covered.
pub fn started(attempts: &[Attempt]) -> (i32, usize) {
    attempts
        .iter()
        .filter(|a| is_wave(a))
        .fold((0, 0), |(w, n), a| (w + 1, n + a.computer_ids.len()))
}

/// The computers the waves so far started, in plan order.
pub fn started_ids(plan: &RolloutStatus, attempts: &[Attempt]) -> Vec<i32> {
    let (_, n) = started(attempts);
    plan.computer_ids.iter().take(n).copied().collect()
}

/// The next wave: its purpose and computers; `None` once every computer has
/// started.
pub fn next_wave(plan: &RolloutStatus, attempts: &[Attempt]) -> Option<(&'static str, Vec<i32>)> {
    let (waves, n) = started(attempts);
    if n >= plan.computer_ids.len() {
        return None;
    }
    if waves == 0 && plan.pilot_size > 0 {
        let ids = plan.computer_ids[..plan.pilot_size as usize].to_vec();
        return Some((attempt_purpose::PILOT, ids));
    }
    let end = (n + plan.wave_size.max(1) as usize).min(plan.computer_ids.len());
    Some((attempt_purpose::WAVE, plan.computer_ids[n..end].to_vec()))
}

/// Why a rollout must stop before its next wave, if it must.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Halt {
    /// A pilot computer failed.
    PilotFailed { failed: Vec<i32> },
    /// More failures than the budget allows (counted from what a person
    /// accepted last).
    BudgetExhausted { failed: i32, budget: i32 },
}

/// Fills in where the rollout stands from the latest outcome of every
/// started computer (`failed_ids`: those that did not pass, `passed`), and
/// says whether it must halt before the next wave. `budget` is
/// `spec.rollout.maxFailures` now (it may be raised mid-rollout).
pub fn assess(
    plan: &mut RolloutStatus,
    attempts: &[Attempt],
    failed_ids: &[i32],
    passed: i32,
    budget: i32,
) -> Option<Halt> {
    let (waves, n) = started(attempts);
    let total = plan.computer_ids.len() as i32;
    let started: Vec<i32> = plan.computer_ids.iter().take(n).copied().collect();
    let failed: Vec<i32> = failed_ids.iter().copied().filter(|id| started.contains(id)).collect();
    plan.current_wave = waves;
    plan.started = n as i32;
    plan.remaining = total - n as i32;
    plan.passed = passed;
    plan.failed = failed.len() as i32;
    plan.failure_budget = budget;
    let over = plan.failed - plan.accepted_failures;
    plan.budget_left = (budget - over).max(0);
    if over <= 0 {
        return None;
    }
    let pilot: &[i32] = &plan.computer_ids[..(plan.pilot_size.max(0) as usize).min(plan.computer_ids.len())];
    let pilot_failed: Vec<i32> = failed.iter().copied().filter(|id| pilot.contains(id)).collect();
    if !pilot_failed.is_empty() && plan.accepted_failures == 0 {
        return Some(Halt::PilotFailed { failed: pilot_failed });
    }
    (over > budget).then_some(Halt::BudgetExhausted {
        failed: plan.failed,
        budget,
    })
}

/// `spec.rollout.maxFailures` as a count for `total` computers.
pub fn budget_of(spec: &RolloutSpec, total: usize) -> i32 {
    spec.max_failures
        .as_ref()
        .and_then(|v| count_of(v, total as i32, Rounding::Down).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
