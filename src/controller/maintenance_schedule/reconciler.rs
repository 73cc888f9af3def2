//! The shell around `machine::decide`: read the runs and the standing
//! approval, decide, delete and create runs, write the status. No
//! finalizer: the runs are owned by the schedule, so deleting it deletes
//! them (and each run's own finalizer cancels its ImmyBot sessions).
//!
//! Every step is safe to repeat or to abandon at any `.await`: a create
//! meets AlreadyExists for a time already run, a delete meets NotFound, and
//! the status (written last) is only ever behind the runs, never ahead.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::MaintenanceScheduleContext;
use super::machine::{DeleteWhy, Observed, RunView, Step, count_active, decide};
use super::template::{SCHEDULE_LABEL, run_for};
use crate::api::{ApprovedKind, MaintenanceSchedule, MaintenanceScheduleStatus, MaintenanceSession};
use crate::controller::approval::Verdict;
use crate::controller::approval::digest::template_digest;
use crate::controller::approval::standing::template_verdict;
use crate::controller::clock::stored_time;
use crate::controller::conditions;
use crate::controller::error::Error;
use crate::controller::events::{announce_controls, publish};
use crate::controller::status_writer::replace_status_if_changed;

pub async fn reconcile(obj: Arc<MaintenanceSchedule>, ctx: Arc<MaintenanceScheduleContext>) -> Result<Action, Error> {
    if ctx.is_crashed() {
        return Ok(Action::await_change());
    }
    if obj.metadata.deletion_timestamp.is_some() {
        // Its runs go with it (owner references); nothing to do.
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let uid = obj.uid().unwrap_or_default();
    let runs = runs_of(&ctx, &ns, &name, &uid).await?;
    let approvals = ctx
        .approvals_naming(ApprovedKind::MaintenanceSchedule, &ns, &name)
        .await?;
    // Read after the runs, as the session controller does: a decision never
    // pairs what it observed with an older time.
    let now = stored_time(ctx.clock.now()).0;
    let standing = template_verdict(&obj, &approvals, &ctx.policy, now);
    let standing_expires = match &standing {
        Verdict::Approved {
            source: Some(source), ..
        } => approvals
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(source.as_str()))
            .and_then(|a| a.spec.expires_at.as_ref())
            .map(|t| t.0),
        _ => None,
    };
    let digest = template_digest(&uid, &obj.spec);
    let observed_status = obj.status.clone().unwrap_or_default();
    let created = obj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut decision = decide(&Observed {
        name: &name,
        spec: &obj.spec,
        generation: obj.metadata.generation,
        created,
        status: &observed_status,
        runs: &runs,
        template_digest: digest.as_str(),
        standing: &standing,
        standing_expires,
        now,
    });

    static DEFAULTS: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        crate::controller::controls::defaults_of::<crate::api::MaintenanceScheduleSpec>(serde_json::json!({
            "requestedBy": "", "schedule": "", "sessionTemplate": {"spec": {"reason": "", "target": {}}}
        }))
    });
    let control_changes = crate::controller::controls::observe_object(
        &mut decision.status.controls,
        crate::api::maintenance_schedule_coverage(),
        &obj.spec,
        &DEFAULTS,
        &obj.metadata,
        &obj.spec.requested_by,
        now,
    );
    let sessions: Api<MaintenanceSession> = Api::namespaced(ctx.client.clone(), &ns);
    let api: Api<MaintenanceSchedule> = Api::namespaced(ctx.client.clone(), &ns);
    let standing_by = decision
        .status
        .standing_approval
        .as_ref()
        .map(|s| s.approved_by.as_str());
    for step in &decision.steps {
        let done = match step {
            Step::Delete { name: run, why } => delete_run(&ctx, &obj, &sessions, run, *why).await,
            Step::Create { name: run, scheduled } => {
                create_run(&ctx, &obj, &sessions, run, *scheduled, standing_by).await
            }
        };
        if let Err(taken @ Error::RunNameTaken { .. }) = done {
            let message = taken.to_string();
            // A person must act: say so where they look, and keep the time due.
            let mut status = decision.status.clone();
            status.last_schedule_time = observed_status.last_schedule_time.clone();
            status.active.retain(|r| runs.iter().any(|known| known.name == r.name));
            count_active(&mut status);
            for type_ in [conditions::STALLED, conditions::READY] {
                let stalled = type_ == conditions::STALLED;
                conditions::set(
                    &mut status.conditions,
                    type_,
                    stalled,
                    "RunNameTaken",
                    message.clone(),
                    obj.metadata.generation,
                    now,
                );
            }
            write_status(&api, &obj, &status).await?;
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
        done?;
        if matches!(step, Step::Create { .. }) {
            crate::crash_point!(ctx, AfterRunCreated, "after creating a run, before recording it");
        }
    }
    if write_status(&api, &obj, &decision.status).await? {
        for note in &decision.notes {
            let type_ = if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            publish(&ctx, &*obj, type_, note.reason, &note.message).await;
        }
        let approver = decision
            .status
            .standing_approval
            .as_ref()
            .map(|s| s.approved_by.as_str());
        announce_controls(&ctx, &*obj, &control_changes, approver).await;
    }
    Ok(decision
        .requeue_after
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

pub fn error_policy(obj: Arc<MaintenanceSchedule>, error: &Error, _ctx: Arc<MaintenanceScheduleContext>) -> Action {
    if matches!(error, Error::Conflict) {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(schedule = %obj.name_any(), error = %error, label = error.metric_label(), "maintenance schedule reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

/// The schedule's runs: the sessions that name it (`spec.scheduledBy`
/// with its uid), listed by the schedule label.
async fn runs_of(ctx: &MaintenanceScheduleContext, ns: &str, name: &str, uid: &str) -> Result<Vec<RunView>, Error> {
    let ours = |s: &MaintenanceSession| {
        s.metadata.namespace.as_deref() == Some(ns) && s.spec.scheduled_by.as_ref().is_some_and(|b| b.uid == uid)
    };
    let sessions: Vec<MaintenanceSession> = Api::<MaintenanceSession>::namespaced(ctx.client.clone(), ns)
        .list(&ListParams::default().labels(&format!("{SCHEDULE_LABEL}={name}")))
        .await?
        .items
        .into_iter()
        .filter(ours)
        .collect();
    Ok(sessions.iter().filter_map(run_view).collect())
}

fn run_view(s: &MaintenanceSession) -> Option<RunView> {
    let by = s.spec.scheduled_by.as_ref()?;
    let status = s.status.as_ref();
    Some(RunView {
        name: s.metadata.name.clone()?,
        scheduled: by.scheduled_time.0,
        phase: status.and_then(|st| st.phase),
        completed: status.and_then(|st| st.completion_time.as_ref()).map(|t| t.0),
        deleting: s.metadata.deletion_timestamp.is_some(),
    })
}

async fn create_run(
    ctx: &MaintenanceScheduleContext,
    obj: &MaintenanceSchedule,
    sessions: &Api<MaintenanceSession>,
    run: &str,
    scheduled: Timestamp,
    standing_by: Option<&str>,
) -> Result<(), Error> {
    let me = ctx.operator_identity().await?;
    let session = run_for(obj, &me, scheduled);
    match sessions.create(&PostParams::default(), &session).await {
        Ok(_) => {
            let note = format!(
                "created run {run} for {scheduled} ({})",
                match standing_by {
                    Some(by) => format!("standing approval by {by}"),
                    None => "it waits for its own approval".to_owned(),
                }
            );
            publish(ctx, obj, EventType::Normal, "RunCreated", &note).await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            // Created before (a lost status write, a stale cache): fine if
            // it is ours; a stranger under our run's name is not.
            let existing = sessions.get(run).await?;
            let ours = existing
                .spec
                .scheduled_by
                .as_ref()
                .is_some_and(|b| Some(&b.uid) == obj.metadata.uid.as_ref());
            if ours {
                Ok(())
            } else {
                Err(Error::RunNameTaken {
                    run: run.to_owned(),
                    scheduled,
                })
            }
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_run(
    ctx: &MaintenanceScheduleContext,
    obj: &MaintenanceSchedule,
    sessions: &Api<MaintenanceSession>,
    run: &str,
    why: DeleteWhy,
) -> Result<(), Error> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match sessions.delete(run, &params).await {
        Ok(_) => {
            if why == DeleteWhy::Replaced {
                let note = format!("deleted active run {run}: concurrencyPolicy Replace");
                publish(ctx, obj, EventType::Normal, "RunReplaced", &note).await;
            }
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the status if it changed; whether it wrote.
async fn write_status(
    api: &Api<MaintenanceSchedule>,
    obj: &MaintenanceSchedule,
    status: &MaintenanceScheduleStatus,
) -> Result<bool, Error> {
    Ok(replace_status_if_changed(api, obj, status).await?.is_some())
}
