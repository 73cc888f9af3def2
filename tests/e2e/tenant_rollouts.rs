//! Rollouts over a tenant tree (issue 25, section 3): an MSP's parent
//! tenant with three customer tenants, rolled out tenant by tenant with a
//! pilot drawn from every tenant; one customer's failure halts the rollout
//! on that tenant's own budget before the next customer starts, an offline
//! computer is counted in a class of its own, and a person continues.

use std::time::Duration;

use immybot_operator::api::Phase;
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::FleetSeed;

use crate::harness::{TestContext, TestFn, TestResult, simulator_of};
use crate::lifecycle::create_session;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![a_tenant_tree_rolls_out_tenant_by_tenant_and_halts_on_one_tenants_budget]
}

const LONG: Duration = Duration::from_secs(60);

const FLEET: &str = r#"
tenants:
  - { id: 10, name: MSP }
  - { id: 11, name: Alpha, parentId: 10 }
  - { id: 12, name: Beta, parentId: 10 }
  - { id: 13, name: Gamma, parentId: 10 }
computers:
  - { id: 1001, name: MSP-01, tenantId: 10, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1002, name: MSP-02, tenantId: 10, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1101, name: A-01, tenantId: 11, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1102, name: A-02, tenantId: 11, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1103, name: A-03, tenantId: 11, online: false, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1201, name: B-01, tenantId: 12, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1202, name: B-02, tenantId: 12, software: [{ name: Legacy VPN, desired: "5.2", behaviour: fails }] }
  - { id: 1203, name: B-03, tenantId: 12, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1301, name: G-01, tenantId: 13, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
  - { id: 1302, name: G-02, tenantId: 13, software: [{ name: 7-Zip, installed: "23.01", desired: "24.08" }] }
"#;

async fn a_tenant_tree_rolls_out_tenant_by_tenant_and_halts_on_one_tenants_budget(ctx: TestContext) -> TestResult {
    let sim = simulator_of(FleetSeed::from_yaml(FLEET)?, 100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "tree",
        serde_json::json!({
            "requestedBy": "alice", "reason": "CHG-25 customers one by one",
            "target": {"tenant": {"id": 10, "includeChildTenants": true}},
            "rollout": {"strategy": "Waves", "pilot": {"count": 1}, "tenantByTenant": {"tenantsAtOnce": 1},
                        "maxConcurrent": 10, "maxFailures": "100%", "maxFailuresPerTenant": 0},
        }),
    )
    .await?;
    ctx.wait_session("tree", "its blast radius", LONG, |o| {
        o.status.as_ref().is_some_and(|s| s.blast_radius.is_some())
    })
    .await?;
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "tree", "--yes"], None).await?;
    if !ok || !out.contains("10 computers in 4 tenants") {
        return Err(format!("bob approves the tree's 10 computers in 4 tenants: {out}"));
    }
    let halted = ctx
        .wait_session("tree", "the rollout to halt on Beta", LONG, |o| {
            o.status.as_ref().and_then(|s| s.phase) == Some(Phase::Halted)
        })
        .await?;
    let st = halted.status.clone().unwrap_or_default();
    let plan = st.rollout.clone().ok_or("no rollout")?;
    // The plan: a pilot from every tenant, then one tenant per wave.
    if plan.computer_ids != vec![1001, 1101, 1201, 1301, 1002, 1102, 1103, 1202, 1203, 1302]
        || plan.pilot_tenants != vec![10, 11, 12, 13]
        || plan.waves != 5
    {
        return Err(format!("pilot from every tenant, then tenant by tenant: {plan:?}"));
    }
    let tenant = |id: i32| plan.tenants.iter().find(|t| t.id == id).cloned().unwrap_or_default();
    let (alpha, beta) = (tenant(11), tenant(12));
    if alpha.offline != 1 || alpha.failed != 0 || beta.failed != 1 || plan.offline != 1 {
        return Err(format!(
            "Alpha's offline computer is not a failure, Beta's failure is: {:?}",
            plan.tenants
        ));
    }
    let ready = st.conditions.iter().find(|c| c.type_ == "Ready").ok_or("no Ready")?;
    if ready.reason != "TenantFailureBudgetExhausted" || !ready.message.contains("tenant Beta") {
        return Err(format!("halted on Beta's own budget: {ready:?}"));
    }
    let started: Vec<i32> = sim.state.ledger().iter().map(|e| e.computer_id).collect();
    if started.contains(&1302) || started.len() != 9 {
        return Err(format!("Gamma's wave must not start after Beta halted: {started:?}"));
    }
    // What a person reads: Beta's failure first, Alpha's offline computer.
    let (ok, out) = crate::plugin::plugin(&ctx, "alice", &["status", "tree"], None).await?;
    if !ok || !out.contains("tenants   Beta 3 (1 failed, budget 0), Alpha 3 (1 offline, budget 0)") {
        return Err(format!(
            "kubectl immybot status shows the tenants, troubled first: {out}"
        ));
    }
    // alice continues, accepting Beta's failure: Gamma's wave runs.
    let (ok, out) = crate::plugin::plugin(&ctx, "alice", &["resume", "tree"], None).await?;
    if !ok {
        return Err(format!("alice continues the rollout: {out}"));
    }
    let done = ctx
        .wait_session("tree", "the rollout to end", LONG, |o| {
            o.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final)
        })
        .await?;
    let mut started: Vec<i32> = sim.state.ledger().iter().map(|e| e.computer_id).collect();
    started.sort_unstable();
    let before = started.len();
    started.dedup();
    if before != 10 || started.len() != 10 || done.status.and_then(|s| s.phase) != Some(Phase::PartiallySucceeded) {
        return Err(format!("every computer started once, partly succeeded: {started:?}"));
    }
    Ok(())
}
