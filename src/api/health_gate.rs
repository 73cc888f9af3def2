//! `spec.rollout.healthGate`: a rollout's waves wait on the fleet's own
//! alarms, the way AWS Systems Manager stops a maintenance window when a
//! CloudWatch alarm fires and Argo Rollouts gates a step on a Prometheus
//! query. Part of what is approved.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Before each wave starts, and while a wave runs, the rollout asks whether
/// named alerts fire. A firing gate halts the rollout (phase `Halted`,
/// reason `HealthGateFailed`): the running wave finishes, nothing more
/// starts; `kubectl immybot resume` continues once the gate is clear.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.alertmanager) || has(self.prometheus)").message("a health gate reads alertmanager, prometheus or both"))]
pub struct HealthGate {
    /// Alerts from Alertmanager's API v2: the gate fires while any alert
    /// that matches every matcher is active (neither silenced nor
    /// inhibited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<AlertmanagerGate>,
    /// A Prometheus instant query with a condition on its result, as an
    /// Argo Rollouts AnalysisTemplate's prometheus metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusGate>,
    /// What a gate that cannot be read (no answer, an error, an answer of
    /// another shape, a Secret that cannot be read) does: `Hold` (the
    /// default) keeps the next wave from starting until it can be read;
    /// `Proceed` starts it as if the gate were clear.
    #[serde(default)]
    pub on_unreachable: OnUnreachable,
    /// How often the gate is read while a wave runs (before a wave starts it
    /// is always read then; a wave it holds looks again at least every 30
    /// seconds). Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(s|m|h))+$"))]
    pub interval: Option<String>,
}

/// What an unreadable gate does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum OnUnreachable {
    /// Nothing starts until the gate can be read.
    #[default]
    Hold,
    /// Start as if the gate were clear.
    Proceed,
}

/// An Alertmanager to ask.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerGate {
    /// Alertmanager's base URL (`http://alertmanager.monitoring:9093`);
    /// `/api/v2/alerts` is appended. No credentials in the URL: name a
    /// Secret in `credentials`.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^https?://[^@/?#]+(/[^?#@]*)?$')").message("address is an http(s) URL without user information, query or fragment (credentials go in credentials.secretName)"))]
    pub address: String,
    /// Label matchers in Alertmanager's filter syntax (`severity="critical"`,
    /// `alertname=~"Endpoint.*"`, `team!="lab"`); an alert fires the gate
    /// when it matches all of them.
    #[schemars(
        length(min = 1, max = 20),
        inner(
            length(min = 3, max = 256),
            regex(pattern = r#"^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)("[^"]*"|[^",{}]*)$"#)
        )
    )]
    pub matchers: Vec<String>,
    /// Credentials for Alertmanager, if it asks for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<GateCredentials>,
}

/// A Prometheus instant query and when its result fires the gate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.successCondition) || has(self.failureCondition)").message("a prometheus gate needs successCondition, failureCondition or both"))]
pub struct PrometheusGate {
    /// Prometheus' base URL (`http://prometheus.monitoring:9090`);
    /// `/api/v1/query` is appended.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^https?://[^@/?#]+(/[^?#@]*)?$')").message("address is an http(s) URL without user information, query or fragment (credentials go in credentials.secretName)"))]
    pub address: String,
    /// The PromQL expression, evaluated at the moment of asking.
    #[schemars(length(min = 1, max = 4096))]
    pub query: String,
    /// When the result is healthy, over `result` (a vector's values in
    /// order, or a scalar's), as Argo Rollouts writes it:
    /// `result[0] < 0.05`, `len(result) == 0`, `all(result, # < 5)`.
    /// The gate fires when this is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub success_condition: Option<String>,
    /// When the result is unhealthy (`result[0] > 0`): the gate fires when
    /// this is true. Checked first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub failure_condition: Option<String>,
    /// Credentials for Prometheus, if it asks for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<GateCredentials>,
}

/// A Secret in the object's namespace with a bearer token (key `token`) or
/// basic-auth credentials (keys `username` and `password`). The operator
/// only ever GETs it (grant it in the chart's `connections.secretNames`);
/// its contents never appear in status, events or logs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateCredentials {
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// A health gate's halt, recorded when the gate fired (before a wave or
/// while one ran) and kept until a person resumes the rollout.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateHalt {
    /// When the gate was first seen firing.
    pub since: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    /// What fired: alert names (Alertmanager) or the query's condition
    /// (Prometheus), at most ten.
    pub firing: Vec<String>,
    /// A person resumed the rollout: the next wave starts as soon as the
    /// gate is clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}
