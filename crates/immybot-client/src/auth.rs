//! Entra ID client-credentials tokens, cached until shortly before expiry.
//!
//! One lock guards the cache *and* the refresh, so concurrent callers that
//! find the token stale wait for a single request instead of each sending
//! their own. The token never appears in `Debug` output or errors.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::config::Secret;
use super::error::{ImmyBotError, truncate_body};

/// Refresh this long before the token's stated expiry, so a request never
/// leaves with a token that expires on the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Clone)]
struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    /// Replaced when the secret is rotated (`replace_secret`).
    client_secret: std::sync::RwLock<Secret>,
    scope: String,
    cache: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: Url,
        client_id: String,
        client_secret: Secret,
        scope: String,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id,
            client_secret: std::sync::RwLock::new(client_secret),
            scope,
            cache: Mutex::new(None),
        }
    }

    /// A valid bearer token, from the cache or from one refresh.
    pub(crate) async fn token(&self) -> Result<Secret, ImmyBotError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.value.clone());
        }
        let fresh = self.fetch().await?;
        let value = fresh.value.clone();
        *cache = Some(fresh);
        Ok(value)
    }

    /// Drops `rejected` from the cache after a 401, unless another caller
    /// has already replaced it (then that newer token is used as is).
    pub(crate) async fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.value == rejected) {
            *cache = None;
        }
    }

    /// Signs in with `secret` from now on. The cached token stays until it
    /// is refused or expires (a token outlives the secret that got it).
    /// Whether the secret changed.
    pub(crate) fn replace_secret(&self, secret: Secret) -> bool {
        let mut current = self
            .client_secret
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = *current != secret;
        *current = secret;
        changed
    }

    async fn fetch(&self) -> Result<CachedToken, ImmyBotError> {
        let secret = self
            .client_secret
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                // reqwest's error names the URL, never the form body.
                ImmyBotError::TokenUnavailable {
                    message: e.without_url().to_string(),
                }
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ImmyBotError::TokenUnavailable {
            message: e.without_url().to_string(),
        })?;
        if !status.is_success() {
            return Err(ImmyBotError::TokenRefused {
                status: status.as_u16(),
                body: redact(&truncate_body(&body), &secret),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| ImmyBotError::TokenUnavailable {
            message: format!("token response is not a token: {e}"),
        })?;
        // `expires_in` is seconds, as a number or (Entra v1) a string.
        let lifetime = parsed
            .expires_in
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        let refresh_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN).max(lifetime / 2);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "obtained an ImmyBot access token");
        Ok(CachedToken {
            value: Secret::new(parsed.access_token),
            refresh_at,
        })
    }
}

/// Belt and braces: an error body that echoes the secret loses it.
fn redact(text: &str, secret: &Secret) -> String {
    if secret.expose().len() >= 4 {
        text.replace(secret.expose(), "[redacted]")
    } else {
        text.to_owned()
    }
}
