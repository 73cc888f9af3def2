//! Who owns the ImmyBot schedule, across deletion, adoption and crashes:
//! Orphan leaves it, Delete cancels its runs and removes it, adopt takes an
//! existing one over, and an interrupted create never makes a second one
//! (a kill between intent and create; an ambiguous find stalls until a
//! person names the one to keep).

use std::time::Duration;

use immybot_client::ScheduleDefinition;
use immybot_operator::api::ImmyBotSchedule;
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use kube::api::DeleteParams;

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::schedules::{approve, condition, create, event, exactly_one_after, nightly, one_schedule, patch_spec};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        orphan_leaves_the_schedule_and_delete_cancels_its_runs,
        adopt_watches_an_existing_schedule_until_approved,
        a_kill_between_intent_and_create_leaves_exactly_one_schedule,
        an_ambiguous_interrupted_create_stalls_until_a_person_resolves_it,
    ]
}

const LONG: Duration = Duration::from_secs(30);

/// Waits until the object is gone from the API server.
async fn gone(ctx: &TestContext, name: &str) -> TestResult {
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for(&format!("{name} gone"), LONG, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(Some(())),
            Some(_) => Err("still there".into()),
        }
    })
    .await
}

/// Waits for the schedule's `Ready` condition to be True.
async fn ready(ctx: &TestContext, name: &str) -> Result<ImmyBotSchedule, String> {
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for(&format!("{name} Ready"), LONG, || async {
        let o = api.get(name).await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some((s, _, _)) if s == "True" => Ok(Some(o)),
            other => Err(format!("Ready {other:?}")),
        }
    })
    .await
}

async fn orphan_leaves_the_schedule_and_delete_cancels_its_runs(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let api = ctx.api::<ImmyBotSchedule>();
    // Orphan: the Kubernetes object goes, ImmyBot's schedule stays as it was.
    create(&ctx, "kept", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    approve(&ctx, "kept", None).await?;
    let kept = one_schedule(&sim, "created", |_| true).await?;
    ready(&ctx, "kept").await?;
    api.delete("kept", &DeleteParams::default()).await.ctx("delete kept")?;
    gone(&ctx, "kept").await?;
    let after = sim.state.schedules();
    if after.len() != 1 || after[0].id != kept.id || after[0].definition != kept.definition {
        return Err(format!("Orphan must leave the schedule as it was: {after:?}"));
    }
    if sim.state.calls().contains_key("DELETE /api/v1/schedules/{scheduleId}") {
        return Err("Orphan sent a DELETE".into());
    }

    // Delete: its running sessions are cancelled, then it is removed. The
    // kiosk (tenant 2) is offline: ApplyOnConnect keeps its session waiting.
    create(
        &ctx,
        "removed",
        nightly(serde_json::json!({"offline": "ApplyOnConnect", "target": {"tenant": {"id": 2}}, "daily": {"time": "21:00"}})),
    )
    .await?;
    approve(&ctx, "removed", None).await?;
    ready(&ctx, "removed").await?;
    patch_spec(&ctx, "carol", "removed", serde_json::json!({"runNow": {"requests": 1}})).await?;
    wait_for("the run going on", LONG, || async {
        let o = api.get("removed").await.map_err(|e| e.to_string())?;
        if o.status.as_ref().is_some_and(|s| s.running) {
            Ok(Some(()))
        } else {
            Err("not running".into())
        }
    })
    .await?;
    let removed_id = api
        .get("removed")
        .await
        .ctx("get")?
        .status
        .and_then(|s| s.schedule_id)
        .ok_or("no id")?;
    api.delete("removed", &DeleteParams::default())
        .await
        .ctx("delete removed")?;
    gone(&ctx, "removed").await?;
    let ids: Vec<i32> = sim.state.schedules().iter().map(|s| s.id).collect();
    if ids != vec![kept.id] || ids.contains(&removed_id) {
        return Err(format!("after Delete, ImmyBot's schedules are {ids:?}"));
    }
    let kiosk: Vec<String> = sim
        .state
        .ledger()
        .into_iter()
        .filter(|e| e.computer_id == 103)
        .map(|e| e.status)
        .collect();
    if kiosk != ["Cancelled"] {
        return Err(format!("the run's waiting session must be cancelled first: {kiosk:?}"));
    }
    Ok(())
}

async fn adopt_watches_an_existing_schedule_until_approved(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // Made by hand in ImmyBot's UI, long before Kubernetes.
    let hand_made = ScheduleDefinition {
        target_type: Some(immybot_client::TargetType::AllForTenant),
        tenant_id: Some(3),
        custom_cron_expression: Some("0 2 * * 6".into()),
        time_zone_info_id: Some("W. Europe Standard Time".into()),
        disabled: Some(false),
        ..Default::default()
    };
    let existing = sim
        .state
        .with_engine(|e, now| e.create_schedule(&hand_made, now))
        .map_err(|e| format!("{e:?}"))?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(
        &ctx,
        "taken",
        nightly(serde_json::json!({
            "target": {"tenant": {"id": 3}},
            "adopt": {"scheduleId": existing.id},
            "deletionPolicy": "Orphan",
        })),
    )
    .await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("adopted, waiting for approval", LONG, || async {
        let o = api.get("taken").await.map_err(|e| e.to_string())?;
        let id = o.status.as_ref().and_then(|s| s.schedule_id);
        match condition(&o, "Ready") {
            Some((s, r, m))
                if id == Some(existing.id)
                    && s == "False"
                    && r == "AwaitingApproval"
                    && m.contains("adopted as it is") =>
            {
                Ok(Some(()))
            }
            other => Err(format!("id {id:?} Ready {other:?}")),
        }
    })
    .await?;
    event(&ctx, "Adopted", &format!("schedule {}", existing.id)).await?;
    let untouched = sim.state.schedules();
    if untouched.len() != 1 || untouched[0].definition != existing.definition {
        return Err(format!("adopting must not change it before approval: {untouched:?}"));
    }
    approve(&ctx, "taken", None).await?;
    one_schedule(&sim, "the adopted schedule replaced by the approved spec", |s| {
        s.id == existing.id && s.definition.custom_cron_expression.as_deref() == Some("30 22 * * *")
    })
    .await?;
    ready(&ctx, "taken").await?;
    if sim.state.calls().contains_key("POST /api/v1/schedules") {
        return Err("adopting must not create".into());
    }
    Ok(())
}

async fn a_kill_between_intent_and_create_leaves_exactly_one_schedule(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterIntent)
        .await?;
    create(&ctx, "intent", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    approve(&ctx, "intent", None).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("the intent recorded", LONG, || async {
        let o = api.get("intent").await.map_err(|e| e.to_string())?;
        match o.status.and_then(|s| s.pending_create) {
            Some(p) => Ok(Some(p)),
            None => Err("no pendingCreate".into()),
        }
    })
    .await?;
    drop(crashing);
    if !sim.state.schedules().is_empty() {
        return Err("the crash point is before the create".into());
    }
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    exactly_one_after(&ctx, &sim, "intent").await?;
    let creates = sim.state.call_count("POST /api/v1/schedules");
    if creates != 1 {
        return Err(format!("{creates} creates after a kill before the create"));
    }
    let st = api.get("intent").await.ctx("get")?.status.unwrap_or_default();
    if st.pending_create.is_some() {
        return Err("the intent must be cleared once the id is recorded".into());
    }
    Ok(())
}

async fn an_ambiguous_interrupted_create_stalls_until_a_person_resolves_it(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // Dies after ImmyBot created the schedule, before its id was recorded.
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterStart)
        .await?;
    create(&ctx, "twice", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    let approved = approve(&ctx, "twice", None).await?;
    let first = one_schedule(&sim, "the first create", |_| true).await?;
    drop(crashing);
    // Meanwhile someone made an identical one by hand.
    let copy = sim
        .state
        .with_engine(|e, now| e.create_schedule(&first.definition, now))
        .map_err(|e| format!("{e:?}"))?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("Stalled AmbiguousCreate naming both", LONG, || async {
        let o = api.get("twice").await.map_err(|e| e.to_string())?;
        match condition(&o, "Stalled") {
            Some((s, r, m))
                if s == "True"
                    && r == "AmbiguousCreate"
                    && m.contains(&format!("{}, {}", first.id, copy.id))
                    && m.contains("spec.adopt.scheduleId") =>
            {
                Ok(Some(()))
            }
            other => Err(format!("Stalled {other:?}, status {:?}", o.status)),
        }
    })
    .await?;
    let creates = sim.state.call_count("POST /api/v1/schedules");
    if creates != 1 || sim.state.schedules().len() != 2 {
        return Err(format!(
            "{creates} creates; nothing more may be created while ambiguous"
        ));
    }
    // The requester keeps the copy. Which ImmyBot schedule is taken over
    // is covered by the approval: naming it revokes the approval, and
    // someone else approves again.
    patch_spec(
        &ctx,
        "alice",
        "twice",
        serde_json::json!({"adopt": {"scheduleId": copy.id}}),
    )
    .await?;
    wait_for("the approval revoked by spec.adopt", LONG, || async {
        let o = api.get("twice").await.map_err(|e| e.to_string())?;
        match condition(&o, "Approved") {
            Some((s, r, _)) if s == "False" && r == "DigestMismatch" => Ok(Some(())),
            other => Err(format!("Approved {other:?}")),
        }
    })
    .await?;
    approve(&ctx, "twice", Some(&approved)).await?;
    let o = ready(&ctx, "twice").await?;
    let st = o.status.unwrap_or_default();
    if st.schedule_id != Some(copy.id) || st.pending_create.is_some() {
        return Err(format!(
            "resolved to {:?}, pending {:?}",
            st.schedule_id, st.pending_create
        ));
    }
    event(&ctx, "FoundAfterInterruptedCreate", &copy.id.to_string()).await
}
