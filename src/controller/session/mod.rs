//! The MaintenanceSession controller.
//!
//! The core decides and touches no client: `machine` (observed state in,
//! next status and step out, in named stages), with `attempts` (attempt
//! bookkeeping, the timeout), `phase` (phase, conditions, approval record),
//! `status_mapping` (ImmyBot's sessions as status), `rollout` (waves),
//! `deferrable` (which writes can wait), `start_request` (the start body)
//! and `group_id`. The shell performs what it decides: `reconciler`
//! (inside `finalizer()`), its readers `session_reader` and
//! `action_reader` (what ImmyBot shows, through `immybot_cache`),
//! `start_protocol`, `target_resolution`, `rollout_planning`, and `poller`
//! (ImmyBot's active sessions, which trigger reconciles).

mod action_excerpts;
mod action_reader;
mod action_rerun_protocol;
pub mod action_reruns;
mod announce;
pub mod attempts;
mod blast_radius_reader;
mod by_connection;
pub mod compliance;
mod deferrable;
mod ended_reader;
mod excerpt_reader;
pub mod group_id;
mod health_gate_reading;
mod immybot_cache;
pub mod machine;
mod phase;
pub mod plan;
mod poller;
pub mod reconciler;
pub mod rollout;
mod rollout_planning;
mod session_reader;
mod start_protocol;
mod start_request;
pub mod status_mapping;
mod target_resolution;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt as _;
use kube::ResourceExt as _;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt as _, watcher};

pub use action_reader::attach_actions;
pub use immybot_cache::{ActiveSessions, ImmyBotCache};
pub use start_request::{StartTargets, start_request};

use super::approval::watch::ApprovalTriggers;
use super::context::{Context, KindContext};
use super::scope::{Scope, report_all};
use super::trigger_hold::TriggerHold;
use super::write_gate::DeferralBackoff;
use crate::api::{MaintenanceApproval, MaintenanceSession};
pub use by_connection::SessionKind;

/// What the session kind owns: what ImmyBot told that has not changed
/// since, the poller's last listing, and which objects' progress writes
/// were put off.
#[derive(Default)]
pub struct SessionState {
    pub immybot_cache: Arc<ImmyBotCache>,
    pub active_sessions: Arc<ActiveSessions>,
    pub deferrals: DeferralBackoff,
    /// The tenant counts last written to the settings ConfigMap (the pilot
    /// rule), so that a thousand sessions of one tenant write it once.
    pub recorded_tenant_sizes: std::sync::Mutex<std::collections::HashMap<String, i32>>,
    /// Reads rollouts' health gates (their own HTTP, not ImmyBot's budget).
    pub health_gates: crate::controller::health_gate::reader::HealthGateReader,
}

/// A session reconcile's context: the shared one and the kind's state.
pub type SessionContext = KindContext<SessionState>;

/// The MaintenanceSession controller and its pollers, until `shutdown`.
pub async fn run(
    shared: Arc<Context>,
    scope: Scope,
    approvals: ApprovalTriggers,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    // Our own reflector rather than `Controller::new`'s, to drop what no
    // reconcile reads before it is stored: `managedFields` was a third of
    // each cached object, and the cache holds every object (10,000 is an
    // MSP's year of sessions).
    let (session_store, session_writer) = reflector::store::<MaintenanceSession>();
    let session_events = watcher(scope.api::<MaintenanceSession>(&shared.client), shared.owned_objects())
        .default_backoff()
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(session_writer)
        .touched_objects();
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    // Every trigger stream passes the hold: one for a running object waits
    // for its end (trigger_hold.rs says why).
    let hold = TriggerHold::new(tx.clone());
    let session_events = session_events.filter({
        let hold = hold.clone();
        move |o| std::future::ready(o.as_ref().map_or(true, |o| hold.admit(&ObjectRef::from_obj(o))))
    });
    let controller = Controller::for_stream(session_events, session_store);
    let kind = Arc::new(by_connection::SessionKind::new(
        shared.clone(),
        controller.store(),
        tx,
        hold.clone(),
    ));
    // The flags' connection is polled from the start (and reports every
    // object's phase); a connection object's poller starts with the first
    // object that uses it.
    kind.context_for(&shared.connections.flags());
    let synced = tokio::spawn(announce_synced(controller.store(), shared.observer.clone()));
    // Notifications are delivered beside the reconciles, never in them
    // (and stop with this controller, however it ends).
    let _notifier = shared.notifications.clone().map(|n| {
        super::notifications::sender::Running(tokio::spawn(super::notifications::sender::run(
            n,
            controller.store(),
            shared.clone(),
        )))
    });
    let triggers = futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|r| (r, rx)) }).filter({
        let hold = hold.clone();
        move |r| std::future::ready(hold.admit(r))
    });
    let observer = shared.observer.clone();
    let sessions = controller.store();
    let clock_moves = shared.clock.moves();
    let results = controller
        .watches_stream(approvals, {
            let approved_by = sessions_approved_by(sessions);
            move |a| -> Vec<ObjectRef<MaintenanceSession>> {
                approved_by(a).into_iter().filter(|r| hold.admit(r)).collect()
            }
        })
        .reconcile_on(triggers)
        // A test that moves the clock (never in production) re-decides every
        // session at once, as windows and timeouts are read from it.
        .reconcile_all_on(clock_moves)
        .graceful_shutdown_on(shutdown)
        .run(
            super::spans::traced(by_connection::reconcile),
            by_connection::error_policy,
            kind.clone(),
        );
    report_all(results, observer).await;
    kind.stop_pollers();
    synced.abort();
}

/// Tells the observer (readiness) once the session cache has synced.
async fn announce_synced(store: reflector::Store<MaintenanceSession>, observer: Arc<dyn super::ControllerObserver>) {
    match super::store_slot::synced(&store).await {
        Ok(()) => {
            tracing::info!("controller caches synced");
            observer.caches_synced();
        }
        Err(e) => tracing::warn!(error = %e, "the controller's cache will never be ready"),
    }
}

/// The sessions an approval may start: the one it names, or (a standing
/// approval of a MaintenanceSchedule) that schedule's unfinished runs.
fn sessions_approved_by(
    sessions: reflector::Store<MaintenanceSession>,
) -> impl Fn(MaintenanceApproval) -> Vec<ObjectRef<MaintenanceSession>> {
    use crate::api::ApprovedKind;
    move |a| {
        let Some(ns) = a.namespace() else { return vec![] };
        match a.spec.kind {
            ApprovedKind::MaintenanceSession => vec![ObjectRef::new(&a.spec.session_name).within(&ns)],
            ApprovedKind::ImmyBotSchedule => vec![],
            ApprovedKind::MaintenanceSchedule => sessions
                .state()
                .iter()
                .filter(|s| {
                    s.metadata.namespace.as_deref() == Some(ns.as_str())
                        && s.spec
                            .scheduled_by
                            .as_ref()
                            .is_some_and(|b| b.schedule == a.spec.session_name)
                        && !s
                            .status
                            .as_ref()
                            .and_then(|st| st.phase)
                            .is_some_and(crate::api::Phase::is_final)
                })
                .map(|s| ObjectRef::from_obj(&**s))
                .collect(),
        }
    }
}
