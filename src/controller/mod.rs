//! The controllers: what every kind shares, and one folder per kind.
//!
//! Shared (no arrow from here up into a kind): `context` (clients, policy,
//! timing, and [`KindContext`], which adds the state a kind owns), `error`,
//! `events` and `event_backlog`, `clock` (the controllers' "now", whole
//! seconds as stored, durations as written), `conditions`, `approval` (the
//! approval model: the verdict, digests, standing approvals, where
//! approvals are read from), `blast_radius` (what an approval would let
//! loose, summarised, and a tenant tree's computers), `controls` (who used a control),
//! `status_writer` and `write_gate` (API-server writes in order of
//! importance), `store_slot`, `spec_mapping` and `windows` (what the kinds'
//! specs share, in ImmyBot's words and in time), `observer` (metrics
//! hooks), `scope` (the namespaces served), `spans` (the span each reconcile runs in), `connections` (which ImmyBot
//! instance an object's calls go to: the flags' and the connection
//! objects', each with its own client and budget, and their controller),
//! `test_hooks` (crash points,
//! tests only), `trigger_hold` (triggers for a running object wait for
//! its end, outside kube-runtime's scheduler), and `run`, which only joins the kinds and feeds them the
//! one approval watch.
//!
//! Each kind has the same shape: `machine` (the pure decision: observed
//! state in, next status and step out, split into named stages),
//! `reconciler` (the shell that observes, decides and performs), its
//! readers, its tests, and a `mod.rs` with its `run` and the state it owns.
//! - `session`: MaintenanceSession.
//! - `immybot_schedule`: ImmyBotSchedule (one of ImmyBot's own schedules).
//! - `maintenance_schedule`: MaintenanceSchedule (sessions on a cron).
//! - `session_search`: SessionSearch (a question about ImmyBot's sessions,
//!   answered once).
//! - `maintenance_report`: MaintenanceReport (what maintenance did over a
//!   period, for people outside the cluster, answered once).

mod answered_once;
pub mod approval;
pub mod blast_radius;
mod clock;
mod conditions;
pub mod connections;
mod context;
mod controls;
mod error;
mod event_backlog;
pub mod event_reasons;
mod events;
pub mod health_gate;
pub mod immybot_schedule;
pub mod maintenance_report;
pub mod maintenance_schedule;
pub mod notifications;
mod observer;
mod run;
mod scope;
pub mod session;
pub mod session_search;
mod spans;
mod spec_mapping;
mod status_writer;
mod store_slot;
mod test_hooks;
mod trigger_hold;
pub mod windows;
pub mod write_gate;

pub use approval::digest::ApprovalDigest;
pub use approval::{ApprovalMethod, ApprovalPolicy, PilotRule, PlanRule, Verdict, evaluate as evaluate_approval};
pub use clock::{Clock, parse_duration, stored_time};
pub use context::{Context, KindContext, Timing};
pub use error::Error;
pub use observer::{ControllerObserver, NoObserver};
pub use run::run;
pub use scope::Scope;
pub use session::group_id::SessionGroupId;
pub use session::reconciler::FINALIZER;
pub use session::{ActiveSessions, ImmyBotCache, attach_actions};
#[cfg(any(test, feature = "test-hooks"))]
pub use test_hooks::{CrashHooks, CrashPoint};
pub use write_gate::{WriteGate, WritePriority};
