//! The operator as it runs in production (`runtime::run`, what the binary
//! calls): flags, leader election through a Lease, the admin server.

use std::time::Duration;

use clap::Parser as _;
use immybot_operator::api::Phase;
use immybot_operator::runtime::{self, OperatorArgs};
use immybot_sim::RunningSim;

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        two_replicas_one_leader_and_a_standby_that_takes_over,
        the_binary_logs_plain_text_to_a_pipe_and_stops_on_sigterm,
        the_binary_logs_one_json_object_a_line_and_stops_on_sigterm,
        spans_name_the_object_the_immybot_call_and_the_poll_cycle,
        spans_reach_an_otlp_collector_with_their_parents,
        an_immybot_outage_does_not_make_the_operator_unready,
    ]
}

/// The real `immybot-operator` binary, its stdout a pipe (as under a
/// container runtime): text logs carry no ANSI colour codes, and SIGTERM
/// stops it promptly.
/// The binary with `extra` flags, its stdout read until it logs its start:
/// the child and the lines it wrote.
async fn started_binary(
    ctx: &TestContext,
    sim: &RunningSim,
    extra: &[&str],
    rust_log: &str,
) -> Result<(tokio::process::Child, Vec<String>), String> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = crate::harness::spawn_operator_binary(ctx, sim, extra, rust_log)?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.contains("immybot-operator starting");
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if !started {
        return Err(format!("the operator did not log its start: {seen:?}"));
    }
    if let Some(coloured) = seen.iter().find(|l| l.contains('\u{1b}')) {
        return Err(format!("ANSI codes in logs written to a pipe: {coloured:?}"));
    }
    if let Some(leak) = seen.iter().find(|l| l.contains("simulator-secret")) {
        return Err(format!("the client secret in a log line: {leak}"));
    }
    Ok((child, seen))
}

/// SIGTERM, then a clean exit within 10 s.
async fn stops_on_sigterm(mut child: tokio::process::Child) -> TestResult {
    let pid = child.id().ok_or("no pid")?;
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .ctx("kill -TERM")?;
    if !signalled.success() {
        return Err("kill -TERM failed".into());
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(other) => Err(format!("the operator exited badly after SIGTERM: {other:?}")),
        Err(_) => Err("the operator did not exit within 10 s of SIGTERM".into()),
    }
}

async fn the_binary_logs_plain_text_to_a_pipe_and_stops_on_sigterm(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let (child, seen) = started_binary(&ctx, &sim, &[], "info").await?;
    if seen.iter().any(|l| l.trim_start().starts_with('{')) {
        return Err(format!("text logs by default: {seen:?}"));
    }
    stops_on_sigterm(child).await
}

/// `--log-format json` (the chart's default): every line one JSON object
/// with a timestamp, a level and a message, as log shippers parse them.
async fn the_binary_logs_one_json_object_a_line_and_stops_on_sigterm(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let (child, seen) = started_binary(&ctx, &sim, &["--log-format", "json"], "debug").await?;
    for line in &seen {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not one JSON object a line ({e}): {line}"))?;
        let message = v["fields"]["message"].as_str();
        if !v["timestamp"].is_string() || !v["level"].is_string() || message.is_none() {
            return Err(format!(
                "a JSON line without timestamp, level and fields.message: {line}"
            ));
        }
    }
    let start = seen
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "immybot-operator starting")
        .ok_or_else(|| format!("no start line: {seen:?}"))?;
    if start["level"] != "INFO" {
        return Err(format!("the start line's level: {start}"));
    }
    stops_on_sigterm(child).await
}

/// The shipped binary's JSON logs carry the spans each line was written
/// in (tracing-subscriber's `spans`): a reconcile's names the object's
/// kind, namespace and name, an ImmyBot call's its method, route template,
/// status and attempts, a poll cycle's its connection. Read as a log
/// shipper would, from a real session's run.
async fn spans_name_the_object_the_immybot_call_and_the_poll_cycle(ctx: TestContext) -> TestResult {
    use tokio::io::AsyncBufReadExt as _;
    let sim = simulator(150).await?;
    let mut child = crate::harness::spawn_operator_binary(
        &ctx,
        &sim,
        &["--log-format", "json"],
        "info,immybot_client=debug,immybot_operator=debug",
    )?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    create_session(
        &ctx,
        "traced",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-35", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    approve(&ctx, "traced", "bob").await?;
    let outcome = ctx
        .wait_phase("traced", Phase::Succeeded, Duration::from_secs(40))
        .await;
    stops_on_sigterm(child).await?;
    let lines = reader.await.ctx("reading the logs")?;
    if let Err(e) = outcome {
        let tail: Vec<&String> = lines.iter().rev().take(40).collect();
        return Err(format!("{e}\nthe operator's last log lines:\n{tail:#?}"));
    }
    let spans: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["spans"].as_array().cloned())
        .flatten()
        .collect();
    let find = |what: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        spans
            .iter()
            .find(|s| f(s))
            .cloned()
            .ok_or_else(|| format!("no {what} span in {} log lines ({} spans)", lines.len(), spans.len()))
    };
    let ns = ctx.namespace.as_str();
    find("reconcile", &|s| {
        s["name"] == "reconcile" && s["kind"] == "MaintenanceSession" && s["namespace"] == ns && s["object"] == "traced"
    })?;
    find("start call", &|s| {
        s["name"] == "immybot_call"
            && s["method"] == "POST"
            && s["route"] == "POST /api/v1/run-immy-service"
            && s["status"] == 200
            && s["attempts"] == 1
    })?;
    find("poll cycle", &|s| {
        s["name"] == "poll_cycle" && s["connection"].is_string()
    })?;
    Ok(())
}

/// With --otlp-endpoint the shipped binary exports its spans over
/// OTLP/HTTP: a collector (in process, decoding with opentelemetry-proto)
/// receives the reconcile of the session by kind, namespace and name, the
/// start call inside it (same trace, its parent a span of that trace), and
/// a poll cycle, under the service name immybot-operator; what was
/// buffered arrives by the time SIGTERM's shutdown ends.
async fn spans_reach_an_otlp_collector_with_their_parents(ctx: TestContext) -> TestResult {
    let collector = crate::otlp_collector::Collector::start().await?;
    let sim = simulator(150).await?;
    let child = crate::harness::spawn_operator_binary(
        &ctx,
        &sim,
        &["--otlp-endpoint", &collector.endpoint],
        "info,immybot_client=debug,immybot_operator=debug",
    )?;
    create_session(
        &ctx,
        "exported",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-35", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    approve(&ctx, "exported", "bob").await?;
    ctx.wait_phase("exported", Phase::Succeeded, Duration::from_secs(40))
        .await?;
    stops_on_sigterm(child).await?;
    let malformed = collector.malformed();
    if !malformed.is_empty() {
        return Err(format!(
            "the collector got requests that are not OTLP exports: {malformed:?}"
        ));
    }
    let spans = collector.spans();
    let ns = ctx.namespace.as_str();
    let attr = |s: &crate::otlp_collector::ReceivedSpan, k: &str| s.attributes.get(k).cloned().unwrap_or_default();
    let reconciles: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.name == "reconcile"
                && attr(s, "kind") == "MaintenanceSession"
                && attr(s, "namespace") == ns
                && attr(s, "object") == "exported"
        })
        .collect();
    let start = spans
        .iter()
        .find(|s| s.name == "immybot_call" && attr(s, "route") == "POST /api/v1/run-immy-service")
        .ok_or_else(|| format!("no start call among {} spans", spans.len()))?;
    if reconciles.is_empty() {
        return Err(format!("no reconcile span of the session among {} spans", spans.len()));
    }
    if attr(start, "status") != "200" || attr(start, "method") != "POST" {
        return Err(format!("the start call's attributes: {:?}", start.attributes));
    }
    // Inside a reconcile of the session: one trace, a parent in it.
    let parent_in_trace = spans
        .iter()
        .any(|p| p.span_id == start.parent_span_id && p.trace_id == start.trace_id);
    if start.parent_span_id.is_empty() || !parent_in_trace || !reconciles.iter().any(|r| r.trace_id == start.trace_id) {
        return Err("the start call must be a child within a reconcile's trace".into());
    }
    if !spans.iter().any(|s| s.name == "poll_cycle") {
        return Err("no poll_cycle span exported".into());
    }
    if start.resource.get("service.name").map(String::as_str) != Some("immybot-operator") {
        return Err(format!("the resource names the service: {:?}", start.resource));
    }
    Ok(())
}

struct Replica {
    admin: String,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), runtime::RuntimeError>>,
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").ctx("free port")?;
    Ok(l.local_addr().ctx("port")?.port())
}

async fn replica(ctx: &TestContext, sim: &RunningSim, identity: &str) -> Result<Replica, String> {
    let secret = std::env::temp_dir().join(format!("immybot-e2e-secret-{}-{identity}", std::process::id()));
    std::fs::write(&secret, "simulator-secret").ctx("secret file")?;
    let admin = format!("127.0.0.1:{}", free_port()?);
    let args = OperatorArgs::try_parse_from(sim.operator_flags(&secret).into_iter().chain([
        "--watch-namespace".to_string(),
        ctx.namespace.to_string(),
        "--lease-namespace".to_string(),
        ctx.namespace.to_string(),
        "--identity".to_string(),
        identity.to_string(),
        "--admin-addr".to_string(),
        admin.to_string(),
        "--poll-active-seconds".to_string(),
        "1".to_string(),
        "--poll-idle-seconds".to_string(),
        "1".to_string(),
        "--request-timeout-seconds".to_string(),
        "2".to_string(),
    ]))
    .ctx("operator flags")?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runtime::run(args, ctx.client.clone(), Default::default(), shutdown));
    Ok(Replica { admin, stop, task })
}

async fn get(url: &str) -> Result<(u16, String), String> {
    let r = reqwest::get(url).await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.map_err(|e| e.to_string())?))
}

async fn wait_ready_as(replica: &Replica, role: &str) -> Result<(), String> {
    let url = format!("http://{}/readyz", replica.admin);
    wait_for(
        &format!("{} to be ready as {role}", replica.admin),
        Duration::from_secs(40),
        || async {
            let (status, body) = get(&url).await?;
            if status == 200 && body == role {
                Ok(Some(()))
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await
}

async fn two_replicas_one_leader_and_a_standby_that_takes_over(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let a = replica(&ctx, &sim, "replica-a").await?;
    wait_ready_as(&a, "leader").await?;
    let b = replica(&ctx, &sim, "replica-b").await?;
    wait_ready_as(&b, "standby").await?;

    let (live, _) = get(&format!("http://{}/livez", b.admin)).await?;
    if live != 200 {
        return Err(format!("livez answered {live}"));
    }
    create_session(
        &ctx,
        "via-binary",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-20", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    approve(&ctx, "via-binary", "bob").await?;
    ctx.wait_phase("via-binary", Phase::Succeeded, Duration::from_secs(40))
        .await?;
    // A schedule through the binary: created once, counted by standing.
    crate::schedules::create(
        &ctx,
        "via-binary",
        crate::schedules::nightly(serde_json::json!({"deletionPolicy": "Orphan"})),
    )
    .await?;
    crate::schedules::approve(&ctx, "via-binary", None).await?;
    crate::schedules::one_schedule(&sim, "the schedule created", |_| true).await?;
    crate::harness::wait_for(
        "the schedule in the leader's metrics",
        Duration::from_secs(30),
        || async {
            let (_, metrics) = get(&format!("http://{}/metrics", a.admin)).await?;
            let want = [
                r#"immybot_operator_schedule_writes_total{op="create"} 1"#,
                r#"immybot_operator_schedules{standing="Ready"} 1"#,
            ];
            if want.iter().all(|n| metrics.lines().any(|l| l == *n)) {
                Ok(Some(()))
            } else {
                Err(format!("{want:?} not in the metrics"))
            }
        },
    )
    .await?;
    let (_, metrics) = get(&format!("http://{}/metrics", a.admin)).await?;
    for needle in [
        r#"immybot_operator_instance_requests_total{method="POST",route="/api/v1/run-immy-service",code="200"} 1"#,
        r#"immybot_operator_approvals_total{result="accepted",reason="MaintenanceApproval"}"#,
        "immybot_operator_poll_cycle_seconds_count",
        r#"immybot_operator_reconciles_total{result="ok",error="none"}"#,
        "immybot_operator_build_info{version=",
        "immybot_operator_last_successful_poll_timestamp_seconds ",
        r#"immybot_operator_sessions_finished_total{result="Succeeded"} 1"#,
        r#"immybot_operator_computers_finished_total{result="passed"} 1"#,
    ] {
        if !metrics.contains(needle) {
            return Err(format!("the leader's metrics lack {needle}:\n{metrics}"));
        }
    }
    if sim.state.ledger().len() != 1 {
        return Err(format!(
            "two replicas must start one session, ledger: {:?}",
            sim.state.ledger()
        ));
    }

    // The leader stops (a rollout): the standby takes over.
    let _ = a.stop.send(true);
    let stopped = tokio::time::timeout(Duration::from_secs(20), a.task).await;
    if !matches!(stopped, Ok(Ok(Ok(())))) {
        return Err(format!("the leader did not stop cleanly: {stopped:?}"));
    }
    wait_ready_as(&b, "leader").await?;
    create_session(
        &ctx,
        "after-failover",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-21", "target": {"computer": {"id": 201}}}),
    )
    .await?;
    approve(&ctx, "after-failover", "bob").await?;
    ctx.wait_phase("after-failover", Phase::Succeeded, Duration::from_secs(40))
        .await?;
    let _ = b.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), b.task).await;
    Ok(())
}

/// Readiness is "elected or standing by, caches synced": with every ImmyBot
/// call failing, the leader stays Ready and the outage shows in `instance_up`.
async fn an_immybot_outage_does_not_make_the_operator_unready(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.add_fault(immybot_sim::FaultRule {
        route: "*".into(),
        fault: immybot_sim::FaultKind::Status { status: 503 },
        times: None,
        probability: None,
    });
    let leader = replica(&ctx, &sim, "only").await?;
    wait_ready_as(&leader, "leader").await?;
    wait_for("instance_up to report the outage", Duration::from_secs(30), || async {
        let (_, metrics) = get(&format!("http://{}/metrics", leader.admin)).await?;
        let failures = metrics
            .lines()
            .find(|l| l.starts_with("immybot_operator_poll_failures_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        Ok((metrics.lines().any(|l| l == "immybot_operator_instance_up 0") && failures >= 1.0).then_some(()))
    })
    .await?;
    let (status, body) = get(&format!("http://{}/readyz", leader.admin)).await?;
    if status != 200 {
        return Err(format!("an ImmyBot outage made the leader unready: {status} {body}"));
    }
    let _ = leader.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), leader.task).await;
    Ok(())
}
