//! The stakeholder report: a MaintenanceReport the operator answers from
//! ImmyBot (the system of record: sessions ImmyBot's own schedules ran,
//! and a session whose object was deleted since, still count) and from
//! Kubernetes' records (who approved, who cancelled), checked against the
//! simulator's own ledger; then `kubectl immybot report` renders it as
//! Markdown, CSV and HTML, and the HTML is loaded in headless Chromium:
//! its text rendered, every chart drawn, a screenshot taken.

use std::collections::HashMap;
use std::time::Duration;

use immybot_client::{MaintenanceActionResult, MaintenanceActionType, SessionStatus};
use immybot_operator::api::{MaintenanceReport, MaintenanceSession, Phase, SearchPhase};
use immybot_operator::controller::{ApprovalPolicy, CrashPoint};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator, wait_for};
use crate::lifecycle::{approved_run, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        a_report_counts_what_immybot_ran_and_renders_for_people_outside_the_cluster,
        a_report_too_long_or_backwards_is_refused_at_admission,
    ]
}

const LONG: Duration = Duration::from_secs(60);

/// What the simulator's own records say the report must count, since
/// `since`: sessions, and per computer its latest session's status.
struct Truth {
    sessions: i64,
    by_schedule: i64,
    passed: i64,
    failed: i64,
    failed_actions: i64,
}

fn truth(sim: &immybot_sim::RunningSim, since: jiff::Timestamp) -> Truth {
    sim.state.with_engine(|e, _| {
        let sessions: Vec<_> = e
            .sessions()
            .filter(|s| s.created_date_utc.is_some_and(|t| t.0 >= since))
            .collect();
        let mut latest: HashMap<i32, (jiff::Timestamp, Option<SessionStatus>)> = HashMap::new();
        for s in &sessions {
            let (Some(c), Some(t)) = (s.computer_id, s.created_date_utc) else {
                continue;
            };
            let entry = latest.entry(c).or_insert((t.0, s.session_status.clone()));
            if t.0 >= entry.0 {
                *entry = (t.0, s.session_status.clone());
            }
        }
        let with = |f: &dyn Fn(&Option<SessionStatus>) -> bool| latest.values().filter(|(_, s)| f(s)).count() as i64;
        let failed_actions = e
            .actions_of(None, true)
            .filter(|a| {
                a.result == Some(MaintenanceActionResult::Failed)
                    && a.action_type != Some(MaintenanceActionType::NoAction)
                    && a.created_date_utc.is_some_and(|t| t.0 >= since)
            })
            .count() as i64;
        Truth {
            sessions: sessions.len() as i64,
            by_schedule: sessions.iter().filter(|s| s.scheduled_id.is_some()).count() as i64,
            passed: with(&|s| *s == Some(SessionStatus::Passed)),
            failed: with(&|s| matches!(s, Some(SessionStatus::Failed | SessionStatus::PartialPassed))),
            failed_actions,
        }
    })
}

async fn a_report_counts_what_immybot_ran_and_renders_for_people_outside_the_cluster(ctx: TestContext) -> TestResult {
    let sim = simulator(150).await?;
    // Five weeks of ImmyBot's own weekly maintenance before the operator.
    let seeded = sim.state.seed_history(5);
    let controller = ctx
        .controller(&sim, ApprovalPolicy::default(), CrashPoint::Never)
        .await?;
    // One run the operator starts (bob approves; 102 fails Legacy VPN),
    // whose object is then deleted: ImmyBot keeps its history.
    approved_run(&ctx, "vpn", 102, "CHG-97", Phase::PartiallySucceeded).await?;
    // One that carol cancels before anyone approves it.
    create_session(
        &ctx,
        "not-today",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-99", "target": {"computer": {"id": 101}}}),
    )
    .await?;
    ctx.api_as::<MaintenanceSession>("carol")
        .await?
        .patch(
            "not-today",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"cancel": {"reason": "freeze"}}})),
        )
        .await
        .ctx("cancelling")?;
    wait_for("carol's cancel to be recorded", LONG, || async {
        let o = ctx
            .api::<MaintenanceSession>()
            .get("not-today")
            .await
            .map_err(|e| e.to_string())?;
        let by = o
            .status
            .iter()
            .flat_map(|s| s.controls.iter())
            .find(|c| c.field == "cancel")
            .map(|c| c.by.clone());
        Ok((by.as_deref() == Some("carol")).then_some(()))
    })
    .await?;
    ctx.api::<MaintenanceSession>()
        .delete("vpn", &DeleteParams::default())
        .await
        .ctx("deleting vpn")?;
    wait_for("vpn to be gone", LONG, || async {
        Ok(ctx
            .api::<MaintenanceSession>()
            .get_opt("vpn")
            .await
            .map_err(|e| e.to_string())?
            .is_none()
            .then_some(()))
    })
    .await?;

    // The report object, as a person with RBAC alone would ask for it.
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 60);
    let report: MaintenanceReport = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceReport",
        "metadata": {"name": "monthly"},
        "spec": {"since": since.to_string()},
    }))
    .ctx("report")?;
    let api = ctx.api_as::<MaintenanceReport>("alice").await?;
    api.create(&PostParams::default(), &report)
        .await
        .ctx("creating the report")?;
    let answered = wait_for("the report", LONG, || async {
        let r = api.get("monthly").await.map_err(|e| e.to_string())?;
        let st = r.status.clone().unwrap_or_default();
        match st.phase {
            Some(SearchPhase::Complete) => Ok(Some(st)),
            Some(SearchPhase::Failed) => Err(format!("the report failed: {:?}", st.message)),
            _ => Err(format!("phase {:?}", st.phase)),
        }
    })
    .await?;
    let want = truth(&sim, since);
    let got = answered.summary.clone().ok_or("no summary")?;
    if want.sessions != seeded as i64 + 1 {
        return Err(format!(
            "the ledger has {} sessions, {seeded} seeded + 1 run",
            want.sessions
        ));
    }
    let counts = (
        got.sessions,
        got.sessions_by_schedule,
        got.computers_passed,
        got.computers_failed,
        got.failed_actions,
    );
    let expected = (
        want.sessions,
        want.by_schedule,
        want.passed,
        want.failed,
        want.failed_actions,
    );
    if counts != expected || want.failed == 0 {
        return Err(format!(
            "(sessions, by schedule, passed, failed, failed actions): {counts:?}, the ledger says {expected:?}"
        ));
    }
    let fabrikam = answered
        .tenants
        .iter()
        .find(|t| t.name.as_deref() == Some("Fabrikam"))
        .ok_or_else(|| format!("no Fabrikam section: {:?}", answered.tenants))?;
    let vpn = fabrikam
        .failed_items
        .iter()
        .find(|i| i.name == "Legacy VPN")
        .ok_or_else(|| {
            format!(
                "Legacy VPN should be among Fabrikam's failures: {:?}",
                fabrikam.failed_items
            )
        })?;
    if !vpn.reason.as_deref().is_some_and(|r| r.contains("1603"))
        || fabrikam.counts.computers_non_compliant.unwrap_or(0) < 1
    {
        return Err(format!(
            "the reason and the compliance now: {vpn:?}, {:?}",
            fabrikam.counts
        ));
    }
    if answered.weeks.len() < 5 || answered.weeks.iter().map(|w| w.sessions).sum::<i64>() != want.sessions {
        return Err(format!(
            "the weeks should add up to every session: {:?}",
            answered.weeks
        ));
    }
    let approvals = answered.approvals.clone().unwrap_or_default();
    let cancels = answered.cancellations.clone().unwrap_or_default();
    if approvals.count != 1 || approvals.latest.first().map(|r| r.person.as_str()) != Some("bob") {
        return Err(format!("bob's approval: {approvals:?}"));
    }
    if cancels.count != 1
        || cancels.latest.first().map(|r| (r.person.as_str(), r.session.as_str())) != Some(("carol", "not-today"))
    {
        let o = ctx
            .api::<MaintenanceSession>()
            .get("not-today")
            .await
            .ctx("not-today")?;
        let controls = o.status.map(|s| s.controls).unwrap_or_default();
        return Err(format!(
            "carol's cancellation: {cancels:?}; the object's records: {controls:?}; period {:?}",
            answered.period
        ));
    }
    let calls = answered.immybot_calls.unwrap_or_default();
    // 1 tenant list + 1 session page + 1 action page + one compliance read
    // per tenant with sessions.
    let bound = 3 + answered.tenants.len() as i32;
    if calls < 3 || calls > bound {
        return Err(format!(
            "{calls} ImmyBot calls for a report of {} sessions (at most {bound})",
            want.sessions
        ));
    }

    // Rendered by the plugin, as people get it.
    let (ok, md) = crate::plugin::plugin(&ctx, "alice", &["report", "--since", "60d"], None).await?;
    let summary_row = format!(
        "| {} | {} | {} | {} | {} |",
        want.sessions, want.by_schedule, got.computers, want.passed, want.failed
    );
    if !ok || !md.contains(&summary_row) || !md.contains("## Fabrikam") || !md.contains("Legacy VPN") {
        return Err(format!("report -o md should open with {summary_row}: {md}"));
    }
    let (ok, csv) = crate::plugin::plugin(&ctx, "alice", &["report", "--since", "60d", "-o", "csv"], None).await?;
    let all = csv.lines().find(|l| l.starts_with(",all,")).unwrap_or_default();
    if !ok || !all.starts_with(&format!(",all,{},{},", want.sessions, want.by_schedule)) {
        return Err(format!("report -o csv: {csv}"));
    }
    let dir = std::env::temp_dir().join(format!("immybot-report-{}", ctx.namespace));
    std::fs::create_dir_all(&dir).ctx("a directory for the report")?;
    let page = dir.join("report.html");
    let file = page.to_string_lossy().into_owned();
    let (ok, out) = crate::plugin::plugin(
        &ctx,
        "alice",
        &["report", "--since", "60d", "-o", "html", "--file", &file],
        None,
    )
    .await?;
    controller.stop().await;
    if !ok {
        return Err(format!("report -o html: {out}"));
    }
    let canvases = std::fs::read_to_string(&page)
        .ctx("the html")?
        .matches("<canvas")
        .count();
    let dom = crate::browser::rendered_dom(&page).await?;
    let drawn = format!("data-charts-drawn=\"{canvases}\"");
    if canvases < 2 || !dom.contains(&drawn) || !dom.contains("Fabrikam") || !dom.contains("Summary") {
        return Err(format!(
            "headless Chromium should show the text and {canvases} charts drawn ({drawn}): {}",
            &dom[..dom.len().min(2000)]
        ));
    }
    let shot = crate::browser::screenshot(&page, &dir.join("report.png")).await?;
    let _ = std::fs::remove_dir_all(&dir);
    if shot < 10_000 {
        return Err(format!("the screenshot is {shot} bytes: nothing rendered?"));
    }
    Ok(())
}

/// CEL refuses what it can see: a period over 372 days, an end before the
/// start, a changed question.
async fn a_report_too_long_or_backwards_is_refused_at_admission(ctx: TestContext) -> TestResult {
    let api = ctx.api_as::<MaintenanceReport>("alice").await?;
    let report = |name: &str, since: &str, until: &str| -> Result<MaintenanceReport, String> {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceReport",
            "metadata": {"name": name},
            "spec": {"since": since, "until": until},
        }))
        .ctx("report")
    };
    for (name, since, until, says) in [
        (
            "too-long",
            "2025-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "at most 372 days",
        ),
        (
            "backwards",
            "2026-11-02T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "since must be before until",
        ),
    ] {
        match api.create(&PostParams::default(), &report(name, since, until)?).await {
            Err(kube::Error::Api(e)) if e.message.contains(says) => {}
            other => return Err(format!("{name} should be refused saying {says:?}: {other:?}")),
        }
    }
    api.create(
        &PostParams::default(),
        &report("ok", "2025-12-01T00:00:00Z", "2026-12-01T00:00:00Z")?,
    )
    .await
    .ctx("a year is allowed")?;
    let changed = api
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"tenants": ["Contoso"]}})),
        )
        .await;
    match changed {
        Err(kube::Error::Api(e)) if e.message.contains("one question") => Ok(()),
        other => Err(format!("a changed report should be refused: {other:?}")),
    }
}
