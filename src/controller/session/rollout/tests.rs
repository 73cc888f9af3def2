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
    assert_eq!(assess(&mut p, &pilot, &[], 2, 5), None);
    assert_eq!(
        assess(&mut p, &pilot, &[2], 1, 5),
        Some(Halt::PilotFailed { failed: vec![2] }),
        "a budget does not cover the pilot"
    );
    // Accepted (resume): the pilot failure no longer halts; the budget counts from it.
    p.accepted_failures = 1;
    let more = vec![
        wave(attempt_purpose::PILOT, &[1, 2]),
        wave(attempt_purpose::WAVE, &[3, 4]),
    ];
    assert_eq!(assess(&mut p, &more, &[2, 3], 2, 1), None, "one new failure, budget 1");
    assert_eq!(p.budget_left, 0);
    assert_eq!(
        assess(&mut p, &more, &[2, 3, 4], 1, 1),
        Some(Halt::BudgetExhausted { failed: 3, budget: 1 })
    );
    assert_eq!((p.current_wave, p.started, p.remaining, p.failed), (2, 4, 2, 3));
    assert_eq!(
        assess(&mut p, &more, &[2, 3, 4, 99], 1, 1),
        Some(Halt::BudgetExhausted { failed: 3, budget: 1 }),
        "failures outside the started computers are not this rollout's"
    );
}
