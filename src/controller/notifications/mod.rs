//! Notifications: CloudEvents to a sink people already read (Tekton's
//! `default-cloud-events-sink` convention), for what a person must act on
//! or should know about.
//!
//! - `occurrences`: what is worth telling, found in a status change and
//!   recorded as pending in that very write (`status.notifications`, the
//!   outbox; pure).
//! - `cloud_event`: a record as a CloudEvent (structured JSON, a stable id).
//! - `sender`: a task of its own that delivers pending records and marks
//!   them sent: at least once (a restart finds them pending in the status),
//!   retried with a growing delay and given up after `retry_for`, never in
//!   a reconcile's way.

pub mod cloud_event;
pub mod occurrences;
pub mod sender;

use std::time::Duration;

/// Where notifications go and how hard delivery tries.
pub struct Notifications {
    pub sink: url::Url,
    /// How long an undelivered notification is retried before it is given
    /// up (`--notification-retry-seconds`).
    pub retry_for: Duration,
    /// The shortest and the longest delay between tries of one record.
    pub backoff: (Duration, Duration),
    /// How long a delivered record is not sent again while the watch brings
    /// its `Sent` mark to the store (a mark that did not land is sent
    /// again after it).
    pub settle: Duration,
    http: reqwest::Client,
    /// Wakes the sender when a write recorded something new.
    wake: tokio::sync::Notify,
}

impl Notifications {
    pub fn new(sink: url::Url, retry_for: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            sink,
            retry_for,
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            settle: Duration::from_secs(30),
            http,
            wake: tokio::sync::Notify::new(),
        }
    }

    /// A status write recorded a pending notification.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
