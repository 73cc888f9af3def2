//! Finding sessions from kubectl: `list`, `get` and `wait` read
//! MaintenanceSessions; `history` and `active` ask ImmyBot through a
//! SessionSearch (RBAC on `sessionsearches` is the only key), print its
//! answer, and delete it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use immybot_operator::api::{MaintenanceSession, Phase, SearchedStatus, SessionSearch, SessionSearchSpec};
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use kube::runtime::wait::await_condition;

use immybot_operator::controller::session::attempts::recorded_sessions;

use super::commands::Ctx;
use super::render_search::{self, Output};

/// How long `history` and `active` wait for the operator's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// `list`: the MaintenanceSessions of the namespace (or all, `-A`).
pub async fn list(
    ctx: &Ctx,
    all: bool,
    selector: Option<&str>,
    output: Output,
    watch: Option<Duration>,
) -> anyhow::Result<()> {
    let api: Api<MaintenanceSession> = if all { Api::all(ctx.client.clone()) } else { ctx.api() };
    let mut params = ListParams::default();
    if let Some(s) = selector {
        params = params.labels(s);
    }
    let items = api.list(&params).await.context("listing MaintenanceSessions")?.items;
    print!("{}", render_search::sessions(&items, output, all)?);
    let Some(limit) = watch else { return Ok(()) };
    // Then each change, one line per object version, as `kubectl get -w`.
    use futures::StreamExt as _;
    let mut config = kube::runtime::watcher::Config::default();
    if let Some(s) = selector {
        config = config.labels(s);
    }
    let mut seen: BTreeMap<String, String> = items
        .iter()
        .map(|s| (s.name_any(), s.resource_version().unwrap_or_default()))
        .collect();
    use kube::runtime::WatchStreamExt as _;
    let changes = kube::runtime::watcher(api, config).applied_objects();
    futures::pin_mut!(changes);
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Ok(()),
            next = changes.next() => match next {
                Some(Ok(obj)) => {
                    let version = obj.resource_version().unwrap_or_default();
                    if seen.insert(obj.name_any(), version.clone()).as_deref() != Some(version.as_str()) {
                        let text = render_search::sessions(std::slice::from_ref(&obj), output, all)?;
                        // Rows only: the header was printed once.
                        let rows = if matches!(output, Output::Table | Output::Wide) {
                            text.lines().skip(1).map(|l| format!("{l}\n")).collect()
                        } else {
                            text
                        };
                        print!("{rows}");
                    }
                }
                Some(Err(e)) => bail!("watching MaintenanceSessions: {e}"),
                None => return Ok(()),
            },
        }
    }
}

/// `get`: one MaintenanceSession.
pub async fn get(ctx: &Ctx, name: &str, output: Output) -> anyhow::Result<()> {
    let obj = ctx.get::<MaintenanceSession>(name).await?;
    // One object prints as itself, not as a list of one.
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&obj)?),
        Output::Yaml => print!("{}", serde_saphyr::to_string(&obj)?),
        _ => print!("{}", render_search::sessions(&[obj], output, false)?),
    }
    Ok(())
}

/// `wait --for=phase=A[,B]`: until the session reaches one of the phases;
/// fails at once if it ends in another final phase, or at the timeout.
pub async fn wait(ctx: &Ctx, name: &str, condition: &str, timeout: Duration) -> anyhow::Result<()> {
    let wanted = parse_for(condition)?;
    let api: Api<MaintenanceSession> = ctx.api();
    ctx.get::<MaintenanceSession>(name).await?;
    let phase_of = |s: &MaintenanceSession| s.status.as_ref().and_then(|st| st.phase);
    let settled = {
        let wanted = wanted.clone();
        move |obj: Option<&MaintenanceSession>| {
            obj.and_then(phase_of)
                .is_some_and(|p| wanted.contains(&p) || p.is_final())
        }
    };
    let reached = tokio::time::timeout(timeout, await_condition(api, name, settled))
        .await
        .with_context(|| format!("timed out after {timeout:?} waiting for {name} to reach {condition}"))?
        .context("watching the session")?;
    let phase = reached.as_ref().and_then(phase_of);
    match phase {
        Some(p) if wanted.contains(&p) => {
            println!("{name} reached phase {}", p.as_str());
            Ok(())
        }
        Some(p) => bail!("{name} ended in phase {}, not {condition}", p.as_str()),
        None => bail!("{name} was deleted"),
    }
}

/// `phase=Succeeded,PartiallySucceeded` into phases.
fn parse_for(condition: &str) -> anyhow::Result<Vec<Phase>> {
    let Some(list) = condition.strip_prefix("phase=") else {
        bail!("--for takes phase=<Phase>[,<Phase>...], e.g. phase=Succeeded");
    };
    list.split(',')
        .map(|p| {
            serde_json::from_value::<Phase>(serde_json::Value::String(p.trim().to_owned()))
                .with_context(|| format!("{p} is not a phase (Succeeded, PartiallySucceeded, Failed, Running, ...)"))
        })
        .collect()
}

/// What `history` asks.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Only this computer's: its name as ImmyBot shows it, or its ImmyBot
    /// id (a number). A name is resolved once by the operator; one that
    /// matches several computers is refused with the candidates.
    #[arg(long)]
    pub computer: Option<String>,
    /// Only this tenant's: its name, or its ImmyBot id (a number).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Created since: an age (7d, 36h, 90m) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Created before: an age or an RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only sessions that did not pass (Failed, PartialPassed, Missed, ...).
    #[arg(long)]
    pub failed: bool,
    /// Only these ImmyBot statuses (repeat: --status Failed --status Running).
    #[arg(long = "status", value_parser = parse_status)]
    pub statuses: Vec<SearchedStatus>,
    /// At most this many (1 to 500).
    #[arg(long, default_value_t = 100)]
    pub limit: i32,
}

/// An ImmyBot session status as manifests write it (`PartialPassed`).
fn parse_status(text: &str) -> Result<SearchedStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text} is not an ImmyBot session status (Failed, PartialPassed, Running, ...)"))
}

/// Statuses of sessions that did not pass.
const FAILED: &[SearchedStatus] = &[
    SearchedStatus::Failed,
    SearchedStatus::PartialPassed,
    SearchedStatus::Missed,
    SearchedStatus::MaxTrackedDevicesPerMonthExceeded,
    SearchedStatus::MaintenanceForTrackableDevicesNotAllowed,
];

/// Statuses of sessions not finished.
const ACTIVE: &[SearchedStatus] = &[
    SearchedStatus::Running,
    SearchedStatus::Created,
    SearchedStatus::Pending,
    SearchedStatus::Postponed,
    SearchedStatus::PendingConnectivity,
    SearchedStatus::PendingPreflight,
    SearchedStatus::PendingEphemeralAgentConnection,
];

pub async fn history(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let mut statuses = args.statuses;
    if args.failed {
        statuses.extend_from_slice(FAILED);
    }
    statuses.dedup();
    let (computer_id, computer_name) = id_or_name(args.computer);
    let (tenant_id, tenant_name) = id_or_name(args.tenant);
    let spec = serde_json::json!({
        "computerId": computer_id,
        "computerName": computer_name,
        "tenantId": tenant_id,
        "tenantName": tenant_name,
        "statuses": statuses,
        "since": args.since.as_deref().map(|s| point_in_time(s, now)).transpose()?,
        "until": args.until.as_deref().map(|s| point_in_time(s, now)).transpose()?,
        "limit": args.limit,
        "ttl": "1h",
    });
    ask(ctx, "history-", spec).await
}

/// A positive number is an ImmyBot id; anything else is a name.
fn id_or_name(given: Option<String>) -> (Option<i32>, Option<String>) {
    match given.as_deref().map(str::trim) {
        None | Some("") => (None, None),
        Some(text) => match text.parse::<i32>() {
            Ok(id) if id > 0 => (Some(id), None),
            _ => (None, Some(text.to_owned())),
        },
    }
}

pub async fn active(ctx: &Ctx, limit: i32) -> anyhow::Result<()> {
    ask(
        ctx,
        "active-",
        serde_json::json!({"statuses": ACTIVE, "limit": limit, "ttl": "1h"}),
    )
    .await
}

/// Asks the search (`ask_once`), prints its answer.
async fn ask(ctx: &Ctx, prefix: &str, spec: serde_json::Value) -> anyhow::Result<()> {
    let spec: SessionSearchSpec = serde_json::from_value(spec).context("building the search")?;
    let answered = super::ask_once::ask(ctx, SessionSearch::new("", spec), prefix, ANSWER_TIMEOUT).await?;
    let answer = answered.status.unwrap_or_default();
    let mirrored_by = mirrored_by(ctx).await?;
    print!(
        "{}",
        render_search::found(&answer.sessions, &mirrored_by, answer.truncated)
    );
    Ok(())
}

/// Session id to the MaintenanceSession of the namespace that has it.
async fn mirrored_by(ctx: &Ctx) -> anyhow::Result<BTreeMap<i32, String>> {
    let items = ctx
        .api::<MaintenanceSession>()
        .list(&ListParams::default())
        .await
        .context("listing MaintenanceSessions")?
        .items;
    let mut out = BTreeMap::new();
    for s in &items {
        let Some(st) = s.status.as_ref() else { continue };
        for (id, _) in recorded_sessions(st) {
            out.insert(id, s.name_any());
        }
    }
    Ok(out)
}

/// `7d`, `36h`, `90m` ago, or an RFC 3339 time, as RFC 3339.
pub fn point_in_time(text: &str, now: jiff::Timestamp) -> anyhow::Result<String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.to_string());
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .with_context(|| format!("{text} is neither a time (RFC 3339) nor an age like 7d, 36h or 90m"))?;
    let seconds = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        _ => bail!("{text}: an age ends in d, h or m"),
    };
    let t = now
        .checked_sub(jiff::SignedDuration::from_secs(seconds))
        .context("too far back")?;
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_an_id_and_anything_else_a_name() {
        assert_eq!(id_or_name(Some("102".into())), (Some(102), None));
        assert_eq!(
            id_or_name(Some("FINANCE-LT01".into())),
            (None, Some("FINANCE-LT01".into()))
        );
        assert_eq!(id_or_name(Some("0".into())), (None, Some("0".into())), "no id is 0");
        assert_eq!(id_or_name(Some(" ".into())), (None, None));
        assert_eq!(id_or_name(None), (None, None));
    }

    #[test]
    fn ages_and_times_read_as_users_write_them() {
        let now: jiff::Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        assert_eq!(point_in_time("7d", now).unwrap(), "2026-11-27T10:00:00Z");
        assert_eq!(point_in_time("90m", now).unwrap(), "2026-12-04T08:30:00Z");
        assert_eq!(
            point_in_time("2026-11-01T00:00:00Z", now).unwrap(),
            "2026-11-01T00:00:00Z"
        );
        assert!(point_in_time("7w", now).is_err());
    }

    #[test]
    fn wait_conditions_name_phases() {
        assert_eq!(
            parse_for("phase=Succeeded,PartiallySucceeded").unwrap(),
            vec![Phase::Succeeded, Phase::PartiallySucceeded]
        );
        assert!(parse_for("phase=Done").is_err());
        assert!(parse_for("condition=Ready").is_err());
    }
}
