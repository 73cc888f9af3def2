//! The plugin's commands for ImmyBotSchedules. As for sessions, every change
//! is a patch a person (or GitOps) could make; run-now and cancel-running are
//! counters in spec that the operator acts on once per increment.

use anyhow::{Context as _, bail};
use immybot_operator::api::{ApprovedKind, ImmyBotSchedule, immybot_schedule_coverage};

use super::approval_prompt::{self, Approving};

use super::commands::{Ctx, ask, create_approval, expires_at, merge_spec, update_spec, whoami};
use super::render_schedule;

pub async fn approve(
    ctx: &Ctx,
    name: &str,
    comment: Option<String>,
    expires_in: Option<String>,
    yes: bool,
) -> anyhow::Result<()> {
    let schedule = ctx.get::<ImmyBotSchedule>(name).await?;
    let status = schedule.status.clone().unwrap_or_default();
    let Some(digest) = status.approval_digest.clone() else {
        bail!("schedule/{name} has no approval digest yet: the operator has not looked at it (is it running?)");
    };
    let me = whoami(&ctx.client).await?;
    if me == schedule.spec.requested_by {
        bail!("you ({me}) requested schedule/{name}; someone else must approve it");
    }
    let expires_at = expires_at(expires_in.as_deref())?;
    let mut approving = Approving::of_spec(immybot_schedule_coverage(), name, &schedule.spec, &digest, &me)?;
    approving.blast_radius = status.blast_radius.clone();
    print!("{}", approval_prompt::render(&approving));
    if status.applied_digest.as_deref() == Some(digest.as_str()) {
        println!("(ImmyBot already has this definition; an approval keeps it approved)");
    }
    if !yes && !ask("Approve?")? {
        println!("not approved");
        return Ok(());
    }
    let uid = schedule
        .metadata
        .uid
        .clone()
        .context("the ImmyBotSchedule has no uid")?;
    let created = create_approval(
        ctx,
        ApprovedKind::ImmyBotSchedule,
        name,
        &uid,
        &digest,
        &me,
        comment,
        expires_at,
        // The count it was given: a tenant that outgrows it is disabled in
        // ImmyBot until the new count is approved.
        status
            .blast_radius
            .as_ref()
            .filter(|b| b.digest == digest)
            .map(|b| b.computers),
        None,
    )
    .await?;
    println!("approved schedule/{name} as {me} (maintenanceapproval/{created})");
    Ok(())
}

pub async fn status(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    print!("{}", render_schedule::status(&ctx.get::<ImmyBotSchedule>(name).await?));
    Ok(())
}

async fn patch_spec(ctx: &Ctx, name: &str, spec: serde_json::Value) -> anyhow::Result<()> {
    merge_spec(&ctx.api::<ImmyBotSchedule>(), name, &format!("schedule/{name}"), spec).await
}

/// A read-modify-write of the schedule's spec with a resourceVersion
/// precondition (`commands::update_spec`).
async fn update_schedule(
    ctx: &Ctx,
    name: &str,
    change: impl Fn(&ImmyBotSchedule) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<ImmyBotSchedule> {
    let api = ctx.api::<ImmyBotSchedule>();
    Ok(update_spec(&api, name, &format!("schedule/{name}"), change).await?.0)
}

pub async fn run_now(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let schedule = update_schedule(ctx, name, |schedule| {
        if schedule.status.as_ref().and_then(|s| s.schedule_id).is_none() {
            bail!("schedule/{name} does not exist in ImmyBot yet (is it approved?); there is nothing to run");
        }
        if schedule.spec.suspend {
            bail!("schedule/{name} is suspended; resume it first (kubectl immybot resume schedule/{name})");
        }
        Ok(serde_json::json!({"runNow": {"requests": schedule.spec.run_now.requests + 1}}))
    })
    .await?;
    let requests = schedule.spec.run_now.requests + 1;
    println!(
        "asked the operator to run schedule/{name} now (runNow.requests = {requests}); its run shows in `kubectl immybot status schedule/{name}`"
    );
    Ok(())
}

pub async fn cancel_running(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let schedule = update_schedule(ctx, name, |schedule| {
        Ok(serde_json::json!({"cancelRunning": {"requests": schedule.spec.cancel_running.requests + 1}}))
    })
    .await?;
    let requests = schedule.spec.cancel_running.requests + 1;
    let running = schedule.status.as_ref().is_some_and(|s| s.running);
    println!(
        "asked the operator to cancel schedule/{name}'s running sessions (cancelRunning.requests = {requests}){}",
        if running {
            ""
        } else {
            "; ImmyBot did not list it as running at the last look"
        }
    );
    Ok(())
}

pub async fn set_suspend(ctx: &Ctx, name: &str, suspend: bool) -> anyhow::Result<()> {
    let schedule = ctx.get::<ImmyBotSchedule>(name).await?;
    if schedule.spec.suspend == suspend {
        bail!(
            "schedule/{name} is already {}",
            if suspend { "suspended" } else { "not suspended" }
        );
    }
    patch_spec(ctx, name, serde_json::json!({"suspend": suspend})).await?;
    if suspend {
        println!(
            "suspended schedule/{name}: the operator disables it in ImmyBot (no approval needed); runs already going on continue"
        );
    } else {
        println!("resumed schedule/{name}: the operator enables it in ImmyBot with the approved definition");
    }
    Ok(())
}
