//! The operator as a process: configuration, the admin server (health and
//! metrics), leader election, and the controller, assembled. The binary
//! (`src/main.rs`) only parses flags, sets up logging and signals, and calls
//! [`run`].

mod admin;
mod bootstrap;
mod config;
mod leader;
mod metrics;
mod observer;
pub mod telemetry;

pub use admin::Readiness;
pub use bootstrap::{BootstrapError, install_admission_policies, install_pilot_binding};
pub use config::{LogFormat, OperatorArgs};
pub use leader::LeaseSettings;
pub use metrics::Metrics;

use std::sync::Arc;

use tokio::sync::watch;

use crate::controller::{self, Context, Scope, WriteGate};
use immybot_client::{ImmyBotClient, ImmyBotError};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("ImmyBot client: {0}")]
    ImmyBot(#[from] ImmyBotError),
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    #[error("admin server on {addr}: {source}")]
    Admin {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// A Kubernetes client whose every request is counted in `metrics`
/// (`immybot_operator_kube_requests_total`): what the operator costs the API
/// server, measured by the operator itself.
pub fn counted_client(config: kube::Config, metrics: Arc<Metrics>) -> Result<kube::Client, kube::Error> {
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        metrics.kube_request(req.method().as_str(), req.uri().path());
        req
    });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

/// Runs the operator until `shutdown` becomes true, reporting to `metrics`.
pub async fn run(
    args: OperatorArgs,
    client: kube::Client,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let readiness = Arc::new(Readiness::default());
    let config = args.client_config()?;
    let immybot = ImmyBotClient::new(config.clone())?.with_observer(metrics.clone());

    let admin_addr = args.admin_addr;
    let listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|source| RuntimeError::Admin {
            addr: admin_addr,
            source,
        })?;
    let mut admin_shutdown = shutdown.clone();
    let admin = tokio::spawn(admin::serve(listener, readiness.clone(), metrics.clone(), async move {
        let _ = admin_shutdown.wait_for(|stop| *stop).await;
    }));

    let mut ctx = Context::new(
        client.clone(),
        immybot,
        args.immybot_url.to_string(),
        args.approval_policy(),
        args.timing(),
    );
    ctx.connections
        .configure(args.connection_defaults(config, Some(metrics.clone())));
    ctx.write_gate = WriteGate::new(args.max_concurrent_api_writes);
    ctx.action_log_excerpts = args.action_log_excerpts;
    ctx.shard_selector = args.shard_selector.clone().filter(|s| !s.trim().is_empty());
    ctx.notifications = args.default_cloud_events_sink.clone().map(|sink| {
        Arc::new(crate::controller::notifications::Notifications::new(
            sink,
            std::time::Duration::from_secs(args.notification_retry_seconds),
        ))
    });
    ctx.observer = Arc::new(observer::RuntimeObserver {
        metrics: metrics.clone(),
        readiness: readiness.clone(),
    });
    let ctx = Arc::new(ctx);
    let scope = match &args.watch_namespace {
        Some(ns) => Scope::Namespace(ns.clone()),
        None => Scope::AllNamespaces,
    };
    tracing::info!(instance = %args.immybot_url, ?scope, admin = %admin_addr, "immybot-operator starting");

    if args.no_leader_election {
        readiness.set_leader(true);
        let mut stop = shutdown.clone();
        controller::run(ctx, scope, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    } else {
        let identity = args
            .identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| format!("immybot-operator-{}", uuid::Uuid::new_v4().simple()));
        let settings = LeaseSettings {
            name: args.lease_name.clone(),
            namespace: args.lease_namespace.clone(),
            identity,
            duration_seconds: 15,
            grace_seconds: 5,
        };
        let role = readiness.clone();
        leader::run_when_leader(
            client,
            settings,
            shutdown.clone(),
            move |leader| {
                tracing::info!(leader, "leadership changed");
                role.set_leader(leader)
            },
            |stop| controller::run(ctx.clone(), scope.clone(), stop),
        )
        .await?;
    }
    let _ = admin.await;
    tracing::info!("immybot-operator stopped");
    Ok(())
}
