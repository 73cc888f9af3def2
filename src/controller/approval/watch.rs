//! The one watch of MaintenanceApprovals every kind is fed from: it fills
//! the store approval look-ups read (no LIST per reconcile) and hands each
//! approval to every kind, whose controller triggers the objects it names.
//!
//! kube's shared streams (`reflector::store_shared`) pass on applied
//! objects only; a withdrawn (deleted) approval must trigger too, so the
//! fan-out is ours: `touched_objects` after the reflector keeps deletions,
//! and the store is written before an approval is passed on, so the
//! reconcile it causes sees it.

use futures::StreamExt as _;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use tokio::sync::mpsc;

use crate::api::MaintenanceApproval;
use crate::controller::context::Context;

/// How many approvals may wait for one kind before the watch waits too.
const BUFFER: usize = 1024;

/// The approvals, as a stream a kind's controller watches.
pub type ApprovalTriggers = futures::stream::BoxStream<'static, Result<MaintenanceApproval, watcher::Error>>;

/// The running watch and what it feeds.
pub struct ApprovalFeed {
    pub sessions: ApprovalTriggers,
    pub immybot_schedules: ApprovalTriggers,
    pub maintenance_schedules: ApprovalTriggers,
    /// The watch itself: aborted when the term ends.
    pub watch: tokio::task::JoinHandle<()>,
}

impl ApprovalFeed {
    /// Starts the watch of `api` for this leadership term: a new watch and
    /// a new store (the old one would go stale), set into `ctx.approvals`.
    pub fn start(ctx: &Context, api: Api<MaintenanceApproval>) -> Self {
        let (store, writer) = reflector::store::<MaintenanceApproval>();
        ctx.approvals.index.clear();
        ctx.approvals.approvals.set(store);
        let approvals = ctx.approvals.clone();
        let events = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(|a| a.metadata.managed_fields = None)
            .reflect(writer)
            .inspect(move |event| {
                if let Ok(e) = event {
                    approvals.index.follow(e);
                }
            })
            .touched_objects();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..3).map(|_| mpsc::channel(BUFFER)).unzip();
        let task = tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(approval) => {
                        for tx in &senders {
                            // A kind that stopped takes nothing more.
                            let _ = tx.send(approval.clone()).await;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "approval watch error (retried)"),
                }
            }
        });
        let mut streams = receivers
            .into_iter()
            .map(|rx| futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|a| (Ok(a), rx)) }).boxed());
        // Three channels were made just above.
        let mut next = || streams.next().unwrap_or_else(|| futures::stream::empty().boxed());
        Self {
            sessions: next(),
            immybot_schedules: next(),
            maintenance_schedules: next(),
            watch: task,
        }
    }
}

/// The object an approval of `kind` names, for that kind's controller
/// (approvals of other kinds trigger nothing there).
pub fn named_by<K>(
    kind: crate::api::ApprovedKind,
) -> impl Fn(MaintenanceApproval) -> Option<kube::runtime::reflector::ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()>,
{
    move |a| {
        if a.spec.kind != kind {
            return None;
        }
        let ns = a.metadata.namespace.as_deref()?;
        Some(kube::runtime::reflector::ObjectRef::new(&a.spec.session_name).within(ns))
    }
}
