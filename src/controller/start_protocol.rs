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

use std::collections::BTreeMap;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::context::{Context, CrashPoint};
use super::error::Error;
use super::events::publish;
use super::start_request::{StartTargets, start_request};
use super::status_writer::{StartResult, persist_start_result, replace_status};
use crate::api::{Attempt, ImmyBotRefs, MaintenanceSession, MaintenanceSessionStatus};
use crate::immybot::{SessionQuery, StartEndpoint, StartOutcome, WireTime};

/// How far before the intent time sessions are searched, for clock skew
/// between this cluster and ImmyBot.
const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// What a look-up by group id found.
enum Found {
    None,
    Sessions(Vec<i32>),
    /// More than one session for one computer carries our group id.
    Ambiguous(Vec<i32>),
}

/// Steps 1 to 3 for `attempt`, on top of the status `decide` produced.
pub async fn start(
    ctx: &Context,
    api: &Api<MaintenanceSession>,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
    attempt: Attempt,
) -> Result<Action, Error> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let refs = status.immybot.get_or_insert_with(|| ImmyBotRefs {
        instance: ctx.instance.clone(),
        attempts: vec![],
    });
    refs.attempts.retain(|a| a.number != attempt.number);
    refs.attempts.push(attempt.clone());
    refs.attempts.sort_by_key(|a| a.number);
    let written = replace_status(api, obj, status).await?;
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
    publish(
        ctx,
        obj,
        EventType::Normal,
        "StartRequested",
        &format!(
            "starting attempt {} for {scope}: mode {:?}, reboot policy {:?}, approved by {}; sessionGroupId {}",
            attempt.number,
            obj.spec.mode,
            obj.spec.reboot.policy,
            approver.unwrap_or_else(|| "nobody".into()),
            attempt.session_group_id
        ),
    )
    .await;
    if ctx.crash_point == CrashPoint::AfterIntent {
        return Err(Error::SimulatedCrash("after the intent was recorded"));
    }

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
        .map_err(|e| Error::ImmyBot(crate::immybot::ImmyBotError::Config(e.to_string())))?;
    let request = start_request(&obj.spec, &targets, super::SessionGroupId(group));
    let result = match ctx.immybot.start(&request, StartEndpoint::Immediate).await {
        Ok(StartOutcome::Started {
            started,
            already_in_progress,
        }) => StartResult {
            attempt: attempt.number,
            session_ids: started.iter().map(|s| s.session_id).collect(),
            busy_computer_ids: already_in_progress.iter().filter_map(|s| s.computer_id).collect(),
            ids_from: "StartResponse",
        },
        Ok(StartOutcome::AllAlreadyInProgress(busy)) => StartResult {
            attempt: attempt.number,
            session_ids: vec![],
            busy_computer_ids: busy.iter().filter_map(|s| s.computer_id).collect(),
            ids_from: "StartResponse",
        },
        Ok(StartOutcome::Accepted) => match find_by_group(ctx, &attempt).await? {
            Found::Sessions(ids) => StartResult {
                attempt: attempt.number,
                session_ids: ids,
                busy_computer_ids: vec![],
                ids_from: "Adopted",
            },
            _ => return Ok(Action::requeue(ctx.timing.start_grace)),
        },
        Err(e) if e.start_outcome_unknown() => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "StartOutcomeUnknown",
                &format!("ImmyBot's answer to the start was lost ({e}); looking the sessions up by sessionGroupId"),
            )
            .await;
            match find_by_group(ctx, &attempt).await {
                Ok(Found::Sessions(ids)) => StartResult {
                    attempt: attempt.number,
                    session_ids: ids,
                    busy_computer_ids: vec![],
                    ids_from: "Adopted",
                },
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
                &format!("ImmyBot refused the start: {e}"),
            )
            .await;
            return Err(e.into());
        }
    };
    if ctx.crash_point == CrashPoint::AfterStart {
        return Err(Error::SimulatedCrash("after ImmyBot answered the start"));
    }
    record(ctx, api, obj, &name, result).await
}

/// Looks up an unanswered attempt's sessions and adopts them, or starts the
/// attempt again when ImmyBot has none.
pub async fn adopt(
    ctx: &Context,
    api: &Api<MaintenanceSession>,
    obj: &MaintenanceSession,
    status: MaintenanceSessionStatus,
    number: i32,
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
    match find_by_group(ctx, &attempt).await? {
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
            record(
                ctx,
                api,
                obj,
                &name,
                StartResult {
                    attempt: number,
                    session_ids: ids,
                    busy_computer_ids: vec![],
                    ids_from: "Adopted",
                },
            )
            .await
        }
        Found::Ambiguous(ids) => {
            let mut st = status;
            let message = format!(
                "ImmyBot has more than one session for a computer with sessionGroupId {} (sessions {ids:?}); cancel the extra sessions in ImmyBot so that one per computer remains, and the controller adopts them",
                attempt.session_group_id
            );
            super::conditions::set(
                &mut st.conditions,
                super::conditions::STALLED,
                true,
                "AmbiguousStart",
                message.clone(),
                obj.metadata.generation,
                jiff::Timestamp::now(),
            );
            replace_status(api, obj, st).await?;
            publish(ctx, obj, EventType::Warning, "AmbiguousStart", &message).await;
            Ok(Action::requeue(std::time::Duration::from_secs(300)))
        }
        Found::None => {
            let again = Attempt {
                intent_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
                ..attempt
            };
            start(ctx, api, obj, status, again).await
        }
    }
}

async fn record(
    ctx: &Context,
    api: &Api<MaintenanceSession>,
    obj: &MaintenanceSession,
    name: &str,
    result: StartResult,
) -> Result<Action, Error> {
    let ids = result.session_ids.clone();
    let busy = result.busy_computer_ids.clone();
    persist_start_result(api.clone(), name.to_owned(), result).await?;
    if !ids.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Started",
            &format!("ImmyBot sessions {ids:?} started"),
        )
        .await;
    }
    if !busy.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "ComputersBusy",
            &format!("computers {busy:?} already have a session in ImmyBot; they will be tried again"),
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
    let tenant = obj.spec.target.tenant.as_ref()?;
    let id = tenant.id.or_else(|| {
        obj.status
            .as_ref()?
            .resolved_target
            .as_ref()?
            .tenant
            .as_ref()
            .map(|t| t.id)
    })?;
    Some(StartTargets::Tenant {
        id,
        include_children: tenant.include_child_tenants,
    })
}

/// The ids of an attempt's sessions, looked up by group id (for deletion of
/// an object whose start was never answered). Ambiguous duplicates count too:
/// they are all ours to cancel.
pub async fn find_ids(ctx: &Context, attempt: &Attempt) -> Result<Vec<i32>, Error> {
    Ok(match find_by_group(ctx, attempt).await? {
        Found::None => vec![],
        Found::Sessions(ids) | Found::Ambiguous(ids) => ids,
    })
}

/// Finds the sessions that carry the attempt's group id, through `dx`.
async fn find_by_group(ctx: &Context, attempt: &Attempt) -> Result<Found, Error> {
    let since = attempt
        .intent_time
        .0
        .checked_sub(CLOCK_SKEW)
        .unwrap_or(attempt.intent_time.0);
    let queries: Vec<SessionQuery> = if attempt.computer_ids.is_empty() {
        // A tenant start (child tenants too): every session since the intent.
        vec![SessionQuery {
            created_after: Some(WireTime(since)),
            take: 200,
            ..Default::default()
        }]
    } else {
        attempt
            .computer_ids
            .iter()
            .map(|&c| SessionQuery {
                computer_id: Some(c),
                created_after: Some(WireTime(since)),
                take: 50,
                ..Default::default()
            })
            .collect()
    };
    let mut by_computer: BTreeMap<i32, Vec<(i32, bool)>> = BTreeMap::new();
    for mut query in queries {
        loop {
            let page = ctx.immybot.find_sessions(&query).await?;
            for s in &page.items {
                if s.session_group_id().map(|g| g.to_string()).as_deref() == Some(attempt.session_group_id.as_str()) {
                    let cancelled = s.session_status == Some(crate::immybot::SessionStatus::Cancelled);
                    by_computer
                        .entry(s.computer_id.unwrap_or(-s.id))
                        .or_default()
                        .push((s.id, cancelled));
                }
            }
            if !page.full {
                break;
            }
            query.skip += query.take;
        }
    }
    // Duplicates a person already cancelled no longer count.
    for sessions in by_computer.values_mut() {
        if sessions.len() > 1 {
            sessions.retain(|(_, cancelled)| !cancelled);
        }
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
