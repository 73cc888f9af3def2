//! immybot-operator: ImmyBot maintenance sessions as Kubernetes objects.
//!
//! The crate is laid out so that its architecture shows in the tree:
//! - [`api`]: the custom resource types and their documentation; no I/O.
//! - [`immybot`]: the ImmyBot HTTP API (wire types, client, auth); no Kubernetes types.
//! - [`controller`]: decides what to do (pure) and does it (a thin shell).
//! - [`runtime`]: the operator as a process: config, admin server, metrics, leader election.
//! - [`sim`]: a stateful ImmyBot simulator that every test and demo runs against.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod api;
pub mod controller;
pub mod cron;
pub mod immybot;
pub mod runtime;
pub mod sim;

#[cfg(test)]
mod test_fixtures;
