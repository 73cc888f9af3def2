//! The two promises under attack: "nothing starts without a valid approval of
//! exactly that object by someone else" and "nothing is ever started twice",
//! with every computer accounted for. Each test failed on the code before
//! the fix it covers (see docs/design.md, "The approval model" and "The
//! start protocol").

use std::time::Duration;

use immybot_client::{ComputerOfflineMaintenanceSessionBehavior, ComputerTarget, RebootPreference, StartRequest};
use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::RunningSim;
use kube::ResourceExt as _;
use kube::api::{Patch, PatchParams};

use crate::harness::{
    Context as _, TestContext, TestFn, TestResult, lose_next_start_answer, manual_simulator, simulator, wait_for,
};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        an_approval_does_not_carry_over_to_a_recreated_object,
        only_the_requester_changes_what_is_approved,
        a_busy_computer_is_waited_for_and_started_when_free,
        a_busy_tenant_that_is_cancelled_counts_its_computers_as_not_started,
        adoption_confirms_each_candidate_and_never_starts_twice,
        adoption_works_with_either_dx_row_shape,
        single_deployment_and_prompt_reboots_reach_the_wire_as_the_contract_says,
        a_postponed_session_is_resumed_through_the_api,
        a_computer_name_is_confirmed_before_it_is_targeted,
    ]
}

const LONG: Duration = Duration::from_secs(40);

fn condition(obj: &MaintenanceSession, t: &str) -> Option<(String, String, String)> {
    obj.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn get(ctx: &TestContext, name: &str) -> Result<MaintenanceSession, String> {
    ctx.api::<MaintenanceSession>()
        .get(name)
        .await
        .map_err(|e| e.to_string())
}

/// Events about `name` as (reason, note).
async fn events_of(ctx: &TestContext, name: &str) -> Result<Vec<(String, String)>, String> {
    let list = ctx
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.clone().unwrap_or_default(), e.note.clone().unwrap_or_default()))
        .collect())
}

pub async fn wait_event(ctx: &TestContext, name: &str, reason: &str, part: &str) -> TestResult {
    wait_for(&format!("a {reason} event on {name} saying {part:?}"), LONG, || async {
        let events = events_of(ctx, name).await?;
        if events.iter().any(|(r, n)| r == reason && n.contains(part)) {
            Ok(Some(()))
        } else {
            Err(format!("events so far: {events:?}"))
        }
    })
    .await
}

/// A session someone else started in ImmyBot (a schedule, a person in the
/// UI), with reboot prompts; on NW-DC01 (201) the user postpones, so it
/// holds the computer until it is cancelled or resumed.
fn foreign_session(sim: &RunningSim, computer: i32) -> Result<i32, String> {
    let request = StartRequest {
        computers: Some(vec![ComputerTarget { computer_id: computer }]),
        full_maintenance: true,
        reboot_preference: Some(RebootPreference::Prompt),
        offline_behavior: Some(ComputerOfflineMaintenanceSessionBehavior::Skip),
        ..Default::default()
    };
    let started = sim
        .state
        .with_engine(|e, now| e.start(&request, now))
        .map_err(|e| format!("foreign start: {e:?}"))?;
    started
        .started
        .first()
        .map(|s| s.session_id)
        .ok_or_else(|| "the foreign session did not start".into())
}

fn sessions_on(sim: &RunningSim, computer: i32) -> Vec<immybot_sim::LedgerEntry> {
    sim.state
        .ledger()
        .into_iter()
        .filter(|e| e.computer_id == computer)
        .collect()
}

// ---- 1. an approval approves one object ---------------------------------

async fn an_approval_does_not_carry_over_to_a_recreated_object(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let spec = serde_json::json!({"requestedBy": "alice", "reason": "CHG-31", "target": {"computer": {"id": 101}}});
    let first = create_session(&ctx, "reuse", spec.clone()).await?;
    let first_uid = first.uid().ok_or("no uid")?;
    let approval = approve(&ctx, "reuse", "bob").await?;
    ctx.wait_phase("reuse", Phase::Succeeded, LONG).await?;
    wait_for("the approval to be owned by the session it approves", LONG, || async {
        let a = ctx
            .api::<MaintenanceApproval>()
            .get(&approval.name_any())
            .await
            .map_err(|e| e.to_string())?;
        let owned = a
            .owner_references()
            .iter()
            .any(|r| r.uid == first_uid && r.kind == "MaintenanceSession" && r.name == "reuse");
        if owned {
            Ok(Some(()))
        } else {
            Err(format!("owners: {:?}", a.owner_references()))
        }
    })
    .await?;

    // The test API server runs no garbage collector, so the approval outlives
    // the session here: the worst case (a slow collector, or an approval made
    // without an owner).
    ctx.delete_and_wait("reuse", LONG).await?;
    let second = create_session(&ctx, "reuse", spec).await?;
    let second_uid = second.uid().ok_or("no uid")?;
    let waiting = ctx.wait_phase("reuse", Phase::AwaitingApproval, LONG).await?;
    let (status, reason, message) = condition(&waiting, "Approved").ok_or("no Approved condition")?;
    if status != "False"
        || reason != "ApprovalForAnotherObject"
        || !message.contains(&first_uid)
        || !message.contains(&second_uid)
    {
        return Err(format!(
            "the old approval must be refused, naming both uids: {status} {reason}: {message}"
        ));
    }
    if sim.state.ledger().len() != 1 {
        return Err(format!(
            "the recreated object started on the old approval: {:?}",
            sim.state.ledger()
        ));
    }
    approve(&ctx, "reuse", "bob").await?;
    ctx.wait_phase("reuse", Phase::Succeeded, LONG).await?;
    if sim.state.ledger().len() != 2 {
        return Err(format!("a fresh approval starts it once: {:?}", sim.state.ledger()));
    }
    Ok(())
}

// ---- 2. four eyes -------------------------------------------------------

async fn only_the_requester_changes_what_is_approved(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "four-eyes",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-21", "target": {"computer": {"id": 101}},
                           "reboot": {"policy": "Never"}}),
    )
    .await?;
    ctx.wait_phase("four-eyes", Phase::AwaitingApproval, LONG).await?;
    let as_carol = ctx.api_as::<MaintenanceSession>("carol").await?;
    let merge = |spec: serde_json::Value| serde_json::json!({"spec": spec});
    let dry = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    // Admission policies take effect asynchronously: wait (dry runs) until
    // carol's change of the reboot policy is refused.
    let refusal = wait_for("carol's change of the reboot policy to be refused", LONG, || async {
        let patch = merge(serde_json::json!({"reboot": {"policy": "Always"}}));
        match as_carol.patch("four-eyes", &dry, &Patch::Merge(&patch)).await {
            Err(kube::Error::Api(s)) if s.message.contains("only the requester (alice) may change") => {
                Ok(Some(s.message))
            }
            other => Err(format!("{:?}", other.map(|_| "accepted"))),
        }
    })
    .await?;
    if !refusal.contains("not carol") {
        return Err(format!("the refusal should name who tried: {refusal}"));
    }
    for (what, spec) in [
        ("reboot policy", serde_json::json!({"reboot": {"policy": "Always"}})),
        ("target", serde_json::json!({"target": {"computer": {"id": 102}}})),
        ("reason", serde_json::json!({"reason": "CHG-22 something else"})),
        (
            "inline approval",
            serde_json::json!({"approval": {"approvedBy": "carol", "reference": "https://git.example/pr/1"}}),
        ),
    ] {
        if as_carol
            .patch("four-eyes", &PatchParams::default(), &Patch::Merge(&merge(spec)))
            .await
            .is_ok()
        {
            return Err(format!("carol changed alice's {what}"));
        }
    }
    // The controls stay open to others.
    for suspend in [true, false] {
        as_carol
            .patch(
                "four-eyes",
                &PatchParams::default(),
                &Patch::Merge(&merge(serde_json::json!({"suspend": suspend}))),
            )
            .await
            .ctx("carol using the suspend control")?;
    }
    // The requester may change her own request.
    ctx.api_as::<MaintenanceSession>("alice")
        .await?
        .patch(
            "four-eyes",
            &PatchParams::default(),
            &Patch::Merge(&merge(serde_json::json!({"reboot": {"policy": "IfRequired"}}))),
        )
        .await
        .ctx("alice changing her own request")?;
    // Carol approves what alice asked for, and exactly that runs.
    wait_for("the digest of alice's change", LONG, || async {
        let obj = get(&ctx, "four-eyes").await?;
        let observed = obj.status.as_ref().and_then(|s| s.observed_generation);
        Ok(
            (observed == obj.metadata.generation && obj.status.and_then(|s| s.phase) == Some(Phase::AwaitingApproval))
                .then_some(()),
        )
    })
    .await?;
    approve(&ctx, "four-eyes", "carol").await?;
    ctx.wait_phase("four-eyes", Phase::Succeeded, LONG).await?;
    let bodies = sim.state.bodies("POST /api/v1/run-immy-service");
    let prefs: Vec<&serde_json::Value> = bodies.iter().map(|b| &b["rebootPreference"]).collect();
    if prefs != [&serde_json::json!(0)] {
        return Err(format!(
            "one start with alice's reboot preference (Normal = 0) expected, got {prefs:?}"
        ));
    }
    Ok(())
}

// ---- 3. every targeted computer is accounted for ------------------------

async fn a_busy_computer_is_waited_for_and_started_when_free(ctx: TestContext) -> TestResult {
    let sim = manual_simulator(crate::harness::fleet()).await?;
    let foreign = foreign_session(&sim, 201)?;
    sim.state.advance(Duration::from_secs(12));
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "busy",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-41",
                           "target": {"computers": [{"id": 101}, {"id": 201}]}}),
    )
    .await?;
    approve(&ctx, "busy", "bob").await?;
    // 101 runs and passes; 201 waits for the foreign session, and the whole
    // does not count as finished.
    let waiting = wait_for("101 passed while 201 waits", LONG, || async {
        sim.state.advance(Duration::from_secs(5));
        let obj = get(&ctx, "busy").await?;
        let st = obj.status.clone().unwrap_or_default();
        let summary = st.summary.clone().unwrap_or_default();
        if st.phase == Some(Phase::Succeeded) {
            return Err(format!("Succeeded while computer 201 never ran: {st:?}"));
        }
        if summary.passed == 1 && summary.waiting == 1 && st.phase == Some(Phase::Queued) {
            Ok(Some(st))
        } else {
            Err(format!(
                "phase {:?}, summary {summary:?}, waiting {:?}",
                st.phase, st.waiting_computers
            ))
        }
    })
    .await?;
    let held = waiting.waiting_computers.first().cloned().unwrap_or_default();
    if (held.id, held.held_by_session_id) != (201, Some(foreign)) || waiting.progress.as_deref() != Some("1/2") {
        return Err(format!(
            "201 must be shown waiting on session {foreign}: {:?}, progress {:?}",
            waiting.waiting_computers, waiting.progress
        ));
    }
    let ready = waiting
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone());
    if !ready
        .as_deref()
        .is_some_and(|m| m.contains(&format!("held by ImmyBot session {foreign}")))
    {
        return Err(format!("the Ready message should say who holds 201: {ready:?}"));
    }
    // The foreign session ends; 201 is started and the whole succeeds.
    sim.state
        .with_engine(|e, now| e.cancel(foreign, now))
        .map_err(|e| format!("{e:?}"))?;
    let done = wait_for("the session to succeed once 201 ran", LONG, || async {
        sim.state.advance(Duration::from_secs(5));
        let obj = get(&ctx, "busy").await?;
        let phase = obj.status.as_ref().and_then(|s| s.phase);
        if phase == Some(Phase::Succeeded) {
            Ok(Some(obj))
        } else {
            Err(format!("phase {phase:?}"))
        }
    })
    .await?;
    let ours_on_201: Vec<_> = sessions_on(&sim, 201).into_iter().filter(|e| e.id != foreign).collect();
    if ours_on_201.len() != 1 || sessions_on(&sim, 101).len() != 1 {
        return Err(format!("each computer exactly once: {:?}", sim.state.ledger()));
    }
    let st = done.status.unwrap_or_default();
    let attempts = st.immybot.map(|r| r.attempts).unwrap_or_default();
    let last = attempts.last().ok_or("no attempts")?;
    if attempts.len() != 2
        || last.purpose.as_deref() != Some("ComputersBusy")
        || last.computer_ids != vec![201]
        || last.session_group_id
            != ours_on_201[0]
                .session_group_id
                .map(|g| g.to_string())
                .unwrap_or_default()
    {
        return Err(format!(
            "the first attempt and one ComputersBusy attempt for 201 (busy rounds forgotten): {attempts:?}"
        ));
    }
    if st.progress.as_deref() != Some("2/2") || !st.waiting_computers.is_empty() {
        return Err(format!(
            "progress {:?}, waiting {:?}",
            st.progress, st.waiting_computers
        ));
    }
    Ok(())
}

async fn a_busy_tenant_that_is_cancelled_counts_its_computers_as_not_started(ctx: TestContext) -> TestResult {
    let sim = manual_simulator(crate::harness::fleet()).await?;
    let foreign = foreign_session(&sim, 201)?;
    sim.state.advance(Duration::from_secs(12));
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Northwind (tenant 3) has one computer, 201: the busy one is known only
    // from the start's answer.
    create_session(
        &ctx,
        "busy-tenant",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-42", "target": {"tenant": {"id": 3}}}),
    )
    .await?;
    approve(&ctx, "busy-tenant", "bob").await?;
    let waiting = wait_for("201 to be shown waiting", LONG, || async {
        let st = get(&ctx, "busy-tenant").await?.status.unwrap_or_default();
        let summary = st.summary.clone().unwrap_or_default();
        let ok = st.phase == Some(Phase::Queued)
            && (summary.computers, summary.waiting) == (1, 1)
            && st
                .waiting_computers
                .iter()
                .any(|w| w.id == 201 && w.held_by_session_id == Some(foreign))
            && st.start_time.is_some();
        if ok { Ok(Some(st)) } else { Err(format!("{st:?}")) }
    })
    .await?;
    if waiting.progress.as_deref() != Some("0/1") {
        return Err(format!("progress {:?}", waiting.progress));
    }
    ctx.api_as::<MaintenanceSession>("alice")
        .await?
        .patch(
            "busy-tenant",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"cancel": {"reason": "window closed"}}})),
        )
        .await
        .ctx("cancelling")?;
    let done = ctx.wait_phase("busy-tenant", Phase::Cancelled, LONG).await?;
    let summary = done.status.and_then(|s| s.summary).unwrap_or_default();
    if (summary.not_started, summary.waiting, summary.passed) != (1, 0, 0) {
        return Err(format!("201 never ran and must count as not started: {summary:?}"));
    }
    if sessions_on(&sim, 201).len() != 1 {
        return Err(format!("only the foreign session may exist: {:?}", sim.state.ledger()));
    }
    Ok(())
}

// ---- 4. adoption trusts only what the contract promises -----------------

async fn adoption_confirms_each_candidate_and_never_starts_twice(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // The answer to the start is lost, and this instance's GET {id} does not
    // say which group a session belongs to.
    sim.state.update_shape(|s| s.get_without_job_args = true);
    lose_next_start_answer(&sim);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "unsure",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-51", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    approve(&ctx, "unsure", "bob").await?;
    let stalled = wait_for("the adoption to stall", LONG, || async {
        let obj = get(&ctx, "unsure").await?;
        match condition(&obj, "Stalled") {
            Some((s, r, m)) if s == "True" && r == "AdoptionUndetermined" => Ok(Some(m)),
            other => Err(format!("Stalled: {other:?}")),
        }
    })
    .await?;
    if !stalled.contains("will not start again") {
        return Err(format!("the message must say nothing starts again: {stalled}"));
    }
    // Time passes; the controller keeps looking but never sends a second start.
    wait_event(
        &ctx,
        "unsure",
        "AdoptionUndetermined",
        "GET /api/v1/maintenance-sessions",
    )
    .await?;
    if sessions_on(&sim, 101).len() != 1 || sim.state.call_count("POST /api/v1/run-immy-service") != 1 {
        return Err(format!(
            "started twice: {:?} {:?}",
            sim.state.ledger(),
            sim.state.calls()
        ));
    }
    // Once ImmyBot tells, the session is adopted (a touch makes the
    // controller look again at once).
    sim.state.update_shape(|s| s.get_without_job_args = false);
    ctx.touch("unsure").await?;
    let done = ctx.wait_phase("unsure", Phase::Succeeded, LONG).await?;
    let attempts = done
        .status
        .and_then(|s| s.immybot)
        .map(|r| r.attempts)
        .unwrap_or_default();
    if attempts.len() != 1 || attempts[0].ids_from.as_deref() != Some("Adopted") || sessions_on(&sim, 101).len() != 1 {
        return Err(format!("adopted once: {attempts:?} {:?}", sim.state.ledger()));
    }
    Ok(())
}

async fn adoption_works_with_either_dx_row_shape(ctx: TestContext) -> TestResult {
    for (name, with_job_args) in [("lean-rows", false), ("rich-rows", true)] {
        let sim = simulator(150).await?;
        sim.state.update_shape(|s| s.dx_rows_with_job_args = with_job_args);
        lose_next_start_answer(&sim);
        let controller = ctx
            .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
            .await?;
        // A tenant start: candidates come per tenant, confirmed one by one.
        create_session(&ctx, name, serde_json::json!({"requestedBy": "alice", "reason": "CHG-52", "target": {"tenant": {"id": 1, "includeChildTenants": true}}})).await?;
        approve(&ctx, name, "bob").await?;
        let done = ctx.wait_phase(name, Phase::PartiallySucceeded, LONG).await?;
        controller.stop().await;
        let attempts = done
            .status
            .and_then(|s| s.immybot)
            .map(|r| r.attempts)
            .unwrap_or_default();
        let ledger = sim.state.ledger();
        // Fabrikam's three computers (a child of tenant 1), each once.
        if attempts.len() != 1 || attempts[0].ids_from.as_deref() != Some("Adopted") || ledger.len() != 3 {
            return Err(format!(
                "{name}: adopted once, each computer once: {attempts:?} {ledger:?}"
            ));
        }
        if sim.state.call_count("POST /api/v1/run-immy-service") != 1 {
            return Err(format!("{name}: the start was sent again: {:?}", sim.state.calls()));
        }
    }
    Ok(())
}

// ---- 5. what reaches ImmyBot, and resuming ------------------------------

async fn single_deployment_and_prompt_reboots_reach_the_wire_as_the_contract_says(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "one-deployment",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-61 7-Zip only", "target": {"computer": {"id": 101}},
                           "deployment": {"id": 42, "type": "Global"},
                           "reboot": {"policy": "Prompt", "promptTimeoutMinutes": 15, "promptTimeoutAction": "Suppress"}}),
    )
    .await?;
    approve(&ctx, "one-deployment", "bob").await?;
    let done = ctx.wait_phase("one-deployment", Phase::Succeeded, LONG).await?;
    let bodies = sim.state.bodies("POST /api/v1/run-immy-service");
    let body = bodies.first().ok_or("no start body")?;
    let want = serde_json::json!({"fullMaintenance": false, "deploymentId": 42, "deploymentType": 0,
                                  "rebootPreference": 2, "promptTimeoutMinutes": 15, "promptTimeoutAction": 1});
    for (key, value) in want.as_object().into_iter().flatten() {
        if &body[key] != value {
            return Err(format!(
                "{key}: sent {}, the contract wants {value}; body {body}",
                body[key]
            ));
        }
    }
    if done.status.as_ref().and_then(|s| s.reason.as_deref()) != Some("CHG-61 7-Zip only") {
        return Err(format!("status.reason: {:?}", done.status.and_then(|s| s.reason)));
    }
    wait_event(&ctx, "one-deployment", "Started", "reason: CHG-61 7-Zip only").await?;
    // Started: the reason is frozen like the rest of the request.
    match ctx
        .api_as::<MaintenanceSession>("alice")
        .await?
        .patch(
            "one-deployment",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"reason": "rewritten afterwards"}})),
        )
        .await
    {
        Err(kube::Error::Api(s)) if s.message.contains("cannot change once the session has started") => {}
        other => {
            return Err(format!(
                "changing the reason after the start must be refused: {other:?}"
            ));
        }
    }
    // A single deployment has no inventory-only form.
    let bad = create_session(
        &ctx,
        "inventory-deployment",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-62", "target": {"computer": {"id": 101}},
                           "mode": "InventoryOnly", "deployment": {"id": 42, "type": "Global"}}),
    )
    .await;
    match bad {
        Err(e) if e.contains("cannot run in mode InventoryOnly") => Ok(()),
        other => Err(format!(
            "InventoryOnly with a deployment must be refused: {:?}",
            other.map(|o| o.name_any())
        )),
    }
}

async fn a_postponed_session_is_resumed_through_the_api(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // NW-DC01's user postpones reboot prompts.
    create_session(
        &ctx,
        "postponed",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-71", "target": {"computer": {"id": 201}},
                           "reboot": {"policy": "Prompt"}}),
    )
    .await?;
    approve(&ctx, "postponed", "bob").await?;
    ctx.wait_phase("postponed", Phase::Postponed, LONG).await?;
    let session_id = sessions_on(&sim, 201).first().map(|e| e.id).ok_or("no session")?;
    // Anyone with edit rights may use the control, like suspend.
    ctx.api_as::<MaintenanceSession>("bob")
        .await?
        .patch(
            "postponed",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"resume": {"requests": 1}}})),
        )
        .await
        .ctx("asking to resume")?;
    let done = ctx.wait_phase("postponed", Phase::Succeeded, LONG).await?;
    let record = done.status.and_then(|s| s.resume).ok_or("no status.resume")?;
    if (record.requests, record.session_ids.clone()) != (1, vec![session_id]) {
        return Err(format!("status.resume: {record:?}"));
    }
    if sim
        .state
        .calls()
        .get("POST /api/v1/maintenance-sessions/{sessionId}/resume")
        != Some(&1)
    {
        return Err(format!("exactly one resume call: {:?}", sim.state.calls()));
    }
    wait_event(&ctx, "postponed", "Resumed", &format!("[{session_id}]")).await
}

// ---- siblings -----------------------------------------------------------

async fn a_computer_name_is_confirmed_before_it_is_targeted(ctx: TestContext) -> TestResult {
    // One computer, and a computers/dx that ignores its filter: the only row
    // it returns is not the computer the spec names.
    let seed: immybot_sim::FleetSeed = serde_json::from_value(serde_json::json!({
        "tenants": [{"id": 1, "name": "Solo"}],
        "computers": [{"id": 7, "name": "ONLY-PC", "tenantId": 1,
                       "software": [{"name": "7-Zip", "installed": "23.01", "desired": "24.08"}]}],
    }))
    .ctx("seed")?;
    let sim = manual_simulator(seed).await?;
    sim.state.update_shape(|s| s.computers_dx_ignores_filter = true);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "by-name",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-81", "target": {"computer": {"name": "OTHER-PC"}}}),
    )
    .await?;
    approve(&ctx, "by-name", "bob").await?;
    let stalled = wait_for("the name to be reported unknown", LONG, || async {
        let obj = get(&ctx, "by-name").await?;
        match condition(&obj, "Stalled") {
            Some((s, r, m)) if s == "True" && r == "TargetNotFound" => Ok(Some(m)),
            other => Err(format!(
                "Stalled: {other:?}, phase {:?}",
                obj.status.and_then(|s| s.phase)
            )),
        }
    })
    .await?;
    if !stalled.contains("OTHER-PC") {
        return Err(format!("the message should name the computer: {stalled}"));
    }
    if !sim.state.ledger().is_empty() {
        return Err(format!("ONLY-PC was started for OTHER-PC: {:?}", sim.state.ledger()));
    }
    Ok(())
}
