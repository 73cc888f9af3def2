//! What a bench run stands on: the test control plane (etcd +
//! kube-apiserver through envtest), the ImmyBot simulator in this process,
//! and the operator as a separate process, the real release binary.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use immybot_sim::{FleetSeed, RunningSim, SimConfig};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

pub struct ControlPlane {
    server: envtest::Server,
    pub kubeconfig: PathBuf,
}

impl ControlPlane {
    pub async fn start() -> anyhow::Result<Self> {
        let assets = std::env::var("KUBEBUILDER_ASSETS").context(
            "KUBEBUILDER_ASSETS is not set: run through hack/bench.sh, which builds kube-apiserver and etcd",
        )?;
        let env = envtest::Environment {
            binary_assets_settings: envtest::BinaryAssetsSettings {
                download_binary_assets: false,
                binary_assets_directory: Some(assets.clone()),
                ..Default::default()
            },
            ..Default::default()
        }
        .with_crds(immybot_operator::api::crds())?;
        let server = env
            .create()
            .await
            .with_context(|| format!("starting the control plane from {assets}"))?;
        let kubeconfig = std::env::temp_dir().join(format!("immybot-bench-{}.kubeconfig", std::process::id()));
        std::fs::write(&kubeconfig, server.as_ref())?;
        Ok(Self { server, kubeconfig })
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig: kube::config::Kubeconfig = serde_json::from_str(self.server.as_ref())?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        // The bench creates objects as fast as it can; client-side defaults
        // would make the bench, not the operator, the bottleneck.
        config.read_timeout = Some(Duration::from_secs(120));
        Ok(kube::Client::try_from(config)?)
    }

    pub async fn stop(self) {
        let _ = self.server.destroy().await;
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// With `BENCH_APISERVER_PPROF=<file>`: a CPU profile of kube-apiserver
/// over the next `BENCH_APISERVER_PPROF_SECONDS` (default 15), taken with
/// kubectl while the workload runs; read it with `go tool pprof -top <file>`.
/// Profiles are where the API server's time goes under the burst.
pub fn profile_apiserver(plane: &ControlPlane) -> Option<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let path = std::env::var("BENCH_APISERVER_PPROF").ok()?;
    let seconds = std::env::var("BENCH_APISERVER_PPROF_SECONDS").unwrap_or_else(|_| "15".into());
    let kubectl = PathBuf::from(std::env::var("KUBEBUILDER_ASSETS").ok()?).join("kubectl");
    let kubeconfig = plane.kubeconfig.clone();
    Some(tokio::spawn(async move {
        let out = tokio::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["get", "--raw", &format!("/debug/pprof/profile?seconds={seconds}")])
            .output()
            .await?;
        if !out.status.success() {
            bail!("profiling kube-apiserver: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::write(&path, out.stdout).with_context(|| format!("writing {path}"))?;
        eprintln!("bench: kube-apiserver CPU profile in {path}");
        Ok(())
    }))
}

pub async fn namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// A simulator of `seed` whose stages take `stage_ms` real milliseconds.
/// The queue (Created -> Running) takes at most 200 ms of real time
/// whatever the stages take: with hour-long stages (steady), a queue
/// scaled with them would last 12 minutes and its end would be the very
/// change the steady measurement must not see.
pub async fn simulator(seed: FleetSeed, stage_ms: u64) -> anyhow::Result<RunningSim> {
    let mut config = SimConfig::sped_up(seed, stage_ms);
    if let immybot_sim::ClockMode::Real { speed } = config.clock {
        let real_max = Duration::from_millis(200).mul_f64(speed);
        config.engine.queue_delay = config.engine.queue_delay.min(real_max);
    }
    Ok(RunningSim::start(config, "127.0.0.1:0".parse()?).await?)
}

/// The operator binary next to this example (`target/<profile>/`), or `--operator`.
pub fn operator_binary(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match flag {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .map(|dir| dir.join("immybot-operator"))
            .context("cannot locate the target directory")?,
    };
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (`cargo build --release --bin immybot-operator`, as hack/bench.sh does)",
            path.display()
        );
    }
    Ok(path)
}

pub struct OperatorSettings {
    pub binary: PathBuf,
    pub namespace: String,
    pub requests_per_second: f64,
    pub max_concurrent_requests: usize,
    pub poll_seconds: u64,
    /// `--poll-idle-seconds`; `None` keeps the operator's default.
    pub poll_idle_seconds: Option<u64>,
    /// `--max-concurrent-api-writes`; `None` keeps the operator's default.
    pub max_concurrent_api_writes: Option<usize>,
    /// The shard this process serves (`--shard-selector immybot.io/shard=<it>`
    /// and a Lease of its own); `None` serves every object.
    pub shard: Option<String>,
}

/// The operator process; killed when dropped.
pub struct Operator {
    /// Held so that dropping the handle kills the process.
    _child: tokio::process::Child,
    pub pid: u32,
    pub admin: String,
}

/// The operator's `--request-burst` (its default): the bench leaves it as is.
pub const OPERATOR_BURST: u32 = 20;

impl Operator {
    pub async fn spawn(plane: &ControlPlane, sim: &RunningSim, s: &OperatorSettings) -> anyhow::Result<Self> {
        let secret = std::env::temp_dir().join(format!("immybot-bench-secret-{}", std::process::id()));
        std::fs::write(&secret, "simulator-secret")?;
        let admin = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
        let flags = sim.operator_flags(&secret);
        let suffix = s.shard.as_deref().map(|sh| format!("-{sh}")).unwrap_or_default();
        let log = std::fs::File::create(
            std::env::temp_dir().join(format!("immybot-bench-operator-{}{suffix}.log", std::process::id())),
        )?;
        let shard_args = match &s.shard {
            Some(sh) => vec![
                "--shard-selector".to_owned(),
                format!("{}={sh}", immybot_operator::api::SHARD_LABEL),
                "--lease-name".to_owned(),
                format!("immybot-operator-{sh}"),
            ],
            None => vec![],
        };
        let child = tokio::process::Command::new(&s.binary)
            .args(&flags[1..])
            .args(["--watch-namespace", &s.namespace, "--lease-namespace", &s.namespace])
            .args(["--admin-addr", &admin])
            .args(&shard_args)
            .args(["--requests-per-second", &s.requests_per_second.to_string()])
            .args(["--request-burst", &OPERATOR_BURST.to_string()])
            .args(["--max-concurrent-requests", &s.max_concurrent_requests.to_string()])
            .args(["--poll-active-seconds", &s.poll_seconds.to_string()])
            .args(
                s.poll_idle_seconds
                    .map(|n| vec!["--poll-idle-seconds".to_owned(), n.to_string()])
                    .unwrap_or_default(),
            )
            .args(
                s.max_concurrent_api_writes
                    .map(|n| vec!["--max-concurrent-api-writes".to_owned(), n.to_string()])
                    .unwrap_or_default(),
            )
            .env("KUBECONFIG", &plane.kubeconfig)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", s.binary.display()))?;
        let pid = child.id().context("the operator exited at once")?;
        let op = Self {
            _child: child,
            pid,
            admin,
        };
        op.wait_ready().await?;
        Ok(op)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let url = format!("http://{}/readyz", self.admin);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the operator did not become ready within 60 s")
    }

    /// The operator's own metrics, as Prometheus text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("http://{}/metrics", self.admin))
            .await?
            .text()
            .await?)
    }
}
