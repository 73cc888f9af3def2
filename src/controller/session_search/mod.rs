//! The SessionSearch controller: one ImmyBot query per object, answered
//! once into its status, then the object deletes itself when its ttl
//! passes. Read only: nothing here acts on ImmyBot.
//!
//! - `machine`: the pure decision (search, wait for the ttl, delete, or
//!   refuse past the per-namespace bound).
//! - `reader`: the query and its rows, in a search's words.
//! - `reconciler`: the shell.
//!
//! Bounded by construction: a search costs at most `limit / 200 + 1`
//! listing calls, at the budget's lowest priority, once; at most
//! `MAX_LIVE_PER_NAMESPACE` unexpired searches per namespace are answered;
//! answers expire (default one hour).

pub mod machine;
pub mod reader;
pub mod reconciler;

use std::future::Future;
use std::sync::Arc;

use kube::runtime::Controller;

use super::context::{Context, KindContext};
use super::scope::{Scope, report_all};
use super::store_slot::StoreSlot;
use crate::api::SessionSearch;

/// What the SessionSearch kind owns: its own objects' store, to count the
/// live searches of a namespace without a LIST.
#[derive(Default)]
pub struct SearchState {
    pub searches: StoreSlot<SessionSearch>,
}

pub type SearchContext = KindContext<SearchState>;

pub async fn run(shared: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let ctx = Arc::new(SearchContext::new(shared, SearchState::default()));
    let observer = ctx.observer.clone();
    let controller = Controller::new(scope.api::<SessionSearch>(&ctx.client), ctx.owned_objects());
    ctx.state.searches.set(controller.store());
    let results = controller.graceful_shutdown_on(shutdown).run(
        super::spans::traced(reconciler::reconcile),
        reconciler::error_policy,
        ctx.clone(),
    );
    report_all(results, observer).await;
    ctx.state.searches.clear();
}
