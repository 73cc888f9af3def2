//! The health gate against the real things: an Alertmanager and a
//! Prometheus built from their Go modules (`testbed/alerting.sh`), the
//! rollout on the real API server against the simulator.
//! - An alert posted through Alertmanager's API while a wave runs halts the
//!   rollout when the wave ends (`HealthGateFailed`, the alert named, an
//!   event); no further computer reaches ImmyBot, across a restart of the
//!   operator; a resume while it still fires waits; once the alert has
//!   expired the rest runs, each computer once.
//! - A gate that cannot be read (Alertmanager asks for credentials the
//!   Secret gets wrong) holds before the first wave with its reason, and the
//!   password appears in no status or event; the right credentials release
//!   it.
//! - A Prometheus query whose failure condition holds halts the rollout
//!   before it starts; once Prometheus has scraped the alarm clear, resume
//!   runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::FleetSeed;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};

use crate::harness::alerting::{Alertmanager, Prometheus};
use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator_of, until, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_firing_alert_gate_halts_the_next_wave_and_the_rest_runs_once_it_expired_and_a_person_resumed,
        an_unreadable_gate_holds_with_its_reason_and_never_shows_its_credentials,
        a_prometheus_gate_halts_the_rollout_until_the_query_is_clear,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const CRITICAL: &str = "severity=\"critical\"";

fn per_computer(sim: &immybot_sim::RunningSim) -> BTreeMap<i32, usize> {
    let mut per = BTreeMap::new();
    for e in sim.state.ledger() {
        *per.entry(e.computer_id).or_default() += 1;
    }
    per
}

fn each_once(sim: &immybot_sim::RunningSim, computers: std::ops::RangeInclusive<i32>) -> TestResult {
    let per = per_computer(sim);
    if per.keys().copied().eq(computers.clone()) && per.values().all(|n| *n == 1) {
        Ok(())
    } else {
        Err(format!("every computer of {computers:?} exactly once, ledger {per:?}"))
    }
}

fn ready(s: &MaintenanceSession) -> (Option<Phase>, String, String) {
    let st = s.status.clone().unwrap_or_default();
    let c = st.conditions.iter().find(|c| c.type_ == "Ready");
    (
        st.phase,
        c.map(|c| c.reason.clone()).unwrap_or_default(),
        c.map(|c| c.message.clone()).unwrap_or_default(),
    )
}

/// Waits for `name` to show `phase` with `reason`, advancing the manual
/// simulator's clock (if any) meanwhile.
async fn wait_reason(
    ctx: &TestContext,
    sim: &immybot_sim::RunningSim,
    name: &str,
    phase: Phase,
    reason: &str,
) -> Result<MaintenanceSession, String> {
    wait_for(&format!("{name} {phase:?} ({reason})"), LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get(name).await.ctx("get")?;
        let (p, r, m) = ready(&s);
        if p == Some(phase) && r == reason {
            return Ok(Some(s));
        }
        Err(format!("phase {p:?} reason {r} {m:?}, ledger {:?}", per_computer(sim)))
    })
    .await
}

/// Starts a controller on `sim` and has alice ask for a rollout of tenant 1
/// in waves of `per_wave` (half may fail) gated by `gate`, approved by bob.
async fn gated_rollout(
    ctx: &TestContext,
    sim: &immybot_sim::RunningSim,
    name: &str,
    per_wave: i32,
    gate: serde_json::Value,
) -> Result<crate::harness::Controller, String> {
    let controller = ctx
        .controller(sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        ctx,
        name,
        serde_json::json!({"requestedBy": "alice", "reason": format!("CHG-9 {name}"), "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "maxConcurrent": per_wave, "maxFailures": "50%",
                                       "healthGate": gate}}),
    )
    .await?;
    approve(ctx, name, "bob").await?;
    Ok(controller)
}

async fn resume(ctx: &TestContext, name: &str, requests: i32) -> TestResult {
    ctx.api::<MaintenanceSession>()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"resume": {"requests": requests}}})),
        )
        .await
        .ctx("resume")?;
    Ok(())
}

async fn a_firing_alert_gate_halts_the_next_wave_and_the_rest_runs_once_it_expired_and_a_person_resumed(
    ctx: TestContext,
) -> TestResult {
    let am = Alertmanager::start().await?;
    let sim = crate::harness::manual_simulator(FleetSeed::generate(2, 12)).await?;
    let controller = gated_rollout(
        &ctx,
        &sim,
        "gated",
        4,
        // Read every 10 minutes while a wave runs: the reading shared
        // while wave 1 runs says clear when the alert fires, and the next
        // wave must still not start on it (a start is decided afresh).
        serde_json::json!({"alertmanager": {"address": am.url, "matchers": [CRITICAL]}, "interval": "10m"}),
    )
    .await?;
    wait_for("the first wave started", LONG, || async {
        let n = per_computer(&sim).len();
        until(n == 4, || format!("{n} started"))
    })
    .await?;
    // An endpoint alert fires while wave 1 runs (a warning does not count).
    let in_an_hour = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let alert = serde_json::json!({"alertname": "EndpointDown", "severity": "critical", "instance": "pc-3"});
    am.post(alert.clone(), in_an_hour).await?;
    am.post(
        serde_json::json!({"alertname": "DiskSlow", "severity": "warning"}),
        in_an_hour,
    )
    .await?;
    wait_for("Alertmanager lists the alert active", LONG, || async {
        let active = am.active(CRITICAL).await?;
        until(active == ["EndpointDown"], || format!("active {active:?}"))
    })
    .await?;
    let halted = wait_reason(&ctx, &sim, "gated", Phase::Halted, "HealthGateFailed").await?;
    let (_, _, message) = ready(&halted);
    if !message.contains("EndpointDown (pc-3)") || message.contains("DiskSlow") {
        return Err(format!("the halt names the critical alert only: {message}"));
    }
    crate::safety::wait_event(&ctx, "gated", "HealthGateFailed", "EndpointDown").await?;
    // The operator restarts: the halt is in the status, not in its memory.
    drop(controller);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // A resume while the alert still fires is taken, and waits.
    resume(&ctx, "gated", 1).await?;
    wait_for("the resume is acknowledged and waits for the gate", LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("gated").await.ctx("get")?;
        let (p, r, m) = ready(&s);
        let resumed = s
            .status
            .and_then(|st| st.rollout)
            .and_then(|r| r.gate_halt)
            .is_some_and(|h| h.resumed);
        if p == Some(Phase::Halted) && r == "HealthGateFailed" && resumed && m.contains("resumed") {
            return Ok(Some(()));
        }
        Err(format!("{p:?} {r} {m}"))
    })
    .await?;
    let started = per_computer(&sim);
    if started.keys().copied().ne(1..=4) {
        return Err(format!("no computer after wave 1 while the gate fires: {started:?}"));
    }
    // The alert expires: the rest runs, each computer once.
    am.post(alert, jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1))
        .await?;
    wait_for("the alert resolved", LONG, || async {
        let active = am.active(CRITICAL).await?;
        until(active.is_empty(), || format!("active {active:?}"))
    })
    .await?;
    let done = wait_for("the rollout ends", Duration::from_secs(120), || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("gated").await.ctx("get")?;
        let (p, r, m) = ready(&s);
        if p.is_some_and(Phase::is_final) {
            return Ok(Some(s));
        }
        Err(format!("{p:?} {r} {m}, ledger {:?}", per_computer(&sim)))
    })
    .await?;
    each_once(&sim, 1..=12)?;
    let r = done.status.and_then(|s| s.rollout).ok_or("no status.rollout")?;
    if r.gate_halt.is_some() || r.started != 12 {
        return Err(format!("a finished rollout with its halt over: {r:?}"));
    }
    Ok(())
}

async fn an_unreadable_gate_holds_with_its_reason_and_never_shows_its_credentials(ctx: TestContext) -> TestResult {
    // bcrypt (cost 4) of GATE_PASSWORD, as Alertmanager's web config wants it.
    const GATE_PASSWORD: &str = "gate-s3cret-7741";
    const WRONG_PASSWORD: &str = "not-the-gate-s3cret-0919";
    let am = Alertmanager::start_with(Some(("immybot", GATE_PASSWORD, GATE_PASSWORD_BCRYPT))).await?;
    let secrets = ctx.api::<Secret>();
    let secret = |password: &str| -> Result<Secret, String> {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gate-credentials"},
            "stringData": {"username": "immybot", "password": password},
        }))
        .ctx("secret")
    };
    secrets
        .create(&PostParams::default(), &secret(WRONG_PASSWORD)?)
        .await
        .ctx("create secret")?;
    let sim = simulator_of(FleetSeed::generate(1, 6), 100).await?;
    let _controller = gated_rollout(
        &ctx,
        &sim,
        "locked",
        3,
        serde_json::json!({"alertmanager": {"address": am.url, "matchers": [CRITICAL],
                                            "credentials": {"secretName": "gate-credentials"}},
                           "interval": "1s"}),
    )
    .await?;
    let held = wait_reason(&ctx, &sim, "locked", Phase::Halted, "HealthGateUnreachable").await?;
    let (_, _, message) = ready(&held);
    if !message.contains("401") || !message.contains("alertmanager") {
        return Err(format!("the reason says what could not be read and why: {message}"));
    }
    if !sim.state.ledger().is_empty() {
        return Err("nothing starts while the gate cannot be read".into());
    }
    let shown = serde_json::to_string(&held.status).ctx("status")?;
    let events = ctx
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .ctx("events")?;
    let events = serde_json::to_string(&events.items).ctx("events")?;
    for password in [GATE_PASSWORD, WRONG_PASSWORD] {
        if shown.contains(password) || events.contains(password) {
            return Err("a gate's credentials reached the status or an event".into());
        }
    }
    // The right credentials: the gate reads clear, the rollout goes on by
    // itself (an unreadable gate is a hold, not a halt).
    secrets
        .replace("gate-credentials", &PostParams::default(), &{
            let mut s = secrets.get("gate-credentials").await.ctx("get secret")?;
            s.data = None;
            s.string_data = secret(GATE_PASSWORD)?.string_data;
            s
        })
        .await
        .ctx("fix secret")?;
    ctx.wait_phase("locked", Phase::Succeeded, LONG).await?;
    each_once(&sim, 1..=6)
}

async fn a_prometheus_gate_halts_the_rollout_until_the_query_is_clear(ctx: TestContext) -> TestResult {
    let prometheus = Prometheus::start(1.0).await?;
    wait_for("Prometheus scraped the alarm", LONG, || async {
        let v = prometheus.alarm_now().await?;
        until(v == Some(1.0), || format!("alarm {v:?}"))
    })
    .await?;
    let sim = simulator_of(FleetSeed::generate(1, 6), 100).await?;
    let _controller = gated_rollout(
        &ctx,
        &sim,
        "queried",
        3,
        serde_json::json!({"prometheus": {"address": prometheus.url, "query": "max(immybot_e2e_alarm)",
                                          "failureCondition": "result[0] > 0", "successCondition": "len(result) == 1"},
                           "interval": "1s"}),
    )
    .await?;
    let halted = wait_reason(&ctx, &sim, "queried", Phase::Halted, "HealthGateFailed").await?;
    let (_, _, message) = ready(&halted);
    if !message.contains("failureCondition result[0] > 0") {
        return Err(format!("the halt names the condition: {message}"));
    }
    if !sim.state.ledger().is_empty() {
        return Err("no wave starts while the query fails".into());
    }
    prometheus.alarm.set(0.0);
    wait_for("Prometheus scraped the alarm clear", LONG, || async {
        let v = prometheus.alarm_now().await?;
        until(v == Some(0.0), || format!("alarm {v:?}"))
    })
    .await?;
    resume(&ctx, "queried", 1).await?;
    ctx.wait_phase("queried", Phase::Succeeded, LONG).await?;
    each_once(&sim, 1..=6)
}

/// `GATE_PASSWORD`'s bcrypt hash (made once with Go's x/crypto/bcrypt, cost
/// 4: the test's Alertmanager checks it on every request).
const GATE_PASSWORD_BCRYPT: &str = "$2a$04$TG9S3rmO1/Q/.g4cjhwTC.8ByQYhqp4u7P8B5iibjvLpTABopm5YC";
