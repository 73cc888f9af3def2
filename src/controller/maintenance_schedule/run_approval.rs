//! For the session controller: a run its own approvals do not approve may
//! still be covered by its schedule's standing approval (`standing`). This
//! is the shell that gathers what that decision needs.

use kube::api::Api;

use super::standing::run_verdict;
use crate::api::{ApprovedKind, MaintenanceSchedule, MaintenanceSession};
use crate::controller::approval::Verdict;
use crate::controller::context::Context;
use crate::controller::error::Error;

/// `verdict` (the run's own), or the standing approval's if that covers
/// the run; a refusal's message then also says why no standing approval
/// does.
pub async fn with_standing_approval(
    ctx: &Context,
    run: &MaintenanceSession,
    verdict: Verdict,
    now: jiff::Timestamp,
) -> Result<Verdict, Error> {
    let (Verdict::NotApproved { reason, message }, Some(by)) = (&verdict, run.spec.scheduled_by.as_ref()) else {
        return Ok(verdict);
    };
    let ns = run.metadata.namespace.clone().unwrap_or_default();
    let operator = ctx.operator_identity().await?;
    let schedule = match ctx.maintenance_schedules.select(|s| {
        s.metadata.namespace.as_deref() == Some(ns.as_str()) && s.metadata.name.as_deref() == Some(by.schedule.as_str())
    }) {
        Some(mut found) => found.pop(),
        None => {
            Api::<MaintenanceSchedule>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&by.schedule)
                .await?
        }
    };
    let approvals = ctx
        .approvals_naming(ApprovedKind::MaintenanceSchedule, &ns, &by.schedule)
        .await?;
    Ok(
        match run_verdict(run, &operator, schedule.as_ref(), &approvals, &ctx.policy, now) {
            Ok(standing) => standing,
            Err(why) => Verdict::NotApproved {
                reason,
                message: format!("{message}; no standing approval covers this run: {why}"),
            },
        },
    )
}
