//! MaintenanceSessions through their lifecycle: a real API server, the
//! controller, and the simulator over real HTTP.

use std::time::Duration;

use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint, SessionGroupId};
use kube::ResourceExt as _;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        one_computer_from_approval_to_succeeded,
        a_tenant_by_name_partially_succeeds_with_aggregates,
        failed_computers_are_rerun_up_to_the_limit,
        approval_refusals_start_nothing,
        started_sessions_cannot_change_what_they_do,
        suspend_holds_the_start_until_lifted,
        cancel_stops_running_sessions,
        timeout_cancels_and_ends_timed_out,
        deletion_cancels_or_orphans,
        inline_approval_only_where_allowed,
    ]
}

const LONG: Duration = Duration::from_secs(30);

pub async fn create_session(
    ctx: &TestContext,
    name: &str,
    spec: serde_json::Value,
) -> Result<MaintenanceSession, String> {
    let obj: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceSession",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .ctx("session fixture")?;
    let requester = obj.spec.requested_by.clone();
    ctx.api_as::<MaintenanceSession>(&requester)
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create session")
}

/// Approves `session` as `approver` for the digest its status shows now.
/// alice asks for maintenance of `computer`, bob approves it, and it ends
/// in `phase`: the start most tests build on.
pub async fn approved_run(
    ctx: &TestContext,
    name: &str,
    computer: i32,
    reason: &str,
    phase: Phase,
) -> Result<MaintenanceSession, String> {
    create_session(
        ctx,
        name,
        serde_json::json!({"requestedBy": "alice", "reason": reason, "target": {"computer": {"id": computer}}}),
    )
    .await?;
    approve(ctx, name, "bob").await?;
    ctx.wait_phase(name, phase, LONG).await
}

pub async fn approve(ctx: &TestContext, session: &str, approver: &str) -> Result<MaintenanceApproval, String> {
    let obj = ctx.wait_phase(session, Phase::AwaitingApproval, LONG).await?;
    let digest = obj
        .status
        .and_then(|s| s.approval_digest)
        .ok_or("no digest in status")?;
    approve_digest(ctx, session, approver, &digest, None).await
}

pub async fn approve_digest(
    ctx: &TestContext,
    session: &str,
    approver: &str,
    digest: &str,
    expires: Option<&str>,
) -> Result<MaintenanceApproval, String> {
    let uid = ctx
        .api::<MaintenanceSession>()
        .get(session)
        .await
        .ctx("reading the session to approve")?
        .uid()
        .ok_or("the session has no uid")?;
    let mut spec = serde_json::json!({"sessionName": session, "sessionUid": uid, "digest": digest, "approver": approver, "comment": "looks right"});
    if let Some(e) = expires {
        spec["expiresAt"] = e.into();
    }
    let obj: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{session}-{approver}-{}", rand::random::<u16>())},
        "spec": spec,
    }))
    .ctx("approval fixture")?;
    ctx.api_as::<MaintenanceApproval>(approver)
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create approval")
}

fn one_computer(computer: &str) -> serde_json::Value {
    serde_json::json!({"requestedBy": "alice", "reason": "CHG-7 patching", "target": {"computer": {"name": computer}}})
}

fn condition(obj: &MaintenanceSession, t: &str) -> Option<(String, String, String)> {
    obj.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn one_computer_from_approval_to_succeeded(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // The stages of a computer that passed are mirrored where the listing
    // carries them (a failed one's are read in any shape: fidelity.rs).
    sim.state.update_shape(|s| s.dx_rows_with_stages = true);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(&ctx, "reception", one_computer("RECEPTION-PC")).await?;
    let waiting = ctx.wait_phase("reception", Phase::AwaitingApproval, LONG).await?;
    let approved = condition(&waiting, "Approved").ok_or("no Approved condition")?;
    if approved.0 != "False" || !approved.2.contains("kubectl immybot approve reception") {
        return Err(format!("Approved condition should say how to approve: {approved:?}"));
    }
    if !sim.state.ledger().is_empty() {
        return Err("something started before approval".into());
    }
    approve(&ctx, "reception", "bob").await?;
    let done = ctx.wait_phase("reception", Phase::Succeeded, LONG).await?;
    let status = done.status.clone().unwrap_or_default();

    let ledger = sim.state.ledger();
    if ledger.len() != 1 {
        return Err(format!(
            "expected exactly one ImmyBot session, the ledger has {ledger:?}"
        ));
    }
    let group = SessionGroupId::for_attempt(&created.uid().unwrap_or_default(), 1).0;
    if ledger[0].session_group_id != Some(group) || ledger[0].computer_id != 101 {
        return Err(format!(
            "the session does not carry the derived group id or target: {:?}",
            ledger[0]
        ));
    }
    let computer = status.computers.first().ok_or("no computer in status")?;
    let zip = computer
        .actions
        .iter()
        .find(|a| a.name == "7-Zip")
        .ok_or("7-Zip action not mirrored")?;
    let mirrored = (
        zip.action_type.as_deref(),
        zip.result.as_deref(),
        zip.detected_version.as_deref(),
        zip.desired_version.as_deref(),
    );
    if mirrored != (Some("Update"), Some("Success"), Some("23.01"), Some("24.08")) {
        return Err(format!("7-Zip mirrored wrongly: {zip:?}"));
    }
    if computer.stages.detection.as_deref() != Some("Passed") || computer.stages.execution.as_deref() != Some("Passed")
    {
        return Err(format!("stages not mirrored: {:?}", computer.stages));
    }
    let record = status.approval.clone().ok_or("no approval record")?;
    if record.approved_by != "bob"
        || record.method != "MaintenanceApproval"
        || Some(&record.digest) != status.approval_digest.as_ref()
    {
        return Err(format!("approval record: {record:?}"));
    }
    if status.resolved_target.map(|r| r.computers)
        != Some(vec![immybot_operator::api::NamedId {
            id: 101,
            name: Some("RECEPTION-PC".into()),
        }])
    {
        return Err("the name resolution is not recorded".into());
    }
    let ready = condition(&done, "Ready").ok_or("no Ready")?;
    let succeeded = condition(&done, "Succeeded").ok_or("no Succeeded")?;
    if ready.0 != "True" || succeeded.0 != "True" || status.start_time.is_none() || status.completion_time.is_none() {
        return Err(format!("final conditions/times wrong: {ready:?} {succeeded:?}"));
    }
    // Logs are read where a person looks (failures, long runs: with the
    // tests' half-second idle interval this run counts as long; a passed
    // session's end costs none: poller.rs, fidelity.rs).
    if status.progress.as_deref() != Some("1/1") {
        return Err(format!("progress {:?}", status.progress));
    }
    // Events tell the story: what it waited for, who approved, what started
    // with which reboot policy, how it ended; no event per step in between.
    let events = ctx.api::<k8s_openapi::api::events::v1::Event>();
    wait_for("the transition events", LONG, || async {
        let list = events.list(&Default::default()).await.map_err(|e| e.to_string())?;
        let notes: Vec<(String, String)> = list
            .items
            .iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("reception"))
            .map(|e| (e.reason.clone().unwrap_or_default(), e.note.clone().unwrap_or_default()))
            .collect();
        let has = |reason: &str, part: &str| notes.iter().any(|(r, n)| r == reason && n.contains(part));
        // The approval started the object at once: the start's event names
        // the approver, and there is no separate Approved event.
        let complete = has("NotApproved", "waiting for someone other than alice")
            && has("Started", "reboot policy IfRequired, approved by bob")
            && has("Started", "ImmyBot sessions")
            && !notes
                .iter()
                .any(|(r, _)| ["Queued", "Running", "Starting"].contains(&r.as_str()))
            && has("Succeeded", "all 1 computer(s) passed");
        if complete {
            Ok(Some(()))
        } else {
            Err(format!("events so far: {notes:?}"))
        }
    })
    .await
}

async fn a_tenant_by_name_partially_succeeds_with_aggregates(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "fabrikam",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-8", "target": {"tenant": {"name": "fabrikam"}}}),
    )
    .await?;
    approve(&ctx, "fabrikam", "bob").await?;
    let done = ctx.wait_phase("fabrikam", Phase::PartiallySucceeded, LONG).await?;
    let status = done.status.unwrap_or_default();
    let summary = status.summary.ok_or("no summary")?;
    // RECEPTION-PC passes, FINANCE-LT01 has a failing installer, the kiosk is offline.
    if (
        summary.computers,
        summary.passed,
        summary.partially_passed,
        summary.missed,
    ) != (3, 1, 1, 1)
    {
        return Err(format!("summary: {summary:?}"));
    }
    let zip = status.items.iter().find(|i| i.name == "7-Zip").ok_or("no 7-Zip item")?;
    if zip.succeeded != 1 {
        return Err(format!("7-Zip aggregate: {zip:?}"));
    }
    if status.computers.first().map(|c| c.session_status.as_str()) != Some("PartialPassed") {
        return Err(format!(
            "worst computer first: {:?}",
            status.computers.iter().map(|c| &c.session_status).collect::<Vec<_>>()
        ));
    }
    if status.target_summary.as_deref() != Some("tenant fabrikam") {
        return Err(format!("target summary: {:?}", status.target_summary));
    }
    Ok(())
}

async fn failed_computers_are_rerun_up_to_the_limit(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "finance",
        serde_json::json!({
            "requestedBy": "alice", "reason": "CHG-9",
            "target": {"computers": [{"id": 101}, {"id": 102}]},
            "retry": {"limit": 1},
        }),
    )
    .await?;
    approve(&ctx, "finance", "bob").await?;
    let done = ctx.wait_phase("finance", Phase::PartiallySucceeded, LONG).await?;
    let attempts = done
        .status
        .and_then(|s| s.immybot)
        .map(|r| r.attempts)
        .unwrap_or_default();
    if attempts.len() != 2 || attempts[1].computer_ids != vec![102] {
        return Err(format!("expected a second attempt for computer 102 only: {attempts:?}"));
    }
    let per_computer: Vec<i32> = sim.state.ledger().iter().map(|e| e.computer_id).collect();
    if per_computer.iter().filter(|c| **c == 102).count() != 2
        || per_computer.iter().filter(|c| **c == 101).count() != 1
    {
        return Err(format!("ledger computers: {per_computer:?}"));
    }
    // A person asks for one more run after the end.
    let patch = serde_json::json!({"spec": {"retry": {"requests": 1}}});
    ctx.api::<MaintenanceSession>()
        .patch("finance", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .ctx("ask for a rerun")?;
    let again = wait_for("a third attempt to finish", LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get("finance")
            .await
            .map_err(|e| e.to_string())?;
        let status = obj.status.clone().unwrap_or_default();
        let attempts = status.immybot.map(|r| r.attempts).unwrap_or_default();
        let done =
            attempts.len() == 3 && status.phase == Some(Phase::PartiallySucceeded) && status.completion_time.is_some();
        Ok(done.then_some(attempts))
    })
    .await?;
    if again[2].computer_ids != vec![102] {
        return Err(format!(
            "the requested rerun must target the failed computer only: {:?}",
            again[2]
        ));
    }
    let reruns = sim.state.ledger().iter().filter(|e| e.computer_id == 102).count();
    if reruns != 3 {
        return Err(format!("expected three sessions for computer 102, got {reruns}"));
    }
    Ok(())
}

async fn approval_refusals_start_nothing(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let reason_of = |name: &'static str| {
        let ctx = &ctx;
        async move {
            wait_for(&format!("{name} to report why it is not approved"), LONG, || async {
                let obj = ctx
                    .api::<MaintenanceSession>()
                    .get(name)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(condition(&obj, "Approved")
                    .filter(|c| c.1 != "AwaitingApproval")
                    .map(|c| c.1))
            })
            .await
        }
    };
    create_session(&ctx, "self", one_computer("RECEPTION-PC")).await?;
    approve(&ctx, "self", "alice").await?;
    let got = reason_of("self").await?;
    if got != "SelfApproval" {
        return Err(format!("self-approval: {got}"));
    }

    create_session(&ctx, "stale", one_computer("FINANCE-LT01")).await?;
    ctx.wait_phase("stale", Phase::AwaitingApproval, LONG).await?;
    let other = format!("sha256:{}", "0".repeat(64));
    approve_digest(&ctx, "stale", "bob", &other, None).await?;
    let got = reason_of("stale").await?;
    if got != "DigestMismatch" {
        return Err(format!("wrong digest: {got}"));
    }

    create_session(&ctx, "late", one_computer("NW-DC01")).await?;
    let digest = ctx
        .wait_phase("late", Phase::AwaitingApproval, LONG)
        .await?
        .status
        .and_then(|s| s.approval_digest)
        .unwrap_or_default();
    approve_digest(&ctx, "late", "bob", &digest, Some("2020-01-01T00:00:00Z")).await?;
    let got = reason_of("late").await?;
    if got != "ApprovalExpired" {
        return Err(format!("expired approval: {got}"));
    }

    // A valid approval, then a spec change before the start: revoked.
    create_session(&ctx, "changed", serde_json::json!({"requestedBy": "alice", "reason": "CHG-7", "target": {"computer": {"id": 101}}, "suspend": true})).await?;
    let digest = ctx
        .wait_phase("changed", Phase::Suspended, LONG)
        .await?
        .status
        .and_then(|s| s.approval_digest)
        .unwrap_or_default();
    approve_digest(&ctx, "changed", "bob", &digest, None).await?;
    // Only the requester may change her request (admission).
    let patch = serde_json::json!({"spec": {"reboot": {"policy": "Always"}, "suspend": false}});
    let patched = ctx
        .api_as::<MaintenanceSession>("alice")
        .await?
        .patch("changed", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .ctx("patch")?;
    // The Approved reason of the changed spec, not the one before the change.
    let got = wait_for("the controller to look at the changed spec", LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get("changed")
            .await
            .map_err(|e| e.to_string())?;
        let seen = obj.status.as_ref().and_then(|s| s.observed_generation);
        Ok((seen >= patched.metadata.generation)
            .then(|| condition(&obj, "Approved").map(|c| c.1))
            .flatten())
    })
    .await?;
    if got != "DigestMismatch" {
        return Err(format!("a changed spec must revoke the approval: {got}"));
    }
    if !sim.state.ledger().is_empty() {
        return Err(format!("refused approvals started sessions: {:?}", sim.state.ledger()));
    }
    Ok(())
}

async fn started_sessions_cannot_change_what_they_do(ctx: TestContext) -> TestResult {
    let sim = simulator(2000).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "frozen", one_computer("RECEPTION-PC")).await?;
    approve(&ctx, "frozen", "bob").await?;
    ctx.wait_phase("frozen", Phase::Running, LONG).await?;
    let api = ctx.api::<MaintenanceSession>();
    let patch = serde_json::json!({"spec": {"reboot": {"policy": "Always"}}});
    match api
        .patch("frozen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s))
            if s.code == 422 && s.message.contains("cannot change once the session has started") => {}
        other => {
            return Err(format!(
                "changing reboot after the start must be refused, got {other:?}"
            ));
        }
    }
    let patch = serde_json::json!({"spec": {"requestedBy": "mallory"}});
    match api
        .patch("frozen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("spec.requestedBy cannot change") => {}
        other => return Err(format!("changing requestedBy must be refused, got {other:?}")),
    }
    // Controls stay mutable; the reason is part of the request and is not.
    let patch = serde_json::json!({"spec": {"reason": "CHG-7 (rescheduled)"}});
    match api
        .patch("frozen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s))
            if s.code == 422 && s.message.contains("cannot change once the session has started") => {}
        other => {
            return Err(format!(
                "changing the reason after the start must be refused, got {other:?}"
            ));
        }
    }
    let patch = serde_json::json!({"spec": {"timeout": "4h", "retry": {"limit": 2}}});
    api.patch("frozen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .ctx("controls must stay mutable")?;
    Ok(())
}

async fn suspend_holds_the_start_until_lifted(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "held", serde_json::json!({"requestedBy": "alice", "reason": "CHG-7", "target": {"computer": {"id": 101}}, "suspend": true})).await?;
    let obj = ctx.wait_phase("held", Phase::Suspended, LONG).await?;
    let digest = obj.status.and_then(|s| s.approval_digest).unwrap_or_default();
    approve_digest(&ctx, "held", "bob", &digest, None).await?;
    // Approved but suspended: it stays suspended and starts nothing.
    wait_for("the approval to be recorded", LONG, || async {
        let obj = ctx
            .api::<MaintenanceSession>()
            .get("held")
            .await
            .map_err(|e| e.to_string())?;
        Ok(condition(&obj, "Approved").filter(|c| c.0 == "True").map(|_| obj))
    })
    .await?;
    let obj = ctx.api::<MaintenanceSession>().get("held").await.ctx("get")?;
    if obj.status.and_then(|s| s.phase) != Some(Phase::Suspended) || !sim.state.ledger().is_empty() {
        return Err("a suspended session started".into());
    }
    let patch = serde_json::json!({"spec": {"suspend": false}});
    ctx.api::<MaintenanceSession>()
        .patch("held", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .ctx("resume")?;
    ctx.wait_phase("held", Phase::Succeeded, LONG).await?;
    Ok(())
}

async fn cancel_stops_running_sessions(ctx: TestContext) -> TestResult {
    let sim = simulator(3000).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "stop", one_computer("RECEPTION-PC")).await?;
    approve(&ctx, "stop", "bob").await?;
    ctx.wait_phase("stop", Phase::Running, LONG).await?;
    let patch = serde_json::json!({"spec": {"cancel": {"reason": "wrong maintenance window"}}});
    ctx.api::<MaintenanceSession>()
        .patch("stop", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .ctx("cancel")?;
    let done = ctx.wait_phase("stop", Phase::Cancelled, LONG).await?;
    let ready = condition(&done, "Ready").unwrap_or_default();
    if !ready.2.contains("wrong maintenance window") {
        return Err(format!("the cancel reason is not in status: {ready:?}"));
    }
    let ledger = sim.state.ledger();
    if ledger.len() != 1 || ledger[0].status != "Cancelled" {
        return Err(format!("ImmyBot session not cancelled: {ledger:?}"));
    }
    // Cancel is final.
    let patch = serde_json::json!({"spec": {"cancel": null}});
    match ctx
        .api::<MaintenanceSession>()
        .patch("stop", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 422 => Ok(()),
        other => Err(format!("removing spec.cancel must be refused, got {other:?}")),
    }
}

async fn timeout_cancels_and_ends_timed_out(ctx: TestContext) -> TestResult {
    let sim = simulator(5000).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "slow", serde_json::json!({"requestedBy": "alice", "reason": "CHG-7", "target": {"computer": {"id": 101}}, "timeout": "3s"})).await?;
    approve(&ctx, "slow", "bob").await?;
    ctx.wait_phase("slow", Phase::TimedOut, LONG).await?;
    let ledger = sim.state.ledger();
    if ledger.len() != 1 || ledger[0].status != "Cancelled" {
        return Err(format!(
            "the timed-out session was not cancelled in ImmyBot: {ledger:?}"
        ));
    }
    Ok(())
}

async fn deletion_cancels_or_orphans(ctx: TestContext) -> TestResult {
    let sim = simulator(5000).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "cancel-me", one_computer("RECEPTION-PC")).await?;
    let mut orphan = one_computer("FINANCE-LT01");
    orphan["deletionPolicy"] = "Orphan".into();
    create_session(&ctx, "leave-me", orphan).await?;
    create_session(&ctx, "never-started", one_computer("NW-DC01")).await?;
    approve(&ctx, "cancel-me", "bob").await?;
    approve(&ctx, "leave-me", "bob").await?;
    ctx.wait_phase("cancel-me", Phase::Running, LONG).await?;
    ctx.wait_phase("leave-me", Phase::Running, LONG).await?;
    ctx.wait_phase("never-started", Phase::AwaitingApproval, LONG).await?;
    let api = ctx.api::<MaintenanceSession>();
    for name in ["cancel-me", "leave-me", "never-started"] {
        api.delete(name, &DeleteParams::default()).await.ctx("delete")?;
    }
    for name in ["cancel-me", "leave-me", "never-started"] {
        wait_for(&format!("{name} to be released and gone"), LONG, || async {
            match api.get_opt(name).await.map_err(|e| e.to_string())? {
                None => Ok(Some(())),
                Some(o) => Err(format!("still there, finalizers {:?}", o.metadata.finalizers)),
            }
        })
        .await?;
    }
    let ledger = sim.state.ledger();
    let status_of = |computer: i32| {
        ledger
            .iter()
            .find(|e| e.computer_id == computer)
            .map(|e| e.status.clone())
    };
    if status_of(101).as_deref() != Some("Cancelled") {
        return Err(format!("deletionPolicy Cancel must cancel: {ledger:?}"));
    }
    if status_of(102).as_deref() != Some("Running") {
        return Err(format!(
            "deletionPolicy Orphan must leave the session running: {ledger:?}"
        ));
    }
    Ok(())
}

async fn inline_approval_only_where_allowed(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let policy = ApprovalPolicy {
        inline_namespaces: [ctx.namespace.clone()].into(),
        ..Default::default()
    };
    let _controller = ctx.controller(&sim, policy, CrashPoint::Never).await?;
    let mut spec = one_computer("RECEPTION-PC");
    spec["approval"] = serde_json::json!({"approvedBy": "carol", "reference": "https://git.example/acme/pr/42"});
    create_session(&ctx, "gitops", spec).await?;
    let done = ctx.wait_phase("gitops", Phase::Succeeded, LONG).await?;
    let record = done.status.and_then(|s| s.approval).ok_or("no approval record")?;
    if record.method != "Inline"
        || record.approved_by != "carol"
        || record.source.as_deref() != Some("https://git.example/acme/pr/42")
    {
        return Err(format!("inline approval record: {record:?}"));
    }
    Ok(())
}
