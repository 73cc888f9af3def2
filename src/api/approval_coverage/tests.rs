use serde_json::Value;

use super::*;
use crate::api::{ImmyBotSchedule, MaintenanceSchedule, MaintenanceSession};
use kube::CustomResourceExt;

/// The `spec` schema of a CRD's only version.
fn spec_schema(
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    schema["openAPIV3Schema"]["properties"]["spec"].clone()
}

/// Every path under `node` that no declared field covers: a declared node
/// stops the walk; an undeclared one is fine only if all its properties
/// are classified.
fn unclassified(node: &Value, path: &str, declared: &[String], out: &mut Vec<String>) {
    if declared.iter().any(|d| d == path) {
        return;
    }
    match node.get("properties").and_then(Value::as_object) {
        Some(props) if !props.is_empty() => {
            for (name, child) in props {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                unclassified(child, &child_path, declared, out);
            }
        }
        _ => out.push(path.to_owned()),
    }
}

fn schema_at<'a>(spec: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(spec, |node, seg| node.get("properties")?.get(seg))
}

fn kinds() -> Vec<(&'static KindCoverage, Value)> {
    vec![
        (session_coverage(), spec_schema(MaintenanceSession::crd())),
        (immybot_schedule_coverage(), spec_schema(ImmyBotSchedule::crd())),
        (maintenance_schedule_coverage(), spec_schema(MaintenanceSchedule::crd())),
    ]
}

#[test]
fn every_spec_field_of_every_kind_is_classified_on_purpose() {
    for (coverage, schema) in kinds() {
        let declared: Vec<String> = coverage.fields.iter().map(|f| f.path.clone()).collect();
        let mut missing = Vec::new();
        unclassified(&schema, "", &declared, &mut missing);
        assert!(
            missing.is_empty(),
            "{}: spec fields {missing:?} are neither covered by the approval nor declared a control (or words, \
             identity): classify them in src/api/approval_coverage.rs",
            coverage.kind
        );
    }
}

#[test]
fn every_declared_field_exists_and_none_is_declared_twice() {
    for (coverage, schema) in kinds() {
        for f in &coverage.fields {
            assert!(
                schema_at(&schema, &f.path).is_some(),
                "{}: {} is declared but is not a spec field",
                coverage.kind,
                f.path
            );
            for other in &coverage.fields {
                assert!(
                    other.path == f.path || !other.path.starts_with(&format!("{}.", f.path)),
                    "{}: {} is declared inside {}, which is declared as a whole",
                    coverage.kind,
                    other.path,
                    f.path
                );
            }
            assert_eq!(
                coverage.fields.iter().filter(|o| o.path == f.path).count(),
                1,
                "{} declared twice",
                f.path
            );
        }
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn value_at<'a>(spec: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(spec, |node, seg| node.get(seg))
}

#[test]
fn every_requester_only_field_has_an_edit_that_changes_it_and_stays_a_valid_spec() {
    for (coverage, _) in kinds() {
        let mut example: Value = serde_json::from_str(coverage.example_spec).unwrap();
        example["requestedBy"] = "alice".into();
        for f in &coverage.fields {
            let Some(edit) = &f.sample_edit else {
                assert!(
                    !f.class.is_requester_only(),
                    "{}: requester-only {} needs a sample edit for the admission walk test",
                    coverage.kind,
                    f.path
                );
                continue;
            };
            assert!(
                f.class.is_requester_only(),
                "{}: only requester-only fields carry edits",
                f.path
            );
            let mut edited = example.clone();
            merge(&mut edited, &serde_json::from_str(edit).unwrap());
            assert_ne!(
                value_at(&edited, &f.path),
                value_at(&example, &f.path),
                "{}: the edit of {} must change it",
                coverage.kind,
                f.path
            );
            let typed = match coverage.kind {
                "MaintenanceSession" => serde_json::from_value::<crate::api::MaintenanceSessionSpec>(edited).map(drop),
                "ImmyBotSchedule" => serde_json::from_value::<crate::api::ImmyBotScheduleSpec>(edited).map(drop),
                _ => serde_json::from_value::<crate::api::MaintenanceScheduleSpec>(edited).map(drop),
            };
            assert!(
                typed.is_ok(),
                "{}: the edit of {} is not a spec: {typed:?}",
                coverage.kind,
                f.path
            );
        }
    }
}

#[test]
fn a_template_is_classified_as_the_session_it_makes() {
    let schedule = maintenance_schedule_coverage();
    for f in &session_template_coverage().fields {
        let nested = schedule
            .field(&format!("{TEMPLATE_SPEC_PATH}.{}", f.path))
            .unwrap_or_else(|| panic!("{} missing under the template", f.path));
        assert_eq!(nested.class, f.class, "{}", f.path);
        assert_eq!(session_coverage().field(&f.path).map(|s| s.class), Some(f.class));
    }
}

#[test]
fn the_docs_table_names_every_field_once() {
    let table = coverage_markdown();
    for kind in all_coverages() {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", kind.kind)))
            .unwrap();
        for f in &kind.fields {
            assert_eq!(row.matches(&format!("`{}`", f.path)).count(), 1, "{}", f.path);
        }
    }
}
