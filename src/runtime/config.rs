//! The operator's configuration, from flags and environment variables.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::controller::{ApprovalPolicy, Timing};
use immybot_client::{AuthConfig, ClientConfig, ImmyBotError, Limits, SecretSource};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Manages ImmyBot maintenance sessions as Kubernetes objects.
#[derive(Parser, Clone, Debug)]
#[command(name = "immybot-operator", version, about)]
pub struct OperatorArgs {
    /// ImmyBot instance, e.g. https://acme.immy.bot
    #[arg(long, env = "IMMYBOT_URL")]
    pub immybot_url: url::Url,
    /// Microsoft Entra tenant id (or domain) of the app registration.
    #[arg(long, env = "IMMYBOT_ENTRA_TENANT_ID")]
    pub entra_tenant_id: String,
    /// Client id of the app registration.
    #[arg(long, env = "IMMYBOT_CLIENT_ID")]
    pub client_id: String,
    /// File holding the client secret (a mounted Kubernetes Secret).
    #[arg(long, env = "IMMYBOT_CLIENT_SECRET_FILE", conflicts_with = "client_secret_env")]
    pub client_secret_file: Option<PathBuf>,
    /// Name of the environment variable holding the client secret.
    #[arg(long, default_value = "IMMYBOT_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Token endpoint override (sovereign clouds, the simulator).
    #[arg(long, env = "IMMYBOT_TOKEN_URL")]
    pub token_url: Option<url::Url>,
    /// OAuth scope override (default: <immybot-url>/.default).
    #[arg(long, env = "IMMYBOT_SCOPE")]
    pub scope: Option<String>,
    /// Allow plain http to ImmyBot and the token endpoint (simulator only).
    #[arg(long, env = "IMMYBOT_ALLOW_INSECURE_HTTP")]
    pub allow_insecure_http: bool,

    /// Keep an excerpt of each failed action's log in status (its last lines,
    /// script parameters blanked out); `false` reads no action logs at all.
    #[arg(long, env = "IMMYBOT_ACTION_LOG_EXCERPTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub action_log_excerpts: bool,

    /// Namespaces where spec.approval (GitOps inline approval) counts. Comma-separated.
    #[arg(long, env = "IMMYBOT_INLINE_APPROVAL_NAMESPACES", value_delimiter = ',')]
    pub inline_approval_namespaces: Vec<String>,
    /// Namespaces that need no approval at all (labs). Comma-separated.
    #[arg(long, env = "IMMYBOT_UNAPPROVED_NAMESPACES", value_delimiter = ',')]
    pub unapproved_namespaces: Vec<String>,
    /// The pilot rule: a tenant-wide MaintenanceSession of more computers
    /// than this needs a pilot (spec.rollout with strategy Waves and a
    /// pilot). Default: no rule.
    #[arg(long, env = "IMMYBOT_PILOT_REQUIRED_ABOVE")]
    pub pilot_required_above: Option<i32>,
    /// Per-namespace overrides of --pilot-required-above, e.g.
    /// `prod=50,lab=off`. Comma-separated.
    #[arg(long, env = "IMMYBOT_PILOT_REQUIRED_ABOVE_IN", value_delimiter = ',', value_parser = pilot_override)]
    pub pilot_required_above_in: Vec<(String, Option<i32>)>,
    /// Plans made mandatory: a MaintenanceSession whose blast radius is more
    /// computers than this, without spec.plan, starts nothing (Stalled
    /// PlanRequired) until its requester adds one. Default: no rule.
    #[arg(long, env = "IMMYBOT_PLAN_REQUIRED_ABOVE")]
    pub plan_required_above: Option<i32>,
    /// For the cautious: a plan's detection-only session waits for an
    /// approval of the spec (any MaintenanceApproval of its digest, by
    /// someone else) before it runs; the start then needs an approval of
    /// the plan as well. Default: detection needs none (it changes nothing).
    #[arg(long, env = "IMMYBOT_PLAN_DETECTION_NEEDS_APPROVAL", default_value_t = false, action = clap::ArgAction::Set)]
    pub plan_detection_needs_approval: bool,
    /// Record each tenant's measured computer count in the settings
    /// ConfigMap (--settings-configmap in the operator's namespace), for
    /// the pilot rule's admission policy. The chart turns it on.
    #[arg(long, env = "IMMYBOT_RECORD_TENANT_SIZES", default_value_t = false, action = clap::ArgAction::Set)]
    pub record_tenant_sizes: bool,
    /// The settings ConfigMap's name (the chart names it after the release,
    /// so that two releases in one namespace keep their own).
    #[arg(long, env = "IMMYBOT_SETTINGS_CONFIGMAP", default_value = crate::api::pilot::SETTINGS_CONFIGMAP)]
    pub settings_configmap: String,

    /// Watch only this namespace (default: all).
    #[arg(long, env = "IMMYBOT_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Poll interval while sessions run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub poll_active_seconds: u64,
    /// Poll interval while nothing runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub poll_idle_seconds: u64,
    /// How long an unanswered start may be in flight before its sessions are looked up.
    #[arg(long, default_value_t = 90)]
    pub start_grace_seconds: u64,
    /// How long until computers ImmyBot reported busy are tried again, in
    /// seconds (doubling while they stay busy, up to ten times this).
    #[arg(long, default_value_t = 60)]
    pub busy_retry_seconds: u64,
    /// ImmyBot request timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    pub request_timeout_seconds: u64,
    /// Sustained ImmyBot requests per second.
    #[arg(long, default_value_t = 10.0)]
    pub requests_per_second: f64,
    /// ImmyBot requests allowed at once after a quiet period.
    #[arg(long, default_value_t = 20)]
    pub request_burst: u32,
    /// ImmyBot requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub max_concurrent_requests: usize,
    /// Kubernetes API-server writes (status, finalizers, events) in flight
    /// at once; beyond that they queue, a status that ends a session first
    /// and events last. 0 means no limit.
    #[arg(long, default_value_t = crate::controller::write_gate::DEFAULT_SLOTS)]
    pub max_concurrent_api_writes: usize,

    /// Where a ClusterImmyBotConnection's Secret is read from (default:
    /// the operator's own namespace, `POD_NAMESPACE`).
    #[arg(long, env = "IMMYBOT_CLUSTER_CONNECTION_SECRET_NAMESPACE")]
    pub cluster_connection_secret_namespace: Option<String>,
    /// How often each connection object's Secret is read again (a rotated
    /// secret is used from then on) and its instance asked, in seconds.
    #[arg(long, default_value_t = 60)]
    pub connection_recheck_seconds: u64,

    /// Serve only the objects this label selector matches (a shard):
    /// e.g. `immybot.io/shard in (lab)`, or for the default shard
    /// `immybot.io/shard notin (lab)` (which also takes unlabelled
    /// objects). Give each shard its own `--lease-name`.
    #[arg(long, env = "IMMYBOT_SHARD_SELECTOR")]
    pub shard_selector: Option<String>,

    /// Send notifications (awaiting approval, plan ready, drift held, a
    /// rollout halted, failed, ended with failures, compliance not reached)
    /// as CloudEvents to this URL: Tekton's `default-cloud-events-sink`.
    /// Default: none (nothing is recorded or sent). docs/notifications.md.
    #[arg(long, env = "IMMYBOT_DEFAULT_CLOUD_EVENTS_SINK")]
    pub default_cloud_events_sink: Option<url::Url>,
    /// How long an undelivered notification is retried (with a growing
    /// delay, up to 5 minutes) before it is given up, in seconds.
    #[arg(long, env = "IMMYBOT_NOTIFICATION_RETRY_SECONDS", default_value_t = 21_600)]
    pub notification_retry_seconds: u64,

    /// Address of /livez, /readyz and /metrics.
    #[arg(long, env = "IMMYBOT_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    pub admin_addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "IMMYBOT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Send the operator's spans to this OpenTelemetry collector (OTLP over
    /// HTTP with protobuf; the base URL, `/v1/traces` is added), e.g.
    /// http://otel-collector.observability:4318. Default: none. Needs the
    /// `otlp` cargo feature (on in the default build).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<url::Url>,

    /// Run without leader election (a single replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "immybot-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

impl OperatorArgs {
    /// The ImmyBot client's configuration: one budget
    /// (`--requests-per-second`) for every call, served by priority (starts
    /// and cancels first, reads of ended sessions, the poller's listing,
    /// progress reads last); a call waits at most the idle poll interval
    /// before it goes next, so nothing starves.
    pub fn client_config(&self) -> Result<ClientConfig, ImmyBotError> {
        let source = match &self.client_secret_file {
            Some(path) => SecretSource::File(path.clone()),
            None => SecretSource::Env(self.client_secret_env.clone()),
        };
        let mut config = ClientConfig::new(
            self.immybot_url.clone(),
            AuthConfig {
                entra_tenant_id: self.entra_tenant_id.clone(),
                client_id: self.client_id.clone(),
                client_secret: source.load()?,
                token_url: self.token_url.clone(),
                scope: self.scope.clone(),
            },
        );
        config.allow_insecure = self.allow_insecure_http;
        config.request_timeout = Duration::from_secs(self.request_timeout_seconds.max(1));
        config.limits = Limits {
            requests_per_second: self.requests_per_second,
            burst: self.request_burst,
            max_concurrent: self.max_concurrent_requests,
            max_wait: Duration::from_secs(self.poll_idle_seconds.max(1)),
        };
        config.validate()?;
        Ok(config)
    }

    /// How connection objects become clients: the flags' configuration as
    /// the template, the Secret namespace of cluster connections.
    pub fn connection_defaults(
        &self,
        template: ClientConfig,
        call_observer: Option<std::sync::Arc<dyn immybot_client::CallObserver>>,
    ) -> crate::controller::connections::ConnectionDefaults {
        crate::controller::connections::ConnectionDefaults {
            template,
            cluster_secret_namespace: self
                .cluster_connection_secret_namespace
                .clone()
                .unwrap_or_else(|| self.lease_namespace.clone()),
            call_observer,
            recheck: Duration::from_secs(self.connection_recheck_seconds.max(1)),
        }
    }

    pub fn approval_policy(&self) -> ApprovalPolicy {
        let set = |v: &Vec<String>| {
            v.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<BTreeSet<_>>()
        };
        let per_namespace = self.pilot_required_above_in.iter().cloned().collect();
        ApprovalPolicy {
            inline_namespaces: set(&self.inline_approval_namespaces),
            unapproved_namespaces: set(&self.unapproved_namespaces),
            pilot: crate::controller::PilotRule {
                required_above: self.pilot_required_above,
                per_namespace,
                settings: self
                    .record_tenant_sizes
                    .then(|| (self.lease_namespace.clone(), self.settings_configmap.clone())),
            },
            plans: crate::controller::PlanRule {
                required_above: self.plan_required_above,
                detection_needs_approval: self.plan_detection_needs_approval,
            },
        }
    }

    pub fn timing(&self) -> Timing {
        Timing {
            start_grace: Duration::from_secs(self.start_grace_seconds.max(2 * self.request_timeout_seconds)),
            poll_active: Duration::from_secs(self.poll_active_seconds.max(1)),
            poll_idle: Duration::from_secs(self.poll_idle_seconds.max(1)),
            busy_retry: Duration::from_secs(self.busy_retry_seconds.max(1)),
            ..Timing::default()
        }
    }
}

/// One `namespace=N` (or `namespace=off`) of --pilot-required-above-in.
fn pilot_override(s: &str) -> Result<(String, Option<i32>), String> {
    let (ns, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write namespace=N or namespace=off"))?;
    let n = match n.trim() {
        "off" => None,
        n => Some(
            n.parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{s:?}: {n:?} is neither a number of computers nor off"))?,
        ),
    };
    Ok((ns.trim().to_owned(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_build_a_client_config_and_policy() {
        let args = OperatorArgs::try_parse_from([
            "immybot-operator",
            "--immybot-url",
            "https://acme.immy.bot",
            "--entra-tenant-id",
            "contoso.onmicrosoft.com",
            "--client-id",
            "app",
            "--client-secret-env",
            "PATH", // any set variable: the test only checks wiring
            "--inline-approval-namespaces",
            "gitops, prod",
            "--start-grace-seconds",
            "10",
            "--pilot-required-above",
            "200",
            "--pilot-required-above-in",
            "prod=50,lab=off",
            // As the chart renders them.
            "--plan-required-above=100",
            "--plan-detection-needs-approval=true",
        ])
        .unwrap();
        let config = args.client_config().unwrap();
        assert_eq!(config.scope(), "https://acme.immy.bot/.default");
        let policy = args.approval_policy();
        assert!(policy.inline_namespaces.contains("prod") && policy.inline_namespaces.contains("gitops"));
        assert!(policy.unapproved_namespaces.is_empty());
        assert_eq!(
            policy.plans,
            crate::controller::PlanRule {
                required_above: Some(100),
                detection_needs_approval: true
            }
        );
        assert_eq!(
            (
                policy.pilot.threshold("prod"),
                policy.pilot.threshold("lab"),
                policy.pilot.threshold("x")
            ),
            (Some(50), None, Some(200))
        );
        assert!(pilot_override("prod=many").is_err() && pilot_override("prod").is_err());
        // The grace must outlast two request timeouts, whatever was asked.
        assert_eq!(args.timing().start_grace, Duration::from_secs(60));
    }

    #[test]
    fn every_flag_is_documented() {
        use clap::CommandFactory as _;
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md")).unwrap();
        for arg in OperatorArgs::command().get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    doc.contains(&format!("`--{long}`")),
                    "docs/configuration.md does not document --{long}"
                );
            }
        }
    }

    #[test]
    fn http_is_refused_without_the_insecure_flag() {
        let args = OperatorArgs::try_parse_from([
            "immybot-operator",
            "--immybot-url",
            "http://127.0.0.1:8085",
            "--entra-tenant-id",
            "t",
            "--client-id",
            "c",
            "--client-secret-env",
            "PATH",
        ])
        .unwrap();
        assert!(args.client_config().unwrap_err().to_string().contains("not https"));
    }
}
