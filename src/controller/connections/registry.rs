//! The connections this process can use: the operator's flags, always, and
//! each connection object its controller has made a client for. Objects
//! ask here for theirs; a connection that is missing, not ready or
//! ambiguous is an answer that says why, never a fall-back to another.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use immybot_client::{CallObserver, ClientConfig, ImmyBotClient};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::key::{ConnectionKey, ConnectionProblem, choose};
use crate::api::{ClusterImmyBotConnection, ConnectionRef, ImmyBotConnection};
use crate::controller::store_slot::StoreSlot;

/// One usable connection: its client (one budget, one token cache).
pub struct LiveConnection {
    pub key: ConnectionKey,
    /// The instance's base URL, as objects record it.
    pub url: String,
    pub client: ImmyBotClient,
    /// What made the client (everything but the secret).
    pub(super) fingerprint: String,
    /// The connection object's uid: a connection deleted and created again
    /// is another connection.
    pub(super) uid: Option<String>,
}

/// How connection objects become clients: the operator's own client
/// configuration as the template (timeouts, retries, whether `http://` is
/// allowed), where a ClusterImmyBotConnection's Secret lives, and who sees
/// every call (metrics).
#[derive(Clone)]
pub struct ConnectionDefaults {
    pub template: ClientConfig,
    pub cluster_secret_namespace: String,
    pub call_observer: Option<Arc<dyn CallObserver>>,
    /// How often each connection's Secret is read again and its instance
    /// asked ([`super::DEFAULT_RECHECK`]).
    pub recheck: std::time::Duration,
}

/// Every connection; cheap to clone (all clones share one registry).
#[derive(Clone)]
pub struct Connections(Arc<Inner>);

struct Inner {
    flags: Arc<LiveConnection>,
    live: RwLock<HashMap<ConnectionKey, Arc<LiveConnection>>>,
    /// Why a connection has no client (its Ready condition's message).
    problems: RwLock<HashMap<ConnectionKey, String>>,
    namespaced: StoreSlot<ImmyBotConnection>,
    cluster: StoreSlot<ClusterImmyBotConnection>,
    defaults: OnceLock<ConnectionDefaults>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Connections {
    /// The registry with the flags' connection only.
    pub fn new(flags: ImmyBotClient, url: String) -> Self {
        Self(Arc::new(Inner {
            flags: Arc::new(LiveConnection {
                key: ConnectionKey::Flags,
                url,
                client: flags,
                fingerprint: String::new(),
                uid: None,
            }),
            live: Default::default(),
            problems: Default::default(),
            namespaced: Default::default(),
            cluster: Default::default(),
            defaults: OnceLock::new(),
        }))
    }

    /// Sets how connection objects become clients (once; later calls are
    /// ignored). Without it, connection objects are reported not ready.
    pub fn configure(&self, defaults: ConnectionDefaults) {
        let _ = self.0.defaults.set(defaults);
    }

    pub fn defaults(&self) -> Option<&ConnectionDefaults> {
        self.0.defaults.get()
    }

    pub fn flags(&self) -> Arc<LiveConnection> {
        self.0.flags.clone()
    }

    pub(super) fn namespaced_store(&self) -> &StoreSlot<ImmyBotConnection> {
        &self.0.namespaced
    }

    pub(super) fn cluster_store(&self) -> &StoreSlot<ClusterImmyBotConnection> {
        &self.0.cluster
    }

    /// The connection an object in `namespace` naming `reference` uses now.
    pub fn resolve(
        &self,
        reference: Option<&ConnectionRef>,
        namespace: &str,
    ) -> Result<Arc<LiveConnection>, ConnectionProblem> {
        let namespaced_defaults: Vec<String> = if reference.is_some() {
            vec![]
        } else {
            self.0
                .namespaced
                .select(|c| c.spec.settings.default && c.namespace().as_deref() == Some(namespace))
                .unwrap_or_default()
                .iter()
                .map(ResourceExt::name_any)
                .collect()
        };
        let cluster_defaults: Vec<String> = if reference.is_some() {
            vec![]
        } else {
            self.0
                .cluster
                .select(|c| c.spec.settings.default)
                .unwrap_or_default()
                .iter()
                .map(ResourceExt::name_any)
                .collect()
        };
        let key = choose(reference, namespace, &namespaced_defaults, &cluster_defaults)?;
        self.get(&key)
    }

    /// The connection an object recorded it started through, still
    /// reaching `instance`.
    pub fn pinned(
        &self,
        reference: Option<&ConnectionRef>,
        namespace: &str,
        instance: &str,
    ) -> Result<Arc<LiveConnection>, ConnectionProblem> {
        let key = ConnectionKey::recorded(reference, namespace);
        let live = self.get(&key)?;
        if same_instance(&live.url, instance) {
            Ok(live)
        } else {
            Err(ConnectionProblem::Moved {
                key,
                was: instance.to_owned(),
                now: live.url.clone(),
            })
        }
    }

    /// The client of `key`, if its object exists (the same object the
    /// client was made for) and has one.
    pub fn get(&self, key: &ConnectionKey) -> Result<Arc<LiveConnection>, ConnectionProblem> {
        // By key, not by a scan: this is asked on every reconcile.
        let uid = match key {
            ConnectionKey::Flags => return Ok(self.flags()),
            ConnectionKey::Namespaced { namespace, name } => self
                .0
                .namespaced
                .get_all([ObjectRef::new(name).within(namespace)])
                .and_then(|mut v| v.pop())
                .map(|c| c.uid()),
            ConnectionKey::Cluster { name } => self
                .0
                .cluster
                .get_all([ObjectRef::new(name)])
                .and_then(|mut v| v.pop())
                .map(|c| c.uid()),
        };
        let Some(uid) = uid else {
            return Err(ConnectionProblem::NotFound(key.clone()));
        };
        match read(&self.0.live).get(key) {
            Some(live) if live.uid == uid => Ok(live.clone()),
            _ => Err(ConnectionProblem::NotReady {
                key: key.clone(),
                why: read(&self.0.problems)
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| "not checked yet".into()),
            }),
        }
    }

    /// The client registered for `key`, whatever its object's state.
    pub(super) fn registered(&self, key: &ConnectionKey) -> Option<Arc<LiveConnection>> {
        read(&self.0.live).get(key).cloned()
    }

    /// Makes `live` the client of its key, and hands it back.
    pub(super) fn register(&self, live: LiveConnection) -> Arc<LiveConnection> {
        let live = Arc::new(live);
        write(&self.0.problems).remove(&live.key);
        write(&self.0.live).insert(live.key.clone(), live.clone());
        live
    }

    /// `key` has no usable client, because of `why`.
    pub(super) fn unregister(&self, key: &ConnectionKey, why: String) {
        write(&self.0.live).remove(key);
        write(&self.0.problems).insert(key.clone(), why);
    }

    /// A problem that leaves the client in place (the instance refused a
    /// call): objects go on using it, and its status says what failed.
    pub(super) fn note(&self, key: &ConnectionKey, why: Option<String>) {
        match why {
            Some(w) => write(&self.0.problems).insert(key.clone(), w),
            None => write(&self.0.problems).remove(key),
        };
    }
}

/// Whether two base URLs name one instance (a trailing slash aside).
fn same_instance(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}
