//! Plan, then approve (issue 25's second half): `spec.plan` asks the
//! operator to find out what a session would do before anyone approves it,
//! by a detection-only ImmyBot session, and `status.plan` publishes that
//! plan; the approval then names the plan's digest as well as the spec's
//! (`MaintenanceApproval.spec.planDigest`). Bounded for a tenant of
//! thousands: counts for every item and action, names for the first few.
//! docs/design.md, "Plan, then approve", has the model.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// How many computer names each planned item (and the undetected list)
/// shows; the counts cover all.
pub const PLAN_NAMES: usize = 10;
/// How many planned items (item and action) status lists, most computers
/// first; the digest and `itemsOmitted` cover the rest.
pub const PLAN_ITEMS: usize = 40;
/// How old a plan may get before it is refreshed, unless `maxAge` says.
pub const DEFAULT_PLAN_MAX_AGE: &str = "24h";

/// Plan, then approve: a detection-only session finds what this one would
/// do, the plan is published in `status.plan`, and the approval must name
/// its digest. Covered by the approval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanSpec {
    /// Plan before approval. `false` is the same as no `plan`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How old a plan may be when the session starts (e.g. `24h`, the
    /// default). An older plan is made again before the start, and the
    /// approval of the old one no longer counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(s|m|h))+$"))]
    pub max_age: Option<String>,
    /// What happens when the computers changed since the plan was approved.
    /// `Reapprove` (default): right before the start, detection runs again;
    /// an action or computer the approved plan does not have holds the
    /// start for an approval of the new plan. `Proceed`: start at once,
    /// and report what ran that was not planned. Either way
    /// `status.plan.unplanned` lists it at the end.
    #[serde(default)]
    pub on_drift: OnDrift,
}

fn yes() -> bool {
    true
}

/// See `PlanSpec.onDrift`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum OnDrift {
    #[default]
    Reapprove,
    Proceed,
}

/// Where the plan stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum PlanState {
    /// The detection-only session runs in ImmyBot.
    #[default]
    Detecting,
    /// The plan is complete: approve it.
    Ready,
}

/// What the plan's detection-only session found.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// Plans made so far for this object (a refresh after `maxAge` or a
    /// drift check makes the next one).
    pub number: i32,
    /// The approval digest of the spec this plan was made for.
    pub spec_digest: String,
    /// Why this plan was made: `Initial`, `Expired` (older than
    /// `maxAge`), `DriftCheck` (right before the start).
    pub purpose: String,
    pub state: PlanState,
    /// The detection-only start, recorded before it is sent (the same
    /// start protocol as any other: never sent twice).
    pub attempt: super::Attempt,
    /// When the plan was complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// The digest an approval must name (`planDigest`): over every planned
    /// item, action and computer, not only those listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The plan in one paragraph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Computers detection ran for.
    #[serde(default)]
    pub computers: i32,
    /// Computers with at least one planned change.
    #[serde(default)]
    pub changing: i32,
    /// Per maintenance item and action, most computers first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<PlannedItem>,
    /// Items (with action) beyond those listed.
    #[serde(default)]
    pub items_omitted: i32,
    /// Computers or items detection could not determine, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_detected: Vec<NotDetected>,
    /// Whether the plan says which changes reboot. ImmyBot's detection
    /// rows do not: `unknown`.
    #[serde(default)]
    pub reboots: String,
    /// Drift found right before the start (`onDrift: Reapprove`): what the
    /// fresh detection has beyond the plan approved before it. This plan
    /// is the fresh one and waits for its own approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<PlannedItem>,
    /// After the start: what ran beyond the approved plan (an item or
    /// action it did not have, or on more computers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unplanned: Vec<PlannedItem>,
    /// The last drift check (`onDrift: Reapprove`): a fresh detection of
    /// the computers about to start, compared with this approved plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<PlanCheck>,
}

/// A drift check: detection once more, right before a start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanCheck {
    /// The plan it checks against (`status.plan.number`).
    pub plan: i32,
    /// The start it clears: 1 for the first, a wave's number for a wave.
    pub wave: i32,
    pub state: PlanState,
    pub attempt: super::Attempt,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// One maintenance item and what would happen to it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedItem {
    /// `maintenanceDisplayName`.
    pub item: String,
    /// `Install`, `Update`, `Uninstall`, `Reinstall`, `Downgrade`,
    /// `TaskEnforce`, ... (ImmyBot's action type).
    pub action: String,
    /// On how many computers.
    pub computers: i32,
    /// The first of them, by name (or id where ImmyBot gave no name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_computers: Vec<String>,
    /// The detected version, where every computer's row agrees on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// The desired version, where every computer's row agrees on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
}

/// What detection could not determine.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotDetected {
    /// Why: `Offline` (its detection ended Missed), `Undetermined` (an
    /// item ImmyBot could not decide), `Failed` (its detection session
    /// failed), `NoSession` (ImmyBot started none for it).
    pub why: String,
    pub computers: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_computers: Vec<String>,
}
