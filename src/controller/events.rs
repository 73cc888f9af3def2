//! Kubernetes Events for transitions a person cares about. Publishing is best
//! effort: a lost event must not fail a reconcile.

use kube::runtime::events::{Event, EventType};

use super::context::Context;
use super::write_gate::WritePriority;

/// Sends the event in a task of its own: the reconcile does not wait for
/// the write (at 1,000 objects, waiting for it held every status write back
/// by one more API-server round trip), and a lost event fails nothing. The
/// task queues at the write gate behind every status write, so in a burst
/// events trail; while one waits it holds only the event itself (the
/// request is built once the gate lets it go), and past `MAX_PENDING`
/// waiting, new events are dropped.
pub async fn publish<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    publish_action(ctx, obj, type_, reason, reason, note).await
}

/// `publish` with an action of its own. kube's recorder folds events with
/// the same type, reason and action on one object into a series that keeps
/// the first note, so events whose notes must all be read (who used which
/// control) need distinct actions.
pub async fn publish_action<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let Some(place) = ctx.pending_events.enter() else {
        ctx.observer.event_dropped();
        tracing::debug!(reason, "too many events waiting; this one is dropped");
        return;
    };
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        // The API server allows 128 characters.
        action: action.chars().take(128).collect(),
        secondary: None,
    };
    let recorder = ctx.recorder.clone();
    let regarding = obj.object_ref(&());
    let reason = reason.to_owned();
    let (gate, observer) = (ctx.write_gate.clone(), ctx.observer.clone());
    tokio::spawn(async move {
        let _place = place;
        let (_slot, waited) = gate.acquire(WritePriority::Event).await;
        observer.api_write_waited(WritePriority::Event.label(), waited);
        // Boxed: the request's future is large, and unboxed it would be
        // allocated with every task still waiting at the gate.
        if let Err(e) = Box::pin(recorder.publish(&event, &regarding)).await {
            tracing::debug!(error = %e, reason, "could not publish an event");
        }
    });
}

/// One `ControlChanged` event per control a person changed, naming them and
/// the approver, so that the event stream alone tells who approved what and
/// who stopped it.
pub async fn announce_controls<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    changed: &[crate::api::ControlRecord],
    approver: Option<&str>,
) {
    let approver = approver.map(|a| format!(" (approved by {a})")).unwrap_or_default();
    for record in changed {
        // One action per change: the same change twice is one series.
        let action = format!("Set {}={} by {}", record.field, record.value, record.by);
        publish_action(
            ctx,
            obj,
            EventType::Normal,
            "ControlChanged",
            &action,
            &format!("{}{approver}", super::controls::describe(record)),
        )
        .await;
    }
}
