//! How many ImmyBot calls reading per-action results costs for one tenant-wide
//! maintenance session, by tenant size, against the simulator (live shape).
//! Prints figures; nothing is asserted here (see docs/immybot-api.md).
//!
//!     cargo run --release --example action_cost -- 100 1000 5000
//!
//! For each size: the calls to `GET /api/v1/maintenance-actions/dx` while
//! the sessions run (after detection), when they have all ended, and when
//! the same object is looked at again (everything mirrored), next to the
//! one-call-per-session cost of reading each session on its own.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use immybot_client::{
    ImmyBotClient, Limits, MaintenanceSession, Secret, StartEndpoint, StartOutcome, StartRequest, TenantTarget,
};
use immybot_operator::controller::{ImmyBotCache, attach_actions};
use immybot_sim::{ClockMode, FleetSeed, RunningSim, SimConfig};

const ACTIONS: &str = "GET /api/v1/maintenance-actions/dx";

async fn sessions(client: &ImmyBotClient, ids: &[i32]) -> anyhow::Result<Vec<MaintenanceSession>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(client.session(*id, false, false).await?);
    }
    Ok(out)
}

async fn measure(size: u32) -> anyhow::Result<()> {
    let config = SimConfig {
        seed: FleetSeed::generate(1, size),
        clock: ClockMode::Manual,
        ..Default::default()
    };
    let sim = RunningSim::start(config, "127.0.0.1:0".parse()?).await?;
    let mut client_config = sim.client_config("immybot-operator", &Secret::new("simulator-secret"));
    client_config.limits = Limits {
        requests_per_second: 100_000.0,
        burst: 100_000,
        max_concurrent: 16,
        ..Default::default()
    };
    let client = ImmyBotClient::new(client_config)?;
    let request = StartRequest {
        tenants: Some(vec![TenantTarget { tenant_id: 1 }]),
        full_maintenance: true,
        session_group_id: Some(uuid::Uuid::new_v4()),
        ..Default::default()
    };
    let ids: Vec<i32> = match client.start(&request, StartEndpoint::Immediate).await? {
        StartOutcome::Started { started, .. } => started.iter().map(|s| s.session_id).collect(),
        other => anyhow::bail!("unexpected start outcome {other:?}"),
    };
    let cache = ImmyBotCache::default();
    let row = |phase: &str, calls: u64, took: Duration, rows: usize| {
        println!(
            "| {size:>6} | {phase:<22} | {calls:>5} | {:>6} | {rows:>7} | {:>7.0} |",
            ids.len(),
            took.as_secs_f64() * 1000.0
        );
    };
    // Detection has run on every computer; execution runs.
    sim.state.advance(Duration::from_secs(8));
    for (phase, advance) in [
        ("running (after detection)", 0),
        ("all ended", 60),
        ("looked at again", 0),
    ] {
        sim.state.advance(Duration::from_secs(advance));
        let mut observed = sessions(&client, &ids).await?;
        sim.state.reset_calls();
        let started = Instant::now();
        attach_actions(&client, &cache, "object-uid", &mut observed, None).await?;
        let took = started.elapsed();
        let rows: usize = observed
            .iter()
            .map(|s| s.maintenance_actions.as_ref().map_or(0, Vec::len))
            .sum();
        row(phase, sim.state.call_count(ACTIONS), took, rows);
    }
    sim.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<u32> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 1000] } else { sizes };
    println!(
        "| computers | phase | action-list calls | one call per session would be | action rows read (NoAction counted, not read) | ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for size in sizes {
        measure(size).await?;
    }
    Ok(())
}
