//! The Helm chart's values, rendered by the real `helm` (built by
//! `testbed/build.sh`; `hack/test.sh` puts it on the PATH): the schema
//! refuses keys it does not know at every level, the disruption budget never
//! blocks a node drain, the security contexts can be replaced (no fixed
//! uid), and the common knobs reach the manifests.

use std::process::Command;

use serde_json::Value;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/immybot-operator");
const TEST_VALUES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/charts/immybot-operator/ci/test-values.yaml"
);

/// `helm template` with the test values and `sets`: the rendered objects,
/// or helm's error.
fn render(sets: &[&str]) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new("helm");
    cmd.args([
        "template",
        "immybot",
        CHART,
        "--namespace",
        "immybot-system",
        "-f",
        TEST_VALUES,
    ]);
    // helm's offline default (1.20) predates the chart's kubeVersion: the
    // test bed's pinned Kubernetes, as hack/chart-check.sh renders.
    cmd.args(["--kube-version", &kube_version()?]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running helm (testbed/build.sh builds it): {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| format!("rendered YAML: {e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The Kubernetes version the test bed pins (`testbed/controlplane/go.mod`).
fn kube_version() -> Result<String, String> {
    let go_mod = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/controlplane/go.mod"))
        .map_err(|e| format!("testbed/controlplane/go.mod: {e}"))?;
    go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("k8s.io/kubernetes v"))
        .map(|v| v.split_whitespace().next().unwrap_or(v).to_owned())
        .ok_or_else(|| "the test bed pins no k8s.io/kubernetes".to_owned())
}

/// helm's refusal of `sets` (the test fails when it renders instead).
fn refused(sets: &[&str]) -> String {
    match render(sets) {
        Ok(objects) => panic!("{sets:?} rendered {} objects instead of being refused", objects.len()),
        Err(why) => why,
    }
}

fn kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn deployment(objects: &[Value]) -> &Value {
    // Null (and every assertion on it failing) if the chart rendered none.
    kind(objects, "Deployment").first().copied().unwrap_or(&Value::Null)
}

#[test]
fn a_typo_is_refused_at_the_top_and_nested() {
    let top = refused(&["replicas=3"]);
    assert!(top.contains("'replicas' not allowed"), "{top}");
    let nested = refused(&["immybot.urll=https://x"]);
    assert!(
        nested.contains("/immybot") && nested.contains("'urll' not allowed"),
        "{nested}"
    );
    let deep = refused(&["metrics.serviceMonitor.intervall=1m"]);
    assert!(deep.contains("'intervall' not allowed"), "{deep}");
    // Free-form maps stay free.
    render(&["podLabels.team=platform", "nodeSelector.pool=system"]).expect("labels and selectors are open maps");
}

#[test]
fn the_disruption_budget_never_blocks_a_drain() {
    let one = render(&["replicaCount=1"]).expect("renders");
    assert!(
        kind(&one, "PodDisruptionBudget").is_empty(),
        "one replica: no budget (minAvailable 1 would block every drain)"
    );
    assert!(deployment(&one)["spec"]["template"]["spec"]["topologySpreadConstraints"].is_null());
    let two = render(&["replicaCount=2"]).expect("renders");
    let pdb = kind(&two, "PodDisruptionBudget");
    assert_eq!(pdb.len(), 1);
    assert_eq!(pdb[0]["spec"]["maxUnavailable"], 1, "{}", pdb[0]);
    assert!(pdb[0]["spec"]["minAvailable"].is_null());
    let spread = &deployment(&two)["spec"]["template"]["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        spread["whenUnsatisfiable"], "ScheduleAnyway",
        "spreading never blocks scheduling"
    );
}

#[test]
fn security_contexts_have_no_fixed_uid_and_can_be_replaced() {
    let objects = render(&[]).expect("renders");
    let pod = &deployment(&objects)["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(
        pod["securityContext"]["runAsUser"].is_null(),
        "a fixed uid is refused by OpenShift's restricted SCC: {}",
        pod["securityContext"]
    );
    assert_eq!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], true);
    let fixed = render(&[
        "podSecurityContext.runAsUser=1000",
        "securityContext.readOnlyRootFilesystem=false",
    ])
    .expect("renders");
    let pod = &deployment(&fixed)["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], false);
}

#[test]
fn names_priority_log_level_and_extra_flags_reach_the_manifests() {
    let objects = render(&[
        "fullnameOverride=patching",
        "priorityClassName=system-cluster-critical",
        "logLevel=immybot_operator=debug",
        "extraArgs[0]=--busy-retry-seconds=30",
        "extraEnv[0].name=HTTPS_PROXY",
        "extraEnv[0].value=http://proxy:3128",
    ])
    .expect("renders");
    let d = deployment(&objects);
    assert_eq!(d["metadata"]["name"], "patching");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(args.contains(&"--busy-retry-seconds=30"), "{args:?}");
    assert!(args.contains(&"--lease-name=patching"), "{args:?}");
    let env = container["env"].as_array().cloned().unwrap_or_default();
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str().map(str::to_owned))
    };
    assert_eq!(value("RUST_LOG").as_deref(), Some("immybot_operator=debug"));
    assert_eq!(value("HTTPS_PROXY").as_deref(), Some("http://proxy:3128"));
    let named = render(&["nameOverride=patcher"]).expect("renders");
    assert_eq!(deployment(&named)["metadata"]["name"], "immybot-patcher");
    let bad = render(&["extraArgs[0]=busy"]).expect_err("an extra arg is a flag");
    assert!(bad.contains("extraArgs"), "{bad}");
}

/// The rules of the operator's ClusterRole that name `resource`.
fn rules_for<'a>(objects: &'a [Value], resource: &str) -> Vec<&'a Value> {
    kind(objects, "ClusterRole")
        .into_iter()
        .flat_map(|r| r["rules"].as_array().into_iter().flatten())
        .filter(|rule| {
            rule["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r == resource))
        })
        .collect()
}

#[test]
fn secrets_are_read_only_by_name_and_only_when_asked() {
    let none = render(&[]).unwrap();
    assert!(rules_for(&none, "secrets").is_empty(), "no Secret access by default");
    let named = render(&["connections.secretNames={lab-immybot,prod-immybot}"]).unwrap();
    let rules = rules_for(&named, "secrets");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]));
    assert_eq!(
        rules[0]["resourceNames"],
        serde_json::json!(["lab-immybot", "prod-immybot"])
    );
    let any = render(&["connections.readAnySecret=true"]).unwrap();
    let rules = rules_for(&any, "secrets");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]));
    assert!(rules[0].get("resourceNames").is_none(), "{rules:?}");
    // The connection kinds are watched and their status patched.
    assert_eq!(rules_for(&none, "clusterimmybotconnections").len(), 1);
    assert!(refused(&["connections.readAnySecrets=true"]).contains("readAnySecrets"));
}

#[test]
fn each_shard_is_a_deployment_of_its_own_and_the_main_one_takes_the_rest() {
    let objects = render(&[
        "shards[0].name=lab",
        "shards[0].values={lab}",
        "shards[1].name=big",
        "shards[1].values={a,b}",
        "shards[1].replicaCount=1",
    ])
    .unwrap();
    let deployments = kind(&objects, "Deployment");
    assert_eq!(deployments.len(), 3);
    let args = |d: &Value| -> Vec<String> {
        d["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let find = |name: &str| {
        *deployments
            .iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Deployment {name}"))
    };
    let main = find("immybot-immybot-operator");
    assert!(args(main).contains(&"--shard-selector=immybot.io/shard notin (lab,a,b)".to_string()));
    let big = find("immybot-immybot-operator-big");
    let a = args(big);
    assert!(
        a.contains(&"--shard-selector=immybot.io/shard in (a,b)".to_string()),
        "{a:?}"
    );
    assert!(
        a.contains(&"--lease-name=immybot-immybot-operator-big".to_string()),
        "{a:?}"
    );
    assert_eq!(big["spec"]["replicas"], 1);
    // A shard's pods are its own: its selector names the shard.
    assert_eq!(
        big["spec"]["selector"]["matchLabels"]["immybot.io/operator-shard"],
        "big"
    );
    // Without shards: one Deployment serving everything.
    let plain = render(&[]).unwrap();
    let one = kind(&plain, "Deployment");
    assert_eq!(one.len(), 1);
    assert!(!args(one[0]).iter().any(|a| a.starts_with("--shard-selector")));
    assert!(refused(&["shards[0].name=Bad_Name", "shards[0].values={x}"]).contains("name"));
}

fn cluster_role<'a>(objects: &'a [Value], suffix: &str) -> &'a Value {
    kind(objects, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
        .unwrap_or(&Value::Null)
}

/// The verbs a ClusterRole grants on `resource` of immybot.io.
fn verbs(role: &Value, resource: &str) -> Vec<String> {
    role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|x| x == resource))
        })
        .flat_map(|r| r["verbs"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn roles_for_people_aggregate_requesting_and_viewing_but_never_approving() {
    let objects = render(&[]).unwrap();
    let (requester, approver, viewer) = (
        cluster_role(&objects, "-requester"),
        cluster_role(&objects, "-approver"),
        cluster_role(&objects, "-viewer"),
    );
    let label = |role: &Value, l: &str| role["metadata"]["labels"][l] == "true";
    let (edit, admin, view) = (
        "rbac.authorization.k8s.io/aggregate-to-edit",
        "rbac.authorization.k8s.io/aggregate-to-admin",
        "rbac.authorization.k8s.io/aggregate-to-view",
    );
    assert!(label(requester, edit) && label(requester, admin), "{requester}");
    assert!(label(viewer, view) && !label(viewer, edit), "{viewer}");
    for l in [edit, admin, view] {
        assert!(
            !label(approver, l),
            "approving is granted on purpose, never aggregated: {approver}"
        );
    }
    assert!(verbs(requester, "maintenancesessions").contains(&"create".to_owned()));
    assert!(!verbs(requester, "maintenanceapprovals").contains(&"create".to_owned()));
    assert!(verbs(approver, "maintenanceapprovals").contains(&"create".to_owned()));
    assert!(!verbs(approver, "maintenancesessions").contains(&"create".to_owned()));
    assert!(
        verbs(viewer, "maintenancesessions")
            .iter()
            .all(|v| ["get", "list", "watch"].contains(&v.as_str()))
    );
    // Off: no label; not created: no role.
    let plain = render(&["userRoles.aggregateToDefaultRoles=false"]).unwrap();
    assert!(!label(cluster_role(&plain, "-requester"), edit));
    let none = render(&["userRoles.create=false"]).unwrap();
    assert!(cluster_role(&none, "-viewer").is_null());
}

#[test]
fn the_network_policy_lets_the_admin_port_in_and_only_dns_the_api_server_and_immybot_out() {
    assert!(kind(&render(&[]).unwrap(), "NetworkPolicy").is_empty(), "opt-in");
    let objects = render(&[
        "networkPolicy.enabled=true",
        "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.team=monitoring",
        "networkPolicy.apiServer.cidrs[0]=10.0.0.1/32",
        "shards[0].name=lab",
        "shards[0].values[0]=lab",
    ])
    .unwrap();
    let policy = kind(&objects, "NetworkPolicy")[0];
    // It selects every operator pod, the shards' included.
    let selector = &policy["spec"]["podSelector"]["matchLabels"];
    for d in kind(&objects, "Deployment") {
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        for (k, v) in selector.as_object().unwrap() {
            assert_eq!(&labels[k], v, "{} is not selected", d["metadata"]["name"]);
        }
    }
    let ingress = policy["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(
        ingress[0]["from"][0]["namespaceSelector"]["matchLabels"]["team"],
        "monitoring"
    );
    assert_eq!(
        ingress[0]["ports"][0]["port"],
        deployment(&objects)["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    );
    let egress = policy["spec"]["egress"].as_array().unwrap();
    let ports: Vec<Vec<i64>> = egress
        .iter()
        .map(|e| {
            e["ports"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["port"].as_i64())
                .collect()
        })
        .collect();
    assert_eq!(ports, vec![vec![53, 53], vec![443, 6443], vec![443]]);
    assert_eq!(egress[1]["to"][0]["ipBlock"]["cidr"], "10.0.0.1/32");
    // Nobody named: only `helm test`'s pod in, and with the test off no
    // ingress at all (probes are the kubelet's).
    let tested = render(&["networkPolicy.enabled=true"]).unwrap();
    assert_eq!(
        kind(&tested, "NetworkPolicy")[0]["spec"]["ingress"][0]["from"],
        serde_json::json!([{"podSelector": {"matchLabels": {
            "app.kubernetes.io/instance": "immybot", "app.kubernetes.io/component": "helm-test"}}}])
    );
    let test_pod = kind(&tested, "Pod");
    assert_eq!(test_pod.len(), 1, "helm test's pod");
    assert_eq!(
        test_pod[0]["metadata"]["annotations"]["helm.sh/hook"], "test",
        "a hook, never installed with the release"
    );
    assert!(
        test_pod[0]["metadata"]["labels"]
            .get("app.kubernetes.io/name")
            .is_none(),
        "not selected by the Service or the NetworkPolicy"
    );
    let closed = render(&["networkPolicy.enabled=true", "tests.enabled=false"]).unwrap();
    assert_eq!(
        kind(&closed, "NetworkPolicy")[0]["spec"]["ingress"],
        serde_json::json!([])
    );
    // More egress, e.g. to an OTLP collector, as written.
    let collector = render(&[
        "networkPolicy.enabled=true",
        "networkPolicy.extraEgress[0].ports[0].port=4318",
    ])
    .unwrap();
    let egress = kind(&collector, "NetworkPolicy")[0]["spec"]["egress"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(egress.last().unwrap()["ports"][0]["port"], 4318);
    // Wrong shapes are refused.
    let why = refused(&["networkPolicy.immybot.ports[0]=0"]);
    assert!(why.contains("minimum"), "{why}");
}

#[test]
fn the_dashboard_and_the_alerts_are_the_files_monitoring_check_tests() {
    assert!(kind(&render(&[]).unwrap(), "PrometheusRule").is_empty(), "opt-in");
    let objects = render(&[
        "metrics.grafanaDashboard.enabled=true",
        "metrics.prometheusRule.enabled=true",
        "metrics.prometheusRule.labels.release=kube-prometheus",
    ])
    .unwrap();
    let map = kind(&objects, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1")
        .expect("the dashboard's ConfigMap");
    let shipped: Value = serde_json::from_str(map["data"]["immybot-operator.json"].as_str().unwrap()).unwrap();
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{CHART}/files/grafana-dashboard.json")).unwrap())
            .unwrap();
    assert_eq!(shipped, file);
    assert_eq!(shipped["uid"], "immybot-operator");
    let rule = kind(&objects, "PrometheusRule")[0];
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus");
    let file: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(format!("{CHART}/files/prometheus-rules.yaml")).unwrap())
            .unwrap();
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    let alerts: Vec<&str> = file["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    assert_eq!(alerts.len(), 8, "{alerts:?}");
}
