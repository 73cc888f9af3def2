use super::*;
use crate::api::{MaintenanceSessionSpec, session_coverage};

fn spec(json: serde_json::Value) -> Value {
    let mut base = serde_json::json!({"requestedBy": "alice", "reason": "CHG-1", "target": {"computer": {"id": 1}}});
    if let (Value::Object(b), Value::Object(extra)) = (&mut base, json) {
        b.extend(extra);
    }
    serde_json::to_value(serde_json::from_value::<MaintenanceSessionSpec>(base).unwrap()).unwrap()
}

fn defaults() -> Value {
    spec(serde_json::json!({}))
}

fn look(
    previous: &[ControlRecord],
    spec: &Value,
    stamps: &[(&str, &str)],
    generation: i64,
) -> (Vec<ControlRecord>, Vec<ControlRecord>) {
    let annotations: BTreeMap<String, String> = stamps
        .iter()
        .map(|(k, v)| (control_annotation(k), (*v).to_owned()))
        .collect();
    let defaults = defaults();
    observe_controls(
        previous,
        &ControlsSeen {
            coverage: session_coverage(),
            spec,
            defaults: &defaults,
            annotations: Some(&annotations),
            requested_by: "alice",
            generation: Some(generation),
            now: crate::test_fixtures::now(),
        },
    )
}

#[test]
fn untouched_controls_leave_no_record() {
    let (records, changed) = look(&[], &defaults(), &[], 3);
    assert!(records.is_empty() && changed.is_empty(), "{records:?}");
}

#[test]
fn a_stamped_change_names_the_stamped_user_and_is_recorded_once() {
    let suspended = spec(serde_json::json!({"suspend": true}));
    let (records, changed) = look(&[], &suspended, &[("suspend", "carol")], 2);
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (
            changed[0].field.as_str(),
            changed[0].value.as_str(),
            changed[0].by.as_str()
        ),
        ("suspend", "true", "carol")
    );
    assert_eq!(describe(&changed[0]), "spec.suspend set to true by carol");
    // Looked at again: nothing new.
    let (again, changed) = look(&records, &suspended, &[("suspend", "carol")], 2);
    assert_eq!(again, records);
    assert!(changed.is_empty());
    // dave lifts it: the record follows.
    let (after, changed) = look(&records, &defaults(), &[("suspend", "dave")], 3);
    assert_eq!(changed[0].by, "dave");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].value, "false");
}

#[test]
fn what_the_object_was_created_with_is_the_requesters_and_the_rest_unknown_without_a_stamp() {
    let created = spec(serde_json::json!({"suspend": true, "timeout": "2h"}));
    let (records, _) = look(&[], &created, &[], 1);
    assert!(records.iter().all(|r| r.by == "alice"), "{records:?}");
    let retried = spec(serde_json::json!({"suspend": true, "timeout": "2h", "retry": {"requests": 1}}));
    let (_, changed) = look(&records, &retried, &[], 2);
    assert_eq!(changed.len(), 1);
    assert_eq!((changed[0].field.as_str(), changed[0].by.as_str()), ("retry", UNKNOWN));
}

#[test]
fn a_cancel_reason_is_kept_short_and_the_covered_fields_are_not_controls() {
    let long = "x".repeat(2000);
    let cancelled = spec(serde_json::json!({"cancel": {"reason": long}, "reboot": {"policy": "Always"}}));
    let (records, _) = look(&[], &cancelled, &[("cancel", "carol")], 2);
    assert_eq!(records.len(), 1, "reboot is covered, not a control: {records:?}");
    assert!(records[0].value.chars().count() <= MAX_VALUE_CHARS + 1);
}
