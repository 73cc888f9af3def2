//! The ValidatingAdmissionPolicies that make approvals hard to forge. The API
//! server enforces them before the controller sees anything:
//!
//! - a `MaintenanceApproval`'s `spec.approver` is the user who creates it;
//! - a `MaintenanceSession`'s (and a schedule's) `spec.requestedBy` is the
//!   user who creates it.
//!
//! - once created, only the requester may change what the approval covers,
//!   the words that explain it and the inline approval; anyone with edit
//!   rights may still use the controls. Which field is which is declared
//!   once per kind in `approval_coverage.rs`; the rule is generated from it.
//!
//! With these, "the approver is not the requester" (checked by the
//! controller) means two different authenticated people, and nobody but the
//! requester can have changed what the approver approves. Objects are built
//! here and written to `deploy/admission-policies.yaml` by `crdgen`.

use serde_json::{Value, json};

use super::approval_coverage::{
    KindCoverage, immybot_schedule_coverage, maintenance_schedule_coverage, session_coverage,
};

/// A policy refusing `operation` on `resource` unless `expression` holds,
/// with `message` (a CEL message expression) saying why.
pub(super) fn policy_for(
    name: &str,
    operations: &[&str],
    resources: &[&str],
    expression: String,
    message: String,
) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{
                    "apiGroups": ["immybot.io"],
                    "apiVersions": ["*"],
                    "operations": operations,
                    "resources": resources,
                }]
            },
            "validations": [{"expression": expression, "messageExpression": message, "reason": "Forbidden"}],
        }
    })
}

/// A mutating policy applying `apply` (a CEL ApplyConfiguration) to
/// `resource` on `operation` where `condition` holds, and its binding.
pub(super) fn mutating_policy(
    name: &str,
    operation: &str,
    resource: &str,
    condition: (&str, String),
    apply: String,
) -> [Value; 2] {
    [
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "reinvocationPolicy": "Never",
                "matchConstraints": {
                    "resourceRules": [{
                        "apiGroups": ["immybot.io"],
                        "apiVersions": ["*"],
                        "operations": [operation],
                        "resources": [resource],
                    }]
                },
                "matchConditions": [{"name": condition.0, "expression": condition.1}],
                "mutations": [{
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {"expression": apply},
                }],
            }
        }),
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {"policyName": name},
        }),
    ]
}

/// `spec.<field>` of a created `resource` must be the creating user.
fn policy(name: &str, resource: &str, field: &str, what: &str) -> Value {
    policy_for(
        name,
        &["CREATE"],
        &[resource],
        format!("object.spec.{field} == request.userInfo.username"),
        format!(
            "'spec.{field} must be the user creating this {what} (' + request.userInfo.username + '), not ' + object.spec.{field}"
        ),
    )
}

/// The CEL that `spec.<path>` is present in `root` (`object` or
/// `oldObject`): every parent of an optional field must be there too.
pub(super) fn present(root: &str, path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    (1..=segments.len())
        .map(|n| format!("has({root}.spec.{})", segments[..n].join(".")))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The CEL that `spec.<path>` is the same in `object` and `oldObject`,
/// counting adding or removing an optional field (or a parent of it) as a
/// change; the API server defaults the others.
fn unchanged(path: &str) -> String {
    let (new, old) = (present("object", path), present("oldObject", path));
    format!("(({new}) == ({old}) && (!({new}) || object.spec.{path} == oldObject.spec.{path}))")
}

/// Only the requester may change what `coverage` says is theirs: what the
/// approval covers, the words that explain it and the inline approval.
fn requester_only(name: &str, coverage: &KindCoverage) -> Value {
    let paths: Vec<&str> = coverage.requester_only().map(|f| f.path.as_str()).collect();
    let controls: Vec<&str> = coverage.controls().map(|f| f.path.as_str()).collect();
    let kind = coverage.kind;
    policy_for(
        name,
        &["UPDATE"],
        &[coverage.resource],
        format!(
            "request.userInfo.username == oldObject.spec.requestedBy || ({})",
            paths.iter().map(|p| unchanged(p)).collect::<Vec<_>>().join(" && ")
        ),
        format!(
            "'only the requester (' + oldObject.spec.requestedBy + ') may change {} of this {kind}, not ' + request.userInfo.username + '; the controls ({}) stay open to others'",
            paths.join(", "),
            controls.join(", ")
        ),
    )
}

pub(super) fn binding(policy: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {"policyName": policy, "validationActions": ["Deny"]},
    })
}

pub const APPROVER_POLICY: &str = "immybot.io-approver-is-the-user";
pub const REQUESTER_POLICY: &str = "immybot.io-requester-is-the-user";
pub const SCHEDULE_REQUESTER_POLICY: &str = "immybot.io-schedule-requester-is-the-user";
pub const REQUESTER_ONLY_POLICY: &str = "immybot.io-only-the-requester-changes-what-is-approved";
pub const SCHEDULE_REQUESTER_ONLY_POLICY: &str = "immybot.io-only-the-requester-changes-an-approved-schedule";
pub const MAINTENANCE_SCHEDULE_REQUESTER_POLICY: &str = "immybot.io-maintenance-schedule-requester-is-the-user";
pub const MAINTENANCE_SCHEDULE_REQUESTER_ONLY_POLICY: &str =
    "immybot.io-only-the-requester-changes-what-a-standing-approval-covers";

/// The policies and their bindings, in the order to apply them.
pub fn admission_policies() -> Vec<Value> {
    vec![
        policy(APPROVER_POLICY, "maintenanceapprovals", "approver", "approval"),
        binding(APPROVER_POLICY),
        policy(REQUESTER_POLICY, "maintenancesessions", "requestedBy", "session"),
        binding(REQUESTER_POLICY),
        policy(SCHEDULE_REQUESTER_POLICY, "immybotschedules", "requestedBy", "schedule"),
        binding(SCHEDULE_REQUESTER_POLICY),
        requester_only(REQUESTER_ONLY_POLICY, session_coverage()),
        binding(REQUESTER_ONLY_POLICY),
        requester_only(SCHEDULE_REQUESTER_ONLY_POLICY, immybot_schedule_coverage()),
        binding(SCHEDULE_REQUESTER_ONLY_POLICY),
        policy(
            MAINTENANCE_SCHEDULE_REQUESTER_POLICY,
            "maintenanceschedules",
            "requestedBy",
            "MaintenanceSchedule",
        ),
        binding(MAINTENANCE_SCHEDULE_REQUESTER_POLICY),
        requester_only(
            MAINTENANCE_SCHEDULE_REQUESTER_ONLY_POLICY,
            maintenance_schedule_coverage(),
        ),
        binding(MAINTENANCE_SCHEDULE_REQUESTER_ONLY_POLICY),
        // Bound by the chart (`pilot-policy-binding.yaml`) to the settings
        // ConfigMap in the operator's namespace: unbound, it refuses nothing.
        super::pilot::pilot_policy(),
        super::pilot::schedule_pilot_policy(),
    ]
}
