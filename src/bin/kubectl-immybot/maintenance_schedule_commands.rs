//! The plugin's commands for MaintenanceSchedules: a standing approval of
//! the template, status, suspend and resume.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use immybot_operator::api::{ApprovedKind, MaintenanceSchedule, Phase, maintenance_schedule_coverage};

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
) -> anyhow::Result<()> {
    let schedule = ctx.get::<MaintenanceSchedule>(name).await?;
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
        None,
    )
    .await?;
    println!("approved maintenanceschedule/{name} as {me} (maintenanceapproval/{created})");
    Ok(())
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
