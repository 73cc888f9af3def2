//! Who used a control: stamped by the API server, not claimed by a client.
//!
//! For every field `approval_coverage` declares a control (suspend, cancel,
//! retry, resume, ...), a MutatingAdmissionPolicy writes the name of the
//! user whose update changed it into the annotation
//! `controls.immybot.io/<path>`, in the same write; a ValidatingAdmissionPolicy
//! refuses any other value there (nobody can put another person's name on a
//! control, or change a stamp to someone else's). The controller records
//! the stamp in status and in the event when it sees the control change,
//! next to the approver (`docs/design.md`, "Audit").
//!
//! Why admission and not managedFields: managedFields name the field
//! *manager* (`kubectl-patch`, `argocd-controller`), not the user, so they
//! cannot answer "who stopped it". MutatingAdmissionPolicy is GA in
//! Kubernetes 1.36; where the API server lacks it the chart leaves these
//! policies out and the controller records the user as unknown.

use serde_json::Value;

use super::admission::{binding, mutating_policy, policy_for, present};
use super::approval_coverage::{KindCoverage, all_coverages};

/// The annotation a control's stamp is written to.
pub const CONTROL_ANNOTATION_PREFIX: &str = "controls.immybot.io/";

/// `controls.immybot.io/<path>` for the control at `path`.
pub fn control_annotation(path: &str) -> String {
    format!("{CONTROL_ANNOTATION_PREFIX}{path}")
}

/// The validating policy that keeps stamps honest.
pub const CONTROL_STAMP_POLICY: &str = "immybot.io-control-stamps-name-the-user";

/// The name of the mutating policy stamping `path` of `resource`.
fn stamp_policy_name(resource: &str, path: &str) -> String {
    let slug = super::name_slug(path);
    format!("immybot.io-stamp-{resource}-{slug}")
}

/// The CEL that `spec.<path>` differs between `oldObject` and `object`
/// (present on one side only counts).
fn changed(path: &str) -> String {
    let (new, old) = (present("object", path), present("oldObject", path));
    format!("({new}) != ({old}) || (({new}) && object.spec.{path} != oldObject.spec.{path})")
}

fn stamp_policy(coverage: &KindCoverage, path: &str) -> [Value; 2] {
    let name = stamp_policy_name(coverage.resource, path);
    let annotation = control_annotation(path);
    mutating_policy(
        &name,
        "UPDATE",
        coverage.resource,
        ("control-changed", changed(path)),
        format!("Object{{metadata: Object.metadata{{annotations: {{\"{annotation}\": request.userInfo.username}}}}}}"),
    )
}

/// A stamp may only ever name the user writing it (or stay as it was).
fn stamps_name_the_user() -> Value {
    let resources: Vec<&str> = all_coverages().iter().map(|c| c.resource).collect();
    policy_for(
        CONTROL_STAMP_POLICY,
        &["CREATE", "UPDATE"],
        &resources,
        format!(
            "!has(object.metadata.annotations) || object.metadata.annotations.all(k, !k.startsWith('{CONTROL_ANNOTATION_PREFIX}') \
             || object.metadata.annotations[k] == request.userInfo.username \
             || (oldObject != null && has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations \
                 && oldObject.metadata.annotations[k] == object.metadata.annotations[k]))"
        ),
        format!(
            "'annotations {CONTROL_ANNOTATION_PREFIX}* record who used a control and may only name the user making the change (' + request.userInfo.username + ')'"
        ),
    )
}

/// The mutating policies (with bindings) that stamp every control of every
/// kind, then the validating policy and its binding. Installed together or
/// not at all.
pub fn control_audit_policies() -> Vec<Value> {
    let mut out = Vec::new();
    for coverage in all_coverages() {
        for control in coverage.controls() {
            out.extend(stamp_policy(coverage, &control.path));
        }
    }
    out.push(stamps_name_the_user());
    out.push(binding(CONTROL_STAMP_POLICY));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_of_every_kind_is_stamped_and_nothing_else() {
        let policies = control_audit_policies();
        for coverage in all_coverages() {
            for f in &coverage.fields {
                let name = stamp_policy_name(coverage.resource, &f.path);
                let stamped = policies.iter().any(|p| p["metadata"]["name"] == name.as_str());
                assert_eq!(
                    stamped,
                    f.class == crate::api::FieldClass::Control,
                    "{} {}",
                    coverage.kind,
                    f.path
                );
            }
        }
    }

    #[test]
    fn policy_names_and_annotation_keys_are_valid_kubernetes_names() {
        for p in control_audit_policies() {
            let name = p["metadata"]["name"].as_str().unwrap();
            assert!(
                name.len() <= 253
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
                "{name}"
            );
        }
        for coverage in all_coverages() {
            for f in coverage.controls() {
                let key = control_annotation(&f.path);
                let (_, name) = key.split_once('/').unwrap();
                assert!(name.len() <= 63, "{key}");
            }
        }
    }
}
