//! The ImmyBotSchedule controller: one ImmyBot schedule per object, created
//! once approved, kept as approved, deleted or left on deletion.
//!
//! - `definition`: the spec as ImmyBot's schedule definition, and its
//!   digests (pure; every guess about ImmyBot's schedule semantics is there).
//! - `machine`: the pure decision (observed state in, one step out).
//! - `reconciler`: observes ImmyBot, decides, performs one step.
//! - `runs`: the runs, from the sessions carrying the schedule's id.
//! - `running`: ImmyBot's running-schedule ids, one call shared by all.

pub mod definition;
pub mod machine;
pub mod reconciler;
pub mod running;
pub mod runs;
