//! The Helm chart on a real API server: `helm install` is accepted, the
//! ServiceAccount's RBAC allows what the code uses and refuses the rest, and
//! the operator running *as that ServiceAccount* completes a session.

use std::process::Command;
use std::time::Duration;

use clap::Parser as _;
use immybot_operator::api::Phase;
use immybot_operator::runtime::{self, OperatorArgs};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use kube::api::{Api, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::{approve, create_session};

/// The chart's roles for people, bound in `ns` as docs/install.md shows,
/// asked of the API server as each person (impersonation, as
/// `kubectl auth can-i --as` does). (Aggregation into edit and view is
/// kube-controller-manager's work, which the test bed does not run: the
/// labels are checked by rendering, tests/chart_values.rs.)
async fn people_may_what_their_roles_say(ctx: &TestContext, ns: &str) -> Result<(), String> {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let bindings = Api::<RoleBinding>::namespaced(ctx.client.clone(), ns);
    for (user, role) in [("rita", "requester"), ("arne", "approver"), ("vera", "viewer")] {
        let binding: RoleBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{user}-{role}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("chart-immybot-operator-{role}")},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }))
        .ctx("binding")?;
        bindings
            .create(&PostParams::default(), &binding)
            .await
            .ctx("role binding")?;
    }
    let elsewhere = "kube-system";
    let checks: [(&str, &str, &str, Option<&str>, bool); 14] = [
        ("rita", "create", "maintenancesessions", Some(ns), true),
        ("rita", "patch", "maintenanceschedules", Some(ns), true),
        ("rita", "create", "sessionsearches", Some(ns), true),
        ("rita", "list", "maintenanceapprovals", Some(ns), true),
        ("rita", "create", "maintenanceapprovals", Some(ns), false),
        ("rita", "create", "maintenancesessions", Some(elsewhere), false),
        ("arne", "create", "maintenanceapprovals", Some(ns), true),
        ("arne", "delete", "maintenanceapprovals", Some(ns), true),
        ("arne", "get", "maintenancesessions", Some(ns), true),
        ("arne", "patch", "maintenancesessions", Some(ns), false),
        ("vera", "watch", "maintenancesessions", Some(ns), true),
        ("vera", "list", "immybotconnections", Some(ns), true),
        ("vera", "create", "maintenancesessions", Some(ns), false),
        ("vera", "create", "maintenanceapprovals", Some(ns), false),
    ];
    for (user, verb, resource, namespace, want) in checks {
        let as_user = ctx
            .client_as_with_groups(user, vec!["system:authenticated".to_string()])
            .await?;
        if may(&as_user, verb, "immybot.io", resource, namespace).await? != want {
            return Err(format!(
                "{user} {} be allowed to {verb} {resource} in {namespace:?}",
                if want { "must" } else { "must not" }
            ));
        }
    }
    Ok(())
}

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        the_chart_installs_and_its_service_account_can_run_the_operator,
        two_releases_serve_their_own_namespaces_side_by_side
    ]
}

fn helm(ctx: &TestContext, args: &[&str]) -> Result<String, String> {
    let out = Command::new("helm")
        .arg("--kubeconfig")
        .arg(ctx.kubeconfig_path())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ctx("running helm (built by testbed/build.sh)")?;
    if !out.status.success() {
        return Err(format!(
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `helm install` of the chart as `release` in `ns`, watching `watched`,
/// with the test values (no ServiceMonitor: the test bed has no Prometheus
/// Operator).
fn install(ctx: &TestContext, release: &str, ns: &str, watched: &str) -> Result<String, String> {
    helm(
        ctx,
        &[
            "install",
            release,
            "charts/immybot-operator",
            "--namespace",
            ns,
            "-f",
            "charts/immybot-operator/ci/test-values.yaml",
            "--set",
            "metrics.serviceMonitor.enabled=false",
            "--set",
            &format!("watchNamespace={watched}"),
            "--wait=false",
        ],
    )
}

/// A server-side dry-run apply of `yaml`: the API server must accept all
/// `objects` of it (the test bed owns identical cluster-wide objects, so
/// they are not installed twice).
fn server_accepts(ctx: &TestContext, yaml: &str, objects: usize, what: &str) -> Result<(), String> {
    let file = std::env::temp_dir().join(format!(
        "immybot-e2e-{}-{}.yaml",
        what.replace(' ', "-"),
        std::process::id()
    ));
    std::fs::write(&file, yaml).ctx("policies file")?;
    let out = ctx
        .kubectl(&[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--force-conflicts",
            "-f",
            &file.display().to_string(),
        ])
        .ctx("kubectl")?;
    let _ = std::fs::remove_file(&file);
    if !out.status.success() || String::from_utf8_lossy(&out.stdout).matches("(server dry run)").count() != objects {
        return Err(format!(
            "the API server must accept the chart's {what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Asks the API server whether the impersonated client may do this.
async fn may(
    client: &kube::Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> Result<bool, String> {
    let review: SelfSubjectAccessReview = serde_json::from_value(serde_json::json!({
        "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource, "namespace": namespace}}
    }))
    .ctx("review")?;
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .ctx("access review")?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

async fn the_chart_installs_and_its_service_account_can_run_the_operator(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let release = "chart";
    let ns = ctx.namespace.clone();
    // With watchNamespace the release's RBAC is a Role in that namespace and
    // its admission policies (named for the release) bind to it only.
    install(&ctx, release, &ns, &ns)?;
    // The chart's admission policies, validated by the real API server too:
    // the test bed owns identical cluster-wide objects already, so they are
    // sent as a server-side dry-run apply instead of being installed twice.
    let server_version = ctx.client.apiserver_version().await.ctx("server version")?.git_version;
    // One template of the chart as installed, with `extra` flags, for the
    // API server's own version (not helm's offline default).
    let render = |template: &str, extra: &[&str]| {
        let mut args = vec![
            "template",
            release,
            "charts/immybot-operator",
            "--namespace",
            &ns,
            "-f",
            "charts/immybot-operator/ci/test-values.yaml",
            "--show-only",
            template,
            "--kube-version",
            &server_version,
        ];
        args.extend(extra);
        helm(&ctx, &args)
    };
    let policies = render(
        "templates/admission-policies.yaml",
        &["--set", "metrics.serviceMonitor.enabled=false"],
    )?;
    let kinds = |k: &str| policies.lines().filter(|l| l.trim() == format!("kind: {k}")).count();
    // The pilot rule's binding is in pilot-rule.yaml (it names the
    // release's namespace).
    let ours = immybot_operator::api::admission_policies();
    let count = |k: &str| ours.iter().filter(|p| p["kind"] == k).count();
    let (want, bound) = (
        count("ValidatingAdmissionPolicy"),
        count("ValidatingAdmissionPolicyBinding"),
    );
    if kinds("ValidatingAdmissionPolicy") != want || kinds("ValidatingAdmissionPolicyBinding") != bound {
        return Err(format!(
            "the chart must render {want} policies and {bound} bindings:\n{policies}"
        ));
    }
    server_accepts(&ctx, &policies, want + bound, "admission policies")?;
    // The pilot rule's settings and binding, with thresholds set.
    let pilot = render(
        "templates/pilot-rule.yaml",
        &[
            "--set",
            "approval.pilotRequiredAbove=200",
            "--set",
            "approval.pilotRequiredAboveIn.lab=off",
        ],
    )?;
    if !pilot.contains("pilotRequiredAbove: \"200\"") || !pilot.contains("pilotRequiredAbove.lab: \"off\"") {
        return Err(format!("the chart writes the pilot thresholds: {pilot}"));
    }
    server_accepts(&ctx, &pilot, 3, "pilot rule")?;
    // The plan settings reach the operator's flags (which parse them: the
    // unit test of runtime::config takes these very strings).
    let plans = |extra: &[&str]| render("templates/deployment.yaml", extra);
    let set = plans(&[
        "--set",
        "approval.planRequiredAbove=100",
        "--set",
        "approval.planDetectionNeedsApproval=true",
    ])?;
    let unset = plans(&[])?;
    if !set.contains("- --plan-required-above=100")
        || !set.contains("- --plan-detection-needs-approval=true")
        || unset.contains("--plan-required-above")
        || !unset.contains("- --plan-detection-needs-approval=false")
    {
        return Err(format!("the chart passes the plan settings: {set}"));
    }
    // The control audit policies: rendered only where the API server
    // serves MutatingAdmissionPolicy v1 (as helm's capabilities say), and
    // then accepted by it. The test bed's does; an older one gets none.
    let served = kube::discovery::Discovery::new(ctx.client.clone())
        .filter(&["admissionregistration.k8s.io"])
        .run()
        .await
        .ctx("discovery")?
        .groups()
        .flat_map(|g| g.recommended_resources())
        .any(|(r, _)| r.kind == "MutatingAdmissionPolicy" && r.version == "v1");
    if !served {
        return Err("the test bed's API server (1.36) must serve MutatingAdmissionPolicy v1".into());
    }
    let render_audit = |api_versions: &[&str]| {
        let extra: Vec<&str> = api_versions.iter().flat_map(|v| ["--api-versions", v]).collect();
        render("templates/control-audit-policies.yaml", &extra)
    };
    let audit = render_audit(&["admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"])?;
    // helm refuses --show-only of a template that renders nothing.
    if render_audit(&[]).is_ok_and(|older| older.contains("kind:")) {
        return Err("without MutatingAdmissionPolicy v1 the chart must render no control audit policies".into());
    }
    let audit_want = immybot_operator::api::control_audit_policies().len();
    let audit_kinds = audit.lines().filter(|l| l.starts_with("kind: ")).count();
    if audit_kinds != audit_want {
        return Err(format!(
            "the chart must render {audit_want} control audit objects, got {audit_kinds}:\n{audit}"
        ));
    }
    server_accepts(&ctx, &audit, audit_want, "control audit policies")?;
    let status = helm(&ctx, &["status", release, "--namespace", &ns])?;
    if !status.contains("STATUS: deployed") {
        return Err(format!("release not deployed: {status}"));
    }
    let deployment = ctx
        .api::<Deployment>()
        .get("chart-immybot-operator")
        .await
        .ctx("the chart's Deployment")?;
    let container = deployment
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers[0].clone())
        .ok_or("no container")?;
    let sc = container.security_context.ok_or("no securityContext")?;
    if sc.read_only_root_filesystem != Some(true) || sc.allow_privilege_escalation != Some(false) {
        return Err(format!("container securityContext: {sc:?}"));
    }

    let sa = format!("system:serviceaccount:{ns}:chart-immybot-operator");
    let groups = vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_string(),
    ];
    let as_sa = ctx.client_as_with_groups(&sa, groups).await?;
    let allowed = [
        ("list", "immybot.io", "maintenancesessions", Some(ns.as_str())),
        ("watch", "immybot.io", "maintenanceapprovals", Some(ns.as_str())),
        ("update", "immybot.io", "maintenancesessions/status", Some(ns.as_str())),
        ("patch", "immybot.io", "maintenancesessions", Some(ns.as_str())),
        ("patch", "immybot.io", "maintenanceapprovals", Some(ns.as_str())),
        ("create", "events.k8s.io", "events", Some(ns.as_str())),
        ("patch", "coordination.k8s.io", "leases", Some(ns.as_str())),
        // A MaintenanceSchedule's runs: created, pruned, replaced.
        ("create", "immybot.io", "maintenancesessions", Some(ns.as_str())),
        ("delete", "immybot.io", "maintenancesessions", Some(ns.as_str())),
        ("watch", "immybot.io", "maintenanceschedules", Some(ns.as_str())),
        ("update", "immybot.io", "maintenanceschedules/status", Some(ns.as_str())),
        (
            "update",
            "immybot.io",
            "maintenanceschedules/finalizers",
            Some(ns.as_str()),
        ),
        ("create", "authentication.k8s.io", "selfsubjectreviews", None),
        ("watch", "immybot.io", "immybotconnections", Some(ns.as_str())),
        ("watch", "immybot.io", "clusterimmybotconnections", None),
        ("patch", "immybot.io", "immybotconnections/status", Some(ns.as_str())),
    ];
    for (verb, group, resource, namespace) in allowed {
        if !may(&as_sa, verb, group, resource, namespace).await? {
            return Err(format!("the ServiceAccount must be allowed to {verb} {resource}"));
        }
    }
    let refused = [
        ("get", "", "secrets", Some(ns.as_str())),
        ("list", "", "secrets", None),
        // It watches one namespace: it may read no other.
        ("list", "immybot.io", "maintenancesessions", None),
        ("get", "immybot.io", "maintenancesessions", Some("kube-system")),
        ("watch", "immybot.io", "maintenanceapprovals", None),
        // It never approves anything, and never edits what people declared.
        ("create", "immybot.io", "maintenanceapprovals", Some(ns.as_str())),
        ("create", "immybot.io", "maintenanceschedules", Some(ns.as_str())),
        ("update", "immybot.io", "maintenanceschedules", Some(ns.as_str())),
        ("patch", "immybot.io", "maintenanceschedules", Some(ns.as_str())),
        ("delete", "immybot.io", "maintenanceapprovals", Some(ns.as_str())),
        ("update", "immybot.io", "maintenancesessions", Some(ns.as_str())),
        ("patch", "coordination.k8s.io", "leases", Some("kube-system")),
        ("delete", "apiextensions.k8s.io", "customresourcedefinitions", None),
    ];
    for (verb, group, resource, namespace) in refused {
        if may(&as_sa, verb, group, resource, namespace).await? {
            return Err(format!(
                "the ServiceAccount must not be allowed to {verb} {resource} in {namespace:?}"
            ));
        }
    }

    people_may_what_their_roles_say(&ctx, &ns).await?;

    // The operator, running with exactly the chart's permissions.
    let secret = std::env::temp_dir().join(format!("immybot-e2e-chart-secret-{}", std::process::id()));
    std::fs::write(&secret, "simulator-secret").ctx("secret file")?;
    // A port for the admin endpoint that `helm test`'s check asks.
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ctx("a free port")?;
    let args = OperatorArgs::try_parse_from(sim.operator_flags(&secret).into_iter().chain([
        "--watch-namespace".to_string(),
        ns.to_string(),
        "--lease-namespace".to_string(),
        ns.to_string(),
        "--lease-name".to_string(),
        "chart-immybot-operator".to_string(),
        "--identity".to_string(),
        "chart-pod-0".to_string(),
        "--admin-addr".to_string(),
        admin.to_string(),
        "--poll-active-seconds".to_string(),
        "1".to_string(),
        "--poll-idle-seconds".to_string(),
        "1".to_string(),
    ]))
    .ctx("operator flags")?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let operator = tokio::spawn(runtime::run(args, as_sa, Default::default(), shutdown));
    create_session(
        &ctx,
        "as-service-account",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-30", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    approve(&ctx, "as-service-account", "bob").await?;
    let outcome = ctx
        .wait_phase("as-service-account", Phase::Succeeded, Duration::from_secs(40))
        .await;
    // `helm test`: its pod's own command, as the ServiceAccount, against
    // this operator (the pod's Service address swapped for the local one).
    let test_pod = render(
        "templates/tests/operator-check.yaml",
        &["--set", &format!("watchNamespace={ns}")],
    )?;
    server_accepts(&ctx, &test_pod, 1, "helm test pod")?;
    let check = helm_test_command(&test_pod, &format!("http://{admin}"))?;
    let as_sa_flags = [
        "--as".to_string(),
        sa.clone(),
        "--as-group".to_string(),
        "system:serviceaccounts".to_string(),
        "--as-group".to_string(),
        format!("system:serviceaccounts:{ns}"),
    ];
    let run_check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-immybot"))
            .env("KUBECONFIG", ctx.kubeconfig_path())
            .args(&check)
            .args(&as_sa_flags)
            .output()
    };
    let passed = run_check().ctx("running the helm test's check")?;
    let said = String::from_utf8_lossy(&passed.stdout).into_owned() + &String::from_utf8_lossy(&passed.stderr);
    let _ = stop.send(true);
    let stopped = tokio::time::timeout(Duration::from_secs(20), operator).await;
    let _ = std::fs::remove_file(&secret);
    outcome?;
    if !passed.status.success()
        || !said.contains("is ready (leader)")
        || !said.contains("last poll of ImmyBot worked")
        || said.contains("FAIL")
    {
        return Err(format!(
            "helm test's check must pass against the running operator: {said}"
        ));
    }
    match stopped {
        Ok(Ok(Ok(()))) => {}
        other => return Err(format!("the operator did not stop cleanly: {other:?}")),
    }
    // With the operator gone, the same check fails and says why.
    let failed = run_check().ctx("running the helm test's check")?;
    let said = String::from_utf8_lossy(&failed.stdout).into_owned() + &String::from_utf8_lossy(&failed.stderr);
    if failed.status.success() || !said.contains("FAIL  the operator does not answer") {
        return Err(format!("helm test's check must fail with the operator down: {said}"));
    }
    Ok(())
}

/// The `helm test` pod's command line (its args after the binary), with its
/// operator URL replaced by `operator_url`.
fn helm_test_command(pod_yaml: &str, operator_url: &str) -> Result<Vec<String>, String> {
    let doc = pod_yaml
        .split("\n---")
        .find(|d| d.contains("kind: Pod"))
        .ok_or("no Pod rendered")?;
    let pod: k8s_openapi::api::core::v1::Pod = serde_saphyr::from_str(doc).ctx("the test pod")?;
    let container = pod
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .ok_or("no container")?;
    if container.command != Some(vec!["/usr/local/bin/kubectl-immybot".to_string()]) {
        return Err(format!("the test pod runs the plugin: {:?}", container.command));
    }
    Ok(container
        .args
        .unwrap_or_default()
        .into_iter()
        .map(|a| match a.strip_prefix("--operator-url=") {
            Some(_) => format!("--operator-url={operator_url}"),
            None => a,
        })
        .collect())
}

/// Two releases in one namespace (an operations namespace), each watching a
/// team's namespace: both install with their admission policies, nothing
/// collides, each ServiceAccount reaches only its team's objects, and each
/// release's pilot rule reads its own settings in its own namespace only.
async fn two_releases_serve_their_own_namespaces_side_by_side(ctx: TestContext) -> TestResult {
    use k8s_openapi::api::admissionregistration::v1::{
        MatchResources, MutatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBinding,
    };
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
    // The one namespace a binding matches by name, if that is what it does.
    fn team_of(matching: Option<MatchResources>) -> Option<String> {
        matching?
            .namespace_selector?
            .match_labels?
            .remove("kubernetes.io/metadata.name")
    }
    let ops = ctx.namespace.clone();
    let teams = [("team-a", format!("{ops}-a")), ("team-b", format!("{ops}-b"))];
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    for (_, team_ns) in &teams {
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": team_ns}})).ctx("ns")?;
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .ctx("team namespace")?;
    }
    let outcome = async {
        for (release, team_ns) in &teams {
            install(&ctx, release, &ops, team_ns)
                .map_err(|e| format!("release {release} must install beside the other: {e}"))?;
        }
        // Each release's cluster-wide objects are its own, bound to its team:
        // every binding the chart ships (validating and mutating).
        let generated: Vec<serde_json::Value> = immybot_operator::api::admission_policies()
            .into_iter()
            .chain(immybot_operator::api::control_audit_policies())
            .chain(immybot_operator::api::shard_label_policies())
            .collect();
        let shipped = |kind: &str| generated.iter().filter(|p| p["kind"] == kind).count();
        for (release, team_ns) in &teams {
            let selector = format!("app.kubernetes.io/instance={release}");
            let of = ListParams::default().labels(&selector);
            let scopes: Vec<Option<String>> = Api::<ValidatingAdmissionPolicyBinding>::all(ctx.client.clone())
                .list(&of)
                .await
                .ctx("validating bindings")?
                .items
                .into_iter()
                .map(|b| team_of(b.spec.match_resources))
                .chain(
                    Api::<MutatingAdmissionPolicyBinding>::all(ctx.client.clone())
                        .list(&of)
                        .await
                        .ctx("mutating bindings")?
                        .items
                        .into_iter()
                        .map(|b| team_of(b.spec.and_then(|s| s.match_resources))),
                )
                .collect();
            // The pilot rule's two bindings are written in pilot-rule.yaml.
            let want = shipped("ValidatingAdmissionPolicyBinding") + shipped("MutatingAdmissionPolicyBinding") + 2;
            let scoped = scopes.iter().filter(|s| s.as_ref() == Some(team_ns)).count();
            if scopes.len() != want || scoped != want {
                return Err(format!(
                    "{release} must own {want} bindings, all matching {team_ns} only: {} owned, {scoped} scoped",
                    scopes.len()
                ));
            }
        }
        // Each ServiceAccount reaches its own team's objects and no other's.
        for (i, (release, team_ns)) in teams.iter().enumerate() {
            let other = &teams[1 - i].1;
            let sa = format!("system:serviceaccount:{ops}:{release}-immybot-operator");
            let groups = vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{ops}"),
                "system:authenticated".to_string(),
            ];
            let as_sa = ctx.client_as_with_groups(&sa, groups).await?;
            for (verb, resource, namespace, want) in [
                ("watch", "maintenancesessions", Some(team_ns.as_str()), true),
                ("update", "maintenancesessions/status", Some(team_ns.as_str()), true),
                ("watch", "clusterimmybotconnections", None, true),
                ("watch", "maintenancesessions", Some(other.as_str()), false),
                ("update", "maintenancesessions/status", Some(other.as_str()), false),
                ("list", "maintenancesessions", None, false),
            ] {
                if may(&as_sa, verb, "immybot.io", resource, namespace).await? != want {
                    return Err(format!(
                        "{release}'s ServiceAccount {} be allowed to {verb} {resource} in {namespace:?}",
                        if want { "must" } else { "must not" }
                    ));
                }
            }
        }
        // team-a's pilot rule, with a tenant counted in team-a's settings:
        // a tenant-wide session without a pilot is refused in team-a's
        // namespace, and the same session is admitted in team-b's.
        let settings = Api::<ConfigMap>::namespaced(ctx.client.clone(), &ops);
        settings
            .patch(
                "team-a-immybot-operator-settings",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"data": {"pilotRequiredAbove": "100", "tenant.7": "500"}})),
            )
            .await
            .ctx("team-a's settings")?;
        let session: immybot_operator::api::MaintenanceSession = serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
            "metadata": {"name": "whole-tenant"},
            "spec": {"requestedBy": "alice", "reason": "CHG-35", "target": {"tenant": {"id": 7}}},
        }))
        .ctx("fixture")?;
        let alice = ctx.client_as("alice").await?;
        let dry = PostParams {
            dry_run: true,
            ..Default::default()
        };
        let in_a = Api::<immybot_operator::api::MaintenanceSession>::namespaced(alice.clone(), &teams[0].1);
        // The policies reach the API server's admission through an informer.
        let message = wait_for("team-a's pilot rule to refuse it", Duration::from_secs(30), || async {
            match in_a.create(&dry, &session).await {
                Err(kube::Error::Api(s)) => Ok(Some(s.message)),
                other => Err(format!("admitted: {:?}", other.map(|o| o.metadata.name))),
            }
        })
        .await?;
        if !message.contains("needs a pilot") || !message.contains("500 computers") {
            return Err(format!("team-a's refusal names its own count: {message}"));
        }
        let in_b = Api::<immybot_operator::api::MaintenanceSession>::namespaced(alice, &teams[1].1);
        in_b.create(&dry, &session)
            .await
            .map_err(|e| format!("team-b's namespace is not team-a's to govern: {e}"))?;
        Ok(())
    }
    .await;
    for (release, _) in &teams {
        let _ = helm(&ctx, &["uninstall", release, "--namespace", &ops, "--wait=false"]);
    }
    for (_, team_ns) in &teams {
        let _ = namespaces.delete(team_ns, &DeleteParams::default()).await;
    }
    outcome
}
