//! The shell around `machine::decide`: count the namespace's live reports
//! (from the watch's store), decide, gather once or delete, write.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;

use super::ReportContext;
use super::machine::{Bounds, Observed, Step, answered, approvals, cancellations, decide, failed};
use crate::api::{MaintenanceApproval, MaintenanceReport, MaintenanceReportStatus, MaintenanceSession, ReportPeriod};
use crate::controller::answered_once;
use crate::controller::clock::stored_time;
use crate::controller::error::Error;
use crate::controller::status_writer::replace_status_if_changed;
use immybot_client::{ErrorKind, Priority};

pub async fn reconcile(obj: Arc<MaintenanceReport>, ctx: Arc<ReportContext>) -> Result<Action, Error> {
    if ctx.is_crashed() || obj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<MaintenanceReport> = Api::namespaced(ctx.client.clone(), &ns);
    let now = stored_time(ctx.clock.now()).0;
    let o = Observed {
        object: &obj,
        now,
        older_live: answered_once::older_live(&ctx.state.reports, &*obj, &api, ctx.clock.now()).await?,
    };
    match decide(&o) {
        Step::Wait { after } => Ok(Action::requeue(after)),
        Step::Delete => {
            answered_once::delete(&api, &obj.name_any()).await?;
            Ok(Action::await_change())
        }
        Step::Write(status) => {
            replace_status_if_changed(&api, &obj, &status).await?;
            Ok(Action::requeue(super::machine::ttl(&o)))
        }
        Step::Gather(period) => {
            let status = match gather(&ctx, &o, &ns, period).await {
                Ok(status) => status,
                // Worth asking again (the controller's backoff does).
                Err(Error::ImmyBot(e)) if matches!(e.kind(), ErrorKind::Transient | ErrorKind::RateLimited) => {
                    return Err(Error::ImmyBot(e));
                }
                Err(Error::ImmyBot(e)) => failed(&o, "ImmyBotRefused", format!("ImmyBot could not answer: {e}")),
                Err(e) => return Err(e),
            };
            replace_status_if_changed(&api, &obj, &status).await?;
            Ok(Action::requeue(super::machine::ttl(&o)))
        }
    }
}

/// Both sides of the report: ImmyBot's (at the lowest priority) and
/// Kubernetes' own records.
async fn gather(
    ctx: &ReportContext,
    o: &Observed<'_>,
    ns: &str,
    period: ReportPeriod,
) -> Result<MaintenanceReportStatus, Error> {
    use crate::controller::connections::ConnectionProblem;
    let spec = &o.object.spec;
    let selector = match spec.selector.clone().map(kube::core::Selector::try_from).transpose() {
        Ok(s) => s,
        Err(e) => return Ok(failed(o, "BadSelector", format!("spec.selector: {e}"))),
    };
    let live = match ctx.connections.resolve(spec.connection_ref.as_ref(), ns) {
        Ok(live) => live,
        // It may become ready: the report waits, and says nothing yet.
        Err(p @ ConnectionProblem::NotReady { .. }) => return Err(p.into()),
        Err(p) => return Ok(failed(o, p.reason(), p.to_string())),
    };
    let client = live.client.at(Priority::Background);
    // A period that ends now asks ImmyBot for everything since its start:
    // ImmyBot's clock may run ahead of this one.
    let until = spec.until.as_ref().map(|_| period.until.0);
    let bounds = Bounds {
        since: period.since.0,
        until,
    };
    let gathered = match super::reader::gather(&client, &spec.tenants, period.since.0, until).await? {
        Ok(g) => g,
        Err(why) => return Ok(failed(o, "TenantNotFound", why)),
    };
    let sessions_api: Api<MaintenanceSession> = Api::namespaced(ctx.client.clone(), ns);
    let approvals_api: Api<MaintenanceApproval> = Api::namespaced(ctx.client.clone(), ns);
    let params = selector
        .as_ref()
        .map_or_else(ListParams::default, |s| ListParams::default().labels_from(s));
    let sessions = sessions_api.list(&params).await?.items;
    let selected: Option<HashSet<String>> = selector
        .is_some()
        .then(|| sessions.iter().map(|s| s.name_any()).collect());
    let all_approvals = approvals_api.list(&ListParams::default()).await?.items;
    let (summary, weeks, tenants, other_tenants) = gathered.tally.finish(&gathered.names);
    let mut notes = Vec::new();
    if gathered.cut {
        notes.push(format!(
            "ImmyBot had more than {} pages of a list: the counts are partial, report a shorter period",
            super::reader::MAX_PAGES
        ));
    }
    if gathered.compliance_unread > 0 {
        notes.push(format!(
            "compliance of {} tenant(s) could not be read",
            gathered.compliance_unread
        ));
    }
    let status = MaintenanceReportStatus {
        period: Some(period.clone()),
        immybot_calls: Some(gathered.calls),
        summary: Some(summary),
        weeks,
        tenants,
        other_tenants,
        approvals: Some(approvals(&all_approvals, selected.as_ref(), bounds)),
        cancellations: Some(cancellations(&sessions, bounds)),
        ..Default::default()
    };
    Ok(answered(o, status, &notes))
}

pub fn error_policy(obj: Arc<MaintenanceReport>, error: &Error, _ctx: Arc<ReportContext>) -> Action {
    if matches!(error, Error::Conflict) {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(report = %obj.name_any(), error = %error, label = error.metric_label(), "maintenance report failed");
    Action::requeue(Duration::from_secs(30))
}
