//! Rollouts in waves, pure: the plan recorded when a rollout starts (which
//! computers, in which order, how many per wave, the failure budget) and
//! the questions `decide` asks of it between waves. No clients, no clock.
//!
//! The plan is the only record of which computer belongs to which wave, and
//! it never changes once written; what has started is read from the
//! attempts (one attempt per wave, through the same crash-safe start
//! protocol as any start), so there is nothing to keep in step.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::{Attempt, NamedId, RolloutSpec, RolloutStatus, RolloutTenant, attempt_purpose};

/// Orders `candidates` (the target's computers, as found when the rollout
/// starts) pilot first, the rest by ImmyBot id, and sizes the waves.
/// Errors say what to fix in `spec.rollout`.
pub fn plan(spec: &RolloutSpec, candidates: &[NamedId]) -> Result<RolloutStatus, String> {
    let listed: Vec<Candidate> = candidates
        .iter()
        .map(|c| Candidate {
            computer: c.clone(),
            tenant: None,
        })
        .collect();
    plan_tree(spec, &listed, &[])
}

/// One computer of the target, with its tenant where the target is a
/// tenant tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub computer: NamedId,
    pub tenant: Option<i32>,
}

/// `plan` over a tenant tree: `tenants` in tree order (the parent first),
/// with their names. Computers are ordered by their tenant's place, then by
/// id, so each tenant's computers after the pilot are one run of
/// `computerIds` (`status.rollout.tenants`). Tenant by tenant, the pilot
/// takes `pilot.count` computers of every tenant and each wave covers the
/// next `tenantsAtOnce` tenants (at most `maxConcurrent` computers).
pub fn plan_tree(
    spec: &RolloutSpec,
    candidates: &[Candidate],
    tenants: &[(i32, Option<String>)],
) -> Result<RolloutStatus, String> {
    let place = |c: &Candidate| c.tenant.and_then(|t| tenants.iter().position(|(id, _)| *id == t));
    let mut all: Vec<&Candidate> = candidates.iter().collect();
    all.sort_by_key(|c| (place(c), c.computer.id));
    all.dedup_by_key(|c| c.computer.id);
    let total = all.len() as i32;
    if total == 0 {
        return Err("the target has no computers to roll out to".into());
    }
    let by_tenant = spec.tenant_by_tenant.as_ref();
    let mut pilot: Vec<i32> = Vec::new();
    if let Some(p) = &spec.pilot {
        if let Some(count) = p.count {
            if by_tenant.is_some() {
                // From every tenant: its lowest ids.
                for (t, _) in tenants {
                    let own = all.iter().filter(|c| c.tenant == Some(*t)).take(count as usize);
                    pilot.extend(own.map(|c| c.computer.id));
                }
            } else {
                pilot = all.iter().take(count as usize).map(|c| c.computer.id).collect();
            }
            if pilot.len() as i32 >= total {
                return Err(format!(
                    "spec.rollout.pilot.count is {count}, but the target has only {total} computer(s): a pilot must leave computers for the waves"
                ));
            }
        }
        let mut unknown = Vec::new();
        for r in p.computers.iter().flatten() {
            let found = all.iter().find(|c| match (&r.id, &r.name) {
                (Some(id), _) => c.computer.id == *id,
                (None, Some(name)) => c.computer.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)),
                (None, None) => false,
            });
            match found {
                Some(c) if !pilot.contains(&c.computer.id) => pilot.push(c.computer.id),
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
    let rest: Vec<&Candidate> = all
        .iter()
        .copied()
        .filter(|c| !pilot.contains(&c.computer.id))
        .collect();
    let pilot_size = pilot.len() as i32;
    let tenant_of = |id: i32| all.iter().find(|c| c.computer.id == id).and_then(|c| c.tenant);
    let tree = !tenants.is_empty();
    let shares: Vec<RolloutTenant> = if tree {
        tenants
            .iter()
            .map(|(id, name)| RolloutTenant {
                id: *id,
                name: name.clone(),
                pilot: pilot.iter().filter(|p| tenant_of(**p) == Some(*id)).count() as i32,
                computers: rest.iter().filter(|c| c.tenant == Some(*id)).count() as i32,
                ..Default::default()
            })
            .filter(|t| t.pilot + t.computers > 0)
            .collect()
    } else {
        vec![]
    };
    // Tenant by tenant: each group of tenants in waves of at most
    // `wave_size`; the ends are absolute positions in `computer_ids`.
    let mut wave_ends = Vec::new();
    if let Some(t) = by_tenant {
        let mut at = pilot_size;
        for group in shares.chunks(t.tenants_at_once.max(1) as usize) {
            let mut left: i32 = group.iter().map(|t| t.computers).sum();
            while left > 0 {
                let n = left.min(wave_size);
                at += n;
                left -= n;
                wave_ends.push(at);
            }
        }
    }
    let waves = i32::from(!pilot.is_empty())
        + if by_tenant.is_some() {
            wave_ends.len() as i32
        } else {
            (rest.len() as i32 + wave_size - 1) / wave_size
        };
    let pilot_tenants: Vec<i32> = if tree {
        pilot.iter().map(|p| tenant_of(*p).unwrap_or_default()).collect()
    } else {
        vec![]
    };
    let mut computer_ids = pilot;
    computer_ids.extend(rest.iter().map(|c| c.computer.id));
    Ok(RolloutStatus {
        computer_ids,
        pilot_size,
        wave_size,
        waves,
        remaining: total,
        failure_budget,
        budget_left: failure_budget,
        wave_ends,
        tenants: shares,
        pilot_tenants,
        ..Default::default()
    })
}

/// The tenant of the computer at `index` of `plan.computer_ids` (a tenant
/// tree's rollout).
pub fn tenant_at(plan: &RolloutStatus, index: usize) -> Option<i32> {
    let pilot = plan.pilot_size.max(0) as usize;
    if index < pilot {
        return plan.pilot_tenants.get(index).copied();
    }
    let mut at = pilot;
    for t in &plan.tenants {
        at += t.computers.max(0) as usize;
        if index < at {
            return Some(t.id);
        }
    }
    None
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
    let end = match plan.wave_ends.iter().map(|e| *e as usize).find(|e| *e > n) {
        Some(end) => end,
        None => n + plan.wave_size.max(1) as usize,
    }
    .min(plan.computer_ids.len());
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
    /// More failures in one tenant than `maxFailuresPerTenant` allows.
    TenantBudgetExhausted {
        tenant: i32,
        name: Option<String>,
        failed: i32,
        budget: i32,
    },
}

/// What a rollout's computers did, as the mirror reads it.
pub struct Outcomes<'a> {
    /// Computers whose latest session did not pass (offline ones too).
    pub failed_ids: &'a [i32],
    /// Of those, the ones ImmyBot ended `Missed` (offline).
    pub offline_ids: &'a [i32],
    pub passed: i32,
}

/// The brakes, as the spec says now (they may change mid-rollout).
#[derive(Clone, Debug)]
pub struct Brakes {
    /// `spec.rollout.maxFailures` as a count.
    pub budget: i32,
    /// `spec.rollout.maxFailuresPerTenant`, sized per tenant by `assess`.
    pub per_tenant: Option<IntOrString>,
    pub count_offline: bool,
}

/// Fills in where the rollout stands from the latest outcome of every
/// started computer, and says whether it must halt before the next wave.
/// Offline computers are a class of their own unless `count_offline`.
pub fn assess(
    plan: &mut RolloutStatus,
    attempts: &[Attempt],
    outcomes: &Outcomes<'_>,
    brakes: &Brakes,
) -> Option<Halt> {
    let (waves, n) = started(attempts);
    let total = plan.computer_ids.len() as i32;
    let started: Vec<i32> = plan.computer_ids.iter().take(n).copied().collect();
    let offline: Vec<i32> = outcomes
        .offline_ids
        .iter()
        .copied()
        .filter(|id| started.contains(id))
        .collect();
    let failed: Vec<i32> = outcomes
        .failed_ids
        .iter()
        .copied()
        .filter(|id| started.contains(id) && (brakes.count_offline || !offline.contains(id)))
        .collect();
    plan.current_wave = waves;
    plan.started = n as i32;
    plan.remaining = total - n as i32;
    plan.passed = outcomes.passed;
    plan.failed = failed.len() as i32;
    plan.offline = offline.len() as i32;
    plan.failure_budget = brakes.budget;
    let over = plan.failed - plan.accepted_failures;
    plan.budget_left = (brakes.budget - over).max(0);
    let tenant_halt = tally_tenants(plan, &failed, &offline, brakes.per_tenant.as_ref());
    let pilot: &[i32] = &plan.computer_ids[..(plan.pilot_size.max(0) as usize).min(plan.computer_ids.len())];
    let pilot_failed: Vec<i32> = failed.iter().copied().filter(|id| pilot.contains(id)).collect();
    if over > 0 && !pilot_failed.is_empty() && plan.accepted_failures == 0 {
        return Some(Halt::PilotFailed { failed: pilot_failed });
    }
    if over > brakes.budget {
        return Some(Halt::BudgetExhausted {
            failed: plan.failed,
            budget: brakes.budget,
        });
    }
    tenant_halt
}

/// Each tenant's failed and offline computers and its own budget (of its
/// computers); the first tenant over that budget (counted from what a
/// person accepted), if any.
fn tally_tenants(
    plan: &mut RolloutStatus,
    failed: &[i32],
    offline: &[i32],
    per_tenant: Option<&IntOrString>,
) -> Option<Halt> {
    if plan.tenants.is_empty() {
        return None;
    }
    let index: std::collections::HashMap<i32, usize> =
        plan.computer_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let tenant_of = |id: &i32| index.get(id).and_then(|i| tenant_at(plan, *i));
    let failed_in: Vec<Option<i32>> = failed.iter().map(tenant_of).collect();
    let offline_in: Vec<Option<i32>> = offline.iter().map(tenant_of).collect();
    let mut halt = None;
    for t in plan.tenants.iter_mut() {
        t.failed = failed_in.iter().filter(|x| **x == Some(t.id)).count() as i32;
        t.offline = offline_in.iter().filter(|x| **x == Some(t.id)).count() as i32;
        t.failure_budget = per_tenant.map(|v| count_of(v, t.pilot + t.computers, Rounding::Down).unwrap_or(0));
        if let Some(budget) = t.failure_budget
            && t.failed - t.accepted_failures > budget
            && halt.is_none()
        {
            halt = Some(Halt::TenantBudgetExhausted {
                tenant: t.id,
                name: t.name.clone(),
                failed: t.failed,
                budget,
            });
        }
    }
    halt
}

impl<'a> Outcomes<'a> {
    pub fn of(mapped: &'a crate::controller::session::status_mapping::Mapped) -> Self {
        Self {
            failed_ids: &mapped.failed_computer_ids,
            offline_ids: &mapped.offline_computer_ids,
            passed: mapped.summary.passed,
        }
    }
}

impl Brakes {
    /// The spec's brakes for a plan of `total` computers.
    pub fn of(spec: &RolloutSpec, total: usize) -> Self {
        Self {
            budget: budget_of(spec, total),
            per_tenant: spec.max_failures_per_tenant.clone(),
            count_offline: spec.count_offline_as_failures,
        }
    }
}

/// A person continued a halted rollout: the failures so far are accepted,
/// overall and per tenant.
pub fn accept_failures(plan: &mut RolloutStatus) {
    plan.accepted_failures = plan.failed;
    for t in plan.tenants.iter_mut() {
        t.accepted_failures = t.failed;
    }
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
