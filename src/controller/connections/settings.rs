//! A connection object and its Secret as the ImmyBot client's
//! configuration. Pure; the secret never reaches an error message.

use immybot_client::{AuthConfig, ClientConfig, Limits, Secret};
use k8s_openapi::api::core::v1::Secret as KubeSecret;

use crate::api::ConnectionSettings;

/// Why a connection's settings cannot make a client (a condition's
/// message: what to fix, never the secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("Secret {namespace}/{name} does not exist")]
    SecretNotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name} has no key {key:?} (or it is empty)")]
    SecretKeyMissing {
        namespace: String,
        name: String,
        key: String,
    },
    #[error(
        "the operator may not read Secret {namespace}/{name} (RBAC): list it in the chart's connections.secretNames, or set connections.readAnySecret"
    )]
    SecretNotReadable { namespace: String, name: String },
    #[error("{0}")]
    Invalid(String),
}

impl SettingsError {
    pub fn reason(&self) -> &'static str {
        match self {
            SettingsError::SecretNotFound { .. } => "SecretNotFound",
            SettingsError::SecretKeyMissing { .. } => "SecretKeyMissing",
            SettingsError::SecretNotReadable { .. } => "SecretNotReadable",
            SettingsError::Invalid(_) => "InvalidSettings",
        }
    }
}

/// The client secret `settings` names, from `secret` (read in `namespace`).
pub fn client_secret(
    settings: &ConnectionSettings,
    namespace: &str,
    secret: Option<&KubeSecret>,
) -> Result<Secret, SettingsError> {
    let reference = &settings.client_secret_ref;
    let secret = secret.ok_or_else(|| SettingsError::SecretNotFound {
        namespace: namespace.to_owned(),
        name: reference.name.clone(),
    })?;
    let key = reference.key();
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| String::from_utf8_lossy(&b.0).trim_end_matches(['\n', '\r']).to_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
        })
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SettingsError::SecretKeyMissing {
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
            key: key.to_owned(),
        })?;
    Ok(Secret::new(value))
}

/// The client configuration: `template` (the operator's own: timeouts,
/// retries, whether `http://` is allowed, concurrency) with the
/// connection's instance, sign-in and rate.
pub fn client_config(
    settings: &ConnectionSettings,
    secret: Secret,
    template: &ClientConfig,
) -> Result<ClientConfig, SettingsError> {
    let invalid = |what: &str, e: url::ParseError| SettingsError::Invalid(format!("{what} is not a URL: {e}"));
    let base_url = url::Url::parse(&settings.url).map_err(|e| invalid("spec.url", e))?;
    let token_url = settings
        .token_url
        .as_deref()
        .map(url::Url::parse)
        .transpose()
        .map_err(|e| invalid("spec.tokenUrl", e))?;
    let defaults = Limits::default();
    let rate = settings.rate.clone().unwrap_or(crate::api::ConnectionRate {
        requests_per_second: None,
        burst: None,
    });
    let config = ClientConfig {
        base_url,
        auth: AuthConfig {
            entra_tenant_id: settings.entra_tenant_id.clone(),
            client_id: settings.client_id.clone(),
            client_secret: secret,
            token_url,
            scope: settings.scope.clone(),
        },
        limits: Limits {
            requests_per_second: rate.requests_per_second.map_or(defaults.requests_per_second, f64::from),
            burst: rate.burst.and_then(|b| u32::try_from(b).ok()).unwrap_or(defaults.burst),
            ..template.limits.clone()
        },
        ..template.clone()
    };
    config.validate().map_err(|e| SettingsError::Invalid(e.to_string()))?;
    Ok(config)
}

/// What makes two configurations need two clients: everything but the
/// secret (a new secret is rotated into the same client, keeping its
/// budget).
pub fn fingerprint(config: &ClientConfig) -> String {
    format!(
        "{}|{}|{}|{:?}|{}|{}|{}",
        config.base_url,
        config.auth.entra_tenant_id,
        config.auth.client_id,
        config.auth.token_url.as_ref().map(url::Url::as_str),
        config.scope(),
        config.limits.requests_per_second,
        config.limits.burst,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConnectionRate, SecretKeyRef};
    use k8s_openapi::ByteString;

    fn settings() -> ConnectionSettings {
        ConnectionSettings {
            url: "https://acme.immy.bot".into(),
            entra_tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "app".into(),
            client_secret_ref: SecretKeyRef {
                name: "immybot".into(),
                key: None,
            },
            token_url: None,
            scope: None,
            rate: Some(ConnectionRate {
                requests_per_second: Some(3),
                burst: None,
            }),
            default: false,
        }
    }

    fn template() -> ClientConfig {
        ClientConfig::new(
            url::Url::parse("https://flags.immy.bot").unwrap(),
            AuthConfig {
                entra_tenant_id: "t".into(),
                client_id: "c".into(),
                client_secret: Secret::new("flag-secret"),
                token_url: None,
                scope: None,
            },
        )
    }

    fn kube_secret(key: &str, value: &str) -> KubeSecret {
        KubeSecret {
            data: Some([(key.to_owned(), ByteString(value.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_secret_comes_from_its_key_and_its_absence_is_named_without_a_value() {
        let s = settings();
        let got = client_secret(&s, "ns", Some(&kube_secret("clientSecret", "hunter2\n"))).unwrap();
        assert_eq!(got.expose(), "hunter2");
        let missing = client_secret(&s, "ns", Some(&kube_secret("other", "hunter2"))).unwrap_err();
        assert_eq!(missing.reason(), "SecretKeyMissing");
        assert!(missing.to_string().contains("clientSecret"), "{missing}");
        assert!(!missing.to_string().contains("hunter2"), "{missing}");
        let absent = client_secret(&s, "ns", None).unwrap_err();
        assert_eq!(absent.to_string(), "Secret ns/immybot does not exist");
    }

    #[test]
    fn the_connection_keeps_the_operators_timeouts_and_sets_its_own_rate() {
        let mut t = template();
        t.request_timeout = std::time::Duration::from_secs(7);
        let c = client_config(&settings(), Secret::new("s"), &t).unwrap();
        assert_eq!(c.base_url.as_str(), "https://acme.immy.bot/");
        assert_eq!(c.request_timeout, std::time::Duration::from_secs(7));
        assert_eq!(c.limits.requests_per_second, 3.0);
        assert_eq!(c.limits.burst, Limits::default().burst);
        assert_eq!(c.scope(), "https://acme.immy.bot/.default");
    }

    #[test]
    fn http_needs_the_operators_insecure_flag() {
        let mut s = settings();
        s.url = "http://127.0.0.1:9".into();
        s.token_url = Some("http://127.0.0.1:9/token".into());
        let err = client_config(&s, Secret::new("s"), &template()).unwrap_err();
        assert!(err.to_string().contains("not https"), "{err}");
        let mut t = template();
        t.allow_insecure = true;
        client_config(&s, Secret::new("s"), &t).unwrap();
    }

    #[test]
    fn a_new_secret_keeps_the_fingerprint_and_a_new_rate_does_not() {
        let t = template();
        let a = client_config(&settings(), Secret::new("one"), &t).unwrap();
        let b = client_config(&settings(), Secret::new("two"), &t).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let mut faster = settings();
        faster.rate = None;
        let c = client_config(&faster, Secret::new("one"), &t).unwrap();
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
