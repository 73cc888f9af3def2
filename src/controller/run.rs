//! Wires the controller: watch MaintenanceSessions (and the approvals that
//! name them), take the poller's triggers, reconcile until shut down.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt as _;
use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt as _, watcher};

use super::context::Context;
use super::poller;
use super::reconciler::{error_policy, reconcile};
use crate::api::{MaintenanceApproval, MaintenanceSession};

/// Which namespaces one controller serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    AllNamespaces,
    Namespace(String),
}

/// Runs until `shutdown` resolves; in-flight reconciles finish first (and
/// the write that records session ids is never cut short).
pub async fn run(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    use futures::FutureExt as _;
    let shutdown = shutdown.shared();
    futures::join!(
        run_sessions(ctx.clone(), scope.clone(), shutdown.clone()),
        run_schedules(ctx.clone(), scope.clone(), shutdown.clone()),
        run_maintenance_schedules(ctx, scope, shutdown),
    );
}

/// The namespaced kind `K` in the controller's scope.
fn scoped<K>(client: &kube::Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match scope {
        Scope::AllNamespaces => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// The ImmyBotSchedule controller: its objects, and the approvals that name
/// one (a watch of its own; the approval store the sessions' watch fills
/// serves its reconciles).
async fn run_schedules(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    use super::schedule::reconciler::{error_policy, reconcile};
    use crate::api::{ApprovedKind, ImmyBotSchedule};
    let (schedules, approvals) = (
        scoped::<ImmyBotSchedule>(&ctx.client, &scope),
        scoped::<MaintenanceApproval>(&ctx.client, &scope),
    );
    let observer = ctx.observer.clone();
    Controller::new(schedules, watcher::Config::default())
        // A streaming list (a WATCH that sends the initial objects): this
        // second approval watch adds no LIST to the API server's load.
        .watches(
            approvals,
            watcher::Config::default().streaming_lists(),
            named_by(ApprovedKind::ImmyBotSchedule),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            report(&*observer, &result);
            futures::future::ready(())
        })
        .await;
}

/// The MaintenanceSchedule controller: its objects, their runs (sessions
/// carrying its label, a watch that only triggers), the approvals that name
/// one, and every move of a test's clock.
async fn run_maintenance_schedules(
    ctx: Arc<Context>,
    scope: Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    use super::maintenance_schedule::reconciler::{error_policy, reconcile};
    use super::maintenance_schedule::template::SCHEDULE_LABEL;
    use crate::api::{ApprovedKind, MaintenanceSchedule};
    let (schedules, runs, approvals) = (
        scoped::<MaintenanceSchedule>(&ctx.client, &scope),
        scoped::<MaintenanceSession>(&ctx.client, &scope),
        scoped::<MaintenanceApproval>(&ctx.client, &scope),
    );
    let observer = ctx.observer.clone();
    let controller = Controller::new(schedules, watcher::Config::default());
    ctx.maintenance_schedules.set(controller.store());
    let ctx_for_cleanup = ctx.clone();
    controller
        // Only sessions with the label: a cluster's other sessions are not
        // this controller's business (and are not decoded twice).
        .owns(
            runs,
            watcher::Config::default().labels(SCHEDULE_LABEL).streaming_lists(),
        )
        .watches(
            approvals,
            watcher::Config::default().streaming_lists(),
            named_by(ApprovedKind::MaintenanceSchedule),
        )
        .reconcile_all_on(ctx.clock.moves())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            report(&*observer, &result);
            futures::future::ready(())
        })
        .await;
    ctx_for_cleanup.maintenance_schedules.clear();
    ctx_for_cleanup.schedule_runs.clear();
}

/// The MaintenanceSession controller and its poller.
async fn run_sessions(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (sessions, approvals) = (
        scoped::<MaintenanceSession>(&ctx.client, &scope),
        scoped::<MaintenanceApproval>(&ctx.client, &scope),
    );
    // Our own reflector rather than `Controller::new`'s, to drop what no
    // reconcile reads before it is stored: `managedFields` was a third of
    // each cached object, and the cache holds every object (10,000 is an
    // MSP's year of sessions).
    let (session_store, session_writer) = reflector::store::<MaintenanceSession>();
    let session_events = watcher(sessions, watcher::Config::default())
        .default_backoff()
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(session_writer)
        .touched_objects();
    let controller = Controller::for_stream(session_events, session_store);
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let poller = tokio::spawn(poller::run(
        ctx.poll_immybot.clone().unwrap_or_else(|| ctx.immybot.clone()),
        controller.store(),
        ctx.timing.clone(),
        ctx.observer.clone(),
        ctx.active_sessions.clone(),
        tx,
    ));
    let observer = ctx.observer.clone();
    let store = controller.store();
    let synced_observer = ctx.observer.clone();
    let synced = tokio::spawn(async move {
        // kube-runtime's store readiness (a `DelayedInit`) wakes only the last
        // task that waited, and the Controller waits on the same store, so a
        // plain `.await` here can sleep forever. Re-polling is cheap and
        // each poll sees the value once it is set.
        loop {
            match tokio::time::timeout(std::time::Duration::from_millis(250), store.wait_until_ready()).await {
                Ok(Ok(())) => {
                    tracing::info!("controller caches synced");
                    synced_observer.caches_synced();
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the controller's cache will never be ready");
                    return;
                }
                Err(_) => continue,
            }
        }
    });
    let triggers = futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|r| (r, rx)) });
    let controller_store = controller.store();
    // One approval watch, two uses: it fills the store reconciles read (no
    // LIST per reconcile) and triggers the session an approval names. The
    // store is written before the trigger passes, so the reconcile it causes
    // sees the approval; `touched_objects` keeps withdrawals as triggers.
    let (approval_store, approval_writer) = reflector::store::<MaintenanceApproval>();
    ctx.approvals.set(approval_store);
    let ctx_for_cleanup = ctx.clone();
    let approval_events = watcher(approvals, watcher::Config::default())
        .default_backoff()
        .modify(|a| a.managed_fields_mut().clear())
        .reflect(approval_writer)
        .touched_objects();
    controller
        .watches_stream(approval_events, sessions_approved_by(controller_store))
        .reconcile_on(triggers)
        // A test that moves the clock (never in production) re-decides every
        // session at once, as windows and timeouts are read from it.
        .reconcile_all_on(ctx.clock.moves())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            report(&*observer, &result);
            futures::future::ready(())
        })
        .await;
    poller.abort();
    synced.abort();
    ctx_for_cleanup.approvals.clear();
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

/// The approval's object, for the controller of `kind` (approvals of the
/// other kind trigger nothing).
fn named_by<K>(kind: crate::api::ApprovedKind) -> impl Fn(MaintenanceApproval) -> Option<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()>,
{
    move |a| {
        if a.spec.kind != kind {
            return None;
        }
        let ns = a.namespace()?;
        Some(ObjectRef::new(&a.spec.session_name).within(&ns))
    }
}

/// One reconcile's result, to the metrics (its error as the label).
fn report<T, E: std::fmt::Display>(
    observer: &dyn super::ControllerObserver,
    result: &Result<T, kube::runtime::controller::Error<super::error::Error, E>>,
) {
    match result {
        Ok(_) => observer.reconciled(None),
        Err(kube::runtime::controller::Error::ReconcilerFailed(e, _)) => observer.reconciled(Some(e.metric_label())),
        Err(e) => tracing::debug!(error = %e, "controller stream error"),
    }
}
