//! Surviving faults (issue 10, part 3), with small counts in CI; larger
//! counts by environment variable (docs/reliability.md):
//! - the operator process SIGKILLed at random moments while sessions start;
//! - ImmyBot misbehaving in every way at once, 10% of requests each;
//! - the API server unreachable mid-run;
//! - two replicas, the leader SIGKILLed mid-start: the standby takes over.
//!
//! Each checks the two promises from the simulator's ledger: at most one
//! ImmyBot session per object and attempt, and every object in its true
//! phase (the one ImmyBot's outcome means).

use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalDigest, ApprovalPolicy, CrashPoint, SessionGroupId};
use immybot_sim::{FaultKind, FaultRule, FleetSeed, RunningSim};
use kube::ResourceExt as _;
use rand::Rng as _;

use crate::harness::{
    ApiServerProxy, TestContext, TestFn, TestResult, manual_simulator, simulator_of, spawn_operator_binary, wait_for,
};
use crate::lifecycle::{approve_digest, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        sigkill_at_random_moments_never_starts_twice,
        a_mix_of_immybot_faults_still_ends_every_session_in_its_true_phase,
        an_api_server_outage_mid_run_loses_nothing,
        two_replicas_with_the_leader_killed_start_nothing_twice,
        a_congested_api_server_puts_off_progress_never_an_outcome,
    ]
}

/// The computers used: a generated tenant where every 10th computer has an
/// item that fails and every 13th is offline, so the true phases differ.
pub(crate) fn fleet(computers: usize) -> FleetSeed {
    FleetSeed::generate(1, computers.max(60) as u32)
}

fn spec(computer: i32) -> serde_json::Value {
    serde_json::json!({"requestedBy": "alice", "reason": "CHG-10", "target": {"computer": {"id": computer}}})
}

/// Creates a session and approves its digest as bob, without waiting for an
/// operator (none may be running).
pub(crate) async fn create_approved(ctx: &TestContext, name: &str, computer: i32) -> Result<(), String> {
    let obj = create_session(ctx, name, spec(computer)).await?;
    let digest = ApprovalDigest::of(&obj.uid().unwrap_or_default(), &obj.spec).to_string();
    approve_digest(ctx, name, "bob", &digest, None).await.map(drop)
}

/// The phases ImmyBot's outcome for one computer allows.
fn true_phases(ledger_status: &str) -> &'static [Phase] {
    match ledger_status {
        "Passed" => &[Phase::Succeeded],
        "Cancelled" => &[Phase::Cancelled],
        _ => &[Phase::Failed, Phase::PartiallySucceeded],
    }
}

/// Every object: exactly one ImmyBot session for its computer, carrying the
/// group id of its first attempt; its phase final and true.
pub(crate) async fn check_promises(
    ctx: &TestContext,
    sim: &RunningSim,
    objects: &[(String, i32)],
) -> Result<(), String> {
    let ledger = sim.state.ledger();
    for (name, computer) in objects {
        let obj: MaintenanceSession = ctx.api().get(name).await.map_err(|e| e.to_string())?;
        let group = SessionGroupId::for_attempt(&obj.uid().unwrap_or_default(), 1).0;
        let mine: Vec<_> = ledger.iter().filter(|e| e.computer_id == *computer).collect();
        if mine.len() != 1 || mine[0].session_group_id != Some(group) {
            return Err(format!(
                "{name}: expected one ImmyBot session of group {group}, ledger has {mine:?}"
            ));
        }
        let phase = obj.status.as_ref().and_then(|s| s.phase);
        let allowed = true_phases(&mine[0].status);
        if !phase.is_some_and(|p| allowed.contains(&p)) {
            return Err(format!(
                "{name}: ImmyBot says {}, so the phase must be one of {allowed:?}, not {phase:?}",
                mine[0].status
            ));
        }
    }
    Ok(())
}

pub(crate) async fn all_final(ctx: &TestContext, objects: &[(String, i32)], deadline: Duration) -> Result<(), String> {
    wait_for("every object to reach a final phase", deadline, || async {
        let list = ctx
            .api::<MaintenanceSession>()
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let open: Vec<String> = list
            .items
            .iter()
            .filter(|o| objects.iter().any(|(n, _)| Some(n) == o.metadata.name.as_ref()))
            .filter(|o| !o.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final))
            .map(|o| format!("{}: {:?}", o.name_any(), o.status.as_ref().and_then(|s| s.phase)))
            .collect();
        let seen = list.items.len();
        if open.is_empty() && seen >= objects.len() {
            Ok(Some(()))
        } else {
            Err(format!("not final yet: {open:?}"))
        }
    })
    .await
}

/// The real binary's timing in these tests: short grace, timeout and poll.
pub(crate) const QUICK: [&str; 6] = [
    "--start-grace-seconds",
    "3",
    "--request-timeout-seconds",
    "2",
    "--poll-active-seconds",
    "1",
];

/// Starts take `millis` (with `probability`, or always), so that kills land
/// inside them.
pub(crate) fn slow_starts(sim: &RunningSim, millis: u64, probability: Option<f64>) {
    sim.state.add_fault(FaultRule {
        route: "POST /api/v1/run-immy-service".into(),
        fault: FaultKind::Latency { millis },
        times: None,
        probability,
    });
}

/// Rounds from `IMMYBOT_E2E_KILL_ROUNDS` (CI: 3; the large run: 200).
fn kill_rounds() -> usize {
    std::env::var("IMMYBOT_E2E_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

async fn sigkill_at_random_moments_never_starts_twice(ctx: TestContext) -> TestResult {
    let per_round = 3;
    let rounds = kill_rounds();
    let sim = simulator_of(fleet(rounds * per_round), 100).await?;
    // Kills land inside starts as well as between them.
    slow_starts(&sim, 300, Some(0.5));
    // Without leader election, a restarted process takes over at once (a
    // killed leader's lease would otherwise hold the next one for 15 s).
    let flags: Vec<&str> = ["--no-leader-election"].into_iter().chain(QUICK).collect();
    let mut all = Vec::new();
    for round in 0..rounds {
        let mut objects = Vec::new();
        for k in 0..per_round {
            // A computer of its own for every object: the ledger check is per computer.
            let computer = (round * per_round + k + 1) as i32;
            let name = format!("r{round}-c{computer}");
            create_approved(&ctx, &name, computer).await?;
            objects.push((name, computer));
        }
        let mut victim = spawn_operator_binary(&ctx, &sim, &flags, "warn")?;
        // The random moment: anywhere from before the caches sync to after
        // the starts were answered.
        let moment = rand::rng().random_range(0..1500);
        tokio::time::sleep(Duration::from_millis(moment)).await;
        victim.start_kill().map_err(|e| format!("SIGKILL: {e}"))?;
        let _ = victim.wait().await;
        let mut survivor = spawn_operator_binary(&ctx, &sim, &flags, "warn")?;
        all_final(&ctx, &objects, Duration::from_secs(90)).await?;
        survivor.start_kill().map_err(|e| format!("SIGKILL: {e}"))?;
        let _ = survivor.wait().await;
        all.extend(objects);
    }
    check_promises(&ctx, &sim, &all).await
}

async fn a_mix_of_immybot_faults_still_ends_every_session_in_its_true_phase(ctx: TestContext) -> TestResult {
    let sim = simulator_of(fleet(60), 150).await?;
    for fault in [
        FaultKind::Status { status: 500 },
        FaultKind::RateLimited {
            retry_after_seconds: 1,
            http_date: false,
        },
        FaultKind::Hang,
        FaultKind::MalformedJson,
        FaultKind::HtmlPage,
        FaultKind::DropResponse,
    ] {
        sim.state.add_fault(FaultRule {
            route: "*".into(),
            fault,
            times: None,
            probability: Some(0.1),
        });
    }
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Passing, failing (10, 20) and offline (13) computers.
    let objects: Vec<(String, i32)> = [3, 10, 13, 20, 22, 31]
        .into_iter()
        .map(|c| (format!("mix-{c}"), c))
        .collect();
    for (name, computer) in &objects {
        create_approved(&ctx, name, *computer).await?;
    }
    all_final(&ctx, &objects, Duration::from_secs(240)).await?;
    let faulted: u64 = sim.state.calls().values().sum();
    check_promises(&ctx, &sim, &objects).await?;
    sim.state.clear_faults();
    if faulted < 20 {
        return Err(format!("too few calls ({faulted}) for the faults to have mattered"));
    }
    Ok(())
}

async fn an_api_server_outage_mid_run_loses_nothing(ctx: TestContext) -> TestResult {
    let sim = simulator_of(fleet(60), 600).await?;
    let proxy = ApiServerProxy::start(&ctx).await?;
    let _controller = ctx
        .controller_with_client(&sim, proxy.client().await?, ApprovalPolicy::default())
        .await?;
    let before: Vec<(String, i32)> = [4, 5].into_iter().map(|c| (format!("before-{c}"), c)).collect();
    for (name, computer) in &before {
        create_approved(&ctx, name, *computer).await?;
    }
    for (name, _) in &before {
        ctx.wait_phase(name, Phase::Running, Duration::from_secs(30)).await?;
    }
    // The API server goes away while the sessions run and end in ImmyBot,
    // and an object is created and approved meanwhile (by the test, which
    // does not go through the proxy).
    proxy.set_up(false);
    let during = vec![("during-6".to_string(), 6)];
    create_approved(&ctx, &during[0].0, 6).await?;
    wait_for(
        "the sessions to end in ImmyBot during the outage",
        Duration::from_secs(30),
        || async {
            let ledger = sim.state.ledger();
            let ended = ledger
                .iter()
                .filter(|e| [4, 5].contains(&e.computer_id) && !matches!(e.status.as_str(), "Running" | "Created"))
                .count();
            if ended == 2 {
                Ok(Some(()))
            } else {
                Err(format!("ledger: {ledger:?}"))
            }
        },
    )
    .await?;
    proxy.set_up(true);
    let all: Vec<(String, i32)> = before.into_iter().chain(during).collect();
    all_final(&ctx, &all, Duration::from_secs(90)).await?;
    check_promises(&ctx, &sim, &all).await?;
    if proxy.refused() == 0 {
        return Err("the proxy refused nothing: the outage did not happen".into());
    }
    Ok(())
}

/// Waits until `identity` holds the operator's Lease in the test namespace.
async fn wait_lease_holder(ctx: &TestContext, identity: &str, deadline: Duration) -> TestResult {
    use k8s_openapi::api::coordination::v1::Lease;
    wait_for(&format!("{identity} to take the Lease"), deadline, || async {
        let lease = ctx
            .api::<Lease>()
            .get_opt("immybot-operator")
            .await
            .map_err(|e| format!("reading the Lease: {e}"))?;
        let holder = lease.and_then(|l| l.spec).and_then(|s| s.holder_identity);
        if holder.as_deref() == Some(identity) {
            Ok(Some(()))
        } else {
            Err(format!("held by {holder:?}"))
        }
    })
    .await
}

async fn two_replicas_with_the_leader_killed_start_nothing_twice(ctx: TestContext) -> TestResult {
    let sim = simulator_of(fleet(60), 100).await?;
    slow_starts(&sim, 400, None);
    let flags = |identity: &'static str| -> Vec<&'static str> {
        // One ImmyBot call at a time: the starts go out one by one, so the
        // kill finds some made and some not.
        ["--identity", identity, "--max-concurrent-requests", "1"]
            .into_iter()
            .chain(QUICK)
            .collect()
    };
    let mut first = spawn_operator_binary(&ctx, &sim, &flags("replica-a"), "warn")?;
    wait_lease_holder(&ctx, "replica-a", Duration::from_secs(30)).await?;
    let mut second = spawn_operator_binary(&ctx, &sim, &flags("replica-b"), "warn")?;

    let objects: Vec<(String, i32)> = (41..=46).map(|c| (format!("ha-{c}"), c)).collect();
    for (name, computer) in &objects {
        create_approved(&ctx, name, *computer).await?;
    }
    // The leader dies once the first start is on its way to ImmyBot (the
    // starts take 400 ms each), so the kill lands mid-run for certain.
    wait_for("the leader to begin starting", Duration::from_secs(30), || async {
        Ok((sim
            .state
            .calls()
            .keys()
            .any(|r| r.starts_with("POST /api/v1/run-immy-service"))
            || !sim.state.ledger().is_empty())
        .then_some(()))
    })
    .await?;
    first.start_kill().map_err(|e| format!("SIGKILL: {e}"))?;
    let _ = first.wait().await;
    let started_by_a = sim.state.ledger().len();

    // The standby takes over once the dead leader's Lease expires.
    wait_lease_holder(&ctx, "replica-b", Duration::from_secs(60)).await?;
    all_final(&ctx, &objects, Duration::from_secs(120)).await?;
    second.start_kill().map_err(|e| format!("SIGKILL: {e}"))?;
    let _ = second.wait().await;
    check_promises(&ctx, &sim, &objects).await?;
    if started_by_a >= objects.len() {
        return Err(format!(
            "the leader had started all {started_by_a} sessions before it was killed: the takeover was not tested"
        ));
    }
    Ok(())
}

/// Counts the status writes the controller put off.
#[derive(Default)]
struct DeferralCounter(std::sync::atomic::AtomicUsize);

impl immybot_operator::controller::ControllerObserver for DeferralCounter {
    fn status_write_deferred(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The write gate's promise (docs/design.md, "API-server writes"): while
/// outcomes queue, where a running session stands may wait, and nothing put
/// off is lost. The test makes the queue itself: it holds the gate's only
/// slot, with a final write of its own waiting, while every session moves;
/// then every object still ends in its true phase.
async fn a_congested_api_server_puts_off_progress_never_an_outcome(ctx: TestContext) -> TestResult {
    use immybot_operator::controller::write_gate::{WriteGate, WritePriority};
    const OBJECTS: i32 = 12;
    let mut seed = FleetSeed::generate(1, OBJECTS as u32);
    seed.computers.iter_mut().for_each(|c| c.online = true);
    let sim = manual_simulator(seed).await?;
    let gate = WriteGate::new(1);
    let deferrals = std::sync::Arc::new(DeferralCounter::default());
    let policy = ApprovalPolicy {
        unapproved_namespaces: [ctx.namespace.clone()].into(),
        ..Default::default()
    };
    let (g, d) = (gate.clone(), deferrals.clone());
    let _controller = ctx
        .controller_customized(&sim, policy, move |c| {
            c.write_gate = g;
            c.observer = d;
        })
        .await?;
    let objects: Vec<(String, i32)> = (1..=OBJECTS).map(|id| (format!("pc-{id}"), id)).collect();
    for (name, computer) in &objects {
        create_session(&ctx, name, spec(*computer)).await?;
    }
    // The manual clock stands still: every session is created and queued.
    for (name, _) in &objects {
        ctx.wait_phase(name, Phase::Queued, Duration::from_secs(60)).await?;
    }
    // The test takes the only slot once the queue has drained (the Queued
    // writes' events may still wait for it under load: taking the slot
    // then would keep them waiting beside the test's write), and queues a
    // final status of its own behind it, as a burst of sessions ending
    // would.
    wait_for("the write queue to drain", Duration::from_secs(30), || async {
        Ok((gate.waiting() == 0).then_some(()))
    })
    .await?;
    let (held, _) = gate.acquire(WritePriority::Final).await;
    // Whatever slipped in between the drain and the slot waits too.
    let before = gate.waiting();
    let ending = {
        let gate = gate.clone();
        tokio::spawn(async move { gate.acquire(WritePriority::Final).await })
    };
    wait_for("the final write to queue", Duration::from_secs(10), || async {
        Ok((gate.waiting() == before + 1).then_some(()))
    })
    .await?;
    // Every session starts running: seeing a final status queued, every
    // object puts its Running off.
    sim.state.advance(Duration::from_secs(2));
    wait_for(
        "every object to put its Running off",
        Duration::from_secs(30),
        || async {
            let n = deferrals.0.load(std::sync::atomic::Ordering::SeqCst);
            if n >= OBJECTS as usize {
                Ok(Some(()))
            } else {
                Err(format!("{n} deferrals, {} writes waiting", gate.waiting()))
            }
        },
    )
    .await?;
    // Put off, not queued: only the test's own write waits for the slot.
    if gate.waiting() != before + 1 {
        return Err(format!(
            "expected only the queued final write to wait (and {before} before it), {} writes wait",
            gate.waiting()
        ));
    }
    // Not lost: with the queue gone and ImmyBot unchanged (no poll will
    // trigger them), the deferred objects come back and show Running.
    drop(held);
    drop(ending.await.map_err(|e| e.to_string())?);
    for (name, _) in &objects {
        ctx.wait_phase(name, Phase::Running, Duration::from_secs(30)).await?;
    }
    // And the outcomes: every object ends in its true phase, with one
    // ImmyBot session each.
    sim.state.advance(Duration::from_secs(3600));
    all_final(&ctx, &objects, Duration::from_secs(60)).await?;
    check_promises(&ctx, &sim, &objects).await
}
