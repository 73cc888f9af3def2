//! The ImmyBotSchedule controller: one ImmyBot schedule per object, created
//! once approved, kept as approved, deleted or left on deletion.
//!
//! - `definition`: the spec as ImmyBot's schedule definition, and its
//!   digests (pure; every guess about ImmyBot's schedule semantics is there).
//! - `machine`: the pure decision (observed state in, one step out).
//! - `reconciler`: observes ImmyBot, decides, performs one step.
//! - `runs`: the runs, from the sessions carrying the schedule's id.
//! - `blast_radius`: when the target is counted and whether it outgrew its
//!   approval (pure); `blast_radius_reader` counts it.
//! - `running`: ImmyBot's running-schedule ids, one call shared by all.

pub mod blast_radius;
mod blast_radius_reader;
pub mod definition;
pub mod machine;
pub mod reconciler;
pub mod running;
pub mod runs;

use std::future::Future;
use std::sync::Arc;

use kube::runtime::Controller;

use super::approval::watch::{ApprovalTriggers, named_by};
use super::connections::PerConnection;
use super::context::{Context, KindContext};
use super::scope::{Scope, report_all};
use crate::api::{ApprovedKind, ImmyBotSchedule};

/// What the ImmyBotSchedule kind owns: ImmyBot's running-schedule ids,
/// asked once for all its reconciles of a short while.
#[derive(Default)]
pub struct ScheduleState {
    pub running_schedules: running::RunningSchedules,
}

/// An ImmyBotSchedule reconcile's context.
pub type ScheduleContext = KindContext<ScheduleState>;

/// The ImmyBotSchedule controller: its objects, and the approvals that
/// name one, until `shutdown`.
pub async fn run(
    shared: Arc<Context>,
    scope: Scope,
    approvals: ApprovalTriggers,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    // One context per connection: the running-schedule ids are one
    // instance's.
    let observer = shared.observer.clone();
    let api = scope.api::<ImmyBotSchedule>(&shared.client);
    let owned = shared.owned_objects();
    let kind = Arc::new(PerConnection::new(shared, ScheduleState::default));
    let results = Controller::new(api, owned)
        .watches_stream(approvals, named_by(ApprovedKind::ImmyBotSchedule))
        .graceful_shutdown_on(shutdown)
        .run(
            super::spans::traced(reconciler::reconcile),
            reconciler::error_policy,
            kind,
        );
    report_all(results, observer).await;
}
