//! The shell's plan steps: send a plan's (or drift check's) detection-only
//! start, and read it into the plan once its sessions ended.
//!
//! The start follows the start protocol's rules (docs/design.md, "The
//! start protocol"): the intent (number, derived group id, time) is in
//! status before the call; the answer's session ids are recorded after it;
//! a lost answer is looked up by group id after the grace, and sent again
//! with the same group id only when ImmyBot has none. A detection changes
//! nothing, but it is still a session on every computer: it is never sent
//! twice either. Its attempt lives in `status.plan`, never in
//! `status.immybot.attempts`: nothing that mirrors, reruns, counts or
//! cancels maintenance ever sees it.

use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::content::{beyond, build, describe, with_drift};
use super::detection_reading;
use crate::api::{Attempt, MaintenanceSession, MaintenanceSessionStatus, PlanState};
use crate::controller::error::Error;
use crate::controller::events::publish;
use crate::controller::session::SessionContext;
use crate::controller::session::attempts::age;
use crate::controller::session::group_id::SessionGroupId;
use crate::controller::session::session_reader::{Need, observe_sessions};
use crate::controller::session::start_protocol::{Found, find_by_group, targets_of};
use crate::controller::session::start_request::detection_request;
use crate::controller::status_writer::{SessionApi, replace_status};
use immybot_client::{Priority, StartEndpoint, StartOutcome};

/// The plan's attempt, or the drift check's.
fn slot(st: &mut MaintenanceSessionStatus, check: bool) -> Option<&mut Attempt> {
    let plan = st.plan.as_mut()?;
    if check {
        plan.check.as_mut().map(|c| &mut c.attempt)
    } else {
        Some(&mut plan.attempt)
    }
}

/// The detection's attempt as `decide` left it in status (none: the plan
/// went away meanwhile; decided again after a second).
fn recorded(st: &mut MaintenanceSessionStatus, check: bool) -> Option<Attempt> {
    slot(st, check).map(|a| a.clone())
}

/// Records the intent `decide` put in status, then sends the start.
pub async fn detect(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
    check: bool,
) -> Result<Action, Error> {
    let Some(attempt) = recorded(&mut status, check) else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let written = replace_status(api, obj, status).await?;
    send(ctx, api, &written, attempt, check).await
}

async fn send(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    attempt: Attempt,
    check: bool,
) -> Result<Action, Error> {
    let what = if check { "drift check" } else { "plan" };
    let Some(targets) = targets_of(obj, &attempt) else {
        return Ok(Action::requeue(ctx.timing.start_grace));
    };
    let group = uuid::Uuid::parse_str(&attempt.session_group_id)
        .map_err(|e| Error::ImmyBot(immybot_client::ImmyBotError::Config(e.to_string())))?;
    let request = detection_request(&obj.spec, &targets, SessionGroupId(group));
    let (ids, busy) = match ctx.immybot.start(&request, StartEndpoint::Immediate).await {
        Ok(StartOutcome::Started {
            started,
            already_in_progress,
        }) => (
            started.iter().map(|s| s.session_id).collect::<Vec<_>>(),
            already_in_progress
                .iter()
                .filter_map(|s| s.computer_id)
                .collect::<Vec<_>>(),
        ),
        Ok(StartOutcome::AllAlreadyInProgress(busy)) => (vec![], busy.iter().filter_map(|s| s.computer_id).collect()),
        // No ids in the answer (or no answer): found by group id after the grace.
        Ok(StartOutcome::Accepted) => return Ok(Action::requeue(ctx.timing.start_grace)),
        Err(e) if e.start_outcome_unknown() => return Ok(Action::requeue(ctx.timing.start_grace)),
        Err(e) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "PlanStartRejected",
                &format!("ImmyBot refused the detection-only start of the {what}: {e}"),
            )
            .await;
            return Err(e.into());
        }
    };
    let mut st = obj.status.clone().unwrap_or_default();
    let Some(recorded) = slot(&mut st, check) else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    // `idsFrom` marks the answer as recorded, even an empty one (a tenant
    // without computers): only an attempt without it is looked up.
    recorded.session_ids = ids.clone();
    recorded.busy_computer_ids = busy;
    recorded.ids_from = Some("StartResponse".into());
    replace_status(api, obj, st).await?;
    publish(
        ctx,
        obj,
        EventType::Normal,
        "Planning",
        &format!(
            "detection-only sessions {ids:?} started for the {what} (sessionGroupId {}); detection changes nothing",
            attempt.session_group_id
        ),
    )
    .await;
    Ok(Action::requeue(ctx.timing.poll_active))
}

/// Reads the detection; once every session ended, the plan (or the check).
pub async fn read(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
    check: bool,
) -> Result<Action, Error> {
    let Some(attempt) = recorded(&mut status, check) else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    // The decided status may carry more than what is stored (conditions):
    // written first when it differs, so that reads below write on top.
    let obj = if obj.status.as_ref() != Some(&status) {
        &replace_status(api, obj, status).await?
    } else {
        obj
    };
    if attempt.ids_from.is_none() {
        return unanswered(ctx, api, obj, attempt, check).await;
    }
    let now = crate::controller::clock::stored_time(ctx.clock.now()).0;
    let mut sessions = observe_sessions(ctx, std::slice::from_ref(&attempt), Need::Everything, now)
        .await?
        .sessions;
    if sessions
        .iter()
        .any(|s| !s.session_status.as_ref().is_some_and(|x| x.is_terminal()))
    {
        return Ok(Action::requeue(ctx.timing.poll_active));
    }
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    super::super::action_reader::attach_actions(
        &ctx.immybot.at(Priority::Ending),
        &ctx.state.immybot_cache,
        &format!("{uid}/plan/{}", attempt.number),
        &mut sessions,
        None,
    )
    .await?;
    let detection = detection_reading::read(&sessions, &attempt.computer_ids, &attempt.busy_computer_ids);
    let content = build(detection, attempt.number);
    let mut st = obj.status.clone().unwrap_or_default();
    let Some(plan) = st.plan.as_mut() else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let done = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    let (reason, type_, message) = if !check {
        let summary = content.summary.clone();
        plan.state = PlanState::Ready;
        plan.completed_at = done;
        let digest = content.digest.clone();
        content.fill(plan);
        (
            "PlanReady",
            EventType::Normal,
            format!("plan {digest} is ready to approve: {summary}"),
        )
    } else {
        let found = beyond(&plan.items, &content.items);
        if found.is_empty() {
            if let Some(c) = plan.check.as_mut() {
                c.state = PlanState::Ready;
                c.completed_at = done;
            }
            (
                "PlanChecked",
                EventType::Normal,
                "detected again right before the start: nothing beyond the approved plan".to_string(),
            )
        } else {
            let listed = describe(&found);
            *plan = with_drift(plan, found, attempt.clone(), now);
            (
                "PlanDrifted",
                EventType::Warning,
                format!(
                    "the computers changed since the plan was approved: {listed}; nothing started, the new plan waits for an approval (onDrift: Reapprove)"
                ),
            )
        }
    };
    replace_status(api, obj, st).await?;
    publish(ctx, obj, type_, reason, &message).await;
    Ok(Action::await_change())
}

/// A detection whose answer never came: after the grace, its sessions are
/// looked up by group id; none, and it is sent again with the same id.
async fn unanswered(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    attempt: Attempt,
    check: bool,
) -> Result<Action, Error> {
    let waited = age(&attempt, ctx.clock.now());
    if waited < ctx.timing.start_grace {
        return Ok(Action::requeue(
            (ctx.timing.start_grace - waited).max(Duration::from_millis(200)),
        ));
    }
    let ids = match find_by_group(ctx, obj, &attempt).await? {
        Found::Sessions(ids) | Found::Ambiguous(ids) => ids,
        Found::Undetermined(ids) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "PlanUndetermined",
                &format!(
                    "the answer to the plan's detection-only start was lost, and ImmyBot did not say whether sessions {ids:?} belong to it; it is not sent again. Looked up again in 5 minutes"
                ),
            )
            .await;
            return Ok(Action::requeue(Duration::from_secs(300)));
        }
        Found::None => {
            let again = Attempt {
                intent_time: crate::controller::clock::stored_time(ctx.clock.now()),
                ..attempt
            };
            let mut st = obj.status.clone().unwrap_or_default();
            if let Some(a) = slot(&mut st, check) {
                *a = again.clone();
            }
            let written = replace_status(api, obj, st).await?;
            return send(ctx, api, &written, again, check).await;
        }
    };
    let mut st = obj.status.clone().unwrap_or_default();
    if let Some(a) = slot(&mut st, check) {
        a.session_ids = ids;
        a.ids_from = Some("GroupLookup".into());
    }
    replace_status(api, obj, st).await?;
    Ok(Action::requeue(ctx.timing.poll_active))
}
