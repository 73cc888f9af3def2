//! Status writes. Every write replaces the whole status with a
//! resourceVersion precondition, so a stale cache or a second controller gets
//! a conflict instead of overwriting what it has not seen.
//!
//! One kind of write is special: recording what ImmyBot answered to a call
//! that changed it (the session ids a start created, a rerun or a cancel it
//! accepted). Losing it would leave sessions nobody tracks, or let the call
//! be sent again, so it runs in a task of its own (a shutdown that cancels
//! the reconcile does not cancel it) and is retried, re-reading the object
//! on conflict, until it lands (`persist_answer`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kube::api::{Api, PostParams};

use super::error::{Error, is_conflict};
use super::observer::ControllerObserver;
use super::write_gate::{Permit, WriteGate, WritePriority};
use crate::api::{MAX_COMPUTERS_IN_STATUS, MaintenanceSession, MaintenanceSessionStatus, WaitingComputer};

/// Replaces `obj`'s status with `status` unless it already is that (a PUT
/// with the read resourceVersion: a conflict means someone wrote first, and
/// the reconcile decides again). The stored object, or `None` when nothing
/// needed writing. For the schedule kinds; sessions go through
/// [`replace_status`], which also tracks superseded versions.
pub async fn replace_status_if_changed<K>(api: &Api<K>, obj: &K, status: &K::Status) -> Result<Option<K>, Error>
where
    K: kube::Resource<DynamicType = ()>
        + kube::core::object::HasStatus
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
    K::Status: PartialEq + Clone,
{
    if obj.status() == Some(status) {
        return Ok(None);
    }
    let mut next = obj.clone();
    *next.status_mut() = Some(status.clone());
    next.meta_mut().managed_fields = None;
    let name = obj.meta().name.clone().unwrap_or_default();
    match api.replace_status(&name, &PostParams::default(), &next).await {
        Ok(stored) => Ok(Some(stored)),
        Err(e) if is_conflict(&e) => Err(Error::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// The resourceVersions this controller has replaced with a write of its
/// own, per object, until the watch delivers the newer one. A reconcile
/// handed an object at such a version decides from a status it already
/// changed: its write could only conflict, and its events would repeat.
/// At 1,000 objects these stale reconciles were one status write in five.
#[derive(Default)]
pub struct SupersededVersions(Mutex<HashMap<(String, String), String>>);

impl SupersededVersions {
    fn key(obj: &MaintenanceSession) -> (String, String) {
        (
            obj.metadata.namespace.clone().unwrap_or_default(),
            obj.metadata.name.clone().unwrap_or_default(),
        )
    }

    fn replaced(&self, old: &MaintenanceSession) {
        if let Some(rv) = old.metadata.resource_version.clone() {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(Self::key(old), rv);
        }
    }

    /// Whether `obj` is a version this controller has already replaced.
    /// Seeing any other version forgets the entry (the watch caught up), so
    /// the map holds only objects with a write in flight.
    pub fn is_stale(&self, obj: &MaintenanceSession) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = Self::key(obj);
        match map.get(&key) {
            Some(rv) if Some(rv) == obj.metadata.resource_version.as_ref() => true,
            Some(_) => {
                map.remove(&key);
                false
            }
            None => false,
        }
    }
}

/// The sessions API of one namespace, remembering what it replaced; its
/// writes go through the process's [`WriteGate`].
#[derive(Clone)]
pub struct SessionApi {
    api: Api<MaintenanceSession>,
    superseded: Arc<SupersededVersions>,
    gate: WriteGate,
    observer: Arc<dyn ControllerObserver>,
    /// Records what a write makes worth a notification (`None`: no sink).
    notifications: Option<Arc<super::notifications::Notifications>>,
}

impl SessionApi {
    pub fn new(
        api: Api<MaintenanceSession>,
        superseded: Arc<SupersededVersions>,
        gate: WriteGate,
        observer: Arc<dyn ControllerObserver>,
    ) -> Self {
        Self {
            api,
            superseded,
            gate,
            observer,
            notifications: None,
        }
    }

    /// Writes also record notifications for `n`'s sink.
    pub fn notifying(mut self, n: Option<Arc<super::notifications::Notifications>>) -> Self {
        self.notifications = n;
        self
    }

    /// Waits for the gate's leave to write, and reports the wait.
    async fn slot(&self, priority: WritePriority) -> Permit {
        let (permit, waited) = self.gate.acquire(priority).await;
        self.observer.api_write_waited(priority.label(), waited);
        permit
    }

    /// Records that a write of ours turned `old` into `new`. A write that
    /// changed nothing keeps the version: then the cached object is not
    /// stale.
    fn wrote(&self, old: &MaintenanceSession, new: &MaintenanceSession) {
        if new.metadata.resource_version != old.metadata.resource_version {
            self.superseded.replaced(old);
        }
    }
}

impl std::ops::Deref for SessionApi {
    type Target = Api<MaintenanceSession>;

    fn deref(&self) -> &Self::Target {
        &self.api
    }
}

/// Adds `finalizer` if the object is still at `obj`'s resourceVersion (a
/// merge patch carrying the version is a precondition). The same write as
/// kube's `finalizer()` makes, done here so that the version it replaces is
/// remembered: an approval arriving right after would otherwise reconcile
/// the cached object without the finalizer, and the add would conflict.
pub async fn add_finalizer(api: &SessionApi, obj: &MaintenanceSession, finalizer: &str) -> Result<(), Error> {
    let mut finalizers = obj.metadata.finalizers.clone().unwrap_or_default();
    finalizers.push(finalizer.to_owned());
    let patch = serde_json::json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": obj.metadata.resource_version,
    }});
    let name = obj.metadata.name.clone().unwrap_or_default();
    let _slot = api.slot(WritePriority::NewObject).await;
    match api
        .patch(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
    {
        Ok(o) => {
            api.wrote(obj, &o);
            Ok(())
        }
        Err(e) if is_conflict(&e) => Err(Error::Conflict),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// Replaces the status if the object is still at `obj`'s resourceVersion.
/// A status that ends the session is the gate's first priority, one on the
/// way to a start (phase Starting) comes before other progress.
pub async fn replace_status(
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
) -> Result<MaintenanceSession, Error> {
    let priority = match status.phase {
        Some(p) if p.is_final() => WritePriority::Final,
        Some(crate::api::Phase::Starting) => WritePriority::Start,
        _ => WritePriority::Progress,
    };
    replace_status_as(api, obj, status, priority).await
}

async fn replace_status_as(
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    priority: WritePriority,
) -> Result<MaintenanceSession, Error> {
    let mut next = obj.clone();
    let mut status = status;
    // The outbox lands with the change it reports, or not at all.
    let notify = api.notifications.is_some()
        && super::notifications::occurrences::record(
            &super::notifications::occurrences::Change {
                uid: obj.metadata.uid.as_deref().unwrap_or_default(),
                planned: super::session::plan::planned(&obj.spec).is_some(),
                old: obj.status.as_ref(),
                now: jiff::Timestamp::now(),
            },
            &mut status,
        );
    next.status = Some(status);
    next.metadata.managed_fields = None;
    let name = obj.metadata.name.clone().unwrap_or_default();
    let phase = next.status.as_ref().and_then(|s| s.phase);
    let slot = api.slot(priority).await;
    let sent = std::time::Instant::now();
    let result = api
        .replace_status(
            &name,
            &PostParams {
                field_manager: Some("immybot-operator".into()),
                ..Default::default()
            },
            &next,
        )
        .await;
    drop(slot);
    // With `reconcile` and the poller's trigger, a timeline per object for
    // hunting latency (docs/performance.md, "Where the lag goes").
    tracing::debug!(
        name,
        ?phase,
        took_ms = sent.elapsed().as_millis() as u64,
        ok = result.is_ok(),
        "status written"
    );
    match result {
        Ok(o) => {
            api.wrote(obj, &o);
            if notify && let Some(n) = &api.notifications {
                n.wake();
            }
            Ok(o)
        }
        Err(e) if is_conflict(&e) => Err(Error::Conflict),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// What a start learned, to merge into the attempt it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct StartResult {
    pub attempt: i32,
    pub session_ids: Vec<i32>,
    /// Computers ImmyBot reported busy, with the session that holds each.
    pub busy: Vec<WaitingComputer>,
    pub ids_from: &'static str,
}

impl StartResult {
    /// Sessions found by group id after the answer was lost: none were busy.
    pub fn adopted(attempt: i32, session_ids: Vec<i32>) -> Self {
        Self {
            attempt,
            session_ids,
            busy: vec![],
            ids_from: "Adopted",
        }
    }
}

/// Records a start's result, whatever happens to the reconcile that made it
/// (`persist_answer`). `known` is the object as this controller last wrote
/// it (the intent).
pub async fn persist_start_result(
    api: SessionApi,
    name: String,
    result: StartResult,
    known: Option<MaintenanceSession>,
) -> Result<MaintenanceSession, Error> {
    let label = name.clone();
    persist_answer(api, name, known, move |status| {
        merge_start_result(status, &result, &label)
    })
    .await
}

/// Records what ImmyBot answered, whatever happens to the reconcile that
/// asked: `change` applied to the status, in a task of its own, retried
/// until it lands. `known` is the object as this controller last wrote it:
/// the first try builds on it without a read; a conflict means it is stale,
/// and every later try reads the object afresh. `change` answers false when
/// there is nothing to record on the object as it is (then nothing is
/// written).
pub async fn persist_answer(
    api: SessionApi,
    name: String,
    known: Option<MaintenanceSession>,
    change: impl Fn(&mut MaintenanceSessionStatus) -> bool + Send + 'static,
) -> Result<MaintenanceSession, Error> {
    let task = tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        let mut known = known;
        loop {
            let obj = match known.take() {
                Some(obj) => obj,
                None => match api.get(&name).await {
                    Ok(obj) => obj,
                    Err(kube::Error::Api(s)) if s.code == 404 => return Err(Error::Kube(kube::Error::Api(s))),
                    Err(e) => {
                        tracing::warn!(name, error = %e, "reading the object to record ImmyBot's answer failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                        continue;
                    }
                },
            };
            let mut status = obj.status.clone().unwrap_or_default();
            if !change(&mut status) {
                return Ok(obj);
            }
            match replace_status_as(&api, &obj, status, WritePriority::StartResult).await {
                Err(Error::Conflict) => continue,
                Ok(obj) => return Ok(obj),
                Err(Error::Kube(kube::Error::Api(s))) if s.code == 404 => return Err(Error::Kube(kube::Error::Api(s))),
                Err(e) => {
                    tracing::warn!(name, error = %e, "recording ImmyBot's answer failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    task.await
        .unwrap_or_else(|e| Err(Error::Kube(kube::Error::Service(Box::new(e)))))
}

/// A start's result merged into the attempt it belongs to; false when the
/// attempt's intent is gone.
fn merge_start_result(status: &mut MaintenanceSessionStatus, result: &StartResult, name: &str) -> bool {
    let Some(attempt) = status
        .immybot
        .as_mut()
        .and_then(|r| r.attempts.iter_mut().find(|a| a.number == result.attempt))
    else {
        // The intent is gone: someone replaced the status wholesale. Record
        // nothing rather than invent an attempt; the ids are in the log.
        tracing::error!(
            name,
            ?result,
            "the attempt's intent is missing from status; session ids not recorded"
        );
        return false;
    };
    for id in &result.session_ids {
        if !attempt.session_ids.contains(id) {
            attempt.session_ids.push(*id);
        }
    }
    attempt.busy_computer_ids = result.busy.iter().map(|w| w.id).collect();
    if !result.session_ids.is_empty() {
        attempt.ids_from = Some(result.ids_from.into());
    }
    let answered_at = attempt.intent_time.clone();
    let answered = !result.session_ids.is_empty() || !result.busy.is_empty();
    status.waiting_computers = result.busy.iter().take(MAX_COMPUTERS_IN_STATUS).cloned().collect();
    // As `decide` does: started once ImmyBot answered with sessions or busy computers.
    if status.start_time.is_none() && answered {
        status.start_time = Some(answered_at);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, rv: &str) -> MaintenanceSession {
        let mut obj = crate::test_fixtures::session().build();
        obj.metadata.namespace = Some("ops".into());
        obj.metadata.name = Some(name.into());
        obj.metadata.resource_version = Some(rv.into());
        obj
    }

    #[test]
    fn a_replaced_version_is_stale_until_a_newer_one_is_seen() {
        let versions = SupersededVersions::default();
        assert!(!versions.is_stale(&at("a", "1")), "nothing written yet");
        versions.replaced(&at("a", "1"));
        assert!(versions.is_stale(&at("a", "1")));
        assert!(versions.is_stale(&at("a", "1")), "stays stale while the cache lags");
        assert!(!versions.is_stale(&at("b", "1")), "per object");
        assert!(!versions.is_stale(&at("a", "2")), "the watch caught up");
        assert!(!versions.is_stale(&at("a", "1")), "forgotten once caught up");
        assert!(
            versions.0.lock().unwrap().is_empty(),
            "the map only holds writes in flight"
        );
    }
}
