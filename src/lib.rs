//! immybot-operator: ImmyBot maintenance sessions as Kubernetes objects.
//!
//! The crate is laid out so that its architecture shows in the tree:
//! - [`api`]: the custom resource types and their documentation; no I/O.
//! - [`controller`]: decides what to do (pure) and does it (a thin shell),
//!   what every kind shares, and one folder per kind.
//! - [`runtime`]: the operator as a process: config, admin server, metrics, leader election.
//!
//! Beside it in the workspace: `immybot-client` (the ImmyBot HTTP API: wire
//! types, client, auth, cron; no Kubernetes types), `immybot-sim` (the
//! simulator every test and demo runs against; never linked into the
//! operator) and `immybot-local` (the quickstart).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod api;
pub mod controller;
pub mod render;
pub mod runtime;

#[cfg(test)]
mod test_fixtures;
