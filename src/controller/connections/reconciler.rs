//! The connection objects' controller: reads each one's Secret, makes (or
//! keeps) its client, proves it with a token and one cheap call, and says
//! so in `Ready`. Runs again every `recheck`, which is how a rotated
//! Secret is picked up without a watch on Secrets: the operator only ever
//! GETs the Secrets connections name, so RBAC can name them
//! (`resourceNames`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt as _};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key::ConnectionKey;
use super::registry::{Connections, LiveConnection};
use super::settings::{SettingsError, client_config, client_secret, fingerprint};
use crate::api::{ClusterImmyBotConnection, ConnectionSettings, ConnectionStatus, ImmyBotConnection};
use crate::controller::clock::Clock;
use crate::controller::conditions;
use crate::controller::error::Error;
use immybot_client::{ErrorKind, ImmyBotClient, ImmyBotError, Priority};

/// What the connection controller works with.
pub struct ConnectionContext {
    pub client: kube::Client,
    pub connections: Connections,
    pub clock: Arc<Clock>,
    /// How often each connection's Secret is read again and the instance
    /// asked (rotation and health).
    pub recheck: Duration,
}

/// What both connection kinds have in common, for one reconcile.
pub trait ConnectionObject:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug + Send + Sync + 'static
{
    fn settings(&self) -> &ConnectionSettings;
    fn status(&self) -> Option<&ConnectionStatus>;
    fn key(&self) -> ConnectionKey;
    /// Where its Secret lives.
    fn secret_namespace(&self, cluster_secret_namespace: &str) -> String;
    fn api(client: &kube::Client, obj: &Self) -> Api<Self>;
}

impl ConnectionObject for ImmyBotConnection {
    fn settings(&self) -> &ConnectionSettings {
        &self.spec.settings
    }
    fn status(&self) -> Option<&ConnectionStatus> {
        self.status.as_ref()
    }
    fn key(&self) -> ConnectionKey {
        ConnectionKey::Namespaced {
            namespace: self.namespace().unwrap_or_default(),
            name: self.name_any(),
        }
    }
    fn secret_namespace(&self, _: &str) -> String {
        self.namespace().unwrap_or_default()
    }
    fn api(client: &kube::Client, obj: &Self) -> Api<Self> {
        Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
    }
}

impl ConnectionObject for ClusterImmyBotConnection {
    fn settings(&self) -> &ConnectionSettings {
        &self.spec.settings
    }
    fn status(&self) -> Option<&ConnectionStatus> {
        self.status.as_ref()
    }
    fn key(&self) -> ConnectionKey {
        ConnectionKey::Cluster { name: self.name_any() }
    }
    fn secret_namespace(&self, cluster_secret_namespace: &str) -> String {
        cluster_secret_namespace.to_owned()
    }
    fn api(client: &kube::Client, _: &Self) -> Api<Self> {
        Api::all(client.clone())
    }
}

/// What one look at a connection found.
struct Verdict {
    ready: bool,
    reason: &'static str,
    message: String,
}

pub async fn reconcile<K: ConnectionObject>(obj: Arc<K>, ctx: Arc<ConnectionContext>) -> Result<Action, Error> {
    let key = obj.key();
    let Some(defaults) = ctx.connections.defaults().cloned() else {
        let why = "the operator was started without connection defaults".to_owned();
        ctx.connections.unregister(&key, why.clone());
        write_status(&ctx, &*obj, None, false, "NotConfigured", why).await?;
        return Ok(Action::requeue(ctx.recheck));
    };
    let secret_namespace = obj.secret_namespace(&defaults.cluster_secret_namespace);
    let reference = &obj.settings().client_secret_ref;
    let secret = match Api::<KubeSecret>::namespaced(ctx.client.clone(), &secret_namespace)
        .get_opt(&reference.name)
        .await
    {
        Ok(s) => Ok(s),
        Err(kube::Error::Api(e)) if e.code == 403 => Err(SettingsError::SecretNotReadable {
            namespace: secret_namespace.clone(),
            name: reference.name.clone(),
        }),
        Err(e) => return Err(e.into()),
    };
    let made = secret
        .and_then(|s| client_secret(obj.settings(), &secret_namespace, s.as_ref()))
        .and_then(|s| client_config(obj.settings(), s, &defaults.template));
    let verdict = match made {
        Err(e) => {
            ctx.connections.unregister(&key, e.to_string());
            Verdict {
                ready: false,
                reason: e.reason(),
                message: e.to_string(),
            }
        }
        Ok(config) => {
            let live = live_client(&ctx.connections, &key, obj.uid(), config, &defaults)?;
            let verdict = probe(&live.client).await;
            ctx.connections
                .note(&key, (!verdict.ready).then(|| verdict.message.clone()));
            verdict
        }
    };
    write_status(
        &ctx,
        &*obj,
        Some(secret_namespace),
        verdict.ready,
        verdict.reason,
        verdict.message,
    )
    .await?;
    Ok(Action::requeue(ctx.recheck))
}

pub fn error_policy<K: ConnectionObject>(obj: Arc<K>, error: &Error, ctx: Arc<ConnectionContext>) -> Action {
    tracing::warn!(connection = %obj.key(), error = %error, "checking a connection failed");
    Action::requeue(ctx.recheck)
}

/// The connection's client: the registered one when only the secret
/// changed (rotated into it, keeping its budget), else a new one.
fn live_client(
    connections: &Connections,
    key: &ConnectionKey,
    uid: Option<String>,
    config: immybot_client::ClientConfig,
    defaults: &super::ConnectionDefaults,
) -> Result<Arc<LiveConnection>, Error> {
    let print = fingerprint(&config);
    if let Some(live) = connections.registered(key)
        && live.fingerprint == print
        && live.uid == uid
    {
        if live.client.rotate_client_secret(config.auth.client_secret.clone()) {
            tracing::info!(connection = %key, "the connection's client secret changed; signing in with the new one");
        }
        return Ok(live);
    }
    let url = config.base_url.as_str().trim_end_matches('/').to_owned();
    let mut client = ImmyBotClient::new(config)?;
    if let Some(o) = &defaults.call_observer {
        client = client.with_observer(o.clone());
    }
    tracing::info!(connection = %key, instance = %url, "made a client for the connection");
    Ok(connections.register(LiveConnection {
        key: key.clone(),
        url,
        client,
        fingerprint: print,
        uid,
    }))
}

/// A token and one cheap call, at the lowest priority (the counts of
/// sessions by status: one small answer).
async fn probe(client: &ImmyBotClient) -> Verdict {
    match client.at(Priority::Progress).status_counts().await {
        Ok(_) => Verdict {
            ready: true,
            reason: "Connected",
            message: "signed in, and the instance answered".into(),
        },
        Err(e) => Verdict {
            ready: false,
            reason: probe_reason(&e),
            message: e.to_string(),
        },
    }
}

fn probe_reason(e: &ImmyBotError) -> &'static str {
    match e {
        ImmyBotError::TokenUnavailable { .. } => "SignInFailed",
        _ => match e.kind() {
            ErrorKind::Auth => "Unauthorized",
            ErrorKind::RateLimited => "RateLimited",
            ErrorKind::Transient => "Unreachable",
            _ => "InstanceRefused",
        },
    }
}

/// Writes `Ready` (and where the Secret is read from) when it changed.
async fn write_status<K: ConnectionObject>(
    ctx: &ConnectionContext,
    obj: &K,
    secret_namespace: Option<String>,
    ready: bool,
    reason: &str,
    message: String,
) -> Result<(), Error> {
    let current = obj.status().cloned().unwrap_or_default();
    let mut next = current.clone();
    let generation = obj.meta().generation;
    let now = ctx.clock.now();
    conditions::set(
        &mut next.conditions,
        conditions::READY,
        ready,
        reason,
        message,
        generation,
        now,
    );
    next.observed_generation = generation;
    if secret_namespace.is_some() {
        next.secret_namespace = secret_namespace;
    }
    if next == current {
        return Ok(());
    }
    K::api(&ctx.client, obj)
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "status": next })),
        )
        .await?;
    Ok(())
}
