//! `spec.rollout` and `status.rollout`: starting the computers of a
//! multi-computer target in waves, with a pilot and a failure budget.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::ComputerRef;

/// How the computers of a `computers` or `tenant` target are started.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum RolloutStrategy {
    /// One ImmyBot start for every computer at once.
    #[default]
    AllAtOnce,
    /// An optional pilot, then waves of at most `maxConcurrent` computers;
    /// each wave starts when the one before it has finished, inside the
    /// windows, and only while the failures stay within `maxFailures`.
    Waves,
}

/// How a multi-computer target is rolled out. The computer set is resolved
/// once, when the rollout starts, and recorded in `status.rollout`: it does
/// not follow computers added to or removed from a tenant mid-rollout.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.strategy == 'Waves' || (!has(self.pilot) && !has(self.maxConcurrent) && !has(self.maxFailures) && !has(self.tenantByTenant) && !has(self.maxFailuresPerTenant) && !has(self.healthGate))").message("pilot, maxConcurrent, maxFailures, tenantByTenant, maxFailuresPerTenant and healthGate apply to strategy Waves only"))]
#[x_kube(validation = kube::core::Rule::new("self.strategy != 'Waves' || has(self.maxConcurrent)").message("strategy Waves needs maxConcurrent: how many computers one wave starts, a count (e.g. 50) or a percentage of the target (e.g. \"10%\")"))]
pub struct RolloutSpec {
    /// `AllAtOnce` (the default) or `Waves`.
    #[serde(default)]
    pub strategy: RolloutStrategy,

    /// Computers that run first, alone; the waves start only if every one
    /// of them passed. Part of what is approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<PilotSpec>,

    /// The most computers one wave starts: a count, or a percentage of the
    /// target's computers (rounded up, at least one). Part of what is
    /// approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')").message("maxConcurrent is a count of at least 1 or a percentage from 1% to 100%"))]
    pub max_concurrent: Option<IntOrString>,

    /// How many computers may fail over the whole rollout before it halts
    /// (phase `Halted`; the running wave finishes, no further wave starts):
    /// a count, or a percentage of the target's computers (rounded down).
    /// Default 0: the first failure halts. Not part of what is approved:
    /// like `suspend`, it only decides when to stop, so raising it
    /// continues a halted rollout without a new approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("type(self) == int ? self >= 0 : self.matches('^([0-9]|[1-9][0-9]|100)%$')").message("maxFailures is a count of at least 0 or a percentage from 0% to 100%"))]
    pub max_failures: Option<IntOrString>,

    /// Roll out one tenant at a time (a tenant target with
    /// `includeChildTenants`; the model is a cloud's zone-by-zone rollout):
    /// the pilot takes `pilot.count` computers from every tenant, then each
    /// wave starts the computers of the next `tenantsAtOnce` tenants (the
    /// parent first, then its children in ImmyBot's order), split into
    /// waves of at most `maxConcurrent`. Part of what is approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_by_tenant: Option<TenantByTenant>,

    /// How many computers of any one tenant may fail before the rollout
    /// halts: a count, or a percentage of that tenant's computers (rounded
    /// down), counted alongside `maxFailures`. Not part of what is approved
    /// (like `maxFailures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("type(self) == int ? self >= 0 : self.matches('^([0-9]|[1-9][0-9]|100)%$')").message("maxFailuresPerTenant is a count of at least 0 or a percentage from 0% to 100%"))]
    pub max_failures_per_tenant: Option<IntOrString>,

    /// Whether offline computers (ImmyBot ends them `Missed`) count as
    /// failures against `maxFailures` and `maxFailuresPerTenant`. Default
    /// false: they are counted in a class of their own
    /// (`status.rollout.offline`) and do not halt the rollout. Not part of
    /// what is approved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub count_offline_as_failures: bool,

    /// Alerts that halt the rollout: read before each wave starts and while
    /// one runs (docs/rollouts.md, "Health gate"). Part of what is
    /// approved: loosening it needs a new approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_gate: Option<super::HealthGate>,
}

/// Waves tenant by tenant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantByTenant {
    /// How many tenants one wave covers (default 1).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub tenants_at_once: i32,
}

fn one() -> i32 {
    1
}

impl RolloutSpec {
    pub fn is_waves(&self) -> bool {
        self.strategy == RolloutStrategy::Waves
    }
}

/// The pilot: a number of the target's computers (the lowest ImmyBot ids),
/// or named ones, which must be among the target.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.count) != has(self.computers)").message("a pilot is given by exactly one of count or computers"))]
pub struct PilotSpec {
    /// How many computers run in the pilot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub count: Option<i32>,
    /// The computers that run in the pilot, by id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 50))]
    pub computers: Option<Vec<ComputerRef>>,
}

/// The rollout as recorded when it started, and where it stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// Every computer of the rollout in start order, pilot first, recorded
    /// once when the rollout started. Wave `n` is the next `waveSize` ids
    /// after the pilot and the waves before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computer_ids: Vec<i32>,
    /// How many of `computerIds` (the first ones) are the pilot.
    #[serde(default)]
    pub pilot_size: i32,
    /// Computers per wave after the pilot (`spec.rollout.maxConcurrent`).
    pub wave_size: i32,
    /// Waves in all, the pilot counting as one.
    pub waves: i32,
    /// The wave started last (1 is the first, the pilot if there is one);
    /// 0 before any.
    #[serde(default)]
    pub current_wave: i32,
    /// Computers started so far.
    #[serde(default)]
    pub started: i32,
    /// Computers whose latest session passed.
    #[serde(default)]
    pub passed: i32,
    /// Computers whose latest session did not pass.
    #[serde(default)]
    pub failed: i32,
    /// Computers no wave has started yet.
    #[serde(default)]
    pub remaining: i32,
    /// `spec.rollout.maxFailures` as a count, for this rollout's size.
    #[serde(default)]
    pub failure_budget: i32,
    /// Failures the budget still allows before the rollout halts.
    #[serde(default)]
    pub budget_left: i32,
    /// Failures a person accepted by continuing a halted rollout
    /// (`kubectl immybot resume`): the budget counts from there.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub accepted_failures: i32,
    /// Where each wave after the pilot ends in `computerIds` (exclusive),
    /// when the waves are not all `waveSize` (tenant by tenant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wave_ends: Vec<i32>,
    /// A tenant tree's rollout, per tenant in plan order: `computerIds`
    /// after the pilot are the first tenant's `computers`, then the next
    /// one's, and so on; the pilot's tenants are `pilotTenants`. Every
    /// computer is listed once, with its tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<RolloutTenant>,
    /// The tenant of each pilot computer (a tenant tree's rollout).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pilot_tenants: Vec<i32>,
    /// Started computers that were offline (ImmyBot: `Missed`): a class of
    /// their own, not failures unless `countOfflineAsFailures`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offline: i32,
    /// The health gate fired: the rollout halts (or stays halted) until a
    /// person resumes it and the gate is clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_halt: Option<super::GateHalt>,
}

/// One tenant's share of a rollout over a tenant tree.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutTenant {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its computers in the pilot.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pilot: i32,
    /// Its computers in the waves after the pilot.
    pub computers: i32,
    /// Its started computers that did not pass (offline ones only with
    /// `countOfflineAsFailures`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    /// Its started computers that were offline.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offline: i32,
    /// `maxFailuresPerTenant` as a count for this tenant, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_budget: Option<i32>,
    /// Failures of this tenant a person accepted by continuing a halted
    /// rollout.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub accepted_failures: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
