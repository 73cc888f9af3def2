//! The scale benchmark: the operator binary against the test control plane
//! and the ImmyBot simulator, with figures, not pass/fail. `hack/bench.sh`
//! builds what it needs and runs it; docs/performance.md holds the results
//! and the command for every row.
//!
//! Workloads (`--workload`, size by `--size`):
//! - `tenant`: one session for a tenant of SIZE computers;
//! - `many`: SIZE single-computer sessions created at once;
//! - `steady`: SIZE single-computer sessions that keep running; measured
//!   over `--steady-seconds` once all run;
//! - `objects`: SIZE sessions nobody approves (no ImmyBot work): memory per
//!   object;
//! - `plan`: one session with `spec.plan` for a tenant of SIZE computers:
//!   to its plan, then approved, to its end (`plan.rs`).
#![forbid(unsafe_code)]

mod bed;
mod measure;
mod plan;
mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use immybot_operator::api::Phase;
use immybot_sim::FleetSeed;
use measure::{Objects, Sessions};
use workload::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Tenant,
    Many,
    Steady,
    Objects,
    Plan,
}

#[derive(Parser, Debug)]
#[command(about = "Benchmarks the operator binary against the test control plane and the simulator")]
struct Args {
    #[arg(long, value_enum)]
    workload: Workload,
    /// Computers in the tenant (tenant) or sessions (many, steady, objects).
    #[arg(long)]
    size: usize,
    /// The operator's ImmyBot budget (its `--requests-per-second`; 10 is the default).
    #[arg(long, default_value_t = 10.0)]
    immybot_rps: f64,
    /// ImmyBot requests the operator keeps in flight (its
    /// `--max-concurrent-requests`; 8 is the default).
    #[arg(long, default_value_t = 8)]
    immybot_concurrency: usize,
    /// The operator's API-server writes in flight (its
    /// `--max-concurrent-api-writes`; default: the operator's).
    #[arg(long)]
    api_writes: Option<usize>,
    /// The operator's active poll interval.
    #[arg(long, default_value_t = 1)]
    poll_seconds: u64,
    /// The operator's idle poll interval (its `--poll-idle-seconds`;
    /// default: the operator's). A short one once made a tenant read every
    /// running session one by one.
    #[arg(long)]
    poll_idle_seconds: Option<u64>,
    /// Real milliseconds per simulated stage (about five stages a session).
    #[arg(long, default_value_t = 200)]
    stage_ms: u64,
    /// Objects created (and floor writes made) at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long `steady` is measured.
    #[arg(long, default_value_t = 30)]
    steady_seconds: u64,
    /// Give up waiting after this long.
    #[arg(long, default_value_t = 1800)]
    deadline_seconds: u64,
    /// The operator binary (default: next to this example).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// Operator processes, each a shard with its own Lease serving the
    /// objects labelled for it (`many` and `objects` only). 1: one
    /// unsharded operator, as installed by default.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// Where the JSON goes (default target/bench/<workload>-<size>.json).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.shards == 0 || (args.shards > 1 && !matches!(args.workload, Workload::Many | Workload::Objects)) {
        anyhow::bail!("--shards takes 1, or more with --workload many or objects");
    }
    let binary = bed::operator_binary(args.operator.clone())?;
    let deadline = Duration::from_secs(args.deadline_seconds);
    let (seed, targets) = fleet(&args);
    let stage_ms = if args.workload == Workload::Steady {
        // Long enough that nothing changes while measured.
        3_600_000
    } else {
        args.stage_ms
    };

    eprintln!("bench: starting the control plane");
    let plane = bed::ControlPlane::start().await?;
    let client = plane.client().await?;
    bed::namespace(&client, "bench").await?;
    bed::namespace(&client, "floor").await?;

    let mut report = BTreeMap::<&str, serde_json::Value>::new();
    report.insert(
        "workload",
        serde_json::json!(format!("{:?}", args.workload).to_lowercase()),
    );
    report.insert("size", serde_json::json!(args.size));
    report.insert("immybotRps", serde_json::json!(args.immybot_rps));
    report.insert("immybotConcurrency", serde_json::json!(args.immybot_concurrency));
    report.insert("pollSeconds", serde_json::json!(args.poll_seconds));
    report.insert("pollIdleSeconds", serde_json::json!(args.poll_idle_seconds));
    report.insert("apiWrites", serde_json::json!(args.api_writes));
    report.insert("concurrency", serde_json::json!(args.concurrency));
    report.insert("date", serde_json::json!(jiff::Timestamp::now().to_string()));

    if matches!(args.workload, Workload::Many | Workload::Tenant) {
        eprintln!("bench: the floor ({} objects)", targets.len());
        let floor = workload::floor(&client, "floor", &targets, args.concurrency).await?;
        report.insert("floorSeconds", serde_json::json!(floor.as_secs_f64()));
        report.insert("floorWrites", serde_json::json!(workload::FLOOR_WRITES));
    }

    let sim = bed::simulator(seed, stage_ms).await?;
    let (sessions, sessions_task) = Sessions::watch(&sim);
    let mut operators = Vec::new();
    for shard in 0..args.shards {
        operators.push(
            bed::Operator::spawn(
                &plane,
                &sim,
                &bed::OperatorSettings {
                    binary: binary.clone(),
                    namespace: "bench".into(),
                    requests_per_second: args.immybot_rps,
                    max_concurrent_requests: args.immybot_concurrency,
                    poll_seconds: args.poll_seconds,
                    poll_idle_seconds: args.poll_idle_seconds,
                    max_concurrent_api_writes: args.api_writes,
                    shard: workload::shard_of(shard, args.shards),
                },
            )
            .await?,
        );
    }
    // The steady and plan workloads read one operator's metrics as they go
    // (one shard: checked above).
    let operator = &operators[0];
    let (objects, objects_task) = Objects::watch(client.clone(), "bench");
    let expected_sessions = match args.workload {
        Workload::Tenant | Workload::Plan => args.size,
        Workload::Objects => 0,
        _ => targets.len(),
    };

    eprintln!("bench: creating {} objects", targets.len());
    let profile = bed::profile_apiserver(&plane);
    let t0 = Instant::now();
    let approve = args.workload != Workload::Objects;
    if args.workload != Workload::Plan {
        workload::create_all(&client, "bench", &targets, approve, args.concurrency, args.shards).await?;
    }
    let created = Instant::now();
    report.insert("createdSeconds", serde_json::json!((created - t0).as_secs_f64()));

    match args.workload {
        Workload::Plan => plan::run(&client, &sim, &sessions, args.immybot_rps, deadline, &mut report).await?,
        Workload::Objects => {
            measure::until("every object to be seen by the operator", deadline, || {
                objects.count(|t| t.phase.is_some()) == targets.len()
            })
            .await?;
            report.insert("allObservedSeconds", serde_json::json!(t0.elapsed().as_secs_f64()));
        }
        _ => {
            measure::until("every session to start in the simulator", deadline, || {
                sessions.started() >= expected_sessions
            })
            .await?;
            let started = sessions.last_started().unwrap_or_else(Instant::now);
            report.insert("allStartedSeconds", serde_json::json!((started - t0).as_secs_f64()));
        }
    }

    if args.workload == Workload::Steady {
        // Running: started, and (with hour-long stages) not changing while
        // measured. (Queued is not enough: its move to Running is a change.)
        measure::until("every object to show Running", deadline, || {
            objects.count(|t| matches!(t.phase, Some(Phase::Running))) == targets.len()
        })
        .await?;
        report.insert("allRunningSeconds", serde_json::json!(t0.elapsed().as_secs_f64()));
        // Settle: the ramp's last reconciles finish. Settled means no
        // session write for 5 s in a row (the lease's renewals go on).
        let settle_start = Instant::now();
        let session_writes = |m: &str| -> f64 {
            measure::writes_by_resource(m)
                .iter()
                .filter(|(k, _)| k.contains("maintenancesessions"))
                .map(|(_, v)| v)
                .sum()
        };
        let mut last = session_writes(&operator.metrics().await?);
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let now = session_writes(&operator.metrics().await?);
            if now == last {
                break;
            }
            last = now;
            if settle_start.elapsed() > deadline {
                anyhow::bail!("the operator kept writing sessions for {deadline:?} after all ran");
            }
        }
        report.insert("settleSeconds", serde_json::json!(settle_start.elapsed().as_secs_f64()));
        // The window starts and ends just as a poll cycle ends, so that it
        // holds whole cycles (a cut cycle's pages would count against the
        // cycles around it).
        let metrics_before = cycle_ended(operator, deadline).await?;
        let calls_before = sim.state.calls();
        let window = Duration::from_secs(args.steady_seconds);
        tokio::time::sleep(window).await;
        let metrics_after = cycle_ended(operator, deadline).await?;
        let calls_after = sim.state.calls();
        let cycles = measure::value(&metrics_after, "immybot_operator_poll_cycle_seconds_count")
            - measure::value(&metrics_before, "immybot_operator_poll_cycle_seconds_count");
        let delta: BTreeMap<String, u64> = calls_after
            .iter()
            .map(|(route, n)| (route.clone(), n - calls_before.get(route).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let total: u64 = delta.values().sum();
        report.insert("steadyWindowSeconds", serde_json::json!(args.steady_seconds));
        report.insert("steadyPollCycles", serde_json::json!(cycles));
        report.insert(
            "steadyImmybotCallsPerCycle",
            serde_json::json!(if cycles > 0.0 { total as f64 / cycles } else { f64::NAN }),
        );
        report.insert("steadyImmybotCallsByRoute", serde_json::json!(delta));
        let (after, before) = (
            measure::writes_by_resource(&metrics_after),
            measure::writes_by_resource(&metrics_before),
        );
        let by_resource: BTreeMap<String, f64> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
            .filter(|(_, v)| *v > 0.0)
            .collect();
        report.insert(
            "steadyApiServerWrites",
            serde_json::json!(measure::writes(&by_resource)),
        );
        report.insert("steadyApiServerWritesByResource", serde_json::json!(by_resource));
    } else if !matches!(args.workload, Workload::Objects | Workload::Plan) {
        measure::until("every object to reach its final phase", deadline, || {
            objects.count(|t| t.terminal.is_some()) == targets.len()
        })
        .await?;
        let snapshot = objects.snapshot();
        let last = snapshot
            .values()
            .filter_map(|t| t.terminal)
            .max()
            .unwrap_or_else(Instant::now);
        let terminal = (last - t0).as_secs_f64();
        report.insert("allTerminalSeconds", serde_json::json!(terminal));
        if let Some(floor) = report.get("floorSeconds").and_then(|v| v.as_f64()) {
            report.insert("ratioToFloor", serde_json::json!(terminal / floor));
        }
        // ImmyBot's floor, in the same run: every start at the budget's
        // rate (after its burst), then a session's run (the median, as
        // measured in the simulator).
        let durations = sessions.durations();
        let median = measure::percentile(&durations, 50.0).unwrap_or(0.0);
        let starts = match args.workload {
            Workload::Tenant => 1.0,
            _ => targets.len() as f64,
        };
        let immybot_floor = (starts - f64::from(bed::OPERATOR_BURST)).max(0.0) / args.immybot_rps + median;
        report.insert("sessionMedianSeconds", serde_json::json!(median));
        report.insert("immybotFloorSeconds", serde_json::json!(immybot_floor));
        report.insert("ratioToImmybotFloor", serde_json::json!(terminal / immybot_floor));
        let lags = measure::terminal_lags(&snapshot, &sessions);
        report.insert("statusLagP50Ms", serde_json::json!(measure::percentile(&lags, 50.0)));
        report.insert("statusLagP99Ms", serde_json::json!(measure::percentile(&lags, 99.0)));
        report.insert("statusLagSamples", serde_json::json!(lags.len()));
        if let Ok(path) = std::env::var("BENCH_LAG_DUMP") {
            measure::dump_lags(&snapshot, &sessions, std::path::Path::new(&path))?;
        }
        // Where the lag comes from: sessions that ended while objects were
        // still being created share the API server with that burst.
        let after = measure::terminal_lags_where(&snapshot, &sessions, |t| t >= created);
        report.insert(
            "statusLagAfterCreationP99Ms",
            serde_json::json!(measure::percentile(&after, 99.0)),
        );
        report.insert("statusLagAfterCreationSamples", serde_json::json!(after.len()));
        let mut phases = BTreeMap::<String, usize>::new();
        for t in snapshot.values() {
            *phases.entry(format!("{:?}", t.phase)).or_default() += 1;
        }
        report.insert("phases", serde_json::json!(phases));
        let largest = snapshot.values().map(|t| t.status_bytes).max().unwrap_or(0);
        report.insert("largestStatusBytes", serde_json::json!(largest));
    }

    // Totals over the run.
    let calls = sim.state.calls();
    let total_calls: u64 = calls.values().sum();
    let sessions_n = expected_sessions.max(1) as f64;
    let per_session: BTreeMap<String, f64> = calls.iter().map(|(r, n)| (r.clone(), *n as f64 / sessions_n)).collect();
    // ImmyBot's own calls: the token endpoint is Entra's, not ImmyBot's.
    let immybot_calls: u64 = calls
        .iter()
        .filter(|(r, _)| !r.contains("oauth2"))
        .map(|(_, n)| n)
        .sum();
    report.insert(
        "immybotCallsPerSession",
        serde_json::json!(immybot_calls as f64 / sessions_n),
    );
    // Every shard's counters, added up.
    let mut texts = Vec::new();
    for op in &operators {
        texts.push(op.metrics().await?);
    }
    let metrics = texts.join("\n");
    let total = |metric: &str| -> f64 { texts.iter().map(|t| measure::value(t, metric)).sum() };
    let cycles = total("immybot_operator_poll_cycle_seconds_count");
    report.insert("immybotCallsTotal", serde_json::json!(total_calls));
    report.insert("immybotCallsPerSessionByRoute", serde_json::json!(per_session));
    report.insert("pollCycles", serde_json::json!(cycles));
    let poll_sum = total("immybot_operator_poll_cycle_seconds_sum");
    report.insert("pollCycleMeanMs", serde_json::json!(measure::mean_ms(poll_sum, cycles)));
    let reconciles = total("immybot_operator_reconcile_duration_seconds_count");
    let reconcile_sum = total("immybot_operator_reconcile_duration_seconds_sum");
    report.insert("reconciles", serde_json::json!(reconciles));
    report.insert(
        "reconcileMeanMs",
        serde_json::json!(measure::mean_ms(reconcile_sum, reconciles)),
    );
    let call_seconds = measure::counter_by(&metrics, "immybot_operator_instance_request_duration_seconds_sum", &[]);
    let call_count = measure::counter_by(
        &metrics,
        "immybot_operator_instance_request_duration_seconds_count",
        &[],
    );
    let (sum, count): (f64, f64) = (call_seconds.values().sum(), call_count.values().sum());
    report.insert("immybotCallMeanMs", serde_json::json!(measure::mean_ms(sum, count)));
    let by_verb = measure::counter_by(&metrics, measure::KUBE_REQUESTS, &["verb"]);
    let writes = measure::writes_by_resource(&metrics);
    report.insert("apiServerRequestsByVerb", serde_json::json!(by_verb));
    report.insert(
        "apiServerWritesPerObject",
        serde_json::json!(measure::writes(&writes) / targets.len().max(1) as f64),
    );
    report.insert("apiServerWritesByResource", serde_json::json!(writes));
    // CPU of all shards; memory of the largest (each is its own pod).
    let stats: Vec<(f64, f64)> = operators.iter().map(|op| measure::process_stats(op.pid)).collect();
    let rss = stats.iter().map(|s| s.0).fold(0.0, f64::max);
    let cpu: f64 = stats.iter().map(|s| s.1).sum();
    report.insert("shards", serde_json::json!(args.shards));
    report.insert("peakRssMiB", serde_json::json!(rss));
    report.insert(
        "peakRssMiBByShard",
        serde_json::json!(stats.iter().map(|s| s.0).collect::<Vec<_>>()),
    );
    report.insert("cpuSeconds", serde_json::json!(cpu));
    report.insert(
        "cpuMsPerObject",
        serde_json::json!(cpu * 1000.0 / targets.len().max(1) as f64),
    );

    if let Some(profile) = profile {
        profile.await??;
    }
    sessions_task.abort();
    objects_task.abort();
    drop(operators);
    sim.shutdown().await;
    plane.stop().await;

    print_table(&report);
    let path = args.json.unwrap_or_else(|| {
        PathBuf::from(format!(
            "target/bench/{}-{}.json",
            format!("{:?}", args.workload).to_lowercase(),
            args.size
        ))
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nJSON: {}", path.display());
    Ok(())
}

/// Waits until the operator's poll-cycle count moves (a cycle just ended,
/// the next starts a poll interval after the last began) and returns its
/// metrics of that moment.
async fn cycle_ended(operator: &bed::Operator, deadline: Duration) -> anyhow::Result<String> {
    const CYCLES: &str = "immybot_operator_poll_cycle_seconds_count";
    let start = measure::value(&operator.metrics().await?, CYCLES);
    let end = Instant::now() + deadline;
    loop {
        let now = operator.metrics().await?;
        if measure::value(&now, CYCLES) > start {
            return Ok(now);
        }
        if Instant::now() > end {
            anyhow::bail!("no poll cycle ended within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The fleet and the objects' targets for the workload.
fn fleet(args: &Args) -> (FleetSeed, Vec<Target>) {
    match args.workload {
        Workload::Tenant | Workload::Plan => (FleetSeed::generate(1, args.size as u32), vec![Target::Tenant(1)]),
        _ => {
            // 100 computers a tenant, as many tenants as needed, trimmed to size.
            let tenants = args.size.div_ceil(100).max(1) as u32;
            let mut seed = FleetSeed::generate(tenants, 100);
            seed.computers.truncate(args.size);
            if args.workload == Workload::Steady {
                // Every session must reach Running and stay there: no
                // offline computers (they end Missed or wait as Queued).
                for c in &mut seed.computers {
                    c.online = true;
                }
            }
            let targets = seed.computers.iter().map(|c| Target::Computer(c.id)).collect();
            (seed, targets)
        }
    }
}

fn print_table(report: &BTreeMap<&str, serde_json::Value>) {
    println!("\n| measure | value |\n| --- | --- |");
    for (k, v) in report {
        let shown = match v {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(|f| {
                    if f.fract() == 0.0 {
                        format!("{f}")
                    } else {
                        format!("{f:.2}")
                    }
                })
                .unwrap_or_else(|| n.to_string()),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("| {k} | {shown} |");
    }
}
