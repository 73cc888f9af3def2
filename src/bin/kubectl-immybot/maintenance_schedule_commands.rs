//! The plugin's commands for MaintenanceSchedules: a standing approval of
//! the template, status, suspend and resume.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use immybot_operator::api::{
    ApprovedKind, MaintenanceSchedule, MaintenanceSession, Phase, maintenance_schedule_coverage,
};
use kube::api::ListParams;

use super::approval_prompt::{self, Approving};

use super::commands::{Ctx, ask, create_approval, expires_at, merge_spec, whoami};

/// A standing approval: the schedule's runs start by themselves until the
/// template changes or `--expires-in` passes (required: it must expire).
pub async fn approve(
    ctx: &Ctx,
    name: &str,
    comment: Option<String>,
    expires_in: Option<String>,
    yes: bool,
    max_computers: Option<i32>,
) -> anyhow::Result<()> {
    let schedule = ctx.get::<MaintenanceSchedule>(name).await?;
    let computers = standing_count(ctx, name, &schedule, max_computers).await?;
    let Some(digest) = schedule.status.as_ref().and_then(|s| s.template_digest.clone()) else {
        bail!(
            "maintenanceschedule/{name} has no template digest yet: the operator has not looked at it (is it running?)"
        );
    };
    if expires_in.is_none() {
        bail!("a standing approval lets every run start by itself, so it must expire: add --expires-in (e.g. 720h)");
    }
    let me = whoami(&ctx.client).await?;
    if me == schedule.spec.requested_by {
        bail!("you ({me}) requested maintenanceschedule/{name}; someone else must approve it");
    }
    let expires_at = expires_at(expires_in.as_deref())?;
    let approving = Approving::of_spec(maintenance_schedule_coverage(), name, &schedule.spec, &digest, &me)?;
    print!("{}", approval_prompt::render(&approving));
    println!("  at most {computers} computer(s) per run: a run above it waits for its own approval");
    if !yes && !ask("Approve every run of this template until it changes or the approval expires?")? {
        println!("not approved");
        return Ok(());
    }
    let uid = schedule
        .metadata
        .uid
        .clone()
        .context("the MaintenanceSchedule has no uid")?;
    let created = create_approval(
        ctx,
        ApprovedKind::MaintenanceSchedule,
        name,
        &uid,
        &digest,
        &me,
        comment,
        expires_at,
        Some(computers),
        None,
    )
    .await?;
    println!("approved maintenanceschedule/{name} as {me} (maintenanceapproval/{created})");
    Ok(())
}

/// The largest blast radius a standing approval allows per run: a
/// computer or list template counts its own computers (the digest fixes
/// them); a tenant's is the approver's to name, with the last run's count
/// shown to help.
async fn standing_count(
    ctx: &Ctx,
    name: &str,
    schedule: &MaintenanceSchedule,
    max_computers: Option<i32>,
) -> anyhow::Result<i32> {
    let target = &schedule.spec.session_template.spec.target;
    let own = match (&target.computer, &target.computers) {
        (Some(_), _) => Some(1),
        (_, Some(list)) => Some(i32::try_from(list.len()).unwrap_or(i32::MAX)),
        _ => None,
    };
    match (own, max_computers) {
        (_, Some(n)) if n < 1 => bail!("--max-computers must be at least 1"),
        (Some(own), Some(n)) if n < own => {
            bail!("the template names {own} computer(s): --max-computers {n} would hold every run")
        }
        (_, Some(n)) => Ok(n),
        (Some(own), None) => Ok(own),
        (None, None) => {
            let seen = last_counted_run(ctx, name).await;
            bail!(
                "maintenanceschedule/{name} targets a tenant: a standing approval names the most computers a run may start, add --max-computers N ({seen}); a run above it waits for its own approval"
            )
        }
    }
}

/// What the schedule's newest measured run counted, in words (a hint: a
/// user who may not list the runs still gets the refusal's advice).
async fn last_counted_run(ctx: &Ctx, name: &str) -> String {
    let listed = ctx
        .api::<MaintenanceSession>()
        .list(&ListParams::default().labels(&format!("immybot.io/schedule={name}")))
        .await;
    let Ok(runs) = listed else {
        return "its runs could not be listed to show their counts".into();
    };
    let newest = runs
        .items
        .iter()
        .filter_map(|r| Some((r.metadata.name.as_deref()?, r.status.as_ref()?.blast_radius.as_ref()?)))
        .max_by_key(|(_, b)| b.measured_at.0);
    match newest {
        Some((run, b)) => format!(
            "its last run, {run}, counted {} computer(s) at {}",
            b.computers, b.measured_at.0
        ),
        None => "no run has counted the tenant yet".into(),
    }
}

pub async fn status(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let s = ctx.get::<MaintenanceSchedule>(name).await?;
    let st = s.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "MaintenanceSchedule {name}: {} ({})",
        s.spec.schedule, s.spec.time_zone
    );
    let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref().map_or_else(|| "-".to_owned(), |t| t.0.to_string())
    };
    let _ = writeln!(out, "  last schedule: {}", time(&st.last_schedule_time));
    let _ = writeln!(out, "  next schedule: {}", time(&st.next_schedule_time));
    if let Some(last) = &st.last_run {
        let _ = writeln!(
            out,
            "  last run:      {} {}",
            last.name,
            last.phase.map_or("-", Phase::as_str)
        );
    }
    for run in &st.active {
        let _ = writeln!(
            out,
            "  active:        {} {}",
            run.name,
            run.phase.map_or("Pending", Phase::as_str)
        );
    }
    for c in &st.conditions {
        let _ = writeln!(out, "  {}={} ({}): {}", c.type_, c.status, c.reason, c.message);
    }
    print!("{out}");
    Ok(())
}

pub async fn set_suspend(ctx: &Ctx, name: &str, suspend: bool) -> anyhow::Result<()> {
    merge_spec(
        &ctx.api::<MaintenanceSchedule>(),
        name,
        &format!("maintenanceschedule/{name}"),
        serde_json::json!({"suspend": suspend}),
    )
    .await
}
