//! `create` and `delete`: a MaintenanceSession from flags, with
//! `spec.requestedBy` filled from who the API server says you are (the
//! admission policy requires exactly that), and deleting any of the kinds
//! with what deletion does said first.

use anyhow::{Context as _, bail};
use immybot_operator::api::{
    DeletionPolicy, ImmyBotSchedule, MaintenanceSchedule, MaintenanceSession, MaintenanceSessionSpec,
};
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

use super::commands::{Ctx, whoami};
use super::object_ref::{Kind, ObjectRef};

/// `spec.mode` as manifests write it (a unit test holds them to the type).
const MODES: [&str; 4] = ["Full", "DetectionOnly", "ResolutionOnly", "InventoryOnly"];
/// `spec.reboot.policy` as manifests write it.
const REBOOTS: [&str; 4] = ["Never", "IfRequired", "Always", "Prompt"];

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The MaintenanceSession's name.
    pub name: String,
    /// A computer, by ImmyBot id or name; give it again for a list.
    #[arg(long = "computer", value_name = "ID|NAME", required_unless_present = "tenant")]
    pub computers: Vec<String>,
    /// A whole tenant, by ImmyBot id or name.
    #[arg(long, value_name = "ID|NAME", conflicts_with = "computers")]
    pub tenant: Option<String>,
    /// With --tenant: its child tenants too.
    #[arg(long)]
    pub include_child_tenants: bool,
    /// Why, for the record and the approver (a change number, a ticket).
    #[arg(long)]
    pub reason: String,
    /// What runs.
    #[arg(long, value_parser = MODES, default_value = "Full")]
    pub mode: String,
    /// When computers may reboot.
    #[arg(long, value_parser = REBOOTS, default_value = "IfRequired")]
    pub reboot: String,
    /// Waves: this many computers first, alone, as a pilot.
    #[arg(long, value_name = "COUNT")]
    pub pilot: Option<i32>,
    /// Waves: at most this many computers (or a percentage, 25%) at once after the pilot.
    #[arg(long, value_name = "N|PERCENT")]
    pub max_concurrent: Option<String>,
    /// The ImmyBot connection: NAME (an ImmyBotConnection of the namespace)
    /// or clusterimmybotconnection/NAME. Default: the operator's default.
    #[arg(long)]
    pub connection: Option<String>,
    /// Cancel what still runs after this long (e.g. 4h).
    #[arg(long)]
    pub timeout: Option<String>,
    /// Create it suspended: nothing starts until `kubectl immybot resume`.
    #[arg(long)]
    pub suspend: bool,
    /// `client`: print the object, create nothing; `server`: the API
    /// server checks it (admission included) and keeps nothing.
    #[arg(long, value_parser = ["none", "client", "server"], default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
    /// Print the object (yaml or json) instead of one line.
    #[arg(short = 'o', long, value_parser = ["yaml", "json"])]
    pub output: Option<String>,
}

/// The session the flags describe, as the requester `me`.
fn session_of(args: &CreateArgs, me: &str) -> anyhow::Result<MaintenanceSession> {
    let by_id_or_name = |text: &str| match text.trim().parse::<i32>() {
        Ok(id) => json!({"id": id}),
        Err(_) => json!({"name": text.trim()}),
    };
    if args.include_child_tenants && args.tenant.is_none() {
        bail!("--include-child-tenants goes with --tenant");
    }
    let target = match (&args.tenant, args.computers.as_slice()) {
        (Some(tenant), _) => {
            let mut t = by_id_or_name(tenant);
            if args.include_child_tenants {
                t["includeChildTenants"] = json!(true);
            }
            json!({"tenant": t})
        }
        (None, [one]) => json!({"computer": by_id_or_name(one)}),
        (None, many) => json!({"computers": many.iter().map(|c| by_id_or_name(c)).collect::<Vec<_>>()}),
    };
    let mut spec = json!({
        "requestedBy": me,
        "reason": args.reason,
        "target": target,
        "mode": args.mode,
        "reboot": {"policy": args.reboot},
    });
    if args.pilot.is_some() || args.max_concurrent.is_some() {
        let mut rollout = json!({"strategy": "Waves"});
        if let Some(count) = args.pilot {
            rollout["pilot"] = json!({"count": count});
        }
        if let Some(n) = &args.max_concurrent {
            rollout["maxConcurrent"] = match n.parse::<i32>() {
                Ok(n) => json!(n),
                Err(_) => json!(n),
            };
        }
        spec["rollout"] = rollout;
    }
    if let Some(connection) = &args.connection {
        spec["connectionRef"] = match connection.split_once('/') {
            Some((kind, name)) if kind.eq_ignore_ascii_case("clusterimmybotconnection") => {
                json!({"kind": "ClusterImmyBotConnection", "name": name})
            }
            Some((kind, name)) if kind.eq_ignore_ascii_case("immybotconnection") => {
                json!({"kind": "ImmyBotConnection", "name": name})
            }
            Some((kind, _)) => bail!(
                "--connection {connection}: {kind} is not a connection kind (immybotconnection or clusterimmybotconnection)"
            ),
            None => json!({"kind": "ImmyBotConnection", "name": connection}),
        };
    }
    if let Some(timeout) = &args.timeout {
        spec["timeout"] = json!(timeout);
    }
    if args.suspend {
        spec["suspend"] = json!(true);
    }
    let spec: MaintenanceSessionSpec = serde_json::from_value(spec).context("the flags do not make a session")?;
    // Serialised with its apiVersion and kind (the derive writes them), so
    // `-o yaml` and --dry-run=client print a manifest `kubectl apply` takes.
    Ok(MaintenanceSession::new(&args.name, spec))
}

fn print(session: &MaintenanceSession, output: Option<&str>) -> anyhow::Result<()> {
    match output {
        Some("json") => println!("{}", serde_json::to_string_pretty(session)?),
        _ => print!("{}", serde_saphyr::to_string(session)?),
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let me = whoami(&ctx.client).await?;
    let session = session_of(&args, &me)?;
    if args.dry_run == "client" {
        return print(&session, Some(args.output.as_deref().unwrap_or("yaml")));
    }
    let params = PostParams {
        dry_run: args.dry_run == "server",
        ..Default::default()
    };
    let created = ctx
        .api::<MaintenanceSession>()
        .create(&params, &session)
        .await
        .with_context(|| {
            format!(
                "creating MaintenanceSession {} in namespace {}",
                args.name, ctx.namespace
            )
        })?;
    if args.output.is_some() {
        return print(&created, args.output.as_deref());
    }
    let dry = if params.dry_run { " (server dry run)" } else { "" };
    println!(
        "maintenancesession.immybot.io/{} created{dry}, requested by {me}",
        args.name
    );
    if !params.dry_run {
        println!(
            "  nothing starts until someone other than {me} approves it: kubectl immybot approve {}",
            args.name
        );
    }
    Ok(())
}

/// What deleting this object does in ImmyBot, said before it is done.
fn deletion_note(kind: Kind, policy: Option<DeletionPolicy>) -> &'static str {
    match (kind, policy) {
        (Kind::Session, Some(DeletionPolicy::Orphan)) => {
            "its ImmyBot sessions still running go on (spec.deletionPolicy: Orphan)"
        }
        (Kind::Session, _) => {
            "its ImmyBot sessions still running are cancelled first (spec.deletionPolicy: Cancel); what ran stays in ImmyBot's history"
        }
        (Kind::Schedule, _) => "the schedule is deleted in ImmyBot too, once the operator confirms it",
        (Kind::MaintenanceSchedule, _) => {
            "its runs (MaintenanceSessions it created) go with it, each by its own deletionPolicy"
        }
    }
}

pub async fn delete(ctx: &Ctx, object: &str, wait: bool) -> anyhow::Result<()> {
    let ObjectRef { kind, name } = ObjectRef::parse(object)?;
    let (shown, note) = match kind {
        Kind::Session => {
            let s: MaintenanceSession = ctx.get(&name).await?;
            delete_one::<MaintenanceSession>(ctx, &name, wait).await?;
            ("maintenancesession", deletion_note(kind, Some(s.spec.deletion_policy)))
        }
        Kind::Schedule => {
            delete_one::<ImmyBotSchedule>(ctx, &name, wait).await?;
            ("immybotschedule", deletion_note(kind, None))
        }
        Kind::MaintenanceSchedule => {
            delete_one::<MaintenanceSchedule>(ctx, &name, wait).await?;
            ("maintenanceschedule", deletion_note(kind, None))
        }
    };
    let state = if wait { "deleted" } else { "deletion requested" };
    println!("{shown}.immybot.io/{name} {state}: {note}");
    Ok(())
}

/// Deletes one `K` of the namespace, and with `wait` waits until it is gone.
async fn delete_one<K>(ctx: &Ctx, name: &str, wait: bool) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let api = ctx.api::<K>();
    api.delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting {} {name} in namespace {}", K::kind(&()), ctx.namespace))?;
    if wait {
        wait_gone(&api, name).await?;
    }
    Ok(())
}

/// Until the object is gone (its finalizer ran), as `kubectl delete --wait`.
async fn wait_gone<K>(api: &kube::Api<K>, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let gone = kube::runtime::wait::await_condition(api.clone(), name, |o: Option<&K>| o.is_none());
    match tokio::time::timeout(std::time::Duration::from_secs(600), gone).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(anyhow::anyhow!("waiting for {name} to go: {e}")),
        Err(_) => bail!(
            "{name} is still there after 10 minutes: its finalizer waits for ImmyBot (kubectl immybot status {name})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn args(line: &[&str]) -> CreateArgs {
        Cli::try_parse_from(std::iter::once("create").chain(line.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn the_choices_are_the_types_own() {
        for mode in MODES {
            serde_json::from_value::<immybot_operator::api::SessionMode>(json!(mode)).unwrap();
        }
        for policy in REBOOTS {
            serde_json::from_value::<immybot_operator::api::RebootPolicy>(json!(policy)).unwrap();
        }
    }

    #[test]
    fn flags_make_the_session_a_person_would_write() {
        let s = session_of(
            &args(&["patch", "--computer", "101", "--computer", "PC-7", "--reason", "CHG-1"]),
            "alice",
        )
        .unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["apiVersion"], "immybot.io/v1alpha1");
        assert_eq!(v["kind"], "MaintenanceSession");
        assert_eq!(v["spec"]["requestedBy"], "alice");
        assert_eq!(
            v["spec"]["target"],
            json!({"computers": [{"id": 101}, {"name": "PC-7"}]})
        );
        assert_eq!(v["spec"]["reboot"]["policy"], "IfRequired");

        let s = session_of(
            &args(&[
                "fleet",
                "--tenant",
                "Fabrikam",
                "--include-child-tenants",
                "--reason",
                "CHG-2",
                "--pilot",
                "1",
                "--max-concurrent",
                "25%",
                "--connection",
                "clusterimmybotconnection/prod",
                "--mode",
                "DetectionOnly",
            ]),
            "alice",
        )
        .unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v["spec"]["target"],
            json!({"tenant": {"name": "Fabrikam", "includeChildTenants": true}})
        );
        assert_eq!(v["spec"]["rollout"]["pilot"]["count"], 1);
        assert_eq!(v["spec"]["rollout"]["maxConcurrent"], "25%");
        assert_eq!(
            v["spec"]["connectionRef"],
            json!({"kind": "ClusterImmyBotConnection", "name": "prod"})
        );
        assert_eq!(v["spec"]["mode"], "DetectionOnly");
    }

    #[test]
    fn a_target_is_one_kind_and_required() {
        let parse = |line: &[&str]| Cli::try_parse_from(std::iter::once("create").chain(line.iter().copied()));
        assert!(parse(&["x", "--reason", "r"]).is_err(), "no target");
        assert!(parse(&["x", "--reason", "r", "--computer", "1", "--tenant", "2"]).is_err());
        assert!(parse(&["x", "--computer", "1"]).is_err(), "a reason is required");
        assert!(parse(&["x", "--reason", "r", "--computer", "1", "--mode", "Fast"]).is_err());
        let bad = session_of(
            &args(&["x", "--reason", "r", "--computer", "1", "--connection", "secret/x"]),
            "a",
        );
        assert!(bad.unwrap_err().to_string().contains("not a connection kind"));
        let children = session_of(
            &args(&["x", "--reason", "r", "--computer", "1", "--include-child-tenants"]),
            "a",
        );
        assert!(children.unwrap_err().to_string().contains("goes with --tenant"));
    }
}
