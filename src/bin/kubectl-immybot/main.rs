//! `kubectl-immybot`: the MaintenanceSession workflow from the command line.
//! Installed on PATH, kubectl runs it as `kubectl immybot ...`.
#![forbid(unsafe_code)]

mod approval_commands;
mod approval_prompt;
mod ask_once;
mod check_commands;
mod commands;
mod create_commands;
mod maintenance_schedule_commands;
mod object_ref;
mod render;
mod render_plan;
mod render_schedule;
mod render_search;
mod report_commands;
mod schedule_commands;
mod search_commands;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use object_ref::{Kind, ObjectRef};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-immybot",
    version,
    about = "Approve, follow and control ImmyBot MaintenanceSessions and ImmyBotSchedules"
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
    /// The kubeconfig file (like kubectl --kubeconfig; default: $KUBECONFIG,
    /// then ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use (like kubectl --context).
    #[arg(long, global = true)]
    context: Option<String>,
    /// How long one API request may take before it is given up (like
    /// kubectl --request-timeout): 30s, 2m, 1h; 0 waits as long as it takes.
    #[arg(long, global = true, value_parser = request_timeout)]
    request_timeout: Option<RequestTimeout>,
    #[command(subcommand)]
    command: Command,
}

/// `--request-timeout`: `0` for none, else a duration with its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestTimeout {
    Never,
    After(std::time::Duration),
}

fn request_timeout(text: &str) -> Result<RequestTimeout, String> {
    if text.trim() == "0" {
        return Ok(RequestTimeout::Never);
    }
    immybot_operator::controller::parse_duration(Some(text.trim()))
        .map(RequestTimeout::After)
        .ok_or_else(|| format!("{text:?} is not a duration: give its unit (30s, 2m, 1h), or 0 for none"))
}

/// The client's configuration as kubectl would make it from the same flags.
async fn kube_config(cli: &Cli) -> anyhow::Result<kube::Config> {
    let options = kube::config::KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let mut config = match &cli.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None if cli.context.is_some() => kube::Config::from_kubeconfig(&options).await,
        None => {
            return kube::Config::infer()
                .await
                .context("reading the kubeconfig")
                .map(|c| with_timeout(c, cli));
        }
    }
    .context("reading the kubeconfig")?;
    config = with_timeout(config, cli);
    Ok(config)
}

fn with_timeout(mut config: kube::Config, cli: &Cli) -> kube::Config {
    match cli.request_timeout {
        Some(RequestTimeout::Never) => {
            config.read_timeout = None;
            config.write_timeout = None;
        }
        Some(RequestTimeout::After(limit)) => {
            config.read_timeout = Some(limit);
            config.write_timeout = Some(limit);
            config.connect_timeout = Some(limit);
        }
        None => {}
    }
    config
}

/// Objects are named `name` or `session/name` (a MaintenanceSession) or
/// `schedule/name` (an ImmyBotSchedule) or `maintenanceschedule/name`
/// (a standing approval of its template; needs --expires-in).
#[derive(Subcommand, Debug)]
enum Command {
    /// Approve a session or schedule as yourself, for the digest its status
    /// shows now.
    #[command(
        after_help = "Examples:\n  kubectl immybot approve patch-reception-pc\n  kubectl immybot approve schedule/fabrikam-nightly --comment CHG-1234\n  kubectl immybot approve maintenanceschedule/weekly --expires-in 30d --max-computers 200"
    )]
    Approve {
        object: String,
        /// Why you approve, for the record.
        #[arg(long)]
        comment: Option<String>,
        /// How long the approval stays valid, e.g. 24h or 90m.
        #[arg(long)]
        expires_in: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// A standing approval (maintenanceschedule/NAME) of a tenant: the
        /// most computers a run may start; a run above it waits for its
        /// own approval. A computer or list template counts its own.
        #[arg(long)]
        max_computers: Option<i32>,
        /// A session with spec.plan, where the operator makes the plan's
        /// detection wait for an approval of the spec: approve the spec
        /// now, so that the plan is made; its start still needs the plan
        /// approved.
        #[arg(long)]
        before_plan: bool,
    },
    /// A readable summary. A session: phase, approval, computers and
    /// actions, failures first. A schedule: next run, conditions and its
    /// recent runs, worst computers first.
    #[command(
        after_help = "Examples:\n  kubectl immybot status patch-reception-pc\n  kubectl immybot status schedule/fabrikam-nightly"
    )]
    Status { object: String },
    /// The latest log lines the operator keeps in status, then why each
    /// failed action failed (the last lines of its own log, script
    /// parameters blanked out). Full logs live in ImmyBot: open the session
    /// ids this prints there.
    #[command(
        after_help = "Examples:\n  kubectl immybot logs patch-reception-pc\n  kubectl immybot logs immybot-session-1043 --action \"Legacy VPN\""
    )]
    Logs {
        session: String,
        /// Only this computer's failed actions (its name or ImmyBot id).
        #[arg(long)]
        computer: Option<String>,
        /// Only failed actions of this name (e.g. "Google Chrome").
        #[arg(long)]
        action: Option<String>,
    },
    /// Hold it. A session: nothing new starts (running ImmyBot sessions go
    /// on). A schedule: disabled in ImmyBot (no approval needed).
    #[command(
        after_help = "Examples:\n  kubectl immybot suspend patch-reception-pc\n  kubectl immybot suspend schedule/fabrikam-nightly"
    )]
    Suspend { object: String },
    /// Continue what is held: lift a suspend, and resume ImmyBot sessions a
    /// user postponed (spec.resume.requests).
    #[command(
        after_help = "Examples:\n  kubectl immybot resume patch-reception-pc\n  kubectl immybot resume schedule/fabrikam-nightly"
    )]
    Resume { object: String },
    /// Cancel the session in ImmyBot. Final.
    #[command(after_help = "Examples:\n  kubectl immybot cancel patch-reception-pc --reason \"wrong tenant\"")]
    Cancel {
        session: String,
        /// Why, recorded in status and events.
        #[arg(long)]
        reason: String,
    },
    /// Ask for one more rerun of the computers that failed, or, with
    /// --failed-actions, of just the failed actions (optionally of one
    /// computer, one action).
    #[command(
        after_help = "Examples:\n  kubectl immybot retry patch-reception-pc\n  kubectl immybot retry immybot-session-1043 --failed-actions --action \"Legacy VPN\""
    )]
    Retry {
        session: String,
        /// Rerun only the failed actions (spec.retry.failedActions), not
        /// whole computers.
        #[arg(long)]
        failed_actions: bool,
        /// With --failed-actions: only this computer's (id or name).
        #[arg(long, requires = "failed_actions")]
        computer: Option<String>,
        /// With --failed-actions: only this action (its name in status).
        #[arg(long, requires = "failed_actions")]
        action: Option<String>,
    },
    /// Mirror an ImmyBot session the operator did not start (a schedule's,
    /// onboarding's, a person's in ImmyBot): creates an observe-only
    /// MaintenanceSession for it. Nothing is started; cancelling it or
    /// rerunning its failed actions needs an approval.
    #[command(
        after_help = "Examples:\n  kubectl immybot import 1043\n  kubectl immybot import 1043 --name finance-lt01-vpn --reason INC-77"
    )]
    Import {
        /// The ImmyBot maintenance session id.
        session_id: i32,
        /// The object's name (default: immybot-session-<id>).
        #[arg(long)]
        name: Option<String>,
        /// Why you look at it, for the record (default: names the session).
        #[arg(long)]
        reason: Option<String>,
    },
    /// MaintenanceSessions as a table (like kubectl get ims, with the
    /// approver; enums as manifests write them).
    #[command(after_help = "Examples:\n  kubectl immybot list\n  kubectl immybot list -A -l team=desk -w")]
    List {
        /// All namespaces.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Only objects with these labels (e.g. team=desk).
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: render_search::Output,
        /// Then print each change as it happens.
        #[arg(short = 'w', long)]
        watch: bool,
        /// With --watch: stop after this long (e.g. 10m; default: never).
        #[arg(long)]
        timeout: Option<String>,
    },
    /// One MaintenanceSession (table, wide, name, json or yaml).
    #[command(after_help = "Examples:\n  kubectl immybot get patch-reception-pc -o yaml")]
    Get {
        session: String,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: render_search::Output,
    },
    /// Wait until a session reaches a phase: --for=phase=Succeeded[,..].
    /// Fails at once if it ends in another final phase.
    #[command(after_help = "Examples:\n  kubectl immybot wait patch-reception-pc --for=phase=Succeeded --timeout 30m")]
    Wait {
        session: String,
        #[arg(long = "for")]
        condition: String,
        #[arg(long, default_value = "30m")]
        timeout: String,
    },
    /// ImmyBot's sessions, whoever started them (a schedule, onboarding, a
    /// person in ImmyBot, this operator), newest first, through a
    /// SessionSearch the operator answers.
    #[command(after_help = "Examples:\n  kubectl immybot history --tenant 2 --failed")]
    History(search_commands::HistoryArgs),
    /// A maintenance report over a period for people outside the cluster
    /// (sessions per tenant, computers passed, failed and missed, the items
    /// that failed most, compliance now, approvals and cancellations, the
    /// weekly trend), through a MaintenanceReport the operator answers.
    #[command(
        after_help = "Examples:\n  kubectl immybot report --since 30d\n  kubectl immybot report --since 90d --tenant Contoso -o html --file contoso.html\n  kubectl immybot report --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z -o csv"
    )]
    Report(report_commands::ReportArgs),
    /// Every ImmyBot session not finished yet, across the fleet.
    #[command(after_help = "Examples:\n  kubectl immybot active")]
    Active {
        #[arg(long, default_value_t = 500)]
        limit: i32,
    },
    /// Run a schedule now, once (spec.runNow.requests + 1).
    #[command(after_help = "Examples:\n  kubectl immybot run-now schedule/fabrikam-nightly")]
    RunNow { schedule: String },
    /// Print a shell completion script (bash, zsh, fish, powershell,
    /// elvish). Example: `source <(kubectl-immybot completion bash)`; for
    /// `kubectl immybot <TAB>`, kubectl (1.26+) runs an executable named
    /// `kubectl_complete-immybot` from PATH.
    #[command(after_help = "Examples:\n  source <(kubectl-immybot completion bash)")]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Create a MaintenanceSession from flags, requested by you (who the
    /// API server says you are): nothing starts until someone else
    /// approves it.
    #[command(
        after_help = "Examples:\n  kubectl immybot create patch-reception-pc --computer PC-0042 --reason CHG-1234\n  kubectl immybot create fabrikam-june --tenant Fabrikam --pilot 1 --max-concurrent 25% --reason CHG-1250\n  kubectl immybot create check-lab --computer 101 --computer 102 --mode DetectionOnly --reason INC-9 --dry-run -o yaml"
    )]
    Create(create_commands::CreateArgs),
    /// Delete a session, schedule or MaintenanceSchedule, saying what that
    /// does in ImmyBot (a session's running ImmyBot sessions are cancelled
    /// unless its deletionPolicy is Orphan).
    #[command(
        after_help = "Examples:\n  kubectl immybot delete patch-reception-pc\n  kubectl immybot delete schedule/fabrikam-nightly --wait"
    )]
    Delete {
        object: String,
        /// Wait until it is gone (its finalizer has done its work).
        #[arg(long)]
        wait: bool,
    },
    /// MaintenanceApprovals: list them with whether each still counts, or
    /// revoke them.
    #[command(
        subcommand,
        after_help = "Examples:\n  kubectl immybot approvals list\n  kubectl immybot approvals revoke --for patch-reception-pc"
    )]
    Approvals(approval_commands::ApprovalsCommand),
    /// Is the operator installed and working? The CRDs are served, the
    /// operator is ready and its last poll of ImmyBot worked (with
    /// --operator-url), and every connection is Ready. The chart's `helm
    /// test` runs this in the cluster.
    #[command(
        after_help = "Examples:\n  kubectl immybot check\n  kubectl immybot check --operator-url http://immybot-operator-metrics.immybot-system:8080"
    )]
    Check(check_commands::CheckArgs),
    /// Cancel the sessions a schedule is running (spec.cancelRunning.requests + 1).
    #[command(after_help = "Examples:\n  kubectl immybot cancel-running schedule/fabrikam-nightly")]
    CancelRunning { schedule: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Completion { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut <Cli as clap::CommandFactory>::command(),
            "kubectl-immybot",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    let mut config = kube_config(&cli).await?;
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
            object,
            comment,
            expires_in,
            yes,
            max_computers,
            before_plan,
        } => match ObjectRef::parse(&object)? {
            ObjectRef {
                kind: Kind::MaintenanceSchedule,
                name,
            } => maintenance_schedule_commands::approve(&ctx, &name, comment, expires_in, yes, max_computers).await,
            _ if max_computers.is_some() => anyhow::bail!(
                "--max-computers is for a standing approval (maintenanceschedule/NAME); a session's or schedule's approval records the blast radius the operator measured"
            ),
            ObjectRef {
                kind: Kind::Session,
                name,
            } => commands::approve(&ctx, &name, comment, expires_in, yes, before_plan).await,
            _ if before_plan => anyhow::bail!("--before-plan is for a MaintenanceSession with spec.plan"),
            ObjectRef {
                kind: Kind::Schedule,
                name,
            } => schedule_commands::approve(&ctx, &name, comment, expires_in, yes).await,
        },
        Command::Status { object } => match ObjectRef::parse(&object)? {
            ObjectRef {
                kind: Kind::Session,
                name,
            } => commands::status(&ctx, &name).await,
            ObjectRef {
                kind: Kind::Schedule,
                name,
            } => schedule_commands::status(&ctx, &name).await,
            ObjectRef {
                kind: Kind::MaintenanceSchedule,
                name,
            } => maintenance_schedule_commands::status(&ctx, &name).await,
        },
        Command::Logs {
            session,
            computer,
            action,
        } => commands::logs(&ctx, &session_name(&session)?, &render::LogFilter { computer, action }).await,
        Command::Suspend { object } => match ObjectRef::parse(&object)? {
            ObjectRef {
                kind: Kind::Session,
                name,
            } => commands::set_suspend(&ctx, &name, true).await,
            ObjectRef {
                kind: Kind::Schedule,
                name,
            } => schedule_commands::set_suspend(&ctx, &name, true).await,
            ObjectRef {
                kind: Kind::MaintenanceSchedule,
                name,
            } => maintenance_schedule_commands::set_suspend(&ctx, &name, true).await,
        },
        Command::Resume { object } => match ObjectRef::parse(&object)? {
            ObjectRef {
                kind: Kind::Session,
                name,
            } => commands::resume(&ctx, &name).await,
            ObjectRef {
                kind: Kind::Schedule,
                name,
            } => schedule_commands::set_suspend(&ctx, &name, false).await,
            ObjectRef {
                kind: Kind::MaintenanceSchedule,
                name,
            } => maintenance_schedule_commands::set_suspend(&ctx, &name, false).await,
        },
        Command::Cancel { session, reason } => commands::cancel(&ctx, &session_name(&session)?, &reason).await,
        Command::Retry {
            session,
            failed_actions: false,
            ..
        } => commands::retry(&ctx, &session_name(&session)?).await,
        Command::Retry {
            session,
            failed_actions: true,
            computer,
            action,
        } => {
            let filter = render::LogFilter { computer, action };
            commands::retry_failed_actions(&ctx, &session_name(&session)?, &filter).await
        }
        Command::List {
            all_namespaces,
            selector,
            output,
            watch,
            timeout,
        } => {
            let limit = match (watch, timeout) {
                (false, _) => None,
                (true, None) => Some(std::time::Duration::MAX),
                (true, Some(t)) => Some(duration(&t)?),
            };
            search_commands::list(&ctx, all_namespaces, selector.as_deref(), output, limit).await
        }
        Command::Get { session, output } => search_commands::get(&ctx, &session_name(&session)?, output).await,
        Command::Wait {
            session,
            condition,
            timeout,
        } => search_commands::wait(&ctx, &session_name(&session)?, &condition, duration(&timeout)?).await,
        Command::History(args) => search_commands::history(&ctx, args).await,
        Command::Active { limit } => search_commands::active(&ctx, limit).await,
        Command::Report(args) => report_commands::report(&ctx, args).await,
        Command::Import {
            session_id,
            name,
            reason,
        } => commands::import(&ctx, session_id, name, reason).await,
        // Answered before any client was made (see the top of main).
        Command::Completion { .. } => Ok(()),
        Command::RunNow { schedule } => {
            schedule_commands::run_now(&ctx, &ObjectRef::parse_schedule(&schedule, "run-now")?).await
        }
        Command::Check(args) => check_commands::check(&ctx, args).await,
        Command::Create(args) => create_commands::create(&ctx, args).await,
        Command::Delete { object, wait } => create_commands::delete(&ctx, &object, wait).await,
        Command::Approvals(command) => approval_commands::run(&ctx, command).await,
        Command::CancelRunning { schedule } => {
            schedule_commands::cancel_running(&ctx, &ObjectRef::parse_schedule(&schedule, "cancel-running")?).await
        }
    }
}

/// For commands that only sessions have.
fn session_name(text: &str) -> anyhow::Result<String> {
    match ObjectRef::parse(text)? {
        ObjectRef {
            kind: Kind::Session,
            name,
        } => Ok(name),
        ObjectRef {
            kind: Kind::Schedule | Kind::MaintenanceSchedule,
            ..
        } => {
            anyhow::bail!(
                "this command is for MaintenanceSessions; a schedule's runs are sessions in ImmyBot (see `kubectl immybot status {text}`)"
            )
        }
    }
}

/// A duration as written in manifests (`90s`, `10m`, `2h`).
fn duration(text: &str) -> anyhow::Result<std::time::Duration> {
    immybot_operator::controller::parse_duration(Some(text))
        .with_context(|| format!("{text} is not a duration like 90s, 10m or 2h"))
}

#[cfg(test)]
mod cli_tests {
    use super::*;

    #[test]
    fn request_timeouts_read_as_kubectl_reads_them() {
        assert_eq!(request_timeout("0"), Ok(RequestTimeout::Never));
        assert_eq!(
            request_timeout("30s"),
            Ok(RequestTimeout::After(std::time::Duration::from_secs(30)))
        );
        assert_eq!(
            request_timeout("2m"),
            Ok(RequestTimeout::After(std::time::Duration::from_secs(120)))
        );
        assert!(request_timeout("30").is_err(), "a unit is required, as kubectl's");
        assert!(request_timeout("soon").is_err());
    }

    #[test]
    fn the_kubectl_flags_are_global() {
        let cli = Cli::try_parse_from([
            "kubectl-immybot",
            "list",
            "--context",
            "lab",
            "--kubeconfig",
            "/tmp/k",
            "--request-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(cli.context.as_deref(), Some("lab"));
        assert_eq!(cli.kubeconfig, Some(std::path::PathBuf::from("/tmp/k")));
        assert_eq!(
            cli.request_timeout,
            Some(RequestTimeout::After(std::time::Duration::from_secs(5)))
        );
    }

    /// Words as a shell splits them (double quotes only, as the examples use).
    fn shell_words(line: &str) -> Vec<String> {
        let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    #[test]
    fn every_verb_shows_an_example() {
        let mut cli = <Cli as clap::CommandFactory>::command();
        cli.build();
        let mut verbs = 0;
        for verb in cli.get_subcommands_mut() {
            let name = verb.get_name().to_owned();
            if name == "help" {
                continue;
            }
            verbs += 1;
            let help = verb.render_long_help().to_string();
            let runs_it = help.contains(&format!("  kubectl immybot {name}"))
                || help.contains(&format!("kubectl-immybot {name}"));
            assert!(
                help.contains("Examples:") && runs_it,
                "{name}'s help has no example of it:\n{help}"
            );
            // Every example parses: its flags are real.
            for example in help.lines().filter_map(|l| l.trim().strip_prefix("kubectl immybot ")) {
                let args = std::iter::once("kubectl-immybot".to_owned()).chain(shell_words(example));
                if let Err(e) = Cli::try_parse_from(args) {
                    panic!("the example `kubectl immybot {example}` does not parse: {e}");
                }
            }
        }
        assert!(verbs >= 16, "{verbs} verbs");
    }
}
