//! The approval-coverage declaration, walked on the real API server with
//! impersonated users: for every field the declaration makes the
//! requester's (covered, words, inline approval) of every kind, a third
//! party's edit is refused at admission, and the requester's own edit is
//! accepted and, for a covered field, changes the digest and revokes the
//! approval. The fields and the edits come from the declaration
//! (`api::approval_coverage`), so a new field is walked without this file
//! changing. Then the controls: open to others, and who used them is
//! stamped by the API server and recorded in status and events.

use std::time::Duration;

use futures::future::join_all;
use immybot_operator::api::{
    ControlRecord, FieldClass, ImmyBotSchedule, KindCoverage, MaintenanceSchedule, MaintenanceSession, all_coverages,
    control_annotation,
};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        nobody_but_the_requester_changes_what_an_approval_covers,
        controls_stay_open_and_who_used_them_is_recorded,
        a_scheduled_run_cannot_be_widened_and_records_the_template_digest,
    ]
}

const LONG: Duration = Duration::from_secs(60);

/// What the walk needs to know of a kind besides its declaration: where
/// its status shows the digest, which condition carries the verdict, and
/// how an approval of it is written.
struct KindUnderTest {
    coverage: &'static KindCoverage,
    resource: ApiResource,
    digest_field: &'static str,
    condition: &'static str,
    short: &'static str,
}

fn kinds() -> Vec<KindUnderTest> {
    all_coverages()
        .into_iter()
        .map(|coverage| match coverage.kind {
            "MaintenanceSession" => KindUnderTest {
                coverage,
                resource: ApiResource::erase::<MaintenanceSession>(&()),
                digest_field: "approvalDigest",
                condition: "Approved",
                short: "ims",
            },
            "ImmyBotSchedule" => KindUnderTest {
                coverage,
                resource: ApiResource::erase::<ImmyBotSchedule>(&()),
                digest_field: "approvalDigest",
                condition: "Approved",
                short: "ibs",
            },
            _ => KindUnderTest {
                coverage,
                resource: ApiResource::erase::<MaintenanceSchedule>(&()),
                digest_field: "templateDigest",
                condition: "StandingApproval",
                short: "mms",
            },
        })
        .collect()
}

/// `sessionTemplate.spec.rollout.maxConcurrent` -> `s-t-s-r-maxconcurrent`.
fn slug(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out: Vec<String> = parts[..parts.len() - 1]
        .iter()
        .map(|p| p.chars().next().unwrap_or('x').to_ascii_lowercase().to_string())
        .collect();
    out.push(parts[parts.len() - 1].to_ascii_lowercase());
    out.join("-")
}

fn api(ctx: &TestContext, client: kube::Client, kind: &KindUnderTest) -> Api<DynamicObject> {
    Api::namespaced_with(client, &ctx.namespace, &kind.resource)
}

async fn api_as(ctx: &TestContext, user: &str, kind: &KindUnderTest) -> Result<Api<DynamicObject>, String> {
    let client = ctx
        .client_as_with_groups(user, vec![crate::harness::TEST_USERS_GROUP.into()])
        .await?;
    Ok(api(ctx, client, kind))
}

fn condition(obj: &DynamicObject, type_: &str) -> Option<(String, String)> {
    obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// Creates the kind's example as alice and has bob approve it; returns
/// the approved digest once the controller shows it approved.
async fn approved_example(ctx: &TestContext, kind: &KindUnderTest, name: &str) -> Result<String, String> {
    let mut spec: Value = serde_json::from_str(kind.coverage.example_spec).ctx("example spec")?;
    spec["requestedBy"] = "alice".into();
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": kind.resource.api_version, "kind": kind.resource.kind,
        "metadata": {"name": name}, "spec": spec,
    }))
    .ctx("object")?;
    api_as(ctx, "alice", kind)
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .map_err(|e| format!("alice creating {name}: {e}"))?;
    let admin = api(ctx, ctx.client.clone(), kind);
    let (uid, digest) = wait_for(&format!("{name}'s digest"), LONG, || async {
        let o = admin.get(name).await.map_err(|e| e.to_string())?;
        Ok(o.data["status"][kind.digest_field]
            .as_str()
            .map(|d| (o.metadata.uid.clone().unwrap_or_default(), d.to_owned())))
    })
    .await?;
    let mut approval = json!({
        "kind": kind.coverage.kind, "sessionName": name, "sessionUid": uid, "digest": digest, "approver": "bob",
    });
    if kind.coverage.kind == "MaintenanceSchedule" {
        approval["expiresAt"] = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24))
            .ctx("expiry")?
            .to_string()
            .into();
    }
    let approval: immybot_operator::api::MaintenanceApproval = serde_json::from_value(json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{name}-bob")}, "spec": approval,
    }))
    .ctx("approval")?;
    ctx.api_as::<immybot_operator::api::MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &approval)
        .await
        .map_err(|e| format!("bob approving {name}: {e}"))?;
    wait_for(&format!("{name} approved"), LONG, || async {
        let o = admin.get(name).await.map_err(|e| e.to_string())?;
        match condition(&o, kind.condition) {
            Some((s, _)) if s == "True" => Ok(Some(())),
            other => Err(format!("{}: {other:?}", kind.condition)),
        }
    })
    .await?;
    Ok(digest)
}

/// One field of one kind: carol's edit refused, alice's accepted, and the
/// digest and verdict as the declaration says.
async fn walk_field(ctx: &TestContext, kind: &KindUnderTest, path: &str, class: FieldClass, edit: &str) -> TestResult {
    let name = format!("{}-{}", kind.short, slug(path));
    let approved = approved_example(ctx, kind, &name).await?;
    let patch = json!({"spec": serde_json::from_str::<Value>(edit).ctx("edit")?});
    match api_as(ctx, "carol", kind)
        .await?
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s))
            if s.message.contains("only the requester (alice) may change") && s.message.contains(path) => {}
        other => {
            return Err(format!(
                "{} {path}: carol (edit rights, not the requester) changing it must be refused by admission, got {:?}",
                kind.coverage.kind,
                other.map(|o| o.data["spec"].clone())
            ));
        }
    }
    let edited = api_as(ctx, "alice", kind)
        .await?
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| format!("{} {path}: alice changing her own object: {e}", kind.coverage.kind))?;
    let admin = api(ctx, ctx.client.clone(), kind);
    wait_for(
        &format!("{} {path}: the verdict after alice's edit", kind.coverage.kind),
        LONG,
        || async {
            let o = admin.get(&name).await.map_err(|e| e.to_string())?;
            if o.data["status"]["observedGeneration"].as_i64() < edited.metadata.generation {
                return Err("the edit is not observed yet".into());
            }
            let digest = o.data["status"][kind.digest_field].as_str().unwrap_or_default().to_owned();
            let verdict = condition(&o, kind.condition);
            match class {
                FieldClass::Covered => match &verdict {
                    Some((s, r)) if digest != approved && s == "False" && r == "DigestMismatch" => Ok(Some(())),
                    _ => Err(format!("a covered field must change the digest and revoke the approval: digest changed {}, {verdict:?}", digest != approved)),
                },
                _ => match &verdict {
                    Some((s, _)) if digest == approved && s == "True" => Ok(Some(())),
                    _ => Err(format!("words and the inline approval are not in the digest: digest changed {}, {verdict:?}", digest != approved)),
                },
            }
        },
    )
    .await
}

async fn nobody_but_the_requester_changes_what_an_approval_covers(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // The connection the sample edit of `connectionRef` names.
    crate::connections::secret(&ctx, &ctx.namespace, "lab-credentials", "simulator-secret").await?;
    crate::connections::connection(&ctx, "lab", &sim, "lab-credentials", false).await?;
    crate::connections::wait_ready(&ctx, "lab", "True").await?;
    let kinds = kinds();
    let mut walks = Vec::new();
    for kind in &kinds {
        for f in kind.coverage.requester_only() {
            let edit = f
                .sample_edit
                .as_deref()
                .ok_or_else(|| format!("{} {} has no sample edit", kind.coverage.kind, f.path))?;
            walks.push(walk_field(&ctx, kind, &f.path, f.class, edit));
        }
    }
    let walked = walks.len();
    let failures: Vec<String> = join_all(walks).await.into_iter().filter_map(Result::err).collect();
    if walked < 40 {
        return Err(format!("only {walked} fields walked: the declaration lost fields"));
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    Ok(())
}

async fn controls_stay_open_and_who_used_them_is_recorded(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let kind = kinds()
        .into_iter()
        .find(|k| k.coverage.kind == "MaintenanceSession")
        .ok_or("kind")?;
    let name = "audited";
    approved_example(&ctx, &kind, name).await?;
    let as_carol = ctx.api_as::<MaintenanceSession>("carol").await?;
    // carol holds it: a control, open to her.
    as_carol
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"retry": {"limit": 2}}})),
        )
        .await
        .ctx("carol sets a retry limit")?;
    // dave cancels it.
    ctx.api_as::<MaintenanceSession>("dave")
        .await?
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"cancel": {"reason": "CHG-9 rolled back"}}})),
        )
        .await
        .ctx("dave cancels")?;
    // Nobody can put another person's name on a control.
    let forged = json!({"metadata": {"annotations": {control_annotation("suspend"): "alice"}}});
    match as_carol
        .patch(name, &PatchParams::default(), &Patch::Merge(&forged))
        .await
    {
        Err(kube::Error::Api(s)) if s.message.contains("may only name the user making the change (carol)") => {}
        other => {
            return Err(format!(
                "carol stamping alice on a control must be refused, got {:?}",
                other.map(|_| "accepted")
            ));
        }
    }
    let api = ctx.api::<MaintenanceSession>();
    let records = wait_for("both controls recorded", LONG, || async {
        let o = api.get(name).await.map_err(|e| e.to_string())?;
        let controls = o.status.map(|s| s.controls).unwrap_or_default();
        let by = |field: &str| controls.iter().find(|r| r.field == field).map(|r| r.by.clone());
        if by("retry").as_deref() == Some("carol") && by("cancel").as_deref() == Some("dave") {
            Ok(Some(controls))
        } else {
            Err(format!("{controls:?}"))
        }
    })
    .await?;
    let cancel: &ControlRecord = records.iter().find(|r| r.field == "cancel").ok_or("cancel")?;
    if !cancel.value.contains("CHG-9 rolled back") {
        return Err(format!("the record keeps what was asked: {cancel:?}"));
    }
    // suspend was set by alice at creation: recorded as hers.
    if records.iter().find(|r| r.field == "suspend").map(|r| r.by.as_str()) != Some("alice") {
        return Err(format!(
            "what the object was created with is the requester's: {records:?}"
        ));
    }
    // The events say it too, next to the approver.
    let events = Api::<Event>::namespaced(ctx.client.clone(), &ctx.namespace);
    wait_for("ControlChanged events naming dave and the approver", LONG, || async {
        let list = events.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
        let changes: Vec<_> = list
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("ControlChanged"))
            .collect();
        // A verb for the action; the field it is about as the related reference.
        let found = changes.iter().any(|e| {
            e.note.as_deref().is_some_and(|n| {
                n.contains("spec.cancel set to") && n.contains("by dave") && n.contains("approved by bob")
            }) && e.action.as_deref() == Some("Record")
                && e.related.as_ref().and_then(|r| r.field_path.as_deref()) == Some("spec.cancel")
        });
        if found {
            Ok(Some(()))
        } else {
            Err(format!(
                "{:?}",
                changes
                    .iter()
                    .map(|e| (&e.action, &e.note, &e.related))
                    .collect::<Vec<_>>()
            ))
        }
    })
    .await
}

async fn a_scheduled_run_cannot_be_widened_and_records_the_template_digest(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Every minute, one computer, held by its window until the test looks.
    let spec = json!({
        "requestedBy": "alice", "schedule": "* * * * *",
        "sessionTemplate": {"spec": {
            "target": {"computer": {"id": 101}}, "reason": "CHG-1 every minute",
            "windows": [{"days": ["Sunday"], "start": "03:00", "duration": "1h", "timeZone": "Pacific/Kiritimati"}],
        }},
    });
    let obj: MaintenanceSchedule = serde_json::from_value(json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
        "metadata": {"name": "minutely"}, "spec": spec,
    }))
    .ctx("schedule")?;
    ctx.api_as::<MaintenanceSchedule>("alice")
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("alice creates")?;
    let schedules = ctx.api::<MaintenanceSchedule>();
    let digest = wait_for("the template digest", LONG, || async {
        let o = schedules.get("minutely").await.map_err(|e| e.to_string())?;
        Ok(o.status
            .and_then(|s| s.template_digest)
            .map(|d| (o.metadata.uid.unwrap_or_default(), d)))
    })
    .await?;
    let approval: immybot_operator::api::MaintenanceApproval = serde_json::from_value(json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": "minutely-bob"},
        "spec": {"kind": "MaintenanceSchedule", "sessionName": "minutely", "sessionUid": digest.0, "digest": digest.1,
                 "approver": "bob", "expiresAt": jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(2)).ctx("t")?.to_string()},
    }))
    .ctx("approval")?;
    ctx.api_as::<immybot_operator::api::MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &approval)
        .await
        .ctx("bob's standing approval")?;
    let sessions = ctx.api::<MaintenanceSession>();
    let run = wait_for(
        "a run approved by the standing approval",
        Duration::from_secs(90),
        || async {
            let list = sessions.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
            Ok(list.items.into_iter().find(|s| {
                s.status
                    .as_ref()
                    .and_then(|st| st.approval.as_ref())
                    .is_some_and(|a| a.method == "StandingApproval")
            }))
        },
    )
    .await?;
    let record = run
        .status
        .as_ref()
        .and_then(|s| s.approval.clone())
        .ok_or("approval record")?;
    if record.digest != digest.1 {
        return Err(format!(
            "a run approved by a standing approval must record the template digest its approver saw ({}), not {}",
            digest.1, record.digest
        ));
    }
    let run_name = run.metadata.name.clone().ok_or("run name")?;
    // Nobody widens a run: not the schedule's requester, not an editor.
    let widen =
        json!({"spec": {"windows": null, "target": {"computer": null, "computers": [{"id": 101}, {"id": 102}]}}});
    for user in ["alice", "carol"] {
        match ctx
            .api_as::<MaintenanceSession>(user)
            .await?
            .patch(&run_name, &PatchParams::default(), &Patch::Merge(&widen))
            .await
        {
            Err(kube::Error::Api(s)) if s.message.contains("may change") => {}
            other => {
                return Err(format!(
                    "{user} widening the operator's run {run_name} must be refused, got {:?}",
                    other.map(|o| o.spec.target)
                ));
            }
        }
    }
    Ok(())
}
