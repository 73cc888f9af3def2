//! The crash-safe rerun of one failed action (`machine::action_rerun`
//! decides; this performs):
//!
//! 1. Write the status the machine decided, where the rerun is `Sent` with
//!    `sentAt` (a resourceVersion precondition: a stale cache or a second
//!    controller gets a conflict here and sends nothing).
//! 2. `POST /maintenance-sessions/{id}/actions/{actionId}/rerun`. It answers
//!    no id, so the rerun's session is found right after: sessions of the
//!    computer created since `sentAt`, each confirmed by its
//!    `sessionJobArgs.actionIdToRerun` (`GET {id}`).
//! 3. Record the session (`Running`).
//!
//! A 2xx is an answer: the rerun is then `Accepted` and never sent again,
//! whatever the look-ups find (ImmyBot may rerun the action inside its own
//! session, or describe the new session without `sessionJobArgs`); it is
//! looked for at a slow pace and reported (`RerunNotSeen`) until seen.
//!
//! Only an unknown outcome (a crash or a lost answer between 1 and 3)
//! leaves `Sent`. After the start grace the same look-up runs, after the
//! machine found no trace of a rerun in the action's own session: a
//! session found is recorded; none means the call never reached ImmyBot,
//! and it is sent again; a candidate ImmyBot will not describe stops the
//! rerun from being sent again until it can be told.

use std::time::Duration;

use kube::ResourceExt as _;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::SessionContext;
use super::start_protocol::{CLOCK_SKEW, confirm_candidates};
use crate::api::{ActionRerun, ActionRerunState, MaintenanceSession, MaintenanceSessionStatus};
use crate::controller::error::Error;
use crate::controller::events::publish;
use crate::controller::status_writer::{SessionApi, persist_answer, replace_status};
use immybot_client::{ErrorKind, SessionQuery, WireTime};

/// How often a rerun whose session ImmyBot will not describe is looked
/// up again.
const UNDETERMINED_RECHECK: Duration = Duration::from_secs(300);

/// Steps 1 to 3 for the rerun of `action_id` (already `Sent` in `status`).
pub async fn rerun(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    action_id: i32,
) -> Result<Action, Error> {
    let written = replace_status(api, obj, status).await?;
    crate::crash_point!(ctx, AfterRerunIntent, "after the rerun intent was recorded");
    let Some(rerun) = entry(&written, action_id).cloned() else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let sent = ctx.immybot.rerun_action(rerun.session_id, action_id).await;
    ctx.state.active_sessions.wake();
    match sent {
        Ok(()) => {
            // Answered: recorded as such before anything else can fail,
            // so that no path sends it again.
            let written = persist_answer(api.clone(), written.name_any(), Some(written), move |st| {
                update(st, action_id, |r| r.state = ActionRerunState::Accepted);
                true
            })
            .await?;
            publish(
                ctx,
                &written,
                EventType::Normal,
                "ActionRerun",
                &format!(
                    "asked ImmyBot to rerun {} (action {action_id} of session {}) on computer {}, requested by {}",
                    rerun.name, rerun.session_id, rerun.computer_id, rerun.requested_by
                ),
            )
            .await;
            match lookup(ctx, &rerun).await? {
                Looked::Found(id) => set(api, &written, action_id, |r| found(r, id)).await,
                // Not visible yet, or not describable, or run in place:
                // the machine recognises it in the action's own session,
                // or the slow look-up after the grace finds it.
                Looked::Nothing | Looked::Undetermined(_) => Ok(Action::requeue(ctx.timing.start_grace)),
            }
        }
        Err(e) if e.start_outcome_unknown() => {
            tracing::warn!(action = action_id, error = %e, "the answer to an action rerun was lost; looking it up after the grace period");
            Ok(Action::requeue(ctx.timing.start_grace))
        }
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::Permanent | ErrorKind::AlreadyInProgress
            ) =>
        {
            let message = format!("ImmyBot refused the rerun: {e}");
            publish(ctx, &written, EventType::Warning, "ActionRerunRefused", &message).await;
            set(api, &written, action_id, |r| not_run(r, message.clone())).await
        }
        // Nothing reached ImmyBot (throttled, credentials, no connection):
        // chosen again, sent again later.
        Err(e) => {
            set(api, &written, action_id, |r| {
                r.state = ActionRerunState::Pending;
                r.sent_at = None;
            })
            .await?;
            Err(e.into())
        }
    }
}

/// A rerun `Sent` without a session after the grace: look it up; send it
/// again only if ImmyBot has none and `resend`.
pub async fn find(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    action_id: i32,
    resend: bool,
) -> Result<Action, Error> {
    let Some(rerun) = status
        .action_reruns
        .iter()
        .flat_map(|r| r.actions.iter())
        .find(|r| r.action_id == action_id)
        .cloned()
    else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    match lookup(ctx, &rerun).await? {
        Looked::Found(id) => {
            publish(
                ctx,
                obj,
                EventType::Normal,
                "ActionRerunAdopted",
                &format!(
                    "found ImmyBot session {id} rerunning {} (action {action_id}) by actionIdToRerun",
                    rerun.name
                ),
            )
            .await;
            let mut st = status;
            update(&mut st, action_id, |r| found(r, id));
            replace_status(api, obj, st).await?;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        Looked::Nothing | Looked::Undetermined(_) if rerun.state == ActionRerunState::Accepted => {
            let message = format!(
                "accepted by ImmyBot, its run not seen: {} (action {action_id} of session {}) on computer {}. It is not sent again; looked for every {} minutes",
                rerun.name,
                rerun.session_id,
                rerun.computer_id,
                super::machine::action_rerun::UNSEEN_RECHECK.as_secs() / 60
            );
            if rerun.message.is_none() {
                publish(ctx, obj, EventType::Warning, "ActionRerunNotSeen", &message).await;
            }
            let now = crate::controller::clock::stored_time(ctx.clock.now());
            let mut st = status;
            update(&mut st, action_id, |r| {
                r.message = Some(message.clone());
                r.looked_at = Some(now.clone());
            });
            replace_status(api, obj, st).await?;
            Ok(Action::requeue(super::machine::action_rerun::UNSEEN_RECHECK))
        }
        Looked::Undetermined(ids) => {
            let message = format!(
                "the answer to the rerun of {} (action {action_id}) was lost, and ImmyBot did not say whether sessions {ids:?} (created since on computer {}) are it: GET /api/v1/maintenance-sessions/{{id}} returned no sessionJobArgs. It is not sent again, so that it never runs twice; looked up again every 5 minutes",
                rerun.name, rerun.computer_id
            );
            publish(ctx, obj, EventType::Warning, "ActionRerunUndetermined", &message).await;
            let mut st = status;
            update(&mut st, action_id, |r| r.message = Some(message.clone()));
            if obj.status.as_ref() != Some(&st) {
                replace_status(api, obj, st).await?;
            }
            Ok(Action::requeue(UNDETERMINED_RECHECK))
        }
        Looked::Nothing if resend => {
            // The call never reached ImmyBot: a new intent, then the call.
            let mut st = status;
            let now = crate::controller::clock::stored_time(ctx.clock.now());
            update(&mut st, action_id, |r| r.sent_at = Some(now.clone()));
            rerun_again(ctx, api, obj, st, action_id).await
        }
        Looked::Nothing => {
            let message = "the rerun never reached ImmyBot, and it is not sent now: the object is no longer approved, suspended or cancelled; ask again".to_owned();
            let mut st = status;
            update(&mut st, action_id, |r| not_run(r, message.clone()));
            replace_status(api, obj, st).await?;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
    }
}

/// `rerun`, boxed: `find` and `rerun` call each other through the shell only.
async fn rerun_again(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    action_id: i32,
) -> Result<Action, Error> {
    Box::pin(rerun(ctx, api, obj, status, action_id)).await
}

enum Looked {
    Nothing,
    /// The rerun's session (the oldest, should ImmyBot show several).
    Found(i32),
    Undetermined(Vec<i32>),
}

/// The sessions of the rerun's computer created since it was sent (less a
/// clock-skew margin), confirmed by `sessionJobArgs.actionIdToRerun`.
async fn lookup(ctx: &SessionContext, rerun: &ActionRerun) -> Result<Looked, Error> {
    let Some(sent_at) = rerun.sent_at.as_ref() else {
        return Ok(Looked::Nothing);
    };
    let since = sent_at.0.checked_sub(CLOCK_SKEW).unwrap_or(sent_at.0);
    let query = SessionQuery {
        computer_id: Some(rerun.computer_id),
        created_after: Some(WireTime(since)),
        take: 200,
        ..Default::default()
    };
    let action_id = rerun.action_id;
    let found = confirm_candidates(ctx, vec![query], |args| args.action_id_to_rerun == Some(action_id)).await?;
    if let Some(first) = found.ours.iter().map(|s| s.id).min() {
        return Ok(Looked::Found(first));
    }
    // The session the action failed in is no rerun of it, whatever ImmyBot
    // says of its arguments.
    let undetermined: Vec<i32> = found
        .undetermined
        .into_iter()
        .filter(|id| *id != rerun.session_id)
        .collect();
    Ok(if undetermined.is_empty() {
        Looked::Nothing
    } else {
        Looked::Undetermined(undetermined)
    })
}

fn entry(obj: &MaintenanceSession, action_id: i32) -> Option<&ActionRerun> {
    obj.status
        .as_ref()?
        .action_reruns
        .as_ref()?
        .actions
        .iter()
        .find(|r| r.action_id == action_id)
}

fn found(r: &mut ActionRerun, session: i32) {
    r.rerun_session_id = Some(session);
    r.state = ActionRerunState::Running;
    r.message = None;
}

fn not_run(r: &mut ActionRerun, message: String) {
    r.state = ActionRerunState::NotRun;
    r.message = Some(message);
}

fn update(st: &mut MaintenanceSessionStatus, action_id: i32, f: impl FnOnce(&mut ActionRerun)) {
    if let Some(r) = st
        .action_reruns
        .as_mut()
        .and_then(|x| x.actions.iter_mut().find(|r| r.action_id == action_id))
    {
        f(r);
    }
}

/// Records a change of one rerun on the status just written.
async fn set(
    api: &SessionApi,
    written: &MaintenanceSession,
    action_id: i32,
    f: impl FnOnce(&mut ActionRerun),
) -> Result<Action, Error> {
    let mut st = written.status.clone().unwrap_or_default();
    update(&mut st, action_id, f);
    replace_status(api, written, st).await?;
    Ok(Action::requeue(Duration::from_secs(1)))
}
