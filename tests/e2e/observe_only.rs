//! Observe-only sessions: a MaintenanceSession mirrors an ImmyBot session
//! the operator did not start (`kubectl immybot import <id>`), with no
//! approval and no call that changes anything; acting on it (a rerun of its
//! failed actions, a cancel) waits for an approval, and deleting it never
//! cancels what it only watched.

use std::time::Duration;

use immybot_client::{ComputerTarget, StartRequest};
use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{RunningSim, SoftwareBehaviour};
use kube::api::{DeleteParams, Patch, PatchParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, fleet, manual_simulator, simulator, wait_for};
use crate::lifecycle::approve;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        an_imported_session_is_mirrored_without_approval_and_its_rerun_waits_for_one,
        cancelling_an_imported_session_needs_an_approval_and_deleting_it_cancels_nothing,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const START: &str = "POST /api/v1/run-immy-service";
const RERUN: &str = "POST /api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun";
const CANCEL_MANY: &str = "POST /api/v1/maintenance-sessions/cancel";
const CANCEL_ONE: &str = "GET /api/v1/maintenance-sessions/{sessionId}/cancel";

/// Starts a session in ImmyBot as someone else would (a person in the UI).
fn started_outside(sim: &RunningSim, computer: i32) -> Result<i32, String> {
    let req = StartRequest {
        computers: Some(vec![ComputerTarget { computer_id: computer }]),
        full_maintenance: true,
        ..Default::default()
    };
    let started = sim
        .state
        .with_engine(|e, now| e.start(&req, now))
        .map_err(|e| format!("{e:?}"))?;
    started
        .started
        .first()
        .map(|s| s.session_id)
        .ok_or_else(|| format!("the simulator started nothing: {started:?}"))
}

async fn import(ctx: &TestContext, as_user: &str, id: i32) -> Result<String, String> {
    let (ok, out) = crate::plugin::plugin(ctx, as_user, &["import", &id.to_string()], None).await?;
    if !ok {
        return Err(format!("kubectl immybot import: {out}"));
    }
    Ok(format!("immybot-session-{id}"))
}

async fn an_imported_session_is_mirrored_without_approval_and_its_rerun_waits_for_one(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Computer 102 fails "Legacy VPN": a session someone started in ImmyBot.
    let id = started_outside(&sim, 102)?;
    let name = import(&ctx, "alice", id).await?;
    let mirrored = ctx.wait_phase(&name, Phase::PartiallySucceeded, LONG).await?;
    let st = mirrored.status.clone().unwrap_or_default();
    let vpn = st
        .computers
        .iter()
        .flat_map(|c| c.actions.iter())
        .find(|a| a.name == "Legacy VPN")
        .cloned()
        .ok_or_else(|| format!("the observed session's actions are not mirrored: {st:?}"))?;
    if vpn.result.as_deref() != Some("Failed") || vpn.log_excerpt.is_empty() {
        return Err(format!("its failed action and why it failed should show: {vpn:?}"));
    }
    if st.approval.is_some() || sim.state.call_count(START) != 0 {
        return Err("observing needs no approval and starts nothing".into());
    }
    if !st
        .target_summary
        .as_deref()
        .is_some_and(|t| t.starts_with(&format!("observed session #{id}")))
    {
        return Err(format!(
            "the target should name the observed session: {:?}",
            st.target_summary
        ));
    }
    // Rerunning its failed action acts on ImmyBot: it waits for an approval.
    sim.state
        .with_engine(|e, _| e.set_behaviour(102, "Legacy VPN", SoftwareBehaviour::Succeeds))
        .map_err(|e| format!("{e:?}"))?;
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["retry", &name, "--failed-actions"], None).await?;
    if !ok {
        return Err(format!("kubectl immybot retry: {out}"));
    }
    approve(&ctx, &name, "bob").await?;
    if sim.state.call_count(RERUN) != 0 {
        return Err("the rerun went out before the approval".into());
    }
    let done = ctx.wait_phase(&name, Phase::Succeeded, LONG).await?;
    controller.stop().await;
    let calls = sim.state.call_count(RERUN);
    if calls != 1 || sim.state.call_count(START) != 0 {
        return Err(format!(
            "{calls} rerun calls; the approved rerun should be one, and no start"
        ));
    }
    let passed = done
        .status
        .iter()
        .flat_map(|s| s.computers.iter())
        .any(|c| c.session_id == id && c.session_status == "Passed");
    if !passed {
        return Err(format!(
            "the rerun's outcome should replace the failure: {:?}",
            done.status
        ));
    }
    Ok(())
}

async fn cancelling_an_imported_session_needs_an_approval_and_deleting_it_cancels_nothing(
    ctx: TestContext,
) -> TestResult {
    // A manual clock: the observed session stays in progress.
    let sim = manual_simulator(fleet()).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let id = started_outside(&sim, 101)?;
    let name = import(&ctx, "alice", id).await?;
    ctx.api_as::<MaintenanceSession>("carol")
        .await?
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"cancel": {"reason": "INC-7 wrong software"}}})),
        )
        .await
        .ctx("cancel")?;
    ctx.wait_session(&name, "the cancel to wait for an approval", LONG, |obj| {
        obj.status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .any(|c| c.reason == "CancelAwaitingApproval")
    })
    .await?;
    let cancels = sim.state.call_count(CANCEL_MANY) + sim.state.call_count(CANCEL_ONE);
    if cancels != 0 {
        return Err(format!("{cancels} cancel calls without an approval"));
    }
    ctx.api::<MaintenanceSession>()
        .delete(&name, &DeleteParams::default())
        .await
        .ctx("delete")?;
    wait_for("the object to be gone", LONG, || async {
        match ctx.api::<MaintenanceSession>().get_opt(&name).await {
            Ok(None) => Ok(Some(())),
            Ok(Some(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    controller.stop().await;
    let cancels = sim.state.call_count(CANCEL_MANY) + sim.state.call_count(CANCEL_ONE);
    let still = sim.state.ledger().into_iter().find(|e| e.id == id);
    if cancels != 0 || still.as_ref().is_none_or(|e| e.status.contains("Cancelled")) {
        return Err(format!(
            "deleting an observe-only object must not cancel what it watched: {cancels} cancel calls, {still:?}"
        ));
    }
    Ok(())
}
