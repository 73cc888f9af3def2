//! The pilot rule: "Pilot with a single-computer session before a
//! tenant-wide one". An operator setting (and a per-namespace override)
//! names how many computers a tenant-wide MaintenanceSession may start
//! without a pilot (`rollout: {strategy: Waves, pilot: ...}`); above it the
//! session is refused.
//!
//! Two places enforce it, from one rule:
//! - at admission, a ValidatingAdmissionPolicy whose parameter is the
//!   settings ConfigMap: the thresholds (written by the chart from the same
//!   values as the operator's flags) and each tenant's computer count as
//!   the operator last measured it (it writes them there). A tenant never
//!   counted yet, or one named in a way a ConfigMap key cannot hold, passes
//!   admission;
//! - in the controller, against the blast radius it measures before
//!   anything starts (`session/machine/not_started.rs`), which also covers
//!   the runs of MaintenanceSchedules (the operator creates them, so
//!   admission lets them through) and tenants that grew since the count.

use serde_json::{Value, json};

use super::admission::policy_for;
use super::{MaintenanceSessionSpec, RolloutStrategy, TenantRef};

/// The ConfigMap (in the operator's namespace) the policy reads.
pub const SETTINGS_CONFIGMAP: &str = "immybot-operator-settings";
/// Its key for the operator-wide threshold (`off` or absent: no rule).
pub const PILOT_REQUIRED_ABOVE: &str = "pilotRequiredAbove";
pub const PILOT_POLICY: &str = "immybot.io-tenant-wide-sessions-need-a-pilot";

/// The key of one namespace's threshold.
pub fn namespace_key(namespace: &str) -> String {
    format!("{PILOT_REQUIRED_ABOVE}.{namespace}")
}

/// The key under which a tenant target's computer count is kept, as the
/// policy builds it; `None` where a ConfigMap key cannot hold the name.
pub fn tenant_size_key(tenant: &TenantRef) -> Option<String> {
    let base = match (tenant.id, &tenant.name) {
        (Some(id), _) => format!("tenant.{id}"),
        (None, Some(name)) => format!("tenantName.{name}"),
        (None, None) => return None,
    };
    let key = if tenant.include_child_tenants {
        format!("{base}.withChildren")
    } else {
        base
    };
    let valid = key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some(key)
}

/// Whether the spec runs a pilot first.
pub fn has_pilot(spec: &MaintenanceSessionSpec) -> bool {
    spec.rollout
        .as_ref()
        .is_some_and(|r| r.strategy == RolloutStrategy::Waves && r.pilot.is_some())
}

/// The threshold that holds in `namespace`: its own, else the
/// operator-wide one; `None`: no rule.
pub fn threshold(
    default: Option<i32>,
    per_namespace: &std::collections::BTreeMap<String, Option<i32>>,
    namespace: &str,
) -> Option<i32> {
    match per_namespace.get(namespace) {
        Some(own) => *own,
        None => default,
    }
}

/// What a person reads when the rule refuses: how to add a pilot.
pub fn how_to_add_a_pilot(children: bool) -> &'static str {
    if children {
        "add spec.rollout {strategy: Waves, pilot: {count: 1}, tenantByTenant: {tenantsAtOnce: 1}}: a pilot from every tenant, then one tenant at a time (see docs/rollouts.md), or narrow the target"
    } else {
        "add spec.rollout {strategy: Waves, pilot: {count: 1}} (see examples/maintenance-session-waves.yaml), or narrow the target"
    }
}

/// The policy: a MaintenanceSession created for a tenant without a pilot
/// is refused when the tenant's last count is above the namespace's
/// threshold. Runs of a MaintenanceSchedule are left to the controller.
pub fn pilot_policy() -> Value {
    policy_on(
        PILOT_POLICY,
        "maintenancesessions",
        "object.spec",
        "a tenant-wide session",
        "!has(object.spec.scheduledBy) && ",
    )
}

/// The same for a MaintenanceSchedule's template, so that a schedule whose
/// every run would be refused is refused when it is created.
pub fn schedule_pilot_policy() -> Value {
    policy_on(
        SCHEDULE_PILOT_POLICY,
        "maintenanceschedules",
        "object.spec.sessionTemplate.spec",
        "a MaintenanceSchedule of tenant-wide runs",
        "",
    )
}

pub const SCHEDULE_PILOT_POLICY: &str = "immybot.io-tenant-wide-schedules-need-a-pilot";

/// The pilot rule on `resource`, whose session spec is at `spec` (a CEL
/// path); `extra` narrows which objects it looks at.
fn policy_on(name: &str, resource: &str, spec: &str, what: &str, extra: &str) -> Value {
    let tenant = format!("{spec}.target.tenant");
    let mut policy = policy_for(
        name,
        &["CREATE"],
        &[resource],
        "!variables.tenantWide || variables.threshold == 'off' || !(variables.key in variables.data) || int(variables.data[variables.key]) <= int(variables.threshold)".into(),
        format!(
            "'{what} needs a pilot in namespace ' + request.namespace + ': the tenant had ' + variables.data[variables.key] + ' computers when the operator last counted them, more than the ' + variables.threshold + ' allowed without one; ' + (variables.children ? '{}' : '{}')",
            how_to_add_a_pilot(true),
            how_to_add_a_pilot(false)
        ),
    );
    let policy_spec = &mut policy["spec"];
    policy_spec["paramKind"] = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    policy_spec["variables"] = json!([
        {"name": "tenantWide", "expression": format!(
            "has({spec}.target) && has({tenant}) && !has({spec}.observe) && {extra}!(has({spec}.rollout) && has({spec}.rollout.strategy) && {spec}.rollout.strategy == 'Waves' && has({spec}.rollout.pilot))"
        )},
        {"name": "data", "expression": "has(params.data) ? params.data : {'': ''}"},
        {"name": "threshold", "expression": format!(
            "('{PILOT_REQUIRED_ABOVE}.' + request.namespace) in variables.data ? variables.data['{PILOT_REQUIRED_ABOVE}.' + request.namespace] : ('{PILOT_REQUIRED_ABOVE}' in variables.data ? variables.data['{PILOT_REQUIRED_ABOVE}'] : 'off')"
        )},
        {"name": "children", "expression": format!("has({tenant}.includeChildTenants) && {tenant}.includeChildTenants")},
        {"name": "key", "expression": format!(
            "(has({tenant}.id) ? 'tenant.' + string({tenant}.id) : 'tenantName.' + {tenant}.name) + (variables.children ? '.withChildren' : '')"
        )},
    ]);
    policy
}

/// The policies' bindings, reading the settings ConfigMap in `namespace`
/// (the operator's). Without the ConfigMap nothing is refused.
pub fn pilot_bindings(namespace: &str) -> Vec<Value> {
    [PILOT_POLICY, SCHEDULE_PILOT_POLICY]
        .into_iter()
        .map(|policy| {
            let mut binding = super::admission::binding(policy);
            binding["spec"]["paramRef"] = json!({
                "name": SETTINGS_CONFIGMAP,
                "namespace": namespace,
                "parameterNotFoundAction": "Allow",
            });
            binding
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: Option<i32>, name: Option<&str>, children: bool) -> TenantRef {
        TenantRef {
            id,
            name: name.map(str::to_owned),
            include_child_tenants: children,
        }
    }

    #[test]
    fn tenant_keys_are_the_policys_and_only_valid_ones_are_kept() {
        assert_eq!(
            tenant_size_key(&tenant(Some(2), None, false)).as_deref(),
            Some("tenant.2")
        );
        assert_eq!(
            tenant_size_key(&tenant(Some(2), Some("x"), true)).as_deref(),
            Some("tenant.2.withChildren")
        );
        assert_eq!(
            tenant_size_key(&tenant(None, Some("Contoso"), false)).as_deref(),
            Some("tenantName.Contoso")
        );
        assert_eq!(tenant_size_key(&tenant(None, Some("Contoso Ltd"), false)), None);
    }

    #[test]
    fn a_namespace_overrides_the_operator_wide_threshold() {
        let mut per = std::collections::BTreeMap::new();
        per.insert("lab".to_owned(), None);
        per.insert("prod".to_owned(), Some(10));
        assert_eq!(threshold(Some(100), &per, "lab"), None);
        assert_eq!(threshold(Some(100), &per, "prod"), Some(10));
        assert_eq!(threshold(Some(100), &per, "other"), Some(100));
        assert_eq!(threshold(None, &per, "other"), None);
    }
}
