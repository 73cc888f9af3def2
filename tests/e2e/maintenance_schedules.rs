//! MaintenanceSchedule on the real API server (with the admission
//! policies) and the simulator, with the controller's clock moved by the
//! test: cron firing across a daylight-saving change, the starting
//! deadline, the concurrency policies, per-run and standing approval (and
//! its revocation by a template change), history pruning, and a controller
//! killed between creating a run and recording it.

use std::sync::Arc;
use std::time::Duration;

use immybot_operator::api::{MaintenanceApproval, MaintenanceSchedule, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, Clock, CrashPoint};
use jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{ListParams, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::approve;

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_schedule_fires_at_its_wall_time_across_dst_and_each_run_needs_its_own_approval,
        forbid_replace_and_allow_decide_what_a_due_run_does_to_active_ones,
        a_standing_approval_starts_runs_until_the_template_changes,
        a_run_above_the_standing_approvals_count_waits_for_its_own_approval,
        a_controller_killed_after_creating_a_run_never_creates_it_twice,
        schedules_that_cannot_run_are_reported
    ]
}

const LONG: Duration = Duration::from_secs(60);

fn at(s: &str) -> Result<Timestamp, String> {
    s.parse().map_err(|e| format!("{s}: {e}"))
}

/// The top of the hour at least `hours` after the real now (so after the
/// schedule's creation, whatever the test's clock says).
fn hour_after(hours: i64) -> Result<Timestamp, String> {
    let now = Timestamp::now().as_second();
    Timestamp::from_second((now / 3600 + hours) * 3600).ctx("time")
}

fn plus(t: Timestamp, secs: i64) -> Result<Timestamp, String> {
    t.checked_add(jiff::SignedDuration::from_secs(secs)).ctx("time")
}

async fn create_schedule(
    ctx: &TestContext,
    name: &str,
    spec: serde_json::Value,
) -> Result<MaintenanceSchedule, String> {
    let obj: MaintenanceSchedule = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
        "metadata": {"name": name}, "spec": spec,
    }))
    .ctx("schedule fixture")?;
    ctx.api_as::<MaintenanceSchedule>(&obj.spec.requested_by)
        .await?
        .create(&PostParams::default(), &obj)
        .await
        .ctx("create schedule")
}

/// An hourly schedule in UTC for one computer, requested by alice.
fn hourly(computer: i32, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "requestedBy": "alice", "schedule": "0 * * * *", "startingDeadlineSeconds": 600,
        "sessionTemplate": {
            "metadata": {"labels": {"team": "service-desk"}},
            "spec": {"target": {"computer": {"id": computer}}, "reason": "CHG-70 hourly"}
        },
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    spec
}

/// The schedule's runs, oldest first.
async fn runs(ctx: &TestContext, schedule: &str) -> Result<Vec<MaintenanceSession>, String> {
    let mut list = ctx
        .api::<MaintenanceSession>()
        .list(&ListParams::default().labels(&format!("immybot.io/schedule={schedule}")))
        .await
        .ctx("list runs")?
        .items;
    list.sort_by_key(|s| s.spec.scheduled_by.as_ref().map(|b| b.scheduled_time.0));
    Ok(list)
}

/// Waits until the schedule's runs are exactly those of `times` (by name).
async fn wait_runs(ctx: &TestContext, schedule: &str, times: &[Timestamp]) -> Result<Vec<MaintenanceSession>, String> {
    let want: Vec<String> = times
        .iter()
        .map(|t| format!("{schedule}-{}", t.as_second() / 60))
        .collect();
    wait_for(&format!("runs {want:?} of {schedule}"), LONG, || async {
        let got = runs(ctx, schedule).await?;
        let names: Vec<String> = got
            .iter()
            .filter(|s| s.metadata.deletion_timestamp.is_none())
            .map(|s| s.name_any())
            .collect();
        if names == want {
            Ok(Some(got))
        } else {
            Err(format!("runs {names:?}"))
        }
    })
    .await
}

async fn wait_schedule(
    ctx: &TestContext,
    name: &str,
    what: &str,
    ok: impl Fn(&MaintenanceSchedule) -> bool,
) -> Result<MaintenanceSchedule, String> {
    let api = ctx.api::<MaintenanceSchedule>();
    wait_for(&format!("{name}: {what}"), LONG, || async {
        let s = api.get(name).await.ctx("get schedule")?;
        if ok(&s) {
            Ok(Some(s))
        } else {
            Err(format!("status {:?}", s.status))
        }
    })
    .await
}

fn condition<'a>(
    s: &'a MaintenanceSchedule,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    s.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

fn reason_is(type_: &'static str, reason: &'static str) -> impl Fn(&MaintenanceSchedule) -> bool {
    move |s| condition(s, type_).is_some_and(|c| c.reason == reason)
}

async fn a_schedule_fires_at_its_wall_time_across_dst_and_each_run_needs_its_own_approval(
    ctx: TestContext,
) -> TestResult {
    let sim = simulator(100).await?;
    let clock = Arc::new(Clock::default());
    // Berlin springs forward on 28 March 2027: 02:30 does not exist and
    // runs once at 03:30 CEST, 01:30 UTC. A minute before, the previous
    // day's run is far past its deadline: missed, nothing created.
    clock.set(at("2027-03-28T01:29:00Z")?);
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    create_schedule(
        &ctx,
        "nightly",
        serde_json::json!({
            "requestedBy": "alice", "schedule": "30 2 * * *", "timeZone": "Europe/Berlin",
            "startingDeadlineSeconds": 300,
            "sessionTemplate": {"spec": {"target": {"computer": {"id": 101}}, "reason": "CHG-70 nightly"}},
        }),
    )
    .await?;
    let missed = wait_schedule(
        &ctx,
        "nightly",
        "the previous night missed",
        reason_is("Ready", "MissedSchedule"),
    )
    .await?;
    let st = missed.status.clone().unwrap_or_default();
    if st.next_schedule_time.as_ref().map(|t| t.0) != Some(at("2027-03-28T01:30:00Z")?)
        || !runs(&ctx, "nightly").await?.is_empty()
    {
        return Err(format!("expected no run and the next at 01:30Z, got {st:?}"));
    }
    if let Some(ready) = condition(&missed, "Ready")
        && !ready.message.contains("2027-03-27T01:30:00Z")
    {
        return Err(format!("the message names the missed time: {}", ready.message));
    }

    clock.set(at("2027-03-28T01:30:05Z")?);
    let created = wait_runs(&ctx, "nightly", &[at("2027-03-28T01:30:00Z")?]).await?;
    let run = &created[0];
    let by = run.spec.scheduled_by.clone().ok_or("the run names its schedule")?;
    let owner = run.owner_references().first().cloned().ok_or("the run is owned")?;
    let schedule = ctx.api::<MaintenanceSchedule>().get("nightly").await.ctx("get")?;
    if by.schedule != "nightly"
        || by.requested_by != "alice"
        || owner.uid != schedule.uid().unwrap_or_default()
        || owner.controller != Some(true)
        || run.spec.requested_by == "alice"
    {
        return Err(format!("run {:?} / {:?}", run.spec, run.metadata.owner_references));
    }
    let recorded = wait_schedule(&ctx, "nightly", "the run recorded", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.active_count == 1 && st.last_schedule_time.is_some())
    })
    .await?;
    let st = recorded.status.unwrap_or_default();
    // The next night is summer time: 02:30 CEST is 00:30 UTC.
    if st.last_schedule_time.map(|t| t.0) != Some(at("2027-03-28T01:30:00Z")?)
        || st.next_schedule_time.map(|t| t.0) != Some(at("2027-03-29T00:30:00Z")?)
    {
        return Err("last and next schedule times".into());
    }
    // The run waits for its own approval, and the schedule's requester
    // cannot give it.
    let name = run.name_any();
    approve(&ctx, &name, "alice").await?;
    wait_for("alice's approval refused", LONG, || async {
        let s = ctx.api::<MaintenanceSession>().get(&name).await.ctx("get run")?;
        let c = s
            .status
            .unwrap_or_default()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Approved");
        Ok(c.filter(|c| c.reason == "SelfApproval").map(|_| ()))
    })
    .await?;
    if !sim.state.ledger().is_empty() {
        return Err("nothing may start before a valid approval".into());
    }
    approve(&ctx, &name, "bob").await?;
    ctx.wait_phase(&name, Phase::Succeeded, LONG).await?;
    let ledger = sim.state.ledger();
    if ledger.len() != 1 || ledger[0].computer_id != 101 {
        return Err(format!("one session for 101: {ledger:?}"));
    }
    let done = wait_schedule(&ctx, "nightly", "the last run recorded", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.last_run.as_ref().is_some_and(|r| r.phase == Some(Phase::Succeeded)))
    })
    .await?;
    let st = done.status.unwrap_or_default();
    if st.active_count != 0 || st.last_successful_time.is_none() {
        return Err(format!("after the run: {st:?}"));
    }
    Ok(())
}

async fn forbid_replace_and_allow_decide_what_a_due_run_does_to_active_ones(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let clock = Arc::new(Clock::default());
    let (h1, h2) = (hour_after(3)?, hour_after(4)?);
    clock.set(plus(h1, 5)?);
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    for (name, policy) in [("forbid", "Forbid"), ("replace", "Replace"), ("allow", "Allow")] {
        create_schedule(
            &ctx,
            name,
            hourly(101, serde_json::json!({"concurrencyPolicy": policy})),
        )
        .await?;
    }
    // Each creates its first run; none is approved, so each stays active.
    for name in ["forbid", "replace", "allow"] {
        wait_runs(&ctx, name, &[h1]).await?;
    }
    clock.set(plus(h2, 5)?);
    wait_runs(&ctx, "allow", &[h1, h2]).await?;
    wait_runs(&ctx, "replace", &[h2]).await?;
    let skipped = wait_schedule(
        &ctx,
        "forbid",
        "the second run skipped",
        reason_is("Ready", "RunSkipped"),
    )
    .await?;
    let message = condition(&skipped, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    if !message.contains(&format!("forbid-{}", h1.as_second() / 60)) {
        return Err(format!("the message names the active run: {message}"));
    }
    if runs(&ctx, "forbid").await?.len() != 1 {
        return Err("Forbid creates nothing while a run is active".into());
    }
    if !sim.state.ledger().is_empty() {
        return Err("no run was approved: nothing may reach ImmyBot".into());
    }
    Ok(())
}

async fn a_standing_approval_starts_runs_until_the_template_changes(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let clock = Arc::new(Clock::default());
    let (h1, h2, h3) = (hour_after(3)?, hour_after(4)?, hour_after(5)?);
    clock.set(plus(h1, -1800)?);
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    create_schedule(
        &ctx,
        "hourly",
        hourly(101, serde_json::json!({"successfulRunsHistoryLimit": 1})),
    )
    .await?;
    let waiting = wait_schedule(&ctx, "hourly", "its template digest", |s| {
        s.status.as_ref().is_some_and(|st| st.template_digest.is_some())
    })
    .await?;
    let digest = waiting.status.and_then(|s| s.template_digest).ok_or("digest")?;
    let uid = waiting.metadata.uid.clone().ok_or("uid")?;
    let standing = |approver: &str, expires: Option<Timestamp>| {
        let mut spec = serde_json::json!({"kind": "MaintenanceSchedule", "sessionName": "hourly", "sessionUid": uid,
                                          "digest": digest, "approver": approver});
        if let Some(t) = expires {
            spec["expiresAt"] = t.to_string().into();
        }
        serde_json::from_value::<MaintenanceApproval>(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
            "metadata": {"name": format!("hourly-{approver}")}, "spec": spec,
        }))
        .ctx("approval fixture")
    };
    // A standing approval must expire.
    let refused = ctx
        .api_as::<MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &standing("bob", None)?)
        .await;
    match refused {
        Err(kube::Error::Api(s)) if s.message.contains("must expire") => {}
        other => {
            return Err(format!(
                "a standing approval without expiresAt must be refused: {other:?}"
            ));
        }
    }
    // The requester cannot approve her own template.
    ctx.api_as::<MaintenanceApproval>("alice")
        .await?
        .create(&PostParams::default(), &standing("alice", Some(plus(h1, 86_400)?))?)
        .await
        .ctx("alice's approval")?;
    wait_schedule(
        &ctx,
        "hourly",
        "alice's standing approval refused",
        reason_is("StandingApproval", "SelfApproval"),
    )
    .await?;
    ctx.api_as::<MaintenanceApproval>("bob")
        .await?
        .create(&PostParams::default(), &standing("bob", Some(plus(h1, 86_400)?))?)
        .await
        .ctx("bob's approval")?;
    wait_schedule(&ctx, "hourly", "bob's standing approval", |s| {
        condition(s, "StandingApproval").is_some_and(|c| c.status == "True")
    })
    .await?;

    // Two runs start by themselves; the first is pruned (limit 1).
    clock.set(plus(h1, 5)?);
    let first = wait_runs(&ctx, "hourly", &[h1]).await?.remove(0).name_any();
    let done = ctx.wait_phase(&first, Phase::Succeeded, LONG).await?;
    let record = done.status.and_then(|s| s.approval).ok_or("approval record")?;
    if record.method != "StandingApproval" || record.approved_by != "bob" {
        return Err(format!("approval record {record:?}"));
    }
    clock.set(plus(h2, 5)?);
    let second = format!("hourly-{}", h2.as_second() / 60);
    ctx.wait_phase(&second, Phase::Succeeded, LONG).await?;
    wait_runs(&ctx, "hourly", &[h2]).await?;
    if sim.state.ledger().len() != 2 {
        return Err(format!("two sessions, ledger {:?}", sim.state.ledger()));
    }

    // Someone else may not change what the approval covers...
    let change = serde_json::json!({"spec": {"sessionTemplate": {"spec": {"reboot": {"policy": "Always"}}}}});
    let by_carol = ctx
        .api_as::<MaintenanceSchedule>("carol")
        .await?
        .patch("hourly", &PatchParams::default(), &Patch::Merge(&change))
        .await;
    if by_carol.is_ok() {
        return Err("only the requester may change the template".into());
    }
    // ...and the requester's change revokes it: the next run waits.
    ctx.api_as::<MaintenanceSchedule>("alice")
        .await?
        .patch("hourly", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .ctx("alice changes the template")?;
    wait_schedule(
        &ctx,
        "hourly",
        "the standing approval revoked",
        reason_is("StandingApproval", "DigestMismatch"),
    )
    .await?;
    clock.set(plus(h3, 5)?);
    let third = format!("hourly-{}", h3.as_second() / 60);
    ctx.wait_phase(&third, Phase::AwaitingApproval, LONG).await?;
    if sim.state.ledger().len() != 2 {
        return Err("a run of the changed template must not start on the old approval".into());
    }
    Ok(())
}

/// A standing approval of a tenant names the most computers a run may
/// start (kubectl immybot approve --max-computers); a run of Fabrikam's 3
/// computers under a standing approval of 2 waits until someone approves
/// that run, then starts each computer once.
async fn a_run_above_the_standing_approvals_count_waits_for_its_own_approval(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let clock = Arc::new(Clock::default());
    let h1 = hour_after(3)?;
    clock.set(plus(h1, -1800)?);
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    let mut spec = hourly(101, serde_json::json!({}));
    spec["sessionTemplate"]["spec"]["target"] = serde_json::json!({"tenant": {"id": 2}});
    create_schedule(&ctx, "fabrikam", spec).await?;
    wait_schedule(&ctx, "fabrikam", "its template digest", |s| {
        s.status.as_ref().is_some_and(|st| st.template_digest.is_some())
    })
    .await?;
    let approve = [
        "approve",
        "maintenanceschedule/fabrikam",
        "--expires-in",
        "48h",
        "--yes",
    ];
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &approve, None).await?;
    if ok || !out.contains("--max-computers") {
        return Err(format!("a standing approval of a tenant must name its count: {out}"));
    }
    let capped: Vec<&str> = approve.iter().copied().chain(["--max-computers", "2"]).collect();
    let (ok, out) = crate::plugin::plugin(&ctx, "bob", &capped, None).await?;
    if !ok || !out.contains("at most 2 computer(s) per run") {
        return Err(format!("bob's standing approval of at most 2: {out}"));
    }
    wait_schedule(&ctx, "fabrikam", "bob's standing approval", |s| {
        condition(s, "StandingApproval").is_some_and(|c| c.status == "True")
    })
    .await?;
    clock.set(plus(h1, 5)?);
    let run = wait_runs(&ctx, "fabrikam", &[h1]).await?.remove(0).name_any();
    let held = ctx
        .wait_session(&run, "the run to wait for its own approval", LONG, |o| {
            o.status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .any(|c| c.reason == "BlastRadiusGrew")
        })
        .await?;
    let st = held.status.unwrap_or_default();
    let record = st.approval.clone().ok_or("approval record")?;
    if record.method != "StandingApproval"
        || record.computers != Some(2)
        || st.blast_radius.map(|b| b.computers) != Some(3)
        || !sim.state.ledger().is_empty()
    {
        return Err(format!(
            "the standing approval of 2 holds the 3-computer run: {record:?}, ledger {:?}",
            sim.state.ledger()
        ));
    }
    // carol approves this run for the 3 it counted.
    let (ok, out) = crate::plugin::plugin(&ctx, "carol", &["approve", &run, "--yes"], None).await?;
    if !ok || !out.contains("3 computers") {
        return Err(format!("carol approves the run's 3 computers: {out}"));
    }
    // Fabrikam's own computers end as they do (one partial, one offline).
    let done = ctx
        .wait_session(&run, "the run to end", LONG, |o| {
            o.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final)
        })
        .await?;
    let record = done.status.and_then(|s| s.approval).ok_or("approval record")?;
    let mut started: Vec<i32> = sim.state.ledger().iter().map(|e| e.computer_id).collect();
    started.sort_unstable();
    if record.approved_by != "carol" || started.len() != 3 || started.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!(
            "carol's approval starts each of the 3 once: {record:?}, {started:?}"
        ));
    }
    Ok(())
}

async fn a_controller_killed_after_creating_a_run_never_creates_it_twice(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let clock = Arc::new(Clock::default());
    let h1 = hour_after(3)?;
    clock.set(plus(h1, 5)?);
    let crashing = ctx
        .controller_with_clock(
            &sim,
            ApprovalPolicy::default(),
            CrashPoint::AfterRunCreated,
            clock.clone(),
        )
        .await?;
    create_schedule(&ctx, "hourly", hourly(101, serde_json::json!({}))).await?;
    wait_runs(&ctx, "hourly", &[h1]).await?;
    crashing.stop().await;
    let before = ctx.api::<MaintenanceSchedule>().get("hourly").await.ctx("get")?;
    if before
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .is_some()
    {
        return Err("the crash point must leave the run unrecorded".into());
    }
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    wait_schedule(&ctx, "hourly", "the run recorded by the next controller", |s| {
        s.status
            .as_ref()
            .and_then(|st| st.last_schedule_time.as_ref())
            .map(|t| t.0)
            == Some(h1)
    })
    .await?;
    let all = runs(&ctx, "hourly").await?;
    if all.len() != 1 {
        return Err(format!(
            "one run, got {:?}",
            all.iter().map(|r| r.name_any()).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

async fn schedules_that_cannot_run_are_reported(ctx: TestContext) -> TestResult {
    let sim = simulator(100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_schedule(
        &ctx,
        "bad-cron",
        hourly(101, serde_json::json!({"schedule": "0 25 * * *"})),
    )
    .await?;
    let stalled = wait_schedule(&ctx, "bad-cron", "Stalled", reason_is("Stalled", "InvalidSchedule")).await?;
    let message = condition(&stalled, "Stalled")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    if !message.contains("0 25 * * *") {
        return Err(format!("the message quotes the schedule: {message}"));
    }
    crate::kstatus::capture(&stalled, "maintenanceschedule-stalled")?;
    create_schedule(&ctx, "paused", hourly(101, serde_json::json!({"suspend": true}))).await?;
    let paused = wait_schedule(&ctx, "paused", "Suspended", reason_is("Ready", "Suspended")).await?;
    crate::kstatus::capture(&paused, "maintenanceschedule-suspended")?;
    create_schedule(&ctx, "fine", hourly(101, serde_json::json!({}))).await?;
    let fine = wait_schedule(&ctx, "fine", "Scheduled", reason_is("Ready", "Scheduled")).await?;
    crate::kstatus::capture(&fine, "maintenanceschedule-scheduled")?;
    // What Flux's kstatus makes of them: a stalled schedule fails a
    // Kustomization's wait, a running or suspended one is current.
    for (obj, expected) in [(&stalled, "Failed"), (&paused, "Current"), (&fine, "Current")] {
        let got = crate::kstatus::kstatus(obj)?;
        if got.split_whitespace().nth(1) != Some(expected) {
            return Err(format!("kstatus of {}: {got}, expected {expected}", obj.name_any()));
        }
    }
    // Admission: names too long for their runs, and a requester who is not the creator.
    let long = "x".repeat(53);
    if create_schedule(&ctx, &long, hourly(101, serde_json::json!({})))
        .await
        .is_ok()
    {
        return Err("a 53-character name must be refused".into());
    }
    let spec = hourly(101, serde_json::json!({}));
    let forged: MaintenanceSchedule = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
        "metadata": {"name": "forged"}, "spec": spec,
    }))
    .ctx("fixture")?;
    if ctx
        .api_as::<MaintenanceSchedule>("mallory")
        .await?
        .create(&PostParams::default(), &forged)
        .await
        .is_ok()
    {
        return Err("requestedBy must be the creating user".into());
    }
    Ok(())
}
