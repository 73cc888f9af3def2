//! Entra ID's token endpoint, as the client-credentials flow uses it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{SimState, json};

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

pub async fn token(State(state): State<Arc<SimState>>, Path(_tenant): Path<String>, body: Bytes) -> Response {
    state.count_call("POST /{tenant}/oauth2/v2.0/token");
    let form = token_form(&body);
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if form.scope.as_deref().is_none_or(|s| !s.ends_with("/.default")) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    match state.issue_token(form.client_id.as_deref(), form.client_secret.as_deref()) {
        Some((token, lifetime)) => json(&serde_json::json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "access_token": token,
        })),
        None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
    }
}

fn token_form(body: &[u8]) -> TokenForm {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    TokenForm {
        grant_type: pairs.get("grant_type").cloned(),
        client_id: pairs.get("client_id").cloned(),
        client_secret: pairs.get("client_secret").cloned(),
        scope: pairs.get("scope").cloned(),
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"error": error, "error_description": format!("AADSTS: {error}")})),
    )
        .into_response()
}
