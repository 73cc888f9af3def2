//! The approval digest: a hash of the object it belongs to and of exactly the
//! spec fields its kind's declaration (`api::approval_coverage`) says an
//! approval covers. An approver approves a digest; any change to those
//! fields changes it and so revokes the approval.
//!
//! In every digest: the object's uid and requester (an approval approves one
//! object: an object deleted and created again under the same name and spec
//! has a new uid, so the old approval's digest no longer matches), and each
//! covered field at its spec path. Nothing here names a field: a field
//! declared covered is digested, and nothing else is.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::api::{
    KindCoverage, MaintenanceScheduleSpec, MaintenanceSessionSpec, SessionTemplateSpec, maintenance_schedule_coverage,
    session_coverage, session_template_coverage,
};

/// `sha256:<64 hex digits>` of the canonical JSON of the destructive fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApprovalDigest(String);

impl ApprovalDigest {
    /// A MaintenanceSession's digest.
    pub fn of(object_uid: &str, spec: &MaintenanceSessionSpec) -> Self {
        Self::of_kind(session_coverage(), object_uid, &spec.requested_by, spec)
    }

    /// The digest of any kind's `spec`, by its declaration.
    pub fn of_kind(coverage: &KindCoverage, object_uid: &str, requested_by: &str, spec: &impl Serialize) -> Self {
        let mut fields = covered_fields(&to_json(spec), coverage);
        fields.insert("uid".into(), object_uid.into());
        fields.insert("requestedBy".into(), requested_by.into());
        if let Some(kind) = coverage.digest_kind {
            fields.insert("kind".into(), kind.into());
        }
        Self(sha256_of(&Value::Object(fields)))
    }

    /// A digest computed elsewhere (e.g. a schedule's), for `evaluate`.
    pub fn from_string(digest: String) -> Self {
        Self(digest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApprovalDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A spec as JSON. Spec types serialise infallibly (plain data, string
/// keys), so the `Null` fallback is never taken.
fn to_json(spec: &impl Serialize) -> Value {
    serde_json::to_value(spec).unwrap_or_default()
}

/// The covered fields of `spec` (JSON), nested as in the spec: what the
/// digest hashes besides the object's identity. A field that is absent,
/// null, or equal to its declared `digest_absent_when` is left out, and so
/// is an object left empty by that.
pub fn covered_fields(spec: &Value, coverage: &KindCoverage) -> Map<String, Value> {
    let mut out = Map::new();
    'fields: for field in coverage.covered() {
        let Some(value) = field.segments().try_fold(spec, |node, seg| node.get(seg)) else {
            continue;
        };
        let absent = field
            .digest_absent_when
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
            .is_some_and(|absent| &absent == value);
        if value.is_null() || absent {
            continue;
        }
        let segments: Vec<&str> = field.segments().collect();
        let Some((last, parents)) = segments.split_last() else {
            continue;
        };
        let mut node = &mut out;
        for seg in parents {
            let child = node
                .entry((*seg).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            // Made an object just above if it was not one.
            let Value::Object(map) = child else { continue 'fields };
            node = map;
        }
        node.insert((*last).to_owned(), value.clone());
    }
    out
}

/// What a session does to computers: its covered fields. A run of a
/// MaintenanceSchedule does what its template does exactly when these agree
/// (the template's side: `covered_fields` of `sessionTemplate.spec` with
/// `api::session_template_coverage`).
pub fn effect_fields(spec: &MaintenanceSessionSpec) -> Map<String, Value> {
    covered_fields(&to_json(spec), session_coverage())
}

/// What the template's runs do to computers: the template's covered
/// fields, classified as a session's (see `digest::effect_fields`).
pub fn template_effect(template: &SessionTemplateSpec) -> serde_json::Map<String, Value> {
    covered_fields(
        &serde_json::to_value(template).unwrap_or_default(),
        session_template_coverage(),
    )
}

/// The digest a standing approval must name: every field
/// `api::maintenance_schedule_coverage` declares covered (when the runs
/// recur and what each does), and which object asked for them (uid and
/// requester, so that an approval never carries over to a new object of
/// the same name).
pub fn template_digest(schedule_uid: &str, spec: &MaintenanceScheduleSpec) -> ApprovalDigest {
    ApprovalDigest::of_kind(maintenance_schedule_coverage(), schedule_uid, &spec.requested_by, spec)
}

/// `sha256:<hex>` of any JSON value's canonical form.
pub fn sha256_of(value: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(value, &mut canonical);
    let hash = Sha256::digest(canonical.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// JSON with object keys sorted and no whitespace, whatever map order
/// serde_json was built with; nulls are dropped so that an absent optional
/// field and an explicit null digest the same.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;

    fn spec() -> MaintenanceSessionSpec {
        serde_json::from_value(serde_json::json!({
            "requestedBy": "alice", "reason": "CHG-1", "target": {"computer": {"id": 5}}
        }))
        .unwrap()
    }

    #[test]
    fn digest_is_stable_and_well_formed() {
        let d = ApprovalDigest::of("uid-1", &spec());
        assert_eq!(d, ApprovalDigest::of("uid-1", &spec()));
        assert!(d.as_str().starts_with("sha256:") && d.as_str().len() == 71, "{d}");
    }

    #[test]
    fn destructive_fields_change_it_and_controls_do_not() {
        let base = ApprovalDigest::of("uid-1", &spec());
        let mut s = spec();
        s.reboot.policy = RebootPolicy::Always;
        assert_ne!(ApprovalDigest::of("uid-1", &s), base, "reboot policy");
        let mut s = spec();
        s.target.computer = Some(ComputerRef {
            id: Some(6),
            name: None,
        });
        assert_ne!(ApprovalDigest::of("uid-1", &s), base, "target");
        let mut s = spec();
        s.mode = SessionMode::DetectionOnly;
        assert_ne!(ApprovalDigest::of("uid-1", &s), base, "mode");
        let mut s = spec();
        s.reason = "another ticket".into();
        s.suspend = true;
        s.retry.requests = 3;
        s.timeout = Some("2h".into());
        assert_eq!(
            ApprovalDigest::of("uid-1", &s),
            base,
            "controls and words do not revoke an approval"
        );
    }

    #[test]
    fn the_same_spec_on_another_object_or_requester_digests_differently() {
        let base = ApprovalDigest::of("uid-1", &spec());
        assert_ne!(ApprovalDigest::of("uid-2", &spec()), base, "a recreated object");
        let mut s = spec();
        s.requested_by = "mallory".into();
        assert_ne!(ApprovalDigest::of("uid-1", &s), base, "another requester");
    }

    #[test]
    fn a_rollouts_shape_is_approved_and_its_failure_budget_is_not() {
        let base = ApprovalDigest::of("uid-1", &spec());
        let with = |rollout: serde_json::Value| {
            let mut s = spec();
            s.rollout = Some(serde_json::from_value(rollout).unwrap());
            ApprovalDigest::of("uid-1", &s)
        };
        assert_eq!(with(serde_json::json!({})), base, "AllAtOnce is what no rollout means");
        let waves = with(serde_json::json!({"strategy": "Waves", "maxConcurrent": 10}));
        assert_ne!(waves, base);
        assert_ne!(
            with(serde_json::json!({"strategy": "Waves", "maxConcurrent": "50%"})),
            waves,
            "the wave size"
        );
        assert_ne!(
            with(serde_json::json!({"strategy": "Waves", "maxConcurrent": 10, "pilot": {"count": 2}})),
            waves,
            "the pilot"
        );
        assert_eq!(
            with(serde_json::json!({"strategy": "Waves", "maxConcurrent": 10, "maxFailures": 5})),
            waves,
            "the failure budget is a control"
        );
    }

    #[test]
    fn digests_made_before_the_declaration_still_hold() {
        // The digest as it was computed before the declaration, field by
        // field: approvals given then must match the derived digest.
        let legacy = |uid: &str, spec: &MaintenanceSessionSpec| {
            sha256_of(&serde_json::json!({
                "uid": uid, "requestedBy": spec.requested_by,
                "target": spec.target, "mode": spec.mode, "deployment": spec.deployment,
                "reboot": spec.reboot, "offline": spec.offline, "priority": spec.priority,
                "windows": (!spec.windows.is_empty()).then_some(&spec.windows),
                "rollout": spec.rollout.as_ref().filter(|r| r.is_waves()).map(|r| serde_json::json!({
                    "strategy": r.strategy, "pilot": r.pilot, "maxConcurrent": r.max_concurrent,
                })),
            }))
        };
        let specs = [
            spec(),
            serde_json::from_value(serde_json::json!({
                "requestedBy": "alice", "reason": "CHG-1", "target": {"computers": [{"id": 5}, {"name": "pc"}]},
                "mode": "DetectionOnly", "reboot": {"policy": "Prompt", "promptTimeoutMinutes": 5},
                "windows": [{"days": ["Saturday"], "start": "22:00", "duration": "4h"}],
                "rollout": {"strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": "50%", "maxFailures": 2},
            }))
            .unwrap(),
            serde_json::from_value(serde_json::json!({
                "requestedBy": "bob", "reason": "CHG-1", "target": {"tenant": {"id": 2}},
                "deployment": {"id": 9, "type": "Local"}, "rollout": {"strategy": "AllAtOnce"},
            }))
            .unwrap(),
        ];
        for s in specs {
            assert_eq!(ApprovalDigest::of("uid-9", &s).as_str(), legacy("uid-9", &s), "{s:?}");
        }
    }

    #[test]
    fn every_covered_field_changes_the_digest_and_no_other_does() {
        for coverage in all_coverages() {
            let mut example: serde_json::Value = serde_json::from_str(coverage.example_spec).unwrap();
            example["requestedBy"] = "alice".into();
            let digest = |spec: &serde_json::Value| {
                // The digest sees what the typed spec serialises to, as the
                // controller does.
                let typed = typed_json(coverage.kind, spec);
                ApprovalDigest::of_kind(coverage, "uid-1", "alice", &typed)
            };
            let base = digest(&example);
            for f in &coverage.fields {
                let Some(edit) = &f.sample_edit else { continue };
                let mut edited = example.clone();
                json_merge(&mut edited, &serde_json::from_str(edit).unwrap());
                let changed = digest(&edited) != base;
                assert_eq!(
                    changed,
                    f.class == FieldClass::Covered,
                    "{} {}: a covered field must change the digest, words must not",
                    coverage.kind,
                    f.path
                );
            }
        }
    }

    /// `spec` through its typed form and back, defaults filled in.
    fn typed_json(kind: &str, spec: &serde_json::Value) -> serde_json::Value {
        match kind {
            "MaintenanceSession" => {
                serde_json::to_value(serde_json::from_value::<MaintenanceSessionSpec>(spec.clone()).unwrap())
            }
            "ImmyBotSchedule" => {
                serde_json::to_value(serde_json::from_value::<ImmyBotScheduleSpec>(spec.clone()).unwrap())
            }
            _ => serde_json::to_value(serde_json::from_value::<MaintenanceScheduleSpec>(spec.clone()).unwrap()),
        }
        .unwrap()
    }

    fn json_merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
        match (target, patch) {
            (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        json_merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                    }
                }
            }
            (t, p) => *t = p.clone(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_nulls() {
        let mut out = String::new();
        write_canonical(&serde_json::json!({"b": 1, "a": [true, null], "c": null}), &mut out);
        assert_eq!(out, r#"{"a":[true,null],"b":1}"#);
    }
}
