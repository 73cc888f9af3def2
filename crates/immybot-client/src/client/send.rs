//! The client's one send loop: pacing by priority, the token, retries
//! (a write only when it surely was not sent), 429's Retry-After, and the
//! `immybot_call` span and the call observer around each call.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::{Answer, Call, ImmyBotClient, decode};
use crate::error::{ImmyBotError, truncate_body};
use crate::pacing::{Priority, backoff, parse_retry_after};

impl ImmyBotClient {
    pub(super) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ImmyBotError> {
        let answer = self.send(call).await?;
        decode(&answer)
    }

    /// One call, in an `immybot_call` span: its method and route template
    /// (never a URL with ids or a query), and once known its HTTP status
    /// and how many attempts it took.
    pub(super) async fn send(&self, call: Call) -> Result<Answer, ImmyBotError> {
        use tracing::Instrument as _;
        let span = tracing::info_span!(
            "immybot_call",
            method = %call.method,
            route = call.route,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        self.send_attempts(call).instrument(span).await
    }

    async fn send_attempts(&self, call: Call) -> Result<Answer, ImmyBotError> {
        let inner = &*self.inner;
        let url = inner
            .base
            .join(&call.path)
            .map_err(|e| ImmyBotError::Config(format!("URL for {}: {e}", call.route)))?;
        let mut attempt: u32 = 0;
        let mut token_refreshed = false;
        loop {
            attempt += 1;
            let last_attempt = attempt >= inner.retry.max_attempts;
            let priority = if call.writes || call.method != Method::GET {
                Priority::Write
            } else {
                self.reads
            };
            let _permit = inner.pacer.admit(priority, &inner.sleeper).await;
            let token = match inner.tokens.token().await {
                Ok(t) => t,
                Err(e) if e.kind() == crate::ErrorKind::Transient && !last_attempt => {
                    inner.sleeper.sleep(backoff(&inner.retry, attempt)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut request = inner
                .http
                .request(call.method.clone(), url.clone())
                .bearer_auth(token.expose());
            if !call.query.is_empty() {
                request = request.query(&call.query);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let sent_at = tokio::time::Instant::now();
            let outcome = request.send().await;
            if let Some(observer) = &inner.observer {
                observer.observe(
                    call.route,
                    outcome.as_ref().ok().map(|r| r.status().as_u16()),
                    sent_at.elapsed(),
                );
            }
            let response = match outcome {
                Ok(r) => r,
                Err(e) => {
                    let sent = !e.is_connect();
                    let error = transport_error(e, call.route, inner.timeout, sent);
                    if (call.idempotent || !sent) && !last_attempt {
                        tracing::debug!(route = call.route, attempt, error = %error, "retrying");
                        inner.sleeper.sleep(backoff(&inner.retry, attempt)).await;
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    // The request went out: its answer broke off.
                    let error = transport_error(e, call.route, inner.timeout, true);
                    if call.idempotent && !last_attempt {
                        inner.sleeper.sleep(backoff(&inner.retry, attempt)).await;
                        continue;
                    }
                    return Err(error);
                }
            };
            let span = tracing::Span::current();
            span.record("status", status.as_u16());
            span.record("attempts", attempt);
            tracing::debug!(
                route = call.route,
                status = status.as_u16(),
                attempt,
                "ImmyBot answered"
            );
            if status.is_success() {
                return Ok(Answer {
                    route: call.route,
                    status,
                    content_type,
                    body,
                });
            }
            let error = ImmyBotError::Status {
                route: call.route,
                status: status.as_u16(),
                body: truncate_body(&body),
                retry_after,
            };
            match status {
                StatusCode::UNAUTHORIZED if !token_refreshed => {
                    token_refreshed = true;
                    inner.tokens.invalidate(&token).await;
                    attempt -= 1; // a refreshed token is not a retry
                }
                StatusCode::TOO_MANY_REQUESTS if !last_attempt => {
                    let wait = retry_after.unwrap_or_else(|| backoff(&inner.retry, attempt));
                    if wait > inner.retry.max_retry_after {
                        return Err(error);
                    }
                    tracing::info!(
                        route = call.route,
                        wait_ms = wait.as_millis() as u64,
                        "ImmyBot asked us to slow down"
                    );
                    inner.sleeper.sleep(wait).await;
                }
                s if (s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT) && call.idempotent && !last_attempt => {
                    inner.sleeper.sleep(backoff(&inner.retry, attempt)).await;
                }
                _ => return Err(error),
            }
        }
    }
}

/// What a failed send or a broken-off answer means: the client's timeout,
/// or a connection error (`sent`: whether the request may have reached
/// ImmyBot, which decides whether a write may be tried again). The URL is
/// left out of the message: it can carry ids and a query.
fn transport_error(e: reqwest::Error, route: &'static str, after: std::time::Duration, sent: bool) -> ImmyBotError {
    if e.is_timeout() {
        ImmyBotError::Timeout { route, after }
    } else {
        ImmyBotError::Connect {
            route,
            message: e.without_url().to_string(),
            sent,
        }
    }
}
