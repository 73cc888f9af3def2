//! The poller's cost: one `dx` page per cycle however many sessions run, and
//! full details fetched only for sessions that changed; and its one early
//! look after a burst of starts.

use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::FleetSeed;

use crate::harness::{TestContext, TestFn, TestResult, apiserver_requests, manual_simulator, wait_for};
use crate::lifecycle::create_session;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        polling_cost_does_not_grow_with_the_number_of_sessions,
        a_session_that_ends_at_once_is_seen_without_waiting_for_the_interval,
    ]
}

const SESSIONS: i32 = 30;
const DX: &str = "GET /api/v1/maintenance-sessions/dx";
const ONE: &str = "GET /api/v1/maintenance-sessions/{sessionId}";
const ACTIONS: &str = "GET /api/v1/maintenance-actions/dx";
const LOGS: &str = "GET /api/v1/maintenance-sessions/{sessionId}/logs";

async fn all_in(ctx: &TestContext, phases: &[Phase]) -> Result<(), String> {
    wait_for(
        &format!("all {SESSIONS} sessions to reach {phases:?}"),
        Duration::from_secs(60),
        || async {
            let list = ctx
                .api::<MaintenanceSession>()
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            let behind: Vec<_> = list
                .items
                .iter()
                .filter(|o| {
                    !o.status
                        .as_ref()
                        .and_then(|s| s.phase)
                        .is_some_and(|p| phases.contains(&p))
                })
                .collect();
            if list.items.len() == SESSIONS as usize && behind.is_empty() {
                Ok(Some(()))
            } else {
                Err(format!("{} not there yet", behind.len()))
            }
        },
    )
    .await
}

async fn polling_cost_does_not_grow_with_the_number_of_sessions(ctx: TestContext) -> TestResult {
    // 30 computers, all online (the generator takes every 13th offline: 13, 26).
    let mut seed = FleetSeed::generate(1, SESSIONS as u32);
    seed.computers.iter_mut().for_each(|c| c.online = true);
    let sim = manual_simulator(seed).await?;
    let policy = ApprovalPolicy {
        unapproved_namespaces: [ctx.namespace.clone()].into(),
        ..Default::default()
    };
    let _controller = ctx.controller(&sim, policy, CrashPoint::Never).await?;
    for id in 1..=SESSIONS {
        create_session(
            &ctx,
            &format!("pc-{id}"),
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-12", "target": {"computer": {"id": id}}}),
        )
        .await?;
    }
    // The manual clock stands still: every session is Created and stays so.
    all_in(&ctx, &[Phase::Queued]).await?;

    // Let the controller finish reacting to the starts: until three poll
    // cycles pass with nothing but the poll itself.
    let only_polls = |calls: &std::collections::BTreeMap<String, u64>| {
        calls
            .iter()
            .filter(|(route, _)| !route.contains("oauth2") && route.as_str() != DX)
            .map(|(_, n)| n)
            .sum::<u64>()
            == 0
    };
    wait_for("the controller to go quiet", Duration::from_secs(30), || async {
        sim.state.reset_calls();
        let started = sim.state.call_count(DX);
        wait_for("three poll cycles", Duration::from_secs(10), || async {
            Ok((sim.state.call_count(DX) >= started + 3).then_some(()))
        })
        .await?;
        Ok(only_polls(&sim.state.calls()).then_some(()))
    })
    .await?;

    sim.state.reset_calls();
    wait_for("five poll cycles", Duration::from_secs(20), || async {
        Ok((sim.state.call_count(DX) >= 5).then_some(()))
    })
    .await?;
    let quiet = sim.state.calls();
    let cycles = quiet.get(DX).copied().unwrap_or(0);
    let per_session = quiet.get(ONE).copied().unwrap_or(0);
    let other: u64 = quiet
        .iter()
        .filter(|(route, _)| !route.contains("oauth2") && route.as_str() != DX)
        .map(|(_, n)| n)
        .sum();
    println!(
        "quiet: {cycles} poll cycles, {per_session} per-session reads, {other} other calls for {SESSIONS} running sessions"
    );
    if other != 0 {
        return Err(format!(
            "with nothing changing, ImmyBot saw calls beyond one dx page per cycle: {quiet:?}"
        ));
    }

    // Every session changes at once: the listing shows it, and a running
    // session is read in full at most once per idle interval (and never
    // while calls wait for the budget); approvals come from the watch's
    // store, never a LIST.
    let lists_before = apiserver_requests(&ctx.client, "LIST", "maintenanceapprovals").await?;
    sim.state.reset_calls();
    sim.state.advance(Duration::from_secs(2));
    all_in(&ctx, &[Phase::Running]).await?;
    let busy = sim.state.calls();
    let reads = busy.get(ONE).copied().unwrap_or(0);
    let cycles = busy.get(DX).copied().unwrap_or(0).max(1);
    println!("changed: {reads} per-session reads over {cycles} poll cycles for {SESSIONS} changed sessions");
    if reads > SESSIONS as u64 {
        return Err(format!(
            "expected each changed session to be read in full at most once, got {reads} reads: {busy:?}"
        ));
    }
    let lists = apiserver_requests(&ctx.client, "LIST", "maintenanceapprovals").await? - lists_before;
    println!("changed: {lists} LISTs of MaintenanceApprovals for those reconciles");
    // The counter is the API server's, for every namespace: tests running
    // alongside start controllers (one initial LIST each). Per reconcile
    // would be at least one per changed session.
    if lists >= f64::from(SESSIONS) / 2.0 {
        return Err(format!("reconciles listed MaintenanceApprovals {lists} times"));
    }

    // They all end: the poller reads them for all objects at once, one
    // session listing and one action listing for ids this close, and the
    // objects' reconciles read nothing more for them.
    sim.state.reset_calls();
    sim.state.advance(Duration::from_secs(60));
    all_in(&ctx, &[Phase::Succeeded, Phase::PartiallySucceeded, Phase::Failed]).await?;
    let ended = sim.state.calls();
    let action_reads = ended.get(ACTIONS).copied().unwrap_or(0);
    let session_reads = ended.get(ONE).copied().unwrap_or(0);
    println!(
        "ended: {action_reads} action-list calls and {session_reads} per-session reads for {SESSIONS} ended sessions"
    );
    // A listing per cycle in which some ended (a few cycles), never one per
    // session, and no per-session read; log reads only for those that did
    // not pass.
    let not_passed = ctx
        .api::<MaintenanceSession>()
        .list(&Default::default())
        .await
        .map_err(|e| e.to_string())?
        .items
        .iter()
        .filter(|o| o.status.as_ref().and_then(|s| s.phase) != Some(Phase::Succeeded))
        .count() as u64;
    let log_reads = ended.get(LOGS).copied().unwrap_or(0);
    if action_reads > 4 || session_reads > 0 || log_reads > not_passed {
        return Err(format!(
            "ended sessions must be read together, not one by one ({not_passed} did not pass): {ended:?}"
        ));
    }
    // Settled: looking at every object again costs no ImmyBot call but the
    // poll (a first round of nudges lets reconciles already in flight finish).
    for id in 1..=SESSIONS {
        ctx.nudge(&format!("pc-{id}"), Duration::from_secs(30)).await?;
    }
    sim.state.reset_calls();
    for id in 1..=SESSIONS {
        ctx.nudge(&format!("pc-{id}"), Duration::from_secs(30)).await?;
    }
    let again: u64 = sim
        .state
        .calls()
        .iter()
        .filter(|(route, _)| !route.contains("oauth2") && route.as_str() != DX)
        .map(|(_, n)| n)
        .sum();
    println!("looked at again: {again} ImmyBot calls for {SESSIONS} settled objects");
    if again != 0 {
        return Err(format!("settled objects cost ImmyBot calls: {:?}", sim.state.calls()));
    }
    Ok(())
}

/// With a two-minute poll interval, a session that ends within a second
/// of its start is seen by the poller's one early look (2 s after the
/// start was answered, the budget free), not at the next interval: the
/// object is final well inside 30 s. Without the look it would take the
/// interval.
async fn a_session_that_ends_at_once_is_seen_without_waiting_for_the_interval(ctx: TestContext) -> TestResult {
    let sim = crate::harness::simulator(150).await?;
    let controller = ctx
        .controller_customized(&sim, ApprovalPolicy::default(), |c| {
            c.timing.poll_active = Duration::from_secs(120);
            c.timing.poll_idle = Duration::from_secs(120);
        })
        .await?;
    create_session(
        &ctx,
        "quick",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-31", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    crate::lifecycle::approve(&ctx, "quick", "bob").await?;
    let listed_before = sim.state.call_count(DX);
    let done = ctx.wait_phase("quick", Phase::Succeeded, Duration::from_secs(30)).await;
    let listings = sim.state.call_count(DX) - listed_before;
    controller.stop().await;
    done.map_err(|e| format!("{e} ({listings} listings since the approval)"))?;
    Ok(())
}
