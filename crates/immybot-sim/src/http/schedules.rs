//! The routes of ImmyBot's own schedules (`/api/v1/schedules...`) and the
//! admin view of them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{SimState, engine_error, json, problem};
/// A schedule as the instance answers it. The document leaves open which
/// form of `timeZoneInfoId` comes back; by default the Windows id (when the
/// zone table knows one), the form a naive comparison gets wrong.
fn schedule_answer(state: &SimState, mut schedule: immybot_client::Schedule) -> serde_json::Value {
    if !state.shape().schedule_zone_as_sent
        && let Some(windows) = schedule
            .definition
            .time_zone_info_id
            .as_deref()
            .and_then(immybot_client::windows_id)
    {
        schedule.definition.time_zone_info_id = Some(windows.to_owned());
    }
    let mut value = serde_json::to_value(&schedule).unwrap_or_default();
    // Every field of the document's GetScheduleResponse is answered, null
    // where unset.
    if let Some(obj) = value.as_object_mut() {
        for field in immybot_client::DEFINITION_FIELDS {
            obj.entry(*field).or_insert(serde_json::Value::Null);
        }
    }
    value
}

fn decode_definition(body: &Bytes) -> Result<immybot_client::ScheduleDefinition, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            &format!("The request body is invalid: {e}"),
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScheduleListParams {
    tenant_id: Option<i32>,
}

pub(super) async fn schedules(State(state): State<Arc<SimState>>, Query(p): Query<ScheduleListParams>) -> Response {
    let all = state.with_engine(|e, _| e.schedules(p.tenant_id));
    let rows: Vec<serde_json::Value> = all.into_iter().map(|s| schedule_answer(&state, s)).collect();
    json(&rows)
}

pub(super) async fn schedule(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.schedule(id)) {
        Some(s) => json(&schedule_answer(&state, s)),
        None => problem(StatusCode::NOT_FOUND, &format!("Schedule {id} was not found")),
    }
}

pub(super) async fn create_schedule(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let def = match decode_definition(&body) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match state.with_engine(|e, now| e.create_schedule(&def, now)) {
        Ok(s) => json(&schedule_answer(&state, s)),
        Err(e) => engine_error(e),
    }
}

pub(super) async fn update_schedule(State(state): State<Arc<SimState>>, Path(id): Path<i32>, body: Bytes) -> Response {
    let def = match decode_definition(&body) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match state.with_engine(|e, now| e.update_schedule(id, &def, now)) {
        Ok(s) => json(&schedule_answer(&state, s)),
        Err(e) => engine_error(e),
    }
}

pub(super) async fn delete_schedule(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.delete_schedule(id)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

pub(super) async fn run_schedule_now(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, now| e.run_schedule_now(id, now)) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

pub(super) async fn cancel_schedule(State(state): State<Arc<SimState>>, Path(id): Path<i32>) -> Response {
    match state.with_engine(|e, now| e.cancel_schedule(id, now)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => engine_error(e),
    }
}

pub(super) async fn running_schedule_ids(State(state): State<Arc<SimState>>) -> Response {
    json(&state.with_engine(|e, _| e.running_schedule_ids()))
}

pub(super) async fn admin_schedules(State(state): State<Arc<SimState>>) -> Response {
    json(&state.with_engine(|e, _| e.schedules(None)))
}
