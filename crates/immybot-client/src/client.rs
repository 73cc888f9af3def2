//! The ImmyBot API client: every call the operator makes, through one send
//! loop that applies pacing, authentication, retries and answer checks.
//!
//! Retry rules, in one place:
//! - 401: drop the token, fetch a new one, send once more (any call: a 401
//!   means ImmyBot did nothing).
//! - 429: wait `Retry-After` (capped) and send again (any call, for the same
//!   reason), up to the attempt limit.
//! - 5xx, 408, timeouts, broken connections: retried with backoff only for
//!   idempotent calls. The start call is not idempotent and is never retried
//!   after it may have reached ImmyBot; its caller resolves the uncertainty
//!   through `sessionGroupId` (see `ImmyBotError::start_outcome_unknown`).
//! - connection refused (the request never left): retried for every call.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::TokenSource;
use super::config::{ClientConfig, EnumEncoding, RetryPolicy};
use super::dx::{ActionQuery, GroupCount, Page, SessionQuery};
use super::enums::SessionStatus;
use super::error::{ImmyBotError, truncate_body};
use super::log_lines::{ActionLogLine, blank_parameters, shown_lines};
use super::pacing::{Pacer, Priority, Sleeper, TokioSleeper};
use super::start::{StartOutcome, StartRequest, enums_as_names};
use super::wire::*;

/// The calls that manage ImmyBot's own schedules.
pub mod compliance;
mod directory;
mod schedules;
mod send;

/// Which start endpoint to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartEndpoint {
    /// `POST /api/v1/run-immy-service`.
    Immediate,
    /// `POST /api/v1/run-immy-service-new`: may answer 202 with no body.
    Queued,
}

/// Sees every answered or failed request: for metrics. The route is the
/// template (`GET /api/v1/maintenance-sessions/{id}`), the status is `None`
/// when no answer came.
pub trait CallObserver: Send + Sync + 'static {
    fn observe(&self, route: &'static str, status: Option<u16>, elapsed: Duration);
}

/// A cheap-to-clone handle on one ImmyBot instance. Every handle on the
/// instance shares one budget (`Limits`); [`ImmyBotClient::at`] gives a
/// handle whose reads wait with another priority.
#[derive(Clone)]
pub struct ImmyBotClient {
    inner: Arc<Inner>,
    /// The priority of this handle's reads; writes always go as
    /// [`Priority::Write`].
    reads: Priority,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    tokens: TokenSource,
    pacer: Pacer,
    retry: RetryPolicy,
    timeout: Duration,
    enum_encoding: EnumEncoding,
    sleeper: Arc<dyn Sleeper>,
    observer: Option<Arc<dyn CallObserver>>,
    lookups: Lookups,
}

/// This instance's rarely-changing answers (`lookups`).
#[derive(Default)]
struct Lookups {
    ages: crate::LookupAges,
    tenants: crate::lookups::Cached<(), Vec<Tenant>>,
    computers_by_name: crate::lookups::Cached<String, Vec<ComputerListItem>>,
    schedules: crate::lookups::Cached<i32, crate::Schedule>,
}

impl std::fmt::Debug for ImmyBotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImmyBotClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

/// One request, described before it is sent (possibly several times).
struct Call {
    /// A template such as `GET /api/v1/maintenance-sessions/{id}`: used in
    /// errors and logs, so that ids and query strings never multiply labels.
    route: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    idempotent: bool,
    /// Changes something in ImmyBot (every POST, PUT and DELETE, and the
    /// cancel that is a GET): waits as a write.
    writes: bool,
}

impl Call {
    fn get(route: &'static str, path: String) -> Self {
        Self {
            route,
            method: Method::GET,
            path,
            query: vec![],
            body: None,
            idempotent: true,
            writes: false,
        }
    }
    fn post(route: &'static str, path: String, body: Option<serde_json::Value>, idempotent: bool) -> Self {
        Self {
            route,
            method: Method::POST,
            path,
            query: vec![],
            body,
            idempotent,
            writes: true,
        }
    }
    /// Marks a call that changes ImmyBot (a GET that cancels).
    fn writing(mut self) -> Self {
        self.writes = true;
        self
    }
    fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }
}

struct Answer {
    route: &'static str,
    status: StatusCode,
    content_type: String,
    body: bytes::Bytes,
}

impl ImmyBotClient {
    pub fn new(config: ClientConfig) -> Result<Self, ImmyBotError> {
        config.validate()?;
        // Both kube and we use ring; installing it is idempotent and only
        // fails if another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("immybot-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ImmyBotError::Config(format!("HTTP client: {e}")))?;
        let tokens = TokenSource::new(
            http.clone(),
            config.token_url()?,
            config.auth.client_id.clone(),
            config.auth.client_secret.clone(),
            config.scope(),
        );
        let mut base = config.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            reads: Priority::Progress,
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                pacer: Pacer::new(&config.limits),
                retry: config.retry.clone(),
                timeout: config.request_timeout,
                enum_encoding: config.enum_encoding,
                sleeper: Arc::new(TokioSleeper),
                observer: None,
                lookups: Lookups {
                    ages: config.lookup_ages.clone(),
                    ..Default::default()
                },
            }),
        })
    }

    /// A handle on the same instance and budget whose reads wait as
    /// `priority` (writes are always `Write`).
    pub fn at(&self, priority: Priority) -> Self {
        Self {
            inner: self.inner.clone(),
            reads: priority,
        }
    }

    /// Whether calls wait for the budget now: reads that can wait (progress)
    /// are better put off.
    pub fn is_busy(&self) -> bool {
        self.inner.pacer.has_waiters()
    }

    /// Whether calls of `priority` or more urgent ones wait for the budget
    /// now (background reads waiting do not make it busy for a write).
    pub fn is_busy_at(&self, priority: Priority) -> bool {
        self.inner.pacer.has_waiters_at(priority)
    }

    /// Signs in with `secret` from now on (a rotated client secret), keeping
    /// the budget and the token until it is refused. Whether it changed.
    pub fn rotate_client_secret(&self, secret: crate::Secret) -> bool {
        self.inner.tokens.replace_secret(secret)
    }

    /// The instance's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Replaces how the client waits (tests record waits instead). Only
    /// before the client is shared; a shared client keeps its sleeper.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.sleeper = sleeper;
        }
        self
    }

    /// Reports every request to `observer`. Only before the client is shared.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.observer = Some(observer);
        }
        self
    }

    // ---- sessions -------------------------------------------------------

    /// Starts maintenance. Never retried once it may have reached ImmyBot.
    pub async fn start(&self, request: &StartRequest, endpoint: StartEndpoint) -> Result<StartOutcome, ImmyBotError> {
        let (route, path) = match endpoint {
            StartEndpoint::Immediate => ("POST /api/v1/run-immy-service", "api/v1/run-immy-service"),
            StartEndpoint::Queued => ("POST /api/v1/run-immy-service-new", "api/v1/run-immy-service-new"),
        };
        let mut body = serde_json::to_value(request).map_err(|e| ImmyBotError::Config(format!("start body: {e}")))?;
        if self.inner.enum_encoding == EnumEncoding::Names {
            enums_as_names(&mut body);
        }
        let answer = self.send(Call::post(route, path.into(), Some(body), false)).await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(StartOutcome::Accepted);
        }
        check_json(&answer)?;
        StartOutcome::decode(&answer.body).ok_or_else(|| ImmyBotError::Decode {
            route,
            message: format!("unrecognised start response: {}", truncate_body(&answer.body)),
        })
    }

    /// One session, optionally with its actions and stages.
    pub async fn session(
        &self,
        id: i32,
        include_actions: bool,
        include_stages: bool,
    ) -> Result<MaintenanceSession, ImmyBotError> {
        let call = Call::get(
            "GET /api/v1/maintenance-sessions/{id}",
            format!("api/v1/maintenance-sessions/{id}"),
        )
        .query("includeActions", include_actions)
        .query("includeStages", include_stages);
        self.json(call).await
    }

    /// A page of sessions through the DevExtreme `dx` list, newest first.
    pub async fn find_sessions(&self, query: &SessionQuery) -> Result<Page<MaintenanceSession>, ImmyBotError> {
        let mut call = Call::get(
            "GET /api/v1/maintenance-sessions/dx",
            "api/v1/maintenance-sessions/dx".into(),
        );
        for (key, value) in query.to_params() {
            call = call.query(key, value);
        }
        let result: LoadResult = self.json(call).await?;
        let mut page: Page<MaintenanceSession> = Page::from_load_result(result, query.take);
        page.drop_rows_without_id(|s| s.id);
        Ok(page)
    }

    /// A page of maintenance actions (`GET /api/v1/maintenance-actions/dx`).
    /// The document types the answer as a bare array; live clients page it
    /// with DevExtreme load options, which answer a `LoadResult`. Both decode.
    pub async fn find_actions(&self, query: &ActionQuery) -> Result<Page<MaintenanceAction>, ImmyBotError> {
        let result = self.actions_dx(query.to_params()).await?;
        let mut page: Page<MaintenanceAction> = Page::from_load_result(result, query.take);
        page.drop_rows_without_id(|a| a.id);
        page.items = page
            .items
            .into_iter()
            .map(MaintenanceAction::with_names_resolved)
            .collect();
        Ok(page)
    }

    /// How many actions match `query`, per maintenance item (display name),
    /// counted by ImmyBot (`group` + `requireGroupCount`): no rows travel.
    /// An instance that ignores `group` answers action rows instead; each
    /// then counts once under its display name, so the sums stay right.
    pub async fn count_actions_by_item(&self, query: &ActionQuery) -> Result<Page<GroupCount>, ImmyBotError> {
        let result = self.actions_dx(query.to_count_params()).await?;
        let rows: Page<serde_json::Value> = Page::from_load_result(result, query.take);
        let mut page = rows.map_empty();
        page.items = rows
            .items
            .iter()
            .filter_map(|row| match row.get("count").and_then(serde_json::Value::as_i64) {
                Some(count) => Some(GroupCount {
                    key: row.get("key").and_then(serde_json::Value::as_str).map(str::to_owned),
                    count,
                }),
                None => Some(GroupCount {
                    key: Some(row.get("maintenanceDisplayName")?.as_str()?.to_owned()),
                    count: 1,
                }),
            })
            .collect();
        Ok(page)
    }

    /// One call to the actions list with these load options.
    async fn actions_dx(&self, params: Vec<(&'static str, String)>) -> Result<LoadResult, ImmyBotError> {
        let mut call = Call::get(
            "GET /api/v1/maintenance-actions/dx",
            "api/v1/maintenance-actions/dx".into(),
        );
        for (key, value) in params {
            call = call.query(key, value);
        }
        let answer = self.send(call).await?;
        load_result_or_array(&answer)
    }

    /// A page of sessions that are not finished, across the whole instance.
    pub async fn active_sessions(&self, skip: u32, take: u32) -> Result<Page<MaintenanceSession>, ImmyBotError> {
        self.find_sessions(&SessionQuery {
            statuses: SessionStatus::active().to_vec(),
            skip,
            take,
            ..Default::default()
        })
        .await
    }

    pub async fn status_counts(&self) -> Result<SessionStatusCounts, ImmyBotError> {
        self.json(Call::get(
            "GET /api/v1/maintenance-sessions/status-counts",
            "api/v1/maintenance-sessions/status-counts".into(),
        ))
        .await
    }

    pub async fn phases(&self, session_id: i32) -> Result<Vec<SessionPhase>, ImmyBotError> {
        self.json(Call::get(
            "GET /api/v1/maintenance-sessions/{id}/phases",
            format!("api/v1/maintenance-sessions/{session_id}/phases"),
        ))
        .await
    }

    /// A session's log, every parameter value blanked out of its messages
    /// (`log_lines`); a row that does not decode is left out.
    pub async fn logs(&self, session_id: i32) -> Result<Vec<SessionLog>, ImmyBotError> {
        let rows: Vec<serde_json::Value> = self
            .json(Call::get(
                "GET /api/v1/maintenance-sessions/{id}/logs",
                format!("api/v1/maintenance-sessions/{session_id}/logs"),
            ))
            .await?;
        Ok(blank_parameters(rows)
            .into_iter()
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect())
    }

    /// The newest log line (its parameters blanked out, `log_lines`), or
    /// `None` for a session that has none yet.
    pub async fn last_log(&self, session_id: i32) -> Result<Option<SessionLog>, ImmyBotError> {
        let call = Call::get(
            "GET /api/v1/maintenance-sessions/{id}/last-log",
            format!("api/v1/maintenance-sessions/{session_id}/last-log"),
        );
        let answer = self.send(call).await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) || answer.status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let row: serde_json::Value = decode(&answer)?;
        Ok(blank_parameters(vec![row])
            .pop()
            .and_then(|row| serde_json::from_value(row).ok()))
    }

    /// Cancels one session. ImmyBot makes this a GET; it is idempotent.
    pub async fn cancel(&self, session_id: i32) -> Result<(), ImmyBotError> {
        self.send(
            Call::get(
                "GET /api/v1/maintenance-sessions/{id}/cancel",
                format!("api/v1/maintenance-sessions/{session_id}/cancel"),
            )
            .writing(),
        )
        .await
        .map(drop)
    }

    /// Cancels several sessions in one call.
    pub async fn cancel_many(&self, session_ids: &[i32]) -> Result<(), ImmyBotError> {
        let body = serde_json::to_value(CancelSessionsRequest {
            session_ids: session_ids.to_vec(),
        })
        .map_err(|e| ImmyBotError::Config(e.to_string()))?;
        self.send(Call::post(
            "POST /api/v1/maintenance-sessions/cancel",
            "api/v1/maintenance-sessions/cancel".into(),
            Some(body),
            true,
        ))
        .await
        .map(drop)
    }

    /// Resumes a postponed session.
    pub async fn resume(&self, session_id: i32) -> Result<(), ImmyBotError> {
        self.send(Call::post(
            "POST /api/v1/maintenance-sessions/{id}/resume",
            format!("api/v1/maintenance-sessions/{session_id}/resume"),
            None,
            false,
        ))
        .await
        .map(drop)
    }

    /// Reruns a whole session; answers the new session's id.
    pub async fn rerun(&self, session_id: i32) -> Result<i32, ImmyBotError> {
        self.json(Call::post(
            "POST /api/v1/maintenance-sessions/{id}/rerun",
            format!("api/v1/maintenance-sessions/{session_id}/rerun"),
            None,
            false,
        ))
        .await
    }

    /// Reruns one maintenance action of a session.
    pub async fn rerun_action(&self, session_id: i32, action_id: i32) -> Result<(), ImmyBotError> {
        self.send(Call::post(
            "POST /api/v1/maintenance-sessions/{id}/actions/{actionId}/rerun",
            format!("api/v1/maintenance-sessions/{session_id}/actions/{action_id}/rerun"),
            None,
            false,
        ))
        .await
        .map(drop)
    }

    /// One action's log lines, as `log_lines` may show them: messages
    /// with every parameter value blanked out, nothing else of the rows.
    pub async fn action_logs(&self, action_id: i32) -> Result<Vec<ActionLogLine>, ImmyBotError> {
        let rows: Vec<serde_json::Value> = self
            .json(Call::get(
                "GET /api/v1/maintenance-actions/{actionId}/logs",
                format!("api/v1/maintenance-actions/{action_id}/logs"),
            ))
            .await?;
        Ok(shown_lines(rows))
    }
}

/// Refuses answers that are not JSON: above all the web app's HTML page,
/// which some list paths return with status 200.
fn check_json(answer: &Answer) -> Result<(), ImmyBotError> {
    let ct = answer.content_type.to_ascii_lowercase();
    let starts_like_html = {
        let head: Vec<u8> = answer
            .body
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take(15)
            .map(u8::to_ascii_lowercase)
            .collect();
        head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
    };
    if ct.contains("text/html") || starts_like_html {
        return Err(ImmyBotError::HtmlPage { route: answer.route });
    }
    // The document lists application/json, text/json and text/plain (.NET's
    // default formatters), so all three are accepted; a missing header too.
    if !(ct.is_empty() || ct.contains("json") || ct.starts_with("text/plain")) {
        return Err(ImmyBotError::ContentType {
            route: answer.route,
            content_type: answer.content_type.clone(),
        });
    }
    Ok(())
}

/// A `dx` answer as a `LoadResult`, whether it came as one or as the bare
/// array the document gives for some routes.
fn load_result_or_array(answer: &Answer) -> Result<LoadResult, ImmyBotError> {
    check_json(answer)?;
    let value: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|e| ImmyBotError::Decode {
        route: answer.route,
        message: e.to_string(),
    })?;
    match value {
        serde_json::Value::Array(rows) => Ok(LoadResult {
            data: Some(rows),
            total_count: -1,
            group_count: -1,
        }),
        other => serde_json::from_value(other).map_err(|e| ImmyBotError::Decode {
            route: answer.route,
            message: e.to_string(),
        }),
    }
}

fn decode_error(route: &'static str, e: &serde_json::Error) -> ImmyBotError {
    ImmyBotError::Decode {
        route,
        message: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(answer: &Answer) -> Result<T, ImmyBotError> {
    check_json(answer)?;
    serde_json::from_slice(&answer.body).map_err(|e| ImmyBotError::Decode {
        route: answer.route,
        message: e.to_string(),
    })
}
