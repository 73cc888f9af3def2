//! The ValidatingAdmissionPolicies that make approvals hard to forge. The API
//! server enforces them before the controller sees anything:
//!
//! - a `MaintenanceApproval`'s `spec.approver` is the user who creates it;
//! - a `MaintenanceSession`'s (and a schedule's) `spec.requestedBy` is the
//!   user who creates it.
//!
//! - once created, only the requester may change what the maintenance does
//!   (on a MaintenanceSchedule: the template, schedule, timeZone, approval)
//!   (the fields the approval digest covers, plus `reason` and the inline
//!   `approval`); anyone with edit rights may still use the controls
//!   (suspend, cancel, timeout, retry, resume, deletionPolicy).
//!
//! With these, "the approver is not the requester" (checked by the
//! controller) means two different authenticated people, and nobody but the
//! requester can have changed what the approver approves. Objects are built
//! here and written to `deploy/admission-policies.yaml` by `crdgen`.

use serde_json::{Value, json};

/// A policy refusing `operation` on `resource` unless `expression` holds,
/// with `message` (a CEL message expression) saying why.
fn policy_for(name: &str, operation: &str, resource: &str, expression: String, message: String) -> Value {
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
                    "operations": [operation],
                    "resources": [resource],
                }]
            },
            "validations": [{"expression": expression, "messageExpression": message, "reason": "Forbidden"}],
        }
    })
}

/// `spec.<field>` of a created `resource` must be the creating user.
fn policy(name: &str, resource: &str, field: &str, what: &str) -> Value {
    policy_for(
        name,
        "CREATE",
        resource,
        format!("object.spec.{field} == request.userInfo.username"),
        format!(
            "'spec.{field} must be the user creating this {what} (' + request.userInfo.username + '), not ' + object.spec.{field}"
        ),
    )
}

/// The spec fields only the requester may change after creation: what the
/// approval digest covers (see `controller/digest.rs`), the words that
/// explain it, and the inline approval.
pub const REQUESTER_ONLY_FIELDS: &[&str] = &[
    "target",
    "mode",
    "deployment",
    "reboot",
    "offline",
    "priority",
    "reason",
    "approval",
];

/// The MaintenanceSchedule fields only its requester may change: what a
/// standing approval covers (the template, when it recurs) and the inline
/// approval. The others (suspend, concurrencyPolicy, the deadline and
/// history limits) stay open to anyone with edit rights.
pub const SCHEDULE_REQUESTER_ONLY_FIELDS: &[&str] = &["schedule", "timeZone", "sessionTemplate", "approval"];

/// The ImmyBotSchedule fields only its requester may change: what its
/// approval digest covers (`schedule/definition.rs`), the reason and the
/// inline approval. suspend, the policies and the request counters stay
/// open to others.
pub const IMMYBOT_SCHEDULE_REQUESTER_ONLY_FIELDS: &[&str] = &[
    "target",
    "daily",
    "weekly",
    "monthly",
    "cron",
    "timeZone",
    "useComputersTimeZone",
    "afterActiveHours",
    "maintenanceItem",
    "applyWindowsUpdates",
    "reboot",
    "offline",
    "prompts",
    "emails",
    "reason",
    "approval",
];

fn requester_only_policy() -> Value {
    requester_only(
        REQUESTER_ONLY_POLICY,
        "maintenancesessions",
        "MaintenanceSession",
        REQUESTER_ONLY_FIELDS,
        "the controls (suspend, cancel, timeout, retry, resume, deletionPolicy) stay open to others",
    )
}

fn requester_only(name: &str, resource: &str, kind: &str, fields: &[&str], open: &str) -> Value {
    // `has()` on both sides, so that adding or removing an optional field
    // counts as a change; the API server defaults the others.
    let unchanged: Vec<String> = fields
        .iter()
        .map(|f| {
            format!(
                "(has(object.spec.{f}) == has(oldObject.spec.{f}) && (!has(object.spec.{f}) || object.spec.{f} == oldObject.spec.{f}))"
            )
        })
        .collect();
    policy_for(
        name,
        "UPDATE",
        resource,
        format!(
            "request.userInfo.username == oldObject.spec.requestedBy || ({})",
            unchanged.join(" && ")
        ),
        format!(
            "'only the requester (' + oldObject.spec.requestedBy + ') may change {} of this {kind}, not ' + request.userInfo.username + '; {open}'",
            fields.join(", ")
        ),
    )
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
        requester_only_policy(),
        binding(REQUESTER_ONLY_POLICY),
        requester_only(
            SCHEDULE_REQUESTER_ONLY_POLICY,
            "immybotschedules",
            "ImmyBotSchedule",
            IMMYBOT_SCHEDULE_REQUESTER_ONLY_FIELDS,
            "suspend, deletionPolicy, driftPolicy, runNow and cancelRunning stay open to others",
        ),
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
            "maintenanceschedules",
            "MaintenanceSchedule",
            SCHEDULE_REQUESTER_ONLY_FIELDS,
            "suspend, concurrencyPolicy, startingDeadlineSeconds and the history limits stay open to others",
        ),
        binding(MAINTENANCE_SCHEDULE_REQUESTER_ONLY_POLICY),
    ]
}
