//! Delivers the pending notifications of the objects in the session store.
//!
//! One pass looks at every object's `status.notifications` (in memory: the
//! store is the reflector's) and sends the pending ones whose delay is over,
//! oldest first. A failed delivery doubles that record's delay and ends the
//! pass (the sink is likely down: the others wait their turn rather than
//! each failing). A delivered one is marked `Sent` by a merge patch with the
//! object's resourceVersion as precondition; a conflict reads the object
//! again. A record older than `retry_for` is marked `Abandoned` with an
//! event. Passes run when a write recorded something and every few seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;

use super::Notifications;
use super::cloud_event;
use crate::api::{MaintenanceSession, NotificationRecord, NotificationState};
use crate::controller::context::Context;

/// How often a pass runs when nothing wakes it.
const TICK: Duration = Duration::from_secs(2);

/// The sender's task, stopped when this is dropped (with the controller
/// that started it, even when that one is aborted).
pub struct Running(pub tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A record's tries so far and when it may be tried again.
struct Tries {
    count: u32,
    next: Instant,
}

pub async fn run(notifications: Arc<Notifications>, store: Store<MaintenanceSession>, ctx: Arc<Context>) {
    if crate::controller::store_slot::synced(&store).await.is_err() {
        return;
    }
    let mut tries: HashMap<String, Tries> = HashMap::new();
    loop {
        pass(&notifications, &store, &ctx, &mut tries).await;
        tokio::select! {
            () = notifications.wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn pass(n: &Notifications, store: &Store<MaintenanceSession>, ctx: &Context, tries: &mut HashMap<String, Tries>) {
    let mut due: Vec<(Arc<MaintenanceSession>, NotificationRecord)> = vec![];
    let mut pending_ids = std::collections::HashSet::new();
    for obj in store.state() {
        let Some(st) = obj.status.as_ref() else { continue };
        for r in st
            .notifications
            .iter()
            .filter(|r| r.state == NotificationState::Pending)
        {
            pending_ids.insert(r.id.clone());
            if tries.get(&r.id).is_none_or(|t| t.next <= Instant::now()) {
                due.push((obj.clone(), r.clone()));
            }
        }
    }
    // What is no longer pending (delivered, deleted) is forgotten.
    tries.retain(|id, _| pending_ids.contains(id));
    due.sort_by_key(|(_, r)| r.time.0);
    let now = jiff::Timestamp::now();
    for (obj, record) in due {
        let age = now.duration_since(record.time.0);
        // (A time ahead of this clock, another replica's, is young.)
        if age.as_secs() > i64::try_from(n.retry_for.as_secs()).unwrap_or(i64::MAX) {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if mark(ctx, &obj, &record.id, NotificationState::Abandoned).await {
                let note = format!(
                    "notification {} ({}) was not delivered to the CloudEvents sink within {:?}: given up",
                    record.id, record.type_, n.retry_for
                );
                crate::controller::events::publish(
                    ctx,
                    obj.as_ref(),
                    EventType::Warning,
                    "NotificationAbandoned",
                    &note,
                )
                .await;
                tracing::warn!(%name, id = %record.id, "notification abandoned");
            }
            continue;
        }
        match deliver(n, &obj, &record).await {
            Ok(()) => {
                // Not due again while the store catches up with the mark
                // (a mark that did not land is sent again after this).
                tries.insert(
                    record.id.clone(),
                    Tries {
                        count: 0,
                        next: Instant::now() + n.settle,
                    },
                );
                mark(ctx, &obj, &record.id, NotificationState::Sent).await;
            }
            Err(why) => {
                let t = tries.entry(record.id.clone()).or_insert(Tries {
                    count: 0,
                    next: Instant::now(),
                });
                t.count += 1;
                let delay = n.backoff.0.saturating_mul(1 << t.count.min(16)).min(n.backoff.1);
                t.next = Instant::now() + delay;
                tracing::info!(id = %record.id, tries = t.count, retry_in = ?delay, %why, "notification not delivered");
                // The sink is likely down: the rest wait for the next pass.
                return;
            }
        }
    }
}

/// One POST of the record's CloudEvent; an error in words without the
/// sink's query (the sink URL may carry a token there).
async fn deliver(n: &Notifications, obj: &MaintenanceSession, record: &NotificationRecord) -> Result<(), String> {
    let body = cloud_event::body(obj, record)?;
    let response = n
        .http
        .post(n.sink.clone())
        .header(reqwest::header::CONTENT_TYPE, cloud_event::CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the sink did not answer ({})", e.without_url()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the sink answered {}", response.status()))
    }
}

/// Marks record `id` of `obj` as `state`, reading the object again on a
/// conflict (at most three times). Whether it is marked.
async fn mark(ctx: &Context, obj: &MaintenanceSession, id: &str, state: NotificationState) -> bool {
    let (Some(ns), Some(name)) = (obj.metadata.namespace.as_deref(), obj.metadata.name.as_deref()) else {
        return false;
    };
    let api = Api::<MaintenanceSession>::namespaced(ctx.client.clone(), ns);
    let mut current = obj.clone();
    for _ in 0..3 {
        let mut records = current
            .status
            .as_ref()
            .map(|s| s.notifications.clone())
            .unwrap_or_default();
        let Some(r) = records.iter_mut().find(|r| r.id == id) else {
            return false;
        };
        if r.state != NotificationState::Pending {
            return true;
        }
        r.state = state;
        if state == NotificationState::Sent {
            r.sent_at = Some(crate::controller::clock::stored_time(ctx.clock.now()));
        }
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "status": {"notifications": records},
        });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return true,
            Err(e) if crate::controller::error::is_conflict(&e) => match api.get(name).await {
                Ok(fresh) => current = fresh,
                Err(_) => return false,
            },
            Err(e) => {
                tracing::info!(%name, %id, error = %e, "could not record a notification's delivery; it will be sent again");
                return false;
            }
        }
    }
    false
}
