//! Past maintenance, for reports: weeks of ImmyBot's own scheduled runs,
//! played through the engine as they would have run (each computer's
//! software, failures and offline behaviour as seeded), so that the rows a
//! report reads are the engine's own, not made up beside it. The computers
//! are left as they were before: history is a record, and what runs next
//! starts from the fleet as seeded.

use jiff::{SignedDuration, Timestamp};

use super::{Engine, RunMode, SessionArgs};
use immybot_client::{ComputerOfflineMaintenanceSessionBehavior, RebootPreference};

/// The id the seeded runs carry as `scheduledId`: ImmyBot's own weekly
/// schedule, as a tenant's usual maintenance is.
pub const HISTORY_SCHEDULE_ID: i32 = 9_001;

impl Engine {
    /// Runs a weekly maintenance of every computer at each of the `weeks`
    /// weeks before `now` (oldest first), each run played to its end.
    /// Returns how many sessions it made.
    pub fn seed_history(&mut self, weeks: u32, now: Timestamp) -> usize {
        let args = SessionArgs {
            mode: RunMode::Full,
            reboot: RebootPreference::Normal,
            offline: ComputerOfflineMaintenanceSessionBehavior::Skip,
            skip_background_job: true,
            group_id: None,
            deployment_id: None,
            only_identifier: None,
            rerun_of_action: None,
        };
        let present = self.computers.clone();
        let mut made = 0;
        for week in (1..=i64::from(weeks)).rev() {
            let at = now - SignedDuration::from_hours(24 * 7 * week);
            let computers: Vec<i32> = self.computers.keys().copied().collect();
            for computer in computers {
                if self.active_session_of(computer).is_some() {
                    continue;
                }
                let id = self.create_session(computer, args.clone(), at);
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.scheduled_id = Some(HISTORY_SCHEDULE_ID);
                }
                made += 1;
            }
            // Every run of the week ends within the day.
            self.advance_to(at + SignedDuration::from_hours(24));
        }
        self.computers = present;
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::FleetSeed;
    use immybot_client::SessionStatus;

    #[test]
    fn every_computer_runs_once_a_week_and_every_run_ends_in_its_week() {
        let seed = FleetSeed::generate(2, 5);
        let mut engine = Engine::new(&seed, Default::default());
        let installed = |e: &Engine| -> Vec<_> { e.computers.values().map(|c| c.installed.clone()).collect() };
        let before = installed(&engine);
        let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let made = engine.seed_history(4, now);
        assert_eq!(made, 4 * 10);
        let sessions: Vec<_> = engine.sessions().collect();
        assert_eq!(sessions.len(), 40);
        for s in &sessions {
            assert!(
                s.session_status.as_ref().is_some_and(SessionStatus::is_terminal),
                "{s:?}"
            );
            assert_eq!(s.scheduled_id, Some(HISTORY_SCHEDULE_ID));
            let created = s.created_date_utc.expect("created").0;
            assert!(created < now - SignedDuration::from_hours(24 * 6));
        }
        assert_eq!(installed(&engine), before, "the fleet is left as seeded");
    }
}
