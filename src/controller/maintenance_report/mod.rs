//! The MaintenanceReport controller: one report per object, gathered once
//! into its status at the ImmyBot budget's lowest priority, then the object
//! deletes itself when its ttl passes. Read only: nothing here acts on
//! ImmyBot.
//!
//! - `machine`: the pure decision (gather, wait for the ttl, delete, or
//!   refuse), and Kubernetes' own records (approvals, cancellations).
//! - `tally`: ImmyBot's rows counted, page by page, into the report.
//! - `reader`: the calls, in the order and shape `tally` takes them.
//! - `reconciler`: the shell.

pub mod machine;
pub mod reader;
pub mod reconciler;
pub mod tally;

use std::future::Future;
use std::sync::Arc;

use kube::runtime::Controller;

use super::context::{Context, KindContext};
use super::scope::{Scope, report_all};
use super::store_slot::StoreSlot;
use crate::api::MaintenanceReport;

/// What the MaintenanceReport kind owns: its own objects' store, to count
/// the live reports of a namespace without a LIST.
#[derive(Default)]
pub struct ReportState {
    pub reports: StoreSlot<MaintenanceReport>,
}

pub type ReportContext = KindContext<ReportState>;

pub async fn run(shared: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let ctx = Arc::new(ReportContext::new(shared, ReportState::default()));
    let observer = ctx.observer.clone();
    let controller = Controller::new(scope.api::<MaintenanceReport>(&ctx.client), ctx.owned_objects());
    ctx.state.reports.set(controller.store());
    let results = controller.graceful_shutdown_on(shutdown).run(
        super::spans::traced(reconciler::reconcile),
        reconciler::error_policy,
        ctx.clone(),
    );
    report_all(results, observer).await;
    ctx.state.reports.clear();
}
