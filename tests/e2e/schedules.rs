//! ImmyBotSchedules against a real API server and the simulator: approval
//! gating, updates, suspend, deletion, drift, a lost create answer, runs.

use std::time::Duration;

use immybot_client::{RebootPreference, Schedule};
use immybot_operator::api::{ImmyBotSchedule, MaintenanceApproval};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{FaultKind, FaultRule, RunningSim};
use kube::ResourceExt as _;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, manual_simulator, simulator, wait_for};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_schedule_waits_for_approval_and_follows_only_approved_changes,
        drift_is_corrected_and_a_deleted_schedule_recreated,
        drift_is_only_reported_under_report,
        a_lost_create_answer_leaves_exactly_one_schedule,
        a_crash_after_the_create_intent_leaves_exactly_one_schedule,
        run_now_runs_once_and_the_run_shows_in_status,
        a_run_immybot_fires_on_its_clock_is_mirrored_in_status,
        next_run_time_follows_cron_across_dst_changes_in_two_zones,
        malformed_schedules_are_refused_at_admission,
        schedules_look_up_tenants_and_their_definitions_once_per_while,
    ]
}

const LONG: Duration = Duration::from_secs(30);

pub fn nightly(extra: serde_json::Value) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "requestedBy": "alice",
        "reason": "CHG-9 nightly patching",
        "target": {"tenant": {"id": 2}},
        "daily": {"time": "22:30"},
        "timeZone": "Europe/Berlin",
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    spec
}

pub async fn create(ctx: &TestContext, name: &str, spec: serde_json::Value) -> Result<ImmyBotSchedule, String> {
    let obj: ImmyBotSchedule = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "ImmyBotSchedule",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .ctx("schedule fixture")?;
    ctx.api_as::<ImmyBotSchedule>("alice")
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create schedule")
}

/// Waits for a status digest other than `not` and approves it as bob.
pub async fn approve(ctx: &TestContext, name: &str, not: Option<&str>) -> Result<String, String> {
    let api = ctx.api::<ImmyBotSchedule>();
    let (uid, digest) = wait_for("a digest to approve", LONG, || async {
        let o = api.get(name).await.map_err(|e| e.to_string())?;
        let d = o.status.as_ref().and_then(|s| s.approval_digest.clone());
        match d {
            Some(d) if Some(d.as_str()) != not => Ok(Some((o.uid().unwrap_or_default(), d))),
            other => Err(format!("digest {other:?}")),
        }
    })
    .await?;
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{name}-{}", rand::random::<u16>())},
        "spec": {"kind": "ImmyBotSchedule", "sessionName": name, "sessionUid": uid, "digest": digest, "approver": "bob"},
    }))
    .ctx("approval fixture")?;
    ctx.api_as::<MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &approval)
        .await
        .ctx("create approval")?;
    Ok(digest)
}

pub fn condition(o: &ImmyBotSchedule, t: &str) -> Option<(String, String, String)> {
    o.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the simulator holds exactly one schedule meeting `want`.
pub async fn one_schedule(sim: &RunningSim, what: &str, want: impl Fn(&Schedule) -> bool) -> Result<Schedule, String> {
    wait_for(what, LONG, || async {
        let all = sim.state.schedules();
        match all.as_slice() {
            [one] if want(one) => Ok(Some(one.clone())),
            _ => Err(format!("ImmyBot's schedules: {all:?}")),
        }
    })
    .await
}

/// Waits until exactly one of ImmyBot's schedules meets `want`.
pub async fn one_schedule_where(
    sim: &RunningSim,
    what: &str,
    want: impl Fn(&Schedule) -> bool,
) -> Result<Schedule, String> {
    wait_for(what, LONG, || async {
        let all = sim.state.schedules();
        let found: Vec<&Schedule> = all.iter().filter(|s| want(s)).collect();
        match found.as_slice() {
            [one] => Ok(Some((*one).clone())),
            _ => Err(format!("ImmyBot's schedules: {all:?}")),
        }
    })
    .await
}

/// Waits for an event with `reason` whose note contains `part`.
pub async fn event(ctx: &TestContext, reason: &str, part: &str) -> TestResult {
    let events = ctx.api::<k8s_openapi::api::events::v1::Event>();
    wait_for(&format!("a {reason} event saying {part:?}"), LONG, || async {
        let list = events.list(&Default::default()).await.map_err(|e| e.to_string())?;
        let found = list
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some(reason) && e.note.as_deref().is_some_and(|n| n.contains(part)));
        if found {
            Ok(Some(()))
        } else {
            Err(format!("no {reason} event"))
        }
    })
    .await
}

pub async fn patch_spec(ctx: &TestContext, user: &str, name: &str, spec: serde_json::Value) -> Result<(), String> {
    ctx.api_as::<ImmyBotSchedule>(user)
        .await?
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": spec})),
        )
        .await
        .map(drop)
        .ctx("patch schedule")
}

async fn a_schedule_waits_for_approval_and_follows_only_approved_changes(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(&ctx, "nightly", nightly(serde_json::json!({}))).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("AwaitingApproval", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some((s, r, m)) if s == "False" && r == "AwaitingApproval" && m.contains("approve schedule/nightly") => {
                Ok(Some(()))
            }
            other => Err(format!("Ready {other:?}")),
        }
    })
    .await?;
    if !sim.state.schedules().is_empty() {
        return Err("a schedule was created before approval".into());
    }
    let first = approve(&ctx, "nightly", None).await?;
    let created = one_schedule(&sim, "the approved schedule", |s| {
        s.definition.custom_cron_expression.as_deref() == Some("30 22 * * *")
            && s.definition.time_zone_info_id.as_deref() == Some("Europe/Berlin")
            && s.definition.tenant_id == Some(2)
            && s.definition.disabled == Some(false)
    })
    .await?;
    let ready = wait_for("Ready with the schedule id and next run", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        let st = o.status.clone().unwrap_or_default();
        match (condition(&o, "Ready"), st.schedule_id, st.next_run_time.is_some()) {
            (Some((s, _, _)), Some(id), true) if s == "True" && id == created.id => Ok(Some(o)),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    let next = ready.status.and_then(|s| s.next_run_time).ok_or("no next run")?;
    let local = next
        .0
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").map_err(|e| e.to_string())?);
    if (local.hour(), local.minute()) != (22, 30) {
        return Err(format!("next run {local} is not 22:30 in Berlin"));
    }
    // A change waits for its own approval; ImmyBot keeps the approved one.
    patch_spec(
        &ctx,
        "alice",
        "nightly",
        serde_json::json!({"daily": {"time": "23:15"}}),
    )
    .await?;
    wait_for("AwaitingApproval for the change", LONG, || async {
        let o = api.get("nightly").await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some((s, r, m)) if s == "False" && r == "AwaitingApproval" && m.contains("previously approved") => {
                Ok(Some(()))
            }
            other => Err(format!("Ready {other:?}")),
        }
    })
    .await?;
    if sim.state.schedules()[0].definition.custom_cron_expression.as_deref() != Some("30 22 * * *") {
        return Err("an unapproved change reached ImmyBot".into());
    }
    approve(&ctx, "nightly", Some(&first)).await?;
    one_schedule(&sim, "the approved change", |s| {
        s.id == created.id && s.definition.custom_cron_expression.as_deref() == Some("15 23 * * *")
    })
    .await?;
    // Suspend needs no approval.
    patch_spec(&ctx, "carol", "nightly", serde_json::json!({"suspend": true})).await?;
    one_schedule(&sim, "the schedule disabled", |s| s.definition.disabled == Some(true)).await?;
    // Deletion (policy Delete) removes it from ImmyBot.
    api.delete("nightly", &DeleteParams::default()).await.ctx("delete")?;
    wait_for("the ImmyBot schedule deleted", LONG, || async {
        let gone =
            sim.state.schedules().is_empty() && api.get_opt("nightly").await.map_err(|e| e.to_string())?.is_none();
        if gone { Ok(Some(())) } else { Err("still there".into()) }
    })
    .await
}

async fn drift_is_corrected_and_a_deleted_schedule_recreated(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(
        &ctx,
        "drifting",
        nightly(serde_json::json!({"deletionPolicy": "Orphan"})),
    )
    .await?;
    approve(&ctx, "drifting", None).await?;
    let s = one_schedule(&sim, "created", |_| true).await?;
    // Someone changes the reboot policy in ImmyBot.
    let mut changed = s.definition.clone();
    changed.reboot_preference = Some(RebootPreference::Force);
    sim.state
        .with_engine(|e, now| e.update_schedule(s.id, &changed, now))
        .map_err(|e| format!("{e:?}"))?;
    one_schedule(&sim, "the reboot policy put back", |x| {
        x.id == s.id && x.definition.reboot_preference == Some(RebootPreference::Normal)
    })
    .await?;
    event(&ctx, "DriftCorrected", "rebootPreference").await?;
    // Deleted in ImmyBot: recreated from the approved definition.
    sim.state
        .with_engine(|e, _| e.delete_schedule(s.id))
        .map_err(|e| format!("{e:?}"))?;
    let again = one_schedule(&sim, "recreated", |x| x.id != s.id).await?;
    if again.definition.custom_cron_expression.as_deref() != Some("30 22 * * *") {
        return Err(format!("recreated wrongly: {again:?}"));
    }
    Ok(())
}

async fn drift_is_only_reported_under_report(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(
        &ctx,
        "watched",
        nightly(serde_json::json!({"driftPolicy": "Report", "deletionPolicy": "Orphan"})),
    )
    .await?;
    approve(&ctx, "watched", None).await?;
    let s = one_schedule(&sim, "created", |_| true).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("Ready", LONG, || async {
        let o = api.get("watched").await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some((st, _, _)) if st == "True" => Ok(Some(())),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    let mut changed = s.definition.clone();
    changed.custom_cron_expression = Some("0 3 * * *".into());
    sim.state
        .with_engine(|e, now| e.update_schedule(s.id, &changed, now))
        .map_err(|e| format!("{e:?}"))?;
    wait_for("Drifted naming customCronExpression", LONG, || async {
        let o = api.get("watched").await.map_err(|e| e.to_string())?;
        match condition(&o, "Drifted") {
            Some((st, _, m)) if st == "True" && m.contains("customCronExpression") => Ok(Some(())),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    if sim.state.schedules()[0].definition.custom_cron_expression.as_deref() != Some("0 3 * * *") {
        return Err("Report corrected the drift".into());
    }
    Ok(())
}

pub async fn exactly_one_after(ctx: &TestContext, sim: &RunningSim, name: &str) -> TestResult {
    let s = one_schedule(sim, "one schedule", |_| true).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    wait_for("the schedule id recorded", LONG, || async {
        let o = api.get(name).await.map_err(|e| e.to_string())?;
        match o.status.and_then(|st| st.schedule_id) {
            Some(id) if id == s.id => Ok(Some(())),
            other => Err(format!("scheduleId {other:?}")),
        }
    })
    .await?;
    // Settled: still one, for a few reconciles more.
    let calls_before = sim.state.call_count("GET /api/v1/schedules/{scheduleId}");
    wait_for("more reconciles", LONG, || async {
        let now = sim.state.call_count("GET /api/v1/schedules/{scheduleId}");
        if now >= calls_before + 3 {
            Ok(Some(()))
        } else {
            Err(format!("{now}"))
        }
    })
    .await?;
    let n = sim.state.schedules().len();
    if n != 1 {
        return Err(format!("{n} ImmyBot schedules"));
    }
    Ok(())
}

async fn a_lost_create_answer_leaves_exactly_one_schedule(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    sim.state.add_fault(FaultRule {
        route: "POST /api/v1/schedules".into(),
        fault: FaultKind::DropResponse,
        times: Some(1),
        probability: None,
    });
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(&ctx, "lost", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    approve(&ctx, "lost", None).await?;
    exactly_one_after(&ctx, &sim, "lost").await?;
    let creates = sim.state.call_count("POST /api/v1/schedules");
    if creates != 1 {
        return Err(format!(
            "{creates} create calls; the lost answer must be found, not retried"
        ));
    }
    Ok(())
}

async fn a_crash_after_the_create_intent_leaves_exactly_one_schedule(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // The first controller "dies" after ImmyBot created the schedule and
    // before the id was recorded; a second one takes over.
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterStart)
        .await?;
    create(
        &ctx,
        "crashed",
        nightly(serde_json::json!({"deletionPolicy": "Orphan"})),
    )
    .await?;
    approve(&ctx, "crashed", None).await?;
    one_schedule(&sim, "the first create", |_| true).await?;
    drop(crashing);
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    exactly_one_after(&ctx, &sim, "crashed").await?;
    event(&ctx, "FoundAfterInterruptedCreate", "").await
}

async fn run_now_runs_once_and_the_run_shows_in_status(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(&ctx, "now", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    approve(&ctx, "now", None).await?;
    one_schedule(&sim, "created", |_| true).await?;
    // Anyone with edit rights may ask for a run (a control, like retry).
    patch_spec(&ctx, "carol", "now", serde_json::json!({"runNow": {"requests": 1}})).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    let done = wait_for("the run in status", LONG, || async {
        let o = api.get("now").await.map_err(|e| e.to_string())?;
        let st = o.status.clone().unwrap_or_default();
        match st.last_run {
            Some(r) if r.result != "Running" && r.computers > 0 && st.run_now_handled == 1 => Ok(Some(r)),
            other => Err(format!("last run {other:?}")),
        }
    })
    .await?;
    let ledger = sim.state.ledger();
    let tenant_computers = ledger.iter().filter(|e| e.tenant_id == 2).count();
    if tenant_computers == 0 || done.computers as usize != tenant_computers {
        return Err(format!(
            "run shows {} computers, ImmyBot ran {tenant_computers}: {done:?}",
            done.computers
        ));
    }
    if done.passed + done.failed + done.missed != done.computers {
        return Err(format!("counts do not add up: {done:?}"));
    }
    // Once only.
    let runs = sim.state.call_count("POST /api/v1/schedules/{scheduleId}/run-now");
    if runs != 1 {
        return Err(format!("{runs} run-now calls for one request"));
    }
    Ok(())
}

async fn a_run_immybot_fires_on_its_clock_is_mirrored_in_status(ctx: TestContext) -> TestResult {
    // ImmyBot's clock moves only when the test says: the schedule fires at
    // its 22:30 Berlin, not when the operator asks.
    let sim = manual_simulator(crate::harness::fleet()).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create(&ctx, "fired", nightly(serde_json::json!({"deletionPolicy": "Orphan"}))).await?;
    approve(&ctx, "fired", None).await?;
    one_schedule(&sim, "created", |_| true).await?;
    let api = ctx.api::<ImmyBotSchedule>();
    let next = wait_for("the next run time", LONG, || async {
        let o = api.get("fired").await.map_err(|e| e.to_string())?;
        Ok(o.status.and_then(|s| s.next_run_time).map(|t| t.0))
    })
    .await?;
    if !sim.state.ledger().is_empty() {
        return Err("nothing may run before the schedule's time".into());
    }
    // To the next run: ImmyBot fires the schedule (its sessions queued).
    let to_fire = next.duration_since(sim.state.now());
    sim.state
        .advance(Duration::try_from(to_fire).map_err(|e| e.to_string())?);
    let fired = sim.state.ledger();
    if fired.is_empty() || fired.iter().any(|e| e.tenant_id != 2) {
        return Err(format!("the schedule must fire tenant 2's computers: {fired:?}"));
    }
    wait_for("the run shown as running", LONG, || async {
        let o = api.get("fired").await.map_err(|e| e.to_string())?;
        match o.status.and_then(|s| s.last_run) {
            Some(r) if r.result == "Running" && r.computers as usize == fired.len() => Ok(Some(())),
            other => Err(format!("last run {other:?}")),
        }
    })
    .await?;
    // An hour later every session has ended.
    sim.state.advance(Duration::from_secs(3600));
    let run = wait_for("the run's outcome", LONG, || async {
        let o = api.get("fired").await.map_err(|e| e.to_string())?;
        let st = o.status.unwrap_or_default();
        match st.last_run {
            Some(r) if r.result != "Running" && r.end_time.is_some() && st.runs.len() == 1 => Ok(Some(r)),
            other => Err(format!("last run {other:?}, runs {}", st.runs.len())),
        }
    })
    .await?;
    let ended: Vec<String> = sim.state.ledger().into_iter().map(|e| e.status).collect();
    let count = |status: &str| ended.iter().filter(|s| *s == status).count() as i32;
    let (passed, missed) = (count("Passed"), count("Missed"));
    let failed = ended.len() as i32 - passed - missed;
    if run.computers as usize != ended.len()
        || (run.passed, run.failed, run.missed, run.running) != (passed, failed, missed, 0)
        || failed == 0
    {
        return Err(format!("run {run:?} does not match ImmyBot's sessions {ended:?}"));
    }
    if run.result != "PartiallySucceeded" || !run.worst.iter().any(|c| c.computer_id == 102) {
        return Err(format!("FINANCE-LT01's failure must show: {run:?}"));
    }
    let start = run.start_time.ok_or("no start")?.0;
    let local = start.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").map_err(|e| e.to_string())?);
    if (local.hour(), local.minute()) != (22, 30) {
        return Err(format!(
            "the run started at {local}, not at the schedule's 22:30 Berlin"
        ));
    }
    Ok(())
}

/// The next daylight-saving changes of two zones from now (whatever the
/// date the test runs), each with a schedule at half past the first hour of
/// the gap or of the repeated hour: a skipped time runs once at the gap's
/// end plus the same minutes (02:30 becomes 03:30), a repeated one runs
/// once, at its first occurrence (as cron(8), see docs/schedules.md).
async fn next_run_time_follows_cron_across_dst_changes_in_two_zones(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let now = jiff::Timestamp::now();
    let half_hour = jiff::SignedDuration::from_mins(30);
    let mut cases = Vec::new();
    for zone in ["Europe/Berlin", "America/New_York"] {
        let tz = jiff::tz::TimeZone::get(zone).map_err(|e| e.to_string())?;
        for transition in tz.following(now).take(2) {
            let at = transition.timestamp();
            let before = tz.to_offset(at - jiff::SignedDuration::from_secs(1));
            let after = transition.offset();
            let spring = after > before;
            // Half past the first local hour that is skipped or repeated.
            let local = at
                .to_zoned(jiff::tz::TimeZone::fixed(if spring { before } else { after }))
                .datetime()
                + half_hour;
            let cron = format!(
                "{} {} {} {} *",
                local.minute(),
                local.hour(),
                local.day(),
                local.month()
            );
            let expected = if spring { at + half_hour } else { at - half_hour };
            let name = format!(
                "dst-{}-{}",
                zone.to_lowercase().replace(['/', '_'], "-"),
                if spring { "spring" } else { "fall" }
            );
            create(
                &ctx,
                &name,
                nightly(serde_json::json!({"daily": null, "cron": cron, "timeZone": zone,
                    "target": {"computer": {"id": 101}}, "deletionPolicy": "Orphan"})),
            )
            .await?;
            cases.push((name, cron, zone, expected));
        }
    }
    let api = ctx.api::<ImmyBotSchedule>();
    for (name, cron, zone, expected) in &cases {
        approve(&ctx, name, None).await?;
        let got = wait_for(&format!("{name}'s next run"), LONG, || async {
            let o = api.get(name).await.map_err(|e| e.to_string())?;
            Ok(o.status.and_then(|s| s.next_run_time).map(|t| t.0))
        })
        .await?;
        if got != *expected {
            return Err(format!(
                "{cron} in {zone}: next run {got} ({}), expected {expected} ({})",
                got.to_zoned(jiff::tz::TimeZone::get(zone).map_err(|e| e.to_string())?),
                expected.to_zoned(jiff::tz::TimeZone::get(zone).map_err(|e| e.to_string())?),
            ));
        }
    }
    let springs = cases.iter().filter(|c| c.0.ends_with("spring")).count();
    if cases.len() != 4 || springs != 2 {
        return Err(format!("expected a spring and a fall change per zone: {cases:?}"));
    }
    Ok(())
}

async fn malformed_schedules_are_refused_at_admission(ctx: TestContext) -> TestResult {
    for (name, spec, says) in [
        (
            "every-five",
            nightly(serde_json::json!({"daily": null, "cron": "*/5 * * * *"})),
            "at most once a day",
        ),
        (
            "two-whens",
            nightly(serde_json::json!({"cron": "0 3 * * *"})),
            "exactly one of daily, weekly, monthly or cron",
        ),
        (
            "bad-time",
            nightly(serde_json::json!({"daily": {"time": "25:00"}})),
            "spec.daily.time",
        ),
        (
            "no-target",
            nightly(serde_json::json!({"target": {"deviceFilter": "All"}})),
            "exactly one of computer or tenant",
        ),
        (
            "day-31",
            nightly(serde_json::json!({"daily": null, "monthly": {"day": 31, "time": "01:00"}})),
            "spec.monthly.day",
        ),
    ] {
        match create(&ctx, name, spec).await {
            Ok(_) => return Err(format!("{name} was admitted")),
            Err(e) if e.contains(says) => {}
            Err(e) => return Err(format!("{name}: the refusal does not say {says:?}: {e}")),
        }
    }
    Ok(())
}

/// Four schedules by tenant name, reconciled every half second (the test
/// timing's idle interval): the tenant list is asked once per five minutes
/// and each schedule's definition once per five seconds, not once per
/// reconcile each (an acceptance run of five minutes with four schedules
/// made 164 tenant look-ups and 148 schedule reads).
async fn schedules_look_up_tenants_and_their_definitions_once_per_while(ctx: TestContext) -> TestResult {
    const TENANTS: &str = "GET /api/v1/tenants";
    const SCHEDULE: &str = "GET /api/v1/schedules/{scheduleId}";
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let names = ["Fabrikam", "Northwind", "Woodgrove", "Tailspin"];
    for (i, tenant) in names.iter().enumerate() {
        let name = format!("nightly-{i}");
        create(
            &ctx,
            &name,
            nightly(serde_json::json!({"target": {"tenant": {"name": tenant}}, "deletionPolicy": "Orphan"})),
        )
        .await?;
        approve(&ctx, &name, None).await?;
    }
    wait_for("four schedules in ImmyBot", LONG, || async {
        let n = sim.state.schedules().len();
        Ok((n == 4).then_some(()))
    })
    .await?;
    // The running-schedule ids are asked by (nearly) every reconcile (they
    // are reused for only a tenth of a second here): how the window shows
    // the controller was at work, whatever the machine's load.
    const RUNNING: &str = "GET /api/v1/schedules/running-schedule-ids";
    let count = || {
        (
            sim.state.call_count(TENANTS),
            sim.state.call_count(SCHEDULE),
            sim.state.call_count(RUNNING),
        )
    };
    let before = count();
    let window = Duration::from_secs(6);
    tokio::time::sleep(window).await;
    let after = count();
    let (tenants, reads, reconciles) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    eprintln!(
        "in {window:?}: {tenants} tenant look-ups, {reads} schedule reads for 4 schedules, {reconciles} running-id calls"
    );
    if reconciles < 4 {
        return Err(format!(
            "the controller barely worked in the window ({reconciles} reconciles seen): nothing measured"
        ));
    }
    // Each schedule reconciles about 12 times in the window; its definition
    // is reused for 5 s, so read at most twice.
    if tenants > 1 || reads > 4 * 2 {
        return Err(format!(
            "in {window:?}, {tenants} tenant look-ups (at most 1) and {reads} schedule reads (at most 8)"
        ));
    }
    Ok(())
}
