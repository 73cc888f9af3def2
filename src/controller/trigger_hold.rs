//! Triggers for an object whose reconcile is running wait here, not in
//! kube-runtime's scheduler.
//!
//! Why: kube-runtime 5.0.0 keeps a trigger for a running object in its
//! scheduler's `pending` set, and every time the runner is woken (any
//! reconcile making progress) it scans that whole set for one it may take
//! (`scheduler.rs`, `self.pending.iter().find(..)`), finding none, because
//! all of them are running. In a burst thousands of reconciles run at once
//! (they wait at the write gate and the ImmyBot budget) and most of them
//! are triggered again by their own writes, so the scan was
//! O(running × wake-ups): the top of the many-5000 profile
//! (docs/performance.md).
//!
//! Here a trigger for a running object only marks it (one mark, however
//! many triggers: kube-runtime's own de-duplication), and the reconcile's
//! end sends that one trigger on. Nothing is lost: a trigger that arrives
//! in the moment between our end and kube-runtime seeing the task finish
//! goes to the scheduler as before and waits in `pending` (a set that now
//! holds at most those few).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

/// The objects whose reconcile runs, and whether each was triggered since
/// it began.
pub struct TriggerHold<K: kube::Resource>
where
    K::DynamicType: Eq + Hash,
{
    running: Mutex<HashMap<ObjectRef<K>, bool>>,
    /// Where a held trigger goes when its reconcile ends: one of the
    /// controller's own trigger streams (`reconcile_on`).
    resend: mpsc::Sender<ObjectRef<K>>,
}

impl<K> TriggerHold<K>
where
    K: kube::Resource + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    pub fn new(resend: mpsc::Sender<ObjectRef<K>>) -> Arc<Self> {
        Arc::new(Self {
            running: Mutex::new(HashMap::new()),
            resend,
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<K>, bool>> {
        // A panic elsewhere while holding the lock leaves a map that is
        // still whole (every change is one insert or remove).
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a trigger for `object` goes on to the scheduler now: not
    /// while its reconcile runs (it is marked, and sent at the end).
    pub fn admit(&self, object: &ObjectRef<K>) -> bool {
        match self.running().get_mut(object) {
            Some(triggered) => {
                *triggered = true;
                false
            }
            None => true,
        }
    }

    /// Marks `object`'s reconcile as running until the guard is dropped
    /// (its end, or its cancellation at shutdown).
    pub fn begin(self: &Arc<Self>, object: ObjectRef<K>) -> Running<K> {
        self.running().insert(object.clone(), false);
        Running {
            hold: self.clone(),
            object: Some(object),
        }
    }

    fn end(&self, object: ObjectRef<K>) {
        let triggered = self.running().remove(&object).unwrap_or(false);
        if !triggered {
            return;
        }
        match self.resend.try_send(object) {
            Ok(()) => {}
            // Full: the channel's reader is the controller, which is busy;
            // the trigger must still arrive, so it waits for room.
            Err(mpsc::error::TrySendError::Full(object)) => {
                let resend = self.resend.clone();
                tokio::spawn(async move {
                    let _ = resend.send(object).await;
                });
            }
            // Closed: the controller has stopped; nothing to trigger.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// A running reconcile; dropping it ends it (see [`TriggerHold::begin`]).
pub struct Running<K: kube::Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    hold: Arc<TriggerHold<K>>,
    object: Option<ObjectRef<K>>,
}

impl<K: kube::Resource + 'static> Drop for Running<K>
where
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            self.hold.end(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MaintenanceSession;

    fn object(name: &str) -> ObjectRef<MaintenanceSession> {
        ObjectRef::new(name).within("ns")
    }

    #[tokio::test]
    async fn a_trigger_while_running_is_held_and_sent_once_at_the_end() {
        let (tx, mut rx) = mpsc::channel(8);
        let hold = TriggerHold::new(tx);
        assert!(hold.admit(&object("a")), "not running: goes on");
        let running = hold.begin(object("a"));
        assert!(!hold.admit(&object("a")), "running: held");
        assert!(!hold.admit(&object("a")), "held again: still one mark");
        assert!(hold.admit(&object("b")), "another object is not held");
        assert!(rx.try_recv().is_err(), "nothing sent while it runs");
        drop(running);
        assert_eq!(rx.try_recv().ok(), Some(object("a")));
        assert!(rx.try_recv().is_err(), "one trigger for many");
        assert!(hold.admit(&object("a")), "ended: goes on again");
    }

    #[tokio::test]
    async fn a_reconcile_nobody_triggered_sends_nothing() {
        let (tx, mut rx) = mpsc::channel(8);
        let hold = TriggerHold::new(tx);
        drop(hold.begin(object("a")));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_full_channel_still_gets_the_trigger() {
        let (tx, mut rx) = mpsc::channel(1);
        let hold = TriggerHold::new(tx.clone());
        tx.try_send(object("x")).unwrap();
        let running = hold.begin(object("a"));
        hold.admit(&object("a"));
        drop(running);
        assert_eq!(rx.recv().await, Some(object("x")));
        assert_eq!(rx.recv().await, Some(object("a")), "sent once there was room");
    }
}
