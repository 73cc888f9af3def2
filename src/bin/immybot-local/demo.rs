//! The quickstart's story: alice requests maintenance (the examples), bob
//! approves what alice asked for, and a live table follows the sessions.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, Phase};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::ResourceExt as _;
use kube::api::{Api, Patch, PatchParams, PostParams};

const USERS: &str = "immybot:demo-users";
const NAMESPACE: &str = "default";

pub async fn run(client: kube::Client, kubeconfig: kube::config::Kubeconfig) -> anyhow::Result<()> {
    grant_demo_users(&client).await?;
    let alice = impersonate(&kubeconfig, "alice").await?;
    let bob = impersonate(&kubeconfig, "bob").await?;
    let mut names = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("examples")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("maintenance-session-") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let obj: MaintenanceSession = serde_saphyr::from_str(&text).with_context(|| format!("{}", file.display()))?;
        let name = obj.name_any();
        let api = Api::<MaintenanceSession>::namespaced(alice.clone(), NAMESPACE);
        api.patch(&name, &PatchParams::apply("kubectl").force(), &Patch::Apply(&obj))
            .await
            .with_context(|| format!("applying {} as alice", file.display()))?;
        println!("alice applied {}", file.display());
        names.push(name);
    }
    let sessions = Api::<MaintenanceSession>::namespaced(client.clone(), NAMESPACE);
    let approvals = Api::<MaintenanceApproval>::namespaced(bob, NAMESPACE);
    let mut approved = std::collections::BTreeSet::new();
    let mut last_table = String::new();
    loop {
        let mut rows = BTreeMap::new();
        for name in &names {
            let Ok(obj) = sessions.get(name).await else { continue };
            let status = obj.status.clone().unwrap_or_default();
            if status.phase == Some(Phase::AwaitingApproval)
                && !approved.contains(name)
                && let Some(digest) = status.approval_digest.clone()
            {
                let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
                    "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
                    "metadata": {"name": format!("{name}-by-bob")},
                    "spec": {"sessionName": name, "sessionUid": obj.metadata.uid.clone().unwrap_or_default(),
                             "digest": digest, "approver": "bob", "comment": "quickstart"},
                }))?;
                approvals
                    .create(&PostParams::default(), &approval)
                    .await
                    .context("approving as bob")?;
                println!("bob approved {name} ({digest})");
                approved.insert(name.clone());
            }
            rows.insert(
                name.clone(),
                (
                    status.phase.map(|p| format!("{p:?}")).unwrap_or_else(|| "-".into()),
                    status
                        .conditions
                        .iter()
                        .find(|c| c.type_ == "Approved")
                        .map(|c| c.status.clone())
                        .unwrap_or_else(|| "-".into()),
                    status.progress.clone().unwrap_or_else(|| "-".into()),
                    status.target_summary.clone().unwrap_or_default(),
                ),
            );
        }
        let mut table = format!(
            "{:<24} {:<20} {:<9} {:<9} {}\n",
            "NAME", "PHASE", "APPROVED", "PROGRESS", "TARGET"
        );
        for (name, (phase, ok, progress, target)) in &rows {
            table.push_str(&format!("{name:<24} {phase:<20} {ok:<9} {progress:<9} {target}\n"));
        }
        if table != last_table {
            println!("\n{table}");
            last_table = table;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A client for the same cluster acting as `user` (impersonation).
async fn impersonate(kubeconfig: &kube::config::Kubeconfig, user: &str) -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &Default::default()).await?;
    config.auth_info.impersonate = Some(user.into());
    config.auth_info.impersonate_groups = Some(vec![USERS.into()]);
    Ok(kube::Client::try_from(config)?)
}

async fn grant_demo_users(client: &kube::Client) -> anyhow::Result<()> {
    let pp = PatchParams::apply("immybot-local").force();
    let role: ClusterRole = serde_json::from_value(serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "immybot-demo-user"},
        "rules": [{"apiGroups": ["immybot.io"], "resources": ["maintenancesessions", "maintenanceapprovals"], "verbs": ["*"]}],
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .patch("immybot-demo-user", &pp, &Patch::Apply(&role))
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "immybot-demo-users"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "immybot-demo-user"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": USERS}],
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch("immybot-demo-users", &pp, &Patch::Apply(&binding))
        .await?;
    Ok(())
}
