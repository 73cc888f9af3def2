//! Why it failed, from Kubernetes: a failed action carries an excerpt of its
//! own log, read once, with the script's parameters blanked out, and a
//! setting turns excerpts (and their reads) off; then the session's own log
//! explains it, blanked the same way. The outcome never waits for its
//! explanation: the final phase is written first, the excerpts after.

use std::time::Duration;

use immybot_operator::api::{ActionStatus, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use kube::api::{Patch, PatchParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::approved_run;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_failed_actions_log_excerpt_is_read_once_and_blanks_its_parameters,
        with_excerpts_off_no_action_log_is_read,
        the_outcome_is_written_before_its_explanation,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const ACTION_LOGS: &str = "GET /api/v1/maintenance-actions/{actionId}/logs";
const SECRET: &str = "sk-live-5be1-DO-NOT-LEAK";

/// The session's actions named `name` (computer 102 fails "Legacy VPN" and
/// installs "Adobe Acrobat Reader").
fn action(obj: &MaintenanceSession, name: &str) -> Result<ActionStatus, String> {
    obj.status
        .iter()
        .flat_map(|s| s.computers.iter())
        .flat_map(|c| c.actions.iter())
        .find(|a| a.name == name)
        .cloned()
        .ok_or_else(|| format!("{name} is not mirrored: {:?}", obj.status))
}

async fn a_failed_actions_log_excerpt_is_read_once_and_blanks_its_parameters(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // Every action log row carries the parameters, and one echoes them.
    sim.state.update_shape(|s| s.job_args_secret = Some(SECRET.into()));
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let done = approved_run(&ctx, "why", 102, "CHG-94", Phase::PartiallySucceeded).await?;
    let vpn = action(&done, "Legacy VPN")?;
    if vpn.result.as_deref() != Some("Failed") {
        return Err(format!("Legacy VPN should have failed: {vpn:?}"));
    }
    let excerpt = &vpn.log_excerpt;
    if !excerpt.iter().any(|l| l.contains("1603")) {
        return Err(format!("the excerpt should say why it failed: {excerpt:?}"));
    }
    if !excerpt.iter().any(|l| l == "Running script with -ApiKey [redacted]") {
        return Err(format!("the echoed parameter should show blanked out: {excerpt:?}"));
    }
    let acrobat = action(&done, "Adobe Acrobat Reader")?;
    if !acrobat.log_excerpt.is_empty() {
        return Err(format!("an action that succeeded needs no excerpt: {acrobat:?}"));
    }
    let status = serde_json::to_string(&done.status).map_err(|e| e.to_string())?;
    if status.contains(SECRET) {
        return Err("the planted secret reached status".into());
    }
    let reads = sim.state.call_count(ACTION_LOGS);
    if reads != 1 {
        return Err(format!("one failed action, {reads} log reads"));
    }
    // From kubectl, with RBAC alone: the plugin prints the excerpt.
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "alice",
        &["logs", "why", "--computer", "102", "--action", "legacy vpn"],
        None,
    )
    .await?;
    if !ok || !out.contains("Legacy VPN Failed") || !out.contains("  Running script with -ApiKey [redacted]") {
        return Err(format!("kubectl immybot logs --computer --action: {out}"));
    }
    // Looked at again after a control changed: observed, nothing re-read.
    let patched = ctx
        .api_as::<MaintenanceSession>("carol")
        .await?
        .patch(
            "why",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"suspend": true}})),
        )
        .await
        .ctx("patch")?;
    wait_for("the control change to be observed", LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get("why")
            .await
            .map_err(|e| e.to_string())?;
        let seen = obj.status.as_ref().and_then(|s| s.observed_generation);
        Ok((seen >= patched.metadata.generation).then_some(obj))
    })
    .await?;
    let again = sim.state.call_count(ACTION_LOGS);
    controller.stop().await;
    if again != 1 {
        return Err(format!("the excerpt was read again: {again} reads"));
    }
    Ok(())
}

async fn with_excerpts_off_no_action_log_is_read(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.update_shape(|s| s.job_args_secret = Some(SECRET.into()));
    let controller = ctx
        .controller_customized(&sim, ApprovalPolicy::default(), |c| c.action_log_excerpts = false)
        .await?;
    let done = approved_run(&ctx, "quiet", 102, "CHG-95", Phase::PartiallySucceeded).await?;
    controller.stop().await;
    let vpn = action(&done, "Legacy VPN")?;
    let reads = sim.state.call_count(ACTION_LOGS);
    if vpn.result.as_deref() != Some("Failed") || !vpn.log_excerpt.is_empty() || reads != 0 {
        return Err(format!("excerpts off: {reads} log reads, {vpn:?}"));
    }
    // Then the session's own log explains it, blanked the same way.
    let tail: Vec<String> = done
        .status
        .iter()
        .flat_map(|s| s.log_tail.iter().map(|l| l.message.clone()))
        .collect();
    if !tail.iter().any(|l| l.contains("1603")) || !tail.iter().any(|l| l.contains("-ApiKey [redacted]")) {
        return Err(format!("the session's log tail should explain it, blanked: {tail:?}"));
    }
    let status = serde_json::to_string(&done.status).map_err(|e| e.to_string())?;
    if status.contains(SECRET) {
        return Err("the planted secret reached status".into());
    }
    Ok(())
}

/// The failure shows before its explanation, which ImmyBot refuses for a
/// while (503): the first status with the final phase says the logs are
/// pending and has no excerpt; a retry (the clock moved 5 minutes) still
/// finds ImmyBot refusing and keeps them pending; once ImmyBot answers, the
/// next retry brings the excerpt and ends the pending.
async fn the_outcome_is_written_before_its_explanation(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let refuse = || immybot_sim::FaultRule {
        route: ACTION_LOGS.into(),
        fault: immybot_sim::FaultKind::Status { status: 503 },
        times: None,
        probability: None,
    };
    sim.state.add_fault(refuse());
    let clock = std::sync::Arc::new(immybot_operator::controller::Clock::default());
    let controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    crate::lifecycle::create_session(
        &ctx,
        "first",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-96", "target": {"computer": {"id": 102}}}),
    )
    .await?;
    crate::lifecycle::approve(&ctx, "first", "bob").await?;
    let api = ctx.api::<MaintenanceSession>();
    let pending = |o: &MaintenanceSession| o.status.as_ref().is_some_and(|s| s.logs_pending);
    let first_final = wait_for("the final phase", LONG, || async {
        let obj = api.get("first").await.map_err(|e| e.to_string())?;
        let phase = obj.status.as_ref().and_then(|s| s.phase);
        Ok((phase == Some(Phase::PartiallySucceeded)).then_some(obj))
    })
    .await?;
    let vpn = action(&first_final, "Legacy VPN")?;
    if vpn.result.as_deref() != Some("Failed") || !vpn.log_excerpt.is_empty() || !pending(&first_final) {
        return Err(format!(
            "the outcome should show first, its logs pending (pending: {}): {vpn:?}",
            pending(&first_final)
        ));
    }
    // A retry while ImmyBot still refuses: still pending.
    let move_clock = |minutes: i64| {
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_mins(minutes))
            .map_err(|e| e.to_string())
    };
    let before = sim.state.call_count(ACTION_LOGS);
    clock.set(move_clock(5)?);
    wait_for("a retried read", LONG, || async {
        let now = sim.state.call_count(ACTION_LOGS);
        Ok((now > before).then_some(())).map_err(|_: ()| format!("{now} reads"))
    })
    .await?;
    let obj = api.get("first").await.map_err(|e| e.to_string())?;
    if !pending(&obj) || !action(&obj, "Legacy VPN")?.log_excerpt.is_empty() {
        return Err(format!("refused again, still pending: {:?}", obj.status));
    }
    // ImmyBot answers now: the next retry brings the excerpt.
    sim.state.clear_faults();
    clock.set(move_clock(10)?);
    let done = ctx.wait_phase("first", Phase::PartiallySucceeded, LONG).await?;
    let vpn = action(&done, "Legacy VPN")?;
    controller.stop().await;
    if !vpn.log_excerpt.iter().any(|l| l.contains("1603")) {
        return Err(format!("then the excerpt: {vpn:?}"));
    }
    Ok(())
}
