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
/// waiting, new events are dropped. The action is the reason's verb
/// (`event_reasons`).
pub async fn publish<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    publish_related(ctx, obj, type_, reason, note, None).await
}

/// `publish` about a part of the object (`related`). kube's recorder folds
/// events with the same type, reason, action and related object into a
/// series that keeps the first note, so events whose notes must all be read
/// (who used which control) name what they are about there.
async fn publish_related<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
    related: Option<k8s_openapi::api::core::v1::ObjectReference>,
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
        action: super::event_reasons::action_of(reason).into(),
        secondary: related,
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
        // Each change its own event: about the field, at the object's
        // version that carried it (the same change seen again by a retried
        // reconcile is the same version, one series).
        let mut about = obj.object_ref(&());
        about.field_path = Some(format!("spec.{}", record.field));
        about.resource_version = obj.meta().resource_version.clone();
        publish_related(
            ctx,
            obj,
            EventType::Normal,
            "ControlChanged",
            &format!("{}{approver}", super::controls::describe(record)),
            Some(about),
        )
        .await;
    }
}
