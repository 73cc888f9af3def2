//! What a live ImmyBot instance sends, not what the document hopes: per-action
//! outcomes come from `GET /maintenance-actions/dx` whether or not
//! `GET /maintenance-sessions/{id}` carries them, dates in `dx` filters go out
//! in the one form known to work, and the clear-text task parameters live
//! instances echo never reach status, events or logs.

use std::collections::BTreeMap;
use std::time::Duration;

use immybot_client::{MaintenanceActionResult, MaintenanceActionType};
use immybot_operator::api::{ActionStatus, ItemSummary, MaintenanceSession, Phase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use immybot_sim::{FleetSeed, ResponseShape, RunningSim};

use crate::harness::{
    Context as _, TestContext, TestFn, TestResult, lose_next_start_answer, simulator, simulator_of,
    spawn_operator_binary,
};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        per_action_outcomes_of_one_computer_in_the_live_and_the_document_shape,
        per_action_outcomes_of_a_tenant_in_both_shapes_with_dates_in_the_known_form,
        a_planted_secret_never_reaches_status_events_or_logs,
    ]
}

const LONG: Duration = Duration::from_secs(60);
const ACTIONS: &str = "GET /api/v1/maintenance-actions/dx";

/// The simulator's default (live evidence, least helpful) and the document's
/// reading of every open shape.
fn shapes() -> [(&'static str, ResponseShape); 2] {
    [
        ("live", ResponseShape::default()),
        (
            "document",
            ResponseShape {
                actions_in_get: true,
                actions_dx_as_array: true,
                dx_rows_with_job_args: true,
                dx_rows_with_stages: true,
                ..Default::default()
            },
        ),
    ]
}

/// Actions as mirrored, without times (which differ between runs).
fn outcomes(obj: &MaintenanceSession) -> Vec<(i32, Vec<ActionStatus>)> {
    obj.status
        .iter()
        .flat_map(|s| s.computers.iter())
        .map(|c| {
            let mut actions: Vec<ActionStatus> = c
                .actions
                .iter()
                .cloned()
                .map(|mut a| {
                    a.start_time = None;
                    a.end_time = None;
                    a
                })
                .collect();
            actions.sort_by(|a, b| a.name.cmp(&b.name));
            (c.id, actions)
        })
        .collect()
}

async fn per_action_outcomes_of_one_computer_in_the_live_and_the_document_shape(ctx: TestContext) -> TestResult {
    let mut seen = Vec::new();
    for (label, shape) in shapes() {
        let sim = simulator(150).await?;
        sim.state.update_shape(|s| *s = shape);
        let controller = ctx
            .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
            .await?;
        let name = format!("finance-{label}");
        create_session(
            &ctx,
            &name,
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-91", "target": {"computer": {"id": 102}}}),
        )
        .await?;
        approve(&ctx, &name, "bob").await?;
        let done = ctx.wait_phase(&name, Phase::PartiallySucceeded, LONG).await?;
        let reads = sim.state.call_count(ACTIONS);
        ctx.delete_and_wait(&name, LONG).await?;
        controller.stop().await;
        let computer = done
            .status
            .as_ref()
            .and_then(|s| s.computers.first())
            .ok_or("no computer")?;
        let find = |n: &str| computer.actions.iter().find(|a| a.name == n).cloned();
        let vpn = find("Legacy VPN").ok_or(format!("{label}: Legacy VPN not mirrored: {computer:?}"))?;
        let acrobat = find("Adobe Acrobat Reader").ok_or(format!("{label}: Acrobat not mirrored"))?;
        let got = (
            vpn.action_type.as_deref(),
            vpn.result.as_deref(),
            vpn.message.as_deref(),
            acrobat.result.as_deref(),
            acrobat.detected_version.as_deref(),
            acrobat.desired_version.as_deref(),
        );
        let want = (
            Some("Install"),
            Some("Failed"),
            Some("The installer exited with code 1603"),
            Some("Success"),
            Some("2024.001"),
            Some("2024.004"),
        );
        if got != want {
            return Err(format!("{label}: mirrored {got:?}, want {want:?}"));
        }
        // Why it failed shows in any shape: its actions (above) and its log
        // lines; its stages where the listing's rows carry them.
        if label == "document" && computer.stages.execution.is_none() {
            return Err(format!(
                "{label}: the failed computer's stages are missing: {:?}",
                computer.stages
            ));
        }
        // A session that partly passed is explained by its failed actions'
        // own log lines, not the session's.
        if vpn.log_excerpt.is_empty() {
            return Err(format!("{label}: a failed action keeps its log lines"));
        }
        println!("{label}: {reads} action-list calls for one single-computer session");
        // At most one read per change of the session (queued, detection,
        // execution, inventory, ended) and none for our own status writes.
        if !(1..=6).contains(&reads) {
            return Err(format!("{label}: one session's actions cost {reads} calls"));
        }
        seen.push(outcomes(&done));
    }
    if seen[0] != seen[1] {
        return Err(format!("the two shapes disagree:\n{:?}\n{:?}", seen[0], seen[1]));
    }
    Ok(())
}

/// Per item: (succeeded, failed, compliant), from the simulator's own actions
/// of these sessions: what the status must say.
fn expected_items(sim: &RunningSim, sessions: &[i32]) -> BTreeMap<String, (i32, i32, i32)> {
    let mut items: BTreeMap<String, (i32, i32, i32)> = BTreeMap::new();
    let actions = sim.state.with_engine(|e, _| e.all_actions().collect::<Vec<_>>());
    for a in actions.iter().filter(|a| sessions.contains(&a.maintenance_session_id)) {
        let entry = items
            .entry(a.maintenance_display_name.clone().unwrap_or_default())
            .or_default();
        let compliant = a.action_type == Some(MaintenanceActionType::NoAction);
        match a.result {
            Some(MaintenanceActionResult::Success | MaintenanceActionResult::Resolved) if compliant => entry.2 += 1,
            Some(MaintenanceActionResult::Success | MaintenanceActionResult::Resolved) => entry.0 += 1,
            Some(MaintenanceActionResult::Failed | MaintenanceActionResult::Indeterminable) => entry.1 += 1,
            _ => {}
        }
    }
    items
}

fn mirrored_items(items: &[ItemSummary]) -> BTreeMap<String, (i32, i32, i32)> {
    items
        .iter()
        .map(|i| (i.name.clone(), (i.succeeded, i.failed, i.compliant)))
        .collect()
}

/// Every date value in the `dx` filters the simulator received on `route`.
fn filter_dates(sim: &RunningSim, route: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        if let Some(items) = v.as_array() {
            if items.len() == 3
                && let (Some(field), Some(value)) = (items[0].as_str(), items[2].as_str())
                && field.to_ascii_lowercase().contains("date")
            {
                out.push(value.to_owned());
            }
            items.iter().for_each(|i| walk(i, out));
        }
    }
    let mut out = Vec::new();
    for query in sim.state.queries(route) {
        for (key, value) in query {
            if key == "filter"
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&value)
            {
                walk(&v, &mut out);
            }
        }
    }
    out
}

fn in_known_form(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == b'/',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

async fn per_action_outcomes_of_a_tenant_in_both_shapes_with_dates_in_the_known_form(ctx: TestContext) -> TestResult {
    const COMPUTERS: u32 = 40;
    let mut seen = Vec::new();
    for (label, shape) in shapes() {
        // A generated tenant: every 10th computer fails an install, every
        // 7th needs a reboot, every 13th is offline.
        let sim = simulator_of(FleetSeed::generate(1, COMPUTERS), 150).await?;
        sim.state.update_shape(|s| *s = shape);
        // The start's answer is lost: the sessions are found per tenant.
        lose_next_start_answer(&sim);
        let controller = ctx
            .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
            .await?;
        let name = format!("tenant-{label}");
        create_session(
            &ctx,
            &name,
            serde_json::json!({"requestedBy": "alice", "reason": "CHG-92", "target": {"tenant": {"id": 1}}}),
        )
        .await?;
        approve(&ctx, &name, "bob").await?;
        let done = ctx.wait_phase(&name, Phase::PartiallySucceeded, LONG).await?;
        let status = done.status.clone().unwrap_or_default();
        let ids: Vec<i32> = status
            .immybot
            .iter()
            .flat_map(|r| r.attempts.iter().flat_map(|a| a.session_ids.iter().copied()))
            .collect();
        if ids.len() != COMPUTERS as usize || sim.state.ledger().len() != COMPUTERS as usize {
            return Err(format!(
                "{label}: {} sessions recorded, ledger {}",
                ids.len(),
                sim.state.ledger().len()
            ));
        }
        let want = expected_items(&sim, &ids);
        let got = mirrored_items(&status.items);
        if got != want {
            return Err(format!("{label}: items mirrored {got:?}, the simulator says {want:?}"));
        }
        let summary = status.summary.clone().unwrap_or_default();
        if (summary.computers, summary.missed) != (COMPUTERS as i32, 3) {
            return Err(format!("{label}: summary {summary:?}"));
        }
        let reads = sim.state.call_count(ACTIONS);
        println!("{label}: {reads} action-list calls for a {COMPUTERS}-computer tenant session");
        if reads > 30 {
            return Err(format!("{label}: reading a tenant's actions cost {reads} calls"));
        }
        // Settled: looking again costs no ImmyBot call at all. The first
        // nudge lets a reconcile already in flight (begun before the final
        // status reached the controller's cache) finish; the second counts.
        ctx.nudge(&name, LONG).await?;
        sim.state.reset_calls();
        ctx.nudge(&name, LONG).await?;
        let after: u64 = sim
            .state
            .calls()
            .iter()
            .filter(|(route, _)| !route.contains("oauth2") && route.as_str() != "GET /api/v1/maintenance-sessions/dx")
            .map(|(_, n)| n)
            .sum();
        if after != 0 {
            return Err(format!(
                "{label}: a settled object cost {after} ImmyBot calls: {:?}",
                sim.state.calls()
            ));
        }
        ctx.delete_and_wait(&name, LONG).await?;
        controller.stop().await;
        // Dates went out as MM/dd/yyyy HH:mm:ss, on both lists.
        let dates: Vec<String> = filter_dates(&sim, ACTIONS)
            .into_iter()
            .chain(filter_dates(&sim, "GET /api/v1/maintenance-sessions/dx"))
            .collect();
        if dates.is_empty() || !dates.iter().all(|d| in_known_form(d)) {
            return Err(format!("{label}: dates in dx filters: {dates:?}"));
        }
        seen.push(got);
    }
    if seen[0] != seen[1] {
        return Err(format!("the two shapes disagree: {:?} vs {:?}", seen[0], seen[1]));
    }
    Ok(())
}

async fn a_planted_secret_never_reaches_status_events_or_logs(ctx: TestContext) -> TestResult {
    use tokio::io::AsyncReadExt as _;
    const SECRET: &str = "sk-live-7f3c9a1e-DO-NOT-LEAK";
    let sim = simulator(150).await?;
    sim.state.update_shape(|s| {
        s.job_args_secret = Some(SECRET.into());
        s.dx_rows_with_job_args = true;
        s.actions_in_get = true;
    });
    // A lost answer makes the operator read sessions through dx and GET.
    lose_next_start_answer(&sim);
    let mut child = spawn_operator_binary(
        &ctx,
        &sim,
        &[
            "--poll-active-seconds",
            "1",
            "--poll-idle-seconds",
            "1",
            "--log-format",
            "json",
        ],
        "debug",
    )?;
    let mut out = child.stdout.take().ok_or("stdout")?;
    let mut err = child.stderr.take().ok_or("stderr")?;
    let collect_out = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf).await;
        buf
    });
    let collect_err = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf).await;
        buf
    });
    create_session(
        &ctx,
        "leak",
        // A computer with a failing action: its log (whose rows carry the
        // parameters) is read too.
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-93", "target": {"computer": {"id": 102}}}),
    )
    .await?;
    approve(&ctx, "leak", "bob").await?;
    let done = ctx.wait_phase("leak", Phase::PartiallySucceeded, LONG).await?;
    let excerpts: Vec<&String> = done
        .status
        .iter()
        .flat_map(|s| s.computers.iter())
        .flat_map(|c| c.actions.iter())
        .flat_map(|a| a.log_excerpt.iter())
        .collect();
    if !excerpts.iter().any(|l| l.contains("[redacted]")) {
        return Err(format!(
            "the failed action's excerpt should be there, blanked: {excerpts:?}"
        ));
    }
    if done
        .status
        .as_ref()
        .and_then(|s| s.immybot.as_ref())
        .and_then(|r| r.attempts.first())
        .and_then(|a| a.ids_from.as_deref())
        != Some("Adopted")
    {
        return Err("the session should have been adopted (read through dx and GET)".into());
    }
    let pid = child.id().ok_or("no pid")?;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .ctx("kill")?;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let logs = [
        collect_out.await.unwrap_or_default(),
        collect_err.await.unwrap_or_default(),
    ]
    .concat();
    let logs = String::from_utf8_lossy(&logs);
    if !logs.contains("ImmyBot answered") {
        return Err("the debug log should show ImmyBot's answers (is RUST_LOG honoured?)".into());
    }
    let status = serde_json::to_string(&done).ctx("status")?;
    let events = ctx
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .ctx("events")?;
    let events = serde_json::to_string(&events.items).ctx("events json")?;
    for (place, text) in [
        ("status", status.as_str()),
        ("events", events.as_str()),
        ("logs", &logs),
    ] {
        if text.contains(SECRET) {
            return Err(format!("the planted secret reached the {place}"));
        }
    }
    Ok(())
}
