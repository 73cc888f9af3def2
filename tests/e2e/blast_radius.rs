//! The blast radius before every approval: what an approval would let
//! loose (computers, tenants with their children, offline and busy ones),
//! measured in ImmyBot and shown to the approver before they approve.

use std::time::Duration;

use immybot_client::{ComputerTarget, StartRequest};
use immybot_operator::api::{BlastRadius, MaintenanceSession};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::FleetSeed;

use crate::harness::{TestContext, TestFn, TestResult, fleet, manual_simulator, simulator_of};
use crate::lifecycle::create_session;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        the_blast_radius_of_a_computer_and_of_a_tenant_tree_shows_before_approval,
        a_5000_computer_tenant_is_measured_within_the_status_bound,
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
    let radius_at = out.find("3 computer(s) (1 offline, 1 busy with another session)");
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
