//! Maintenance windows on the real API server: an approved session outside
//! every window waits (nothing reaches ImmyBot) with the next opening in
//! status; a window that is open lets it start, once re-approved (windows
//! are part of what is approved).

use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use kube::api::{Patch, PatchParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![a_session_waits_for_its_window_and_starts_inside_one]
}

const LONG: Duration = Duration::from_secs(40);

/// A window on the weekday of `at` (UTC) from `at`'s hour and minute.
fn window_at(at: jiff::Timestamp, duration: &str) -> serde_json::Value {
    let z = at.to_zoned(jiff::tz::TimeZone::UTC);
    serde_json::json!({
        "days": [format!("{:?}", z.weekday())],
        "start": format!("{:02}:{:02}", z.hour(), z.minute()),
        "duration": duration,
        "timeZone": "UTC",
    })
}

async fn a_session_waits_for_its_window_and_starts_inside_one(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    let _controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // Opens in two hours (a whole minute, as status stores seconds).
    let now = jiff::Timestamp::now();
    let later = jiff::Timestamp::from_second((now.as_second() / 60 + 120) * 60).ctx("time")?;
    create_session(
        &ctx,
        "windowed",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-60", "target": {"computer": {"id": 101}},
                           "windows": [window_at(later, "1h")]}),
    )
    .await?;
    approve(&ctx, "windowed", "bob").await?;
    let waiting = ctx.wait_phase("windowed", Phase::WaitingForWindow, LONG).await?;
    let st = waiting.status.clone().unwrap_or_default();
    if st.next_window_opening.as_ref().map(|t| t.0) != Some(later) {
        return Err(format!("next opening {:?}, expected {later}", st.next_window_opening));
    }
    if !sim.state.ledger().is_empty() {
        return Err("nothing may start outside the window".into());
    }
    // A window open now (opened a minute ago, for an hour): the changed
    // windows (the requester's to change) need a new approval, then it
    // starts.
    let open = jiff::Timestamp::from_second((now.as_second() / 60 - 1) * 60).ctx("time")?;
    ctx.api_as::<MaintenanceSession>("alice")
        .await?
        .patch(
            "windowed",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"windows": [window_at(later, "1h"), window_at(open, "1h")]}})),
        )
        .await
        .ctx("patch windows")?;
    approve(&ctx, "windowed", "bob").await?;
    let done = ctx.wait_phase("windowed", Phase::Succeeded, LONG).await?;
    let ledger = sim.state.ledger();
    if ledger.len() != 1 || ledger[0].computer_id != 101 {
        return Err(format!("one session for computer 101, ledger {ledger:?}"));
    }
    if done.status.and_then(|s| s.next_window_opening).is_some() {
        return Err("a started session has no next opening to wait for".into());
    }
    Ok(())
}
