//! The pilot rule on the real API server with its admission policy: a
//! tenant-wide session of more computers than the namespace allows without
//! a pilot starts nothing (even approved), and once the operator has
//! counted the tenant, the next such session is refused at admission with
//! how to add a pilot; a session with a pilot goes through.

use std::time::Duration;

use immybot_operator::api::{MaintenanceSchedule, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint, PilotRule};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, SETTINGS_NAMESPACE, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::create_session;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![a_tenant_above_the_pilot_threshold_needs_a_pilot_at_admission_and_before_any_start]
}

const LONG: Duration = Duration::from_secs(60);

fn fabrikam(rollout: Option<serde_json::Value>) -> serde_json::Value {
    let mut spec =
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-25 pilot", "target": {"tenant": {"id": 2}}});
    if let Some(r) = rollout {
        spec["rollout"] = r;
    }
    spec
}

async fn a_tenant_above_the_pilot_threshold_needs_a_pilot_at_admission_and_before_any_start(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(100).await?;
    // This namespace allows 2 computers without a pilot; Fabrikam has 3.
    let settings = Api::<ConfigMap>::namespaced(ctx.client.clone(), SETTINGS_NAMESPACE);
    let key = immybot_operator::api::pilot::namespace_key(&ctx.namespace);
    settings
        .patch(
            immybot_operator::api::pilot::SETTINGS_CONFIGMAP,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"data": {key: "2"}})),
        )
        .await
        .ctx("set the namespace's threshold")?;
    let policy = ApprovalPolicy {
        pilot: PilotRule {
            required_above: None,
            per_namespace: [(ctx.namespace.clone(), Some(2))].into_iter().collect(),
            settings: Some((
                SETTINGS_NAMESPACE.into(),
                immybot_operator::api::pilot::SETTINGS_CONFIGMAP.into(),
            )),
        },
        ..Default::default()
    };
    let _controller = ctx.controller(&sim, policy, CrashPoint::Never).await?;

    // Never counted: admitted; the controller counts 3 and refuses, before
    // and after an approval.
    create_session(&ctx, "whole", fabrikam(None)).await?;
    let refused = ctx
        .wait_session("whole", "PilotRequired", LONG, |o| {
            o.status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .any(|c| c.reason == "PilotRequired")
        })
        .await?;
    let st = refused.status.clone().unwrap_or_default();
    let stalled = st.conditions.iter().find(|c| c.type_ == "Stalled");
    if st.phase != Some(Phase::Pending)
        || !stalled.is_some_and(|c| {
            c.status == "True" && c.message.contains("3 computers") && c.message.contains("pilot: {count: 1}")
        })
    {
        return Err(format!(
            "Pending, Stalled with the count and how to add a pilot: {st:?}"
        ));
    }
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "whole", "--yes"], None).await?;
    if !ok {
        return Err(format!("bob may approve; it still does not start: {out}"));
    }
    ctx.wait_session("whole", "the approval recorded", LONG, |o| {
        o.status.as_ref().is_some_and(|s| s.approval.is_some())
    })
    .await?;
    let after = ctx.api::<MaintenanceSession>().get("whole").await.ctx("get")?;
    let reason = after
        .status
        .iter()
        .flat_map(|s| s.conditions.iter())
        .find(|c| c.type_ == "Stalled")
        .map(|c| c.reason.clone());
    if reason.as_deref() != Some("PilotRequired") || !sim.state.ledger().is_empty() {
        return Err(format!(
            "approved, still refused and nothing started: {reason:?}, ledger {:?}",
            sim.state.ledger()
        ));
    }

    // Counted now (the operator wrote tenant.2 = 3): refused at admission.
    let counted = wait_for("the operator's count in the settings", LONG, || async {
        let cm = settings
            .get(immybot_operator::api::pilot::SETTINGS_CONFIGMAP)
            .await
            .map_err(|e| e.to_string())?;
        match cm.data.as_ref().and_then(|d| d.get("tenant.2")) {
            Some(n) => Ok(Some(n.clone())),
            None => Err(format!("data {:?}", cm.data)),
        }
    })
    .await?;
    if counted != "3" {
        return Err(format!("Fabrikam counted 3: {counted}"));
    }
    let again: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": "whole-again"}, "spec": fabrikam(None),
    }))
    .ctx("fixture")?;
    let as_alice = ctx.api_as::<MaintenanceSession>("alice").await?;
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    // The policy reads its parameter through an informer: wait for it.
    let message = wait_for("admission to refuse it", LONG, || async {
        match as_alice.create(&dry, &again).await {
            Err(kube::Error::Api(s)) => Ok(Some(s.message)),
            other => Err(format!("admitted: {:?}", other.map(|o| o.metadata.name))),
        }
    })
    .await?;
    if !message.contains("needs a pilot") || !message.contains("3 computers") || !message.contains("spec.rollout") {
        return Err(format!("the refusal says why and how to add a pilot: {message}"));
    }
    // A MaintenanceSchedule whose every run would be refused is refused
    // when it is created; with a pilot in its template it is admitted.
    let schedule = |rollout: Option<serde_json::Value>| -> Result<MaintenanceSchedule, String> {
        let mut template = fabrikam(rollout);
        if let Some(t) = template.as_object_mut() {
            t.remove("requestedBy");
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
            "metadata": {"name": "nightly-fabrikam"},
            "spec": {"requestedBy": "alice", "schedule": "0 2 * * *", "sessionTemplate": {"spec": template}},
        }))
        .ctx("schedule fixture")
    };
    let schedules = ctx.api_as::<MaintenanceSchedule>("alice").await?;
    let unpiloted = schedule(None)?;
    let message = wait_for("admission to refuse the schedule", LONG, || async {
        match schedules.create(&dry, &unpiloted).await {
            Err(kube::Error::Api(s)) => Ok(Some(s.message)),
            other => Err(format!("admitted: {:?}", other.map(|o| o.metadata.name))),
        }
    })
    .await?;
    if !message.contains("MaintenanceSchedule of tenant-wide runs needs a pilot") || !message.contains("3 computers") {
        return Err(format!("the schedule's refusal says why: {message}"));
    }
    let piloted = schedule(Some(
        serde_json::json!({"strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": 2}),
    ))?;
    schedules
        .create(&dry, &piloted)
        .await
        .ctx("a schedule with a pilot is admitted")?;
    // With a pilot it is admitted, approved, and runs.
    let pilot = serde_json::json!({"strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": 2});
    create_session(&ctx, "piloted", fabrikam(Some(pilot))).await?;
    ctx.wait_session("piloted", "its digest", LONG, |o| {
        o.status.as_ref().is_some_and(|s| s.approval_digest.is_some())
    })
    .await?;
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &["approve", "piloted", "--yes"], None).await?;
    if !ok {
        return Err(format!("bob approves the piloted session: {out}"));
    }
    ctx.wait_session("piloted", "the piloted session to start", LONG, |o| {
        o.status
            .as_ref()
            .and_then(|s| s.immybot.as_ref())
            .is_some_and(|r| !r.attempts.is_empty())
    })
    .await?;
    Ok(())
}
