//! `status.notifications`: the CloudEvents a MaintenanceSession owes (or
//! has delivered) to the configured sink, as Tekton records a run's
//! `cloudEvents`. The record is the outbox: it is written with the status
//! change it reports, so a restart loses nothing and a redelivery carries
//! the same id.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// At most this many records are kept.
pub const MAX_NOTIFICATIONS: usize = 10;

/// One occurrence and its delivery.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// The CloudEvent's `id`: the same on every delivery of this
    /// occurrence, so a receiver can drop duplicates.
    pub id: String,
    /// The CloudEvent's `type` (`io.immybot.maintenancesession.rollout.halted.v1`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Why, as the condition said (`HealthGateFailed`, `NotCompliant`).
    pub reason: String,
    /// What happened, in the words of the status (at most 512 characters).
    pub message: String,
    /// When it happened.
    pub time: Time,
    pub state: NotificationState,
    /// When the sink accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Time>,
}

/// Where a notification's delivery stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum NotificationState {
    /// Not delivered yet: tried again with a growing delay.
    Pending,
    /// The sink answered 2xx.
    Sent,
    /// Not delivered within `--notification-retry-seconds`: given up (an event
    /// `NotificationAbandoned` says so).
    Abandoned,
}
