//! A rollout in waves on the real API server against the simulator: the
//! tenant's computers are listed once, the pilot runs alone, waves follow
//! in order, a failure beyond the budget halts before the next wave (and
//! nothing more reaches ImmyBot), and a resume request continues to the
//! end. The simulator's ledger proves every computer ran exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::FleetSeed;
use kube::api::{Patch, PatchParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator_of};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_tenant_rolls_out_in_waves_halts_on_a_failure_and_resumes,
        a_controller_killed_mid_rollout_neither_repeats_nor_skips_a_computer,
        a_window_closing_mid_rollout_holds_the_next_wave_until_it_opens,
        a_failed_pilot_halts_and_cancel_aborts_the_rollout,
        suspend_holds_the_next_wave_and_releasing_it_continues,
        rollouts_that_cannot_work_are_refused_at_admission
    ]
}

const LONG: Duration = Duration::from_secs(60);

/// Sessions per computer, and the computers in the order their sessions
/// were created.
fn ledger(sim: &immybot_sim::RunningSim) -> (BTreeMap<i32, usize>, Vec<i32>) {
    let mut entries = sim.state.ledger();
    entries.sort_by_key(|e| e.id);
    let mut per = BTreeMap::new();
    for e in &entries {
        *per.entry(e.computer_id).or_default() += 1;
    }
    (per, entries.iter().map(|e| e.computer_id).collect())
}

async fn a_tenant_rolls_out_in_waves_halts_on_a_failure_and_resumes(ctx: TestContext) -> TestResult {
    // Tenant 1 has computers 1..=12; computer 10 has an item that fails.
    let sim = simulator_of(FleetSeed::generate(2, 12), 100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "waves",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-70", "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "pilot": {"count": 2}, "maxConcurrent": "30%"}}),
    )
    .await?;
    approve(&ctx, "waves", "bob").await?;
    // Pilot [1, 2], then waves of ceil(30% of 12) = 4: [3..=6], [7..=10], [11, 12].
    // Computer 10 fails in the third wave; the budget (0) halts the rollout.
    let halted = ctx.wait_phase("waves", Phase::Halted, LONG).await?;
    let st = halted.status.clone().unwrap_or_default();
    let r = st.rollout.clone().ok_or("no status.rollout")?;
    if r.computer_ids != (1..=12).collect::<Vec<_>>() || r.pilot_size != 2 || r.wave_size != 4 || r.waves != 4 {
        return Err(format!("plan {r:?}"));
    }
    if (r.current_wave, r.started, r.remaining) != (3, 10, 2) || r.failed < 1 {
        return Err(format!("where the rollout stands: {r:?}"));
    }
    let stalled = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .ok_or("no Stalled condition")?;
    if stalled.status != "True" || !stalled.message.contains("kubectl immybot resume waves") {
        return Err(format!("Stalled {stalled:?}"));
    }
    let (per, order) = ledger(&sim);
    if per.keys().copied().collect::<Vec<_>>() != (1..=10).collect::<Vec<_>>() || per.values().any(|n| *n != 1) {
        return Err(format!(
            "halted after wave 3: computers 1..=10 once each, ledger {per:?}"
        ));
    }
    // Waves start in plan order: no session of a wave before the one of an earlier wave.
    let wave_of = |c: i32| if c <= 2 { 0 } else { (c - 3) / 4 + 1 };
    if order.windows(2).any(|w| wave_of(w[0]) > wave_of(w[1])) {
        return Err(format!("sessions out of wave order: {order:?}"));
    }
    // `kubectl immybot resume`: the next wave starts, the rollout ends.
    ctx.api::<MaintenanceSession>()
        .patch(
            "waves",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"resume": {"requests": 1}}})),
        )
        .await
        .ctx("resume")?;
    let done = ctx.wait_phase("waves", Phase::PartiallySucceeded, LONG).await?;
    let (per, _) = ledger(&sim);
    if per.keys().copied().collect::<Vec<_>>() != (1..=12).collect::<Vec<_>>() || per.values().any(|n| *n != 1) {
        return Err(format!("every computer of tenant 1 exactly once, ledger {per:?}"));
    }
    let r = done.status.and_then(|s| s.rollout).ok_or("no status.rollout")?;
    if (r.current_wave, r.started, r.remaining) != (4, 12, 0) || r.accepted_failures < 1 {
        return Err(format!("finished rollout {r:?}"));
    }
    Ok(())
}

/// Every computer of tenant 1 (1..=12) exactly once in the ledger.
fn each_once(sim: &immybot_sim::RunningSim) -> TestResult {
    let (per, _) = ledger(sim);
    if per.keys().copied().collect::<Vec<_>>() != (1..=12).collect::<Vec<_>>() || per.values().any(|n| *n != 1) {
        return Err(format!("every computer of tenant 1 exactly once, ledger {per:?}"));
    }
    Ok(())
}

async fn a_controller_killed_mid_rollout_neither_repeats_nor_skips_a_computer(ctx: TestContext) -> TestResult {
    let sim = simulator_of(FleetSeed::generate(2, 12), 100).await?;
    // Attempt 3 is the second wave, [7..=10]: the controller dies after
    // ImmyBot started it and before the session ids were recorded.
    let crashing = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::AfterStartOfAttempt(3))
        .await?;
    create_session(
        &ctx,
        "waves",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-72", "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "pilot": {"count": 2}, "maxConcurrent": "30%",
                                       "maxFailures": "50%"}}),
    )
    .await?;
    approve(&ctx, "waves", "bob").await?;
    crate::harness::wait_for("the second wave started in ImmyBot", LONG, || async {
        Ok(ledger(&sim).0.contains_key(&7).then_some(()))
    })
    .await?;
    crashing.stop().await;
    let unrecorded = ctx.api::<MaintenanceSession>().get("waves").await.ctx("get")?;
    let attempts = unrecorded
        .status
        .and_then(|s| s.immybot)
        .map(|r| r.attempts)
        .unwrap_or_default();
    if attempts
        .iter()
        .find(|a| a.number == 3)
        .is_none_or(|a| !a.session_ids.is_empty())
    {
        return Err(format!(
            "attempt 3's ids must be unrecorded after the crash: {attempts:?}"
        ));
    }
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    let done = ctx.wait_phase("waves", Phase::PartiallySucceeded, LONG).await?;
    each_once(&sim)?;
    let attempts = done
        .status
        .and_then(|s| s.immybot)
        .map(|r| r.attempts)
        .unwrap_or_default();
    let third = attempts.iter().find(|a| a.number == 3).ok_or("attempt 3")?;
    if third.ids_from.as_deref() != Some("Adopted") || third.session_ids.len() != 4 {
        return Err(format!("the second wave is adopted, not started again: {third:?}"));
    }
    Ok(())
}

async fn a_window_closing_mid_rollout_holds_the_next_wave_until_it_opens(ctx: TestContext) -> TestResult {
    // ImmyBot's clock moves only when the test says: the first wave is
    // still running when the window closes.
    let sim = crate::harness::manual_simulator(FleetSeed::generate(2, 12)).await?;
    let clock = std::sync::Arc::new(immybot_operator::controller::Clock::default());
    // A Monday 10:00-11:00 UTC window, some weeks ahead.
    let monday = {
        let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut d = today.checked_add(jiff::Span::new().days(14)).ctx("date")?;
        while d.weekday() != jiff::civil::Weekday::Monday {
            d = d.tomorrow().ctx("date")?;
        }
        d
    };
    let opens = monday
        .at(10, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ctx("time")?
        .timestamp();
    let at = |offset: i64| opens.checked_add(jiff::SignedDuration::from_secs(offset)).ctx("time");
    clock.set(at(30)?);
    let _controller = ctx
        .controller_with_clock(&sim, ApprovalPolicy::default(), CrashPoint::Never, clock.clone())
        .await?;
    create_session(
        &ctx,
        "windowed-waves",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-73", "target": {"tenant": {"id": 1}},
                           "windows": [{"days": ["Monday"], "start": "10:00", "duration": "1h", "timeZone": "UTC"}],
                           "rollout": {"strategy": "Waves", "maxConcurrent": 6, "maxFailures": "50%"}}),
    )
    .await?;
    approve(&ctx, "windowed-waves", "bob").await?;
    crate::harness::wait_for("the first wave started", LONG, || async {
        Ok((ledger(&sim).0.len() == 6).then_some(()))
    })
    .await?;
    // The window closes while the first wave runs; the wave finishes.
    clock.set(at(3630)?);
    let waiting = crate::harness::wait_for("the next wave held for the window", LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("windowed-waves").await.ctx("get")?;
        let phase = s.status.as_ref().and_then(|st| st.phase);
        if phase == Some(Phase::WaitingForWindow) {
            return Ok(Some(s));
        }
        let ready = s
            .status
            .as_ref()
            .and_then(|st| st.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.message.clone());
        Err(format!("phase {phase:?}, Ready {ready:?}, ledger {:?}", ledger(&sim).0))
    })
    .await?;
    let next = waiting.status.and_then(|s| s.next_window_opening).map(|t| t.0);
    if next != Some(at(7 * 86_400)?) {
        return Err(format!("the next opening is a week later, got {next:?}"));
    }
    if ledger(&sim).0.len() != 6 {
        return Err(format!("nothing more starts outside the window: {:?}", ledger(&sim).0));
    }
    // A week later the window opens: the second wave starts and the rollout ends.
    clock.set(at(7 * 86_400 + 30)?);
    crate::harness::wait_for("the rollout finished", LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("windowed-waves").await.ctx("get")?;
        let phase = s.status.as_ref().and_then(|st| st.phase);
        Ok((phase == Some(Phase::PartiallySucceeded)).then_some(()))
    })
    .await?;
    each_once(&sim)
}

async fn a_failed_pilot_halts_and_cancel_aborts_the_rollout(ctx: TestContext) -> TestResult {
    // Computer 10 has an item that fails: as the pilot, it halts the
    // rollout whatever the budget.
    let sim = simulator_of(FleetSeed::generate(2, 12), 100).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "pilot-fails",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-74", "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "pilot": {"computers": [{"id": 10}]},
                                       "maxConcurrent": 6, "maxFailures": "50%"}}),
    )
    .await?;
    approve(&ctx, "pilot-fails", "bob").await?;
    let halted = ctx.wait_phase("pilot-fails", Phase::Halted, LONG).await?;
    let stalled = halted
        .status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .ok_or("no Stalled condition")?;
    if stalled.reason != "PilotFailed" || !stalled.message.contains("kubectl immybot cancel pilot-fails") {
        return Err(format!("Stalled {stalled:?}"));
    }
    if ledger(&sim).0 != BTreeMap::from([(10, 1)]) {
        return Err(format!("only the pilot ran: {:?}", ledger(&sim).0));
    }
    // Abort: cancel is a control anyone with edit rights may use.
    ctx.api_as::<MaintenanceSession>("carol")
        .await?
        .patch(
            "pilot-fails",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"cancel": {"reason": "the pilot failed"}}})),
        )
        .await
        .ctx("cancel")?;
    ctx.wait_phase("pilot-fails", Phase::Cancelled, LONG).await?;
    if ledger(&sim).0 != BTreeMap::from([(10, 1)]) {
        return Err(format!("an aborted rollout starts nothing more: {:?}", ledger(&sim).0));
    }
    Ok(())
}

async fn suspend_holds_the_next_wave_and_releasing_it_continues(ctx: TestContext) -> TestResult {
    // ImmyBot's clock moves only when the test says, so the first wave is
    // still running when the session is suspended.
    let sim = crate::harness::manual_simulator(FleetSeed::generate(2, 12)).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    create_session(
        &ctx,
        "held",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-75", "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "maxConcurrent": 6, "maxFailures": "50%"}}),
    )
    .await?;
    approve(&ctx, "held", "bob").await?;
    crate::harness::wait_for("the first wave started", LONG, || async {
        Ok((ledger(&sim).0.len() == 6).then_some(()))
    })
    .await?;
    let suspend = |on: bool| serde_json::json!({"spec": {"suspend": on}});
    ctx.api::<MaintenanceSession>()
        .patch("held", &PatchParams::default(), &Patch::Merge(&suspend(true)))
        .await
        .ctx("suspend")?;
    let held = crate::harness::wait_for("the next wave held", LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("held").await.ctx("get")?;
        let reason = s
            .status
            .as_ref()
            .and_then(|st| st.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.reason.clone());
        Ok((reason.as_deref() == Some("SuspendedBetweenWaves")).then_some(s))
    })
    .await?;
    if held.status.and_then(|s| s.phase) != Some(Phase::Suspended) || ledger(&sim).0.len() != 6 {
        return Err(format!(
            "suspended between waves, nothing more started: {:?}",
            ledger(&sim).0
        ));
    }
    ctx.api::<MaintenanceSession>()
        .patch("held", &PatchParams::default(), &Patch::Merge(&suspend(false)))
        .await
        .ctx("release")?;
    crate::harness::wait_for("the rollout finished", LONG, || async {
        sim.state.advance(Duration::from_secs(30));
        let s = ctx.api::<MaintenanceSession>().get("held").await.ctx("get")?;
        Ok((s.status.and_then(|st| st.phase) == Some(Phase::PartiallySucceeded)).then_some(()))
    })
    .await?;
    each_once(&sim)
}

async fn rollouts_that_cannot_work_are_refused_at_admission(ctx: TestContext) -> TestResult {
    let cases = [
        (
            serde_json::json!({"computer": {"id": 1}}),
            serde_json::json!({"strategy": "Waves", "maxConcurrent": 1}),
            "strategy Waves needs a computers or tenant target",
        ),
        (
            serde_json::json!({"tenant": {"id": 1}}),
            serde_json::json!({"strategy": "Waves", "maxConcurrent": 1, "tenantByTenant": {}}),
            "tenantByTenant needs a tenant target with includeChildTenants",
        ),
        (
            serde_json::json!({"tenant": {"id": 1, "includeChildTenants": true}}),
            serde_json::json!({"strategy": "AllAtOnce", "maxFailuresPerTenant": 1}),
            "apply to strategy Waves only",
        ),
        (
            serde_json::json!({"tenant": {"id": 1}}),
            serde_json::json!({"strategy": "Waves"}),
            "strategy Waves needs maxConcurrent",
        ),
        (
            serde_json::json!({"tenant": {"id": 1}}),
            serde_json::json!({"strategy": "Waves", "maxConcurrent": "150%"}),
            "maxConcurrent is a count of at least 1 or a percentage",
        ),
        (
            serde_json::json!({"tenant": {"id": 1}}),
            serde_json::json!({"maxFailures": 2}),
            "apply to strategy Waves only",
        ),
    ];
    for (i, (target, rollout, expected)) in cases.into_iter().enumerate() {
        let obj: MaintenanceSession = serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
            "metadata": {"name": format!("bad-rollout-{i}")},
            "spec": {"requestedBy": "alice", "reason": "CHG-71", "target": target, "rollout": rollout},
        }))
        .ctx("object")?;
        match ctx.api::<MaintenanceSession>().create(&Default::default(), &obj).await {
            Ok(_) => return Err(format!("case {i} was admitted; expected {expected:?}")),
            Err(e) if e.to_string().contains(expected) => {}
            Err(e) => return Err(format!("case {i}: expected {expected:?}, got {e}")),
        }
    }
    Ok(())
}
