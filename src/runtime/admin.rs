//! The admin server: `/livez`, `/readyz`, `/metrics`.
//!
//! Readiness means "elected or standing by, caches synced", not "process
//! started": the leader is ready once its caches are synced; a standby as
//! soon as it knows it is a standby, so that a Deployment with two replicas
//! rolls out. ImmyBot's health is deliberately not part of it: an ImmyBot
//! outage must not make Kubernetes restart or unroute a healthy operator
//! (which could do nothing about it); it shows in the `instance_up` metric
//! and in the logs instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

#[derive(Default)]
pub struct Readiness {
    /// 0 unknown, 1 standby, 2 leader.
    role: AtomicU8,
    caches_synced: AtomicBool,
}

impl Readiness {
    pub fn set_leader(&self, leader: bool) {
        self.role.store(if leader { 2 } else { 1 }, Ordering::SeqCst);
        if !leader {
            self.caches_synced.store(false, Ordering::SeqCst);
        }
    }
    pub fn set_caches_synced(&self) {
        self.caches_synced.store(true, Ordering::SeqCst);
    }
    /// `Ok(why)` when ready, `Err(why not)` otherwise.
    pub fn check(&self) -> Result<&'static str, &'static str> {
        match self.role.load(Ordering::SeqCst) {
            1 => Ok("standby"),
            2 if !self.caches_synced.load(Ordering::SeqCst) => Err("leader: caches not synced yet"),
            2 => Ok("leader"),
            _ => Err("leader election not decided yet"),
        }
    }
}

struct AdminState {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

pub fn router(readiness: Arc<Readiness>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Arc::new(AdminState { readiness, metrics }))
}

async fn readyz(State(state): State<Arc<AdminState>>) -> impl IntoResponse {
    match state.readiness.check() {
        Ok(why) => (StatusCode::OK, why),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

async fn metrics_text(State(state): State<Arc<AdminState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// Serves on an already bound listener until `shutdown` resolves (binding
/// first lets the caller report a busy port before anything else starts).
pub async fn serve(
    listener: tokio::net::TcpListener,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(readiness, metrics))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_role_and_caches_not_immybot() {
        let r = Readiness::default();
        assert!(r.check().is_err(), "undecided");
        r.set_leader(false);
        assert_eq!(r.check(), Ok("standby"));
        r.set_leader(true);
        assert_eq!(r.check(), Err("leader: caches not synced yet"));
        r.set_caches_synced();
        assert_eq!(r.check(), Ok("leader"), "whether ImmyBot answers or not");
        r.set_leader(false);
        assert_eq!(r.check(), Ok("standby"));
    }
}
