//! The MaintenanceSession controller.
//!
//! The core decides and touches no client: `state_machine` (observed state
//! in, next status and step out), with `attempts` (attempt bookkeeping, the
//! timeout) and `phase` (phase, conditions, approval record), `approval`,
//! `status_mapping`, `deferrable` (which writes can wait), `start_request`,
//! `digest`, `group_id`. The shell performs what it decides: `reconciler`
//! (inside `finalizer()`), `session_reader` and `action_reader` (what
//! ImmyBot shows, through `immybot_cache`), `start_protocol`,
//! `target_resolution`, `status_writer` and `write_gate` (API-server writes
//! in order of importance), `poller`, `run`.

mod action_reader;
mod approval;
mod attempts;
mod clock;
mod conditions;
mod context;
mod controls;
mod deferrable;
mod digest;
mod error;
mod events;
mod group_id;
mod immybot_cache;
pub mod maintenance_schedule;
mod observer;
mod phase;
mod poller;
mod reconciler;
pub mod rollout;
mod rollout_planning;
mod run;
pub mod schedule;
mod session_reader;
mod start_protocol;
mod start_request;
mod state_machine;
mod status_mapping;
mod status_writer;
mod target_resolution;
pub mod windows;
pub mod write_gate;

#[cfg(test)]
mod properties;

pub use action_reader::attach_actions;
pub use approval::{ApprovalMethod, ApprovalPolicy, Verdict, evaluate as evaluate_approval};
pub use clock::Clock;
pub use context::{Context, CrashPoint, Timing};
pub use digest::ApprovalDigest;
pub use error::Error;
pub use group_id::SessionGroupId;
pub use immybot_cache::{ActiveSessions, ImmyBotCache};
pub use observer::{ControllerObserver, NoObserver};
pub use reconciler::FINALIZER;
pub use run::{Scope, run};
pub use start_request::{StartTargets, start_request};
pub use state_machine::{Decision, Observed, Step, decide, is_settled, needs_resolution, parse_duration};
pub use status_mapping::{Aggregate, Mapped, log_tail, map_sessions};
pub use write_gate::{WriteGate, WritePriority};
