//! The ImmyBotSchedule controller: one ImmyBot schedule per object, created
//! once approved, kept as approved, deleted or left on deletion.
//!
//! - `definition`: the spec as ImmyBot's schedule definition, and its
//!   digests (pure; every guess about ImmyBot's schedule semantics is there).
//! - `reconciler`: observes ImmyBot, decides, performs one step.

pub mod definition;
pub mod machine;
pub mod reconciler;
pub mod runs;
