//! The MaintenanceSchedule controller: MaintenanceSessions created on a
//! cron, CronJob-style, each one a run with the session's own safety.
//!
//! - `due`: which scheduled time is due now (pure, cron and time zone).
//! - `template`: a run's name and object (pure).
//! - `machine`: the pure decision (observed state in, steps out).
//! - `reconciler`: the shell that observes, decides and performs.
//!
//! Two promises, and where they are kept: a time is run at most once (run
//! names come from the scheduled time, so a repeated create meets
//! AlreadyExists; `lastScheduleTime` moves only after the create, and no
//! run newer than it is ever pruned); nothing starts unapproved (a run is a
//! MaintenanceSession and starts only through its own approval check).
//! Whether a run is covered by a standing approval of its schedule is the
//! approval model's rule (`controller::approval::standing`).

pub mod due;
pub mod machine;
pub mod reconciler;
pub mod template;

use std::future::Future;
use std::sync::Arc;

use kube::runtime::Controller;

use super::approval::watch::{ApprovalTriggers, named_by};
use super::context::{Context, KindContext};
use super::scope::{Scope, report_all};
use crate::api::{ApprovedKind, MaintenanceSchedule, MaintenanceSession};

/// A MaintenanceSchedule reconcile's context. The kind keeps no state of
/// its own: every reconcile lists the schedule's runs afresh (a cache of
/// them could lag behind a run just created, and `Forbid` must see it).
pub type MaintenanceScheduleContext = KindContext<()>;

/// The MaintenanceSchedule controller: its objects, their runs (a watch
/// that only triggers), the approvals that name one, and every move of a
/// test's clock, until `shutdown`.
pub async fn run(
    shared: Arc<Context>,
    scope: Scope,
    approvals: ApprovalTriggers,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ctx = Arc::new(MaintenanceScheduleContext::new(shared, ()));
    let observer = ctx.observer.clone();
    let controller = Controller::new(scope.api::<MaintenanceSchedule>(&ctx.client), ctx.owned_objects());
    // Standing approvals are judged against the schedules this watch keeps.
    ctx.approvals.schedules.set(controller.store());
    let clock_moves = ctx.clock.moves();
    let controller_store = controller.store();
    let results = controller
        // Only sessions with the label: a cluster's other sessions are not
        // this controller's business (and are not decoded twice).
        .owns(
            scope.api::<MaintenanceSession>(&ctx.client),
            ctx.owned_objects_also(template::SCHEDULE_LABEL).streaming_lists(),
        )
        .watches_stream(approvals, named_by(ApprovedKind::MaintenanceSchedule))
        .reconcile_all_on(clock_moves)
        .graceful_shutdown_on(shutdown)
        .run(
            super::spans::traced(reconciler::reconcile),
            reconciler::error_policy,
            ctx.clone(),
        );
    let counting = tokio::spawn(count_by_reason(controller_store, observer.clone()));
    report_all(results, observer).await;
    counting.abort();
    ctx.approvals.schedules.clear();
}

/// How often the schedules are counted by their `Ready` reason (for the
/// `maintenance_schedules` metric; tens of objects, from the cache).
const COUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Counts the cached schedules by the reason of their `Ready` condition,
/// every `COUNT_EVERY`, for the observer (an alert on `MissedSchedule`).
/// Counted afresh rather than kept per object: a deleted schedule has no
/// last reconcile to say it is gone.
async fn count_by_reason(
    store: kube::runtime::reflector::Store<MaintenanceSchedule>,
    observer: Arc<dyn crate::controller::ControllerObserver>,
) {
    loop {
        let mut by_reason = std::collections::BTreeMap::<String, i64>::new();
        for s in store.state() {
            let reason = s
                .status
                .as_ref()
                .and_then(|st| {
                    st.conditions
                        .iter()
                        .find(|c| c.type_ == crate::controller::conditions::READY)
                })
                .map_or("Pending", |c| c.reason.as_str());
            *by_reason.entry(reason.to_owned()).or_default() += 1;
        }
        observer.maintenance_schedules(&by_reason);
        tokio::time::sleep(COUNT_EVERY).await;
    }
}
