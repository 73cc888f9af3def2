//! The rollout plan and the between-waves assessment.

use super::*;
use crate::api::{ComputerRef, PilotSpec, RolloutStrategy};

fn computers(ids: &[i32]) -> Vec<NamedId> {
    ids.iter()
        .map(|&id| NamedId {
            id,
            name: Some(format!("pc-{id}")),
        })
        .collect()
}

fn waves(max_concurrent: IntOrString) -> RolloutSpec {
    RolloutSpec {
        strategy: RolloutStrategy::Waves,
        max_concurrent: Some(max_concurrent),
        ..Default::default()
    }
}

/// `assess` with failures only (no offline computers).
fn check(plan: &mut RolloutStatus, attempts: &[Attempt], failed: &[i32], passed: i32, budget: i32) -> Option<Halt> {
    let outcomes = Outcomes {
        failed_ids: failed,
        offline_ids: &[],
        passed,
    };
    let brakes = Brakes {
        budget,
        per_tenant: None,
        count_offline: false,
    };
    assess(plan, attempts, &outcomes, &brakes)
}

fn wave(purpose: &str, ids: &[i32]) -> Attempt {
    let mut a =
        crate::controller::session::attempts::new_attempt("uid", 1, jiff::Timestamp::UNIX_EPOCH, ids.to_vec(), purpose);
    a.session_ids = ids.iter().map(|i| i + 1000).collect();
    a
}

#[test]
fn the_plan_orders_by_id_without_duplicates_and_sizes_waves() {
    let plan = plan(&waves(IntOrString::Int(2)), &computers(&[5, 3, 9, 3, 1])).unwrap();
    assert_eq!(plan.computer_ids, vec![1, 3, 5, 9]);
    assert_eq!((plan.pilot_size, plan.wave_size, plan.waves), (0, 2, 2));
    assert_eq!(plan.remaining, 4);
}

#[test]
fn percentages_round_up_for_waves_and_down_for_the_budget() {
    let mut spec = waves(IntOrString::String("10%".into()));
    spec.max_failures = Some(IntOrString::String("10%".into()));
    let plan = plan(&spec, &computers(&(1..=25).collect::<Vec<_>>())).unwrap();
    assert_eq!(plan.wave_size, 3, "10% of 25 is 2.5: a wave of 3");
    assert_eq!(plan.failure_budget, 2, "10% of 25 is 2.5: two failures allowed");
    assert_eq!(plan.waves, 9);
    let tiny = super::plan(&waves(IntOrString::String("1%".into())), &computers(&[1, 2])).unwrap();
    assert_eq!(tiny.wave_size, 1, "at least one computer per wave");
}

#[test]
fn a_pilot_goes_first_by_count_or_by_name() {
    let mut spec = waves(IntOrString::Int(2));
    spec.pilot = Some(PilotSpec {
        count: Some(1),
        computers: None,
    });
    let p = plan(&spec, &computers(&[7, 4, 6])).unwrap();
    assert_eq!((p.computer_ids.clone(), p.pilot_size, p.waves), (vec![4, 6, 7], 1, 2));
    spec.pilot = Some(PilotSpec {
        count: None,
        computers: Some(vec![
            ComputerRef {
                id: None,
                name: Some("PC-7".into()),
            },
            ComputerRef {
                id: Some(6),
                name: None,
            },
        ]),
    });
    let p = plan(&spec, &computers(&[7, 4, 6, 5])).unwrap();
    assert_eq!(
        p.computer_ids,
        vec![7, 6, 4, 5],
        "named pilot in the order given, then by id"
    );
    assert_eq!((p.pilot_size, p.waves), (2, 2));
}

#[test]
fn plans_that_cannot_work_say_what_to_fix() {
    let mut spec = waves(IntOrString::Int(2));
    spec.pilot = Some(PilotSpec {
        count: None,
        computers: Some(vec![ComputerRef {
            id: None,
            name: Some("ghost".into()),
        }]),
    });
    let e = plan(&spec, &computers(&[1, 2])).unwrap_err();
    assert!(e.contains("\"ghost\"") && e.contains("not in the target"), "{e}");
    spec.pilot = Some(PilotSpec {
        count: Some(2),
        computers: None,
    });
    let e = plan(&spec, &computers(&[1, 2])).unwrap_err();
    assert!(e.contains("leave computers for the waves"), "{e}");
    let e = plan(&waves(IntOrString::Int(2)), &[]).unwrap_err();
    assert!(e.contains("no computers"), "{e}");
}

#[test]
fn next_wave_walks_the_plan_once_and_never_repeats_a_computer() {
    let mut spec = waves(IntOrString::Int(3));
    spec.pilot = Some(PilotSpec {
        count: Some(2),
        computers: None,
    });
    let ids: Vec<i32> = (1..=10).collect();
    let plan = plan(&spec, &computers(&ids)).unwrap();
    let mut attempts = Vec::new();
    let mut seen = Vec::new();
    while let Some((purpose, wave_ids)) = next_wave(&plan, &attempts) {
        assert_eq!(
            purpose == attempt_purpose::PILOT,
            attempts.is_empty(),
            "only the first is the pilot"
        );
        seen.extend(wave_ids.clone());
        attempts.push(wave(purpose, &wave_ids));
        // A busy retry in between is not a wave.
        attempts.push(wave(attempt_purpose::COMPUTERS_BUSY, &[]));
    }
    assert_eq!(seen, ids, "every computer exactly once, in plan order");
    assert_eq!(started(&attempts), (plan.waves, 10));
}

#[test]
fn the_pilot_halts_on_any_failure_and_the_budget_on_too_many() {
    let mut spec = waves(IntOrString::Int(2));
    spec.pilot = Some(PilotSpec {
        count: Some(2),
        computers: None,
    });
    let mut p = plan(&spec, &computers(&[1, 2, 3, 4, 5, 6])).unwrap();
    let pilot = vec![wave(attempt_purpose::PILOT, &[1, 2])];
    assert_eq!(check(&mut p, &pilot, &[], 2, 5), None);
    assert_eq!(
        check(&mut p, &pilot, &[2], 1, 5),
        Some(Halt::PilotFailed { failed: vec![2] }),
        "a budget does not cover the pilot"
    );
    // Accepted (resume): the pilot failure no longer halts; the budget counts from it.
    p.accepted_failures = 1;
    let more = vec![
        wave(attempt_purpose::PILOT, &[1, 2]),
        wave(attempt_purpose::WAVE, &[3, 4]),
    ];
    assert_eq!(check(&mut p, &more, &[2, 3], 2, 1), None, "one new failure, budget 1");
    assert_eq!(p.budget_left, 0);
    assert_eq!(
        check(&mut p, &more, &[2, 3, 4], 1, 1),
        Some(Halt::BudgetExhausted { failed: 3, budget: 1 })
    );
    assert_eq!((p.current_wave, p.started, p.remaining, p.failed), (2, 4, 2, 3));
    assert_eq!(
        check(&mut p, &more, &[2, 3, 4, 99], 1, 1),
        Some(Halt::BudgetExhausted { failed: 3, budget: 1 }),
        "failures outside the started computers are not this rollout's"
    );
}

/// Tenants 1 (parent, computers 10..12), 2 (20..23) and 3 (30).
fn tree() -> (Vec<Candidate>, Vec<(i32, Option<String>)>) {
    let mut out = Vec::new();
    for (tenant, ids) in [(2, vec![23, 21, 22, 20]), (1, vec![12, 11, 10]), (3, vec![30])] {
        for id in ids {
            out.push(Candidate {
                computer: NamedId {
                    id,
                    name: Some(format!("pc-{id}")),
                },
                tenant: Some(tenant),
            });
        }
    }
    let tenants = vec![(1, Some("MSP".into())), (2, Some("A".into())), (3, Some("B".into()))];
    (out, tenants)
}

#[test]
fn a_tenant_tree_lists_every_computer_once_with_its_tenant() {
    let (candidates, tenants) = tree();
    let mut doubled = candidates.clone();
    doubled.push(candidates[0].clone());
    let p = plan_tree(&waves(IntOrString::Int(3)), &doubled, &tenants).unwrap();
    assert_eq!(
        p.computer_ids,
        vec![10, 11, 12, 20, 21, 22, 23, 30],
        "parent first, each once"
    );
    assert_eq!(p.waves, 3);
    let shares: Vec<(i32, i32)> = p.tenants.iter().map(|t| (t.id, t.computers)).collect();
    assert_eq!(shares, vec![(1, 3), (2, 4), (3, 1)]);
    let of: Vec<Option<i32>> = (0..p.computer_ids.len()).map(|i| tenant_at(&p, i)).collect();
    assert_eq!(
        of,
        vec![Some(1), Some(1), Some(1), Some(2), Some(2), Some(2), Some(2), Some(3)]
    );
}

#[test]
fn tenant_by_tenant_pilots_every_tenant_then_goes_one_tenant_at_a_time() {
    let (candidates, tenants) = tree();
    let mut spec = waves(IntOrString::Int(2));
    spec.pilot = Some(PilotSpec {
        count: Some(1),
        computers: None,
    });
    spec.tenant_by_tenant = Some(crate::api::TenantByTenant { tenants_at_once: 1 });
    let p = plan_tree(&spec, &candidates, &tenants).unwrap();
    assert_eq!(p.computer_ids, vec![10, 20, 30, 11, 12, 21, 22, 23]);
    assert_eq!((p.pilot_size, p.pilot_tenants.clone()), (3, vec![1, 2, 3]));
    // MSP's 2, then A's 3 in waves of at most 2; B has none left.
    assert_eq!(p.wave_ends, vec![5, 7, 8]);
    assert_eq!(p.waves, 4);
    let mut attempts = vec![];
    let mut seen = vec![];
    while let Some((_, ids)) = next_wave(&p, &attempts) {
        seen.push(ids.clone());
        attempts.push(wave(attempt_purpose::WAVE, &ids));
        if attempts.len() == 1 {
            attempts[0].purpose = Some(attempt_purpose::PILOT.into());
        }
    }
    assert_eq!(seen, vec![vec![10, 20, 30], vec![11, 12], vec![21, 22], vec![23]]);
    // Two tenants at once: MSP and A together, then B.
    spec.tenant_by_tenant = Some(crate::api::TenantByTenant { tenants_at_once: 2 });
    spec.max_concurrent = Some(IntOrString::Int(10));
    assert_eq!(plan_tree(&spec, &candidates, &tenants).unwrap().wave_ends, vec![8]);
}

#[test]
fn a_tenant_over_its_own_budget_halts_and_offline_computers_are_a_class_of_their_own() {
    let (candidates, tenants) = tree();
    let mut spec = waves(IntOrString::Int(8));
    spec.max_failures_per_tenant = Some(IntOrString::Int(0));
    let mut p = plan_tree(&spec, &candidates, &tenants).unwrap();
    let all = vec![wave(attempt_purpose::WAVE, &[10, 11, 12, 20, 21, 22, 23, 30])];
    let mut brakes = Brakes::of(&spec, p.computer_ids.len());
    brakes.budget = 100;
    // 11 offline: not a failure, the rollout goes on.
    let offline = Outcomes {
        failed_ids: &[11],
        offline_ids: &[11],
        passed: 7,
    };
    assert_eq!(assess(&mut p, &all, &offline, &brakes), None);
    assert_eq!((p.failed, p.offline, p.tenants[0].offline), (0, 1, 1));
    // ... unless offline counts.
    let counting = Brakes {
        count_offline: true,
        ..brakes.clone()
    };
    assert!(matches!(
        assess(&mut p, &all, &offline, &counting),
        Some(Halt::TenantBudgetExhausted { tenant: 1, .. })
    ));
    let brakes = Brakes {
        count_offline: false,
        ..counting
    };
    // 21 failed: tenant A (budget 0) halts, though the overall budget holds.
    let failed = Outcomes {
        failed_ids: &[11, 21],
        offline_ids: &[11],
        passed: 6,
    };
    assert_eq!(
        assess(&mut p, &all, &failed, &brakes),
        Some(Halt::TenantBudgetExhausted {
            tenant: 2,
            name: Some("A".into()),
            failed: 1,
            budget: 0
        })
    );
    // A person continues: accepted, per tenant too.
    accept_failures(&mut p);
    assert_eq!(assess(&mut p, &all, &failed, &brakes), None);
}
