//! `immybot-local`: everything on embedded defaults, on this machine. A real
//! control plane (etcd + kube-apiserver through envtest) with the CRDs
//! installed, and the ImmyBot simulator with a demo fleet. Ctrl-C stops both.
//!
//! Run through `hack/local.sh`, which builds the control-plane binaries first.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use immybot_operator::immybot::Secret;
use immybot_operator::sim::{ClockMode, FleetSeed, RunningSim, SimConfig};

#[derive(Parser, Debug)]
#[command(about = "Local control plane + ImmyBot simulator on embedded defaults")]
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
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let assets = std::env::var("KUBEBUILDER_ASSETS")
        .context("KUBEBUILDER_ASSETS is not set; run through hack/local.sh, which builds kube-apiserver and etcd")?;

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

    let text = std::fs::read_to_string(&args.seed).with_context(|| format!("reading {}", args.seed.display()))?;
    let seed = FleetSeed::from_yaml(&text).map_err(anyhow::Error::msg)?;
    let client_secret = Secret::new("simulator-secret");
    let sim = RunningSim::start(
        SimConfig {
            seed,
            clock: ClockMode::Real { speed: args.speed },
            client_secret,
            ..Default::default()
        },
        args.sim_listen,
    )
    .await
    .with_context(|| format!("starting the simulator on {}", args.sim_listen))?;

    let kubeconfig = args.kubeconfig.display();
    // The pinned kubectl from the test bed: a fresh machine has no other.
    let kubectl = std::path::Path::new(&assets).join("kubectl");
    let kubectl = kubectl.display();
    println!("Local control plane is up, CRDs installed.");
    println!("  export KUBECONFIG={kubeconfig}");
    println!("  {kubectl} apply --server-side -f examples/maintenance-session-computer.yaml");
    println!("  {kubectl} get maintenancesessions");
    println!("ImmyBot simulator: {} (token URL {})", sim.base_url(), sim.token_url());
    println!("Ctrl-C stops both.");

    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    println!("stopping…");
    sim.shutdown().await;
    server.destroy().await.context("stopping the control plane")?;
    let _ = std::fs::remove_file(&args.kubeconfig);
    Ok(())
}
