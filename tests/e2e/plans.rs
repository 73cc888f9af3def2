//! Plan, then approve (`spec.plan`) on the real API server with the
//! simulator over HTTP: the plan is made by a detection-only session before
//! anyone can approve, an approval must name the current plan's digest
//! (a stale or missing one is refused), a plan older than `maxAge` is made
//! again, and a fleet that changed between the plan and the start is
//! caught by `onDrift: Reapprove` before anything starts, or reported as
//! unplanned with `Proceed`. Each test also reads the simulator's ledger:
//! which ImmyBot sessions exist, under which group id, never one twice.

use std::time::Duration;

use immybot_operator::api::{MaintenanceApproval, MaintenanceSession, Phase, PlanState, PlanStatus};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint, PlanRule, SessionGroupId};
use immybot_sim::{SeedSoftware, SoftwareBehaviour};
use kube::ResourceExt as _;
use kube::api::PostParams;

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::create_session;
use crate::plugin::plugin;
use crate::safety::wait_event;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        one_computer_is_planned_before_approval_and_only_an_approval_of_the_plan_starts_it,
        a_tenants_plan_counts_each_item_and_names_the_offline_computer,
        a_plan_older_than_max_age_is_made_again_and_the_stale_digest_is_refused,
        plan_drift_before_the_start_holds_it_for_a_new_approval_with_reapprove,
        plan_drift_with_proceed_starts_and_reports_what_ran_unplanned,
        plans_required_above_a_size_and_a_cautious_detection_waits_for_the_spec_approval,
        plan_drift_in_a_later_wave_holds_that_wave_after_the_pilot,
        plans_that_cannot_work_are_refused_at_admission,
    ]
}

const LONG: Duration = Duration::from_secs(60);

/// A planned item as compared: item, action, computers, names, to.
type PlannedRow = (String, String, i32, Vec<String>, Option<String>);

fn planned(target: serde_json::Value, plan: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"requestedBy": "alice", "reason": "CHG-25 plan first", "target": target, "plan": plan})
}

fn plan_of(obj: &MaintenanceSession) -> Option<PlanStatus> {
    obj.status.as_ref()?.plan.clone()
}

async fn wait_plan(
    ctx: &TestContext,
    name: &str,
    what: &str,
    done: impl Fn(&PlanStatus) -> bool,
) -> Result<PlanStatus, String> {
    let obj = ctx
        .wait_session(name, what, LONG, |o| {
            plan_of(o).is_some_and(|p| p.state == PlanState::Ready && done(&p))
        })
        .await?;
    plan_of(&obj).ok_or_else(|| "no plan".into())
}

/// The simulator's sessions as (group id, computer), oldest first.
fn ledger(sim: &immybot_sim::RunningSim) -> Vec<(String, i32)> {
    sim.state
        .ledger()
        .into_iter()
        .map(|e| {
            (
                e.session_group_id.map(|g| g.to_string()).unwrap_or_default(),
                e.computer_id,
            )
        })
        .collect()
}

fn plan_group(uid: &str, n: i32) -> String {
    SessionGroupId::for_plan(uid, n).to_string()
}

fn attempt_group(uid: &str, n: i32) -> String {
    SessionGroupId::for_attempt(uid, n).to_string()
}

fn approved_reason(obj: &MaintenanceSession) -> Option<(String, String)> {
    obj.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Approved")
        .map(|c| (c.reason.clone(), c.message.clone()))
}

/// A MaintenanceApproval by `approver` of the session's current spec
/// digest, naming `plan` (or no plan).
async fn approve_with_plan(ctx: &TestContext, name: &str, approver: &str, plan: Option<&str>) -> TestResult {
    let obj = ctx.api::<MaintenanceSession>().get(name).await.ctx("get")?;
    let digest = obj
        .status
        .as_ref()
        .and_then(|s| s.approval_digest.clone())
        .ok_or("no digest")?;
    let mut spec =
        serde_json::json!({"sessionName": name, "sessionUid": obj.uid(), "digest": digest, "approver": approver});
    if let Some(p) = plan {
        spec["planDigest"] = p.into();
    }
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{name}-{approver}-{}", rand::random::<u16>())},
        "spec": spec,
    }))
    .ctx("approval")?;
    ctx.api_as::<MaintenanceApproval>(approver)
        .await?
        .create(&PostParams::default(), &approval)
        .await
        .ctx("create approval")?;
    Ok(())
}

async fn one_computer_is_planned_before_approval_and_only_an_approval_of_the_plan_starts_it(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(
        &ctx,
        "reception",
        planned(serde_json::json!({"computer": {"id": 101}}), serde_json::json!({})),
    )
    .await?;
    let uid = created.uid().unwrap_or_default();
    let plan = wait_plan(&ctx, "reception", "its plan", |_| true).await?;
    // RECEPTION-PC: 7-Zip 23.01 wants 24.08, Chrome is compliant. The
    // simulator's default detection rows carry no versions: none shown.
    let items: Vec<PlannedRow> = plan
        .items
        .iter()
        .map(|i| {
            (
                i.item.clone(),
                i.action.clone(),
                i.computers,
                i.first_computers.clone(),
                i.to_version.clone(),
            )
        })
        .collect();
    if items != vec![("7-Zip".into(), "Update".into(), 1, vec!["RECEPTION-PC".into()], None)]
        || plan.computers != 1
        || plan.changing != 1
        || !plan.not_detected.is_empty()
        || !plan.digest.as_deref().is_some_and(|d| d.starts_with("sha256:"))
        || !plan.reboots.starts_with("unknown")
    {
        return Err(format!("the plan of RECEPTION-PC: {plan:?}"));
    }
    // Only the plan's detection ran: one session, the plan's group id.
    if ledger(&sim) != vec![(plan_group(&uid, 1), 101)] {
        return Err(format!("before approval only the plan's detection: {:?}", ledger(&sim)));
    }
    // bob approves the spec without the plan: refused.
    approve_with_plan(&ctx, "reception", "bob", None).await?;
    let refused = ctx
        .wait_session("reception", "the plan-less approval refused", LONG, |o| {
            approved_reason(o).is_some_and(|(r, _)| r == "PlanDigestMismatch")
        })
        .await?;
    let message = approved_reason(&refused).map(|(_, m)| m).unwrap_or_default();
    if !message.contains("names no plan")
        || refused.status.as_ref().and_then(|s| s.phase) != Some(Phase::AwaitingApproval)
    {
        return Err(format!(
            "refused, awaiting approval, saying why: {message:?} {:?}",
            refused.status
        ));
    }
    // The plugin shows the plan first and approves it.
    let (ok, out) = plugin(&ctx, "bob", &["approve", "reception", "--yes"], None).await?;
    let plan_at = out.find("Update 7-Zip on 1 computer (RECEPTION-PC)");
    let radius_at = out.find("blast radius");
    if !ok || plan_at.is_none() || radius_at.is_none() || plan_at > radius_at {
        return Err(format!("approve prints the plan first, then approves: {out}"));
    }
    let done = ctx.wait_phase("reception", Phase::Succeeded, LONG).await?;
    let st = done.status.clone().unwrap_or_default();
    let record = st.approval.clone().ok_or("no approval record")?;
    if record.plan_digest != plan.digest || st.plan.as_ref().is_some_and(|p| !p.unplanned.is_empty()) {
        return Err(format!("the approval of the plan recorded, nothing unplanned: {st:?}"));
    }
    // Plan, drift check, maintenance: one session each, never one twice.
    let expected = vec![
        (plan_group(&uid, 1), 101),
        (plan_group(&uid, 2), 101),
        (attempt_group(&uid, 1), 101),
    ];
    if ledger(&sim) != expected {
        return Err(format!("sessions {:?}, expected {expected:?}", ledger(&sim)));
    }
    Ok(())
}

async fn a_tenants_plan_counts_each_item_and_names_the_offline_computer(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    // An instance whose detection rows carry versions.
    sim.state.update_shape(|s| s.detection_rows_in_full = true);
    // The plan's start is answered, but the answer is lost on the way: its
    // sessions are found by group id, never started a second time.
    crate::harness::lose_next_start_answer(&sim);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(
        &ctx,
        "fabrikam",
        planned(
            serde_json::json!({"tenant": {"id": 2}}),
            serde_json::json!({"onDrift": "Proceed"}),
        ),
    )
    .await?;
    let plan = wait_plan(&ctx, "fabrikam", "the tenant's plan", |_| true).await?;
    let uid = created.uid().unwrap_or_default();
    let mut sessions = ledger(&sim);
    sessions.sort();
    if sessions
        != vec![
            (plan_group(&uid, 1), 101),
            (plan_group(&uid, 1), 102),
            (plan_group(&uid, 1), 103),
        ]
    {
        return Err(format!(
            "one detection per computer despite the lost answer: {sessions:?}"
        ));
    }
    if plan.attempt.ids_from.as_deref() != Some("GroupLookup") {
        return Err(format!("the sessions were found by group id: {:?}", plan.attempt));
    }
    let find = |item: &str| plan.items.iter().find(|i| i.item == item).cloned();
    let zip = find("7-Zip").ok_or(format!("7-Zip planned: {plan:?}"))?;
    let reader = find("Adobe Acrobat Reader").ok_or(format!("Reader planned: {plan:?}"))?;
    let vpn = find("Legacy VPN").ok_or(format!("VPN planned: {plan:?}"))?;
    let offline = plan.not_detected.iter().find(|n| n.why == "Offline");
    if (
        zip.action.as_str(),
        zip.computers,
        zip.from_version.as_deref(),
        zip.to_version.as_deref(),
    ) != ("Update", 1, Some("23.01"), Some("24.08"))
        || (reader.action.as_str(), reader.from_version.as_deref()) != ("Update", Some("2024.001"))
        || (
            vpn.action.as_str(),
            vpn.from_version.as_deref(),
            vpn.to_version.as_deref(),
        ) != ("Install", None, Some("5.2"))
        || plan.items.len() != 3
        || plan.computers != 3
        || plan.changing != 2
        || !offline.is_some_and(|n| n.computers == 1 && n.first_computers == vec!["WAREHOUSE-KIOSK".to_string()])
    {
        return Err(format!("Fabrikam's plan: {plan:?}"));
    }
    let summary = plan.summary.clone().unwrap_or_default();
    if !summary.contains("3 computers: 2 would change") || !summary.contains("1 Offline") {
        return Err(format!("the summary: {summary}"));
    }
    let (ok, out) = plugin(&ctx, "carol", &["status", "fabrikam"], None).await?;
    let (plan_at, radius_at) = (out.find("  plan "), out.find("  radius "));
    if !ok
        || plan_at.is_none()
        || radius_at.is_some_and(|r| plan_at > Some(r))
        || !out.contains("Update 7-Zip 23.01 -> 24.08 on 1 computer (RECEPTION-PC)")
        || !out.contains("not detected (Offline): 1 computer (WAREHOUSE-KIOSK)")
    {
        return Err(format!("status shows the plan: {out}"));
    }
    Ok(())
}

async fn a_plan_older_than_max_age_is_made_again_and_the_stale_digest_is_refused(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(
        &ctx,
        "short-lived",
        planned(
            serde_json::json!({"computer": {"id": 101}}),
            serde_json::json!({"maxAge": "3s", "onDrift": "Proceed"}),
        ),
    )
    .await?;
    let uid = created.uid().unwrap_or_default();
    let first = wait_plan(&ctx, "short-lived", "plan 1", |p| p.number == 1).await?;
    let second = wait_plan(&ctx, "short-lived", "a plan made again after maxAge", |p| {
        p.number > 1 && p.purpose == "Expired"
    })
    .await?;
    if second.digest == first.digest || second.items != first.items {
        return Err(format!(
            "the same content, another plan and digest: {first:?} / {second:?}"
        ));
    }
    approve_with_plan(&ctx, "short-lived", "bob", first.digest.as_deref()).await?;
    let refused = ctx
        .wait_session("short-lived", "the stale plan refused", LONG, |o| {
            approved_reason(o).is_some_and(|(r, m)| {
                r == "PlanDigestMismatch" && first.digest.as_deref().is_some_and(|d| m.contains(d))
            })
        })
        .await?;
    let started = ledger(&sim)
        .into_iter()
        .filter(|(g, _)| *g == attempt_group(&uid, 1))
        .count();
    if started != 0 || refused.status.as_ref().and_then(|s| s.approval.clone()).is_some() {
        return Err(format!("nothing started on a stale plan: {:?}", ledger(&sim)));
    }
    // Every session so far is a plan's.
    let plans: Vec<String> = (1..=50).map(|n| plan_group(&uid, n)).collect();
    if let Some(other) = ledger(&sim).iter().find(|(g, _)| !plans.contains(g)) {
        return Err(format!("a session that is not a plan's: {other:?}"));
    }
    Ok(())
}

/// Chrome newly assigned to WG-IT-01 (301): an install no plan made
/// before it has.
fn chrome_for_wg_it_01(sim: &immybot_sim::RunningSim) -> TestResult {
    sim.state.with_engine(|e, _| {
        e.assign_software(
            301,
            SeedSoftware {
                name: "Google Chrome".into(),
                identifier: None,
                installed: None,
                desired: "131.0".into(),
                behaviour: SoftwareBehaviour::Succeeds,
            },
        )
        .map_err(|e| format!("{e:?}"))
    })
}

fn woodgrove_pair(on_drift: &str) -> serde_json::Value {
    planned(
        serde_json::json!({"computers": [{"id": 301}, {"id": 302}]}),
        serde_json::json!({"onDrift": on_drift}),
    )
}

async fn plan_drift_before_the_start_holds_it_for_a_new_approval_with_reapprove(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(&ctx, "pair", woodgrove_pair("Reapprove")).await?;
    let uid = created.uid().unwrap_or_default();
    let first = wait_plan(&ctx, "pair", "the plan", |_| true).await?;
    if first.items.len() != 1 || first.items[0].computers != 2 {
        return Err(format!("7-Zip on both: {first:?}"));
    }
    chrome_for_wg_it_01(&sim)?;
    let (ok, out) = plugin(&ctx, "bob", &["approve", "pair", "--yes"], None).await?;
    if !ok {
        return Err(format!("bob approves plan 1: {out}"));
    }
    let held = ctx
        .wait_session("pair", "held for the drifted plan", LONG, |o| {
            plan_of(o).is_some_and(|p| !p.drift.is_empty() && p.state == PlanState::Ready)
                && o.status.as_ref().and_then(|s| s.phase) == Some(Phase::AwaitingApproval)
        })
        .await?;
    let st = held.status.clone().unwrap_or_default();
    let fresh = st.plan.clone().ok_or("no plan")?;
    let ready = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.clone());
    if st.phase != Some(Phase::AwaitingApproval)
        || ready.as_deref() != Some("PlanDrifted")
        || fresh.purpose != "DriftCheck"
        || fresh.drift.len() != 1
        || (
            fresh.drift[0].item.as_str(),
            fresh.drift[0].action.as_str(),
            fresh.drift[0].computers,
        ) != ("Google Chrome", "Install", 1)
        || fresh.digest == first.digest
    {
        return Err(format!("awaiting approval of the drifted plan: {st:?}"));
    }
    wait_event(&ctx, "pair", "PlanDrifted", "Google Chrome Install on 1 more computers").await?;
    if ledger(&sim).iter().any(|(g, _)| *g == attempt_group(&uid, 1)) {
        return Err(format!("nothing started on drift: {:?}", ledger(&sim)));
    }
    // bob approves the new plan: checked once more, then started.
    let (ok, out) = plugin(&ctx, "bob", &["approve", "pair", "--yes"], None).await?;
    if !ok || !out.contains("Install Google Chrome on 1 computer") {
        return Err(format!("bob sees and approves the drifted plan: {out}"));
    }
    let done = ctx.wait_phase("pair", Phase::Succeeded, LONG).await?;
    let st = done.status.clone().unwrap_or_default();
    if st.plan.as_ref().is_some_and(|p| !p.unplanned.is_empty())
        || st.approval.as_ref().and_then(|a| a.plan_digest.clone()) != fresh.digest
    {
        return Err(format!("ran as the new plan said: {st:?}"));
    }
    let started: Vec<i32> = ledger(&sim)
        .into_iter()
        .filter(|(g, _)| *g == attempt_group(&uid, 1))
        .map(|(_, c)| c)
        .collect();
    if started != vec![301, 302] {
        return Err(format!("each computer started once: {:?}", ledger(&sim)));
    }
    Ok(())
}

async fn plan_drift_with_proceed_starts_and_reports_what_ran_unplanned(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let created = create_session(&ctx, "pair", woodgrove_pair("Proceed")).await?;
    let uid = created.uid().unwrap_or_default();
    let plan = wait_plan(&ctx, "pair", "the plan", |_| true).await?;
    chrome_for_wg_it_01(&sim)?;
    let (ok, out) = plugin(&ctx, "bob", &["approve", "pair", "--yes"], None).await?;
    if !ok {
        return Err(format!("bob approves: {out}"));
    }
    let done = ctx.wait_phase("pair", Phase::Succeeded, LONG).await?;
    let st = done.status.clone().unwrap_or_default();
    let p = st.plan.clone().ok_or("no plan")?;
    let unplanned = st.conditions.iter().find(|c| c.type_ == "Unplanned");
    if p.digest != plan.digest
        || p.unplanned.len() != 1
        || (
            p.unplanned[0].item.as_str(),
            p.unplanned[0].action.as_str(),
            p.unplanned[0].computers,
        ) != ("Google Chrome", "Install", 1)
        || !unplanned.is_some_and(|c| c.status == "True" && c.message.contains("Google Chrome Install"))
    {
        return Err(format!("the unplanned install reported: {st:?}"));
    }
    wait_event(&ctx, "pair", "UnplannedActions", "Google Chrome Install").await?;
    // No drift check with Proceed: the plan, then the maintenance.
    let groups: Vec<String> = ledger(&sim).into_iter().map(|(g, _)| g).collect();
    let expected = vec![
        plan_group(&uid, 1),
        plan_group(&uid, 1),
        attempt_group(&uid, 1),
        attempt_group(&uid, 1),
    ];
    if groups != expected {
        return Err(format!("sessions {groups:?}, expected {expected:?}"));
    }
    Ok(())
}

async fn plans_required_above_a_size_and_a_cautious_detection_waits_for_the_spec_approval(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(100).await?;
    let policy = ApprovalPolicy {
        plans: PlanRule {
            required_above: Some(2),
            detection_needs_approval: true,
        },
        ..Default::default()
    };
    let _controller = ctx.controller(&sim, policy, CrashPoint::Never).await?;
    // Fabrikam's 3 computers without a plan: refused, whatever approves it.
    create_session(
        &ctx,
        "unplanned",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-25", "target": {"tenant": {"id": 2}}}),
    )
    .await?;
    let stalled = ctx
        .wait_session("unplanned", "PlanRequired", LONG, |o| {
            o.status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .any(|c| c.type_ == "Stalled" && c.reason == "PlanRequired")
        })
        .await?;
    let message = stalled
        .status
        .iter()
        .flat_map(|s| s.conditions.iter())
        .find(|c| c.type_ == "Stalled")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    if !message.contains("3 computers") || !message.contains("plan: {}") {
        return Err(format!("the refusal says how many and what to add: {message}"));
    }
    // With a plan, the cautious operator waits for an approval of the spec
    // before detecting anything.
    create_session(
        &ctx,
        "planned",
        planned(
            serde_json::json!({"tenant": {"id": 2}}),
            serde_json::json!({"onDrift": "Proceed"}),
        ),
    )
    .await?;
    let waiting = ctx
        .wait_session("planned", "waiting to detect", LONG, |o| {
            o.status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .any(|c| c.type_ == "Ready" && c.message.contains("--before-plan"))
        })
        .await?;
    let uid = waiting.uid().unwrap_or_default();
    if !sim.state.ledger().is_empty() || waiting.status.as_ref().and_then(|s| s.plan.clone()).is_some() {
        return Err(format!("no detection before the spec is approved: {:?}", ledger(&sim)));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "planned", "--yes"], None).await?;
    if ok || !out.contains("--before-plan") {
        return Err(format!("no plan to approve yet, and how to go on: {out}"));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "planned", "--yes", "--before-plan"], None).await?;
    if !ok {
        return Err(format!("bob approves the spec first: {out}"));
    }
    let plan = wait_plan(&ctx, "planned", "the plan after the spec's approval", |_| true).await?;
    // The spec's approval does not start it: it waits for the plan's.
    let now = ctx
        .wait_session("planned", "awaiting the plan's approval", LONG, |o| {
            o.status.as_ref().and_then(|s| s.phase) == Some(Phase::AwaitingApproval)
        })
        .await?;
    let approved = approved_reason(&now).map(|(r, _)| r);
    if approved.as_deref() != Some("PlanDigestMismatch")
        || ledger(&sim).iter().any(|(g, _)| *g == attempt_group(&uid, 1))
    {
        return Err(format!("the spec's approval does not start it: {:?}", now.status));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "planned", "--yes"], None).await?;
    if !ok || !out.contains(plan.digest.as_deref().unwrap_or("?")) {
        return Err(format!("bob approves the plan: {out}"));
    }
    wait_for("the maintenance started", LONG, || async {
        let started = ledger(&sim)
            .iter()
            .filter(|(g, _)| *g == attempt_group(&uid, 1))
            .count();
        if started > 0 {
            Ok(Some(()))
        } else {
            Err(format!("ledger {:?}", ledger(&sim)))
        }
    })
    .await?;
    if ledger(&sim).iter().any(|(g, _)| g.is_empty()) {
        return Err("every session carries a group id".into());
    }
    Ok(())
}

async fn plan_drift_in_a_later_wave_holds_that_wave_after_the_pilot(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let spec = serde_json::json!({
        "requestedBy": "alice", "reason": "CHG-25 waves with a plan",
        "target": {"tenant": {"id": 4}},
        "rollout": {"strategy": "Waves", "pilot": {"computers": [{"id": 301}]}, "maxConcurrent": 5},
        "plan": {"onDrift": "Reapprove"}
    });
    let created = create_session(&ctx, "woodgrove", spec).await?;
    let uid = created.uid().unwrap_or_default();
    let plan = wait_plan(&ctx, "woodgrove", "the plan of all six", |_| true).await?;
    if plan.computers != 6 || plan.changing != 6 {
        return Err(format!("Woodgrove's six computers planned: {plan:?}"));
    }
    // Zoom newly assigned to WG-WS-03 (305), which is in wave 2: the
    // pilot's check (WG-IT-01 only) cannot see it, wave 2's must.
    sim.state.with_engine(|e, _| {
        e.assign_software(
            305,
            SeedSoftware {
                name: "Zoom".into(),
                identifier: None,
                installed: None,
                desired: "6.2".into(),
                behaviour: SoftwareBehaviour::Succeeds,
            },
        )
        .map_err(|e| format!("{e:?}"))
    })?;
    let (ok, out) = plugin(&ctx, "bob", &["approve", "woodgrove", "--yes"], None).await?;
    if !ok {
        return Err(format!("bob approves the plan: {out}"));
    }
    let held = ctx
        .wait_session("woodgrove", "wave 2 held by the drift", LONG, |o| {
            plan_of(o).is_some_and(|p| !p.drift.is_empty())
        })
        .await?;
    let st = held.status.clone().unwrap_or_default();
    let p = st.plan.clone().ok_or("no plan")?;
    let pilot: Vec<i32> = ledger(&sim)
        .into_iter()
        .filter(|(g, _)| *g == attempt_group(&uid, 1))
        .map(|(_, c)| c)
        .collect();
    if pilot != vec![301]
        || ledger(&sim).iter().any(|(g, _)| *g == attempt_group(&uid, 2))
        || (p.drift[0].item.as_str(), p.drift[0].action.as_str()) != ("Zoom", "Install")
        || !p.items.iter().any(|i| i.item == "7-Zip" && i.computers == 4)
    {
        return Err(format!(
            "the pilot ran, wave 2 held, the plan grown by Zoom only: {p:?}, ledger {:?}",
            ledger(&sim)
        ));
    }
    let (ok, out) = plugin(&ctx, "bob", &["approve", "woodgrove", "--yes"], None).await?;
    if !ok || !out.contains("Install Zoom") {
        return Err(format!("bob approves the grown plan: {out}"));
    }
    ctx.wait_phase("woodgrove", Phase::Succeeded, LONG).await?;
    let wave2: Vec<i32> = ledger(&sim)
        .into_iter()
        .filter(|(g, _)| *g == attempt_group(&uid, 2))
        .map(|(_, c)| c)
        .collect();
    if wave2 != vec![302, 303, 304, 305, 306] {
        return Err(format!("wave 2 started once on each: {:?}", ledger(&sim)));
    }
    Ok(())
}

async fn plans_that_cannot_work_are_refused_at_admission(ctx: TestContext) -> TestResult {
    let cases = [
        (
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-25", "observe": {"sessionId": 7}, "plan": {}}),
            "no rollout, deployment or plan",
        ),
        (
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-25", "target": {"computer": {"id": 101}}, "plan": {"maxAge": "tomorrow"}}),
            "spec.plan.maxAge",
        ),
        (
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-25", "target": {"computer": {"id": 101}}, "plan": {"onDrift": "Maybe"}}),
            "spec.plan.onDrift",
        ),
    ];
    for (i, (spec, expected)) in cases.into_iter().enumerate() {
        let obj = serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
            "metadata": {"name": format!("bad-plan-{i}")}, "spec": spec,
        });
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            ctx.client.clone(),
            &ctx.namespace,
            &kube::api::ApiResource::erase::<MaintenanceSession>(&()),
        );
        let obj: kube::api::DynamicObject = serde_json::from_value(obj).ctx("object")?;
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => return Err(format!("case {i} was admitted; expected {expected:?}")),
            Err(e) if e.to_string().contains(expected) => {}
            Err(e) => return Err(format!("case {i}: expected {expected:?}, got {e}")),
        }
    }
    // An approval naming something that is not a plan digest.
    let approval = serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": "bad-plan-digest"},
        "spec": {"sessionName": "x", "sessionUid": "u", "digest": format!("sha256:{}", "a".repeat(64)), "approver": "bob", "planDigest": "the one I saw"},
    });
    let approval: MaintenanceApproval = serde_json::from_value(approval).ctx("approval")?;
    match ctx
        .api_as::<MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &approval)
        .await
    {
        Ok(_) => Err("a malformed planDigest was admitted".into()),
        Err(e) if e.to_string().contains("spec.planDigest") => Ok(()),
        Err(e) => Err(format!("expected a spec.planDigest refusal, got {e}")),
    }
}
