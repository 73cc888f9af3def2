//! `kubectl-immybot`: the MaintenanceSession workflow from the command line.
//! Installed on PATH, kubectl runs it as `kubectl immybot ...`.
#![forbid(unsafe_code)]

mod commands;
mod render;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-immybot",
    version,
    about = "Approve, follow and control ImmyBot MaintenanceSessions"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Act as this user (impersonation, like kubectl --as).
    #[arg(long = "as", global = true)]
    as_user: Option<String>,
    /// Groups to impersonate (like kubectl --as-group).
    #[arg(long = "as-group", global = true)]
    as_group: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Approve a session as yourself, for the digest its status shows now.
    Approve {
        session: String,
        /// Why you approve, for the record.
        #[arg(long)]
        comment: Option<String>,
        /// How long the approval stays valid, e.g. 24h or 90m.
        #[arg(long)]
        expires_in: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// A readable summary: phase, approval, computers and actions, failures first.
    Status { session: String },
    /// The latest log lines the operator keeps in status. Full session logs
    /// live in ImmyBot: open the session ids this prints there.
    Logs { session: String },
    /// Hold the session: nothing new starts (running ImmyBot sessions go on).
    Suspend { session: String },
    /// Continue what is held: lift a suspend, and resume ImmyBot sessions a
    /// user postponed (spec.resume.requests).
    Resume { session: String },
    /// Cancel the session in ImmyBot. Final.
    Cancel {
        session: String,
        /// Why, recorded in status and events.
        #[arg(long)]
        reason: String,
    },
    /// Ask for one more rerun of the computers that failed.
    Retry { session: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = kube::Config::infer().await.context("reading the kubeconfig")?;
    if let Some(user) = &cli.as_user {
        config.auth_info.impersonate = Some(user.clone());
        if !cli.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(cli.as_group.clone());
        }
    }
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    let ctx = commands::Ctx { client, namespace };
    match cli.command {
        Command::Approve {
            session,
            comment,
            expires_in,
            yes,
        } => commands::approve(&ctx, &session, comment, expires_in, yes).await,
        Command::Status { session } => commands::status(&ctx, &session).await,
        Command::Logs { session } => commands::logs(&ctx, &session).await,
        Command::Suspend { session } => commands::set_suspend(&ctx, &session, true).await,
        Command::Resume { session } => commands::resume(&ctx, &session).await,
        Command::Cancel { session, reason } => commands::cancel(&ctx, &session, &reason).await,
        Command::Retry { session } => commands::retry(&ctx, &session).await,
    }
}
