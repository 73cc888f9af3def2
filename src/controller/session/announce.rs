//! The events a session's status change is worth: an approval accepted or
//! lost, unplanned actions, the gate's halt, a phase that waits on a person
//! or ends the session (and the metrics of an end). Decided from the old and
//! the new status, after the state machine.

use kube::runtime::events::EventType;

use super::SessionContext;
use crate::api::{MaintenanceSession, Phase};
use crate::controller::conditions;
use crate::controller::events::publish;

/// Events for approval changes and for the phases a person acts on.
/// Every event is an API-server write, so the steps in between (Starting,
/// Queued, Running) show in status and in the start's own events only:
/// at 1,000 objects, one event per transition was a third of the writes.
pub(super) async fn announce(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    next: &crate::api::MaintenanceSessionStatus,
    starting: bool,
) {
    let old = obj.status.clone().unwrap_or_default();
    let cond = |s: &crate::api::MaintenanceSessionStatus| {
        conditions::get(&s.conditions, conditions::APPROVED)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    if let Some((status, reason, message)) = cond(next)
        && cond(&old).map(|(s, r, _)| (s, r)) != Some((status.clone(), reason.clone()))
    {
        let accepted = status == "True";
        ctx.observer.approval(accepted, &reason);
        if !(accepted && starting) {
            let why = if accepted { "Approved" } else { "NotApproved" };
            publish(ctx, obj, EventType::Normal, why, &format!("{reason}: {message}")).await;
        }
    }
    if let Some(unplanned) = conditions::get(&next.conditions, conditions::UNPLANNED)
        && conditions::get(&old.conditions, conditions::UNPLANNED).map(|c| &c.message) != Some(&unplanned.message)
    {
        publish(ctx, obj, EventType::Warning, "UnplannedActions", &unplanned.message).await;
    }
    let gate_halt = |s: &crate::api::MaintenanceSessionStatus| s.rollout.as_ref().and_then(|r| r.gate_halt.clone());
    if let Some(halt) = gate_halt(next)
        && gate_halt(&old).is_none()
    {
        let message = format!(
            "the health gate fires ({}): no further wave starts until `kubectl immybot resume`",
            halt.firing.join(", ")
        );
        publish(ctx, obj, EventType::Warning, "HealthGateFailed", &message).await;
    }
    if old.phase != next.phase
        && let Some(phase) = next.phase.filter(|p| worth_an_event(*p))
    {
        let message = conditions::get(&next.conditions, conditions::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let type_ = match phase {
            Phase::Failed | Phase::PartiallySucceeded | Phase::TimedOut | Phase::Halted => EventType::Warning,
            _ => EventType::Normal,
        };
        publish(ctx, obj, type_, phase.as_str(), &message).await;
    }
    if !old.phase.is_some_and(Phase::is_final)
        && let Some(phase) = next.phase.filter(|p| p.is_final())
    {
        let s = next.summary.clone().unwrap_or_default();
        let computers = [
            ("passed", s.passed),
            ("failed", s.failed),
            ("partially_passed", s.partially_passed),
            ("cancelled", s.cancelled),
            ("missed", s.missed),
            ("not_started", s.not_started),
        ]
        .map(|(k, n)| (k, i64::from(n)));
        let failed: Vec<(&str, i64)> = next
            .items
            .iter()
            .filter(|i| i.failed > 0)
            .map(|i| (i.name.as_str(), i64::from(i.failed)))
            .collect();
        ctx.observer.session_finished(phase.as_str(), &computers, &failed);
    }
}

/// The phases that get an event: the outcomes, and the ones that wait on a
/// person.
fn worth_an_event(phase: Phase) -> bool {
    phase.is_final() || matches!(phase, Phase::Postponed | Phase::Halted)
}
