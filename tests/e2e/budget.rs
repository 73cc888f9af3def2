//! The ImmyBot budget serves work by what it is worth: a start goes before
//! every read already waiting, on the real API server with the simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use immybot_client::{ComputerTarget, ImmyBotClient, Priority, StartRequest};
use immybot_operator::api::Phase;
use immybot_operator::controller::ApprovalPolicy;
use immybot_sim::FleetSeed;

use crate::harness::{TestContext, TestFn, TestResult, manual_simulator, wait_for};
use crate::lifecycle::create_session;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![a_start_never_queues_behind_reads]
}

const RUNNING: i32 = 200;
const START: &str = "POST /api/v1/run-immy-service";

async fn a_start_never_queues_behind_reads(ctx: TestContext) -> TestResult {
    // 200 computers running a session each (started in ImmyBot directly),
    // and one more for the object this test applies.
    let mut seed = FleetSeed::generate(1, RUNNING as u32 + 1);
    seed.computers.iter_mut().for_each(|c| c.online = true);
    let sim = manual_simulator(seed).await?;
    let ids: Vec<i32> = sim.state.with_engine(|e, now| {
        (1..=RUNNING)
            .filter_map(|computer| {
                let request = StartRequest {
                    computers: Some(vec![ComputerTarget { computer_id: computer }]),
                    full_maintenance: true,
                    ..Default::default()
                };
                e.start(&request, now).ok()?.started.first().map(|s| s.session_id)
            })
            .collect()
    });
    if ids.len() != RUNNING as usize {
        return Err(format!("{} sessions started in the simulator", ids.len()));
    }
    // The operator's own client, at the default budget (10 a second).
    let client: Arc<std::sync::Mutex<Option<ImmyBotClient>>> = Arc::default();
    let policy = ApprovalPolicy {
        unapproved_namespaces: [ctx.namespace.clone()].into(),
        ..Default::default()
    };
    let cell = client.clone();
    let _controller = ctx
        .controller_customized(&sim, policy, move |c| {
            if let Ok(mut cell) = cell.lock() {
                *cell = Some(c.immybot.clone());
            }
        })
        .await?;
    let client = client.lock().map_err(|e| e.to_string())?.clone().ok_or("no client")?;
    // Hold the budget: a progress read of every running session, queued in
    // the operator's budget (20 a second burst, then 10 a second: 20 s).
    let done = Arc::new(AtomicUsize::new(0));
    let reads: Vec<_> = ids
        .iter()
        .map(|&id| {
            let (client, done) = (client.at(Priority::Progress), done.clone());
            tokio::spawn(async move {
                let read = client.session(id, false, false).await;
                done.fetch_add(1, Ordering::SeqCst);
                read.map(drop).map_err(|e| e.to_string())
            })
        })
        .collect();
    wait_for("the reads to queue", Duration::from_secs(10), || async {
        Ok(client.is_busy().then_some(()))
    })
    .await?;
    // One more object: its start goes before the reads still waiting.
    let before = sim.state.call_count(START);
    create_session(
        &ctx,
        "urgent",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-24", "target": {"computer": {"id": RUNNING + 1}}}),
    )
    .await?;
    let served_before_start = wait_for("the start to reach ImmyBot", Duration::from_secs(30), || async {
        Ok((sim.state.call_count(START) > before).then(|| done.load(Ordering::SeqCst)))
    })
    .await?;
    println!("the start went out after {served_before_start} of {RUNNING} queued reads");
    // In arrival order it would have waited for all 200 (20 s); first, it
    // waits for those served while the object was created and reconciled.
    if served_before_start >= RUNNING as usize / 2 {
        return Err(format!(
            "the start waited behind {served_before_start} of {RUNNING} reads queued before it"
        ));
    }
    ctx.wait_phase("urgent", Phase::Queued, Duration::from_secs(60)).await?;
    for read in reads {
        read.await.map_err(|e| e.to_string())??;
    }
    if done.load(Ordering::SeqCst) != RUNNING as usize {
        return Err("every read is served in the end: nothing starves".into());
    }
    Ok(())
}
