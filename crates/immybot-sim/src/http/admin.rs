//! The `/_sim/` admin API for tests and demos: call counts, the session
//! ledger, faults, the clock, history, computers' state, tokens and the
//! response shape. Not behind the API gate: no token, not counted.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::schedules::admin_schedules;
use super::{SimState, engine_error, json, problem};
use crate::{FaultRule, StartResponseShape};

pub(super) fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/calls", get(admin_calls).delete(admin_reset_calls))
        .route("/_sim/sessions", get(admin_ledger))
        .route("/_sim/schedules", get(admin_schedules))
        .route(
            "/_sim/faults",
            get(admin_faults).post(admin_add_fault).delete(admin_clear_faults),
        )
        .route("/_sim/clock/advance", post(admin_advance))
        .route("/_sim/history", post(admin_history))
        .route("/_sim/computers/{computerId}/online", post(admin_online))
        .route("/_sim/computers/{computerId}/software", post(admin_software))
        .route("/_sim/tokens/revoke", post(admin_revoke_tokens))
        .route("/_sim/settings", post(admin_settings))
}

async fn admin_calls(State(state): State<Arc<SimState>>) -> Response {
    json(&serde_json::json!({"calls": state.calls(), "peakInFlight": state.peak_in_flight()}))
}

async fn admin_reset_calls(State(state): State<Arc<SimState>>) -> Response {
    state.reset_calls();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_ledger(State(state): State<Arc<SimState>>) -> Response {
    state.tick();
    json(&state.with_engine(|e, _| e.ledger()))
}

async fn admin_faults(State(state): State<Arc<SimState>>) -> Response {
    json(&state.fault_rules())
}

async fn admin_add_fault(State(state): State<Arc<SimState>>, Json(rule): Json<FaultRule>) -> Response {
    state.add_fault(rule);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_clear_faults(State(state): State<Arc<SimState>>) -> Response {
    state.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn admin_advance(State(state): State<Arc<SimState>>, Json(a): Json<Advance>) -> Response {
    if !(a.seconds.is_finite() && a.seconds >= 0.0) {
        return problem(StatusCode::BAD_REQUEST, "seconds must be a non-negative number");
    }
    state.advance(Duration::from_secs_f64(a.seconds));
    json(&serde_json::json!({"now": state.now().to_string()}))
}

#[derive(Deserialize)]
struct History {
    weeks: u32,
}

/// Plays `weeks` of past weekly maintenance (`Engine::seed_history`), for
/// reports; at most two years.
async fn admin_history(State(state): State<Arc<SimState>>, Json(h): Json<History>) -> Response {
    if h.weeks > 104 {
        return problem(StatusCode::BAD_REQUEST, "weeks must be at most 104");
    }
    let sessions = state.seed_history(h.weeks);
    json(&serde_json::json!({"sessions": sessions}))
}

#[derive(Deserialize)]
struct Online {
    online: bool,
}

async fn admin_online(State(state): State<Arc<SimState>>, Path(id): Path<i32>, Json(o): Json<Online>) -> Response {
    match state.with_engine(|e, _| e.set_online(id, o.online)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => engine_error(e),
    }
}

#[derive(Deserialize)]
struct Software {
    name: String,
    behaviour: crate::fleet::SoftwareBehaviour,
}

async fn admin_software(State(state): State<Arc<SimState>>, Path(id): Path<i32>, Json(s): Json<Software>) -> Response {
    match state.with_engine(|e, _| e.set_behaviour(id, &s.name, s.behaviour)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => engine_error(e),
    }
}

async fn admin_revoke_tokens(State(state): State<Arc<SimState>>) -> Response {
    state.revoke_tokens();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    max_concurrent_sessions: Option<usize>,
    start_response_shape: Option<StartResponseShape>,
    stage_seconds: Option<f64>,
    /// Replaces the whole response shape (see `ResponseShape`).
    shape: Option<crate::ResponseShape>,
}

async fn admin_settings(State(state): State<Arc<SimState>>, Json(s): Json<Settings>) -> Response {
    if let Some(shape) = s.start_response_shape {
        state.set_start_shape(shape);
    }
    if let Some(shape) = s.shape {
        state.update_shape(|current| *current = shape);
    }
    state.with_engine(|e, _| {
        let settings = e.settings_mut();
        if let Some(max) = s.max_concurrent_sessions {
            settings.max_concurrent_sessions = max;
        }
        if let Some(secs) = s.stage_seconds.filter(|s| s.is_finite() && *s >= 0.0) {
            settings.stage_duration = Duration::from_secs_f64(secs);
        }
    });
    StatusCode::NO_CONTENT.into_response()
}
