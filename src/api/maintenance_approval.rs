//! `MaintenanceApproval`: a person's approval of one MaintenanceSession as
//! its spec stood when they looked (the digest). Admission checks that the
//! approver is the user who creates it; the controller checks the digest, the
//! expiry, and that the approver is not the requester.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Approves one MaintenanceSession (by name and uid) in the same namespace,
/// for the digest its status shows. Changing the session's spec changes the
/// digest and so revokes this approval. Cannot be edited; delete it to
/// withdraw it. The controller makes the session its owner, so it goes when
/// the session goes.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "MaintenanceApproval",
    namespaced,
    doc = "A person's approval of one MaintenanceSession, for the spec digest they reviewed. Cannot be edited; delete it to withdraw it.",
    shortname = "imapproval",
    category = "immybot",
    printcolumn = r#"{"name":"Session","type":"string","jsonPath":".spec.sessionName"}"#,
    printcolumn = r#"{"name":"Session UID","type":"string","jsonPath":".spec.sessionUid","priority":1}"#,
    printcolumn = r#"{"name":"Approver","type":"string","jsonPath":".spec.approver"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","jsonPath":".spec.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("a MaintenanceApproval cannot be edited; delete it and create a new one"))]
#[x_kube(validation = kube::core::Rule::new("self.kind != 'MaintenanceSchedule' || has(self.expiresAt)").message("a standing approval (kind MaintenanceSchedule) lets runs start by themselves, so it must expire: set expiresAt"))]
pub struct MaintenanceApprovalSpec {
    /// The kind of the approved object: `MaintenanceSession` (default),
    /// `ImmyBotSchedule`, or `MaintenanceSchedule` (a standing approval of
    /// its template, which must expire).
    #[serde(default)]
    pub kind: ApprovedKind,
    /// The approved object's name (same namespace); for historical reasons
    /// named `sessionName` whatever its kind.
    #[schemars(length(min = 1, max = 253))]
    pub session_name: String,
    /// The approved MaintenanceSession's `metadata.uid`. An approval approves
    /// one object: a MaintenanceSession deleted and created again under the
    /// same name is another object and needs its own approval.
    #[schemars(length(min = 1, max = 64))]
    pub session_uid: String,
    /// The session's `status.approvalDigest` as the approver saw it. It
    /// covers the session's uid, its requester and what it does to computers.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub digest: String,
    /// The approving user; admission requires it to be the user creating this object.
    #[schemars(length(min = 1, max = 253))]
    pub approver: String,
    /// Why this is approved, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub comment: Option<String>,
    /// The blast radius the approver saw (`status.blastRadius.computers`;
    /// `kubectl immybot approve` fills it in): the approval lets at most
    /// this many computers start. A tenant that grew past it before the
    /// start waits for a new approval; an ImmyBotSchedule whose tenant
    /// outgrew it is disabled in ImmyBot until then. A standing approval
    /// of a MaintenanceSchedule: the most computers any run may start
    /// (`--max-computers`). Absent: any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub computers: Option<i32>,
    /// The plan the approver saw (`status.plan.digest` of a session with
    /// `spec.plan`; `kubectl immybot approve` fills it in). Such a session
    /// starts only with an approval of its current plan: a plan made again
    /// (it expired, or the computers drifted) needs a new approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub plan_digest: Option<String>,
    /// After this time the approval no longer starts anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}

/// What a MaintenanceApproval approves.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, schemars::JsonSchema)]
pub enum ApprovedKind {
    #[default]
    MaintenanceSession,
    ImmyBotSchedule,
    /// A standing approval of a MaintenanceSchedule's template: its runs
    /// start without an approval of their own until the template changes or
    /// this approval expires. Needs `expiresAt`.
    MaintenanceSchedule,
}
