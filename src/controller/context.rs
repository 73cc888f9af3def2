//! What every reconcile shares: clients, policy, timing. One `Context`,
//! nothing global.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::{Recorder, Reporter};

use super::approval::ApprovalPolicy;
use super::observer::{ControllerObserver, NoObserver};
use crate::api::MaintenanceApproval;
use crate::immybot::ImmyBotClient;

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

/// Where a test can make the controller "crash" inside the start protocol:
/// the reconcile stops there as if the process died. Never set in production.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CrashPoint {
    #[default]
    Never,
    /// After the intent is recorded, before the start call is sent.
    AfterIntent,
    /// After ImmyBot answered, before the session ids are recorded.
    AfterStart,
    /// After a MaintenanceSchedule's run was created, before its
    /// `lastScheduleTime` is recorded.
    AfterRunCreated,
    /// `AfterStart`, but only at the start of attempt N (a rollout's later
    /// wave: the crash comes mid-rollout).
    AfterStartOfAttempt(i32),
}

pub struct Context {
    pub client: kube::Client,
    pub immybot: ImmyBotClient,
    /// The poller's client, with its own share of the ImmyBot budget; `None`
    /// means it shares `immybot`'s.
    pub poll_immybot: Option<ImmyBotClient>,
    /// The ImmyBot instance's base URL, recorded in status.
    pub instance: String,
    pub policy: ApprovalPolicy,
    pub timing: Timing,
    pub recorder: Recorder,
    pub crash_point: CrashPoint,
    /// Set once a crash point was hit: from then on this controller does
    /// nothing, as a dead process would (tests only).
    pub crashed: std::sync::atomic::AtomicBool,
    pub observer: Arc<dyn ControllerObserver>,
    /// What ImmyBot told that has not changed since (see `immybot_cache`).
    pub immybot_cache: super::immybot_cache::ImmyBotCache,
    /// ImmyBot's active sessions as the poller's last cycle listed them.
    pub active_sessions: Arc<super::immybot_cache::ActiveSessions>,
    /// The MaintenanceApprovals, as the controller's watch keeps them.
    pub approvals: ApprovalIndex,
    /// ImmyBot's running-schedule ids, shared by the schedule reconciles.
    pub running_schedules: super::schedule::running::RunningSchedules,
    /// Versions this controller replaced that the cache may still show.
    pub superseded: Arc<super::status_writer::SupersededVersions>,
    /// "Now" for every decision (tests move it).
    pub clock: Arc<super::clock::Clock>,
    /// The operator's own Kubernetes user name, learnt once (the requester of
    /// the runs it creates for MaintenanceSchedules).
    pub identity: tokio::sync::OnceCell<String>,
    /// The MaintenanceSchedules' runs (sessions with the schedule label), as
    /// the schedule controller's own watch of them keeps them.
    pub schedule_runs: StoreSlot<crate::api::MaintenanceSession>,
    /// The MaintenanceSchedules, as their controller's watch keeps them (a
    /// run's standing approval is checked against its schedule here).
    pub maintenance_schedules: StoreSlot<crate::api::MaintenanceSchedule>,
    /// This process's API-server writes, at most so many at once, the write
    /// that ends a session first (`--max-concurrent-api-writes`).
    pub write_gate: super::write_gate::WriteGate,
    /// Objects whose progress write was put off, and how often in a row.
    pub deferrals: super::write_gate::DeferralBackoff,
    /// Events spawned and not yet sent (bounded, see `events`).
    pub pending_events: super::events::PendingEvents,
}

/// A reflector store one controller's watch fills and other reconciles
/// read: no LIST per reconcile. Until it has synced (just after start),
/// `None`: the caller reads the API server once instead.
pub struct StoreSlot<K: kube::Resource<DynamicType = ()> + 'static> {
    store: std::sync::RwLock<Option<kube::runtime::reflector::Store<K>>>,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Default for StoreSlot<K> {
    fn default() -> Self {
        Self {
            store: std::sync::RwLock::new(None),
        }
    }
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> StoreSlot<K> {
    /// The store of the run starting now (a new leadership term brings a new
    /// watch and a new store; the old one would go stale).
    pub fn set(&self, store: kube::runtime::reflector::Store<K>) {
        *self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(store);
    }

    /// The run ended: its store is no longer fed.
    pub fn clear(&self) {
        *self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The objects matching `keep`, once the store has synced.
    pub fn select(&self, keep: impl Fn(&K) -> bool) -> Option<Vec<K>> {
        let store = self
            .store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()?;
        // Not waiting: a reconcile before the first sync reads the API server instead.
        futures::FutureExt::now_or_never(store.wait_until_ready())?.ok()?;
        Some(
            store
                .state()
                .iter()
                .filter(|o| keep(o))
                .map(|o| o.as_ref().clone())
                .collect(),
        )
    }
}

/// The approvals a reconcile needs, from the store the approval watch fills.
#[derive(Default)]
pub struct ApprovalIndex(StoreSlot<MaintenanceApproval>);

impl std::ops::Deref for ApprovalIndex {
    type Target = StoreSlot<MaintenanceApproval>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl ApprovalIndex {
    /// The approvals in `namespace` that name the `kind` object `name`.
    pub fn naming_kind(
        &self,
        kind: crate::api::ApprovedKind,
        namespace: &str,
        session: &str,
    ) -> Option<Vec<MaintenanceApproval>> {
        self.0.select(|a| {
            a.metadata.namespace.as_deref() == Some(namespace) && a.spec.session_name == session && a.spec.kind == kind
        })
    }
}

impl Context {
    /// Hits the crash point `at` if it is this context's: the reconcile
    /// stops with an error and the controller does nothing more.
    pub fn crash_at(&self, at: CrashPoint, what: &'static str) -> Result<(), super::Error> {
        if at != CrashPoint::Never && self.crash_point == at {
            self.crashed.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(super::Error::SimulatedCrash(what));
        }
        Ok(())
    }

    /// The approvals in `namespace` that name the `kind` object `name`: from
    /// the approval watch's store once it has synced, else one LIST.
    pub async fn approvals_naming(
        &self,
        kind: crate::api::ApprovedKind,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<MaintenanceApproval>, super::Error> {
        if let Some(cached) = self.approvals.naming_kind(kind, namespace, name) {
            return Ok(cached);
        }
        let listed = kube::Api::<MaintenanceApproval>::namespaced(self.client.clone(), namespace)
            .list(&kube::api::ListParams::default())
            .await?;
        Ok(listed
            .items
            .into_iter()
            .filter(|a| a.spec.kind == kind && a.spec.session_name == name)
            .collect())
    }

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
                    .map_err(|e| super::Error::Identity(e.to_string()))?;
                answer
                    .status
                    .and_then(|s| s.user_info)
                    .and_then(|u| u.username)
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| super::Error::Identity("the API server's answer names no user".into()))
            })
            .await
            .cloned()
    }

    /// `crash_at` for a point inside the start of attempt `number`.
    pub fn crash_in_attempt(&self, at: CrashPoint, number: i32, what: &'static str) -> Result<(), super::Error> {
        if self.crash_point == CrashPoint::AfterStartOfAttempt(number) && at == CrashPoint::AfterStart {
            self.crashed.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(super::Error::SimulatedCrash(what));
        }
        self.crash_at(at, what)
    }

    /// Whether a crash point was hit (the "process" is dead).
    pub fn is_crashed(&self) -> bool {
        self.crashed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A context that reports to no one and never crashes on purpose; set
    /// `observer` (and, in tests, `crash_point`) before sharing it.
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
        Self {
            client,
            immybot,
            poll_immybot: None,
            instance,
            policy,
            timing,
            recorder,
            crash_point: CrashPoint::Never,
            crashed: Default::default(),
            observer: Arc::new(NoObserver),
            immybot_cache: Default::default(),
            active_sessions: Default::default(),
            approvals: Default::default(),
            running_schedules: Default::default(),
            superseded: Default::default(),
            clock: Default::default(),
            identity: Default::default(),
            schedule_runs: Default::default(),
            maintenance_schedules: Default::default(),
            write_gate: super::write_gate::WriteGate::new(super::write_gate::DEFAULT_SLOTS),
            pending_events: Default::default(),
            deferrals: Default::default(),
        }
    }
}
