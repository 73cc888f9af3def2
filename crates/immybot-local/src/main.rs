//! `immybot-local`: the operator on embedded defaults, on this machine. A real
//! control plane (etcd + kube-apiserver through envtest) with the CRDs and
//! admission policies, the ImmyBot simulator with a demo fleet, and the
//! operator itself. With `--demo` (what `hack/local.sh` runs) it also applies
//! the examples as alice, approves them as bob and shows a live table.
//! Ctrl-C stops everything.
#![forbid(unsafe_code)]

mod demo;
mod investigation;
mod notifications;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use immybot_client::Secret;
use immybot_operator::runtime::{self, OperatorArgs};
use immybot_sim::{ClockMode, EngineSettings, FleetSeed, RunningSim, SimConfig};

#[derive(Parser, Debug)]
#[command(about = "The operator on embedded defaults: local control plane + ImmyBot simulator")]
struct Args {
    /// Where to write the kubeconfig of the local control plane.
    #[arg(long, default_value = "target/immybot-local.kubeconfig")]
    kubeconfig: PathBuf,
    /// The simulator's fleet seed.
    #[arg(long, default_value = "examples/sim-fleet.yaml")]
    seed: PathBuf,
    /// The simulator's address.
    #[arg(long, default_value = "127.0.0.1:8085")]
    sim_listen: SocketAddr,
    /// The operator's admin server (/metrics, /readyz).
    #[arg(long, default_value = "127.0.0.1:8080")]
    admin: SocketAddr,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 2.0)]
    speed: f64,
    /// Apply examples/maintenance-session-*.yaml and immybot-schedule-*.yaml
    /// as alice, approve as bob, show live tables (the schedule fires within
    /// a minute on the simulator's clock).
    #[arg(long)]
    demo: bool,
}

/// Weeks of ImmyBot's own weekly maintenance before the quickstart.
const HISTORY_WEEKS: u32 = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(filter)
        .init();
    let args = Args::parse();
    let assets = std::env::var("KUBEBUILDER_ASSETS")
        .context("KUBEBUILDER_ASSETS is not set; run through hack/local.sh, which builds kube-apiserver and etcd")?;

    println!("starting the local control plane…");
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
        .with_context(|| format!("starting kube-apiserver and etcd from {assets}"))?;
    if let Some(dir) = args.kubeconfig.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.kubeconfig, server.as_ref())
        .with_context(|| format!("writing {}", args.kubeconfig.display()))?;
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_str(server.as_ref()).context("envtest kubeconfig")?;
    let client =
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &Default::default()).await?)?;
    runtime::install_admission_policies(&client).await?;

    let text = std::fs::read_to_string(&args.seed).with_context(|| format!("reading {}", args.seed.display()))?;
    let seed = FleetSeed::from_yaml(&text).map_err(anyhow::Error::msg)?;
    let secret = Secret::new("simulator-secret");
    let sim = RunningSim::start(
        SimConfig {
            seed,
            clock: ClockMode::Real { speed: args.speed },
            engine: EngineSettings::default(),
            client_secret: secret.clone(),
            ..Default::default()
        },
        args.sim_listen,
    )
    .await
    .with_context(|| format!("starting the simulator on {}", args.sim_listen))?;
    // ImmyBot's past: its own weekly schedule ran every computer for the
    // weeks before today, which the closing report counts.
    let history = sim.state.seed_history(HISTORY_WEEKS);

    // The operator reads its secret from a file, as from a mounted Secret.
    let secret_file = args.kubeconfig.with_file_name("immybot-local.secret");
    std::fs::write(&secret_file, secret.expose()).context("writing the simulator secret")?;
    // Notifications go to a receiver here, which prints them.
    let (sink, receiver) = notifications::start().await?;
    let mut flags = sim.operator_flags(&secret_file);
    flags.extend(
        [
            "--admin-addr",
            &args.admin.to_string(),
            "--poll-active-seconds",
            "2",
            "--poll-idle-seconds",
            "5",
            "--default-cloud-events-sink",
            &sink,
        ]
        .map(String::from),
    );
    let operator_args = OperatorArgs::try_parse_from(flags).context("operator flags")?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let operator = tokio::spawn(runtime::run(
        operator_args,
        client.clone(),
        Default::default(),
        shutdown.clone(),
    ));

    let kubectl = std::path::Path::new(&assets).join("kubectl");
    println!("Local control plane, simulator and operator are up.");
    println!("  export KUBECONFIG={}", args.kubeconfig.display());
    println!("  {} get maintenancesessions -A", kubectl.display());
    println!(
        "  ImmyBot simulator {} · metrics http://{}/metrics",
        sim.base_url(),
        args.admin
    );
    println!(
        "  ImmyBot's history: {HISTORY_WEEKS} weeks of its own weekly maintenance ({history} sessions) before today"
    );
    println!("  notifications (CloudEvents) are printed as they arrive at {sink}");
    println!("Ctrl-C (or SIGTERM) stops everything.");

    let demo = args.demo.then(|| {
        let (client, kubeconfig, state) = (client.clone(), kubeconfig.clone(), sim.state.clone());
        tokio::spawn(async move {
            if let Err(e) = demo::run(client, kubeconfig, state).await {
                eprintln!("demo: {e:#}");
            }
        })
    });
    // Ctrl-C at a terminal, SIGTERM from a script or process manager: both
    // tear the local control plane down rather than leave it running.
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    println!("\nstopping…");
    if let Some(d) = demo {
        d.abort();
    }
    let _ = stop.send(true);
    match tokio::time::timeout(std::time::Duration::from_secs(20), operator).await {
        Ok(Ok(Err(e))) => eprintln!("operator: {e}"),
        Err(_) => eprintln!("operator did not stop within 20 s"),
        _ => {}
    }
    receiver.abort();
    sim.shutdown().await;
    server.destroy().await.context("stopping the control plane")?;
    let _ = std::fs::remove_file(&args.kubeconfig);
    let _ = std::fs::remove_file(&secret_file);
    Ok(())
}
