//! The `plan` workload: one session with `spec.plan` (onDrift Reapprove)
//! for a tenant of SIZE computers. Measured to its plan (a detection-only
//! session per computer, read into `status.plan`), then approved with the
//! plan's digest, as `kubectl immybot approve` does, and measured to its
//! end (a second detection right before the start, then the maintenance).
//! The floor, from the same run: the detection sessions' own median
//! duration in the simulator plus the plan's start at the budget's rate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, PlanState};
use kube::api::{Api, PostParams};

use crate::measure::{self, Sessions};

/// ImmyBot's calls so far, without Entra's token endpoint.
fn immybot_calls(sim: &immybot_sim::RunningSim) -> u64 {
    sim.state
        .calls()
        .iter()
        .filter(|(r, _)| !r.contains("oauth2"))
        .map(|(_, n)| n)
        .sum()
}

pub async fn run(
    client: &kube::Client,
    sim: &immybot_sim::RunningSim,
    sessions: &Sessions,
    rps: f64,
    deadline: Duration,
    report: &mut BTreeMap<&str, serde_json::Value>,
) -> anyhow::Result<()> {
    let api: Api<MaintenanceSession> = Api::namespaced(client.clone(), "bench");
    let obj: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": "planned"},
        "spec": {"requestedBy": "alice", "reason": "bench", "target": {"tenant": {"id": 1}},
                 "plan": {"onDrift": "Reapprove"}},
    }))?;
    let t0 = Instant::now();
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .context("creating the session")?;
    let mut seen: Option<f64> = None;
    let ready = loop {
        let now = api.get("planned").await?;
        if seen.is_none() && now.status.is_some() {
            seen = Some(t0.elapsed().as_secs_f64());
        }
        let plan = now.status.as_ref().and_then(|s| s.plan.clone());
        if let Some(p) = plan.filter(|p| p.state == PlanState::Ready) {
            break (now, p);
        }
        if t0.elapsed() > deadline {
            anyhow::bail!("no plan within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let plan_seconds = t0.elapsed().as_secs_f64();
    let (now, plan) = ready;
    let durations = sessions.durations();
    let detection = measure::percentile(&durations, 50.0).unwrap_or(0.0);
    let floor = 1.0 / rps + detection;
    // From the operator's first look (its first status write): what came
    // before is the operator starting up, not planning.
    let seen = seen.unwrap_or(0.0);
    report.insert("planFirstSeenSeconds", serde_json::json!(seen));
    report.insert("planReadySeconds", serde_json::json!(plan_seconds));
    report.insert("planDetectionMedianSeconds", serde_json::json!(detection));
    report.insert("planFloorSeconds", serde_json::json!(floor));
    report.insert("planRatioToFloor", serde_json::json!((plan_seconds - seen) / floor));
    report.insert("planImmybotCalls", serde_json::json!(immybot_calls(sim)));
    report.insert("planComputers", serde_json::json!(plan.computers));
    report.insert("planItems", serde_json::json!(plan.items.len()));
    report.insert(
        "planStatusBytes",
        serde_json::json!(serde_json::to_string(&now.status)?.len()),
    );
    let uid = created.metadata.uid.clone().unwrap_or_default();
    let digest = now
        .status
        .as_ref()
        .and_then(|s| s.approval_digest.clone())
        .unwrap_or_default();
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": "planned-ok", "ownerReferences": [{
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession", "name": "planned", "uid": uid,
        }]},
        "spec": {"sessionName": "planned", "sessionUid": uid, "digest": digest, "approver": "bob",
                 "planDigest": plan.digest},
    }))?;
    let calls_at_approval = immybot_calls(sim);
    let approved = Instant::now();
    Api::<MaintenanceApproval>::namespaced(client.clone(), "bench")
        .create(&PostParams::default(), &approval)
        .await
        .context("approving the plan")?;
    loop {
        let phase = api.get("planned").await?.status.and_then(|s| s.phase);
        if phase.is_some_and(|p| p.is_final()) {
            report.insert("planFinalPhase", serde_json::json!(phase.map(|p| p.as_str())));
            break;
        }
        if approved.elapsed() > deadline {
            anyhow::bail!("the planned session did not end within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report.insert(
        "approvedToFinalSeconds",
        serde_json::json!(approved.elapsed().as_secs_f64()),
    );
    report.insert(
        "approvedToFinalImmybotCalls",
        serde_json::json!(immybot_calls(sim) - calls_at_approval),
    );
    Ok(())
}
