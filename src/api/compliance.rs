//! What ImmyBot itself says is still out of compliance on a session's
//! computers once its maintenance ended: the post-session compliance
//! result, read once (docs/compliance.md).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// Most items listed; the rest are counted in `itemsNotShown`.
pub const MAX_COMPLIANCE_ITEMS: usize = 20;
/// Most computers named per item.
pub const MAX_EXAMPLES: usize = 5;

/// ImmyBot's view of compliance after the maintenance, as read once it
/// ended (`Compliant` condition).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceStatus {
    /// When ImmyBot was asked (the last try, when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Time>,
    /// How it was asked: `PerTenant` (one call per tenant, whatever its
    /// size) or `PerComputer` (one call per computer, for a few computers).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub read_by: String,
    /// Computers the maintenance covered that ImmyBot shows nothing left to do on.
    #[serde(default)]
    pub computers_compliant: i32,
    /// Computers with at least one item ImmyBot still shows out of compliance.
    #[serde(default)]
    pub computers_needing_attention: i32,
    /// Per item, the computers still needing it, most first (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ComplianceItem>,
    /// Items beyond the ones listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items_not_shown: i32,
    /// Failed tries so far; after 3 it is not asked again (`Compliant`
    /// stays Unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_reads: i32,
    /// Why it could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// One item still out of compliance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceItem {
    /// The item's name as ImmyBot gave it (its display name, else its identifier).
    pub item: String,
    /// Computers still needing it.
    pub computers: i32,
    /// The first of them, by name where known (at most 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}
