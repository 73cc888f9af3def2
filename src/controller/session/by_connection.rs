//! One MaintenanceSession controller, one context per ImmyBot connection.
//!
//! Each reconcile first finds the object's connection: the one it started
//! through (recorded in `status.immybot`, for good), or before any start
//! the one its `spec.connectionRef` names or the default. It then runs
//! with that connection's context: its client and budget, its cache of
//! what ImmyBot told, and its poller. Session ids are only unique within an
//! instance, so nothing is shared between connections but the Kubernetes
//! side (approvals, the write gate, events).
//!
//! An object whose connection is missing, not ready or ambiguous does
//! nothing in ImmyBot: its `Ready` condition says why, and it looks again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::ResourceExt as _;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use super::poller::{self, Poller};
use super::{SessionContext, SessionState, reconciler};
use crate::api::{MaintenanceSession, MaintenanceSessionStatus};
use crate::controller::conditions;
use crate::controller::connections::{ConnectionKey, ConnectionProblem, Connections, LiveConnection, PerConnection};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::trigger_hold::TriggerHold;

/// How soon an object whose connection cannot be used looks again.
const CONNECTION_RECHECK: Duration = Duration::from_secs(30);

/// The session controller's context: one [`SessionContext`] per
/// connection in use, each with its poller.
pub struct SessionKind {
    contexts: PerConnection<SessionState>,
    store: Store<MaintenanceSession>,
    triggers: mpsc::Sender<ObjectRef<MaintenanceSession>>,
    hold: Arc<TriggerHold<MaintenanceSession>>,
    pollers: Mutex<HashMap<ConnectionKey, tokio::task::JoinHandle<()>>>,
}

impl SessionKind {
    pub fn new(
        shared: Arc<Context>,
        store: Store<MaintenanceSession>,
        triggers: mpsc::Sender<ObjectRef<MaintenanceSession>>,
        hold: Arc<TriggerHold<MaintenanceSession>>,
    ) -> Self {
        Self {
            contexts: PerConnection::new(shared, SessionState::default),
            store,
            triggers,
            hold,
            pollers: Mutex::new(HashMap::new()),
        }
    }

    fn shared(&self) -> &Context {
        &self.contexts.shared
    }

    /// The context of `live`; a new one comes with its own poller (the
    /// one it replaces stops).
    pub fn context_for(&self, live: &Arc<LiveConnection>) -> Arc<SessionContext> {
        let (ctx, made) = self.contexts.context_for(live);
        if made {
            let poller = tokio::spawn(poller::run(Poller {
                immybot: ctx.immybot.clone(),
                connection: live.key.clone(),
                reports_phases: live.key == ConnectionKey::Flags,
                store: self.store.clone(),
                timing: ctx.timing.clone(),
                observer: ctx.observer.clone(),
                snapshot: ctx.state.active_sessions.clone(),
                cache: ctx.state.immybot_cache.clone(),
                tx: self.triggers.clone(),
            }));
            let mut pollers = self.pollers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(old) = pollers.insert(live.key.clone(), poller) {
                old.abort();
            }
        }
        ctx
    }

    pub fn stop_pollers(&self) {
        let mut pollers = self.pollers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, poller) in pollers.drain() {
            poller.abort();
        }
    }
}

/// Whether the object started through a connection that it must keep: a
/// start was recorded (its sessions live in that instance).
fn started(status: &MaintenanceSessionStatus) -> bool {
    status.start_time.is_some() || status.immybot.as_ref().is_some_and(|r| !r.attempts.is_empty())
}

/// The connection `obj` uses now.
pub fn connection_of(
    connections: &Connections,
    obj: &MaintenanceSession,
) -> Result<Arc<LiveConnection>, ConnectionProblem> {
    let ns = obj.namespace().unwrap_or_default();
    match obj.status.as_ref() {
        Some(st) if started(st) => {
            let refs = st.immybot.as_ref();
            connections.pinned(
                refs.and_then(|r| r.connection.as_ref()),
                &ns,
                refs.map(|r| r.instance.as_str()).unwrap_or_default(),
            )
        }
        _ => connections.resolve(obj.spec.connection_ref.as_ref(), &ns),
    }
}

pub async fn reconcile(obj: Arc<MaintenanceSession>, kind: Arc<SessionKind>) -> Result<Action, Error> {
    // Until this returns (or is dropped), triggers for the object wait.
    let _running = kind.hold.begin(ObjectRef::from_obj(&*obj));
    match connection_of(&kind.shared().connections, &obj) {
        Ok(live) => {
            let ctx = kind.context_for(&live);
            reconciler::reconcile(obj, ctx).await
        }
        Err(problem) => {
            if kind.shared().is_crashed() {
                return Ok(Action::await_change());
            }
            report_problem(kind.shared(), &obj, &problem).await?;
            Ok(Action::requeue(CONNECTION_RECHECK))
        }
    }
}

pub fn error_policy(obj: Arc<MaintenanceSession>, error: &Error, _kind: Arc<SessionKind>) -> Action {
    reconciler::error_action(&obj, error)
}

/// `Ready=False` with the problem's reason and message (once: unchanged,
/// nothing is written).
async fn report_problem(ctx: &Context, obj: &MaintenanceSession, problem: &ConnectionProblem) -> Result<(), Error> {
    tracing::debug!(name = %obj.name_any(), %problem, "the session's connection cannot be used");
    let mut list = obj.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    let before = list.clone();
    let now = crate::controller::clock::stored_time(ctx.clock.now()).0;
    conditions::set(
        &mut list,
        conditions::READY,
        false,
        problem.reason(),
        problem.to_string(),
        obj.metadata.generation,
        now,
    );
    if list == before {
        return Ok(());
    }
    let api: Api<MaintenanceSession> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({ "status": { "conditions": list } })),
    )
    .await?;
    Ok(())
}
