//! Joins the kinds: one approval watch feeds them all (its store serves
//! every kind's approval look-ups; its events trigger the objects they
//! name), and each kind runs its own controller until shutdown.

use std::future::Future;
use std::sync::Arc;

use super::approval::watch::ApprovalFeed;
use super::context::Context;
use super::scope::Scope;
use super::{connections, immybot_schedule, maintenance_report, maintenance_schedule, session, session_search};

/// Runs every kind until `shutdown` resolves; in-flight reconciles finish
/// first (and the write that records session ids is never cut short).
pub async fn run(ctx: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    use futures::FutureExt as _;
    let shutdown = shutdown.shared();
    let feed = ApprovalFeed::start(&ctx, scope.api(&ctx.client));
    futures::join!(
        session::run(ctx.clone(), scope.clone(), feed.sessions, shutdown.clone()),
        immybot_schedule::run(ctx.clone(), scope.clone(), feed.immybot_schedules, shutdown.clone()),
        maintenance_schedule::run(ctx.clone(), scope.clone(), feed.maintenance_schedules, shutdown.clone()),
        session_search::run(ctx.clone(), scope.clone(), shutdown.clone()),
        maintenance_report::run(ctx.clone(), scope.clone(), shutdown.clone()),
        connections::run(ctx.clone(), scope, shutdown),
    );
    feed.watch.abort();
    ctx.approvals.approvals.clear();
}
