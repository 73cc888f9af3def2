//! The product's two promises, checked after every end-to-end test
//! whatever it was testing (`check`), and the readings of ImmyBot's
//! contract the core tests run under (`READINGS`).
//!
//! Each trial runs inside a scope (`in_trial`) that knows the reading its
//! simulators take and collects every simulator the test starts
//! (`harness::simulator*` register them), so that the check can read
//! their ledgers afterwards:
//! - never twice: no intent that changes ImmyBot (a start's group, an
//!   action rerun of one action, a resume of one postponement, a cancel
//!   of one session, a schedule's update to one body, delete, run now,
//!   cancel) was carried out twice (`SimState::repeated_intents`), and no
//!   schedule definition was created more often than ImmyBotSchedules
//!   hold it;
//! - final means final: every MaintenanceSession the test left in a final
//!   phase shows, for every computer it lists, an ended session with only
//!   final actions and no stage still under way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use immybot_operator::api::{ImmyBotSchedule, MaintenanceSession};
use immybot_sim::{ResponseShape, SimState, schedule_create_intent};
use kube::Api;

/// A reading of what the document leaves open, as simulator switches.
#[derive(Clone, Copy)]
pub struct Reading {
    /// Appended to the test's name (`lifecycle::x [rerun-in-place]`).
    pub name: &'static str,
    pub apply: fn(&mut ResponseShape),
}

/// The readings the core tests also run under; the default (the least
/// generous reading of the evidence) is every test's own.
pub const READINGS: &[Reading] = &[
    Reading {
        name: "sessions-dx-ignores-filter",
        apply: |s| s.sessions_dx_ignores_filter = true,
    },
    Reading {
        name: "rerun-in-place",
        apply: |s| s.action_rerun_in_place = true,
    },
    Reading {
        name: "updated-on-every-read",
        apply: |s| s.updated_on_every_read = true,
    },
    Reading {
        name: "cancel-after-the-stage",
        apply: |s| s.cancel_after_the_stage = true,
    },
    Reading {
        name: "rows-with-stages",
        apply: |s| s.dx_rows_with_stages = true,
    },
    Reading {
        name: "get-with-actions",
        apply: |s| s.actions_in_get = true,
    },
    Reading {
        name: "get-without-job-args",
        apply: |s| s.get_without_job_args = true,
    },
];

struct Trial {
    reading: Option<Reading>,
    sims: Mutex<Vec<Arc<SimState>>>,
}

tokio::task_local! {
    static TRIAL: Arc<Trial>;
}

/// Runs a test in its trial's scope; answers its result and the
/// simulators it started.
pub async fn in_trial<F: std::future::Future>(reading: Option<Reading>, test: F) -> (F::Output, Vec<Arc<SimState>>) {
    let trial = Arc::new(Trial {
        reading,
        sims: Mutex::new(Vec::new()),
    });
    let out = TRIAL.scope(trial.clone(), test).await;
    let sims = trial.sims.lock().map(|s| s.clone()).unwrap_or_default();
    (out, sims)
}

/// The response shape a simulator of this trial starts with.
pub fn shape() -> ResponseShape {
    let mut shape = ResponseShape::default();
    if let Ok(Some(reading)) = TRIAL.try_with(|t| t.reading) {
        (reading.apply)(&mut shape);
    }
    shape
}

/// Keeps a simulator of this trial for the check.
pub fn register(sim: &Arc<SimState>) {
    let _ = TRIAL.try_with(|t| {
        if let Ok(mut sims) = t.sims.lock() {
            sims.push(sim.clone());
        }
    });
}

/// Both promises, over what the test left behind.
pub async fn check(client: &kube::Client, namespace: &str, sims: &[Arc<SimState>]) -> Result<(), String> {
    let mut broken = Vec::new();
    // Schedules carry nothing naming who asked: one create per object
    // holding a definition is allowed.
    let schedules = Api::<ImmyBotSchedule>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(|e| format!("listing the test's ImmyBotSchedules: {e}"))?;
    let mut holders: BTreeMap<String, usize> = BTreeMap::new();
    for def in schedules
        .items
        .iter()
        .filter_map(|o| o.status.as_ref()?.applied_definition.as_ref())
    {
        *holders.entry(schedule_create_intent(def)).or_default() += 1;
    }
    for (i, sim) in sims.iter().enumerate() {
        for (intent, times) in sim.repeated_intents() {
            // A create's intent is its definition and which recreation.
            let definition = intent.split(" (recreation").next().unwrap_or(&intent);
            if times > holders.get(definition).copied().unwrap_or(1) {
                broken.push(format!("simulator {i}: {intent:?} carried out {times} times"));
            }
        }
    }
    let sessions = Api::<MaintenanceSession>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(|e| format!("listing the test's MaintenanceSessions: {e}"))?;
    for obj in &sessions.items {
        broken.extend(not_final_in_final(obj));
    }
    broken.extend(unlisted_events(client, namespace).await?);
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("the product's promises broke:\n  {}", broken.join("\n  ")))
    }
}

/// The operator's Events whose reason or action docs/events.md does not
/// list (`controller::event_reasons`): every test's namespace is checked.
async fn unlisted_events(client: &kube::Client, namespace: &str) -> Result<Vec<String>, String> {
    use immybot_operator::controller::event_reasons::{REASONS, action_of};
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(|e| format!("listing the test's Events: {e}"))?;
    Ok(events
        .items
        .iter()
        .filter(|e| e.reporting_controller.as_deref() == Some("immybot-operator"))
        .filter_map(|e| {
            let reason = e.reason.as_deref().unwrap_or_default();
            let action = e.action.as_deref().unwrap_or_default();
            let listed = REASONS.iter().any(|r| r.reason == reason) && action == action_of(reason);
            (!listed).then(|| {
                format!("an Event with reason {reason:?} and action {action:?} that docs/events.md does not list")
            })
        })
        .collect())
}

/// What an object in a final phase shows that is not final.
pub fn not_final_in_final(obj: &MaintenanceSession) -> Vec<String> {
    let Some(status) = obj.status.as_ref() else {
        return vec![];
    };
    let Some(phase) = status.phase.filter(|p| p.is_final()) else {
        return vec![];
    };
    let name = obj.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for c in &status.computers {
        let at = format!("{name} ({phase:?}), computer {} session {}", c.id, c.session_id);
        if ACTIVE_SESSION.contains(&c.session_status.as_str()) {
            out.push(format!("{at}: sessionStatus {}", c.session_status));
        }
        let stages = [
            ("onboarding", &c.stages.onboarding),
            ("detection", &c.stages.detection),
            ("execution", &c.stages.execution),
            ("agentUpdates", &c.stages.agent_updates),
            ("resolution", &c.stages.resolution),
            ("inventory", &c.stages.inventory),
        ];
        for (stage, value) in stages {
            if let Some(v) = value.as_deref().filter(|v| ACTIVE_SESSION.contains(v)) {
                out.push(format!("{at}: {stage} stage {v}"));
            }
        }
        for a in &c.actions {
            let pending = a.result.as_deref() == Some("Pending");
            let underway = a.status.as_deref().is_some_and(|s| ACTION_UNDER_WAY.contains(&s));
            if pending || underway {
                out.push(format!(
                    "{at}: action {} result {:?} status {:?}",
                    a.name, a.result, a.status
                ));
            }
        }
    }
    out
}

/// Session (and stage) statuses ImmyBot may still move.
const ACTIVE_SESSION: &[&str] = &[
    "Running",
    "Pending",
    "PendingConnectivity",
    "Postponed",
    "PendingPreflight",
    "PendingEphemeralAgentConnection",
];

/// Action statuses of an action still under way.
const ACTION_UNDER_WAY: &[&str] = &[
    "Downloading",
    "PerformingAction",
    "DeterminingResult",
    "WaitingForPrerequisite",
    "DeterminingAction",
    "PendingExecution",
];
