//! ImmyBot's view of an object's sessions and their logs, at the least
//! cost, in the budget's order (`Priority`):
//!
//! - an ended session is read once and kept (mostly by the poller, for all
//!   objects at once: `ended_reader`);
//! - a running session is what the poller's last listing shows (its row),
//!   with what was last read in full; it is read in full (`GET {id}` at
//!   `Progress`, the lowest priority) only once it has run the idle poll
//!   interval, then at most once per that interval, and never while the
//!   budget has calls waiting: progress is the first thing put off;
//! - a session the listing no longer shows (and the poller has not read as
//!   ended) is read at `Ending` priority: one `GET {id}` each for a few, one
//!   paged `dx` listing of the attempt's id range for more (a tenant),
//!   falling back to `GET {id}` for rows without a status;
//! - a session recorded after the listing began is not read at all: the
//!   poller's next cycle lists it and triggers the object.
//!
//! Calls go out one or two at a time, so that a large object takes its
//! turn in the budget's queue like any other instead of filling it.

use std::collections::BTreeSet;

use futures::{StreamExt as _, TryStreamExt as _};
use jiff::{SignedDuration, Timestamp};

use super::SessionContext;
use super::action_reader::PER_SESSION_MAX;
use super::immybot_cache::Listed;
use crate::api::{Attempt, MaintenanceSession};
use crate::controller::error::Error;
use immybot_client::{
    ErrorKind, ImmyBotClient, MaintenanceSession as ImmySession, Priority, SessionLog, SessionQuery, SessionStatus,
    WireTime,
};

/// How many sessions' logs feed the status's log tail per reconcile.
const LOG_SESSIONS: usize = 2;
/// Rows per page of a session listing.
const PAGE: u32 = 200;
/// How far before an attempt's intent its listing starts: clock skew
/// between this cluster and ImmyBot.
const LISTING_SKEW: SignedDuration = SignedDuration::from_secs(600);

/// What a reconcile needs to know of the sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// To mirror them: running ones from the listing, progress read only
    /// when due and the budget is free.
    Mirror,
    /// To cancel them (deletion): every session not known to have ended,
    /// read now.
    Everything,
}

/// The sessions as observed, and which of them were read (or are known
/// ended) this time: only their actions and logs may be read.
pub struct Observation {
    pub sessions: Vec<ImmySession>,
    pub fresh: BTreeSet<i32>,
    /// Sessions recorded after the poller's last listing began were left
    /// out: nothing can be concluded until the next cycle lists them.
    pub incomplete: bool,
}

/// Every session recorded in the object's status, as ImmyBot shows it now
/// (sessions deleted in ImmyBot are left out; with `Need::Mirror`, a
/// session too new to be listed is left out too).
pub async fn observe_sessions(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    need: Need,
    now: Timestamp,
) -> Result<Observation, Error> {
    let attempts: &[Attempt] = obj
        .status
        .as_ref()
        .and_then(|s| s.immybot.as_ref())
        .map(|r| r.attempts.as_slice())
        .unwrap_or_default();
    let cache = &ctx.state.immybot_cache;
    let active = &ctx.state.active_sessions;
    let mut seen = Observation {
        sessions: Vec::new(),
        fresh: BTreeSet::new(),
        incomplete: false,
    };
    let (mut progress, mut ending) = (Vec::new(), Vec::new());
    for attempt in attempts {
        let mut needing = Vec::new();
        for &id in &attempt.session_ids {
            if let Some(s) = cache.ended_session(id) {
                seen.fresh.insert(id);
                seen.sessions.push(s);
                continue;
            }
            match (active.where_is(id), need) {
                (Listed::NotYet, Need::Mirror) => seen.incomplete = true,
                (Listed::Active(row), Need::Mirror) => {
                    if let Some(s) = cache.session(id, active) {
                        seen.sessions.push(s);
                    } else if progress_due(ctx, attempt, id, now) {
                        progress.push(id);
                    } else {
                        seen.sessions.push(as_listed(*row, cache.last_read(id).map(|(_, s)| s)));
                    }
                }
                _ => needing.push(id),
            }
        }
        if needing.len() > PER_SESSION_MAX {
            let (listed, rest) = list(&ctx.immybot.at(Priority::Ending), attempt, &needing).await?;
            for s in listed {
                cache.remember_session(&s);
                seen.fresh.insert(s.id);
                seen.sessions.push(s);
            }
            ending.extend(rest);
        } else {
            ending.extend(needing);
        }
    }
    let reads = ending
        .into_iter()
        .map(|id| (id, ctx.immybot.at(Priority::Ending)))
        .chain(progress.into_iter().map(|id| (id, ctx.immybot.at(Priority::Progress))));
    let fetched: Vec<Option<ImmySession>> = futures::stream::iter(reads)
        .map(|(id, client)| async move {
            match client.session(id, true, true).await {
                Ok(s) => {
                    cache.remember_session(&s);
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
    for s in fetched.into_iter().flatten() {
        seen.fresh.insert(s.id);
        seen.sessions.push(s);
    }
    Ok(seen)
}

/// Whether a running session's full read is due: it has run (or was last
/// read) the idle poll interval ago, and no call waits in the budget.
fn progress_due(ctx: &SessionContext, attempt: &Attempt, id: i32, now: Timestamp) -> bool {
    let every = ctx.timing.poll_idle;
    let due = match ctx.state.immybot_cache.last_read(id) {
        Some((at, _)) => at.elapsed() >= every,
        None => now.duration_since(attempt.intent_time.0) >= SignedDuration::try_from(every).unwrap_or_default(),
    };
    due && !ctx.immybot.is_busy()
}

/// A running session as the listing shows it: its row, with what the last
/// full read knew that rows may lack (stages, names), under the row's
/// status and update time.
fn as_listed(row: ImmySession, last: Option<ImmySession>) -> ImmySession {
    let Some(mut s) = last else { return row };
    s.session_status = row.session_status.or(s.session_status);
    s.updated_date_utc = row.updated_date_utc.or(s.updated_date_utc);
    s
}

/// The `needing` sessions of one attempt from a paged listing: those whose
/// rows carry a status, and the ids left for `GET {id}` (rows without a
/// status, sessions the listing did not show).
async fn list(
    immybot: &ImmyBotClient,
    attempt: &Attempt,
    needing: &[i32],
) -> Result<(Vec<ImmySession>, Vec<i32>), Error> {
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
        let page = immybot.find_sessions(&query).await?;
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

/// The sessions whose logs the status shows: of those read (or ended)
/// this time, the ones a person will look at: ended without passing, or
/// running (a full read of a running one is already a long run's), the
/// least successful and newest first, at most `LOG_SESSIONS`. A session
/// that passed costs no log read.
pub fn worth_logs(sessions: &[ImmySession], fresh: &BTreeSet<i32>) -> Vec<ImmySession> {
    let mut worth: Vec<&ImmySession> = sessions
        .iter()
        .filter(|s| fresh.contains(&s.id) && s.session_status != Some(SessionStatus::Passed))
        .collect();
    worth.sort_by_key(|s| {
        (
            !s.session_status.as_ref().is_some_and(|x| x.is_terminal()),
            std::cmp::Reverse(s.id),
        )
    });
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
        let client = if s.session_status.as_ref().is_some_and(|x| x.is_terminal()) {
            ctx.immybot.at(Priority::Ending)
        } else {
            ctx.immybot.at(Priority::Progress)
        };
        match client.logs(s.id).await {
            Ok(l) => {
                ctx.state.immybot_cache.remember_logs(s, l.clone());
                logs.extend(l);
            }
            Err(e) => tracing::debug!(session = s.id, error = %e, "could not read session logs"),
        }
    }
    logs
}
