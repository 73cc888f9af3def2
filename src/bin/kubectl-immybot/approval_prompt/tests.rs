use immybot_operator::api::all_coverages;

use super::*;

fn approving(coverage: &'static KindCoverage, spec: Value, computers: Option<Vec<NamedId>>) -> String {
    render(&Approving {
        coverage,
        name: "patch",
        spec,
        digest: "sha256:00",
        approver: "bob",
        // A Friday: the Saturday window is closed.
        now: "2026-12-04T10:00:00Z".parse().unwrap(),
        computers,
        target_summary: None,
        blast_radius: None,
    })
}

/// The kind's example spec as the plugin reads it: through its type, so
/// that defaults are filled in.
fn example(coverage: &KindCoverage) -> Value {
    let mut spec: Value = serde_json::from_str(coverage.example_spec).unwrap();
    spec["requestedBy"] = "alice".into();
    match coverage.kind {
        "MaintenanceSession" => {
            serde_json::to_value(serde_json::from_value::<immybot_operator::api::MaintenanceSessionSpec>(spec).unwrap())
        }
        "ImmyBotSchedule" => {
            serde_json::to_value(serde_json::from_value::<immybot_operator::api::ImmyBotScheduleSpec>(spec).unwrap())
        }
        _ => serde_json::to_value(
            serde_json::from_value::<immybot_operator::api::MaintenanceScheduleSpec>(spec).unwrap(),
        ),
    }
    .unwrap()
}

#[test]
fn every_covered_field_the_spec_sets_is_shown_under_its_own_name() {
    for coverage in all_coverages() {
        let spec = example(coverage);
        let text = approving(coverage, spec.clone(), None);
        for f in coverage.covered() {
            if at(&spec, &f.path).is_some() {
                assert!(
                    text.lines()
                        .any(|l| l.trim_start().starts_with(&format!("{} ", f.path))),
                    "{}: {} is covered and set, but the prompt does not show it:\n{text}",
                    coverage.kind,
                    f.path
                );
            }
        }
        assert!(
            text.contains("digest") && text.contains("sha256:00") && text.contains("bob"),
            "{text}"
        );
    }
}

#[test]
fn a_covered_field_nobody_wrote_a_line_for_still_shows_as_json() {
    let coverage = immybot_operator::api::immybot_schedule_coverage();
    let mut spec = example(coverage);
    spec["emails"]["followUp"] = true.into();
    let text = approving(coverage, spec, None);
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("emails") && l.ends_with(r#"{"detection":false,"detectionWhenCompliant":false,"followUp":true,"followUpOnlyIfActionNeeded":false}"#)),
        "{text}"
    );
}

#[test]
fn windows_read_in_their_zone_and_waves_as_pilot_and_sizes() {
    let coverage = immybot_operator::api::session_coverage();
    let spec = serde_json::json!({
        "requestedBy": "alice", "reason": "CHG-1", "target": {"computers": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}, {"id": 6}]},
        "windows": [{"days": ["Saturday"], "start": "22:00", "duration": "4h", "timeZone": "Europe/Berlin"}],
        "rollout": {"strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": 2, "maxFailures": 1},
    });
    let computers: Vec<NamedId> = (1..=6).map(|id| NamedId { id, name: None }).collect();
    let text = approving(coverage, spec, Some(computers));
    assert!(
        text.contains("Sat 22:00 for 4h (Europe/Berlin); next opens 2026-12-05 22:00 CET"),
        "{text}"
    );
    assert!(
        text.contains("Waves: 6 computer(s): a pilot of 1, then 2 wave(s) of 2, then a last wave of 1"),
        "{text}"
    );
    let controls = text.split("Controls").nth(1).unwrap();
    assert!(
        controls.contains("rollout.maxFailures") && controls.contains("1: failures before the rollout halts"),
        "maxFailures is shown as the control it is:\n{text}"
    );
    assert!(
        !text.split("Controls").next().unwrap().contains("maxFailures"),
        "{text}"
    );
}

#[test]
fn an_observed_session_shows_which_session_the_approval_acts_on() {
    let spec = serde_json::json!({"requestedBy": "alice", "reason": "look", "observe": {"sessionId": 4711}});
    let out = approving(immybot_operator::api::session_coverage(), spec, None);
    assert!(out.contains("Observes ImmyBot session 4711"), "{out}");
    assert!(out.contains("observe") && out.contains("session 4711"), "{out}");
    assert!(!out.contains("Approving lets exactly this run"), "{out}");
}

#[test]
fn the_blast_radius_comes_first_when_measured_for_this_digest() {
    let spec = example(immybot_operator::api::session_coverage());
    let radius = immybot_operator::api::BlastRadius {
        digest: "sha256:00".into(),
        computers: 5000,
        first_computers: vec!["PC-1".into(), "PC-2".into()],
        tenants: vec![
            immybot_operator::api::TenantCount {
                id: 1,
                name: Some("Contoso".into()),
                computers: 4000,
            },
            immybot_operator::api::TenantCount {
                id: 2,
                name: None,
                computers: 1000,
            },
        ],
        offline: 12,
        offline_computers: vec!["PC-9".into()],
        offline_behavior: "Skip: skipped".into(),
        ..Default::default()
    };
    let out = render(&Approving {
        coverage: immybot_operator::api::session_coverage(),
        name: "patch",
        spec,
        digest: "sha256:00",
        approver: "bob",
        now: "2026-12-04T10:00:00Z".parse().unwrap(),
        computers: None,
        target_summary: None,
        blast_radius: Some(radius.clone()),
    });
    let radius_at = out.find("5000 computers in 2 tenants (12 offline)").expect(&out);
    assert!(radius_at < out.find("Approving lets").unwrap(), "{out}");
    assert!(out.contains("PC-1, PC-2 and 4998 more"), "{out}");
    assert!(out.contains("Contoso 4000, #2 1000"), "{out}");
    assert!(out.contains("PC-9 and 11 more; Skip: skipped"), "{out}");
    let stale = render(&Approving {
        coverage: immybot_operator::api::session_coverage(),
        name: "patch",
        spec: example(immybot_operator::api::session_coverage()),
        digest: "sha256:01",
        approver: "bob",
        now: "2026-12-04T10:00:00Z".parse().unwrap(),
        computers: None,
        target_summary: None,
        blast_radius: Some(radius),
    });
    assert!(stale.contains("not measured yet for this digest"), "{stale}");
}
