//! The approval digest: a hash of the object it belongs to and of exactly the
//! spec fields that decide what the maintenance does to computers. An
//! approver approves a digest; any change to those fields changes it and so
//! revokes the approval.
//!
//! In the digest: the object's uid and requester (an approval approves one
//! object: a MaintenanceSession deleted and created again under the same name
//! and spec has a new uid, so the old approval's digest no longer matches),
//! target, mode, deployment, reboot, offline, priority, windows, and a
//! rollout in waves (strategy, pilot, maxConcurrent).
//! Not in it: reason (words, not effect), suspend/cancel/timeout/retry/resume
//! deletionPolicy and rollout.maxFailures (controls that can only stop or
//! repeat the same thing).

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::api::MaintenanceSessionSpec;

/// `sha256:<64 hex digits>` of the canonical JSON of the destructive fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApprovalDigest(String);

impl ApprovalDigest {
    pub fn of(object_uid: &str, spec: &MaintenanceSessionSpec) -> Self {
        let mut fields = effect_fields(spec);
        fields.insert("uid".into(), object_uid.into());
        fields.insert("requestedBy".into(), spec.requested_by.clone().into());
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

/// What a session does to computers: the fields its digest covers besides
/// its uid and requester. A MaintenanceSchedule's template digest covers the
/// same fields of the run it would create, so a run and its template agree
/// exactly when these do.
pub fn effect_fields(spec: &MaintenanceSessionSpec) -> serde_json::Map<String, Value> {
    let fields = serde_json::json!({
        "target": spec.target,
        "mode": spec.mode,
        "deployment": spec.deployment,
        "reboot": spec.reboot,
        "offline": spec.offline,
        "priority": spec.priority,
        // When it may start is part of what is approved; absent when
        // empty, so objects without windows keep their digest.
        "windows": (!spec.windows.is_empty()).then_some(&spec.windows),
        // How the computers are rolled out is approved too, except the
        // failure budget (a brake: raising it continues a halted
        // rollout without a new approval). Absent for AllAtOnce, so
        // older digests hold.
        "rollout": spec.rollout.as_ref().filter(|r| r.is_waves()).map(|r| serde_json::json!({
            "strategy": r.strategy,
            "pilot": r.pilot,
            "maxConcurrent": r.max_concurrent,
        })),
    });
    match fields {
        Value::Object(map) => map,
        // `json!` of an object literal is always an object.
        _ => serde_json::Map::new(),
    }
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
    fn canonical_json_sorts_keys_and_drops_nulls() {
        let mut out = String::new();
        write_canonical(&serde_json::json!({"b": 1, "a": [true, null], "c": null}), &mut out);
        assert_eq!(out, r#"{"a":[true,null],"b":1}"#);
    }
}
