//! The health gate in the machine (`spec.rollout.healthGate`): before a
//! wave starts it decides whether the wave may; while a wave runs it
//! records a gate that fires, so the rollout halts when the wave ends even
//! if the alert has cleared by then (a firing alarm stops a rollout, as in
//! AWS Systems Manager and Argo Rollouts; a person looks before it goes
//! on). The shell reads the gate (`health_gate::reader`); this only decides.
//!
//! The halt (`status.rollout.gateHalt`) holds until a person resumes the
//! rollout; after that the next wave starts as soon as the gate reads
//! clear, and a gate that still fires keeps it waiting (resume continues
//! once the gate is clear). An unreadable gate holds the wave, or lets it
//! start with `onUnreachable: Proceed`; it is not recorded as a halt: it
//! goes on by itself once the gate can be read and is clear.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::seen::Seen;
use super::{Next, Observed};
use crate::api::{GateHalt, HealthGate, MaintenanceSessionStatus, OnUnreachable, Phase, ResumeRecord};
use crate::controller::health_gate::GateReading;

/// How often the gate is read while a wave runs, unless it says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

pub const FAILED: &str = "HealthGateFailed";
pub const UNREACHABLE: &str = "HealthGateUnreachable";

/// The gate's read interval.
pub fn interval(gate: &HealthGate) -> Duration {
    crate::controller::clock::parse_duration(gate.interval.as_deref())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_INTERVAL)
}

/// How often a wave held by the gate looks again: the interval, but at
/// least every 30 s (nothing runs; the wait is for the gate alone).
fn hold_recheck(gate: &HealthGate) -> Duration {
    interval(gate).min(DEFAULT_INTERVAL)
}

fn gate<'a>(seen: &Seen<'a>) -> Option<&'a HealthGate> {
    seen.waves.and_then(|r| r.health_gate.as_ref())
}

/// `None` when the next wave may start as far as the gate goes; else the
/// decision that halts or holds it. `done` begins the message (where the
/// rollout stands).
pub(super) fn before_wave(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    seen: &Seen<'_>,
    done: &str,
) -> Option<Next> {
    let gate = gate(seen)?;
    take_resume(st, o, seen);
    let reading = o
        .health_gate
        .cloned()
        .unwrap_or_else(|| GateReading::Unreachable("the gate was not read".into()));
    let name = o.object.metadata.name.as_deref().unwrap_or_default();
    let latch = st.rollout.as_ref().and_then(|r| r.gate_halt.clone());
    let recheck = Some(hold_recheck(gate));
    let halted = |why: String| {
        Next::show(
            Phase::Halted,
            FAILED,
            format!("{done}halted: {why}. To continue once it is clear: `kubectl immybot resume {name}`; to stop: `kubectl immybot cancel {name}`"),
        )
        .requeue(recheck)
    };
    match (reading, latch) {
        (GateReading::Firing(names), Some(halt)) if halt.resumed => {
            set_latch(st, o, names.clone(), true);
            Some(
                Next::show(
                    Phase::Halted,
                    FAILED,
                    format!(
                        "{done}resumed: the next wave starts once the health gate is clear; it fires: {}",
                        names.join(", ")
                    ),
                )
                .requeue(recheck),
            )
        }
        (GateReading::Firing(names), _) => {
            set_latch(st, o, names.clone(), false);
            Some(halted(format!("the health gate fires: {}", names.join(", "))))
        }
        (reading, Some(halt)) if !halt.resumed => {
            let now = match reading {
                GateReading::Clear => "it is clear now".to_owned(),
                GateReading::Unreachable(why) => format!("it cannot be read now ({why})"),
                GateReading::Firing(_) => String::new(),
            };
            Some(halted(format!(
                "the health gate fired ({}) at {}; {now}",
                halt.firing.join(", "),
                halt.since.0
            )))
        }
        (GateReading::Unreachable(why), _) if gate.on_unreachable == OnUnreachable::Hold => Some(
            Next::show(
                Phase::Halted,
                UNREACHABLE,
                format!("{done}the health gate cannot be read ({why}); the next wave starts once it can be read and is clear (spec.rollout.healthGate.onUnreachable: Hold)"),
            )
            .requeue(recheck),
        ),
        // Clear (after a resume, or never fired), or unreadable with
        // `Proceed`: the wave may start; a resumed halt is over.
        _ => {
            if let Some(r) = st.rollout.as_mut() {
                r.gate_halt = None;
            }
            None
        }
    }
}

/// While a wave runs: a firing gate is recorded as a halt (nothing more
/// starts); the words to add to the running message, if any.
pub(super) fn while_running(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<String> {
    gate(seen)?;
    let halt = st.rollout.as_ref().and_then(|r| r.gate_halt.clone());
    match (o.health_gate, halt) {
        (Some(GateReading::Firing(names)), None) => {
            set_latch(st, o, names.clone(), false);
            Some(format!(
                "; the health gate fires ({}): no further wave starts",
                names.join(", ")
            ))
        }
        (_, Some(halt)) => Some(format!(
            "; the health gate fired ({}): no further wave starts",
            halt.firing.join(", ")
        )),
        _ => None,
    }
}

/// How soon to look again while a wave runs under a gate.
pub(super) fn running_recheck(seen: &Seen<'_>) -> Option<Duration> {
    gate(seen).map(interval)
}

/// A halted rollout was continued (`resume`): a gate's halt is resumed.
pub(super) fn resumed(st: &mut MaintenanceSessionStatus) {
    if let Some(halt) = st.rollout.as_mut().and_then(|r| r.gate_halt.as_mut()) {
        halt.resumed = true;
    }
}

/// A resume request that arrived while nothing ran (a halt before the
/// first wave, where the resume stage does not look): record it and
/// resume the halt.
fn take_resume(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) {
    let handled = st.resume.as_ref().map_or(0, |r| r.requests);
    let asked = seen.spec.resume.requests;
    let halted = st.rollout.as_ref().is_some_and(|r| r.gate_halt.is_some());
    if asked > handled && halted {
        st.resume = Some(ResumeRecord {
            requests: asked,
            session_ids: vec![],
            time: Time(o.now),
        });
        resumed(st);
    }
}

fn set_latch(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, firing: Vec<String>, resumed: bool) {
    if let Some(r) = st.rollout.as_mut() {
        let since = r.gate_halt.as_ref().map_or(Time(o.now), |h| h.since.clone());
        r.gate_halt = Some(GateHalt { since, firing, resumed });
    }
}
