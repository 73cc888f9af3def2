//! The simulator's HTTP surface: ImmyBot's API paths, an Entra-style token
//! endpoint, and the `/_sim/` admin API for tests and demos.
//!
//! Every API request passes one middleware that counts it under its route
//! template (`GET /api/v1/maintenance-sessions/{sessionId}`), checks the
//! bearer token, advances the engine to the clock's time and applies any
//! fault rule for the route.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::SimState;

/// The `/_sim/` admin API.
mod admin;
/// ImmyBot's own schedules: their routes.
mod compliance;
mod planted_secret;
mod schedules;
mod token;
use super::dx_filter;
use super::engine::EngineError;
use super::faults::FaultKind;
use immybot_client::{
    CancelSessionsRequest, LoadResult, SessionStatusCounts, StartRequest, StartResponseBody, WireEnum as _, WireTime,
};
use planted_secret::{plant_secret, plant_secret_in_log};
use schedules::*;

/// How the start endpoint shapes its answer (all three are seen in the wild).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StartResponseShape {
    #[default]
    SessionsStarted,
    IdOnly,
    Empty,
}

const WEB_APP_PAGE: &str =
    "<!DOCTYPE html><html><head><title>ImmyBot</title></head><body><div id=\"app\"></div></body></html>";

pub fn router(state: Arc<SimState>) -> Router {
    let api = Router::new()
        .route("/api/v1/run-immy-service", post(start))
        .route("/api/v1/run-immy-service-new", post(start_queued))
        .route("/api/v1/maintenance-sessions/dx", get(sessions_dx))
        .route("/api/v1/maintenance-sessions/status-counts", get(status_counts))
        .route("/api/v1/maintenance-sessions/cancel", post(cancel_many))
        .route("/api/v1/maintenance-sessions/{sessionId}", get(session))
        .route("/api/v1/maintenance-sessions/{sessionId}/phases", get(phases))
        .route("/api/v1/maintenance-sessions/{sessionId}/logs", get(logs))
        .route("/api/v1/maintenance-sessions/{sessionId}/last-log", get(last_log))
        .route("/api/v1/maintenance-sessions/{sessionId}/cancel", get(cancel))
        .route("/api/v1/maintenance-sessions/{sessionId}/resume", post(resume))
        .route("/api/v1/maintenance-sessions/{sessionId}/rerun", post(rerun))
        .route(
            "/api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun",
            post(rerun_action),
        )
        .route("/api/v1/maintenance-actions/dx", get(actions_dx))
        .route("/api/v1/maintenance-actions/{actionId}/logs", get(action_logs))
        .route(
            "/api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenantId}",
            get(compliance::for_tenant),
        )
        .route(
            "/api/v1/maintenance-actions/computer/{computerId}/needs-attention",
            get(compliance::needs_attention),
        )
        .route(
            "/api/v1/maintenance-actions/latest-action-for-computers",
            post(compliance::latest_for_computers),
        )
        .route("/api/v1/computers/dx", get(computers_dx))
        .route("/api/v1/computers/{computerId}", get(computer))
        .route("/api/v1/schedules", get(schedules).post(create_schedule))
        .route("/api/v1/schedules/running-schedule-ids", get(running_schedule_ids))
        .route(
            "/api/v1/schedules/{scheduleId}",
            get(schedule).put(update_schedule).delete(delete_schedule),
        )
        .route("/api/v1/schedules/{scheduleId}/run-now", post(run_schedule_now))
        .route("/api/v1/schedules/{scheduleId}/cancel", post(cancel_schedule))
        .route(
            "/api/v1/maintenance-sessions/cancel-for-schedule/{scheduleId}",
            get(cancel_schedule),
        )
        .route("/api/v1/tenants", get(tenants))
        .route("/api/v1/tenants/{id}", get(tenant))
        .route_layer(middleware::from_fn_with_state(state.clone(), api_gate));
    api.merge(admin::routes())
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .fallback(web_app_fallback)
        .with_state(state)
}

/// Unknown GET paths answer the web app's page with 200, as ImmyBot does for
/// list paths without `/dx`; anything else is a 404.
async fn web_app_fallback(request: Request) -> Response {
    if request.method() == axum::http::Method::GET && request.uri().path().starts_with("/api/") {
        return html_page();
    }
    problem(StatusCode::NOT_FOUND, "Not Found")
}

async fn api_gate(State(state): State<Arc<SimState>>, request: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or(request.uri().path())
    );
    state.count_call(&route);
    let _in_flight = state.enter();
    let authorised = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| state.token_valid(t));
    if !authorised {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    state.tick();
    if request.method() == axum::http::Method::GET
        && let Some(query) = request.uri().query()
    {
        state.record_query(&route, query);
    }
    let path = request.uri().path().to_owned();
    let (request, intents) = if matches!(*request.method(), axum::http::Method::POST | axum::http::Method::PUT) {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
            Ok(b) => b,
            Err(_) => return problem(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
        };
        state.record_body(&route, &bytes);
        let intents = state.intents_of(&route, &path, &bytes);
        (Request::from_parts(parts, Body::from(bytes)), intents)
    } else {
        let intents = state.intents_of(&route, &path, &[]);
        (request, intents)
    };
    // The handler, with what it carried out kept for "never twice".
    let carry_out = |request: Request| async {
        let response = next.run(request).await;
        if !intents.is_empty() {
            state.record_destructive(&route, intents, response.status().as_u16());
        }
        response
    };
    match state.pick_fault(&route) {
        None => carry_out(request).await,
        Some(FaultKind::Status { status }) => problem(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Injected fault",
        ),
        Some(FaultKind::RateLimited {
            retry_after_seconds,
            http_date,
        }) => {
            let value = if http_date {
                httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(retry_after_seconds))
            } else {
                retry_after_seconds.to_string()
            };
            let mut response = problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Some(FaultKind::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            carry_out(request).await
        }
        Some(FaultKind::Hang) => {
            // Long enough for any client timeout; the connection closes when
            // the client gives up or the server shuts down.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            problem(StatusCode::GATEWAY_TIMEOUT, "hung")
        }
        Some(FaultKind::MalformedJson) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            "{\"id\": 1, \"sessionStatus\": ",
        )
            .into_response(),
        Some(FaultKind::HtmlPage) => html_page(),
        Some(FaultKind::DropResponse) => {
            // Do the work, then break the connection mid-answer.
            let _done = carry_out(request).await;
            let broken = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(broken))
                .unwrap_or_else(|_| problem(StatusCode::INTERNAL_SERVER_ERROR, "drop"))
        }
    }
}

fn html_page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], WEB_APP_PAGE).into_response()
}

/// ASP.NET's default problem-details shape.
fn problem(status: StatusCode, title: &str) -> Response {
    let body = serde_json::json!({
        "type": "https://tools.ietf.org/html/rfc9110",
        "title": title,
        "status": status.as_u16(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn engine_error(e: EngineError) -> Response {
    match e {
        EngineError::NotFound(what) => problem(StatusCode::NOT_FOUND, &format!("{what} was not found")),
        EngineError::BadRequest(why) => problem(StatusCode::BAD_REQUEST, &why),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

// ---- start --------------------------------------------------------------

fn decode_start(body: &Bytes) -> Result<StartRequest, String> {
    serde_json::from_slice(body).map_err(|e| format!("The request body is invalid: {e}"))
}

async fn start(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let request = match decode_start(&body) {
        Ok(r) => r,
        Err(why) => return problem(StatusCode::BAD_REQUEST, &why),
    };
    let started = match state.with_engine(|engine, now| engine.start(&request, now)) {
        Ok(s) => s,
        Err(e) => return engine_error(e),
    };
    match state.start_shape() {
        StartResponseShape::SessionsStarted => json(&StartResponseBody {
            sessions_started: started.started,
            sessions_already_in_progress: started.already_in_progress,
        }),
        StartResponseShape::IdOnly => match started.started.first() {
            Some(s) => json(&serde_json::json!({"id": s.session_id})),
            None => json(&StartResponseBody {
                sessions_started: vec![],
                sessions_already_in_progress: started.already_in_progress,
            }),
        },
        StartResponseShape::Empty => StatusCode::OK.into_response(),
    }
}

/// The queued variant answers 202 with no body when the caller chose a
/// `sessionGroupId` (it will find its sessions through `dx`).
async fn start_queued(state: State<Arc<SimState>>, body: Bytes) -> Response {
    let has_group = decode_start(&body).is_ok_and(|r| r.session_group_id.is_some());
    let response = start(state, body).await;
    if has_group && response.status().is_success() {
        StatusCode::ACCEPTED.into_response()
    } else {
        response
    }
}

// ---- sessions -----------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionParams {
    #[serde(default)]
    include_actions: bool,
    #[serde(default)]
    include_stages: bool,
}

async fn session(State(state): State<Arc<SimState>>, Path(id): Path<i32>, Query(p): Query<SessionParams>) -> Response {
    let shape = state.shape();
    let include_actions = p.include_actions && shape.actions_in_get;
    match state.with_engine(|e, _| e.session(id, include_actions, p.include_stages)) {
        Some(mut s) => {
            if shape.get_without_job_args {
                s.session_job_args = None;
            }
            if shape.updated_on_every_read {
                s.updated_date_utc = Some(WireTime(state.now()));
            }
            let mut value = serde_json::to_value(&s).unwrap_or_default();
            plant_secret(&mut value, &shape);
            json(&value)
        }
        None => problem(StatusCode::NOT_FOUND, &format!("Session {id} was not found")),
    }
}

async fn sessions_dx(
    State(state): State<Arc<SimState>>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Response {
    let shape = state.shape();
    if shape.sessions_dx_ignores_filter {
        params.remove("filter");
    }
    let rows: Vec<serde_json::Value> = state.with_engine(|e, now| {
        e.sessions()
            .map(|mut s| {
                if shape.updated_on_every_read {
                    s.updated_date_utc = Some(WireTime(now));
                }
                if !shape.dx_rows_with_job_args {
                    s.session_job_args = None;
                }
                if !shape.dx_rows_with_stages {
                    s.onboarding_stage_status = None;
                    s.detection_stage_status = None;
                    s.execution_stage_status = None;
                    s.agent_updates_stage_status = None;
                    s.resolution_stage_status = None;
                    s.inventory_stage_status = None;
                }
                s
            })
            .filter_map(|s| serde_json::to_value(s).ok())
            .map(|mut v| {
                plant_secret(&mut v, &shape);
                v
            })
            .collect()
    });
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .filter(|row| {
            ["computerId", "tenantId"].iter().all(|key| match params.get(*key) {
                Some(want) => row.get(*key).map(|v| v.to_string()) == Some(want.clone()),
                None => true,
            })
        })
        .collect();
    dx_answer(rows, &params, &shape)
}

/// Every action of every session, as live `dx` rows carry them: with
/// `createdDateUTC` and the `*Name` fields. The document types the answer
/// as a bare array (`actionsDxAsArray`); live clients page a `LoadResult`.
async fn actions_dx(State(state): State<Arc<SimState>>, Query(mut params): Query<HashMap<String, String>>) -> Response {
    let shape = state.shape();
    if shape.actions_dx_ignores_group {
        params.remove("group");
    }
    // A filter that requires one session (the operator's usual question)
    // reads only that session's actions: serializing every action of the
    // instance for each call made the simulator, not the operator, the
    // bottleneck of a 1,000-session bench. The whole filter still applies.
    let only = params
        .get("filter")
        .and_then(|f| dx_filter::required_equal(f, "maintenanceSessionId"))
        .and_then(|id| i32::try_from(id).ok());
    let rows: Vec<serde_json::Value> = state.with_engine(|e, _| {
        e.actions_of(only, shape.detection_rows_in_full)
            .filter_map(|a| serde_json::to_value(a).ok())
            .collect()
    });
    let options = dx_filter::DxOptions {
        accept_iso_dates: shape.accept_iso_dates,
    };
    if shape.actions_dx_as_array {
        return match dx_filter::load_with(rows, &params, options) {
            Ok(loaded) => json(&loaded.data),
            Err(e) => dx_error(e),
        };
    }
    dx_answer(rows, &params, &shape)
}

async fn computers_dx(
    State(state): State<Arc<SimState>>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Response {
    let shape = state.shape();
    if shape.computers_dx_ignores_filter {
        params.remove("filter");
    }
    let rows: Vec<serde_json::Value> = state.with_engine(|e, _| {
        e.computer_rows()
            .into_iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect()
    });
    dx_answer(rows, &params, &shape)
}

fn dx_answer(rows: Vec<serde_json::Value>, params: &HashMap<String, String>, shape: &super::ResponseShape) -> Response {
    let options = dx_filter::DxOptions {
        accept_iso_dates: shape.accept_iso_dates,
    };
    match dx_filter::load_with(rows, params, options) {
        Ok(loaded) => json(&LoadResult {
            data: Some(loaded.data),
            total_count: if params.get("requireTotalCount").is_some_and(|v| v == "true") {
                loaded.total as i32
            } else {
                -1
            },
            group_count: loaded.group_count.map(|g| g as i32).unwrap_or(-1),
        }),
        Err(e) => dx_error(e),
    }
}

fn dx_error(e: dx_filter::DxError) -> Response {
    match e {
        dx_filter::DxError::BadRequest(why) => problem(StatusCode::BAD_REQUEST, &why),
        dx_filter::DxError::TooComplex => problem(StatusCode::INTERNAL_SERVER_ERROR, "An unhandled exception occurred"),
    }
}

async fn status_counts(State(state): State<Arc<SimState>>) -> Response {
    let counts = state.with_engine(|e, _| {
        let mut counts = std::collections::BTreeMap::new();
        let mut total = 0;
        for s in e.sessions() {
            if let Some(status) = s.session_status {
                *counts.entry(status.name().into_owned()).or_insert(0) += 1;
                total += 1;
            }
        }
        SessionStatusCounts {
            counts: Some(counts),
            total: f64::from(total),
        }
    });
    json(&counts)
}

async fn phases(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.phases(id)) {
        Some(p) => json(&p),
        None => problem(StatusCode::NOT_FOUND, &format!("Session {id} was not found")),
    }
}

async fn logs(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    let shape = state.shape();
    match state.with_engine(|e, _| e.logs(id)) {
        Some(l) => {
            let mut rows: Vec<serde_json::Value> = l.iter().filter_map(|r| serde_json::to_value(r).ok()).collect();
            plant_secret_in_log(&mut rows, &shape);
            json(&rows)
        }
        None => problem(StatusCode::NOT_FOUND, &format!("Session {id} was not found")),
    }
}

async fn last_log(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.logs(id)) {
        Some(l) => match l.last() {
            Some(line) => json(line),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        None => problem(StatusCode::NOT_FOUND, &format!("Session {id} was not found")),
    }
}

async fn action_logs(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    let shape = state.shape();
    match state.with_engine(|e, _| e.action_logs(id)) {
        Some(l) => {
            let mut rows: Vec<serde_json::Value> = l.iter().filter_map(|r| serde_json::to_value(r).ok()).collect();
            plant_secret_in_log(&mut rows, &shape);
            json(&rows)
        }
        None => problem(StatusCode::NOT_FOUND, &format!("Action {id} was not found")),
    }
}

/// A cancel, at once or when the running stage ends (the shape's reading).
fn cancel_one(state: &SimState, id: i32) -> Result<(), EngineError> {
    let later = state.shape().cancel_after_the_stage;
    state.with_engine(|e, now| {
        if later {
            e.cancel_after_the_stage(id, now)
        } else {
            e.cancel(id, now)
        }
    })
}

async fn cancel(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match cancel_one(&state, id) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

async fn cancel_many(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let request: CancelSessionsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(StatusCode::BAD_REQUEST, &format!("The request body is invalid: {e}"));
        }
    };
    // Unknown ids are ignored, as a bulk cancel should be.
    for id in request.session_ids {
        let _ = cancel_one(&state, id);
    }
    StatusCode::OK.into_response()
}

async fn resume(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, now| e.resume(id, now)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

async fn rerun(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, now| e.rerun(id, now)) {
        Ok(new_id) => json(&new_id),
        Err(e) => engine_error(e),
    }
}

/// Answers 200 with no body either way; where the rerun runs is the
/// reading `ResponseShape::action_rerun_in_place` picks.
async fn rerun_action(State(state): State<Arc<SimState>>, Path((id, action)): Path<(i32, i32)>) -> Response {
    let in_place = state.shape().action_rerun_in_place;
    let done = state.with_engine(|e, now| {
        if in_place {
            e.rerun_action_in_place(id, action, now)
        } else {
            e.rerun_action(id, action, now).map(drop)
        }
    });
    match done {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

// ---- look-ups -----------------------------------------------------------

async fn computer(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.computer(id)) {
        Some(c) => json(&c),
        None => problem(StatusCode::NOT_FOUND, &format!("Computer {id} was not found")),
    }
}

async fn tenants(State(state): State<Arc<SimState>>) -> Response {
    json(&state.with_engine(|e, _| e.tenants()))
}

async fn tenant(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.tenant(id)) {
        Some(t) => json(&t),
        None => problem(StatusCode::NOT_FOUND, &format!("Tenant {id} was not found")),
    }
}
