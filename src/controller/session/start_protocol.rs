//! The crash-safe start (docs/design.md, "The start protocol"):
//!
//! 1. Record the intent (attempt number, derived `sessionGroupId`, time) with
//!    a resourceVersion precondition. A stale cache or a second controller
//!    gets a conflict here and starts nothing.
//! 2. Send the start with that group id. Never retried blindly.
//! 3. Record the session ids with a write that shutdown does not cancel.
//!
//! If the answer is lost (crash, timeout, dropped connection), the intent
//! stays without ids. After a grace period that covers any start still in
//! flight, the sessions are looked up by group id and adopted; if there are
//! none, the start did not happen and is sent again with the same group id.
//!
//! The look-up trusts only what the contract promises: the `dx` list finds
//! candidates (by computer or tenant, created since the intent; its rows are
//! untyped), and `GET /maintenance-sessions/{id}` confirms each one's
//! `sessionJobArgs.sessionGroupId`. If any candidate cannot be confirmed
//! either way, the attempt is never started again: it stalls with a
//! condition that says what to check.

use std::collections::BTreeMap;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::SessionContext;
use super::group_id::SessionGroupId;
use super::start_request::{StartTargets, start_request};
use crate::api::{Attempt, ImmyBotRefs, MaintenanceSession, MaintenanceSessionStatus, WaitingComputer};
use crate::controller::blast_radius::tenant_tree;
use crate::controller::error::Error;
use crate::controller::events::publish;
use crate::controller::status_writer::{SessionApi, StartResult, persist_start_result, replace_status};
use immybot_client::Priority;
use immybot_client::{
    MaintenanceSession as ImmySession, SessionQuery, StartEndpoint, StartOutcome, StartedSession, WireTime,
};

/// How far before the intent time sessions are searched, for clock skew
/// between this cluster and ImmyBot.
pub(super) const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// What a look-up by group id found.
pub(super) enum Found {
    None,
    Sessions(Vec<i32>),
    /// More than one session for one computer carries our group id.
    Ambiguous(Vec<i32>),
    /// Candidates whose group id ImmyBot did not tell (no `sessionJobArgs` in
    /// `GET {id}`, or the session vanished): they may be this attempt's.
    Undetermined(Vec<i32>),
}

/// Steps 1 to 3 for `attempt`, on top of the status `decide` produced.
pub async fn start(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
    attempt: Attempt,
) -> Result<Action, Error> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let refs = status.immybot.get_or_insert_with(|| ImmyBotRefs {
        instance: ctx.instance.clone(),
        connection: ctx.connection.clone(),
        attempts: vec![],
    });
    // An attempt that ImmyBot answered with nothing but busy computers created
    // nothing; the new one takes its computers over, so it can be forgotten
    // and the status does not grow while computers stay busy.
    refs.attempts
        .retain(|a| a.number != attempt.number && (!a.session_ids.is_empty() || a.busy_computer_ids.is_empty()));
    refs.attempts.push(attempt.clone());
    refs.attempts.sort_by_key(|a| a.number);
    let written = replace_status(api, obj, status).await?;
    // Sessions are about to exist: an idle poller looks now, not in a minute.
    ctx.state.active_sessions.wake();
    let scope = written
        .status
        .as_ref()
        .and_then(|s| s.target_summary.clone())
        .unwrap_or_default();
    let approver = written
        .status
        .as_ref()
        .and_then(|s| s.approval.as_ref())
        .map(|a| format!("{} ({})", a.approved_by, a.method));
    // What is being started, for the events that follow the call. There is
    // no event before it: the intent in status is the durable record, and an
    // event write there would delay every start.
    let what = format!(
        "attempt {} ({}) for {scope}: mode {}{}, reboot policy {}, approved by {}, reason: {}; sessionGroupId {}",
        attempt.number,
        attempt.purpose.as_deref().unwrap_or("Start"),
        obj.spec.mode,
        obj.spec
            .deployment
            .as_ref()
            .map(|d| format!(" of deployment {} ({})", d.id, d.deployment_type))
            .unwrap_or_default(),
        obj.spec.reboot.policy,
        approver.unwrap_or_else(|| "nobody".into()),
        obj.spec.reason,
        attempt.session_group_id
    );
    crate::crash_point!(ctx, AfterIntent, "after the intent was recorded");

    let Some(targets) = targets_of(&written, &attempt) else {
        publish(
            ctx,
            obj,
            EventType::Warning,
            "TargetUnresolved",
            "the target has no resolved ImmyBot id; nothing was started",
        )
        .await;
        return Ok(Action::requeue(ctx.timing.start_grace));
    };
    let group = uuid::Uuid::parse_str(&attempt.session_group_id)
        .map_err(|e| Error::ImmyBot(immybot_client::ImmyBotError::Config(e.to_string())))?;
    let request = start_request(&obj.spec, &targets, SessionGroupId(group));
    let answer = ctx.immybot.start(&request, StartEndpoint::Immediate).await;
    // Answered: the sessions exist now (the wake before the call may be
    // long past when starts queue for the budget). The poller's look after
    // a burst of starts counts from here (`ActiveSessions::sleep_active`).
    ctx.state.active_sessions.wake();
    let result = match answer {
        Ok(StartOutcome::Started {
            started,
            already_in_progress,
        }) => StartResult {
            attempt: attempt.number,
            session_ids: started.iter().map(|s| s.session_id).collect(),
            busy: busy_computers(ctx, obj, &already_in_progress).await,
            ids_from: "StartResponse",
        },
        Ok(StartOutcome::AllAlreadyInProgress(busy)) => StartResult {
            attempt: attempt.number,
            session_ids: vec![],
            busy: busy_computers(ctx, obj, &busy).await,
            ids_from: "StartResponse",
        },
        Ok(StartOutcome::Accepted) => match find_by_group(ctx, obj, &attempt).await? {
            Found::Sessions(ids) => StartResult::adopted(attempt.number, ids),
            _ => return Ok(Action::requeue(ctx.timing.start_grace)),
        },
        Err(e) if e.start_outcome_unknown() => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "StartOutcomeUnknown",
                &format!(
                    "ImmyBot's answer to the start of {what} was lost ({e}); looking the sessions up by sessionGroupId"
                ),
            )
            .await;
            match find_by_group(ctx, obj, &attempt).await {
                Ok(Found::Sessions(ids)) => StartResult::adopted(attempt.number, ids),
                // Nothing visible yet: the grace period decides later.
                _ => return Ok(Action::requeue(ctx.timing.start_grace)),
            }
        }
        Err(e) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "StartRejected",
                &format!("ImmyBot refused the start of {what}: {e}"),
            )
            .await;
            return Err(e.into());
        }
    };
    crate::crash_point!(
        ctx,
        AfterStart,
        attempt = attempt.number,
        "after ImmyBot answered the start"
    );
    record(ctx, api, obj, &name, result, Some(&what), Some(written)).await
}

/// Looks up an unanswered attempt's sessions and adopts them, or starts the
/// attempt again when ImmyBot has none.
pub async fn adopt(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    number: i32,
    restart: bool,
) -> Result<Action, Error> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let Some(attempt) = status
        .immybot
        .as_ref()
        .and_then(|r| r.attempts.iter().find(|a| a.number == number))
        .cloned()
    else {
        return Ok(Action::requeue(std::time::Duration::from_secs(1)));
    };
    match find_by_group(ctx, obj, &attempt).await? {
        Found::Sessions(ids) => {
            publish(
                ctx,
                obj,
                EventType::Normal,
                "Adopted",
                &format!(
                    "found ImmyBot sessions {ids:?} of attempt {number} by sessionGroupId {}",
                    attempt.session_group_id
                ),
            )
            .await;
            record(ctx, api, obj, &name, StartResult::adopted(number, ids), None, None).await
        }
        Found::Ambiguous(ids) => {
            let message = format!(
                "ImmyBot has more than one session for a computer with sessionGroupId {} (sessions {ids:?}); cancel the extra sessions in ImmyBot so that one per computer remains, and the controller adopts them",
                attempt.session_group_id
            );
            stall(ctx, api, obj, status, "AmbiguousStart", message).await
        }
        Found::Undetermined(ids) => {
            let message = format!(
                "the answer to attempt {number}'s start was lost, and ImmyBot did not say whether sessions {ids:?} (created since the start was sent, on the same computers or tenant) belong to it: GET /api/v1/maintenance-sessions/{{id}} returned no sessionJobArgs.sessionGroupId. The controller will not start again, so that no computer gets a second session. Check these sessions in ImmyBot: if they are this maintenance, it is running there; to start afresh, cancel them and create a new MaintenanceSession. The look-up is retried every 5 minutes"
            );
            stall(ctx, api, obj, status, "AdoptionUndetermined", message).await
        }
        Found::None if !restart => {
            // The start never reached ImmyBot, and nothing may start now
            // (cancelled, timed out, suspended or no longer approved): the
            // attempt created nothing. A `ComputersBusy` attempt's computers
            // are still waiting (the attempt that found them busy was
            // dropped when this one was recorded), so it stays as their
            // record; any other attempt is forgotten.
            let mut st = status;
            if let Some(refs) = st.immybot.as_mut() {
                refs.attempts.retain_mut(|a| {
                    if a.number != number {
                        return true;
                    }
                    if a.purpose.as_deref() == Some(crate::api::attempt_purpose::COMPUTERS_BUSY) {
                        a.busy_computer_ids = a.computer_ids.clone();
                        return true;
                    }
                    false
                });
            }
            replace_status(api, obj, st).await?;
            publish(
                ctx,
                obj,
                EventType::Normal,
                "StartAbandoned",
                &format!(
                    "attempt {number} never reached ImmyBot (no session carries sessionGroupId {}); it is not sent again because the session may not start now",
                    attempt.session_group_id
                ),
            )
            .await;
            Ok(Action::requeue(std::time::Duration::from_secs(1)))
        }
        Found::None => {
            let again = Attempt {
                intent_time: crate::controller::clock::stored_time(ctx.clock.now()),
                ..attempt
            };
            start(ctx, api, obj, status, again).await
        }
    }
}

/// Stops trying: a Stalled condition that says what a person must check,
/// looked at again every 5 minutes (ImmyBot may answer better later).
async fn stall(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut st: MaintenanceSessionStatus,
    reason: &str,
    message: String,
) -> Result<Action, Error> {
    crate::controller::conditions::set(
        &mut st.conditions,
        crate::controller::conditions::STALLED,
        true,
        reason,
        message.clone(),
        obj.metadata.generation,
        ctx.clock.now(),
    );
    crate::controller::conditions::remove(&mut st.conditions, crate::controller::conditions::RECONCILING);
    replace_status(api, obj, st).await?;
    publish(ctx, obj, EventType::Warning, reason, &message).await;
    Ok(Action::requeue(std::time::Duration::from_secs(300)))
}

/// The computers a start found busy, each with the session holding it. The
/// start answer's entries are undocumented (seen in the wild with
/// `computerId`); where one lacks it, the holding session's documented
/// `computerId` (`GET {id}`) names the computer. A computer that cannot be
/// named is reported in an event and cannot be tried again.
async fn busy_computers(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    busy: &[StartedSession],
) -> Vec<WaitingComputer> {
    let mut out = Vec::with_capacity(busy.len());
    let mut unnamed = Vec::new();
    for entry in busy {
        let computer = match entry.computer_id {
            Some(c) => Some(c),
            None => ctx
                .immybot
                .session(entry.session_id, false, false)
                .await
                .ok()
                .and_then(|s| s.computer_id),
        };
        match computer {
            Some(id) if !out.iter().any(|w: &WaitingComputer| w.id == id) => out.push(WaitingComputer {
                id,
                held_by_session_id: Some(entry.session_id),
            }),
            Some(_) => {}
            None => unnamed.push(entry.session_id),
        }
    }
    if !unnamed.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Warning,
            "BusyComputerUnknown",
            &format!(
                "ImmyBot reported computers busy with sessions {unnamed:?} without naming them, and the sessions could not be read; those computers are not counted and will not be tried again"
            ),
        )
        .await;
    }
    out
}

async fn record(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    name: &str,
    result: StartResult,
    what: Option<&str>,
    known: Option<MaintenanceSession>,
) -> Result<Action, Error> {
    let ids = result.session_ids.clone();
    let busy: Vec<i32> = result.busy.iter().map(|w| w.id).collect();
    let result_holders: Vec<i32> = result.busy.iter().filter_map(|w| w.held_by_session_id).collect();
    persist_start_result(api.clone(), name.to_owned(), result, known).await?;
    if !ids.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Started",
            &match what {
                Some(what) => format!("ImmyBot sessions {ids:?} started: {what}"),
                None => format!("ImmyBot sessions {ids:?} started"),
            },
        )
        .await;
    }
    if !busy.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "ComputersBusy",
            &format!(
                "computers {busy:?} already have a session in ImmyBot (held by {:?}); they will be started when they are free",
                result_holders
            ),
        )
        .await;
    }
    // The status write itself triggers the next reconcile.
    Ok(Action::await_change())
}

/// The computers or tenant one attempt covers.
pub fn targets_of(obj: &MaintenanceSession, attempt: &Attempt) -> Option<StartTargets> {
    if !attempt.computer_ids.is_empty() {
        return Some(StartTargets::Computers(attempt.computer_ids.clone()));
    }
    Some(StartTargets::Tenant {
        id: tenant_id(&obj.spec, obj.status.as_ref())?,
        include_children: obj.spec.target.tenant.as_ref()?.include_child_tenants,
    })
}

/// The ImmyBot id of a tenant target, from the spec or as resolved.
pub fn tenant_id(spec: &crate::api::MaintenanceSessionSpec, status: Option<&MaintenanceSessionStatus>) -> Option<i32> {
    spec.target
        .tenant
        .as_ref()?
        .id
        .or_else(|| status?.resolved_target.as_ref()?.tenant.as_ref().map(|t| t.id))
}

/// The ids of an attempt's sessions, looked up by group id (for deletion of
/// an object whose start was never answered). Ambiguous duplicates count too:
/// they are all ours to cancel. Undetermined candidates are not: cancelling
/// someone else's session would be worse than leaving ours running, so they
/// are returned separately for the caller to report.
pub async fn find_ids(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    attempt: &Attempt,
) -> Result<(Vec<i32>, Vec<i32>), Error> {
    Ok(match find_by_group(ctx, obj, attempt).await? {
        Found::None => (vec![], vec![]),
        Found::Sessions(ids) | Found::Ambiguous(ids) => (ids, vec![]),
        Found::Undetermined(ids) => (vec![], ids),
    })
}

/// Sessions found on `queries` (paged `dx` listings), each confirmed by its
/// own `sessionJobArgs` (`GET {id}`): those `is_ours` accepts, and those
/// whose arguments ImmyBot did not tell (no `sessionJobArgs`, or gone since
/// it was listed), which may be ours.
pub(super) struct Confirmed {
    pub ours: Vec<ImmySession>,
    pub undetermined: Vec<i32>,
}

pub(super) async fn confirm_candidates(
    ctx: &SessionContext,
    queries: Vec<SessionQuery>,
    is_ours: impl Fn(&immybot_client::SessionJobArgs) -> bool,
) -> Result<Confirmed, Error> {
    let mut candidates: Vec<i32> = Vec::new();
    for mut query in queries {
        loop {
            let page = ctx.immybot.at(Priority::Ending).find_sessions(&query).await?;
            candidates.extend(page.items.iter().map(|s| s.id).filter(|id| *id > 0));
            if !page.full {
                break;
            }
            query.skip += query.take;
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut found = Confirmed {
        ours: Vec::new(),
        undetermined: Vec::new(),
    };
    for id in candidates {
        let session = match ctx.immybot.at(Priority::Ending).session(id, false, false).await {
            Ok(s) => s,
            // Listed a moment ago, gone now: nobody can say whose it was.
            Err(e) if e.kind() == immybot_client::ErrorKind::NotFound => {
                found.undetermined.push(id);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // `sessionJobArgs` present without our mark: not ours. Absent:
        // ImmyBot did not say.
        match session.session_job_args.as_ref() {
            None => found.undetermined.push(id),
            Some(args) if is_ours(args) => found.ours.push(session),
            Some(_) => {}
        }
    }
    Ok(found)
}

/// Finds the sessions that carry the attempt's group id: candidates from the
/// `dx` list, each confirmed with `GET {id}` (see the module docs).
pub(super) async fn find_by_group(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    attempt: &Attempt,
) -> Result<Found, Error> {
    let wanted = attempt.session_group_id.as_str();
    let found = confirm_candidates(ctx, candidate_queries(ctx, obj, attempt).await?, |args| {
        args.session_group_id.map(|g| g.to_string()).as_deref() == Some(wanted)
    })
    .await?;
    let undetermined = found.undetermined;
    let mut by_computer: BTreeMap<i32, Vec<(i32, bool)>> = BTreeMap::new();
    for session in found.ours {
        let cancelled = session.session_status == Some(immybot_client::SessionStatus::Cancelled);
        by_computer
            .entry(session.computer_id.unwrap_or(-session.id))
            .or_default()
            .push((session.id, cancelled));
    }
    // Duplicates a person already cancelled no longer count.
    for sessions in by_computer.values_mut() {
        if sessions.len() > 1 {
            sessions.retain(|(_, cancelled)| !cancelled);
        }
    }
    if !undetermined.is_empty() {
        return Ok(Found::Undetermined(undetermined));
    }
    if by_computer.values().any(|ids| ids.len() > 1) {
        return Ok(Found::Ambiguous(
            by_computer.into_values().flatten().map(|(id, _)| id).collect(),
        ));
    }
    let ids: Vec<i32> = by_computer.into_values().flatten().map(|(id, _)| id).collect();
    Ok(if ids.is_empty() {
        Found::None
    } else {
        Found::Sessions(ids)
    })
}

/// Where an attempt's sessions can be: per targeted computer, or per tenant
/// of a tenant start (the tenant and, if included, its child tenants), in
/// both cases created since the intent (less a clock-skew margin). Both are
/// documented `dx` parameters, so the candidates do not depend on what the
/// rows carry.
async fn candidate_queries(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    attempt: &Attempt,
) -> Result<Vec<SessionQuery>, Error> {
    let since = attempt
        .intent_time
        .0
        .checked_sub(CLOCK_SKEW)
        .unwrap_or(attempt.intent_time.0);
    let query = |computer_id: Option<i32>, tenant_id: Option<i32>| SessionQuery {
        computer_id,
        tenant_id,
        created_after: Some(WireTime(since)),
        take: 200,
        ..Default::default()
    };
    if !attempt.computer_ids.is_empty() {
        return Ok(attempt.computer_ids.iter().map(|&c| query(Some(c), None)).collect());
    }
    match targets_of(obj, attempt) {
        Some(StartTargets::Tenant { id, include_children }) => {
            let tenants = if include_children {
                tenant_tree(&ctx.immybot.at(Priority::Ending).tenants().await?, id, true)
            } else {
                vec![id]
            };
            Ok(tenants.into_iter().map(|t| query(None, Some(t))).collect())
        }
        // Nothing targeted, so nothing can have started.
        _ => Ok(vec![]),
    }
}
