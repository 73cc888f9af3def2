//! Finding sessions from kubectl with RBAC alone: `kubectl immybot history`
//! and `active` ask through a SessionSearch the operator answers once,
//! including sessions ImmyBot started itself; a search is bounded (its
//! limit, a 5,000-computer tenant, the live searches of a namespace, its
//! ttl); `list`, `get` and `wait` read MaintenanceSessions.

use std::time::Duration;

use immybot_client::{ComputerTarget, StartRequest, TenantTarget};
use immybot_operator::api::{MaintenanceSession, Phase, SearchPhase, SessionSearch};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{FleetSeed, RunningSim};
use kube::api::{ListParams, PostParams};

use crate::harness::{
    Context as _, TestContext, TestFn, TestResult, fleet, manual_simulator, simulator, simulator_of, wait_for,
};
use crate::lifecycle::{approve, approved_run, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        history_finds_failed_sessions_immybot_started_itself,
        active_lists_what_runs_across_the_fleet,
        a_search_stays_bounded_on_a_5000_computer_tenant,
        an_ambiguous_name_is_refused_with_the_candidates,
        list_get_and_wait_read_sessions_as_kubectl_would,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const SECRET: &str = "sk-live-5be1-DO-NOT-LEAK";

/// Starts a session for each computer in ImmyBot, as someone else would.
fn started_outside(sim: &RunningSim, req: StartRequest) -> Result<Vec<i32>, String> {
    let started = sim
        .state
        .with_engine(|e, now| e.start(&req, now))
        .map_err(|e| format!("{e:?}"))?;
    Ok(started.started.iter().map(|s| s.session_id).collect())
}

fn computer(id: i32) -> StartRequest {
    StartRequest {
        computers: Some(vec![ComputerTarget { computer_id: id }]),
        full_maintenance: true,
        ..Default::default()
    }
}

async fn ended(sim: &RunningSim, ids: &[i32]) -> Result<(), String> {
    wait_for("the sessions to end in ImmyBot", LONG, || async {
        let ledger = sim.state.ledger();
        let done = ids.iter().all(|id| {
            ledger
                .iter()
                .any(|e| e.id == *id && !matches!(e.status.as_str(), "Running" | "Created" | "Pending"))
        });
        Ok(done.then_some(()))
    })
    .await
}

async fn history_finds_failed_sessions_immybot_started_itself(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.update_shape(|s| s.job_args_secret = Some(SECRET.into()));
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // One session the operator starts (101 passes), then two ImmyBot starts
    // itself: 102 fails an action, 201 (another tenant) passes.
    let mine = approved_run(&ctx, "mine", 101, "CHG-98", Phase::Succeeded).await?;
    let mine_id = mine
        .status
        .iter()
        .flat_map(|s| s.computers.iter())
        .map(|c| c.session_id)
        .next()
        .ok_or("no session recorded")?;
    let outside = [
        started_outside(&sim, computer(102))?,
        started_outside(&sim, computer(201))?,
    ]
    .concat();
    ended(&sim, &outside).await?;
    let (failed_id, other_id) = (outside[0], outside[1]);

    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["history", "--computer", "102", "--failed"], None).await?;
    if !ok || !out.contains(&failed_id.to_string()) || !out.contains("PartialPassed") {
        return Err(format!(
            "history --computer 102 --failed should list session {failed_id}: {out}"
        ));
    }
    if !out.contains(&format!("kubectl immybot import {failed_id}")) || out.contains(SECRET) {
        return Err(format!(
            "a session nobody imported says how to, and nothing secret shows: {out}"
        ));
    }
    // By name, as people know computers: resolved once by the operator.
    let (ok, by_name) = crate::plugin::plugin(
        &ctx,
        "carol",
        &["history", "--computer", "finance-lt01", "--failed"],
        None,
    )
    .await?;
    if !ok || !by_name.contains(&failed_id.to_string()) || by_name.contains(&mine_id.to_string()) {
        return Err(format!("history --computer finance-lt01 --failed: {by_name}"));
    }
    let (ok, unknown) = crate::plugin::plugin(&ctx, "carol", &["history", "--computer", "NO-SUCH-PC"], None).await?;
    if ok || !unknown.contains("matches no ImmyBot computer") {
        return Err(format!("an unknown name is refused, saying so: {unknown}"));
    }
    // A tenant's, by name and by id, with the object that started one of them.
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["history", "--tenant", "fabrikam"], None).await?;
    if !ok || !out.contains(&failed_id.to_string()) || out.contains(&format!("\n{other_id} ")) {
        return Err(format!("history --tenant fabrikam: {out}"));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["history", "--tenant", "2"], None).await?;
    let mine_row = out
        .lines()
        .find(|l| l.starts_with(&mine_id.to_string()))
        .unwrap_or_default();
    if !ok
        || !mine_row.ends_with("mine")
        || !out.contains(&failed_id.to_string())
        || out.contains(&format!("\n{other_id} "))
    {
        return Err(format!("history --tenant 2: {out}"));
    }
    // A date range: created before the first outside session, only ours.
    let first_outside = sim
        .state
        .ledger()
        .into_iter()
        .find(|e| e.id == failed_id)
        .map(|e| e.created)
        .ok_or("no ledger entry")?;
    let until = first_outside.to_string();
    let (ok, out) =
        crate::plugin::plugin(&ctx, "carol", &["history", "--since", "1d", "--until", &until], None).await?;
    if !ok || !out.contains(&mine_id.to_string()) || out.contains(&failed_id.to_string()) {
        return Err(format!("history --until {until}: {out}"));
    }
    // Each search was answered and then deleted by the plugin.
    let left = ctx
        .api::<SessionSearch>()
        .list(&ListParams::default())
        .await
        .ctx("list searches")?;
    controller.stop().await;
    if !left.items.is_empty() {
        return Err(format!("{} searches were left behind", left.items.len()));
    }
    Ok(())
}

async fn active_lists_what_runs_across_the_fleet(ctx: TestContext) -> TestResult {
    // A manual clock: what ImmyBot started stays in progress.
    let sim = manual_simulator(fleet()).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let running = [
        started_outside(&sim, computer(101))?,
        started_outside(&sim, computer(201))?,
    ]
    .concat();
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["active"], None).await?;
    controller.stop().await;
    if !ok || !running.iter().all(|id| out.contains(&format!("\n{id} "))) {
        return Err(format!("active should list sessions {running:?}: {out}"));
    }
    Ok(())
}

fn search(name: &str, spec: serde_json::Value) -> Result<SessionSearch, String> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "SessionSearch",
        "metadata": {"name": name}, "spec": spec,
    }))
    .ctx("search fixture")
}

async fn wait_answered(ctx: &TestContext, name: &str) -> Result<SessionSearch, String> {
    wait_for(&format!("search {name} to be answered"), LONG, || async {
        let s = ctx.api::<SessionSearch>().get(name).await.map_err(|e| e.to_string())?;
        let done = s
            .status
            .as_ref()
            .is_some_and(|st| matches!(st.phase, Some(SearchPhase::Complete | SearchPhase::Failed)));
        Ok(done.then_some(s))
    })
    .await
}

async fn a_search_stays_bounded_on_a_5000_computer_tenant(ctx: TestContext) -> TestResult {
    let sim = simulator_of(FleetSeed::generate(1, 5000), 60_000).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let started = started_outside(
        &sim,
        StartRequest {
            tenants: Some(vec![TenantTarget { tenant_id: 1 }]),
            full_maintenance: true,
            ..Default::default()
        },
    )?;
    if started.len() < 4000 {
        return Err(format!(
            "the tenant should have thousands of sessions, started {}",
            started.len()
        ));
    }
    let api = ctx.api_as::<SessionSearch>("carol").await?;
    api.create(
        &PostParams::default(),
        &search("whole-tenant", serde_json::json!({"tenantId": 1, "limit": 500}))?,
    )
    .await
    .ctx("create search")?;
    let answered = wait_answered(&ctx, "whole-tenant").await?;
    let st = answered.status.clone().unwrap_or_default();
    let size = serde_json::to_vec(&answered).map_err(|e| e.to_string())?.len();
    if st.found != Some(500) || !st.truncated || st.sessions.len() != 500 || size > 256 * 1024 {
        return Err(format!(
            "500 of {} sessions, truncated, within 256 KiB: found {:?}, truncated {}, {size} bytes",
            started.len(),
            st.found,
            st.truncated
        ));
    }
    // The namespace bound: 19 more live searches fill it; the next is refused.
    for i in 0..19 {
        api.create(
            &PostParams::default(),
            &search(&format!("more-{i:02}"), serde_json::json!({"tenantId": 1, "limit": 1}))?,
        )
        .await
        .ctx("create search")?;
    }
    for i in 0..19 {
        wait_answered(&ctx, &format!("more-{i:02}")).await?;
    }
    api.create(
        &PostParams::default(),
        &search("one-too-many", serde_json::json!({"tenantId": 1, "limit": 1}))?,
    )
    .await
    .ctx("create search")?;
    let refused = wait_answered(&ctx, "one-too-many").await?;
    let st = refused.status.unwrap_or_default();
    if st.phase != Some(SearchPhase::Failed) || !st.message.unwrap_or_default().contains("at most 20") {
        return Err("the 21st live search of a namespace should be refused".into());
    }
    // An answer goes away with its ttl.
    api.create(
        &PostParams::default(),
        &search(
            "short-lived",
            serde_json::json!({"tenantId": 1, "limit": 1, "ttl": "2s"}),
        )?,
    )
    .await
    .ctx("create search")?;
    wait_for("the short-lived search to delete itself", LONG, || async {
        match ctx.api::<SessionSearch>().get_opt("short-lived").await {
            Ok(None) => Ok(Some(())),
            Ok(Some(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    controller.stop().await;
    Ok(())
}

async fn list_get_and_wait_read_sessions_as_kubectl_would(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "listed",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-99", "target": {"computer": {"id": 102}}}),
    )
    .await?;
    ctx.wait_phase("listed", Phase::AwaitingApproval, LONG).await?;
    // A wait for the wrong final phase fails as soon as the session ends.
    // Meanwhile a watch prints the object as it goes (its own deadline
    // ends it; the session ends within a few seconds of the approval).
    let (waited, watched, approved) = tokio::join!(
        crate::plugin::plugin(
            &ctx,
            "carol",
            &["wait", "listed", "--for=phase=Succeeded", "--timeout", "25s"],
            None,
        ),
        crate::plugin::plugin(&ctx, "carol", &["list", "--watch", "--timeout", "15s"], None),
        approve(&ctx, "listed", "bob"),
    );
    approved?;
    let (ok, out) = watched?;
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("listed ")).collect();
    let headers = out.lines().filter(|l| l.starts_with("NAME ")).count();
    // The first row is the object as the watch found it: waiting for
    // approval, or (when the approval won the race with the plugin's
    // start, as it does on a loaded machine) already starting; never final.
    let first_not_final = rows.first().is_some_and(|r| {
        ["AwaitingApproval", "Starting", "Queued", "Running"]
            .iter()
            .any(|p| r.contains(p))
    });
    if !ok
        || headers != 1
        || rows.len() < 2
        || !first_not_final
        || !rows.last().is_some_and(|r| r.contains("PartiallySucceeded"))
    {
        return Err(format!(
            "list --watch should print the header once, then each change: {out}"
        ));
    }
    let (ok, out) = waited?;
    if ok || !out.contains("ended in phase PartiallySucceeded, not phase=Succeeded") {
        return Err(format!("wait should fail on another final phase: {out}"));
    }
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "carol",
        &["wait", "listed", "--for=phase=Succeeded,PartiallySucceeded"],
        None,
    )
    .await?;
    if !ok || !out.contains("listed reached phase PartiallySucceeded") {
        return Err(format!("wait --for=phase=Succeeded,PartiallySucceeded: {out}"));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["list", "-A"], None).await?;
    let row = out.lines().find(|l| l.contains(" listed ")).unwrap_or_default();
    if !ok || !out.starts_with("NAMESPACE") || !row.contains("PartiallySucceeded") || !row.contains("bob") {
        return Err(format!("list -A: {out}"));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["get", "listed", "-o", "json"], None).await?;
    let obj: Result<MaintenanceSession, _> = serde_json::from_str(&out);
    controller.stop().await;
    match obj {
        Ok(o) if ok && o.status.as_ref().and_then(|s| s.phase) == Some(Phase::PartiallySucceeded) => Ok(()),
        _ => Err(format!("get -o json: {out}")),
    }
}

async fn an_ambiguous_name_is_refused_with_the_candidates(ctx: TestContext) -> TestResult {
    // Two tenants each have a computer called KIOSK.
    let mut seed = crate::harness::fleet();
    for (id, tenant) in [(901, 3), (902, 4)] {
        seed.computers.push(immybot_sim::SeedComputer {
            id,
            name: "KIOSK".into(),
            tenant_id: tenant,
            online: true,
            postpones: false,
            software: vec![],
        });
    }
    let sim = crate::harness::simulator_of(seed, 150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["history", "--computer", "kiosk"], None).await?;
    if ok || !out.contains("matches more than one ImmyBot computer") || !out.contains("901") || !out.contains("902") {
        return Err(format!("an ambiguous name is refused with both candidates: {out}"));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["history", "--computer", "901"], None).await?;
    if !ok {
        return Err(format!("by id it is one computer: {out}"));
    }
    Ok(())
}
