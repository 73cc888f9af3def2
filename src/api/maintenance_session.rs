//! `MaintenanceSession`: one ImmyBot maintenance run, declared.
//!
//! The doc comments here are what `kubectl explain maintenancesessions.spec`
//! shows, so they are written for the person filling in a manifest.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A maintenance session declared as a Kubernetes object: which computers,
/// what to run, how reboots are handled, and why. Starting one installs
/// software and may reboot machines.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "MaintenanceSession",
    namespaced,
    status = "MaintenanceSessionStatus",
    shortname = "ims",
    category = "immybot",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".spec.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceSessionSpec {
    /// The computers this session maintains: exactly one of `computer`,
    /// `computers` or `tenant`.
    pub target: SessionTarget,

    /// What the session runs. `Full` detects, executes and resolves;
    /// `DetectionOnly` reports what would change and changes nothing.
    #[serde(default)]
    pub mode: SessionMode,

    /// How reboots are handled. The default reboots only when an install
    /// requires it.
    #[serde(default)]
    pub reboot: RebootSpec,

    /// What happens to computers that are offline when the session starts.
    #[serde(default)]
    pub offline: OfflineBehavior,

    /// `High` bypasses ImmyBot's instance-wide limit on concurrent sessions.
    #[serde(default)]
    pub priority: SessionPriority,

    /// Why this maintenance runs (a ticket, a change request). Required;
    /// recorded in events and status so that every run has an explanation.
    #[x_kube(validation = kube::core::Rule::new("self.trim().size() > 0").message("spec.reason must say why this maintenance runs (a ticket or change request), not be blank"))]
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
}

/// Which computers a session maintains. Exactly one field is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("[has(self.computer), has(self.computers), has(self.tenant)].filter(x, x).size() == 1").message("target must set exactly one of computer, computers or tenant"))]
pub struct SessionTarget {
    /// A single computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer: Option<ComputerRef>,

    /// Several computers, one ImmyBot session each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub computers: Option<Vec<ComputerRef>>,

    /// Every computer of an ImmyBot tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
}

/// A computer, by ImmyBot id or by its name. Names are resolved through
/// the ImmyBot API and the resolved id is recorded in status.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.id) != has(self.name)").message("a computer is named by exactly one of id or name"))]
pub struct ComputerRef {
    /// The ImmyBot computer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub id: Option<i32>,
    /// The computer name as ImmyBot shows it; must match exactly one computer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
}

/// An ImmyBot tenant, by id or by name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.id) != has(self.name)").message("a tenant is named by exactly one of id or name"))]
pub struct TenantRef {
    /// The ImmyBot tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub id: Option<i32>,
    /// The tenant name as ImmyBot shows it; must match exactly one tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
    /// Also maintain the computers of the tenant's child tenants.
    #[serde(default)]
    pub include_child_tenants: bool,
}

/// What a session runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum SessionMode {
    /// Detection, execution and resolution: brings computers to their desired state.
    #[default]
    Full,
    /// Detection only: reports what would change, installs nothing.
    DetectionOnly,
    /// Resolution only.
    ResolutionOnly,
    /// Inventory only: refreshes what ImmyBot knows about the computers.
    InventoryOnly,
}

/// Reboot handling.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RebootSpec {
    /// `Never` suppresses reboots (actions that need one end `RebootsSuppressed`),
    /// `IfRequired` reboots when an install requires it, `Always` forces a
    /// reboot, `Prompt` asks the logged-on user.
    #[serde(default)]
    pub policy: RebootPolicy,
}

/// When a computer may be rebooted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum RebootPolicy {
    /// Never reboot (ImmyBot `Suppress`).
    Never,
    /// Reboot when an install requires it (ImmyBot `Normal`).
    #[default]
    IfRequired,
    /// Always reboot (ImmyBot `Force`).
    Always,
    /// Ask the logged-on user (ImmyBot `Prompt`).
    Prompt,
}

/// What happens to offline computers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum OfflineBehavior {
    /// Skip computers that are offline when the session starts.
    #[default]
    Skip,
    /// Wait and run when the computer next connects.
    ApplyOnConnect,
}

/// Session priority.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum SessionPriority {
    /// Queued behind ImmyBot's concurrent-session limit.
    #[default]
    Normal,
    /// Bypasses ImmyBot's concurrent-session limit.
    High,
}

/// What the controller observed. Written only by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceSessionStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the session is in its lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// When the first ImmyBot session was started; set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the session reached a final phase; set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// kstatus-compatible conditions (`Ready`, `Reconciling`, `Stalled`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
