//! What Flux sees: kstatus (Flux's own code, testbed/kstatus) computed on
//! MaintenanceSessions from the real API server in each kind of phase. A
//! Kustomization with `wait: true` must wait while a session is in progress
//! or waiting for a person, pass once it succeeded, and fail once it failed.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use immybot_operator::api::{ImmyBotSchedule, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator};
use crate::lifecycle::{approve, create_session};
use crate::schedules::{
    approve as approve_schedule, condition, create as create_schedule, nightly, one_schedule_where, patch_spec,
};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        flux_waits_on_running_passes_succeeded_and_fails_failed_sessions,
        flux_and_argo_see_schedules_wait_for_approval_and_fail_when_stalled,
    ]
}

const LONG: Duration = Duration::from_secs(40);

pub fn kstatus(obj: &impl serde::Serialize) -> Result<String, String> {
    let bin = std::path::Path::new(&std::env::var("KUBEBUILDER_ASSETS").ctx("KUBEBUILDER_ASSETS")?).join("kstatus");
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ctx("running testbed kstatus")?;
    let json = serde_json::to_vec(obj).ctx("object as JSON")?;
    child.stdin.take().ok_or("no stdin")?.write_all(&json).ctx("stdin")?;
    let out = child.wait_with_output().ctx("kstatus")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// With `IMMYBOT_CAPTURE_FIXTURES=<dir>`, also saves the object as a status
/// fixture for the Argo CD health tests (`tests/data/argocd/<name>.json`).
pub fn capture(obj: &impl serde::Serialize, name: &str) -> TestResult {
    let Some(dir) = std::env::var_os("IMMYBOT_CAPTURE_FIXTURES") else {
        return Ok(());
    };
    let mut value = serde_json::to_value(obj).ctx("fixture JSON")?;
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    let text = serde_json::to_string_pretty(&value).ctx("fixture JSON")?;
    std::fs::write(std::path::Path::new(&dir).join(format!("{name}.json")), text + "\n").ctx("writing fixture")
}

/// A session's fixture is named after its phase (`-stalled` when stalled
/// before it started).
fn session_fixture_name(obj: &MaintenanceSession) -> String {
    let phase = obj
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .map(|p| format!("{p:?}"))
        .unwrap_or_else(|| "none".into());
    let stalled = obj
        .status
        .iter()
        .flat_map(|s| s.conditions.iter())
        .any(|c| c.type_ == "Stalled" && c.status == "True");
    format!(
        "{}{}",
        phase.to_lowercase(),
        if stalled && phase == "Pending" { "-stalled" } else { "" }
    )
}

fn expect(obj: &MaintenanceSession, want: &str) -> TestResult {
    capture(obj, &session_fixture_name(obj))?;
    let got = kstatus(obj)?;
    let name = obj.metadata.name.clone().unwrap_or_default();
    if got.split_whitespace().nth(1) != Some(want) {
        return Err(format!(
            "kstatus of {name} in {:?}: expected {want}, got {got:?}",
            obj.status.as_ref().and_then(|s| s.phase)
        ));
    }
    Ok(())
}

async fn flux_waits_on_running_passes_succeeded_and_fails_failed_sessions(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let spec = |computer: i32, extra: serde_json::Value| {
        let mut s =
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-50", "target": {"computer": {"id": computer}}});
        if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        s
    };
    // Waiting for a person: in progress, not failed.
    create_session(&ctx, "waiting", spec(101, serde_json::json!({}))).await?;
    expect(
        &ctx.wait_phase("waiting", Phase::AwaitingApproval, LONG).await?,
        "InProgress",
    )?;
    create_session(&ctx, "held", spec(102, serde_json::json!({"suspend": true}))).await?;
    expect(&ctx.wait_phase("held", Phase::Suspended, LONG).await?, "InProgress")?;
    // Started and waiting in ImmyBot (the kiosk is offline; apply on connect).
    create_session(
        &ctx,
        "queued",
        spec(103, serde_json::json!({"offline": "ApplyOnConnect"})),
    )
    .await?;
    approve(&ctx, "queued", "bob").await?;
    expect(&ctx.wait_phase("queued", Phase::Queued, LONG).await?, "InProgress")?;
    // Finished: passes when it succeeded, fails when it did not.
    create_session(&ctx, "good", spec(201, serde_json::json!({}))).await?;
    approve(&ctx, "good", "bob").await?;
    expect(&ctx.wait_phase("good", Phase::Succeeded, LONG).await?, "Current")?;
    approve(&ctx, "waiting", "bob").await?;
    expect(&ctx.wait_phase("waiting", Phase::Succeeded, LONG).await?, "Current")?;
    let patch = serde_json::json!({"spec": {"suspend": false}});
    ctx.api::<MaintenanceSession>()
        .patch(
            "held",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .ctx("unsuspend")?;
    approve(&ctx, "held", "bob").await?;
    expect(
        &ctx.wait_phase("held", Phase::PartiallySucceeded, LONG).await?,
        "Failed",
    )?;
    // A target that matches nothing is stalled: Flux must fail, not wait.
    create_session(
        &ctx,
        "nowhere",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-54", "target": {"computer": {"name": "NO-SUCH-PC"}}}),
    )
    .await?;
    approve(&ctx, "nowhere", "bob").await?;
    let stalled = crate::harness::wait_for("nowhere to be stalled", LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get("nowhere")
            .await
            .map_err(|e| e.to_string())?;
        let is = obj
            .status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .any(|c| c.type_ == "Stalled" && c.reason == "TargetNotFound");
        Ok(is.then_some(obj))
    })
    .await?;
    expect(&stalled, "Failed")
}

/// kstatus of a schedule, captured as fixture `schedule-<fixture>`.
fn expect_schedule(obj: &ImmyBotSchedule, fixture: &str, want: &str) -> TestResult {
    capture(obj, &format!("schedule-{fixture}"))?;
    let got = kstatus(obj)?;
    if got.split_whitespace().nth(1) != Some(want) {
        return Err(format!(
            "kstatus of schedule {fixture}: expected {want}, got {got:?}; conditions {:?}",
            obj.status.as_ref().map(|s| &s.conditions)
        ));
    }
    Ok(())
}

/// Waits until the schedule's condition `type_` has `status` (and, when
/// given, `reason`).
async fn schedule_when(
    ctx: &TestContext,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<ImmyBotSchedule, String> {
    let api = ctx.api::<ImmyBotSchedule>();
    crate::harness::wait_for(&format!("{name} {type_}={status} {reason:?}"), LONG, || async {
        let o = api.get(name).await.map_err(|e| e.to_string())?;
        let fresh = o.status.as_ref().and_then(|s| s.observed_generation) == o.metadata.generation;
        match condition(&o, type_) {
            Some((s, r, _)) if fresh && s == status && reason.is_none_or(|want| want == r) => Ok(Some(o)),
            other => Err(format!("{type_} {other:?}")),
        }
    })
    .await
}

async fn flux_and_argo_see_schedules_wait_for_approval_and_fail_when_stalled(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let orphan = serde_json::json!({"deletionPolicy": "Orphan"});
    create_schedule(&ctx, "nightly", nightly(orphan.clone())).await?;
    let waiting = schedule_when(&ctx, "nightly", "Ready", "False", Some("AwaitingApproval")).await?;
    expect_schedule(&waiting, "awaitingapproval", "InProgress")?;
    approve_schedule(&ctx, "nightly", None).await?;
    let ready = schedule_when(&ctx, "nightly", "Ready", "True", None).await?;
    expect_schedule(&ready, "ready", "Current")?;
    patch_spec(&ctx, "carol", "nightly", serde_json::json!({"suspend": true})).await?;
    let held = schedule_when(&ctx, "nightly", "Ready", "True", None).await?;
    expect_schedule(&held, "suspended", "Current")?;

    // Drift under Report: only a person can put it back, so not "waiting".
    create_schedule(
        &ctx,
        "watched",
        nightly(
            serde_json::json!({"deletionPolicy": "Orphan", "driftPolicy": "Report", "target": {"tenant": {"id": 3}}}),
        ),
    )
    .await?;
    approve_schedule(&ctx, "watched", None).await?;
    let s = one_schedule_where(&sim, "watched in ImmyBot", |s| s.definition.tenant_id == Some(3)).await?;
    let mut changed = s.definition.clone();
    changed.custom_cron_expression = Some("0 4 * * *".into());
    sim.state
        .with_engine(|e, now| e.update_schedule(s.id, &changed, now))
        .map_err(|e| format!("{e:?}"))?;
    let drifted = schedule_when(&ctx, "watched", "Drifted", "True", None).await?;
    expect_schedule(&drifted, "drifted", "Failed")?;

    // A tenant ImmyBot does not have: stalled with what to do.
    create_schedule(
        &ctx,
        "nowhere",
        nightly(serde_json::json!({"target": {"tenant": {"name": "No Such Tenant"}}})),
    )
    .await?;
    let stalled = schedule_when(&ctx, "nowhere", "Stalled", "True", None).await?;
    expect_schedule(&stalled, "stalled", "Failed")
}
