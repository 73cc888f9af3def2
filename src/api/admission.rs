//! The ValidatingAdmissionPolicies that make approvals hard to forge. The API
//! server enforces them before the controller sees anything:
//!
//! - a `MaintenanceApproval`'s `spec.approver` is the user who creates it;
//! - a `MaintenanceSession`'s `spec.requestedBy` is the user who creates it.
//!
//! With both, "the approver is not the requester" (checked by the controller)
//! means two different authenticated people. Objects are built here and
//! written to `deploy/admission-policies.yaml` by `crdgen`.

use serde_json::{Value, json};

fn policy(name: &str, resource: &str, field: &str, what: &str) -> Value {
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
                    "operations": ["CREATE"],
                    "resources": [resource],
                }]
            },
            "validations": [{
                "expression": format!("object.spec.{field} == request.userInfo.username"),
                "messageExpression": format!(
                    "'spec.{field} must be the user creating this {what} (' + request.userInfo.username + '), not ' + object.spec.{field}"
                ),
                "reason": "Forbidden",
            }],
        }
    })
}

fn binding(policy: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {"policyName": policy, "validationActions": ["Deny"]},
    })
}

pub const APPROVER_POLICY: &str = "immybot.io-approver-is-the-user";
pub const REQUESTER_POLICY: &str = "immybot.io-requester-is-the-user";

/// The policies and their bindings, in the order to apply them.
pub fn admission_policies() -> Vec<Value> {
    vec![
        policy(APPROVER_POLICY, "maintenanceapprovals", "approver", "approval"),
        binding(APPROVER_POLICY),
        policy(REQUESTER_POLICY, "maintenancesessions", "requestedBy", "session"),
        binding(REQUESTER_POLICY),
    ]
}
