//! Text for people about an ImmyBotSchedule: its status with the runs
//! ImmyBot made from it (what an approver sees is `approval_prompt.rs`).

use std::fmt::Write as _;

use immybot_operator::api::{ImmyBotSchedule, ScheduleRun};

/// `computer #7`, `tenant Contoso (and child tenants), Workstations`.
fn target(s: &ImmyBotSchedule) -> String {
    let t = &s.spec.target;
    let who = if let Some(c) = &t.computer {
        format!("computer {}", named(c.name.as_deref(), c.id))
    } else if let Some(tn) = &t.tenant {
        format!(
            "tenant {}{}",
            named(tn.name.as_deref(), tn.id),
            if tn.include_child_tenants {
                " (and child tenants)"
            } else {
                ""
            }
        )
    } else {
        "-".into()
    };
    format!("{who}, {}", t.device_filter)
}

/// A name if given, else `#id`.
fn named(name: Option<&str>, id: Option<i32>) -> String {
    name.map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", id.unwrap_or_default()))
}

pub fn status(s: &ImmyBotSchedule) -> String {
    let st = s.status.clone().unwrap_or_default();
    let mut out = String::new();
    let ready = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| if c.status == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Pending");
    let _ = writeln!(
        out,
        "schedule/{}  {ready}{}",
        s.metadata.name.clone().unwrap_or_default(),
        if s.spec.suspend { " (suspended)" } else { "" }
    );
    let _ = writeln!(out, "  target    {}", target(s));
    if let Some(b) = &st.blast_radius {
        let _ = writeln!(out, "  radius    {}", super::render::radius_line(b));
    }
    let _ = writeln!(
        out,
        "  schedule  {}",
        st.schedule_summary.clone().unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(
        out,
        "  immybot   {}{}",
        st.schedule_id
            .map(|i| format!("schedule {i}"))
            .unwrap_or_else(|| "not created".into()),
        if st.running { ", running now" } else { "" }
    );
    if let Some(t) = &st.next_run_time {
        let _ = writeln!(out, "  next run  {}", t.0);
    }
    for c in &st.conditions {
        let _ = writeln!(out, "  {:<11} {:<7} {}: {}", c.type_, c.status, c.reason, c.message);
    }
    if st.runs.is_empty() {
        let _ = writeln!(out, "\n  no runs yet");
    }
    for run in &st.runs {
        let _ = write!(out, "\n{}", render_run(run));
    }
    out
}

fn render_run(run: &ScheduleRun) -> String {
    let mut out = String::new();
    let start = run
        .start_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| "-".into());
    let end = run
        .end_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| "…".into());
    let _ = writeln!(out, "  run {start} - {end}  {}", run.result);
    let _ = writeln!(
        out,
        "    computers {} passed, {} failed, {} missed, {} running (of {})",
        run.passed, run.failed, run.missed, run.running, run.computers
    );
    for c in &run.worst {
        let _ = writeln!(
            out,
            "    {:<10} {} (#{}), session {}",
            c.status,
            c.computer_name.clone().unwrap_or_default(),
            c.computer_id,
            c.session_id
        );
    }
    out
}
