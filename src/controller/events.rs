//! Kubernetes Events for transitions a person cares about. Publishing is best
//! effort: a lost event must not fail a reconcile.

use kube::runtime::events::{Event, EventType};

use super::context::Context;
use super::write_gate::WritePriority;

/// Sends the event in a task of its own: the reconcile does not wait for
/// the write (at 1,000 objects, waiting for it held every status write back
/// by one more API-server round trip), and a lost event fails nothing. The
/// task queues at the write gate behind every status write.
pub async fn publish<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: reason.into(),
        secondary: None,
    };
    let recorder = ctx.recorder.clone();
    let regarding = obj.object_ref(&());
    let reason = reason.to_owned();
    let (gate, observer) = (ctx.write_gate.clone(), ctx.observer.clone());
    tokio::spawn(async move {
        // Last in line at the write gate: in a burst, events trail.
        let (_slot, waited) = gate.acquire(WritePriority::Event).await;
        observer.api_write_waited(WritePriority::Event.label(), waited);
        if let Err(e) = recorder.publish(&event, &regarding).await {
            tracing::debug!(error = %e, reason, "could not publish an event");
        }
    });
}
