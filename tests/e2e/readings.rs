//! The two breaches that readings of ImmyBot's contract other than the
//! simulator's default caused, each forced here whatever the trial's
//! reading (these tests also run under every other reading):
//! - a listing of active sessions that answers ended rows too (a route
//!   that ignores its filter) made a tenant final with actions still shown
//!   running;
//! - a rerun ImmyBot accepted (200) and then ran in place, or in a session
//!   it would not describe, was sent again after every grace.
//!
//! And what a tenant's progress costs at any poll interval: pages, not a
//! read per computer.

use std::time::Duration;

use immybot_operator::api::{ActionRerunState, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{FleetSeed, SeedComputer, SeedSoftware, SeedTenant, SoftwareBehaviour};

use crate::harness::invariants::not_final_in_final;
use crate::harness::{TestContext, TestFn, TestResult, simulator, simulator_of};
use crate::lifecycle::{approve, approved_run, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_tenant_whose_active_listing_answers_ended_rows_ends_with_final_actions,
        a_large_tenant_costs_pages_not_a_read_per_computer,
        a_rerun_immybot_runs_in_place_is_sent_once_and_shown_there,
        a_rerun_accepted_and_not_seen_is_reported_and_never_sent_again,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const RERUN: &str = "POST /api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun";
const GET_SESSION: &str = "GET /api/v1/maintenance-sessions/{sessionId}";

/// A parent tenant and its child, four computers each; one computer of the
/// child fails an install.
fn parent_and_child() -> FleetSeed {
    let tenant = |id, name: &str, parent_id| SeedTenant {
        id,
        name: name.into(),
        parent_id,
    };
    let software = |fails: bool| {
        let mut items = vec![SeedSoftware {
            name: "7-Zip".into(),
            identifier: None,
            installed: Some("23.01".into()),
            desired: "24.08".into(),
            behaviour: SoftwareBehaviour::Succeeds,
        }];
        if fails {
            items.push(SeedSoftware {
                name: "Legacy VPN".into(),
                identifier: None,
                installed: None,
                desired: "5.2".into(),
                behaviour: SoftwareBehaviour::Fails,
            });
        }
        items
    };
    FleetSeed {
        tenants: vec![tenant(1, "Contoso MSP", None), tenant(2, "Fabrikam", Some(1))],
        computers: (1..=8)
            .map(|i| SeedComputer {
                id: 500 + i,
                name: format!("PC-{i}"),
                tenant_id: if i <= 4 { 1 } else { 2 },
                online: true,
                postpones: false,
                software: software(i == 7),
            })
            .collect(),
    }
}

async fn a_tenant_whose_active_listing_answers_ended_rows_ends_with_final_actions(ctx: TestContext) -> TestResult {
    let sim = simulator_of(parent_and_child(), 200).await?;
    sim.state.update_shape(|s| s.sessions_dx_ignores_filter = true);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "contoso",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-33",
            "target": {"tenant": {"id": 1, "includeChildTenants": true}}}),
    )
    .await?;
    approve(&ctx, "contoso", "bob").await?;
    let done = ctx.wait_phase("contoso", Phase::PartiallySucceeded, LONG).await?;
    let not_final = not_final_in_final(&done);
    if !not_final.is_empty() {
        return Err(format!("final with what is not: {not_final:#?}"));
    }
    let status = done.status.clone().unwrap_or_default();
    let failing = status
        .computers
        .iter()
        .find(|c| c.id == 507)
        .ok_or_else(|| format!("PC-7 is not listed: {:?}", status.computers))?;
    let vpn = failing
        .actions
        .iter()
        .find(|a| a.name == "Legacy VPN")
        .ok_or_else(|| format!("PC-7's Legacy VPN is not shown: {failing:?}"))?;
    if failing.session_status != "PartialPassed"
        || vpn.result.as_deref() != Some("Failed")
        || vpn.log_excerpt.is_empty()
    {
        return Err(format!(
            "PC-7's failure should be shown, with why, read after its end: {failing:?}"
        ));
    }
    // What the plugin offers to rerun is that failure.
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "carol",
        &["retry", "contoso", "--failed-actions", "--action", "legacy vpn"],
        None,
    )
    .await?;
    if !ok || !out.contains("Legacy VPN") {
        return Err(format!(
            "kubectl immybot retry --failed-actions should name the failure: {out}"
        ));
    }
    Ok(())
}

async fn a_large_tenant_costs_pages_not_a_read_per_computer(ctx: TestContext) -> TestResult {
    // 120 computers whose sessions run for seconds, while the idle poll
    // interval (500 ms in tests) passes many times over: a read per
    // running session would be one per computer.
    let sim = simulator_of(FleetSeed::generate(1, 120), 400).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "tenant-1",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-34", "target": {"tenant": {"id": 1}}}),
    )
    .await?;
    approve(&ctx, "tenant-1", "bob").await?;
    let done = ctx
        .wait_session("tenant-1", "a final phase", LONG * 2, |o: &MaintenanceSession| {
            o.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final)
        })
        .await?;
    let reads = sim.state.call_count(GET_SESSION);
    let computers = done.status.and_then(|s| s.summary).map_or(0, |s| s.computers);
    if computers != 120 || reads > 12 {
        return Err(format!(
            "{computers} computers mirrored with {reads} reads of single sessions: a tenant's progress costs pages"
        ));
    }
    Ok(())
}

/// The failing computer's run, the cause fixed, and carol's request to
/// rerun the failed action.
async fn failed_and_asked_again(ctx: &TestContext, sim: &immybot_sim::RunningSim) -> Result<(i32, i32), String> {
    let failed = approved_run(ctx, "fixit", 102, "CHG-33", Phase::PartiallySucceeded).await?;
    let computer = failed
        .status
        .iter()
        .flat_map(|s| s.computers.iter())
        .find(|c| c.id == 102)
        .ok_or("computer 102 is not listed")?;
    let vpn = computer
        .actions
        .iter()
        .find(|a| a.name == "Legacy VPN")
        .and_then(|a| a.id)
        .ok_or("Legacy VPN has no id")?;
    sim.state
        .with_engine(|e, _| e.set_behaviour(102, "Legacy VPN", SoftwareBehaviour::Succeeds))
        .map_err(|e| format!("{e:?}"))?;
    let (ok, out) = crate::plugin::plugin(
        ctx,
        "carol",
        &["retry", "fixit", "--failed-actions", "--action", "legacy vpn"],
        None,
    )
    .await?;
    if !ok {
        return Err(format!("kubectl immybot retry --failed-actions: {out}"));
    }
    Ok((computer.session_id, vpn))
}

async fn a_rerun_immybot_runs_in_place_is_sent_once_and_shown_there(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.update_shape(|s| s.action_rerun_in_place = true);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let (session, action) = failed_and_asked_again(&ctx, &sim).await?;
    let done = ctx.wait_phase("fixit", Phase::Succeeded, LONG).await?;
    let calls = sim.state.call_count(RERUN);
    let status = done.status.unwrap_or_default();
    let rerun = status
        .action_reruns
        .as_ref()
        .and_then(|r| r.actions.first())
        .ok_or("no rerun recorded")?;
    if calls != 1 || rerun.state != ActionRerunState::Ended || rerun.rerun_session_id != Some(session) {
        return Err(format!(
            "{calls} rerun calls; the rerun should have ended in session {session} itself: {rerun:?}"
        ));
    }
    let vpn = status
        .computers
        .iter()
        .flat_map(|c| c.actions.iter())
        .find(|a| a.id == Some(action))
        .ok_or("the rerun action is not shown")?;
    if vpn.result.as_deref() != Some("Success") || sim.state.ledger().len() != 1 {
        return Err(format!(
            "the action's new outcome, in the one session: {vpn:?}, {:?}",
            sim.state.ledger()
        ));
    }
    Ok(())
}

async fn a_rerun_accepted_and_not_seen_is_reported_and_never_sent_again(ctx: TestContext) -> TestResult {
    // The rerun runs in a session of its own that ImmyBot describes without
    // sessionJobArgs: nothing ties it to the call.
    let sim = simulator(150).await?;
    sim.state.update_shape(|s| {
        s.action_rerun_in_place = false;
        s.get_without_job_args = true;
        s.dx_rows_with_job_args = false;
    });
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let (session, action) = failed_and_asked_again(&ctx, &sim).await?;
    // Reported once the grace passed and a look-up found nothing it could
    // tell: the look-up is where a resend would have happened.
    let api = ctx.api::<MaintenanceSession>();
    let reported = crate::harness::wait_for("RerunNotSeen after a look-up", LONG, || async {
        let o = api.get("fixit").await.map_err(|e| e.to_string())?;
        let status = o.status.clone().unwrap_or_default();
        let rerun = status.action_reruns.as_ref().and_then(|r| r.actions.first());
        let looked = rerun.is_some_and(|r| r.state == ActionRerunState::Accepted && r.looked_at.is_some());
        let condition = status.conditions.iter().any(|c| {
            c.type_ == "RerunNotSeen"
                && c.status == "True"
                && c.message.contains(&format!("action {action} of session {session}"))
        });
        if looked && condition {
            Ok(Some(o))
        } else {
            Err(format!("rerun {rerun:?}, conditions {:?}", status.conditions))
        }
    })
    .await?;
    let calls = sim.state.call_count(RERUN);
    if calls != 1 {
        return Err(format!("{calls} rerun calls after a 200: a 2xx is an answer"));
    }
    if reported.status.and_then(|s| s.phase).is_some_and(Phase::is_final) {
        return Err("an object whose rerun is not seen is not final".into());
    }
    crate::harness::wait_for(
        "an ActionRerunNotSeen event naming the session and action",
        LONG,
        || async {
            let events = ctx
                .api::<k8s_openapi::api::events::v1::Event>()
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            let named = events.items.iter().any(|e| {
                e.reason.as_deref() == Some("ActionRerunNotSeen")
                    && e.note
                        .as_deref()
                        .is_some_and(|m| m.contains(&format!("action {action} of session {session}")))
            });
            Ok(named.then_some(()))
        },
    )
    .await?;
    Ok(())
}
