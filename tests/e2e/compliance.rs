//! Compliance after a session (status.compliance, the `Compliant`
//! condition): read once the maintenance ended, from ImmyBot's own
//! compliance routes, in the thin rows the evidence allows and in whole
//! rows; a fully compliant tenant; a read that failed.

use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::RunningSim;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_computer_left_failing_is_not_compliant_in_either_reading_of_the_rows,
        a_tenant_all_maintained_is_compliant_for_one_call,
        a_compliance_read_that_fails_leaves_compliant_unknown,
    ]
}

const LONG: Duration = Duration::from_secs(40);

/// The object once its `Compliant` condition is there: (status, reason, message).
async fn compliant(ctx: &TestContext, name: &str) -> Result<(MaintenanceSession, String, String, String), String> {
    let api = ctx.api::<MaintenanceSession>();
    wait_for("the Compliant condition", LONG, || async {
        let obj = api.get(name).await.ctx("get")?;
        let found = obj
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Compliant"))
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
        Ok(found.map(|(s, r, m)| (obj, s, r, m)))
    })
    .await
}

/// A session of `target`, approved, run by a controller until `phase`, then
/// its Compliant condition (see `compliant`).
async fn run_to(
    ctx: &TestContext,
    sim: &RunningSim,
    name: &str,
    target: serde_json::Value,
    phase: Phase,
) -> Result<(MaintenanceSession, String, String, String), String> {
    let _controller = ctx
        .controller(sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        ctx,
        name,
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-36", "target": target}),
    )
    .await?;
    approve(ctx, name, "bob").await?;
    ctx.wait_phase(name, phase, LONG).await?;
    compliant(ctx, name).await
}

/// RECEPTION-PC passes; FINANCE-LT01's Legacy VPN installer fails.
async fn two_computers(ctx: &TestContext, sim: &RunningSim, name: &str) -> TestResult {
    let both = serde_json::json!({"computers": [{"id": 101}, {"id": 102}]});
    let (obj, status, reason, message) = run_to(ctx, sim, name, both, Phase::PartiallySucceeded).await?;
    let c = obj.status.and_then(|s| s.compliance).ok_or("no status.compliance")?;
    if (status.as_str(), reason.as_str()) != ("False", "NotCompliant")
        || (c.computers_needing_attention, c.computers_compliant) != (1, 1)
        || !message.starts_with("1 of 2 computer(s) still need attention")
        || c.read_by != "PerComputer"
    {
        return Err(format!("{status} {reason} {message}: {c:?}"));
    }
    let vpn = c.items.first().ok_or("no item")?;
    // Named by what status already knows, whatever the rows carried.
    if vpn.computers != 1 || vpn.examples != vec!["FINANCE-LT01".to_string()] {
        return Err(format!("the VPN on FINANCE-LT01: {vpn:?}"));
    }
    // One needs-attention call per computer, nothing per tenant.
    let per_computer = sim
        .state
        .call_count("GET /api/v1/maintenance-actions/computer/{computerId}/needs-attention");
    if per_computer != 2 {
        return Err(format!("two computers, two calls: {per_computer}"));
    }
    let events = Api::<Event>::namespaced(ctx.client.clone(), &ctx.namespace);
    wait_for("a NotCompliant event", LONG, || async {
        let list = events.list(&ListParams::default()).await.ctx("events")?;
        Ok(list
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("NotCompliant") && e.type_.as_deref() == Some("Warning"))
            .then_some(()))
    })
    .await?;
    Ok(())
}

async fn a_computer_left_failing_is_not_compliant_in_either_reading_of_the_rows(ctx: TestContext) -> TestResult {
    // Thin rows (the default): the item by its identifier.
    let thin = simulator(150).await?;
    two_computers(&ctx, &thin, "thin").await?;
    let item = |name: &'static str| {
        let api = ctx.api::<MaintenanceSession>();
        async move {
            let obj = api.get(name).await.ctx("get")?;
            Ok::<_, String>(
                obj.status
                    .and_then(|s| s.compliance)
                    .and_then(|c| c.items.first().map(|i| i.item.clone()))
                    .unwrap_or_default(),
            )
        }
    };
    let thin_item = item("thin").await?;
    // Whole rows: the item by its display name.
    let full = simulator(150).await?;
    full.state.update_shape(|s| s.compliance_rows_in_full = true);
    two_computers(&ctx, &full, "full").await?;
    let full_item = item("full").await?;
    if full_item != "Legacy VPN" || thin_item.is_empty() || thin_item == full_item {
        return Err(format!("items: thin {thin_item:?}, full {full_item:?}"));
    }
    Ok(())
}

async fn a_tenant_all_maintained_is_compliant_for_one_call(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let woodgrove = serde_json::json!({"tenant": {"name": "Woodgrove"}});
    let (obj, status, reason, message) = run_to(&ctx, &sim, "woodgrove", woodgrove, Phase::Succeeded).await?;
    let st = obj.status.unwrap_or_default();
    let maintained = st.summary.as_ref().map_or(0, |s| s.computers);
    let c = st.compliance.ok_or("no status.compliance")?;
    if (status.as_str(), reason.as_str()) != ("True", "Compliant")
        || maintained == 0
        || (c.computers_compliant, c.computers_needing_attention) != (maintained, 0)
        || c.read_by != "PerTenant"
    {
        return Err(format!("{status} {reason} {message}: {c:?}"));
    }
    let calls = sim
        .state
        .call_count("GET /api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenantId}");
    if calls != 1 {
        return Err(format!("a tenant is one call: {calls}"));
    }
    Ok(())
}

async fn a_compliance_read_that_fails_leaves_compliant_unknown(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.add_fault(immybot_sim::FaultRule {
        route: "GET /api/v1/maintenance-actions/computer/{computerId}/needs-attention".into(),
        fault: immybot_sim::FaultKind::Status { status: 500 },
        times: None,
        probability: None,
    });
    let one = serde_json::json!({"computer": {"id": 101}});
    let (obj, status, reason, message) = run_to(&ctx, &sim, "unread", one, Phase::Succeeded).await?;
    let c = obj.status.and_then(|s| s.compliance).ok_or("no status.compliance")?;
    if (status.as_str(), reason.as_str()) != ("Unknown", "ComplianceUnread")
        || c.failed_reads != 1
        || !message.contains("500")
        || !message.contains("try 1 of 3")
    {
        return Err(format!("{status} {reason} {message}: {c:?}"));
    }
    Ok(())
}
