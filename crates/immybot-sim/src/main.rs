//! `immybot-sim`: the ImmyBot simulator as a standalone server, for dry runs,
//! demos and the local quickstart.
//!
//!   immybot-sim --seed examples/sim-fleet.yaml
//!   immybot-sim --generate 20x50 --speed 10
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use immybot_client::Secret;
use immybot_sim::{ClockMode, EngineSettings, FleetSeed, RunningSim, SimConfig};

/// A stateful ImmyBot simulator: the instance's API paths, an Entra-style
/// token endpoint, fault injection and an admin API under /_sim/.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Fleet seed file (YAML); see examples/sim-fleet.yaml.
    #[arg(long, conflicts_with = "generate")]
    seed: Option<PathBuf>,
    /// Generate a fleet instead: TENANTSxCOMPUTERS, e.g. 20x50.
    #[arg(long)]
    generate: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: SocketAddr,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Stand the clock still; move it with POST /_sim/clock/advance.
    #[arg(long)]
    manual_clock: bool,
    /// Seconds each stage (detection, execution, ...) takes.
    #[arg(long, default_value_t = 5.0)]
    stage_seconds: f64,
    /// Instance-wide limit on running sessions (0 = none).
    #[arg(long, default_value_t = 0)]
    max_concurrent_sessions: usize,
    /// Rows of the session `dx` list carry `sessionJobArgs`. Off by default:
    /// the document leaves `dx` rows untyped (docs/simulator.md).
    #[arg(long)]
    dx_rows_with_job_args: bool,
    /// Rows of the session `dx` list carry the per-stage statuses. Off by
    /// default: nothing shows them there (docs/simulator.md).
    #[arg(long)]
    dx_rows_with_stages: bool,
    /// `GET /maintenance-sessions/{id}?includeActions=true` carries
    /// `maintenanceActions`, as the document says. Off by default: live
    /// answers have come without them.
    #[arg(long)]
    actions_in_get: bool,
    /// Client id the token endpoint accepts.
    #[arg(long, default_value = "immybot-operator")]
    client_id: String,
    /// Client secret the token endpoint accepts.
    #[arg(
        long,
        env = "IMMYBOT_SIM_CLIENT_SECRET",
        default_value = "simulator-secret",
        hide_env_values = true
    )]
    client_secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let seed = match (&args.seed, &args.generate) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            FleetSeed::from_yaml(&text).map_err(anyhow::Error::msg)?
        }
        (None, Some(spec)) => {
            let (t, c) = spec
                .split_once('x')
                .context("--generate takes TENANTSxCOMPUTERS, e.g. 20x50")?;
            FleetSeed::generate(t.parse().context("tenant count")?, c.parse().context("computer count")?)
        }
        (None, None) => FleetSeed::generate(2, 5),
    };
    anyhow::ensure!(
        args.stage_seconds.is_finite() && args.stage_seconds >= 0.0,
        "--stage-seconds must be a non-negative number"
    );
    let (tenants, computers) = (seed.tenants.len(), seed.computers.len());
    let config = SimConfig {
        seed,
        engine: EngineSettings {
            stage_duration: Duration::from_secs_f64(args.stage_seconds),
            max_concurrent_sessions: args.max_concurrent_sessions,
            ..Default::default()
        },
        clock: if args.manual_clock {
            ClockMode::Manual
        } else {
            ClockMode::Real { speed: args.speed }
        },
        client_id: args.client_id.clone(),
        client_secret: Secret::new(args.client_secret),
        token_lifetime: Duration::from_secs(3600),
        shape: immybot_sim::ResponseShape {
            dx_rows_with_job_args: args.dx_rows_with_job_args,
            dx_rows_with_stages: args.dx_rows_with_stages,
            actions_in_get: args.actions_in_get,
            ..Default::default()
        },
    };
    let sim = RunningSim::start(config, args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("immybot-sim: {tenants} tenants, {computers} computers");
    println!("  API base URL : {}", sim.base_url());
    println!("  token URL    : {}", sim.token_url());
    println!("  client id    : {}", args.client_id);
    println!(
        "  admin API    : {}_sim/calls, {}_sim/sessions",
        sim.base_url(),
        sim.base_url()
    );
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}
