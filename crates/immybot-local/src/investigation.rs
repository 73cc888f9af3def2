//! The quickstart's last act: investigate and repair a failure from
//! Kubernetes alone. ImmyBot's own schedule (the ImmyBotSchedule example)
//! runs Fabrikam's computers, and FINANCE-LT01's "Legacy VPN" fails. carol,
//! who holds no ImmyBot credentials, finds the session with a SessionSearch,
//! imports it (observe only), reads why it failed, and, once the cause is
//! fixed, asks for the failed action to be rerun; bob approves; the rerun's
//! outcome replaces the failure. Each step prints the plugin command that
//! does the same.

use std::time::Duration;

use anyhow::Context as _;
use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, Phase, SearchPhase, SessionSearch};
use immybot_sim::{SimState, SoftwareBehaviour};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

const NAMESPACE: &str = "default";
const COMPUTER: i32 = 102;
const ITEM: &str = "Legacy VPN";
const POLL: Duration = Duration::from_secs(1);

pub async fn run(carol: kube::Client, bob: kube::Client, sim: std::sync::Arc<SimState>) -> anyhow::Result<()> {
    // 1. Until ImmyBot's own schedule has left a failure on the computer
    // (a run of today: the weeks of history before the quickstart began
    // have theirs too).
    let began = sim.now();
    loop {
        let failed = sim.ledger().iter().any(|e| {
            e.computer_id == COMPUTER
                && e.session_group_id.is_none()
                && e.status == "PartialPassed"
                && e.created >= began
        });
        if failed {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    println!("\n== Investigation: a session ImmyBot's schedule ran did not pass ==");
    // 2. Find it, with RBAC alone.
    println!("carol$ kubectl immybot history --tenant 2 --failed");
    let searches = Api::<SessionSearch>::namespaced(carol.clone(), NAMESPACE);
    let search: SessionSearch = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "SessionSearch",
        "metadata": {"name": "quickstart-failed-fabrikam"},
        "spec": {"tenantId": 2, "statuses": ["Failed", "PartialPassed", "Missed"], "limit": 10, "ttl": "10m"},
    }))?;
    searches
        .create(&PostParams::default(), &search)
        .await
        .context("creating the search as carol")?;
    let answer = loop {
        let s = searches.get("quickstart-failed-fabrikam").await?;
        if let Some(st) = s.status.filter(|st| st.phase == Some(SearchPhase::Complete)) {
            break st;
        }
        tokio::time::sleep(POLL).await;
    };
    let _ = searches
        .delete("quickstart-failed-fabrikam", &DeleteParams::default())
        .await;
    for f in &answer.sessions {
        println!(
            "  session {:<6} {:<14} {}",
            f.id,
            f.computer_name.clone().unwrap_or_default(),
            f.status.clone().unwrap_or_default()
        );
    }
    let id = answer
        .sessions
        .iter()
        .find(|f| f.computer_id == Some(COMPUTER))
        .map(|f| f.id)
        .context("the search did not find the failed session")?;
    // 3. Import it: observe only, no approval needed.
    let name = format!("immybot-session-{id}");
    println!("carol$ kubectl immybot import {id}");
    let sessions = Api::<MaintenanceSession>::namespaced(carol.clone(), NAMESPACE);
    let observed: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": name},
        "spec": {"requestedBy": "carol", "reason": format!("observe ImmyBot session {id}"), "observe": {"sessionId": id}},
    }))?;
    sessions
        .create(&PostParams::default(), &observed)
        .await
        .context("importing as carol")?;
    let mirrored = wait_phase(&sessions, &name, &[Phase::PartiallySucceeded, Phase::Failed]).await?;
    // 4. Why it failed.
    println!("carol$ kubectl immybot logs {name} --action \"{ITEM}\"");
    for c in mirrored.status.iter().flat_map(|s| s.computers.iter()) {
        for a in c.actions.iter().filter(|a| a.result.as_deref() == Some("Failed")) {
            println!(
                "  {} [session {}] {} {}",
                c.name.clone().unwrap_or_default(),
                c.session_id,
                a.name,
                a.message.clone().unwrap_or_default()
            );
            for line in &a.log_excerpt {
                println!("    {line}");
            }
        }
    }
    // 5. Fix the cause (here: the simulator's installer), rerun what failed.
    sim.with_engine(|e, _| e.set_behaviour(COMPUTER, ITEM, SoftwareBehaviour::Succeeds))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!("(the cause is fixed: the simulator's {ITEM} installer now succeeds)");
    println!("carol$ kubectl immybot retry {name} --failed-actions --action \"{ITEM}\"");
    sessions
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"retry": {"failedActions": {"requests": 1, "action": ITEM}}}})),
        )
        .await
        .context("asking for the rerun as carol")?;
    // 6. Acting on a session the operator did not start needs an approval.
    let waiting = wait_phase(&sessions, &name, &[Phase::AwaitingApproval]).await?;
    let digest = waiting
        .status
        .and_then(|s| s.approval_digest)
        .context("no digest to approve")?;
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{name}-by-bob")},
        "spec": {"sessionName": name, "sessionUid": waiting.metadata.uid.clone().unwrap_or_default(),
                 "digest": digest, "approver": "bob", "comment": "rerun the fixed VPN install"},
    }))?;
    Api::<MaintenanceApproval>::namespaced(bob, NAMESPACE)
        .create(&PostParams::default(), &approval)
        .await
        .context("approving as bob")?;
    println!("bob$ kubectl immybot approve {name}");
    let done = wait_phase(&sessions, &name, &[Phase::Succeeded, Phase::PartiallySucceeded]).await?;
    let st = done.status.unwrap_or_default();
    for r in st.action_reruns.iter().flat_map(|r| r.actions.iter()) {
        println!(
            "  {} rerun on computer {} as session {}, asked by {}: {:?}",
            r.name,
            r.computer_id,
            r.rerun_session_id.map(|i| i.to_string()).unwrap_or_default(),
            r.requested_by,
            r.state
        );
    }
    println!(
        "{name}: {} (kubectl immybot status {name})",
        st.phase.map_or("-", Phase::as_str)
    );
    Ok(())
}

async fn wait_phase(api: &Api<MaintenanceSession>, name: &str, phases: &[Phase]) -> anyhow::Result<MaintenanceSession> {
    loop {
        let obj = api.get(name).await?;
        if obj
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| phases.contains(&p))
        {
            return Ok(obj);
        }
        tokio::time::sleep(POLL).await;
    }
}
