//! ImmyBot's view of an object's sessions and their logs, at the least
//! cost, in the budget's order (`Priority`):
//!
//! - an ended session is read once and kept (mostly by the poller, for all
//!   objects at once: `ended_reader`);
//! - a running session is what the poller's last listing shows (its row),
//!   with what was last read in full; it is read in full (`GET {id}` at
//!   `Progress`, the lowest priority) only for news: its row moved since
//!   the last full read (or, never read, ImmyBot updated it after it had
//!   run the idle poll interval), at most once per that interval, and
//!   never while the budget has calls waiting: progress is the first thing
//!   put off, and a fleet of sessions sitting in a long stage costs the
//!   listing's pages and nothing else;
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
use super::excerpt_reader::Explain;
use super::immybot_cache::{Listed, ended};
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

/// The attempts whose sessions an object's status records (its reruns'
/// included), for `observe_sessions`.
pub fn recorded_attempts(obj: &MaintenanceSession) -> std::borrow::Cow<'_, [Attempt]> {
    obj.status
        .as_ref()
        .map(super::attempts::read_attempts)
        .unwrap_or_default()
}

/// Every session of `attempts` (an object's, `recorded_attempts`, or a
/// plan's detection), as ImmyBot shows it now (sessions deleted in ImmyBot
/// are left out; with `Need::Mirror`, a session too new to be listed is
/// left out too).
pub async fn observe_sessions(
    ctx: &SessionContext,
    attempts: &[Attempt],
    need: Need,
    now: Timestamp,
) -> Result<Observation, Error> {
    let cache = &ctx.state.immybot_cache;
    let active = &ctx.state.active_sessions;
    let mut seen = Observation {
        sessions: Vec::new(),
        fresh: BTreeSet::new(),
        incomplete: false,
    };
    let (mut progress, mut ending) = (Vec::new(), Vec::new());
    // A large object's progress is what the listing's rows show: reading
    // its running sessions one by one would cost a call per computer, and
    // the calls that see ends would queue behind them.
    let small = attempts.iter().map(|a| a.session_ids.len()).sum::<usize>() <= PER_SESSION_MAX;
    for attempt in attempts.iter() {
        let mut needing = Vec::new();
        for &id in &attempt.session_ids {
            if let Some(s) = cache.ended_session(id) {
                seen.fresh.insert(id);
                seen.sessions.push(s);
                continue;
            }
            match (active.where_is(id), need) {
                (Listed::NotYet, Need::Mirror) => seen.incomplete = true,
                // Only a row that does not say it ended stands for a
                // running session; an ended one is read as ended (a final
                // status is only ever taken from a read made after the
                // end, with the actions read then).
                (Listed::Active(row), Need::Mirror) if !ended(&row) => {
                    if let Some(s) = cache.session(id, active) {
                        seen.sessions.push(s);
                    } else if small && progress_due(ctx, attempt, &row, now) {
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

/// Whether a running session's full read is due: there is news of it
/// (`has_news`) and the budget has no call waiting.
fn progress_due(ctx: &SessionContext, attempt: &Attempt, row: &ImmySession, now: Timestamp) -> bool {
    let last = ctx.state.immybot_cache.last_read(row.id);
    let last = last.as_ref().map(|(at, s)| (at.elapsed(), s));
    has_news(row, last, attempt.intent_time.0, ctx.timing.poll_idle, now) && !ctx.immybot.is_busy()
}

/// Whether a running session's row says more than its last full read
/// (`last`: how long ago, and what it read), at most once per `every`:
/// its status or update time moved since that read; never read, ImmyBot
/// updated it after it had run `every` since `intent` (what happened
/// before is what a start looks like, and the row shows it). A row without
/// an update time only has news when its status moves.
fn has_news(
    row: &ImmySession,
    last: Option<(std::time::Duration, &ImmySession)>,
    intent: Timestamp,
    every: std::time::Duration,
    now: Timestamp,
) -> bool {
    let every_signed = SignedDuration::try_from(every).unwrap_or(SignedDuration::MAX);
    match last {
        Some((ago, read)) => {
            ago >= every
                && (row.session_status != read.session_status
                    || (row.updated_date_utc.is_some() && row.updated_date_utc != read.updated_date_utc))
        }
        None => {
            let ran = now.duration_since(intent) >= every_signed;
            let since_intent = |t: &WireTime| t.0.duration_since(intent) >= every_signed;
            ran && row.updated_date_utc.as_ref().is_some_and(since_intent)
        }
    }
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
/// that passed costs no log read; nor, when `excerpts` are kept, one that
/// partly passed: what failed in it failed in actions, and their own log
/// excerpts say why (at default budget, the session's log read was what
/// the excerpts' reads would have added to a burst).
pub fn worth_logs(sessions: &[ImmySession], fresh: &BTreeSet<i32>, excerpts: bool) -> Vec<ImmySession> {
    let explained = |s: &ImmySession| {
        s.session_status == Some(SessionStatus::Passed)
            || (excerpts && s.session_status == Some(SessionStatus::PartialPassed))
    };
    let mut worth: Vec<&ImmySession> = sessions
        .iter()
        .filter(|s| fresh.contains(&s.id) && !explained(s))
        .collect();
    worth.sort_by_key(|s| {
        (
            !s.session_status.as_ref().is_some_and(|x| x.is_terminal()),
            std::cmp::Reverse(s.id),
        )
    });
    worth.into_iter().take(LOG_SESSIONS).cloned().collect()
}

/// The logs of `worth_logs`'s sessions, from the cache where unchanged,
/// and whether some are owed (unread, or their read failed): an ended session's logs are read at `how`'s
/// priority, or not at all with `Explain::Known`; a running one's at
/// `Progress`.
pub async fn observe_logs(ctx: &SessionContext, worth: &[ImmySession], how: Explain) -> (Vec<SessionLog>, bool) {
    let mut logs = Vec::new();
    let mut owed = false;
    for s in worth {
        if let Some(known) = ctx.state.immybot_cache.logs(s) {
            logs.extend(known.iter().cloned());
            continue;
        }
        let client = match (s.session_status.as_ref().is_some_and(|x| x.is_terminal()), how) {
            (false, _) => ctx.immybot.at(Priority::Progress),
            (true, Explain::Read(priority)) => ctx.immybot.at(priority),
            (true, Explain::Known) => {
                owed = true;
                continue;
            }
        };
        match client.logs(s.id).await {
            Ok(l) => {
                ctx.state.immybot_cache.remember_logs(s, l.clone());
                logs.extend(l);
            }
            Err(e) => {
                tracing::debug!(session = s.id, error = %e, "could not read session logs");
                owed = true;
            }
        }
    }
    (logs, owed)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(minutes: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_mins(minutes)
    }

    fn row(status: SessionStatus, updated_minutes: Option<i64>) -> ImmySession {
        ImmySession {
            id: 7,
            session_status: Some(status),
            updated_date_utc: updated_minutes.map(|m| WireTime(at(m))),
            ..Default::default()
        }
    }

    #[test]
    fn a_session_sitting_in_a_long_stage_has_no_news() {
        // Asked for at 0, updated at 1 (it began running), now at 90, read
        // every 5 minutes at most: read never.
        let r = row(SessionStatus::Running, Some(1));
        assert!(!has_news(&r, None, at(0), MINUTE * 5, at(90)));
        // Read in full an hour ago, the row unchanged since: nothing.
        let read = r.clone();
        assert!(!has_news(&r, Some((MINUTE * 60, &read)), at(0), MINUTE * 5, at(90)));
    }

    #[test]
    fn a_session_that_moves_is_read_at_most_once_per_interval() {
        let read = row(SessionStatus::Running, Some(1));
        let moved = row(SessionStatus::Running, Some(5));
        assert!(has_news(&moved, Some((MINUTE, &read)), at(0), MINUTE, at(6)));
        assert!(!has_news(&moved, Some((MINUTE / 2, &read)), at(0), MINUTE, at(6)));
        let status_moved = row(SessionStatus::Pending, Some(1));
        assert!(has_news(&status_moved, Some((MINUTE, &read)), at(0), MINUTE, at(6)));
    }

    #[test]
    fn a_session_never_read_is_read_once_immybot_moved_it_after_the_interval() {
        let early = row(SessionStatus::Running, Some(0));
        let later = row(SessionStatus::Running, Some(3));
        assert!(
            !has_news(&later, None, at(0), MINUTE * 5, at(4)),
            "not run the interval yet"
        );
        assert!(has_news(&later, None, at(0), MINUTE, at(4)));
        assert!(!has_news(&early, None, at(0), MINUTE, at(4)));
    }

    #[test]
    fn a_row_without_an_update_time_has_news_only_when_its_status_moves() {
        let read = row(SessionStatus::Running, None);
        assert!(!has_news(
            &read.clone(),
            Some((MINUTE * 9, &read)),
            at(0),
            MINUTE,
            at(10)
        ));
        assert!(!has_news(&read.clone(), None, at(0), MINUTE, at(10)));
        let moved = row(SessionStatus::Pending, None);
        assert!(has_news(&moved, Some((MINUTE, &read)), at(0), MINUTE, at(10)));
    }
}
