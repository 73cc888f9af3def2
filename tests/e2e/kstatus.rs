//! What Flux sees: kstatus (Flux's own code, testbed/kstatus) computed on
//! MaintenanceSessions from the real API server in each kind of phase. A
//! Kustomization with `wait: true` must wait while a session is in progress
//! or waiting for a person, pass once it succeeded, and fail once it failed.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![flux_waits_on_running_passes_succeeded_and_fails_failed_sessions]
}

const LONG: Duration = Duration::from_secs(40);

fn kstatus(obj: &MaintenanceSession) -> Result<String, String> {
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
/// fixture for the Argo CD health tests (`tests/data/argocd/`).
fn capture(obj: &MaintenanceSession) -> TestResult {
    let Some(dir) = std::env::var_os("IMMYBOT_CAPTURE_FIXTURES") else {
        return Ok(());
    };
    let mut obj = obj.clone();
    obj.metadata.managed_fields = None;
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
    let name = format!(
        "{}{}.json",
        phase.to_lowercase(),
        if stalled && phase == "Pending" { "-stalled" } else { "" }
    );
    let text = serde_json::to_string_pretty(&obj).ctx("fixture JSON")?;
    std::fs::write(std::path::Path::new(&dir).join(name), text + "\n").ctx("writing fixture")
}

fn expect(obj: &MaintenanceSession, want: &str) -> TestResult {
    capture(obj)?;
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
