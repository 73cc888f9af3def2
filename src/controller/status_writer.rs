//! Status writes. Every write replaces the whole status with a
//! resourceVersion precondition, so a stale cache or a second controller gets
//! a conflict instead of overwriting what it has not seen.
//!
//! One write is special: recording the session ids a start created. Losing it
//! would leave sessions nobody tracks, so it runs in a task of its own (a
//! shutdown that cancels the reconcile does not cancel it) and is retried,
//! re-reading the object on conflict, until it lands.

use std::time::Duration;

use kube::api::{Api, PostParams};

use super::error::{Error, is_conflict};
use crate::api::{MAX_COMPUTERS_IN_STATUS, MaintenanceSession, MaintenanceSessionStatus, WaitingComputer};

/// Replaces the status if the object is still at `obj`'s resourceVersion.
pub async fn replace_status(
    api: &Api<MaintenanceSession>,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
) -> Result<MaintenanceSession, Error> {
    let mut next = obj.clone();
    next.status = Some(status);
    next.metadata.managed_fields = None;
    let name = obj.metadata.name.clone().unwrap_or_default();
    match api
        .replace_status(
            &name,
            &PostParams {
                field_manager: Some("immybot-operator".into()),
                ..Default::default()
            },
            &next,
        )
        .await
    {
        Ok(o) => Ok(o),
        Err(e) if is_conflict(&e) => Err(Error::Conflict),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// What a start learned, to merge into the attempt it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct StartResult {
    pub attempt: i32,
    pub session_ids: Vec<i32>,
    /// Computers ImmyBot reported busy, with the session that holds each.
    pub busy: Vec<WaitingComputer>,
    pub ids_from: &'static str,
}

impl StartResult {
    /// Sessions found by group id after the answer was lost: none were busy.
    pub fn adopted(attempt: i32, session_ids: Vec<i32>) -> Self {
        Self {
            attempt,
            session_ids,
            busy: vec![],
            ids_from: "Adopted",
        }
    }
}

/// Records a start's result, whatever happens to the reconcile that made it.
pub async fn persist_start_result(
    api: Api<MaintenanceSession>,
    name: String,
    result: StartResult,
) -> Result<MaintenanceSession, Error> {
    let task = tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            match write_once(&api, &name, &result).await {
                Ok(obj) => return Ok(obj),
                Err(Error::Kube(kube::Error::Api(s))) if s.code == 404 => return Err(Error::Kube(kube::Error::Api(s))),
                Err(e) => {
                    tracing::warn!(name, error = %e, "recording session ids failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    task.await
        .unwrap_or_else(|e| Err(Error::Kube(kube::Error::Service(Box::new(e)))))
}

async fn write_once(
    api: &Api<MaintenanceSession>,
    name: &str,
    result: &StartResult,
) -> Result<MaintenanceSession, Error> {
    let obj = api.get(name).await?;
    let mut status = obj.status.clone().unwrap_or_default();
    let Some(attempt) = status
        .immybot
        .as_mut()
        .and_then(|r| r.attempts.iter_mut().find(|a| a.number == result.attempt))
    else {
        // The intent is gone: someone replaced the status wholesale. Record
        // nothing rather than invent an attempt; the ids are in the log.
        tracing::error!(
            name,
            ?result,
            "the attempt's intent is missing from status; session ids not recorded"
        );
        return Ok(obj);
    };
    for id in &result.session_ids {
        if !attempt.session_ids.contains(id) {
            attempt.session_ids.push(*id);
        }
    }
    attempt.busy_computer_ids = result.busy.iter().map(|w| w.id).collect();
    if !result.session_ids.is_empty() {
        attempt.ids_from = Some(result.ids_from.into());
    }
    let answered_at = attempt.intent_time.clone();
    let answered = !result.session_ids.is_empty() || !result.busy.is_empty();
    status.waiting_computers = result.busy.iter().take(MAX_COMPUTERS_IN_STATUS).cloned().collect();
    // As `decide` does: started once ImmyBot answered with sessions or busy computers.
    if status.start_time.is_none() && answered {
        status.start_time = Some(answered_at);
    }
    replace_status(api, &obj, status).await
}
