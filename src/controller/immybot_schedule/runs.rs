//! What a schedule did: the sessions ImmyBot started for it, grouped into
//! runs. Read through the paged `dx` list filtered on `scheduledId`, newest
//! first, one page (the newest 200 sessions), so a poll costs one call
//! however long the schedule has existed.
//!
//! GUESS (ImmyBot documents no run id): the sessions of one run are created
//! together when the schedule fires; a gap of more than 15 minutes between
//! two sessions' creation starts another run.

use super::ScheduleContext;
use crate::api::{RunComputer, ScheduleRun};
use crate::controller::clock::stored_time;
use crate::controller::error::Error;
use immybot_client::{MaintenanceSession, SessionQuery, SessionStatus};

/// Runs kept in status.
const RUNS: usize = 5;
/// Computers shown in full per run.
const WORST: usize = 10;
const RUN_GAP_SECONDS: i64 = 15 * 60;

pub async fn read(ctx: &ScheduleContext, schedule_id: i32) -> Result<Vec<ScheduleRun>, Error> {
    let page = ctx
        .immybot
        .find_sessions(&SessionQuery {
            scheduled_id: Some(schedule_id),
            take: 200,
            ..Default::default()
        })
        .await?;
    // Rows are kept only if they are this schedule's (a list route that
    // ignored the filter must not lend us another schedule's sessions).
    let mine: Vec<MaintenanceSession> = page
        .items
        .into_iter()
        .filter(|s| s.scheduled_id == Some(schedule_id))
        .collect();
    Ok(group(mine))
}

/// Groups sessions (any order) into runs, newest first.
pub fn group(mut sessions: Vec<MaintenanceSession>) -> Vec<ScheduleRun> {
    sessions.retain(|s| s.created_date_utc.is_some());
    sessions.sort_by_key(|s| (s.created_date_utc, s.id));
    let mut runs: Vec<Vec<MaintenanceSession>> = Vec::new();
    for s in sessions {
        let starts_new = match runs.last().and_then(|r| r.last()) {
            Some(prev) => match (prev.created_date_utc, s.created_date_utc) {
                (Some(a), Some(b)) => b.0.as_second() - a.0.as_second() > RUN_GAP_SECONDS,
                _ => true,
            },
            None => true,
        };
        if starts_new {
            runs.push(Vec::new());
        }
        if let Some(r) = runs.last_mut() {
            r.push(s);
        }
    }
    runs.into_iter().rev().take(RUNS).map(summarise).collect()
}

fn summarise(sessions: Vec<MaintenanceSession>) -> ScheduleRun {
    let count = |f: &dyn Fn(&SessionStatus) -> bool| {
        sessions
            .iter()
            .filter(|s| s.session_status.as_ref().is_some_and(f))
            .count() as i32
    };
    let passed = count(&|s| *s == SessionStatus::Passed);
    let failed = count(&|s| {
        matches!(
            s,
            SessionStatus::Failed | SessionStatus::PartialPassed | SessionStatus::Cancelled
        )
    });
    let missed = count(&|s| matches!(s, SessionStatus::Missed));
    let running = sessions
        .iter()
        .filter(|s| !s.session_status.as_ref().is_some_and(SessionStatus::is_terminal))
        .count() as i32;
    let result = if running > 0 {
        "Running"
    } else if failed + missed == 0 {
        "Succeeded"
    } else if passed == 0 {
        "Failed"
    } else {
        "PartiallySucceeded"
    };
    let start = sessions.iter().filter_map(|s| s.created_date_utc).min();
    let end = (running == 0)
        .then(|| sessions.iter().filter_map(|s| s.updated_date_utc).max())
        .flatten();
    let mut worst: Vec<&MaintenanceSession> = sessions
        .iter()
        .filter(|s| !matches!(s.session_status, Some(SessionStatus::Passed)))
        .collect();
    worst.sort_by_key(|s| (s.session_status == Some(SessionStatus::Missed), s.id));
    ScheduleRun {
        start_time: start.map(|t| stored_time(t.0)),
        end_time: end.map(|t| stored_time(t.0)),
        result: result.into(),
        computers: sessions.len() as i32,
        passed,
        failed,
        missed,
        running,
        worst: worst
            .into_iter()
            .take(WORST)
            .map(|s| RunComputer {
                computer_id: s.computer_id.unwrap_or_default(),
                computer_name: s.computer_name.clone(),
                session_id: s.id,
                status: s
                    .session_status
                    .as_ref()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "Unknown".into()),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::WireTime;

    fn s(id: i32, created: &str, status: SessionStatus) -> MaintenanceSession {
        MaintenanceSession {
            id,
            computer_id: Some(id * 10),
            session_status: Some(status),
            created_date_utc: WireTime::parse(created),
            updated_date_utc: WireTime::parse(created),
            ..Default::default()
        }
    }

    #[test]
    fn sessions_created_together_are_one_run_newest_first() {
        let runs = group(vec![
            s(1, "2026-11-23T21:30:00Z", SessionStatus::Passed),
            s(2, "2026-11-23T21:30:04Z", SessionStatus::Failed),
            s(3, "2026-11-24T21:30:00Z", SessionStatus::Passed),
            s(4, "2026-11-24T21:31:00Z", SessionStatus::Running),
        ]);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].computers, runs[0].running, runs[0].result.as_str()),
            (2, 1, "Running")
        );
        assert_eq!(runs[0].end_time, None);
        assert_eq!(
            (runs[1].passed, runs[1].failed, runs[1].result.as_str()),
            (1, 1, "PartiallySucceeded")
        );
        assert_eq!(runs[1].worst.iter().map(|w| w.session_id).collect::<Vec<_>>(), vec![2]);
    }
}
