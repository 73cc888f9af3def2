//! `kubectl-immybot` against the real API server, as the people who use it.

use std::process::Stdio;
use std::time::Duration;

use immybot_operator::api::{MaintenanceApproval, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use tokio::io::AsyncWriteExt as _;

use crate::harness::{Context as _, TEST_USERS_GROUP, TestContext, TestFn, TestResult, simulator};
use crate::lifecycle::create_session;

/// Whether the approval prompt shows `label` (a field path) with `text`.
fn shows(out: &str, label: &str, text: &str) -> bool {
    out.lines().any(|l| {
        let l = l.trim_start();
        l.split_whitespace().next() == Some(label) && l.contains(text)
    })
}

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        the_plugin_approves_reports_and_controls_sessions,
        the_plugin_approves_runs_and_cancels_schedules,
        concurrent_retries_from_the_plugin_all_count,
        the_plugin_takes_kubectls_kubeconfig_context_and_timeout_flags,
        the_plugin_creates_lists_revokes_and_deletes,
    ]
}

const LONG: Duration = Duration::from_secs(40);

/// Runs the plugin as `user`; returns (success, stdout + stderr).
pub async fn plugin(
    ctx: &TestContext,
    user: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<(bool, String), String> {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-immybot"));
    cmd.env("KUBECONFIG", ctx.kubeconfig_path())
        .args(args)
        .args(["-n", &ctx.namespace, "--as", user, "--as-group", TEST_USERS_GROUP])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().ctx("starting kubectl-immybot")?;
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).await.ctx("stdin")?;
        }
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .ctx("kubectl-immybot timed out")?
        .ctx("kubectl-immybot")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

async fn the_plugin_approves_reports_and_controls_sessions(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // The status shows a passed computer's stages where the listing
    // carries them.
    sim.state.update_shape(|s| s.dx_rows_with_stages = true);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "plug", serde_json::json!({"requestedBy": "alice", "reason": "CHG-40", "target": {"computer": {"name": "RECEPTION-PC"}}})).await?;
    ctx.wait_phase("plug", Phase::AwaitingApproval, LONG).await?;

    let (ok, out) = plugin(&ctx, "alice", &["approve", "plug", "--yes"], None).await?;
    if ok || !out.contains("you (alice) requested plug; someone else must approve it") {
        return Err(format!("self-approval must be refused by the plugin: {out}"));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "plug"], Some("n\n")).await?;
    if !ok
        || !shows(&out, "reboot", "IfRequired")
        || !shows(&out, "target", "computer RECEPTION-PC")
        || !out.contains("not approved")
    {
        return Err(format!("declining at the prompt: {out}"));
    }
    if !ctx
        .api::<MaintenanceApproval>()
        .list(&Default::default())
        .await
        .ctx("list")?
        .items
        .is_empty()
    {
        return Err("declining must not create an approval".into());
    }
    let (ok, out) = plugin(
        &ctx,
        "bob",
        &[
            "approve",
            "plug",
            "--yes",
            "--comment",
            "checked the change",
            "--expires-in",
            "2h",
        ],
        None,
    )
    .await?;
    if !ok || !out.contains("approved plug as bob") {
        return Err(format!("approve: {out}"));
    }
    let approval = ctx
        .api::<MaintenanceApproval>()
        .list(&Default::default())
        .await
        .ctx("list")?
        .items
        .pop()
        .ok_or("no approval")?;
    let plug_uid = ctx
        .api::<immybot_operator::api::MaintenanceSession>()
        .get("plug")
        .await
        .ctx("get plug")?
        .metadata
        .uid
        .unwrap_or_default();
    let owned = approval
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == plug_uid && r.kind == "MaintenanceSession");
    if approval.spec.approver != "bob"
        || approval.spec.comment.as_deref() != Some("checked the change")
        || approval.spec.expires_at.is_none()
        || approval.spec.session_uid != plug_uid
        || !owned
    {
        return Err(format!(
            "approval bound to plug (uid {plug_uid}) and owned by it: {:?} {:?}",
            approval.spec, approval.metadata.owner_references
        ));
    }
    ctx.wait_phase("plug", Phase::Succeeded, LONG).await?;
    let (_, out) = plugin(&ctx, "alice", &["status", "plug"], None).await?;
    for needle in [
        "plug  Succeeded",
        "approved  by bob (MaintenanceApproval)",
        "RECEPTION-PC (#101)",
        "Success",
        "7-Zip",
        "Update 23.01 -> 24.08",
        "stages  detection Passed, execution Passed",
    ] {
        if !out.contains(needle) {
            return Err(format!("status lacks {needle:?}:\n{out}"));
        }
    }
    // A session that passed keeps no log lines (none were read); the
    // plugin says where the full logs are.
    let (_, out) = plugin(&ctx, "alice", &["logs", "plug"], None).await?;
    if out.contains("Session finished") || !out.contains("full logs are in ImmyBot") {
        return Err(format!("logs: {out}"));
    }

    // Controls on a second session.
    create_session(
        &ctx,
        "held",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-41", "target": {"computer": {"id": 102}}}),
    )
    .await?;
    ctx.wait_phase("held", Phase::AwaitingApproval, LONG).await?;
    let (ok, out) = plugin(&ctx, "alice", &["suspend", "held"], None).await?;
    if !ok || !out.contains("nothing starts until it is resumed") {
        return Err(format!("suspend: {out}"));
    }
    ctx.wait_phase("held", Phase::Suspended, LONG).await?;
    plugin(&ctx, "alice", &["resume", "held"], None).await?;
    ctx.wait_phase("held", Phase::AwaitingApproval, LONG).await?;
    let (ok, out) = plugin(&ctx, "alice", &["retry", "held"], None).await?;
    if !ok || !out.contains("retry.requests = 1") {
        return Err(format!("retry: {out}"));
    }
    let (ok, out) = plugin(&ctx, "alice", &["cancel", "held", "--reason", "not this month"], None).await?;
    if !ok || !out.contains("cannot be undone") {
        return Err(format!("cancel: {out}"));
    }
    let done = ctx.wait_phase("held", Phase::Cancelled, LONG).await?;
    if done.spec.retry.requests != 1 || !sim.state.ledger().iter().all(|e| e.computer_id != 102) {
        return Err("the cancelled, never-approved session must have started nothing".into());
    }

    // `resume` on a session whose user postponed the reboot resumes it in
    // ImmyBot (NW-DC01's user postpones prompts).
    create_session(
        &ctx,
        "dc",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-43", "target": {"computer": {"id": 201}},
                           "reboot": {"policy": "Prompt"}}),
    )
    .await?;
    crate::lifecycle::approve(&ctx, "dc", "bob").await?;
    ctx.wait_phase("dc", Phase::Postponed, LONG).await?;
    let (ok, out) = plugin(&ctx, "bob", &["resume", "dc"], None).await?;
    if !ok || !out.contains("resume.requests = 1") {
        return Err(format!("resume of a postponed session: {out}"));
    }
    ctx.wait_phase("dc", Phase::Succeeded, LONG).await?;
    let (ok, out) = plugin(&ctx, "bob", &["resume", "dc"], None).await?;
    if ok || !out.contains("neither suspended, postponed nor halted") {
        return Err(format!("resume with nothing held must say so and fail: {out}"));
    }
    Ok(())
}

async fn the_plugin_approves_runs_and_cancels_schedules(ctx: TestContext) -> TestResult {
    use crate::harness::wait_for;
    use crate::schedules::{create, nightly, one_schedule};
    use immybot_operator::api::{ApprovedKind, ImmyBotSchedule};

    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Tenant 2's kiosk is offline: with ApplyOnConnect its session waits,
    // so a run stays running until cancelled.
    create(
        &ctx,
        "nightly",
        nightly(serde_json::json!({"offline": "ApplyOnConnect", "deletionPolicy": "Orphan"})),
    )
    .await?;
    let api = ctx.api::<ImmyBotSchedule>();
    let uid = wait_for("a digest to approve", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        match o.status.as_ref().and_then(|s| s.approval_digest.clone()) {
            Some(_) => Ok(o.metadata.uid.clone()),
            None => Err("no digest".into()),
        }
    })
    .await?;

    let (ok, out) = plugin(&ctx, "alice", &["approve", "schedule/nightly", "--yes"], None).await?;
    if ok || !out.contains("you (alice) requested schedule/nightly; someone else must approve it") {
        return Err(format!("self-approval must be refused: {out}"));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "schedule/nightly"], Some("n\n")).await?;
    if !ok
        || !out.contains("ImmyBotSchedule nightly")
        || !shows(&out, "daily", "every day at 22:30")
        || !shows(&out, "timeZone", "Europe/Berlin")
        || !shows(&out, "target", "tenant #2, WorkstationsAndPortableDevices")
        || !out.contains("not approved")
    {
        return Err(format!("declining at the prompt: {out}"));
    }
    if !sim.state.schedules().is_empty() {
        return Err("declined, yet ImmyBot has a schedule".into());
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "imsched/nightly", "--yes"], None).await?;
    if !ok || !out.contains("approved schedule/nightly as bob") {
        return Err(format!("approve: {out}"));
    }
    let approval = ctx
        .api::<MaintenanceApproval>()
        .list(&Default::default())
        .await
        .ctx("list")?
        .items
        .pop()
        .ok_or("no approval")?;
    let owned = approval
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == uid && r.kind == "ImmyBotSchedule");
    if approval.spec.kind != ApprovedKind::ImmyBotSchedule || !owned {
        return Err(format!(
            "approval of the schedule: {:?} {:?}",
            approval.spec, approval.metadata.owner_references
        ));
    }
    let created = one_schedule(&sim, "the approved schedule", |_| true).await?;

    // run-now: anyone with edit rights; the run shows in `status`.
    let (ok, out) = plugin(&ctx, "carol", &["run-now", "nightly"], None).await?;
    if !ok || !out.contains("runNow.requests = 1") {
        return Err(format!("run-now: {out}"));
    }
    wait_for("the kiosk waiting in the run", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        let st = o.status.unwrap_or_default();
        match st.last_run {
            Some(r) if st.running && r.computers == 3 && r.passed + r.failed == 2 && r.running == 1 => Ok(Some(())),
            other => Err(format!("running {} last run {other:?}", st.running)),
        }
    })
    .await?;
    let (_, out) = plugin(&ctx, "carol", &["status", "schedule/nightly"], None).await?;
    for needle in [
        "schedule/nightly  Ready",
        &format!("immybot   schedule {}, running now", created.id),
        "30 22 * * * Europe/Berlin",
        "Running",
        "(of 3)",
        "WAREHOUSE-KIOSK (#103)",
    ] {
        if !out.contains(needle) {
            return Err(format!("status lacks {needle:?}:\n{out}"));
        }
    }
    // cancel-running cancels the waiting kiosk session, nothing else.
    let (ok, out) = plugin(&ctx, "carol", &["cancel-running", "schedule/nightly"], None).await?;
    if !ok || !out.contains("cancelRunning.requests = 1") {
        return Err(format!("cancel-running: {out}"));
    }
    wait_for("the kiosk session cancelled and the run over", LONG, || async {
        let kiosk: Vec<String> = sim
            .state
            .ledger()
            .into_iter()
            .filter(|e| e.computer_id == 103)
            .map(|e| e.status)
            .collect();
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        let st = o.status.unwrap_or_default();
        let over = st
            .last_run
            .as_ref()
            .is_some_and(|r| r.running == 0 && r.result != "Running");
        if kiosk == ["Cancelled"] && !st.running && over {
            Ok(Some(()))
        } else {
            Err(format!(
                "kiosk {kiosk:?}, running {}, last run {:?}",
                st.running, st.last_run
            ))
        }
    })
    .await?;
    let runs = sim.state.call_count("POST /api/v1/schedules/{scheduleId}/run-now");
    if runs != 1 {
        return Err(format!("{runs} run-now calls for one request"));
    }

    // suspend / resume: disabled in ImmyBot and back, no approval needed.
    let (ok, out) = plugin(&ctx, "carol", &["suspend", "schedule/nightly"], None).await?;
    if !ok || !out.contains("disables it in ImmyBot") {
        return Err(format!("suspend: {out}"));
    }
    one_schedule(&sim, "disabled", |s| s.definition.disabled == Some(true)).await?;
    let (ok, out) = plugin(&ctx, "carol", &["run-now", "schedule/nightly"], None).await?;
    if ok || !out.contains("is suspended") {
        return Err(format!("run-now of a suspended schedule must be refused: {out}"));
    }
    plugin(&ctx, "carol", &["resume", "schedule/nightly"], None).await?;
    one_schedule(&sim, "enabled again", |s| s.definition.disabled == Some(false)).await?;
    // Session-only commands refuse a schedule, and the other way round.
    let (ok, out) = plugin(&ctx, "carol", &["retry", "schedule/nightly"], None).await?;
    if ok || !out.contains("for MaintenanceSessions") {
        return Err(format!("retry of a schedule: {out}"));
    }
    let (ok, out) = plugin(&ctx, "carol", &["run-now", "session/plug"], None).await?;
    if ok || !out.contains("for ImmyBotSchedules") {
        return Err(format!("run-now of a session: {out}"));
    }
    Ok(())
}

/// Six people run `kubectl immybot retry` on one session at the same time:
/// each read-modify-write carries the resourceVersion it read, so a lost
/// race is read and written again, and all six count (without the
/// precondition, two that read the same count write the same number).
/// No operator runs: only the API server and the plugin take part.
async fn concurrent_retries_from_the_plugin_all_count(ctx: TestContext) -> TestResult {
    create_session(
        &ctx,
        "raced",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-35", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    const PEOPLE: usize = 6;
    let runs = (0..PEOPLE).map(|_| plugin(&ctx, "carol", &["retry", "raced"], None));
    for (ok, out) in futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
    {
        if !ok {
            return Err(format!("a concurrent retry failed: {out}"));
        }
    }
    let session = ctx
        .api::<immybot_operator::api::MaintenanceSession>()
        .get("raced")
        .await
        .ctx("the session")?;
    if session.spec.retry.requests != PEOPLE as i32 {
        return Err(format!(
            "{PEOPLE} concurrent retries must all count: spec.retry.requests = {}",
            session.spec.retry.requests
        ));
    }
    Ok(())
}

/// `--kubeconfig`, `--context` and `--request-timeout` as kubectl takes
/// them: a kubeconfig (not $KUBECONFIG) whose current context points
/// nowhere works with `--context` naming the test bed's, and fails
/// without it.
async fn the_plugin_takes_kubectls_kubeconfig_context_and_timeout_flags(ctx: TestContext) -> TestResult {
    create_session(
        &ctx,
        "flagged",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-35", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    let text = std::fs::read_to_string(ctx.kubeconfig_path()).ctx("the test bed's kubeconfig")?;
    let mut config: serde_json::Value = serde_saphyr::from_str(&text).ctx("kubeconfig YAML")?;
    let real = config["current-context"]
        .as_str()
        .ok_or("no current context")?
        .to_owned();
    let cluster = config["contexts"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == real.as_str()))
        .map(|c| c["context"].clone())
        .ok_or("the current context is not listed")?;
    // A cluster nothing listens on, as the current context.
    config["clusters"]
        .as_array_mut()
        .ok_or("no clusters")?
        .push(serde_json::json!({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}}));
    let mut nowhere = cluster.clone();
    nowhere["cluster"] = "nowhere".into();
    let contexts = config["contexts"].as_array_mut().ok_or("no contexts")?;
    contexts.push(serde_json::json!({"name": "nowhere", "context": nowhere}));
    contexts.push(serde_json::json!({"name": "lab", "context": cluster}));
    config["current-context"] = "nowhere".into();
    let path = std::env::temp_dir().join(format!("immybot-e2e-kubeconfig-{}", ctx.namespace));
    std::fs::write(&path, serde_json::to_string(&config).ctx("kubeconfig")?).ctx("writing the kubeconfig")?;
    let path = path.display().to_string();
    let run = |extra: Vec<&'static str>| {
        let path = path.clone();
        let ns = ctx.namespace.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-immybot"))
                .env_remove("KUBECONFIG")
                .args(["list", "-n", &ns, "--kubeconfig", &path, "--request-timeout", "3s"])
                .args(["--as", "carol", "--as-group", TEST_USERS_GROUP])
                .args(extra)
                .output()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            ))
        }
    };
    let (ok, out) = run(vec!["--context", "lab"]).await?;
    if !ok || !out.contains("flagged") {
        return Err(format!("--context lab must reach the test bed: {out}"));
    }
    let started = std::time::Instant::now();
    let (ok, out) = run(vec![]).await?;
    if ok {
        return Err(format!("the current context points nowhere, yet it worked: {out}"));
    }
    if started.elapsed() > Duration::from_secs(20) {
        return Err(format!("--request-timeout 3s was not kept: {:?}", started.elapsed()));
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// `create` fills `requestedBy` from who the API server says the user is
/// (so the admission policy admits it), `approvals list` says whether each
/// approval still counts, `approvals revoke` withdraws only the user's own,
/// and `delete --wait` returns once the operator let the object go.
async fn the_plugin_creates_lists_revokes_and_deletes(ctx: TestContext) -> TestResult {
    use crate::harness::wait_for;
    use immybot_operator::api::MaintenanceSession;
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let (ok, out) = plugin(
        &ctx,
        "alice",
        &[
            "create",
            "preview",
            "--computer",
            "101",
            "--reason",
            "CHG-35",
            "--dry-run",
        ],
        None,
    )
    .await?;
    if !ok || !out.contains("requestedBy: alice") || !out.contains("kind: MaintenanceSession") {
        return Err(format!("--dry-run prints the manifest alice would apply: {out}"));
    }
    // Created suspended, so that nothing starts while approvals come and go.
    let (ok, out) = plugin(
        &ctx,
        "alice",
        &[
            "create",
            "lab-check",
            "--computer",
            "101",
            "--computer",
            "PC-00002",
            "--reason",
            "CHG-35",
            "--suspend",
        ],
        None,
    )
    .await?;
    if !ok || !out.contains("maintenancesession.immybot.io/lab-check created, requested by alice") {
        return Err(format!("create: {out}"));
    }
    let sessions = ctx.api::<MaintenanceSession>();
    if sessions.get_opt("preview").await.ctx("get")?.is_some() {
        return Err("a dry run must create nothing".into());
    }
    let created = sessions.get("lab-check").await.ctx("get")?;
    if created.spec.requested_by != "alice" || created.spec.target.computers.as_ref().map(Vec::len) != Some(2) {
        return Err(format!("the session as the flags said: {:?}", created.spec));
    }
    let digest_of = || async {
        Ok::<_, String>(
            sessions
                .get("lab-check")
                .await
                .ctx("get")?
                .status
                .and_then(|s| s.approval_digest),
        )
    };
    let first = wait_for("the operator to digest lab-check", LONG, digest_of).await?;
    let (ok, out) = plugin(&ctx, "bob", &["approve", "lab-check", "--yes"], None).await?;
    if !ok {
        return Err(format!("approve: {out}"));
    }
    let (ok, out) = plugin(&ctx, "carol", &["approvals", "list"], None).await?;
    let row = out
        .lines()
        .find(|l| l.contains("lab-check"))
        .unwrap_or_default()
        .to_owned();
    if !ok || !row.contains("bob") || !row.trim_end().ends_with("current") {
        return Err(format!("bob's approval counts for what lab-check is now: {out}"));
    }
    // Only approvers withdraw their own approvals with --for.
    let (ok, out) = plugin(&ctx, "alice", &["approvals", "revoke", "--for", "lab-check"], None).await?;
    if ok || !out.contains("alice has no approval of lab-check") {
        return Err(format!("alice has nothing to revoke: {out}"));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approvals", "revoke", "--for", "lab-check"], None).await?;
    if !ok || !out.contains("revoked: lab-check no longer starts on it") {
        return Err(format!("revoke: {out}"));
    }
    let (_, out) = plugin(&ctx, "carol", &["approvals", "list", "lab-check"], None).await?;
    if out.trim() != "no approvals" {
        return Err(format!("a revoked approval is gone: {out}"));
    }
    // Approved again, then the requester changes what it does: the approval
    // is listed as outdated.
    let (ok, out) = plugin(&ctx, "bob", &["approve", "lab-check", "--yes"], None).await?;
    if !ok {
        return Err(format!("approve again: {out}"));
    }
    let as_alice = ctx.api_as::<MaintenanceSession>("alice").await?;
    as_alice
        .patch(
            "lab-check",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"mode": "DetectionOnly"}})),
        )
        .await
        .ctx("alice changes the mode")?;
    wait_for("a new digest", LONG, || async {
        Ok(digest_of().await?.filter(|d| *d != first).map(|_| ()))
    })
    .await?;
    let (_, out) = plugin(&ctx, "carol", &["approvals", "list"], None).await?;
    let row = out
        .lines()
        .find(|l| l.contains("lab-check"))
        .unwrap_or_default()
        .to_owned();
    if !row.trim_end().ends_with("outdated") {
        return Err(format!("an approval of the earlier spec is outdated: {out}"));
    }
    let (ok, out) = plugin(&ctx, "alice", &["delete", "lab-check", "--wait"], None).await?;
    if !ok || !out.contains("maintenancesession.immybot.io/lab-check deleted") || !out.contains("cancelled first") {
        return Err(format!("delete --wait: {out}"));
    }
    if sessions.get_opt("lab-check").await.ctx("get")?.is_some() {
        return Err("deleted with --wait means gone".into());
    }
    let (_, out) = plugin(&ctx, "carol", &["approvals", "list"], None).await?;
    if !out.contains("object gone") && out.trim() != "no approvals" {
        return Err(format!("bob's approval no longer counts for anything: {out}"));
    }
    Ok(())
}
