//! ImmyBot connections: which instance an object's calls go to, and with
//! which credentials and budget.
//!
//! - `key`: which connection an object uses (its `connectionRef`, or the
//!   default), pure.
//! - `settings`: a connection object and its Secret as a client
//!   configuration, pure.
//! - `registry`: the clients this process holds, one per connection (one
//!   token cache, one rate budget each), and the look-up objects use.
//! - `contexts`: a kind's contexts, one per connection in use.
//! - `reconciler`: the controller of both connection kinds.
//!
//! The operator's flags are a connection too (`ConnectionKey::Flags`): the
//! default when no object is marked default, so installs from before
//! connections keep working. A connection's objects use only its client:
//! a slow or broken instance holds its own objects, nobody else's.

mod contexts;
mod key;
pub mod reconciler;
mod registry;
mod settings;

pub use contexts::PerConnection;
pub use key::{ConnectionKey, ConnectionProblem, choose};
pub use registry::{ConnectionDefaults, Connections, LiveConnection};
pub use settings::{SettingsError, client_config, client_secret, fingerprint};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::{Controller, watcher};

use super::context::Context;
use super::scope::{Scope, report_all};
use crate::api::{ClusterImmyBotConnection, ImmyBotConnection};

/// How often a connection's Secret is read again and its instance asked.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(60);

/// Runs the controllers of both connection kinds until `shutdown`. An
/// ImmyBotConnection is served in `scope`; ClusterImmyBotConnections in
/// every case (they are cluster-scoped).
pub async fn run(shared: Arc<Context>, scope: Scope, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    use futures::FutureExt as _;
    let shutdown = shutdown.shared();
    let ctx = Arc::new(reconciler::ConnectionContext {
        client: shared.client.clone(),
        connections: shared.connections.clone(),
        clock: shared.clock.clone(),
        recheck: shared.connections.defaults().map_or(DEFAULT_RECHECK, |d| d.recheck),
    });
    let namespaced = Controller::new(scope.api::<ImmyBotConnection>(&ctx.client), watcher::Config::default());
    let cluster = Controller::new(
        Api::<ClusterImmyBotConnection>::all(ctx.client.clone()),
        watcher::Config::default(),
    );
    ctx.connections.namespaced_store().set(namespaced.store());
    ctx.connections.cluster_store().set(cluster.store());
    let observer = shared.observer.clone();
    futures::join!(
        report_all(
            namespaced.graceful_shutdown_on(shutdown.clone()).run(
                super::spans::traced(reconciler::reconcile::<ImmyBotConnection>),
                reconciler::error_policy::<ImmyBotConnection>,
                ctx.clone(),
            ),
            observer.clone(),
        ),
        report_all(
            cluster.graceful_shutdown_on(shutdown).run(
                super::spans::traced(reconciler::reconcile::<ClusterImmyBotConnection>),
                reconciler::error_policy::<ClusterImmyBotConnection>,
                ctx.clone(),
            ),
            observer,
        ),
    );
    ctx.connections.namespaced_store().clear();
    ctx.connections.cluster_store().clear();
}
