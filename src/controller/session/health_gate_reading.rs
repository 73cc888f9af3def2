//! When the session shell reads a rollout's health gate, and how fresh the
//! reading must be: up to half the gate's interval old while a wave runs
//! (many objects gated on one Alertmanager share a reading), and always
//! fresh for a decision that starts something: the shell decides again on
//! a fresh reading before it starts (`Reading::cached`), so a firing gate
//! never lets a wave start on an older answer. (A status read as `Running`
//! may be deciding the wave's end and the next start at once: the CI run
//! that started two waves on a cached "clear" taught that.)

use kube::ResourceExt as _;

use super::SessionContext;
use super::machine::health_gate::interval;
use crate::api::{MaintenanceSession, Phase};
use crate::controller::health_gate::GateReading;

/// A reading for the machine.
pub struct Reading {
    /// `None` when nothing is gated (no gate, not waves, ended, or every
    /// computer started).
    pub gate: Option<GateReading>,
    /// Served from the cache: not good enough to start on.
    pub cached: bool,
}

/// How fresh a reading must be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A wave runs: a shared reading up to half the interval old will do.
    WhileRunning,
    /// Asked now.
    Now,
}

/// The gate's reading for a decision about `obj`.
pub async fn read(ctx: &SessionContext, obj: &MaintenanceSession, freshness: Freshness) -> Reading {
    let Some(gate) = gated(obj) else {
        return Reading {
            gate: None,
            cached: false,
        };
    };
    let (reading, cached) = read_gate(ctx, obj, gate, freshness).await;
    Reading {
        gate: Some(reading),
        cached,
    }
}

/// The gate of `obj`, if a wave may still start or runs under it.
fn gated(obj: &MaintenanceSession) -> Option<&crate::api::HealthGate> {
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
    Some(gate)
}

async fn read_gate(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    gate: &crate::api::HealthGate,
    freshness: Freshness,
) -> (GateReading, bool) {
    let phase = obj.status.as_ref().and_then(|s| s.phase);
    let running = matches!(phase, Some(Phase::Running | Phase::Queued | Phase::Postponed));
    let max_age = (running && freshness == Freshness::WhileRunning).then(|| interval(gate) / 2);
    let namespace = obj.namespace().unwrap_or_default();
    let (reading, cached) = ctx
        .state
        .health_gates
        .read(&ctx.client, &namespace, gate, max_age)
        .await;
    if let GateReading::Unreachable(why) = &reading {
        tracing::debug!(name = %obj.name_any(), %why, "health gate unreadable");
    }
    (reading, cached)
}
