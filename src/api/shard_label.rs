//! Shards: which operator deployment owns an object, by a label.
//!
//! Flux's and kube-rs's approach: every object carries `immybot.io/shard`,
//! and each shard (a Deployment with its own Lease) watches only the
//! objects its label selector matches (`--shard-selector`). The default
//! key is the object's connection, so one ImmyBot instance's budget is
//! spent by exactly one leader. The label is set at admission, on
//! creation, by a MutatingAdmissionPolicy when the object has none: the
//! name of the connection it names, else `default`. A label set by hand
//! wins (that is how a connection too big for one shard is split: by
//! namespace, e.g. `lab-a`/`lab-b`).
//!
//! An object without the label (created before the policy, or on an API
//! server without MutatingAdmissionPolicy) is never nobody's: the default
//! shard's selector is `immybot.io/shard notin (<the other shards>)`,
//! which matches objects without the label too.

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

/// The label naming an object's shard.
pub const SHARD_LABEL: &str = "immybot.io/shard";

/// The shard of objects that name no connection.
pub const DEFAULT_SHARD: &str = "default";

/// Each kind's resource, and the CEL of the connection name it names.
fn kinds() -> [(&'static str, &'static str); 5] {
    const SPEC: &str = "has(object.spec.connectionRef) ? object.spec.connectionRef.name : 'default'";
    [
        ("maintenancesessions", SPEC),
        ("immybotschedules", SPEC),
        ("sessionsearches", SPEC),
        ("maintenancereports", SPEC),
        (
            "maintenanceschedules",
            "has(object.spec.sessionTemplate) && has(object.spec.sessionTemplate.spec) && \
             has(object.spec.sessionTemplate.spec.connectionRef) ? object.spec.sessionTemplate.spec.connectionRef.name : 'default'",
        ),
    ]
}

fn policy_name(resource: &str) -> String {
    format!("immybot.io-shard-label-{resource}")
}

/// The mutating policies (with bindings) that label new objects with their
/// shard. Need `admissionregistration.k8s.io/v1` MutatingAdmissionPolicy
/// (Kubernetes 1.36).
pub fn shard_label_policies() -> Vec<Value> {
    let mut out = Vec::new();
    for (resource, connection) in kinds() {
        out.extend(super::admission::mutating_policy(
            &policy_name(resource),
            "CREATE",
            resource,
            (
                "no-shard-yet",
                format!("!has(object.metadata.labels) || !('{SHARD_LABEL}' in object.metadata.labels)"),
            ),
            format!("Object{{metadata: Object.metadata{{labels: {{\"{SHARD_LABEL}\": {connection}}}}}}}"),
        ));
    }
    out
}

/// The selector of a shard owning the objects labelled with one of
/// `values`; `None` values: the default shard, owning everything the
/// `others` do not (unlabelled objects included).
pub fn shard_selector(values: &[String], others: &[String]) -> String {
    if values.is_empty() {
        format!("{SHARD_LABEL} notin ({})", others.join(","))
    } else {
        format!("{SHARD_LABEL} in ({})", values.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_labelled_on_creation_only() {
        let policies = shard_label_policies();
        assert_eq!(policies.len(), 10, "a policy and a binding for each of the five kinds");
        for p in policies.iter().filter(|p| p["kind"] == "MutatingAdmissionPolicy") {
            assert_eq!(
                p["spec"]["matchConstraints"]["resourceRules"][0]["operations"],
                json!(["CREATE"])
            );
            let name = p["metadata"]["name"].as_str().unwrap();
            assert!(name.len() <= 253 && !name.contains('_'), "{name}");
        }
    }

    #[test]
    fn the_default_shard_takes_what_no_other_names() {
        assert_eq!(
            shard_selector(&[], &["lab".into(), "prod".into()]),
            "immybot.io/shard notin (lab,prod)"
        );
        assert_eq!(shard_selector(&["lab".into()], &[]), "immybot.io/shard in (lab)");
    }
}
