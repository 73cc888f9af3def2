//! The MaintenanceSchedule controller: MaintenanceSessions created on a
//! cron, CronJob-style, each one a run with the session's own safety.
//!
//! - `due`: which scheduled time is due now (pure, cron and time zone).
//! - `template`: a run's name, object and the template digest (pure).
//! - `standing`: whether a run is covered by a standing approval of its
//!   schedule's template (pure; the session controller asks it).
//! - `machine`: the pure decision (observed state in, steps out).
//! - `reconciler`: the shell that observes, decides and performs.
//!
//! Two promises, and where they are kept: a time is run at most once (run
//! names come from the scheduled time, so a repeated create meets
//! AlreadyExists; `lastScheduleTime` moves only after the create, and no
//! run newer than it is ever pruned); nothing starts unapproved (a run is a
//! MaintenanceSession and starts only through its own approval check).

pub mod due;
pub mod machine;
#[cfg(test)]
mod machine_tests;
pub mod reconciler;
pub mod run_approval;
pub mod standing;
pub mod template;
