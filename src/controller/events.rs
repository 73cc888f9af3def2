//! Kubernetes Events for transitions a person cares about. Publishing is best
//! effort: a lost event must not fail a reconcile.

use kube::Resource as _;
use kube::runtime::events::{Event, EventType};

use super::context::Context;
use crate::api::MaintenanceSession;

pub async fn publish(ctx: &Context, obj: &MaintenanceSession, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: reason.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::debug!(error = %e, reason, "could not publish an event");
    }
}
