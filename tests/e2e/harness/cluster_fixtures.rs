//! Installed once per run, after the control plane starts: the operator's
//! admission policies (as the chart installs them) and RBAC that lets the
//! test users (alice, bob, ...) work with our resources.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};

use super::testbed::{TEST_USERS_GROUP, Testbed};
use super::{Context as _, wait_for};
use immybot_operator::api::MaintenanceSession;

/// Where the pilot rule's settings ConfigMap lives (the operator's
/// namespace in a real install).
pub const SETTINGS_NAMESPACE: &str = "immybot-e2e-settings";

pub async fn install(testbed: &Testbed) -> Result<(), String> {
    let client = testbed.client().await?;
    immybot_operator::runtime::install_admission_policies(&client)
        .await
        .ctx("installing the admission policies")?;
    // The pilot rule's settings, as the chart installs them (thresholds
    // off: a test sets its own namespace's).
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": SETTINGS_NAMESPACE}})).ctx("namespace")?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .ctx("create the settings namespace")?;
    // Where ClusterImmyBotConnections' Secrets live for the test controllers.
    let secrets: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": super::operator::CLUSTER_CONNECTION_SECRETS}}))
            .ctx("namespace")?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &secrets)
        .await
        .ctx("create the cluster connections' Secret namespace")?;
    let settings: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": immybot_operator::api::pilot::SETTINGS_CONFIGMAP},
        "data": {"pilotRequiredAbove": "off"},
    }))
    .ctx("settings")?;
    Api::<ConfigMap>::namespaced(client.clone(), SETTINGS_NAMESPACE)
        .create(&PostParams::default(), &settings)
        .await
        .ctx("create the settings ConfigMap")?;
    immybot_operator::runtime::install_pilot_binding(&client, SETTINGS_NAMESPACE)
        .await
        .ctx("binding the pilot rule")?;
    let role: ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "immybot-e2e-user"},
        "rules": [{
            "apiGroups": ["immybot.io"],
            "resources": ["maintenancesessions", "maintenanceapprovals", "immybotschedules", "maintenanceschedules", "sessionsearches", "maintenancereports"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }],
    }))
    .ctx("role")?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .ctx("create role")?;
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "immybot-e2e-users"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "immybot-e2e-user"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": TEST_USERS_GROUP}],
    }))
    .ctx("binding")?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .ctx("create role binding")?;

    // Policies take effect asynchronously: probe with a dry run until a
    // forged requester is refused.
    let mallory = testbed.client_as("mallory").await?;
    let forged: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": "probe"},
        "spec": {"requestedBy": "alice", "reason": "probe", "target": {"computer": {"id": 1}}},
    }))
    .ctx("probe")?;
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    wait_for(
        "the admission policies to take effect",
        Duration::from_secs(60),
        || async {
            match Api::<MaintenanceSession>::namespaced(mallory.clone(), "default")
                .create(&dry, &forged)
                .await
            {
                Err(kube::Error::Api(s)) if s.message.contains("spec.requestedBy must be the user") => Ok(Some(())),
                other => Err(format!("{:?}", other.map(|_| "accepted"))),
            }
        },
    )
    .await
}
