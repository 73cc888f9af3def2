//! `ImmyBotConnection` and `ClusterImmyBotConnection`: where an ImmyBot
//! instance is and how to sign in to it, as objects (cert-manager's Issuer
//! and ClusterIssuer). Sessions, both schedule kinds and SessionSearch name
//! one in `spec.connectionRef`, or use the default.
//!
//! The doc comments are what `kubectl explain` shows.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// The key a connection's Secret holds the client secret under, unless
/// `clientSecretRef.key` says otherwise.
pub const DEFAULT_CLIENT_SECRET_KEY: &str = "clientSecret";

/// An ImmyBot instance and the app registration that signs in to it. Its
/// Secret lives in the connection's own namespace; only objects in that
/// namespace can use it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "ImmyBotConnection",
    namespaced,
    doc = "An ImmyBot instance and the Entra app registration that signs in to it, for the objects of this namespace. The client secret comes from a Secret in the same namespace. Ready once a token was obtained and a call to the instance succeeded.",
    status = "ConnectionStatus",
    shortname = "ibc",
    category = "immybot",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Default","type":"boolean","jsonPath":".spec.default"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new("self.metadata.name.size() <= 63").message("a connection's name has at most 63 characters: objects using it are labelled with it (immybot.io/shard)")
)]
#[serde(rename_all = "camelCase")]
pub struct ImmyBotConnectionSpec {
    #[serde(flatten)]
    pub settings: ConnectionSettings,
}

/// An ImmyBot instance and the app registration that signs in to it, for
/// every namespace. Its Secret lives in the one namespace the operator is
/// configured with (`--cluster-connection-secret-namespace`, by default
/// the operator's own); `status.secretNamespace` says which.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "immybot.io",
    version = "v1alpha1",
    kind = "ClusterImmyBotConnection",
    doc = "An ImmyBot instance and the Entra app registration that signs in to it, for objects in every namespace. The client secret comes from a Secret in the operator's configured namespace (status.secretNamespace says which), not the namespace of the objects using it. Ready once a token was obtained and a call to the instance succeeded.",
    status = "ConnectionStatus",
    shortname = "cibc",
    category = "immybot",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Default","type":"boolean","jsonPath":".spec.default"}"#,
    printcolumn = r#"{"name":"Secret Namespace","type":"string","jsonPath":".status.secretNamespace"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new("self.metadata.name.size() <= 63").message("a connection's name has at most 63 characters: objects using it are labelled with it (immybot.io/shard)")
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterImmyBotConnectionSpec {
    #[serde(flatten)]
    pub settings: ConnectionSettings,
}

/// What both connection kinds hold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSettings {
    /// The instance's base URL, `https://<instance>.immy.bot`. Cannot
    /// change: sessions started through this connection are looked up on
    /// this instance for good. Point a new connection at another instance.
    /// `http://` only when the operator runs with `--allow-insecure-http`
    /// (the simulator).
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.url cannot change: sessions started through this connection are looked up on that instance; create a new connection for another instance"))]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("spec.url must be an https:// URL (http:// only for the simulator)"))]
    #[schemars(length(min = 8, max = 2048))]
    pub url: String,

    /// The Microsoft Entra tenant of the app registration (id or domain).
    #[schemars(length(min = 1, max = 253))]
    pub entra_tenant_id: String,

    /// The app registration's client (application) id.
    #[schemars(length(min = 1, max = 253))]
    pub client_id: String,

    /// The Secret holding the client secret. A new value is picked up
    /// without a restart (the Secret is read again every minute).
    pub client_secret_ref: SecretKeyRef,

    /// Overrides the token URL (sovereign clouds, the simulator); by
    /// default Entra ID's for `entraTenantId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub token_url: Option<String>,

    /// Overrides the OAuth scope; by default `<url>/.default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub scope: Option<String>,

    /// How hard this instance may be asked. ImmyBot publishes no limits;
    /// the defaults are the operator's (10 requests a second, bursts of 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<ConnectionRate>,

    /// Used by objects that name no connection (`spec.connectionRef`
    /// unset): an ImmyBotConnection marked default serves its namespace, a
    /// ClusterImmyBotConnection marked default every namespace without one;
    /// without either, the operator's own flags (`--immybot-url`). Two
    /// marked default at the same level serve nobody: the objects say so.
    #[serde(default)]
    pub default: bool,
}

/// A key of a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key within it; `clientSecret` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

impl SecretKeyRef {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_CLIENT_SECRET_KEY)
    }
}

/// A connection's request budget: every call to the instance through it
/// shares it (starts before listings, listings before history).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRate {
    /// Sustained requests per second (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub requests_per_second: Option<i32>,
    /// Requests that may go at once after a quiet period (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub burst: Option<i32>,
}

/// What the operator last saw of a connection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// `Ready`: True once a token was obtained and a call to the instance
    /// succeeded; False with the last error (never the secret) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The namespace the client secret is read from: the connection's own
    /// for an ImmyBotConnection, the operator's configured one for a
    /// ClusterImmyBotConnection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_namespace: Option<String>,
}

/// Which connection an object uses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    /// `ImmyBotConnection` (in the object's namespace, the default) or
    /// `ClusterImmyBotConnection`.
    #[serde(default)]
    pub kind: ConnectionKind,
    /// At most 63 characters: objects are labelled with it (their shard).
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, schemars::JsonSchema,
)]
pub enum ConnectionKind {
    #[default]
    ImmyBotConnection,
    ClusterImmyBotConnection,
}
