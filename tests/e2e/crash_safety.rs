//! Never two ImmyBot sessions for one attempt: across lost responses, crashes
//! inside the start protocol, and two controllers running at once. Every test
//! counts sessions in the simulator's ledger.

use std::time::Duration;

use immybot_operator::api::{Attempt, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint, SessionGroupId};
use immybot_sim::RunningSim;
use kube::ResourceExt as _;

use crate::harness::{TestContext, TestFn, TestResult, lose_next_start_answer, simulator, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_lost_start_response_is_adopted_not_repeated,
        a_crash_after_the_intent_starts_exactly_once,
        a_crash_after_immybot_answered_adopts_the_sessions,
        two_controllers_at_once_start_each_session_once,
    ]
}

const LONG: Duration = Duration::from_secs(40);

fn spec(computer: i32) -> serde_json::Value {
    serde_json::json!({"requestedBy": "alice", "reason": "CHG-11", "target": {"computer": {"id": computer}}})
}

/// Exactly one ledger entry, carrying the attempt's derived group id.
fn one_session_for(sim: &RunningSim, obj: &MaintenanceSession, computer: i32) -> Result<(), String> {
    let group = SessionGroupId::for_attempt(&obj.uid().unwrap_or_default(), 1).0;
    let mine: Vec<_> = sim
        .state
        .ledger()
        .into_iter()
        .filter(|e| e.computer_id == computer)
        .collect();
    if mine.len() != 1 || mine[0].session_group_id != Some(group) {
        return Err(format!(
            "expected exactly one session with group {group} for computer {computer}, ledger has {mine:?}"
        ));
    }
    Ok(())
}

fn attempts(obj: &MaintenanceSession) -> Vec<Attempt> {
    obj.status
        .as_ref()
        .and_then(|s| s.immybot.as_ref())
        .map(|r| r.attempts.clone())
        .unwrap_or_default()
}

/// How a start whose answer was lost ends: adopted by group id (`Some`,
/// in `phase`), or, where `GET {id}` omits `sessionJobArgs` (that reading
/// of the contract: nothing ties the sessions to the start), undetermined:
/// stalled with `AdoptionUndetermined` and never started again (`None`).
async fn recovered(
    ctx: &TestContext,
    sim: &RunningSim,
    name: &str,
    phase: Phase,
) -> Result<Option<MaintenanceSession>, String> {
    if !sim.state.shape().get_without_job_args {
        return ctx.wait_phase(name, phase, LONG).await.map(Some);
    }
    ctx.wait_session(name, "Stalled with AdoptionUndetermined", LONG, |o| {
        o.status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == "AdoptionUndetermined")
    })
    .await?;
    let starts = sim.state.call_count("POST /api/v1/run-immy-service");
    if starts != 1 {
        return Err(format!("{starts} starts: an undetermined adoption never starts again"));
    }
    Ok(None)
}

async fn a_lost_start_response_is_adopted_not_repeated(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    lose_next_start_answer(&sim);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "dropped", spec(101)).await?;
    approve(&ctx, "dropped", "bob").await?;
    let Some(done) = recovered(&ctx, &sim, "dropped", Phase::Succeeded).await? else {
        return Ok(());
    };
    one_session_for(&sim, &done, 101)?;
    let a = attempts(&done);
    if a.len() != 1 || a[0].ids_from.as_deref() != Some("Adopted") {
        return Err(format!("the sessions should have been adopted by group id: {a:?}"));
    }
    if sim.state.call_count("POST /api/v1/run-immy-service") != 1 {
        return Err(format!("the start was sent again: {:?}", sim.state.calls()));
    }
    Ok(())
}

/// Waits until the object records an attempt, with or without ids.
async fn wait_intent(ctx: &TestContext, name: &str) -> Result<MaintenanceSession, String> {
    wait_for(&format!("{name} to record its start intent"), LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get(name)
            .await
            .map_err(|e| e.to_string())?;
        Ok((!attempts(&obj).is_empty()).then_some(obj))
    })
    .await
}

async fn a_crash_after_the_intent_starts_exactly_once(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterIntent)
        .await?;
    create_session(&ctx, "intent", spec(102)).await?;
    approve(&ctx, "intent", "bob").await?;
    let recorded = wait_intent(&ctx, "intent").await?;
    crashing.stop().await;
    if !sim.state.ledger().is_empty() || !attempts(&recorded)[0].session_ids.is_empty() {
        return Err("the crash point must stop the protocol before the start call".into());
    }
    // A new controller finds the intent, waits out the grace period, finds no
    // session with the group id, and starts the same attempt once.
    let _restarted = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let done = ctx.wait_phase("intent", Phase::PartiallySucceeded, LONG).await?;
    one_session_for(&sim, &done, 102)?;
    let a = attempts(&done);
    if a.len() != 1 || a[0].session_group_id != attempts(&recorded)[0].session_group_id {
        return Err(format!("the restart must reuse attempt 1 and its group id: {a:?}"));
    }
    Ok(())
}

async fn a_crash_after_immybot_answered_adopts_the_sessions(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterStart)
        .await?;
    create_session(&ctx, "answered", spec(101)).await?;
    approve(&ctx, "answered", "bob").await?;
    wait_for("ImmyBot to have the session", LONG, || async {
        Ok((!sim.state.ledger().is_empty()).then_some(()))
    })
    .await?;
    crashing.stop().await;
    let _restarted = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let Some(done) = recovered(&ctx, &sim, "answered", Phase::Succeeded).await? else {
        return Ok(());
    };
    one_session_for(&sim, &done, 101)?;
    if attempts(&done)[0].ids_from.as_deref() != Some("Adopted") {
        return Err(format!("the ids must come from the look-up: {:?}", attempts(&done)));
    }
    Ok(())
}

async fn two_controllers_at_once_start_each_session_once(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _a = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let _b = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let computers = [
        (101, "one", Phase::Succeeded),
        (102, "two", Phase::PartiallySucceeded),
        (201, "three", Phase::Succeeded),
    ];
    for (computer, name, _) in computers {
        create_session(&ctx, name, spec(computer)).await?;
    }
    for (_, name, _) in computers {
        approve(&ctx, name, "bob").await?;
    }
    for (computer, name, phase) in computers {
        let done = ctx.wait_phase(name, phase, LONG).await?;
        one_session_for(&sim, &done, computer)?;
    }
    Ok(())
}
