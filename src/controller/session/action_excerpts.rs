//! Why an action failed, from its own log: which failed actions get an
//! excerpt, and what of the log it keeps. Pure; the reads are the
//! reconciler's (`action_logs`), once per action, kept in the cache.
//!
//! Bounded for the status size rule: at most `MAX_ACTIONS` excerpts per
//! object, `MAX_LINES` lines each, `MAX_LINE_CHARS` characters a line, so
//! excerpts add at most about 10 KB to a status however large the tenant.

use immybot_client::{ActionLogLine, MaintenanceActionResult, MaintenanceSession, SessionLogType};

use super::status_mapping::listing_order;

/// Failed actions per object that get an excerpt.
pub const MAX_ACTIONS: usize = 10;
/// Lines per excerpt.
pub const MAX_LINES: usize = 5;
/// Characters per line.
pub const MAX_LINE_CHARS: usize = 200;

/// The failed actions worth an excerpt, in the order status lists their
/// computers (worst first), at most `MAX_ACTIONS`.
pub fn worth_excerpts(sessions: &[MaintenanceSession]) -> Vec<i32> {
    listing_order(sessions)
        .into_iter()
        .flat_map(|s| s.maintenance_actions.iter().flatten())
        .filter(|a| a.result == Some(MaintenanceActionResult::Failed))
        .map(|a| a.id)
        .take(MAX_ACTIONS)
        .collect()
}

/// What of an action's log status keeps: its error lines (the last
/// `MAX_LINES` of them), then the lines before its end to fill up, in the
/// order they came, each on one line and cut to `MAX_LINE_CHARS`.
pub fn excerpt(lines: &[ActionLogLine]) -> Vec<String> {
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].log_type == Some(SessionLogType::Error))
        .collect();
    let mut kept: Vec<usize> = errors.iter().rev().take(MAX_LINES).copied().collect();
    for i in (0..lines.len()).rev() {
        if kept.len() >= MAX_LINES {
            break;
        }
        if !kept.contains(&i) {
            kept.push(i);
        }
    }
    kept.sort_unstable();
    kept.into_iter().map(|i| one_line(&lines[i].message)).collect()
}

fn one_line(message: &str) -> String {
    let flat: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_LINE_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_LINE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::{MaintenanceAction, SessionStatus};

    fn line(kind: SessionLogType, message: &str) -> ActionLogLine {
        ActionLogLine {
            time: None,
            log_type: Some(kind),
            message: message.into(),
        }
    }

    #[test]
    fn error_lines_are_kept_and_the_last_lines_fill_up_in_order() {
        let mut lines: Vec<ActionLogLine> = (0..20)
            .map(|i| line(SessionLogType::Generic, &format!("step {i}")))
            .collect();
        lines[2] = line(SessionLogType::Error, "early error");
        lines[15] = line(SessionLogType::Error, "exit code 1603");
        assert_eq!(
            excerpt(&lines),
            ["early error", "exit code 1603", "step 17", "step 18", "step 19"]
        );
    }

    #[test]
    fn many_errors_keep_the_last_ones_and_short_logs_stay_whole() {
        let lines: Vec<ActionLogLine> = (0..8).map(|i| line(SessionLogType::Error, &format!("e{i}"))).collect();
        assert_eq!(excerpt(&lines), ["e3", "e4", "e5", "e6", "e7"]);
        let short = [
            line(SessionLogType::Command, "run"),
            line(SessionLogType::Error, "failed"),
        ];
        assert_eq!(excerpt(&short), ["run", "failed"]);
        assert!(excerpt(&[]).is_empty());
    }

    #[test]
    fn a_line_is_one_line_and_cut_at_the_bound() {
        let long = format!("a\nb\t{}", "x".repeat(500));
        let got = excerpt(&[line(SessionLogType::Generic, &long)]);
        assert!(got[0].starts_with("a b x"));
        assert_eq!(got[0].chars().count(), MAX_LINE_CHARS);
        assert!(got[0].ends_with('…'));
    }

    fn failed_session(id: i32, computer: i32, failed_actions: i32) -> MaintenanceSession {
        MaintenanceSession {
            id,
            computer_id: Some(computer),
            session_status: Some(SessionStatus::Failed),
            maintenance_actions: Some(
                (0..failed_actions)
                    .map(|i| MaintenanceAction {
                        id: id * 100 + i,
                        maintenance_session_id: id,
                        result: Some(MaintenanceActionResult::Failed),
                        ..Default::default()
                    })
                    .chain(std::iter::once(MaintenanceAction {
                        id: id * 100 + 99,
                        maintenance_session_id: id,
                        result: Some(MaintenanceActionResult::Success),
                        ..Default::default()
                    }))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_worst_computers_failed_actions_are_chosen_up_to_the_bound() {
        // 30 failed computers, the one with the most failed actions first.
        let mut sessions: Vec<MaintenanceSession> = (1..=30).map(|i| failed_session(i, 1000 + i, 1)).collect();
        sessions.push(failed_session(50, 2000, 3));
        let chosen = worth_excerpts(&sessions);
        assert_eq!(chosen.len(), MAX_ACTIONS);
        assert_eq!(
            &chosen[..3],
            &[5000, 5001, 5002],
            "the worst computer first: {chosen:?}"
        );
        assert!(
            chosen.iter().all(|id| id % 100 != 99),
            "only failed actions: {chosen:?}"
        );
    }
}
