//! ImmyBot's compliance routes, answering no more than the evidence allows:
//! the tenant route's items are untyped in the document, so by default
//! every route answers rows of `id`, `computerId` and
//! `maintenanceIdentifier` only (`ResponseShape::compliance_rows_in_full`
//! answers whole action rows). `dateUtc` is accepted and not applied:
//! nothing says what it does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use immybot_client::MaintenanceAction;

use super::{SimState, json, problem};

/// A row as the shape's reading carries it.
fn row(a: MaintenanceAction, in_full: bool) -> serde_json::Value {
    if in_full {
        return serde_json::to_value(&a).unwrap_or_default();
    }
    serde_json::json!({
        "id": a.id,
        "computerId": a.computer_id,
        "maintenanceIdentifier": a.maintenance_identifier,
    })
}

fn rows(state: &SimState, actions: Vec<MaintenanceAction>) -> Response {
    let in_full = state.shape().compliance_rows_in_full;
    let rows: Vec<serde_json::Value> = actions.into_iter().map(|a| row(a, in_full)).collect();
    json(&rows)
}

/// `GET /api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenantId}`
pub async fn for_tenant(State(state): State<Arc<SimState>>, Path(tenant): Path<i32>) -> Response {
    match state.with_engine(|e, _| e.knows_tenant(tenant).then(|| e.non_compliant(|_, t| t == tenant))) {
        Some(actions) => rows(&state, actions),
        None => problem(StatusCode::NOT_FOUND, &format!("Tenant {tenant} was not found")),
    }
}

/// `GET /api/v1/maintenance-actions/computer/{computerId}/needs-attention`
pub async fn needs_attention(State(state): State<Arc<SimState>>, Path(computer): Path<i32>) -> Response {
    match state.with_engine(|e, _| {
        e.knows_computer(computer)
            .then(|| e.non_compliant(|c, _| c == computer))
    }) {
        Some(actions) => rows(&state, actions),
        None => problem(StatusCode::NOT_FOUND, &format!("Computer {computer} was not found")),
    }
}

/// `POST /api/v1/maintenance-actions/latest-action-for-computers`: the
/// latest action of one item (`maintenanceIdentifier`, required) on each
/// computer asked.
pub async fn latest_for_computers(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        computer_ids: Option<Vec<i32>>,
        maintenance_identifier: Option<String>,
    }
    let Ok(asked) = serde_json::from_slice::<Body>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "The request body is invalid");
    };
    let Some(identifier) = asked.maintenance_identifier else {
        return problem(StatusCode::BAD_REQUEST, "The MaintenanceIdentifier field is required.");
    };
    let computers = asked.computer_ids.unwrap_or_default();
    let actions = state.with_engine(|e, _| e.latest_action_for(&computers, &identifier));
    rows(&state, actions)
}
