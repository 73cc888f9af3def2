//! Rerun what failed, from Kubernetes: `kubectl immybot retry
//! --failed-actions` reruns exactly the failed actions through ImmyBot's
//! rerun of one action, once whatever restarts, records who asked, and the
//! rerun's outcome replaces the failure in status.

use std::time::Duration;

use immybot_operator::api::{ActionRerunState, ActionReruns, ActionStatus, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::SoftwareBehaviour;

use crate::harness::{TestContext, TestFn, TestResult, simulator};
use crate::lifecycle::{approve, approved_run, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_failed_action_rerun_after_a_crash_between_intent_and_call_is_sent_exactly_once,
        a_rerun_never_reaches_beyond_what_failed,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const RERUN: &str = "POST /api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun";
const START: &str = "POST /api/v1/run-immy-service";

fn reruns(obj: &MaintenanceSession) -> ActionReruns {
    obj.status
        .as_ref()
        .and_then(|s| s.action_reruns.clone())
        .unwrap_or_default()
}

fn action(obj: &MaintenanceSession, name: &str) -> Result<(i32, String, ActionStatus), String> {
    obj.status
        .iter()
        .flat_map(|s| s.computers.iter())
        .find_map(|c| {
            c.actions
                .iter()
                .find(|a| a.name == name)
                .map(|a| (c.session_id, c.session_status.clone(), a.clone()))
        })
        .ok_or_else(|| format!("{name} is not mirrored: {:?}", obj.status))
}

async fn wait_for_reruns(
    ctx: &TestContext,
    name: &str,
    what: &str,
    done: impl Fn(&ActionReruns) -> bool,
) -> Result<MaintenanceSession, String> {
    ctx.wait_session(name, what, LONG, |obj| done(&reruns(obj))).await
}

/// Under the reading where `GET {id}` omits `sessionJobArgs` (and the rerun
/// runs in a session of its own): the rerun is accepted, reported not seen
/// (`RerunNotSeen`), and its call made exactly once.
async fn accepted_not_seen(ctx: &TestContext, sim: &immybot_sim::RunningSim, name: &str) -> TestResult {
    ctx.wait_session(name, "RerunNotSeen", LONG, |o| {
        o.status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .any(|c| c.type_ == "RerunNotSeen" && c.status == "True")
    })
    .await?;
    let calls = sim.state.call_count(RERUN);
    if calls != 1 {
        return Err(format!("{calls} rerun calls: accepted once, never sent again"));
    }
    Ok(())
}

async fn a_failed_action_rerun_after_a_crash_between_intent_and_call_is_sent_exactly_once(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(150).await?;
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterRerunIntent)
        .await?;
    // Computer 102 fails "Legacy VPN" and installs the rest.
    let failed = approved_run(&ctx, "fixit", 102, "CHG-96", Phase::PartiallySucceeded).await?;
    let (first_session, _, vpn) = action(&failed, "Legacy VPN")?;
    if vpn.result.as_deref() != Some("Failed") || vpn.id.is_none() {
        return Err(format!("Legacy VPN should have failed, with its id: {vpn:?}"));
    }
    // The cause is fixed in ImmyBot; carol asks for the failed action again.
    sim.state
        .with_engine(|e, _| e.set_behaviour(102, "Legacy VPN", SoftwareBehaviour::Succeeds))
        .map_err(|e| format!("{e:?}"))?;
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "carol",
        &[
            "retry",
            "fixit",
            "--failed-actions",
            "--computer",
            "102",
            "--action",
            "legacy vpn",
        ],
        None,
    )
    .await?;
    if !ok || !out.contains(&format!("[session {first_session}] Legacy VPN")) {
        return Err(format!("kubectl immybot retry --failed-actions: {out}"));
    }
    // The intent is recorded; the controller "dies" before the call.
    let intent = wait_for_reruns(&ctx, "fixit", "the rerun intent", |r| {
        r.actions.iter().any(|a| a.state == ActionRerunState::Sent)
    })
    .await?;
    crashing.stop().await;
    if sim.state.call_count(RERUN) != 0 {
        return Err("the crash point must stop the rerun before its call".into());
    }
    let sent = reruns(&intent).actions;
    if sent.len() != 1 || Some(sent[0].action_id) != vpn.id || sent[0].session_id != first_session {
        return Err(format!("exactly the failed action should be chosen: {sent:?}"));
    }
    // A new controller looks the rerun up after the grace, finds nothing,
    // and sends it: once.
    let restarted = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    if sim.state.shape().get_without_job_args {
        // Nothing ImmyBot says ties its rerun session to the call: it is
        // reported not seen, and never sent again.
        return accepted_not_seen(&ctx, &sim, "fixit").await;
    }
    let done = ctx.wait_phase("fixit", Phase::Succeeded, LONG).await?;
    restarted.stop().await;
    let calls = sim.state.call_count(RERUN);
    if calls != 1 {
        return Err(format!("{calls} rerun calls, expected exactly one"));
    }
    if sim.state.call_count(START) != 1 {
        return Err("a failed action rerun must not start a whole session".into());
    }
    let record = reruns(&done);
    let rerun = &record.actions[0];
    if rerun.state != ActionRerunState::Ended || rerun.rerun_session_id.is_none() || rerun.requested_by != "carol" {
        return Err(format!(
            "the rerun should have ended, with its session and who asked: {record:?}"
        ));
    }
    // The rerun's outcome replaces the failure: the computer passed. Where
    // it ran is the reading the simulator takes: a session of its own, or
    // the session the action failed in.
    let in_place = sim.state.shape().action_rerun_in_place;
    let (session, computer_status, vpn_now) = action(&done, "Legacy VPN")?;
    let ran_in = if in_place { None } else { rerun.rerun_session_id };
    if vpn_now.result.as_deref() != Some("Success")
        || vpn_now.session_id != ran_in
        || session != first_session
        || computer_status != "Passed"
        || (in_place && rerun.rerun_session_id != Some(first_session))
    {
        return Err(format!(
            "the rerun's outcome should replace the failure: computer {computer_status}, {vpn_now:?}, {rerun:?}"
        ));
    }
    let ledger = sim.state.ledger();
    if ledger.len() != if in_place { 1 } else { 2 } {
        return Err(format!(
            "one session, and one rerun session unless in place, expected: {ledger:?}"
        ));
    }
    Ok(())
}

async fn a_rerun_never_reaches_beyond_what_failed(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "narrow",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-97", "target": {"computers": [{"id": 101}, {"id": 102}]}}),
    )
    .await?;
    approve(&ctx, "narrow", "bob").await?;
    ctx.wait_phase("narrow", Phase::PartiallySucceeded, LONG).await?;
    // An action nothing failed: recorded as acted on, nothing sent.
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "carol",
        &["retry", "narrow", "--failed-actions", "--action", "7-Zip"],
        None,
    )
    .await?;
    if !ok {
        return Err(format!("kubectl immybot retry: {out}"));
    }
    let handled = wait_for_reruns(&ctx, "narrow", "the request to be acted on", |r| r.requests == 1).await?;
    let record = reruns(&handled);
    if !record.actions.is_empty()
        || !record
            .last_request
            .as_deref()
            .is_some_and(|m| m.contains("no failed action matching action 7-Zip"))
    {
        return Err(format!("nothing failed matches 7-Zip: {record:?}"));
    }
    // Everything that failed, on every computer: the failed action of 102
    // only (101 passed), still failing since nothing was fixed.
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["retry", "narrow", "--failed-actions"], None).await?;
    if !ok {
        return Err(format!("kubectl immybot retry: {out}"));
    }
    if sim.state.shape().get_without_job_args {
        accepted_not_seen(&ctx, &sim, "narrow").await?;
        let record = reruns(
            &ctx.api::<MaintenanceSession>()
                .get("narrow")
                .await
                .map_err(|e| e.to_string())?,
        );
        let computers: Vec<i32> = record.actions.iter().map(|a| a.computer_id).collect();
        return if computers == vec![102] {
            Ok(())
        } else {
            Err(format!("only 102's failed action is rerun: {record:?}"))
        };
    }
    let ended = wait_for_reruns(&ctx, "narrow", "the rerun to end", |r| {
        r.requests == 2 && !r.actions.is_empty() && r.actions.iter().all(|a| a.state == ActionRerunState::Ended)
    })
    .await?;
    let done = ctx.wait_phase("narrow", Phase::PartiallySucceeded, LONG).await?;
    controller.stop().await;
    let record = reruns(&ended);
    let computers: Vec<i32> = record.actions.iter().map(|a| a.computer_id).collect();
    if computers != vec![102] || sim.state.call_count(RERUN) != 1 {
        return Err(format!("only 102's failed action is rerun: {record:?}"));
    }
    // Its own failure: in the rerun's session, or, rerun in place, in the
    // session it failed in before.
    let in_place = sim.state.shape().action_rerun_in_place;
    let (_, computer_status, vpn) = action(&done, "Legacy VPN")?;
    if vpn.result.as_deref() != Some("Failed")
        || computer_status != "PartialPassed"
        || vpn.session_id.is_none() != in_place
    {
        return Err(format!(
            "a rerun that failed again shows its own failure: {computer_status} {vpn:?}"
        ));
    }
    Ok(())
}
