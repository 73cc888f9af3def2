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
    let offline = if r.offline > 0 {
        format!(" ({} offline, not counted as failures)", r.offline)
    } else {
        String::new()
    };
    // The health gate's halt: what fired, and whether a person resumed.
    let gate = r.gate_halt.as_ref().map_or(String::new(), |h| {
        format!(
            "; the health gate fired ({}){}",
            h.firing.join(", "),
            if h.resumed {
                ", resumed: the next wave starts once it is clear"
            } else {
                ""
            }
        )
    });
    format!(
        "wave {} of {}{pilot}: {} started, {} passed, {} failed{offline}, {} remaining; failure budget {} ({} left){accepted}{gate}",
        r.current_wave, r.waves, r.started, r.passed, r.failed, r.remaining, r.failure_budget, r.budget_left
    )
}

/// A tenant tree's rollout per tenant, troubled tenants first, at most ten.
pub fn rollout_tenants(r: &immybot_operator::api::RolloutStatus) -> Option<String> {
    if r.tenants.is_empty() {
        return None;
    }
    let mut tenants: Vec<&immybot_operator::api::RolloutTenant> = r.tenants.iter().collect();
    tenants.sort_by_key(|t| std::cmp::Reverse((t.failed, t.offline)));
    let shown: Vec<String> = tenants
        .iter()
        .take(10)
        .map(|t| {
            let mut notes = Vec::new();
            if t.failed > 0 {
                notes.push(format!("{} failed", t.failed));
            }
            if t.offline > 0 {
                notes.push(format!("{} offline", t.offline));
            }
            if let Some(b) = t.failure_budget {
                notes.push(format!("budget {b}"));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            };
            format!(
                "{} {}{notes}",
                t.name.clone().unwrap_or_else(|| format!("#{}", t.id)),
                t.pilot + t.computers
            )
        })
        .collect();
    let more = r.tenants.len().saturating_sub(shown.len());
    Some(if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    })
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
    // What the approval is of, first: the plan, then the blast radius.
    if let Some(p) = &st.plan {
        out.push_str(&crate::render_plan::plan_lines(p));
    }
    if let Some(b) = &st.blast_radius {
        let _ = writeln!(out, "  radius    {}", radius_line(b));
    }
    let _ = writeln!(out, "  progress  {}", st.progress.clone().unwrap_or_else(|| "-".into()));
    // After the end: what ImmyBot still shows out of compliance.
    if let Some(c) = st.conditions.iter().find(|c| c.type_ == "Compliant") {
        let _ = writeln!(out, "  compliant {}: {}", c.status, c.message);
    }
    if let Some(r) = st.rollout.as_ref().filter(|r| r.waves > 0) {
        let _ = writeln!(out, "  rollout   {}", rollout_line(r));
        if let Some(tenants) = rollout_tenants(r) {
            let _ = writeln!(out, "  tenants   {tenants}");
        }
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
    if let Some(r) = &st.action_reruns {
        let _ = writeln!(
            out,
            "  reruns    {}",
            r.last_request
                .clone()
                .unwrap_or_else(|| format!("request {}", r.requests))
        );
        for a in &r.actions {
            let session = a
                .rerun_session_id
                .map(|id| format!(" as session {id}"))
                .unwrap_or_default();
            let why = a.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {} on computer {} (action {}, asked by {}){session}{why}",
                as_written(&a.state),
                a.name,
                a.computer_id,
                a.action_id,
                a.requested_by
            );
        }
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

/// Which failed actions `logs` shows: a computer (name, any case, or id)
/// and an action (its name, any case); none shows them all.
#[derive(Default)]
pub struct LogFilter {
    pub computer: Option<String>,
    pub action: Option<String>,
}

impl LogFilter {
    fn narrows(&self) -> bool {
        self.computer.is_some() || self.action.is_some()
    }

    fn computer_matches(&self, c: &immybot_operator::api::ComputerStatus) -> bool {
        self.computer.as_deref().is_none_or(|want| {
            c.id.to_string() == want || c.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(want))
        })
    }

    fn action_matches(&self, name: &str) -> bool {
        self.action
            .as_deref()
            .is_none_or(|want| name.eq_ignore_ascii_case(want))
    }
}

/// The failed actions status lists that match `filter`, one line each.
pub fn failed_actions(s: &MaintenanceSession, filter: &LogFilter) -> Vec<String> {
    let st = s.status.clone().unwrap_or_default();
    let mut out = Vec::new();
    for c in st.computers.iter().filter(|c| filter.computer_matches(c)) {
        for a in c.actions.iter().filter(|a| filter.action_matches(&a.name)) {
            if a.result.as_deref() == Some("Failed") {
                let computer = c.name.clone().unwrap_or_else(|| format!("computer {}", c.id));
                let session = a.session_id.unwrap_or(c.session_id);
                out.push(format!("{computer} [session {session}] {}", a.name));
            }
        }
    }
    out
}

/// The session's log tail (unless the filter narrows to failed actions),
/// then each failed action's own log excerpt.
pub fn logs(s: &MaintenanceSession, filter: &LogFilter) -> String {
    let st = s.status.clone().unwrap_or_default();
    let mut out = String::new();
    if !filter.narrows() {
        for line in &st.log_tail {
            let time = line.time.as_ref().map(|t| t.0.to_string()).unwrap_or_default();
            let _ = writeln!(out, "{time}  [session {}] {}", line.session_id, line.message);
        }
    }
    let mut failed = 0;
    for c in st.computers.iter().filter(|c| filter.computer_matches(c)) {
        for a in c.actions.iter().filter(|a| filter.action_matches(&a.name)) {
            if a.log_excerpt.is_empty() {
                continue;
            }
            failed += 1;
            let computer = c.name.clone().unwrap_or_else(|| format!("computer {}", c.id));
            let why = a.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            let result = a.result.as_deref().unwrap_or("?");
            let _ = writeln!(out, "\n{computer} [session {}] {} {result}{why}", c.session_id, a.name);
            for line in &a.log_excerpt {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if filter.narrows() && failed == 0 {
        let _ = writeln!(out, "no failed action with a log excerpt matches");
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

/// A blast radius in one line, with when it was measured.
pub fn radius_line(b: &immybot_operator::api::BlastRadius) -> String {
    format!(
        "{} (measured {})",
        immybot_operator::controller::blast_radius::one_line(b),
        b.measured_at.0
    )
}

/// An enum as manifests and status write it (its serde form), not Rust's
/// Debug spelling.
fn as_written<T: serde::Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_print_as_manifests_write_them() {
        #[derive(serde::Serialize, Debug)]
        #[serde(rename_all = "camelCase")]
        enum Renamed {
            DetectionOnly,
        }
        assert_eq!(as_written(&Renamed::DetectionOnly), "detectionOnly");
        assert_eq!(as_written(&immybot_operator::api::ActionRerunState::Pending), "Pending");
    }

    fn failed_session() -> MaintenanceSession {
        let mut s = MaintenanceSession::new(
            "why",
            serde_json::from_value(
                serde_json::json!({"requestedBy": "alice", "reason": "r", "target": {"computer": {"id": 102}}}),
            )
            .unwrap(),
        );
        s.status = Some(
            serde_json::from_value(serde_json::json!({
                "logTail": [{"sessionId": 7, "message": "session line"}],
                "computers": [
                    {"id": 102, "name": "FINANCE-LT", "sessionId": 7, "sessionStatus": "PartialPassed", "actions": [
                        {"name": "Legacy VPN", "result": "Failed", "message": "exit 1603",
                         "logExcerpt": ["Running script with -ApiKey [redacted]", "exit code 1603"]},
                        {"name": "Adobe Acrobat Reader", "result": "Success"}
                    ]},
                    {"id": 103, "name": "RECEPTION-PC", "sessionId": 8, "sessionStatus": "Failed", "actions": [
                        {"name": "Chrome", "result": "Failed", "logExcerpt": ["disk full"]}
                    ]}
                ]
            }))
            .unwrap(),
        );
        s
    }

    #[test]
    fn logs_show_the_tail_then_each_failed_actions_excerpt() {
        let out = logs(&failed_session(), &LogFilter::default());
        assert!(out.contains("[session 7] session line"), "{out}");
        assert!(out.contains("FINANCE-LT [session 7] Legacy VPN Failed: exit 1603\n  Running script with -ApiKey [redacted]\n  exit code 1603\n"), "{out}");
        assert!(
            out.contains("RECEPTION-PC [session 8] Chrome Failed\n  disk full"),
            "{out}"
        );
        assert!(!out.contains("Adobe"), "{out}");
    }

    #[test]
    fn status_says_what_immybot_still_shows_out_of_compliance() {
        let mut s = failed_session();
        let st = s.status.as_mut().unwrap();
        st.conditions
            .push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Compliant".into(),
                status: "False".into(),
                reason: "NotCompliant".into(),
                message: "1 of 2 computer(s) still need attention in ImmyBot: Legacy VPN (1)".into(),
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
                observed_generation: None,
            });
        let out = status(&s);
        assert!(
            out.contains("  compliant False: 1 of 2 computer(s) still need attention in ImmyBot: Legacy VPN (1)\n"),
            "{out}"
        );
        assert!(
            !status(&failed_session()).contains("compliant"),
            "nothing before it was read"
        );
    }

    #[test]
    fn logs_narrow_to_a_computer_and_an_action() {
        let by_computer = LogFilter {
            computer: Some("reception-pc".into()),
            action: None,
        };
        let out = logs(&failed_session(), &by_computer);
        assert!(
            out.contains("disk full") && !out.contains("1603") && !out.contains("session line"),
            "{out}"
        );
        let by_id_and_action = LogFilter {
            computer: Some("102".into()),
            action: Some("legacy vpn".into()),
        };
        let out = logs(&failed_session(), &by_id_and_action);
        assert!(out.contains("exit code 1603") && !out.contains("disk full"), "{out}");
        let nothing = LogFilter {
            computer: None,
            action: Some("Firefox".into()),
        };
        assert!(logs(&failed_session(), &nothing).contains("no failed action with a log excerpt matches"));
    }

    #[test]
    fn failed_actions_are_listed_as_a_rerun_would_choose_them() {
        let all = failed_actions(&failed_session(), &LogFilter::default());
        assert_eq!(
            all,
            vec!["FINANCE-LT [session 7] Legacy VPN", "RECEPTION-PC [session 8] Chrome"]
        );
        let one = LogFilter {
            computer: Some("finance-lt".into()),
            action: None,
        };
        assert_eq!(failed_actions(&failed_session(), &one).len(), 1);
    }

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
        assert_eq!(rollout_tenants(&r), None, "not a tenant tree");
        let gated: immybot_operator::api::RolloutStatus = serde_json::from_value(serde_json::json!({
            "waveSize": 2, "waves": 3, "currentWave": 1, "started": 2, "passed": 2, "remaining": 4,
            "gateHalt": {"since": "2026-12-07T01:00:00Z", "firing": ["alertmanager: EndpointDown (pc-3)"], "resumed": true}
        }))
        .unwrap();
        assert!(
            rollout_line(&gated).ends_with(
                "; the health gate fired (alertmanager: EndpointDown (pc-3)), resumed: the next wave starts once it is clear"
            ),
            "{}",
            rollout_line(&gated)
        );
    }

    #[test]
    fn a_tenant_trees_rollout_lists_troubled_tenants_first() {
        let r: immybot_operator::api::RolloutStatus = serde_json::from_value(serde_json::json!({
            "waveSize": 10, "waves": 5, "offline": 1,
            "tenants": [
                {"id": 10, "name": "MSP", "pilot": 1, "computers": 1, "failureBudget": 0},
                {"id": 11, "name": "Alpha", "pilot": 1, "computers": 2, "offline": 1, "failureBudget": 0},
                {"id": 12, "pilot": 1, "computers": 2, "failed": 1, "failureBudget": 0}
            ]
        }))
        .unwrap();
        assert_eq!(
            rollout_tenants(&r).as_deref(),
            Some("#12 3 (1 failed, budget 0), Alpha 3 (1 offline, budget 0), MSP 2 (budget 0)")
        );
        assert!(rollout_line(&r).contains("0 failed (1 offline, not counted as failures)"));
    }
}
