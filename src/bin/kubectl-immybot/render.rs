//! Text for people: a session's status summary and logs (what an approver
//! sees is `approval_prompt.rs`).

use std::fmt::Write as _;

use immybot_operator::api::{MaintenanceSession, Phase};

/// Where a rollout in waves stands, in one line.
pub fn rollout_line(r: &immybot_operator::api::RolloutStatus) -> String {
    let pilot = if r.pilot_size > 0 {
        format!(" (wave 1 is the pilot of {})", r.pilot_size)
    } else {
        String::new()
    };
    let accepted = if r.accepted_failures > 0 {
        format!(", {} failure(s) accepted on resume", r.accepted_failures)
    } else {
        String::new()
    };
    format!(
        "wave {} of {}{pilot}: {} started, {} passed, {} failed, {} remaining; failure budget {} ({} left){accepted}",
        r.current_wave, r.waves, r.started, r.passed, r.failed, r.remaining, r.failure_budget, r.budget_left
    )
}

pub fn status(s: &MaintenanceSession) -> String {
    let st = s.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}",
        s.metadata.name.clone().unwrap_or_default(),
        st.phase.map_or("Pending", Phase::as_str)
    );
    let _ = writeln!(out, "  target    {}", st.target_summary.clone().unwrap_or_default());
    let _ = writeln!(out, "  progress  {}", st.progress.clone().unwrap_or_else(|| "-".into()));
    if let Some(r) = st.rollout.as_ref().filter(|r| r.waves > 0) {
        let _ = writeln!(out, "  rollout   {}", rollout_line(r));
    }
    if let Some(a) = &st.approval {
        let _ = writeln!(
            out,
            "  approved  by {} ({}) at {}",
            a.approved_by, a.method, a.approved_at.0
        );
    }
    for c in &st.conditions {
        let _ = writeln!(out, "  {:<11} {:<7} {}: {}", c.type_, c.status, c.reason, c.message);
    }
    if let Some(sum) = &st.summary {
        let _ = writeln!(
            out,
            "  computers {} passed, {} partially, {} failed, {} missed, {} cancelled, {} running, {} waiting (of {})",
            sum.passed,
            sum.partially_passed,
            sum.failed,
            sum.missed,
            sum.cancelled,
            sum.running,
            sum.waiting,
            sum.computers
        );
    }
    // The status already lists the worst computers first; failed actions lead.
    for c in &st.computers {
        let _ = writeln!(
            out,
            "\n  {} (#{}), session {}: {}",
            c.name.clone().unwrap_or_default(),
            c.id,
            c.session_id,
            c.session_status
        );
        let stages = [
            ("detection", &c.stages.detection),
            ("execution", &c.stages.execution),
            ("resolution", &c.stages.resolution),
            ("inventory", &c.stages.inventory),
        ];
        let line: Vec<String> = stages
            .iter()
            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n} {v}")))
            .collect();
        if !line.is_empty() {
            let _ = writeln!(out, "    stages  {}", line.join(", "));
        }
        let mut actions = c.actions.clone();
        actions.sort_by_key(|a| !matches!(a.result.as_deref(), Some("Failed" | "Indeterminable")));
        for a in actions {
            let versions = match (&a.detected_version, &a.desired_version) {
                (Some(d), Some(w)) if d != w => format!(" {d} -> {w}"),
                (None, Some(w)) => format!(" -> {w}"),
                _ => String::new(),
            };
            let why = a
                .message
                .clone()
                .or(a.result_reason.clone())
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {:<14} {:<28} {}{versions}{why}",
                a.result.clone().unwrap_or_else(|| "-".into()),
                a.name,
                a.action_type.clone().unwrap_or_default()
            );
        }
    }
    out
}

pub fn logs(s: &MaintenanceSession) -> String {
    let st = s.status.clone().unwrap_or_default();
    let mut out = String::new();
    for line in &st.log_tail {
        let time = line.time.as_ref().map(|t| t.0.to_string()).unwrap_or_default();
        let _ = writeln!(out, "{time}  [session {}] {}", line.session_id, line.message);
    }
    let ids: Vec<i32> = st
        .immybot
        .iter()
        .flat_map(|r| r.attempts.iter().flat_map(|a| a.session_ids.clone()))
        .collect();
    let _ = writeln!(
        out,
        "(the operator keeps the last lines only; full logs are in ImmyBot, sessions {ids:?})"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_reads_as_one_line() {
        let r: immybot_operator::api::RolloutStatus = serde_json::from_value(serde_json::json!({
            "pilotSize": 2, "waveSize": 4, "waves": 4, "currentWave": 3, "started": 10, "passed": 9,
            "failed": 1, "remaining": 2, "failureBudget": 0, "budgetLeft": 0, "acceptedFailures": 1
        }))
        .unwrap();
        assert_eq!(
            rollout_line(&r),
            "wave 3 of 4 (wave 1 is the pilot of 2): 10 started, 9 passed, 1 failed, 2 remaining; failure budget 0 (0 left), 1 failure(s) accepted on resume"
        );
    }
}
