//! ImmyBot connections as objects, against several simulators at once:
//! each object's calls go to its own connection's instance; a broken,
//! hanging instance holds only its own objects; a rotated Secret is used
//! without a restart; a missing or ambiguous connection says so and starts
//! nothing; a started session keeps its connection.

use std::time::Duration;

use immybot_operator::api::{ClusterImmyBotConnection, ImmyBotConnection, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{FaultKind, FaultRule, RunningSim};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        each_object_reaches_its_own_connections_instance_and_a_broken_one_holds_only_its_own,
        a_rotated_secret_is_used_without_a_restart,
        a_missing_or_ambiguous_connection_says_so_and_starts_nothing,
        a_cluster_connection_reads_its_secret_from_the_configured_namespace,
    ]
}

const LONG: Duration = Duration::from_secs(60);

/// Starts seen by `sim`.
pub fn starts(sim: &RunningSim) -> usize {
    sim.state
        .destructive_calls()
        .iter()
        .filter(|c| c.route.contains("run-immy-service"))
        .count()
}

/// Creates or updates the Secret `name` holding `value` as `clientSecret`.
pub async fn secret(ctx: &TestContext, namespace: &str, name: &str, value: &str) -> TestResult {
    Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name},
                "stringData": {"clientSecret": value},
            })),
        )
        .await
        .ctx("apply the secret")?;
    Ok(())
}

fn settings(sim: &RunningSim, secret_name: &str, default: bool) -> serde_json::Value {
    serde_json::json!({
        "url": sim.base_url().as_str(),
        "entraTenantId": "simulated-tenant",
        "clientId": "immybot-operator",
        "clientSecretRef": {"name": secret_name},
        "tokenUrl": sim.token_url().as_str(),
        "default": default,
    })
}

pub async fn connection(
    ctx: &TestContext,
    name: &str,
    sim: &RunningSim,
    secret_name: &str,
    default: bool,
) -> TestResult {
    let obj: ImmyBotConnection = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "ImmyBotConnection",
        "metadata": {"name": name},
        "spec": settings(sim, secret_name, default),
    }))
    .ctx("connection fixture")?;
    ctx.api::<ImmyBotConnection>()
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create the connection")?;
    Ok(())
}

/// The connection's Ready condition, once it has `status` (and its reason).
pub async fn wait_ready(ctx: &TestContext, name: &str, status: &str) -> Result<String, String> {
    let api = ctx.api::<ImmyBotConnection>();
    wait_for(&format!("connection {name} Ready={status}"), LONG, || async {
        let c = api.get(name).await.map_err(|e| e.to_string())?;
        let ready = c
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready").cloned());
        Ok(ready
            .filter(|r| r.status == status)
            .map(|r| format!("{}: {}", r.reason, r.message)))
    })
    .await
}

/// A session's Ready condition reason, once it is `reason`.
async fn wait_session_reason(ctx: &TestContext, name: &str, reason: &str) -> Result<String, String> {
    let api = ctx.api::<MaintenanceSession>();
    wait_for(&format!("session {name} Ready reason {reason}"), LONG, || async {
        let s = api.get(name).await.map_err(|e| e.to_string())?;
        let ready = s
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready").cloned());
        Ok(ready.filter(|r| r.reason == reason).map(|r| r.message))
    })
    .await
}

fn session_spec(connection: Option<&str>) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "requestedBy": "alice", "reason": "CHG-34",
        "target": {"computer": {"id": 101}},
    });
    if let Some(c) = connection {
        spec["connectionRef"] = serde_json::json!({"name": c});
    }
    spec
}

async fn each_object_reaches_its_own_connections_instance_and_a_broken_one_holds_only_its_own(
    ctx: TestContext,
) -> TestResult {
    let flags = simulator(150).await?;
    let lab = simulator(150).await?;
    let broken = simulator(150).await?;
    // The broken instance answers 500 to half its calls and never answers
    // the rest (the client's timeout fires).
    broken.state.add_fault(FaultRule {
        route: "*".into(),
        fault: FaultKind::Hang,
        times: None,
        probability: Some(0.5),
    });
    broken.state.add_fault(FaultRule {
        route: "*".into(),
        fault: FaultKind::Status { status: 500 },
        times: None,
        probability: None,
    });
    let _controller = ctx
        .controller(&flags, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    secret(&ctx, &ctx.namespace, "lab-credentials", "simulator-secret").await?;
    secret(&ctx, &ctx.namespace, "broken-credentials", "simulator-secret").await?;
    connection(&ctx, "lab", &lab, "lab-credentials", false).await?;
    connection(&ctx, "broken", &broken, "broken-credentials", false).await?;
    wait_ready(&ctx, "lab", "True").await?;
    let why = wait_ready(&ctx, "broken", "False").await?;
    if why.contains("simulator-secret") {
        return Err(format!("the secret reached the connection's status: {why}"));
    }

    // The broken instance's object first, so that its calls are under way
    // while the others are decided.
    create_session(&ctx, "on-broken", session_spec(Some("broken"))).await?;
    create_session(&ctx, "on-flags", session_spec(None)).await?;
    create_session(&ctx, "on-lab", session_spec(Some("lab"))).await?;
    for name in ["on-flags", "on-lab"] {
        approve(&ctx, name, "bob").await?;
    }
    let started = tokio::time::Instant::now();
    for name in ["on-flags", "on-lab"] {
        ctx.wait_phase(name, Phase::Succeeded, LONG).await?;
    }
    let took = started.elapsed();
    // One start each, each on its own instance; nothing on the broken one.
    if (starts(&flags), starts(&lab), starts(&broken)) != (1, 1, 0) {
        return Err(format!(
            "starts (flags, lab, broken) = ({}, {}, {}), expected (1, 1, 0)",
            starts(&flags),
            starts(&lab),
            starts(&broken)
        ));
    }
    let on_lab = ctx.api::<MaintenanceSession>().get("on-lab").await.ctx("get on-lab")?;
    let refs = on_lab
        .status
        .and_then(|s| s.immybot)
        .ok_or("on-lab records no instance")?;
    if refs.instance.trim_end_matches('/') != lab.base_url().as_str().trim_end_matches('/')
        || refs.connection.as_ref().map(|c| c.name.as_str()) != Some("lab")
    {
        return Err(format!(
            "on-lab should record the lab instance and connection: {refs:?}"
        ));
    }
    // The broken instance's object never got further than asking it.
    let on_broken = ctx
        .api::<MaintenanceSession>()
        .get("on-broken")
        .await
        .ctx("get on-broken")?;
    let phase = on_broken.status.as_ref().and_then(|s| s.phase);
    if matches!(phase, Some(p) if p.is_final() || p == Phase::Running) {
        return Err(format!("on-broken should be held, not {phase:?}"));
    }
    eprintln!("two instances' sessions succeeded in {took:?} beside a hanging one");

    // A started session keeps its connection: even its requester cannot
    // point it elsewhere.
    let refused = ctx
        .api_as::<MaintenanceSession>("alice")
        .await?
        .patch(
            "on-lab",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"connectionRef": {"name": "broken"}}})),
        )
        .await;
    match refused {
        Err(kube::Error::Api(e)) if e.message.contains("connectionRef") => Ok(()),
        other => Err(format!("moving a started session to another connection: {other:?}")),
    }
}

async fn a_rotated_secret_is_used_without_a_restart(ctx: TestContext) -> TestResult {
    let flags = simulator(150).await?;
    let lab = simulator(150).await?;
    let _controller = ctx
        .controller(&flags, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    secret(&ctx, &ctx.namespace, "lab-credentials", "simulator-secret").await?;
    connection(&ctx, "lab", &lab, "lab-credentials", false).await?;
    wait_ready(&ctx, "lab", "True").await?;
    // The app registration's secret is rotated and the old one removed:
    // the token the operator holds is refused, and so is its old secret.
    lab.state
        .rotate_client_secret(immybot_client::Secret::new("rotated-secret"));
    let why = wait_ready(&ctx, "lab", "False").await?;
    if why.contains("simulator-secret") || why.contains("rotated-secret") {
        return Err(format!("a secret reached the connection's status: {why}"));
    }
    // The new value arrives in the Secret (as an external-secrets sync
    // would): the same running operator signs in with it.
    secret(&ctx, &ctx.namespace, "lab-credentials", "rotated-secret").await?;
    wait_ready(&ctx, "lab", "True").await?;
    create_session(&ctx, "after-rotation", session_spec(Some("lab"))).await?;
    approve(&ctx, "after-rotation", "bob").await?;
    ctx.wait_phase("after-rotation", Phase::Succeeded, LONG).await?;
    if starts(&lab) != 1 || starts(&flags) != 0 {
        return Err(format!("starts: lab {}, flags {}", starts(&lab), starts(&flags)));
    }
    Ok(())
}

async fn a_missing_or_ambiguous_connection_says_so_and_starts_nothing(ctx: TestContext) -> TestResult {
    let flags = simulator(150).await?;
    let lab = simulator(150).await?;
    let _controller = ctx
        .controller(&flags, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(&ctx, "names-nothing-there", session_spec(Some("lab"))).await?;
    let msg = wait_session_reason(&ctx, "names-nothing-there", "ConnectionNotFound").await?;
    if !msg.contains("lab") {
        return Err(format!("the message should name the connection: {msg}"));
    }
    // Two defaults in one namespace: an object naming none uses neither
    // (and not the flags either).
    secret(&ctx, &ctx.namespace, "lab-credentials", "simulator-secret").await?;
    connection(&ctx, "lab", &lab, "lab-credentials", true).await?;
    connection(&ctx, "lab-too", &lab, "lab-credentials", true).await?;
    // Seen by the operator before the object is: a default that appears
    // after an object's decision is not a trigger of that object.
    wait_ready(&ctx, "lab", "True").await?;
    wait_ready(&ctx, "lab-too", "True").await?;
    create_session(&ctx, "names-none", session_spec(None)).await?;
    let msg = wait_session_reason(&ctx, "names-none", "AmbiguousDefaultConnection").await?;
    if !msg.contains("lab, lab-too") {
        return Err(format!("the message should name both defaults: {msg}"));
    }
    // The named one now exists: that object goes on, on the lab instance.
    approve(&ctx, "names-nothing-there", "bob").await?;
    ctx.wait_phase("names-nothing-there", Phase::Succeeded, LONG).await?;
    // One default left: the other object uses it.
    ctx.api::<ImmyBotConnection>()
        .delete("lab-too", &Default::default())
        .await
        .ctx("delete lab-too")?;
    approve(&ctx, "names-none", "bob").await?;
    ctx.wait_phase("names-none", Phase::Succeeded, LONG).await?;
    if starts(&lab) != 2 || starts(&flags) != 0 {
        return Err(format!("starts: lab {}, flags {}", starts(&lab), starts(&flags)));
    }
    Ok(())
}

async fn a_cluster_connection_reads_its_secret_from_the_configured_namespace(ctx: TestContext) -> TestResult {
    let flags = simulator(150).await?;
    let shared = simulator(150).await?;
    let _controller = ctx
        .controller(&flags, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let secrets = crate::harness::CLUSTER_CONNECTION_SECRETS;
    let name = format!("shared-{}", ctx.namespace);
    // A Secret of that name in the objects' own namespace is not used.
    secret(&ctx, &ctx.namespace, &name, "simulator-secret").await?;
    let obj: ClusterImmyBotConnection = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "ClusterImmyBotConnection",
        "metadata": {"name": name},
        "spec": settings(&shared, &name, false),
    }))
    .ctx("cluster connection fixture")?;
    let api = Api::<ClusterImmyBotConnection>::all(ctx.client.clone());
    api.create(&PostParams::default(), &obj).await.ctx("create")?;
    let seen = wait_for("the cluster connection's missing Secret named", LONG, || async {
        let c = api.get(&name).await.map_err(|e| e.to_string())?;
        let st = c.status.unwrap_or_default();
        let ready = st.conditions.iter().find(|c| c.type_ == "Ready").cloned();
        Ok(ready
            .filter(|r| r.reason == "SecretNotFound")
            .map(|r| (r.message, st.secret_namespace)))
    })
    .await?;
    if seen.1.as_deref() != Some(secrets) || !seen.0.contains(secrets) {
        return Err(format!("status should say the Secret is read in {secrets}: {seen:?}"));
    }
    secret(&ctx, secrets, &name, "simulator-secret").await?;
    wait_for("the cluster connection Ready", LONG, || async {
        let c = api.get(&name).await.map_err(|e| e.to_string())?;
        Ok(c.status
            .unwrap_or_default()
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(()))
    })
    .await?;
    let mut spec = session_spec(None);
    spec["connectionRef"] = serde_json::json!({"kind": "ClusterImmyBotConnection", "name": name});
    create_session(&ctx, "through-the-cluster", spec).await?;
    approve(&ctx, "through-the-cluster", "bob").await?;
    ctx.wait_phase("through-the-cluster", Phase::Succeeded, LONG).await?;
    let _ = api.delete(&name, &Default::default()).await;
    if starts(&shared) != 1 || starts(&flags) != 0 {
        return Err(format!("starts: shared {}, flags {}", starts(&shared), starts(&flags)));
    }
    Ok(())
}
