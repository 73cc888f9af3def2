//! What every kind's reconciles share: clients, policy, timing, the
//! approvals, the write gate, events, the clock. One `Context`, nothing
//! global. What belongs to one kind (a cache, a store of its own objects)
//! is that kind's state, beside this in a [`KindContext`].

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::{Recorder, Reporter};

use super::approval::ApprovalPolicy;
use super::approval::stores::Approvals;
use super::observer::{ControllerObserver, NoObserver};
use immybot_client::ImmyBotClient;

/// Timing of the controller; the defaults suit production, tests shorten them.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// How long an unanswered start may still be in flight in another
    /// controller before its sessions are looked up. Must exceed the ImmyBot
    /// request timeout, or a slow start could be taken for a lost one.
    pub start_grace: Duration,
    /// How long until computers ImmyBot reported busy with another session
    /// are tried again (doubling while they stay busy, up to ten times this).
    pub busy_retry: Duration,
    /// How long deletion waits for ImmyBot to confirm a cancellation.
    pub cancel_confirm_timeout: Duration,
    /// Poll interval while sessions run, and while nothing runs.
    pub poll_active: Duration,
    pub poll_idle: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            start_grace: Duration::from_secs(90),
            busy_retry: Duration::from_secs(60),
            cancel_confirm_timeout: Duration::from_secs(120),
            poll_active: Duration::from_secs(10),
            poll_idle: Duration::from_secs(60),
        }
    }
}

/// Cloning shares everything but the connection: [`Context::through`]
/// makes one per ImmyBot connection, with the same approvals, write gate,
/// events, clock and crash point.
#[derive(Clone)]
pub struct Context {
    pub client: kube::Client,
    /// The ImmyBot client of this context's connection.
    pub immybot: ImmyBotClient,
    /// The ImmyBot instance's base URL, recorded in status.
    pub instance: String,
    /// Which connection object `immybot` is (absent: the operator's flags).
    pub connection: Option<crate::api::ConnectionRef>,
    /// Every connection: the operator's flags and the connection objects.
    pub connections: super::connections::Connections,
    pub policy: ApprovalPolicy,
    pub timing: Timing,
    pub recorder: Recorder,
    /// Where a test stops this controller (tests only).
    #[cfg(any(test, feature = "test-hooks"))]
    pub crash: Arc<super::test_hooks::CrashHooks>,
    pub observer: Arc<dyn ControllerObserver>,
    /// What every kind's approvals are judged from: the approvals and the
    /// MaintenanceSchedules whose standing approvals cover runs, as the
    /// watches keep them.
    pub approvals: Arc<Approvals>,
    /// Versions this controller replaced that the cache may still show.
    pub superseded: Arc<super::status_writer::SupersededVersions>,
    /// "Now" for every decision (tests move it).
    pub clock: Arc<super::clock::Clock>,
    /// The operator's own Kubernetes user name, learnt once (the requester of
    /// the runs it creates for MaintenanceSchedules).
    pub identity: Arc<tokio::sync::OnceCell<String>>,
    /// This process's API-server writes, at most so many at once, the write
    /// that ends a session first (`--max-concurrent-api-writes`).
    pub write_gate: super::write_gate::WriteGate,
    /// Whether a failed action's status carries an excerpt of its log
    /// (`--action-log-excerpts`, on by default).
    pub action_log_excerpts: bool,
    /// Events spawned and not yet sent (bounded, see `events`).
    pub pending_events: super::event_backlog::PendingEvents,
    /// This shard's objects (`--shard-selector`, a label selector on
    /// `immybot.io/shard`); `None`: every object in scope.
    pub shard_selector: Option<String>,
    /// Where notifications go (`--default-cloud-events-sink`); `None`:
    /// nothing is recorded or sent.
    pub notifications: Option<Arc<super::notifications::Notifications>>,
}

impl Context {
    /// The operator's own user name, asked of the API server once
    /// (SelfSubjectReview): the `requestedBy` of the runs it creates.
    pub async fn operator_identity(&self) -> Result<String, super::Error> {
        use k8s_openapi::api::authentication::v1::SelfSubjectReview;
        self.identity
            .get_or_try_init(|| async {
                let api: kube::Api<SelfSubjectReview> = kube::Api::all(self.client.clone());
                let answer = api
                    .create(&kube::api::PostParams::default(), &SelfSubjectReview::default())
                    .await
                    .map_err(super::error::IdentityError::Review)?;
                answer
                    .status
                    .and_then(|s| s.user_info)
                    .and_then(|u| u.username)
                    .filter(|u| !u.is_empty())
                    .ok_or(super::Error::Identity(super::error::IdentityError::NoUserName))
            })
            .await
            .cloned()
    }

    /// How a kind watches its own objects: this shard's only.
    pub fn owned_objects(&self) -> kube::runtime::watcher::Config {
        self.owned_objects_also("")
    }

    /// The same, narrowed by `selector` as well.
    pub fn owned_objects_also(&self, selector: &str) -> kube::runtime::watcher::Config {
        let both: Vec<&str> = [selector, self.shard_selector.as_deref().unwrap_or_default()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let config = kube::runtime::watcher::Config::default();
        if both.is_empty() {
            config
        } else {
            config.labels(&both.join(","))
        }
    }

    /// This context, reaching ImmyBot through `connection` instead.
    pub fn through(&self, connection: &super::connections::LiveConnection) -> Context {
        Context {
            immybot: connection.client.clone(),
            instance: connection.url.clone(),
            connection: connection.key.reference(),
            ..self.clone()
        }
    }

    /// Whether a test's crash point was hit: a dead process does nothing.
    /// Always false outside the tests.
    pub fn is_crashed(&self) -> bool {
        #[cfg(any(test, feature = "test-hooks"))]
        return self.crash.is_crashed();
        #[cfg(not(any(test, feature = "test-hooks")))]
        false
    }

    /// A context that reports to no one and never crashes on purpose; set
    /// `observer` (and, in tests, `crash`) before sharing it.
    pub fn new(
        client: kube::Client,
        immybot: ImmyBotClient,
        instance: String,
        policy: ApprovalPolicy,
        timing: Timing,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "immybot-operator".into(),
                instance: None,
            },
        );
        let connections = super::connections::Connections::new(immybot.clone(), instance.clone());
        Self {
            client,
            immybot,
            instance,
            connection: None,
            connections,
            policy,
            timing,
            recorder,
            #[cfg(any(test, feature = "test-hooks"))]
            crash: Default::default(),
            observer: Arc::new(NoObserver),
            approvals: Default::default(),
            superseded: Default::default(),
            clock: Default::default(),
            identity: Default::default(),
            write_gate: super::write_gate::WriteGate::new(super::write_gate::DEFAULT_SLOTS),
            action_log_excerpts: true,
            pending_events: Default::default(),
            shard_selector: None,
            notifications: None,
        }
    }
}

/// What one kind's reconciles get: the shared context, and the state that
/// kind owns (its caches and stores). Reads as the shared `Context`.
pub struct KindContext<S> {
    pub shared: Arc<Context>,
    pub state: S,
}

impl<S> KindContext<S> {
    pub fn new(shared: Arc<Context>, state: S) -> Self {
        Self { shared, state }
    }
}

impl<S> std::ops::Deref for KindContext<S> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.shared
    }
}
