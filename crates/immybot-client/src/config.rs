//! Client configuration: where ImmyBot is, how to authenticate, and how
//! gently to treat an instance whose limits are not published.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::error::ImmyBotError;

/// A secret value. `Debug` and `Display` never show it, so a secret inside a
/// config struct cannot leak through a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where the client secret comes from: an environment variable, or a file
/// (a Kubernetes Secret mounted as a volume; trailing newlines are dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl SecretSource {
    pub fn load(&self) -> Result<Secret, ImmyBotError> {
        let value = match self {
            SecretSource::Env(var) => std::env::var(var).map_err(|_| {
                ImmyBotError::Config(format!("environment variable {var} with the client secret is not set"))
            })?,
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    ImmyBotError::Config(format!("cannot read the client secret from {}: {e}", path.display()))
                })?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(ImmyBotError::Config("the client secret is empty".into()));
        }
        Ok(Secret(value))
    }
}

/// Microsoft Entra ID client-credentials settings.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub entra_tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Overrides the token URL entirely (the simulator, sovereign clouds).
    pub token_url: Option<Url>,
    /// Overrides the scope, which is otherwise `<base URL>/.default`.
    pub scope: Option<String>,
}

/// How enum values are written in request bodies. ImmyBot reads integers
/// always and names since 0.70.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EnumEncoding {
    #[default]
    Integers,
    Names,
}

/// Retries for idempotent calls: exponential backoff with jitter.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; longer ones fail the call as rate-limited.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Client-side limits, so that a large fleet cannot hammer an instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Sustained requests per second.
    pub requests_per_second: f64,
    /// Requests that may be sent at once after a quiet period.
    pub burst: u32,
    /// Requests in flight at once.
    pub max_concurrent: usize,
    /// A call waiting longer than this is served next, whatever its
    /// priority: nothing starves behind a long line of writes.
    pub max_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests_per_second: 10.0,
            burst: 20,
            max_concurrent: 8,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Everything the client needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://<instance>.immy.bot`; paths are appended under `/api/v1/`.
    pub base_url: Url,
    pub auth: AuthConfig,
    /// Allows `http://` URLs. Only for the simulator and local tests.
    pub allow_insecure: bool,
    /// Applies to every request, including the token request.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub limits: Limits,
    pub enum_encoding: EnumEncoding,
    /// How long rarely-changing answers (tenants, computers by name,
    /// schedules) are reused.
    pub lookup_ages: crate::LookupAges,
}

/// Entra ID's public authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

impl ClientConfig {
    pub fn new(base_url: Url, auth: AuthConfig) -> Self {
        Self {
            base_url,
            auth,
            allow_insecure: false,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            limits: Limits::default(),
            enum_encoding: EnumEncoding::default(),
            lookup_ages: crate::LookupAges::default(),
        }
    }

    /// The token endpoint: the override, or Entra ID's for the tenant.
    pub fn token_url(&self) -> Result<Url, ImmyBotError> {
        if let Some(url) = &self.auth.token_url {
            return Ok(url.clone());
        }
        let tenant = self.auth.entra_tenant_id.trim();
        if tenant.is_empty() || tenant.contains('/') {
            return Err(ImmyBotError::Config(format!(
                "Entra tenant id {tenant:?} is not a tenant id or domain"
            )));
        }
        Url::parse(&format!("{DEFAULT_AUTHORITY_HOST}/{tenant}/oauth2/v2.0/token"))
            .map_err(|e| ImmyBotError::Config(format!("token URL: {e}")))
    }

    /// The OAuth scope: the override, or `https://<instance>.immy.bot/.default`.
    pub fn scope(&self) -> String {
        self.auth.scope.clone().unwrap_or_else(|| {
            let origin = self.base_url.origin().ascii_serialization();
            format!("{origin}/.default")
        })
    }

    /// Rejects plain-http URLs unless insecure mode was asked for.
    pub fn validate(&self) -> Result<(), ImmyBotError> {
        let mut urls = vec![("base URL", self.base_url.clone())];
        urls.push(("token URL", self.token_url()?));
        for (what, url) in urls {
            match url.scheme() {
                "https" => {}
                "http" if self.allow_insecure => {}
                "http" => {
                    return Err(ImmyBotError::Config(format!(
                        "the {what} {url} is not https; allow insecure connections explicitly (only for the simulator)"
                    )));
                }
                other => {
                    return Err(ImmyBotError::Config(format!(
                        "the {what} has unsupported scheme {other:?}"
                    )));
                }
            }
        }
        if self.auth.client_id.trim().is_empty() {
            return Err(ImmyBotError::Config("the client id is empty".into()));
        }
        if self.limits.requests_per_second <= 0.0 || self.limits.burst == 0 || self.limits.max_concurrent == 0 {
            return Err(ImmyBotError::Config(
                "rate limit, burst and concurrency must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> ClientConfig {
        ClientConfig::new(
            Url::parse(base).unwrap(),
            AuthConfig {
                entra_tenant_id: "contoso.onmicrosoft.com".into(),
                client_id: "app".into(),
                client_secret: Secret::new("s3cr3t-value"),
                token_url: None,
                scope: None,
            },
        )
    }

    #[test]
    fn derives_token_url_and_scope() {
        let c = config("https://acme.immy.bot/");
        assert_eq!(
            c.token_url().unwrap().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(c.scope(), "https://acme.immy.bot/.default");
        let mut o = c.clone();
        o.auth.scope = Some("api://custom/.default".into());
        o.auth.token_url = Some(Url::parse("https://login.microsoftonline.us/t/oauth2/v2.0/token").unwrap());
        assert_eq!(o.scope(), "api://custom/.default");
        assert_eq!(o.token_url().unwrap().host_str(), Some("login.microsoftonline.us"));
    }

    #[test]
    fn requires_https_unless_insecure_is_explicit() {
        let mut c = config("http://127.0.0.1:8080");
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("not https"), "{err}");
        c.allow_insecure = true;
        c.validate().unwrap();
    }

    #[test]
    fn secrets_do_not_print() {
        let c = config("https://acme.immy.bot");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn secret_from_file_drops_trailing_newline() {
        let path = std::env::temp_dir().join(format!("immybot-secret-{}", std::process::id()));
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(SecretSource::File(path.clone()).load().unwrap().expose(), "abc");
        std::fs::remove_file(&path).unwrap();
        let missing = SecretSource::File(path).load().unwrap_err().to_string();
        assert!(missing.contains("cannot read the client secret"), "{missing}");
    }
}
