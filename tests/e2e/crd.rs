//! The CRDs on a real API server: accepted, served, validated at admission.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

use immybot_operator::api::{MaintenanceSession, MaintenanceSessionSpec, RebootPolicy, SessionMode};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, wait_for};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        crd_is_established,
        valid_session_round_trips_with_defaults,
        target_with_two_choices_is_rejected_by_cel,
        an_observed_session_has_no_target_and_starts_nothing_of_its_own,
        computer_with_id_and_name_is_rejected_by_cel,
        blank_reason_is_rejected,
        example_applies_with_kubectl_server_side,
        every_example_object_passes_admission_as_its_requester,
    ]
}

fn session(name: &str, spec: serde_json::Value) -> Result<MaintenanceSession, String> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceSession",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .ctx("building fixture")
}

/// Expects the API server to refuse `obj` with a 422 whose message contains `needle`.
async fn expect_rejected(ctx: &TestContext, obj: MaintenanceSession, needle: &str) -> TestResult {
    match ctx
        .api_as::<MaintenanceSession>("alice")
        .await?
        .create(&PostParams::default(), &obj)
        .await
    {
        Ok(_) => Err(format!(
            "the API server accepted an invalid object; expected a rejection mentioning {needle:?}"
        )),
        Err(kube::Error::Api(status)) if status.code == 422 && status.message.contains(needle) => Ok(()),
        Err(e) => Err(format!("expected a 422 mentioning {needle:?}, got: {e}")),
    }
}

async fn crd_is_established(ctx: TestContext) -> TestResult {
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    wait_for(
        "maintenancesessions.immybot.io to be Established",
        std::time::Duration::from_secs(20),
        || async {
            let crd = crds.get("maintenancesessions.immybot.io").await.ctx("get CRD")?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        },
    )
    .await
}

async fn valid_session_round_trips_with_defaults(ctx: TestContext) -> TestResult {
    let obj = session(
        "one-computer",
        serde_json::json!({
            "requestedBy": "alice",
            "target": {"computer": {"id": 42}},
            "reason": "CHG-1001 monthly patching",
        }),
    )?;
    let api = ctx.api::<MaintenanceSession>();
    ctx.api_as::<MaintenanceSession>("alice")
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create")?;
    let got = api.get("one-computer").await.ctx("get")?;
    let expected = MaintenanceSessionSpec {
        mode: SessionMode::Full,
        ..obj.spec.clone()
    };
    if got.spec != expected {
        return Err(format!(
            "spec changed on the way through the API server:\n sent {expected:?}\n got  {:?}",
            got.spec
        ));
    }
    // Defaults are applied by the schema, not only by serde: read it raw.
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &ctx.namespace,
        &kube::api::ApiResource::erase::<MaintenanceSession>(&()),
    );
    let raw = raw.get("one-computer").await.ctx("get raw")?;
    let reboot_policy = raw.data.pointer("/spec/reboot/policy").and_then(|v| v.as_str());
    if reboot_policy != Some("IfRequired") || got.spec.reboot.policy != RebootPolicy::IfRequired {
        return Err(format!(
            "expected the schema default reboot.policy=IfRequired, stored {reboot_policy:?}"
        ));
    }
    Ok(())
}

async fn target_with_two_choices_is_rejected_by_cel(ctx: TestContext) -> TestResult {
    let obj = session(
        "two-targets",
        serde_json::json!({
            "target": {"computer": {"id": 1}, "tenant": {"id": 2}},
            "reason": "CHG-1", "requestedBy": "alice",
        }),
    )?;
    expect_rejected(
        &ctx,
        obj,
        "target must set exactly one of computer, computers or tenant",
    )
    .await?;
    // An empty target is no target (serde leaves it out).
    let none = session(
        "no-target",
        serde_json::json!({"target": {}, "reason": "CHG-1", "requestedBy": "alice"}),
    )?;
    expect_rejected(&ctx, none, "set exactly one of spec.target").await
}

async fn an_observed_session_has_no_target_and_starts_nothing_of_its_own(ctx: TestContext) -> TestResult {
    let both = session(
        "observe-and-target",
        serde_json::json!({"observe": {"sessionId": 4711}, "target": {"computer": {"id": 1}},
            "reason": "look", "requestedBy": "alice"}),
    )?;
    expect_rejected(&ctx, both, "set exactly one of spec.target").await?;
    let rerun_whole = session(
        "observe-retry",
        serde_json::json!({"observe": {"sessionId": 4711}, "retry": {"requests": 1},
            "reason": "look", "requestedBy": "alice"}),
    )?;
    expect_rejected(&ctx, rerun_whole, "reruns only its failed actions").await?;
    // Observing is fixed at creation: it cannot be changed or dropped.
    let api = ctx.api_as::<MaintenanceSession>("alice").await?;
    let ok = session(
        "observe-ok",
        serde_json::json!({"observe": {"sessionId": 4711}, "reason": "look", "requestedBy": "alice"}),
    )?;
    api.create(&PostParams::default(), &ok).await.ctx("create observed")?;
    let changed = api
        .patch(
            "observe-ok",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&serde_json::json!({"spec": {"observe": {"sessionId": 4712}}})),
        )
        .await;
    match changed {
        Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("spec.observe cannot change") => Ok(()),
        other => Err(format!("changing spec.observe should be refused: {other:?}")),
    }
}

async fn computer_with_id_and_name_is_rejected_by_cel(ctx: TestContext) -> TestResult {
    let obj = session(
        "id-and-name",
        serde_json::json!({
            "target": {"computers": [{"id": 1}, {"id": 2, "name": "PC-02"}]},
            "reason": "CHG-1", "requestedBy": "alice",
        }),
    )?;
    expect_rejected(&ctx, obj, "a computer is named by exactly one of id or name").await
}

async fn blank_reason_is_rejected(ctx: TestContext) -> TestResult {
    let obj = session(
        "blank-reason",
        serde_json::json!({
            "target": {"computer": {"id": 1}},
            "reason": "   ",
        "requestedBy": "alice",
        }),
    )?;
    expect_rejected(&ctx, obj, "spec.reason must say why this maintenance runs").await
}

async fn example_applies_with_kubectl_server_side(ctx: TestContext) -> TestResult {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/maintenance-session-computer.yaml"
    );
    let out = ctx
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=e2e",
            "--as=alice",
            &format!("--as-group={}", crate::harness::TEST_USERS_GROUP),
            "-n",
            &ctx.namespace,
            "-f",
            file,
        ])
        .ctx("running kubectl")?;
    if !out.status.success() {
        return Err(format!(
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("maintenancesession.immybot.io/patch-reception-pc serverside-applied") {
        return Err(format!("unexpected kubectl output: {stdout}"));
    }
    let got = ctx
        .api::<MaintenanceSession>()
        .get("patch-reception-pc")
        .await
        .ctx("get applied")?;
    if got.spec.target.computer.and_then(|c| c.name).as_deref() != Some("RECEPTION-PC") {
        return Err("the applied object does not carry the example's target".into());
    }
    Ok(())
}

/// Every Kubernetes object under `examples/` (not the simulator's fleet
/// seed) passes the CRD schema, CEL and the admission policies when its
/// `requestedBy` applies it (server-side dry run: nothing is created).
async fn every_example_object_passes_admission_as_its_requester(ctx: TestContext) -> TestResult {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("gitops")] {
        for entry in std::fs::read_dir(&dir).ctx("reading examples/")? {
            let path = entry.ctx("examples/ entry")?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).ctx("reading an example")?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_str_multiple(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for obj in docs {
            let Some(kind) = obj.get("kind").and_then(|k| k.as_str()) else {
                continue; // the simulator's fleet seed
            };
            // Connections and their Secrets are an administrator's: applied
            // as the test's admin (CRD schema and CEL still apply).
            let admin = ["ImmyBotConnection", "ClusterImmyBotConnection", "Secret"].contains(&kind);
            // A report is read only: anyone with RBAC on it asks for one.
            let report = kind == "MaintenanceReport";
            if !admin && !report && !["MaintenanceSession", "ImmyBotSchedule", "MaintenanceSchedule"].contains(&kind) {
                continue; // Argo CD / Flux objects: not ours to admit
            }
            let requester = if admin {
                ""
            } else if report {
                "alice"
            } else {
                obj["spec"]["requestedBy"]
                    .as_str()
                    .ok_or("an example without requestedBy")?
            };
            let one = std::env::temp_dir().join(format!("{}-example-{checked}.json", ctx.namespace));
            std::fs::write(&one, obj.to_string()).ctx("writing the example object")?;
            let file_arg = one.display().to_string();
            let as_user = format!("--as={requester}");
            let as_group = format!("--as-group={}", crate::harness::TEST_USERS_GROUP);
            let mut args = vec![
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager=e2e",
                "-n",
                &ctx.namespace,
                "-f",
                &file_arg,
            ];
            if !admin {
                args.extend([as_user.as_str(), as_group.as_str()]);
            }
            let out = ctx.kubectl(&args).ctx("running kubectl")?;
            let _ = std::fs::remove_file(&one);
            if !out.status.success() {
                return Err(format!(
                    "{} ({kind}) is refused: {}",
                    file.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            checked += 1;
        }
    }
    if checked < 5 {
        return Err(format!("only {checked} example objects found in {files:?}"));
    }
    Ok(())
}
