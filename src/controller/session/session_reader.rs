//! ImmyBot's view of an object's sessions and their logs, at the least
//! cost. A session is read only if it may have changed since it was last
//! read: not when it has ended (kept for good), and not when the poller's
//! last cycle showed it with the status and update time it had when read.
//!
//! What must be read: an attempt with a few such sessions, one `GET {id}`
//! each; a larger one (a tenant), one paged `dx` listing of the attempt's
//! sessions (its id range, created since its intent), falling back to
//! `GET {id}` only for rows that lack a status. Calls go out one or two at a
//! time, so that a large object takes its turn in the ImmyBot budget's queue
//! like any other instead of filling it.

use std::collections::BTreeSet;

use futures::{StreamExt as _, TryStreamExt as _};
use jiff::SignedDuration;

use super::SessionContext;
use super::action_reader::PER_SESSION_MAX;
use crate::api::{Attempt, MaintenanceSession};
use crate::controller::error::Error;
use immybot_client::{ErrorKind, MaintenanceSession as ImmySession, SessionLog, SessionQuery, SessionStatus, WireTime};

/// How many sessions' logs feed the status's log tail per reconcile.
const LOG_SESSIONS: usize = 2;
/// Rows per page of a session listing.
const PAGE: u32 = 200;
/// How far before an attempt's intent its listing starts: clock skew
/// between this cluster and ImmyBot.
const LISTING_SKEW: SignedDuration = SignedDuration::from_secs(600);

/// Every session recorded in the object's status, as ImmyBot shows it now
/// (sessions deleted in ImmyBot are left out).
pub async fn observe_sessions(ctx: &SessionContext, obj: &MaintenanceSession) -> Result<Vec<ImmySession>, Error> {
    let attempts: &[Attempt] = obj
        .status
        .as_ref()
        .and_then(|s| s.immybot.as_ref())
        .map(|r| r.attempts.as_slice())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut to_get = Vec::new();
    for attempt in attempts {
        let mut needing = Vec::new();
        for &id in &attempt.session_ids {
            match ctx.state.immybot_cache.session(id, &ctx.state.active_sessions) {
                Some(s) => out.push(s),
                None => needing.push(id),
            }
        }
        if needing.len() > PER_SESSION_MAX {
            let (listed, rest) = list(ctx, attempt, &needing).await?;
            for s in listed {
                ctx.state.immybot_cache.remember_session(&s);
                out.push(s);
            }
            to_get.extend(rest);
        } else {
            to_get.extend(needing);
        }
    }
    let fetched: Vec<Option<ImmySession>> = futures::stream::iter(to_get)
        .map(|id| async move {
            match ctx.immybot.session(id, true, true).await {
                Ok(s) => {
                    ctx.state.immybot_cache.remember_session(&s);
                    Ok(Some(s))
                }
                // A session deleted in ImmyBot is simply gone from the view.
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::from(e)),
            }
        })
        .buffer_unordered(2)
        .try_collect()
        .await?;
    out.extend(fetched.into_iter().flatten());
    Ok(out)
}

/// The `needing` sessions of one attempt from a paged listing: those whose
/// rows carry a status, and the ids left for `GET {id}` (rows without a
/// status, sessions the listing did not show).
async fn list(ctx: &SessionContext, attempt: &Attempt, needing: &[i32]) -> Result<(Vec<ImmySession>, Vec<i32>), Error> {
    let mut wanted: BTreeSet<i32> = needing.iter().copied().collect();
    let (Some(&low), Some(&high)) = (wanted.first(), wanted.last()) else {
        return Ok((vec![], vec![]));
    };
    let from = attempt
        .intent_time
        .0
        .checked_sub(LISTING_SKEW)
        .unwrap_or(attempt.intent_time.0);
    let mut query = SessionQuery {
        id_range: Some((low, high)),
        created_after: Some(WireTime(from)),
        take: PAGE,
        ..Default::default()
    };
    let mut listed = Vec::new();
    loop {
        let page = ctx.immybot.find_sessions(&query).await?;
        for row in page.items {
            if row.session_status.is_some() && wanted.remove(&row.id) {
                listed.push(row);
            }
        }
        if !page.full || wanted.is_empty() {
            break;
        }
        query.skip += PAGE;
    }
    Ok((listed, wanted.into_iter().collect()))
}

/// Log lines of the sessions most worth reading: those that did not pass
/// first, then the newest. Read until the object is final, so that the tail
/// ends with each session's last lines; a session unchanged since its logs
/// were read is not read again.
/// The sessions whose logs the status shows: the least successful, newest
/// first, at most `LOG_SESSIONS` (copied, so that their logs can be read
/// while the actions are attached to the originals).
pub fn worth_logs(sessions: &[ImmySession]) -> Vec<ImmySession> {
    let mut worth: Vec<&ImmySession> = sessions.iter().collect();
    worth.sort_by_key(|s| (s.session_status == Some(SessionStatus::Passed), std::cmp::Reverse(s.id)));
    worth.into_iter().take(LOG_SESSIONS).cloned().collect()
}

/// The logs of `worth_logs`'s sessions, from the cache where unchanged.
pub async fn observe_logs(ctx: &SessionContext, worth: &[ImmySession]) -> Vec<SessionLog> {
    let mut logs = Vec::new();
    for s in worth {
        if let Some(known) = ctx.state.immybot_cache.logs(s) {
            logs.extend(known.iter().cloned());
            continue;
        }
        match ctx.immybot.logs(s.id).await {
            Ok(l) => {
                ctx.state.immybot_cache.remember_logs(s, l.clone());
                logs.extend(l);
            }
            Err(e) => tracing::debug!(session = s.id, error = %e, "could not read session logs"),
        }
    }
    logs
}
