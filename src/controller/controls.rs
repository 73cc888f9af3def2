//! Who used a control: the controller's half of the audit (the API
//! server's half, the stamp, is `api::control_audit`). Pure.
//!
//! Each reconcile compares every control of the object (the fields its
//! kind's declaration calls controls) with what `status.controls` last
//! recorded, or with the kind's default where nothing was recorded. A
//! changed control gets a new record naming who changed it:
//! - the user the API server stamped on that change (annotation
//!   `controls.immybot.io/<field>`, written in the same update);
//! - the requester, for a value the object was created with (generation 1:
//!   admission made the creator the requester);
//! - `unknown` otherwise (the stamping policies are not installed).
//!
//! Two changes of one control between two reconciles are recorded as one,
//! naming whoever made the later.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::clock::stored_time;
use crate::api::{ControlRecord, KindCoverage, control_annotation};

/// What the controller knows when it looks at an object's controls.
pub struct ControlsSeen<'a> {
    pub coverage: &'a KindCoverage,
    /// The spec as JSON.
    pub spec: &'a Value,
    /// The kind's spec with every control at its default, as JSON.
    pub defaults: &'a Value,
    pub annotations: Option<&'a BTreeMap<String, String>>,
    pub requested_by: &'a str,
    pub generation: Option<i64>,
    pub now: Timestamp,
}

/// A recorded value is cut to this many characters (a cancel reason can
/// be 1,024).
const MAX_VALUE_CHARS: usize = 256;

/// Who stands behind a value nobody stamped.
pub const UNKNOWN: &str = "unknown";

/// The records after this look (one per control that ever left its
/// default, in declaration order), and those that changed now.
pub fn observe_controls(
    previous: &[ControlRecord],
    seen: &ControlsSeen<'_>,
) -> (Vec<ControlRecord>, Vec<ControlRecord>) {
    let mut records = Vec::new();
    let mut changed = Vec::new();
    for control in seen.coverage.controls() {
        let value = compact(at(seen.spec, &control.path));
        let recorded = previous.iter().find(|r| r.field == control.path);
        let before = match recorded {
            Some(r) => r.value.clone(),
            None => compact(at(seen.defaults, &control.path)),
        };
        if value == before {
            records.extend(recorded.cloned());
            continue;
        }
        let stamp = seen.annotations.and_then(|a| a.get(&control_annotation(&control.path)));
        let by = match stamp {
            Some(user) => user.clone(),
            None if seen.generation == Some(1) => seen.requested_by.to_owned(),
            None => UNKNOWN.to_owned(),
        };
        let record = ControlRecord {
            field: control.path.clone(),
            value,
            by,
            at: stored_time(seen.now),
        };
        changed.push(record.clone());
        records.push(record);
    }
    (records, changed)
}

fn at<'a>(spec: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(spec, |node, seg| node.get(seg))
}

/// Compact JSON, absent as `null`, cut to `MAX_VALUE_CHARS`.
fn compact(value: Option<&Value>) -> String {
    let text = value.map(Value::to_string).unwrap_or_else(|| "null".into());
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `observe_controls` for an object: its spec, annotations, requester and
/// generation; `defaults` is its kind's spec with every control at its
/// default. Updates `records` (the status's) and returns what changed.
pub fn observe_object(
    records: &mut Vec<ControlRecord>,
    coverage: &KindCoverage,
    spec: &impl serde::Serialize,
    defaults: &Value,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    requested_by: &str,
    now: Timestamp,
) -> Vec<ControlRecord> {
    // Specs serialise infallibly (plain data); `Null` is never taken.
    let spec = serde_json::to_value(spec).unwrap_or_default();
    let (next, changed) = observe_controls(
        records,
        &ControlsSeen {
            coverage,
            spec: &spec,
            defaults,
            annotations: meta.annotations.as_ref(),
            requested_by,
            generation: meta.generation,
            now,
        },
    );
    *records = next;
    changed
}

/// A kind's spec with every control at its default: `minimal` (the
/// required fields, any values) read through the spec type.
pub fn defaults_of<S: serde::de::DeserializeOwned + serde::Serialize>(minimal: Value) -> Value {
    serde_json::from_value::<S>(minimal)
        .ok()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_default()
}

/// One line for the event: `spec.suspend set to true by carol`.
pub fn describe(record: &ControlRecord) -> String {
    format!("spec.{} set to {} by {}", record.field, record.value, record.by)
}

#[cfg(test)]
mod tests;
