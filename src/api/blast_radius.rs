//! `status.blastRadius`: what an approval of an object would let loose,
//! measured in ImmyBot before anyone approves (issue 25's first half). An
//! approver reads it (`kubectl immybot approve` and `status` print it) to
//! see how many computers, which tenants, which are offline and which busy,
//! instead of a target's name and a digest. Bounded for a tenant of
//! thousands: counts for all, names for the first few.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// How many names each list of a blast radius shows; the counts cover all.
pub const BLAST_RADIUS_NAMES: usize = 10;
/// How many tenants a blast radius lists.
pub const BLAST_RADIUS_TENANTS: usize = 20;

/// What the target resolves to in ImmyBot now.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlastRadius {
    /// The approval digest this was measured for: a change of what is
    /// approved measures again.
    pub digest: String,
    /// When ImmyBot was asked.
    pub measured_at: Time,
    /// The approval this count was made for: a tenant is counted once more
    /// after it is approved, right before its start. Absent: counted for
    /// the approver, before any approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_for: Option<String>,
    /// Computers the target resolves to.
    pub computers: i32,
    /// The first computers, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_computers: Vec<String>,
    /// Per tenant (a tenant target's child tenants included), most
    /// computers first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantCount>,
    /// Computers ImmyBot shows offline now.
    pub offline: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline_computers: Vec<String>,
    /// What `spec.offline` does with them.
    pub offline_behavior: String,
    /// Computers busy with another ImmyBot session now: they start when it
    /// ends (ImmyBot refuses a second session on a computer).
    pub busy: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_computers: Vec<String>,
    /// Computers whose online state or sessions ImmyBot did not tell (its
    /// list rows are untyped; a computer or list target's online state is
    /// not read).
    #[serde(default)]
    pub unknown: i32,
    /// Why `computers` is an upper bound, when it is: e.g. a schedule's
    /// `deviceFilter`, which ImmyBot applies at each run to device types
    /// its computer list does not show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<String>,
}

/// Nothing measured, at the epoch (for building one field by field).
impl Default for BlastRadius {
    fn default() -> Self {
        Self {
            digest: String::new(),
            measured_at: Time(jiff::Timestamp::UNIX_EPOCH),
            counted_for: None,
            computers: 0,
            first_computers: vec![],
            tenants: vec![],
            offline: 0,
            offline_computers: vec![],
            offline_behavior: String::new(),
            busy: 0,
            busy_computers: vec![],
            unknown: 0,
            upper_bound: None,
        }
    }
}

/// One tenant's share of a blast radius.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantCount {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub computers: i32,
}
