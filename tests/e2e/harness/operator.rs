//! The operator under test: a simulator and a controller scoped to the
//! test's namespace, both on the test's runtime. Timing is shortened so that
//! whole lifecycles take seconds; nothing else differs from production.

use std::sync::Arc;
use std::time::Duration;

use immybot_client::{ImmyBotClient, Secret};
use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_operator::controller::{self, ApprovalPolicy, Context, CrashHooks, CrashPoint, Scope, Timing};
use immybot_sim::{ClockMode, FleetSeed, RunningSim, SimConfig};
use kube::Api;

use super::{TestContext, wait_for};

pub fn fleet() -> FleetSeed {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sim-fleet.yaml")).unwrap_or_default();
    FleetSeed::from_yaml(&text).unwrap_or_default()
}

/// A simulator of the demo fleet whose stages take `stage_ms` real milliseconds.
pub async fn simulator(stage_ms: u64) -> Result<RunningSim, String> {
    simulator_of(fleet(), stage_ms).await
}

/// A simulator of `seed` whose stages take `stage_ms` real milliseconds.
/// Like every simulator of the harness, it takes the trial's reading of
/// the contract, and the check after the test reads its ledger.
pub async fn simulator_of(seed: FleetSeed, stage_ms: u64) -> Result<RunningSim, String> {
    let config = SimConfig {
        shape: super::invariants::shape(),
        ..SimConfig::sped_up(seed, stage_ms)
    };
    started(config).await
}

async fn started(config: SimConfig) -> Result<RunningSim, String> {
    let sim = RunningSim::start(config, "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    super::invariants::register(&sim.state);
    Ok(sim)
}

/// A simulator on a manual clock: sessions move only when the test advances it.
pub async fn manual_simulator(seed: FleetSeed) -> Result<RunningSim, String> {
    let config = SimConfig {
        seed,
        clock: ClockMode::Manual,
        shape: super::invariants::shape(),
        ..Default::default()
    };
    started(config).await
}

/// The next answer to a start is lost on the way back (ImmyBot did the
/// work): the operator must find the sessions instead of starting again.
pub fn lose_next_start_answer(sim: &RunningSim) {
    sim.state.add_fault(immybot_sim::FaultRule {
        route: "POST /api/v1/run-immy-service".into(),
        fault: immybot_sim::FaultKind::DropResponse,
        times: Some(1),
        probability: None,
    });
}

/// The real `immybot-operator` binary for this test's namespace against
/// `sim`, its stdout and stderr piped, killed when dropped. `extra` flags
/// follow the defaults (namespace, lease namespace, a free admin port).
pub fn spawn_operator_binary(
    ctx: &TestContext,
    sim: &RunningSim,
    extra: &[&str],
    rust_log: &str,
) -> Result<tokio::process::Child, String> {
    let secret = std::env::temp_dir().join(format!("immybot-e2e-secret-{}-{}", std::process::id(), ctx.namespace));
    std::fs::write(&secret, "simulator-secret").map_err(|e| format!("secret file: {e}"))?;
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?;
    let flags = sim.operator_flags(&secret);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_immybot-operator"))
        .args(&flags[1..])
        .args([
            "--watch-namespace",
            &ctx.namespace,
            "--lease-namespace",
            &ctx.namespace,
            "--admin-addr",
            &admin.to_string(),
        ])
        .args(extra)
        .env("KUBECONFIG", ctx.kubeconfig_path())
        .env("RUST_LOG", rust_log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawning immybot-operator: {e}"))
}

/// Where the test controllers read ClusterImmyBotConnections' Secrets
/// (one namespace for all: the kind is cluster-wide, and every test's
/// controller sees every one).
pub const CLUSTER_CONNECTION_SECRETS: &str = "immybot-cluster-connections";

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
        self.controller_on(sim, self.client.clone(), policy, |ctx| {
            ctx.crash = std::sync::Arc::new(CrashHooks::at(crash_point))
        })
        .await
    }

    /// Starts a controller whose "now" is `clock` (the test moves it).
    pub async fn controller_with_clock(
        &self,
        sim: &RunningSim,
        policy: ApprovalPolicy,
        crash_point: CrashPoint,
        clock: Arc<immybot_operator::controller::Clock>,
    ) -> Result<Controller, String> {
        self.controller_on(sim, self.client.clone(), policy, |ctx| {
            ctx.crash = std::sync::Arc::new(CrashHooks::at(crash_point));
            ctx.clock = clock;
        })
        .await
    }

    /// Starts a controller that reaches the API server through `client`
    /// (e.g. through a proxy that can cut it off).
    pub async fn controller_with_client(
        &self,
        sim: &RunningSim,
        client: kube::Client,
        policy: ApprovalPolicy,
    ) -> Result<Controller, String> {
        self.controller_on(sim, client, policy, |_| {}).await
    }

    /// Starts a controller whose context `customize` changes first (an
    /// observer, a smaller write gate).
    pub async fn controller_customized(
        &self,
        sim: &RunningSim,
        policy: ApprovalPolicy,
        customize: impl FnOnce(&mut Context),
    ) -> Result<Controller, String> {
        self.controller_on(sim, self.client.clone(), policy, customize).await
    }

    async fn controller_on(
        &self,
        sim: &RunningSim,
        client: kube::Client,
        policy: ApprovalPolicy,
        customize: impl FnOnce(&mut Context),
    ) -> Result<Controller, String> {
        let secret = Secret::new("simulator-secret");
        let mut config = sim.client_config("immybot-operator", &secret);
        config.request_timeout = Duration::from_secs(2);
        let immybot = ImmyBotClient::new(config.clone()).map_err(|e| e.to_string())?;
        let mut ctx = Context::new(client, immybot, sim.base_url().to_string(), policy, test_timing());
        // Connection objects: the flags' settings as their template, their
        // Secrets read again every second (rotation tests).
        ctx.connections
            .configure(immybot_operator::controller::connections::ConnectionDefaults {
                template: config,
                cluster_secret_namespace: CLUSTER_CONNECTION_SECRETS.into(),
                call_observer: None,
                recheck: Duration::from_secs(1),
            });
        customize(&mut ctx);
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

    /// Changes nothing but an annotation: the controller looks at the object again.
    pub async fn touch(&self, name: &str) -> Result<(), String> {
        let patch =
            serde_json::json!({"metadata": {"annotations": {"example.com/touch": rand::random::<u32>().to_string()}}});
        self.api::<MaintenanceSession>()
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map(drop)
            .map_err(|e| format!("touching {name}: {e}"))
    }

    /// Flips `spec.suspend` (a control) and waits until the controller has
    /// observed the new generation: it has looked at the object again.
    pub async fn nudge(&self, name: &str, deadline: Duration) -> Result<(), String> {
        let api = self.api::<MaintenanceSession>();
        let current = api.get(name).await.map_err(|e| e.to_string())?;
        let patch = serde_json::json!({"spec": {"suspend": !current.spec.suspend}});
        let patched = api
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map_err(|e| format!("nudging {name}: {e}"))?;
        wait_for(&format!("{name}'s new generation to be observed"), deadline, || async {
            let obj = api.get(name).await.map_err(|e| e.to_string())?;
            let seen = obj.status.and_then(|s| s.observed_generation);
            Ok((seen >= patched.metadata.generation).then_some(()))
        })
        .await
    }

    /// Deletes a session and waits until it is gone (its finalizer released).
    pub async fn delete_and_wait(&self, name: &str, deadline: Duration) -> Result<(), String> {
        self.api::<MaintenanceSession>()
            .delete(name, &Default::default())
            .await
            .map_err(|e| format!("deleting {name}: {e}"))?;
        wait_for(&format!("{name} to be gone"), deadline, || async {
            match self.api::<MaintenanceSession>().get_opt(name).await {
                Ok(None) => Ok(Some(())),
                Ok(Some(_)) => Err("still there".into()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    /// Waits until the session `name` satisfies `done` (`what` names it in
    /// the timeout's message); answers it as last read.
    pub async fn wait_session(
        &self,
        name: &str,
        what: &str,
        deadline: Duration,
        done: impl Fn(&MaintenanceSession) -> bool,
    ) -> Result<MaintenanceSession, String> {
        let api: Api<MaintenanceSession> = self.api();
        wait_for(&format!("{name}: {what}"), deadline, || async {
            let obj = api.get(name).await.map_err(|e| e.to_string())?;
            Ok(done(&obj).then_some(obj))
        })
        .await
    }

    /// Waits until the session reaches `phase`, reporting the last status seen.
    pub async fn wait_phase(&self, name: &str, phase: Phase, deadline: Duration) -> Result<MaintenanceSession, String> {
        let api: Api<MaintenanceSession> = self.api();
        wait_for(&format!("{name} to reach phase {phase:?}"), deadline, || async {
            let obj = api.get(name).await.map_err(|e| e.to_string())?;
            let status = obj.status.clone().unwrap_or_default();
            // A final phase is written before its explanation is read
            // (`logsPending`): what the tests call done has both.
            if status.phase == Some(phase) && !status.logs_pending {
                Ok(Some(obj))
            } else {
                let ready = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map(|c| c.message.clone());
                Err(format!(
                    "phase {:?}, logs pending {}, Ready: {ready:?}",
                    status.phase, status.logs_pending
                ))
            }
        })
        .await
    }
}
