//! The operator under test: a simulator and a controller scoped to the
//! test's namespace, both on the test's runtime. Timing is shortened so that
//! whole lifecycles take seconds; nothing else differs from production.

use std::sync::Arc;
use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{self, ApprovalPolicy, Context, CrashPoint, Scope, Timing};
use immybot_operator::immybot::{ImmyBotClient, Secret};
use immybot_operator::sim::{ClockMode, EngineSettings, FleetSeed, RunningSim, SimConfig};
use kube::Api;

use super::{TestContext, wait_for};

pub fn fleet() -> FleetSeed {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sim-fleet.yaml")).unwrap_or_default();
    FleetSeed::from_yaml(&text).unwrap_or_default()
}

/// A simulator whose stages take `stage_ms` real milliseconds.
pub async fn simulator(stage_ms: u64) -> Result<RunningSim, String> {
    let config = SimConfig {
        seed: fleet(),
        // 5 simulated seconds per stage, sped up to `stage_ms` real ms.
        engine: EngineSettings {
            stage_duration: Duration::from_secs(5),
            queue_delay: Duration::from_secs(1),
            max_concurrent_sessions: 0,
        },
        clock: ClockMode::Real {
            speed: 5000.0 / stage_ms as f64,
        },
        ..Default::default()
    };
    RunningSim::start(config, "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| format!("simulator: {e}"))
}

/// A simulator on a manual clock: sessions move only when the test advances it.
pub async fn manual_simulator(seed: FleetSeed) -> Result<RunningSim, String> {
    let config = SimConfig {
        seed,
        clock: ClockMode::Manual,
        ..Default::default()
    };
    RunningSim::start(config, "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| format!("simulator: {e}"))
}

pub fn test_timing() -> Timing {
    Timing {
        start_grace: Duration::from_secs(2),
        busy_retry: Duration::from_secs(1),
        cancel_confirm_timeout: Duration::from_secs(10),
        poll_active: Duration::from_millis(200),
        poll_idle: Duration::from_millis(500),
    }
}

/// A running controller; dropping it (or [`Controller::stop`]) shuts it down.
pub struct Controller {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Controller {
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl TestContext {
    /// Starts a controller for this test's namespace against `sim`.
    pub async fn controller(
        &self,
        sim: &RunningSim,
        policy: ApprovalPolicy,
        crash_point: CrashPoint,
    ) -> Result<Controller, String> {
        let secret = Secret::new("simulator-secret");
        let mut config = sim.client_config("immybot-operator", &secret);
        config.request_timeout = Duration::from_secs(2);
        let immybot = ImmyBotClient::new(config).map_err(|e| e.to_string())?;
        let ctx = Context::new(
            self.client.clone(),
            immybot,
            sim.base_url().to_string(),
            policy,
            test_timing(),
        );
        let mut ctx = ctx;
        ctx.crash_point = crash_point;
        let ctx = Arc::new(ctx);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let scope = Scope::Namespace(self.namespace.clone());
        let task = tokio::spawn(controller::run(ctx, scope, async {
            let _ = rx.await;
        }));
        Ok(Controller {
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Waits until the session reaches `phase`, reporting the last status seen.
    pub async fn wait_phase(&self, name: &str, phase: Phase, deadline: Duration) -> Result<MaintenanceSession, String> {
        let api: Api<MaintenanceSession> = self.api();
        wait_for(&format!("{name} to reach phase {phase:?}"), deadline, || async {
            let obj = api.get(name).await.map_err(|e| e.to_string())?;
            let status = obj.status.clone().unwrap_or_default();
            if status.phase == Some(phase) {
                Ok(Some(obj))
            } else {
                let ready = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map(|c| c.message.clone());
                Err(format!("phase {:?}, Ready: {ready:?}", status.phase))
            }
        })
        .await
    }
}
