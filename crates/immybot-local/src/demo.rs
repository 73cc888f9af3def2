//! The quickstart's story: alice requests maintenance (the examples), bob
//! approves what alice asked for, and a live table follows the sessions.
//! The schedule example is moved to fire a minute from now on the
//! simulator's clock, so its first run shows within a minute; the run
//! fails one action, and `investigation` finds and repairs it from
//! Kubernetes.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use immybot_operator::api::{DailyWhen, ImmyBotSchedule, MaintenanceApproval, MaintenanceSession, Phase, PlanState};
use immybot_sim::SimState;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::ResourceExt as _;
use kube::api::{Api, Patch, PatchParams, PostParams};

const USERS: &str = "immybot:demo-users";
const NAMESPACE: &str = "default";

pub async fn run(
    client: kube::Client,
    kubeconfig: kube::config::Kubeconfig,
    sim: std::sync::Arc<SimState>,
) -> anyhow::Result<()> {
    grant_demo_users(&client).await?;
    let alice = impersonate(&kubeconfig, "alice").await?;
    let bob = impersonate(&kubeconfig, "bob").await?;
    let schedules = apply_schedules(&alice, &sim).await?;
    let mut names = Vec::new();
    for file in examples("maintenance-session-")? {
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
    // The last act: once ImmyBot's own schedule left a failure, carol
    // investigates and repairs it from Kubernetes (investigation.rs).
    {
        let (carol, bob, sim) = (impersonate(&kubeconfig, "carol").await?, bob.clone(), sim.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::investigation::run(carol.clone(), bob, sim).await {
                eprintln!("investigation: {e:#}");
            }
            // Then the month's report, written where the build writes.
            if let Err(e) = crate::report::run(carol, std::path::Path::new("target")).await {
                eprintln!("report: {e:#}");
            }
        });
    }
    let sessions = Api::<MaintenanceSession>::namespaced(client.clone(), NAMESPACE);
    let approvals = Api::<MaintenanceApproval>::namespaced(bob, NAMESPACE);
    let mut approved = std::collections::BTreeSet::new();
    let mut last_table = String::new();
    let mut last_schedules = String::new();
    loop {
        let table = schedule_table(&client, &approvals, &schedules, &mut approved).await?;
        if table != last_schedules {
            println!("\n{table}");
            last_schedules = table;
        }
        let mut rows = BTreeMap::new();
        for name in &names {
            let Ok(obj) = sessions.get(name).await else { continue };
            let status = obj.status.clone().unwrap_or_default();
            // bob approves once he can see what it lets loose: the blast
            // radius measured for this digest.
            let radius = status
                .blast_radius
                .as_ref()
                .filter(|b| Some(&b.digest) == status.approval_digest.as_ref())
                .map(immybot_operator::controller::blast_radius::one_line);
            // With spec.plan, he approves the plan, once it is made.
            let plan = status
                .plan
                .as_ref()
                .filter(|p| Some(&p.spec_digest) == status.approval_digest.as_ref())
                .filter(|p| p.state == PlanState::Ready)
                .and_then(|p| Some((p.digest.clone()?, p.summary.clone().unwrap_or_default())));
            let plan_ready = obj.spec.plan.is_none() || plan.is_some();
            if status.phase == Some(Phase::AwaitingApproval)
                && !approved.contains(name)
                && plan_ready
                && let Some(digest) = status.approval_digest.clone()
                && let Some(radius) = radius
            {
                let mut spec = serde_json::json!({"sessionName": name, "sessionUid": obj.metadata.uid.clone().unwrap_or_default(),
                             "digest": digest, "approver": "bob", "comment": "quickstart"});
                if let Some((plan_digest, _)) = &plan {
                    spec["planDigest"] = plan_digest.clone().into();
                }
                let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
                    "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
                    "metadata": {"name": format!("{name}-by-bob")},
                    "spec": spec,
                }))?;
                approvals
                    .create(&PostParams::default(), &approval)
                    .await
                    .context("approving as bob")?;
                match &plan {
                    Some((plan_digest, summary)) => {
                        println!("bob read the plan of {name}: {summary}");
                        println!("bob approved {name}'s plan: {radius} ({plan_digest})");
                    }
                    None => println!("bob approved {name}: {radius} ({digest})"),
                }
                approved.insert(name.clone());
            }
            rows.insert(
                name.clone(),
                (
                    status.phase.map_or("-", Phase::as_str).to_owned(),
                    status
                        .conditions
                        .iter()
                        .find(|c| c.type_ == "Approved")
                        .map(|c| c.status.clone())
                        .unwrap_or_else(|| "-".into()),
                    status.progress.clone().unwrap_or_else(|| "-".into()),
                    // A rollout in waves: the wave started last (1 is the pilot).
                    status
                        .rollout
                        .as_ref()
                        .filter(|r| r.waves > 0)
                        .map(|r| format!("{}/{}", r.current_wave, r.waves))
                        .unwrap_or_else(|| "-".into()),
                    status.target_summary.clone().unwrap_or_default(),
                ),
            );
        }
        let mut table = format!(
            "{:<24} {:<20} {:<9} {:<9} {:<6} {}\n",
            "NAME", "PHASE", "APPROVED", "PROGRESS", "WAVE", "TARGET"
        );
        for (name, (phase, ok, progress, wave, target)) in &rows {
            table.push_str(&format!(
                "{name:<24} {phase:<20} {ok:<9} {progress:<9} {wave:<6} {target}\n"
            ));
        }
        if table != last_table {
            println!("\n{table}");
            last_table = table;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `examples/<prefix>*.yaml`, sorted.
fn examples(prefix: &str) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir("examples")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Applies `examples/immybot-schedule-*.yaml` as alice, each moved to run
/// daily two minutes from now on the simulator's clock (in the example's
/// own time zone), so that ImmyBot fires it soon after bob approves.
async fn apply_schedules(alice: &kube::Client, sim: &SimState) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for file in examples("immybot-schedule-")? {
        let text = std::fs::read_to_string(&file)?;
        let mut obj: ImmyBotSchedule = serde_saphyr::from_str(&text).with_context(|| format!("{}", file.display()))?;
        let zone = jiff::tz::TimeZone::get(&obj.spec.time_zone).context("the example's time zone")?;
        let soon = sim
            .now()
            .checked_add(jiff::SignedDuration::from_mins(2))?
            .to_zoned(zone);
        obj.spec.daily = Some(DailyWhen {
            time: format!("{:02}:{:02}", soon.hour(), soon.minute()),
        });
        obj.spec.weekly = None;
        obj.spec.monthly = None;
        obj.spec.cron = None;
        let name = obj.name_any();
        Api::<ImmyBotSchedule>::namespaced(alice.clone(), NAMESPACE)
            .patch(&name, &PatchParams::apply("kubectl").force(), &Patch::Apply(&obj))
            .await
            .with_context(|| format!("applying {} as alice", file.display()))?;
        println!(
            "alice applied {} (daily at {:02}:{:02} {}, two minutes from now on the simulator's clock)",
            file.display(),
            soon.hour(),
            soon.minute(),
            obj.spec.time_zone
        );
        names.push(name);
    }
    Ok(names)
}

/// Approves each schedule once as bob, and tabulates what it did.
async fn schedule_table(
    client: &kube::Client,
    approvals: &Api<MaintenanceApproval>,
    names: &[String],
    approved: &mut std::collections::BTreeSet<String>,
) -> anyhow::Result<String> {
    let api = Api::<ImmyBotSchedule>::namespaced(client.clone(), NAMESPACE);
    let mut table = format!(
        "{:<24} {:<10} {:<26} {:<10} {}\n",
        "SCHEDULE", "IMMYBOT ID", "WHEN", "RUNS", "LAST RUN"
    );
    for name in names {
        let Ok(obj) = api.get(name).await else { continue };
        let st = obj.status.clone().unwrap_or_default();
        let key = format!("schedule/{name}");
        if st.schedule_id.is_none()
            && !approved.contains(&key)
            && let Some(digest) = st.approval_digest.clone()
        {
            let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
                "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
                "metadata": {"name": format!("{name}-schedule-by-bob")},
                "spec": {"kind": "ImmyBotSchedule", "sessionName": name,
                         "sessionUid": obj.metadata.uid.clone().unwrap_or_default(),
                         "digest": digest, "approver": "bob", "comment": "quickstart"},
            }))?;
            approvals
                .create(&PostParams::default(), &approval)
                .await
                .context("approving the schedule as bob")?;
            println!("bob approved schedule/{name} ({digest})");
            approved.insert(key);
        }
        let last = st
            .last_run
            .as_ref()
            .map(|r| {
                format!(
                    "{} ({} passed, {} failed, {} missed of {})",
                    r.result, r.passed, r.failed, r.missed, r.computers
                )
            })
            .unwrap_or_else(|| "-".into());
        table.push_str(&format!(
            "{name:<24} {:<10} {:<26} {:<10} {last}\n",
            st.schedule_id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            st.schedule_summary.clone().unwrap_or_default(),
            st.runs.len(),
        ));
    }
    Ok(table)
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
        "rules": [{"apiGroups": ["immybot.io"], "resources": ["maintenancesessions", "maintenanceapprovals", "immybotschedules", "sessionsearches", "maintenancereports"], "verbs": ["*"]}],
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
