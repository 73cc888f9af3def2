//! The blast radius before every approval: what an approval would let
//! loose (computers, tenants with their children, offline and busy ones),
//! measured in ImmyBot and shown to the approver before they approve.

use std::time::Duration;

use immybot_client::{ComputerTarget, StartRequest};
use immybot_operator::api::Phase;
use immybot_operator::api::{BlastRadius, ImmyBotSchedule, MaintenanceApproval, MaintenanceSession};
use immybot_operator::controller::{ApprovalPolicy, Clock, CrashPoint};
use immybot_sim::{FleetSeed, SeedComputer};
use kube::api::ListParams;

use crate::harness::{TestContext, TestFn, TestResult, fleet, manual_simulator, simulator, simulator_of, wait_for};
use crate::lifecycle::create_session;
use crate::schedules::{condition, create, nightly, one_schedule};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        the_blast_radius_of_a_computer_and_of_a_tenant_tree_shows_before_approval,
        a_5000_computer_tenant_is_measured_within_the_status_bound,
        a_tenant_that_grew_after_the_approval_waits_for_a_new_one_and_offline_computers_do_not,
        an_immybot_schedule_is_counted_before_approval_and_disabled_when_its_tenant_outgrows_it,
    ]
}

const LONG: Duration = Duration::from_secs(60);

async fn measured(ctx: &TestContext, name: &str) -> Result<(MaintenanceSession, BlastRadius), String> {
    let obj = ctx
        .wait_session(name, "the blast radius to be measured", LONG, |o| {
            o.status.as_ref().is_some_and(|s| {
                s.blast_radius
                    .as_ref()
                    .is_some_and(|b| Some(&b.digest) == s.approval_digest.as_ref())
            })
        })
        .await?;
    let radius = obj
        .status
        .as_ref()
        .and_then(|s| s.blast_radius.clone())
        .ok_or("no blast radius")?;
    Ok((obj, radius))
}

async fn the_blast_radius_of_a_computer_and_of_a_tenant_tree_shows_before_approval(ctx: TestContext) -> TestResult {
    // A manual clock: a session someone started in ImmyBot keeps 102 busy.
    let sim = manual_simulator(fleet()).await?;
    sim.state
        .with_engine(|e, now| {
            e.start(
                &StartRequest {
                    computers: Some(vec![ComputerTarget { computer_id: 102 }]),
                    full_maintenance: true,
                    ..Default::default()
                },
                now,
            )
        })
        .map_err(|e| format!("{e:?}"))?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "one",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-100", "target": {"computer": {"name": "RECEPTION-PC"}}}),
    )
    .await?;
    let (_, one) = measured(&ctx, "one").await?;
    if one.computers != 1 || one.first_computers != vec!["RECEPTION-PC".to_owned()] {
        return Err(format!("one computer, by its resolved name: {one:?}"));
    }
    // Contoso MSP with its child Fabrikam: every computer once, per tenant,
    // WAREHOUSE-KIOSK offline, FINANCE-LT01 busy.
    create_session(
        &ctx,
        "tree",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-101",
            "target": {"tenant": {"id": 1, "includeChildTenants": true}}, "offline": "ApplyOnConnect"}),
    )
    .await?;
    let (_, tree) = measured(&ctx, "tree").await?;
    let fabrikam = tree.tenants.iter().find(|t| t.id == 2);
    if tree.computers != 3
        || fabrikam.map(|t| (t.name.as_deref(), t.computers)) != Some((Some("Fabrikam"), 3))
        || tree.offline_computers != vec!["WAREHOUSE-KIOSK".to_owned()]
        || !tree.offline_behavior.starts_with("ApplyOnConnect")
        || tree.busy_computers != vec!["FINANCE-LT01".to_owned()]
    {
        return Err(format!("the tenant tree's blast radius: {tree:?}"));
    }
    // The approver reads it before approving.
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "tree", "--yes"], None).await?;
    controller.stop().await;
    let radius_at = out.find("3 computers (1 offline, 1 busy with another session)");
    if !ok || radius_at.is_none_or(|at| out.find("Approving lets").is_none_or(|covered| at > covered)) {
        return Err(format!("approve should show the blast radius first: {out}"));
    }
    if !out.contains("WAREHOUSE-KIOSK; ApplyOnConnect") || !out.contains("FINANCE-LT01 (they start when") {
        return Err(format!("approve should name the offline and busy computers: {out}"));
    }
    Ok(())
}

async fn a_5000_computer_tenant_is_measured_within_the_status_bound(ctx: TestContext) -> TestResult {
    let sim = simulator_of(FleetSeed::generate(1, 5000), 1000).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "big",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-102", "target": {"tenant": {"id": 1}}}),
    )
    .await?;
    let (obj, big) = measured(&ctx, "big").await?;
    controller.stop().await;
    let size = serde_json::to_vec(&obj).map_err(|e| e.to_string())?.len();
    // The generated fleet: every 13th computer is offline.
    if big.computers != 5000 || big.offline != 384 || big.first_computers.len() != 10 || size > 16 * 1024 {
        return Err(format!(
            "5,000 computers, 384 offline, 10 named, small: {size} bytes, {big:?}"
        ));
    }
    Ok(())
}

async fn a_tenant_that_grew_after_the_approval_waits_for_a_new_one_and_offline_computers_do_not(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(150).await?;
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "grow",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-103", "target": {"tenant": {"id": 2}}}),
    )
    .await?;
    let (_, seen) = measured(&ctx, "grow").await?;
    if seen.computers != 3 {
        return Err(format!("Fabrikam has 3 computers: {seen:?}"));
    }
    // Between what bob reviews and the start: 50 computers join Fabrikam,
    // and RECEPTION-PC goes offline.
    fabrikam_gains_50(&sim);
    sim.state
        .with_engine(|e, _| e.set_online(101, false))
        .map_err(|e| format!("{e:?}"))?;
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "grow", "--yes"], None).await?;
    if !ok || !out.contains("3 computers") {
        return Err(format!("bob approves the 3 computers he was shown: {out}"));
    }
    // Counted again before the start: 53 > 3, so nothing starts.
    let held = ctx
        .wait_session("grow", "the start to wait for a new approval", LONG, |o| {
            o.status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .any(|c| c.reason == "BlastRadiusGrew")
        })
        .await;
    let held = match held {
        Ok(h) => h,
        Err(e) => {
            let obj = ctx
                .api::<MaintenanceSession>()
                .get("grow")
                .await
                .map_err(|e| e.to_string())?;
            return Err(format!("{e}: {:?}", obj.status));
        }
    };
    let st = held.status.clone().unwrap_or_default();
    if st.immybot.is_some_and(|r| !r.attempts.is_empty()) || !sim.state.ledger().is_empty() {
        return Err("a tenant grown past its approval must not start".into());
    }
    let recount = st.blast_radius.clone().ok_or("no blast radius")?;
    if recount.computers != 53 || recount.offline != 2 || st.approval.and_then(|a| a.computers) != Some(3) {
        return Err(format!(
            "the recount shows 53 computers, 2 offline; the approval 3: {recount:?}"
        ));
    }
    // bob approves what he sees now; offline computers need no approval of
    // their own: they are what spec.offline says (skipped).
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "grow", "--yes"], None).await?;
    if !ok || !out.contains("53 computers") {
        return Err(format!("bob approves the 53 computers: {out}"));
    }
    let done = ctx
        .wait_session("grow", "the tenant's sessions to end", LONG, |o| {
            o.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final)
        })
        .await?;
    controller.stop().await;
    let st = done.status.unwrap_or_default();
    let started = sim.state.ledger().len();
    if started != 53 || st.approval.and_then(|a| a.computers) != Some(53) {
        return Err(format!("the new approval starts all 53 once: {started} sessions"));
    }
    let missed = st.summary.map(|s| s.missed).unwrap_or_default();
    if missed < 2 {
        return Err(format!(
            "the offline computers are skipped, not failed: {missed} missed"
        ));
    }
    Ok(())
}

/// Fabrikam (3 computers) on a nightly ImmyBot schedule: bob sees the count
/// before approving and his approval records it; after 50 computers join,
/// the hourly recount disables the schedule in ImmyBot until bob approves
/// the 53.
async fn an_immybot_schedule_is_counted_before_approval_and_disabled_when_its_tenant_outgrows_it(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(100).await?;
    let clock = std::sync::Arc::new(Clock::default());
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    create(&ctx, "nightly", nightly(serde_json::json!({}))).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    let radius_of = |o: &ImmyBotSchedule| o.status.as_ref().and_then(|s| s.blast_radius.clone());
    let seen = wait_for("the schedule's blast radius", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        let digest = o.status.as_ref().and_then(|s| s.approval_digest.clone());
        match radius_of(&o) {
            Some(b) if Some(&b.digest) == digest.as_ref() => Ok(Some(b)),
            other => Err(format!("radius {other:?}")),
        }
    })
    .await?;
    if seen.computers != 3 || seen.counted_for.is_some() || !sim.state.schedules().is_empty() {
        return Err(format!(
            "Fabrikam's 3 computers, counted before any approval, nothing created: {seen:?}"
        ));
    }
    // The default deviceFilter picks device types the computer list does
    // not show: the count says it is an upper bound.
    if !seen
        .upper_bound
        .as_deref()
        .is_some_and(|u| u.contains("WorkstationsAndPortableDevices"))
    {
        return Err(format!("the count is an upper bound under a device filter: {seen:?}"));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "schedule/nightly", "--yes"], None).await?;
    if !ok || !out.contains("3 computers") || !out.contains("at most") {
        return Err(format!(
            "bob is shown the 3 computers, at most, before approving: {out}"
        ));
    }
    let approvals = ctx
        .api::<MaintenanceApproval>()
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    if approvals.items.iter().map(|a| a.spec.computers).collect::<Vec<_>>() != vec![Some(3)] {
        return Err(format!(
            "the approval records the 3 it was given: {:?}",
            approvals.items
        ));
    }
    one_schedule(&sim, "the schedule created, enabled", |s| {
        s.definition.disabled != Some(true)
    })
    .await?;

    // 50 computers join Fabrikam; an hour on, the recount disables it.
    fabrikam_gains_50(&sim);
    clock.set(
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(3700))
            .map_err(|e| e.to_string())?,
    );
    one_schedule(&sim, "the outgrown schedule disabled in ImmyBot", |s| {
        s.definition.disabled == Some(true)
    })
    .await?;
    let held = wait_for("BlastRadiusGrew on Ready", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some((status, reason, message)) if reason == "BlastRadiusGrew" => Ok(Some((status, message, o))),
            other => Err(format!("Ready {other:?}")),
        }
    })
    .await?;
    let recount = radius_of(&held.2).ok_or("no recount")?;
    if held.0 != "False" || !held.1.contains("53 computers") || recount.computers != 53 {
        return Err(format!("Ready False, 53 counted: {held:?}"));
    }
    // bob approves what he sees now: enabled again.
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "schedule/nightly", "--yes"], None).await?;
    if !ok || !out.contains("53 computers") {
        return Err(format!("bob approves the 53: {out}"));
    }
    one_schedule(&sim, "the schedule enabled again", |s| {
        s.definition.disabled != Some(true)
    })
    .await?;
    Ok(())
}

/// 50 online computers join Fabrikam (tenant 2): FAB-NEW-00 to 49.
fn fabrikam_gains_50(sim: &immybot_sim::RunningSim) {
    sim.state.with_engine(|e, _| {
        for i in 0..50 {
            e.add_computer(SeedComputer {
                id: 300 + i,
                name: format!("FAB-NEW-{i:02}"),
                tenant_id: 2,
                online: true,
                postpones: false,
                software: vec![],
            });
        }
    });
}
