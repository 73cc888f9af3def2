//! Reading approvals for a reconcile: from the stores (`stores.rs`) once
//! synced, else one LIST; and a run's standing approval, from its
//! MaintenanceSchedule. The shell around the pure rules in `mod.rs` and
//! `standing.rs`, used by every kind.

use kube::api::Api;

use super::Verdict;
use super::standing::run_verdict;
use crate::api::{ApprovedKind, MaintenanceApproval, MaintenanceSchedule, MaintenanceSession};
use crate::controller::context::Context;
use crate::controller::error::Error;

impl Context {
    /// The approvals in `namespace` that name the `kind` object `name`: from
    /// the approval watch's store once it has synced, else one LIST.
    pub async fn approvals_naming(
        &self,
        kind: crate::api::ApprovedKind,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<MaintenanceApproval>, Error> {
        if let Some(cached) = self.approvals.naming_kind(kind, namespace, name) {
            return Ok(cached);
        }
        let listed = kube::Api::<MaintenanceApproval>::namespaced(self.client.clone(), namespace)
            .list(&kube::api::ListParams::default())
            .await?;
        Ok(listed
            .items
            .into_iter()
            .filter(|a| a.spec.kind == kind && a.spec.session_name == name)
            .collect())
    }
}

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
    let schedule = match ctx.approvals.schedules.select(|s| {
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
