//! The ImmyBot HTTP API: wire types, the client, authentication and pacing,
//! and the cron expressions ImmyBot's schedules (and the operator's
//! MaintenanceSchedules) are written in. No Kubernetes types live here; the
//! operator's controller maps between the two, and the simulator
//! (`immybot-sim`) serves the same wire types.
//!
//! The contract is the instance's OpenAPI document and the notes beside it
//! (`tests/data/immybot-openapi.json`, `docs/immybot-api.md`). Every guess
//! about a field's meaning is marked `GUESS` where it is made.

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

mod auth;
mod client;
mod config;
pub mod cron;
mod dx;
mod enums;
mod error;
mod log_lines;
mod lookups;
mod pacing;
mod schedule;
mod start;
mod windows_zones;
mod wire;

pub use client::compliance::{ComplianceRows, NonCompliance};
pub use client::{CallObserver, ImmyBotClient, StartEndpoint};
pub use config::{
    AuthConfig, ClientConfig, DEFAULT_AUTHORITY_HOST, EnumEncoding, Limits, RetryPolicy, Secret, SecretSource,
};
pub use dx::{ActionQuery, GroupCount, MAX_TAKE, Page, SessionQuery, dx_date};
pub use enums::*;
pub use error::{ErrorKind, ImmyBotError, MAX_BODY_IN_ERROR};
pub use log_lines::{ActionLogLine, REDACTED, blank_parameters, shown_lines};
pub use lookups::LookupAges;
pub use pacing::{Priority, RecordingSleeper, Sleeper, TokioSleeper};
pub use schedule::{DEFINITION_FIELDS, Schedule, ScheduleDefinition, UpdateScheduleRequest};
pub use start::{ComputerTarget, StartOutcome, StartRequest, StartResponseBody, StartedSession, TenantTarget};
pub use windows_zones::{iana_of, same_zone, windows_id};
pub use wire::*;
