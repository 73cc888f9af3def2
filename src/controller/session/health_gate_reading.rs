//! When the session shell reads a rollout's health gate, and how fresh the
//! reading must be: fresh when a wave may start (a firing gate never lets
//! one start on an older answer), up to half the gate's interval old while
//! a wave runs (many objects gated on one Alertmanager share a reading).

use kube::ResourceExt as _;

use super::SessionContext;
use super::machine::health_gate::interval;
use crate::api::{MaintenanceSession, Phase};
use crate::controller::health_gate::GateReading;

/// The reading for the machine, or `None` when nothing is gated (no gate,
/// not waves, ended, or every computer started).
pub async fn read(ctx: &SessionContext, obj: &MaintenanceSession) -> Option<GateReading> {
    let rollout = obj.spec.rollout.as_ref().filter(|r| r.is_waves())?;
    let gate = rollout.health_gate.as_ref()?;
    let status = obj.status.as_ref();
    let phase = status.and_then(|s| s.phase);
    if phase.is_some_and(Phase::is_final) {
        return None;
    }
    if status
        .and_then(|s| s.rollout.as_ref())
        .is_some_and(|r| r.remaining == 0 && r.started > 0)
    {
        return None;
    }
    let running = matches!(phase, Some(Phase::Running | Phase::Queued | Phase::Postponed));
    let max_age = running.then(|| interval(gate) / 2);
    let namespace = obj.namespace().unwrap_or_default();
    let reading = ctx
        .state
        .health_gates
        .read(&ctx.client, &namespace, gate, max_age)
        .await;
    if let GateReading::Unreachable(why) = &reading {
        tracing::debug!(name = %obj.name_any(), %why, "health gate unreadable");
    }
    Some(reading)
}
