//! The ImmyBot client against the simulator, over real HTTP on loopback.
//! Each test starts its own simulator (manual clock) and client.
// Fixtures panic on setup failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod actions;
mod admin;
mod calls;
mod compliance;
mod contract;
mod lifecycle;
mod readings;
mod resilience;
mod schedules;
