//! Kubernetes Events for transitions a person cares about. Publishing is best
//! effort: a lost event must not fail a reconcile.

use kube::runtime::events::{Event, EventType};

use super::context::Context;

/// Sends the event in a task of its own: the reconcile does not wait for
/// the write (at 1,000 objects, waiting for it held every status write back
/// by one more API-server round trip), and a lost event fails nothing.
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
    tokio::spawn(async move {
        if let Err(e) = recorder.publish(&event, &regarding).await {
            tracing::debug!(error = %e, reason, "could not publish an event");
        }
    });
}
