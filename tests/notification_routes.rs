//! The notification routes people already run, checked by what consumes
//! them (docs/notifications.md):
//! - Alertmanager: examples/notifications/alertmanager.yaml passes the real
//!   `amtool check-config`, and `amtool config routes test` sends each of
//!   the operator's alerts where the example says;
//! - Flux: examples/notifications/flux-alert.yaml's Providers and Alerts
//!   validate against notification-controller's own CRD schemas;
//! - Argo CD: examples/notifications/argocd-notifications-cm.yaml triggers
//!   on a health status deploy/argocd's health check gives a rollout the
//!   health gate halted.
//!
//! The tools come from `testbed/alerting.sh` (hack/test.sh exports them); a
//! missing one fails with the command that builds it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HINT: &str = "run `eval \"$(testbed/alerting.sh --env)\"` (or the suite through hack/test.sh)";

fn env_dir(var: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set: {HINT}")))
}

fn amtool(args: &[&str]) -> (bool, String) {
    let bin = env_dir("IMMYBOT_ALERTING_BIN").join("amtool");
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; {HINT}", bin.display()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn example(name: &str) -> String {
    format!("{ROOT}/examples/notifications/{name}")
}

/// The alert names the chart's rules define.
fn rule_alerts() -> Vec<String> {
    let rules: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(format!("{ROOT}/charts/immybot-operator/files/prometheus-rules.yaml")).unwrap(),
    )
    .unwrap();
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn alertmanager_routes_each_operator_alert_to_its_people() {
    let config = example("alertmanager.yaml");
    let (ok, out) = amtool(&["check-config", &config]);
    assert!(ok, "amtool check-config: {out}");
    let alerts = rule_alerts();
    assert!(alerts.len() >= 5, "{alerts:?}");
    for alert in &alerts {
        let receiver = match alert.as_str() {
            "MaintenanceRolloutHalted" | "MaintenanceScheduleMissedRun" => "endpoint-team-teams",
            "MaintenanceSessionsAwaitingApproval" => "approvers-slack",
            _ => "platform",
        };
        let (ok, out) = amtool(&[
            "config",
            "routes",
            "test",
            &format!("--config.file={config}"),
            &format!("--verify.receivers={receiver}"),
            &format!("alertname={alert}"),
        ]);
        assert!(ok, "{alert} should reach {receiver}: {out}");
    }
    // The test can fail: a receiver the route does not pick is refused.
    let (ok, _) = amtool(&[
        "config",
        "routes",
        "test",
        &format!("--config.file={config}"),
        "--verify.receivers=platform",
        "alertname=MaintenanceRolloutHalted",
    ]);
    assert!(!ok, "amtool verifies the receiver");
}

/// `kind`'s served `version` schema from notification-controller's CRD.
fn flux_schema(kind: &str, version: &str) -> Value {
    let file = env_dir("IMMYBOT_FLUX_NOTIFICATION_CRDS")
        .join(format!("notification.toolkit.fluxcd.io_{}s.yaml", kind.to_lowercase()));
    let crd: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}; {HINT}", file.display())),
    )
    .unwrap();
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("{kind} {version} in {}", file.display()))["schema"]["openAPIV3Schema"]
        .clone()
}

#[test]
fn the_flux_alerts_and_providers_are_valid_notification_controller_objects() {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(example("flux-alert.yaml")).unwrap()).unwrap();
    let mut checked = 0;
    for doc in &docs {
        let (Some(api), Some(kind)) = (doc["apiVersion"].as_str(), doc["kind"].as_str()) else {
            panic!("{doc}")
        };
        let Some(version) = api.strip_prefix("notification.toolkit.fluxcd.io/") else {
            continue;
        };
        let schema = flux_schema(kind, version);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{kind} {}: {errors:?}", doc["metadata"]["name"]);
        if kind == "Alert" {
            for source in doc["spec"]["eventSources"].as_array().unwrap() {
                assert_eq!(source["kind"], "Kustomization", "Flux Alerts select Flux kinds");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 4, "two Providers and two Alerts");
    // The schema is strict enough to fail: an Alert on a MaintenanceSession
    // is refused (eventSources.kind is an enum of Flux kinds).
    let mut wrong = docs.iter().find(|d| d["kind"] == "Alert").unwrap().clone();
    wrong["spec"]["eventSources"][0]["kind"] = "MaintenanceSession".into();
    let validator = jsonschema::validator_for(&flux_schema("Alert", "v1beta3")).unwrap();
    assert!(!validator.is_valid(&wrong));
}

#[test]
fn the_argocd_trigger_fires_on_the_health_a_halted_rollout_gets() {
    let cm: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(example("argocd-notifications-cm.yaml")).unwrap()).unwrap();
    let trigger: Value =
        serde_saphyr::from_str(cm["data"]["trigger.on-maintenance-degraded"].as_str().unwrap()).unwrap();
    let when = trigger[0]["when"].as_str().unwrap();
    assert_eq!(when, "app.status.health.status == 'Degraded'");
    assert!(cm["data"]["template.maintenance-degraded"].is_string());
    assert_eq!(trigger[0]["send"][0], "maintenance-degraded");
    // deploy/argocd's health check on a rollout the health gate halted.
    let halted: Value = serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": "gated", "generation": 2},
        "spec": {},
        "status": {"observedGeneration": 2, "phase": "Halted", "conditions": [
            {"type": "Ready", "status": "False", "reason": "HealthGateFailed",
             "message": "wave 1 of 3 finished; halted: the health gate fires: alertmanager: EndpointDown (pc-3)"},
            {"type": "Stalled", "status": "True", "reason": "HealthGateFailed",
             "message": "wave 1 of 3 finished; halted: the health gate fires: alertmanager: EndpointDown (pc-3)"}
        ]}
    });
    let lua = mlua::Lua::new();
    let health = std::fs::read_to_string(format!(
        "{ROOT}/deploy/argocd/resource_customizations/immybot.io/MaintenanceSession/health.lua"
    ))
    .unwrap();
    lua.globals()
        .set("obj", mlua::LuaSerdeExt::to_value(&lua, &halted).unwrap())
        .unwrap();
    let hs: mlua::Table = lua.load(&health).eval().unwrap();
    let status: String = hs.get("status").unwrap();
    let message: String = hs.get("message").unwrap();
    assert_eq!(status, "Degraded");
    assert!(message.contains("EndpointDown"), "{message}");
}
