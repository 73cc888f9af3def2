//! Reads the log excerpts `action_excerpts` chose: one
//! `GET /maintenance-actions/{actionId}/logs` per failed action, once (the
//! cache keeps it for the life of the process). A read that fails is left
//! out of this status and owed, tried at a later reconcile; it never holds back
//! the outcome it would explain: when every session of an object has
//! ended, only what is already known is shown and the rest is owed
//! (`Explain::Known`, `status.logsPending`), read after the final status
//! is written at the budget's lowest priority.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt as _;
use jiff::{SignedDuration, Timestamp};

use super::SessionContext;
use super::action_excerpts::{excerpt, worth_excerpts};
use immybot_client::{ErrorKind, MaintenanceSession, Priority};

/// How a reconcile comes by the explanation of what failed (excerpts and
/// the log tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explain {
    /// Only what was read before: what was not is owed, and the outcome
    /// does not wait for it.
    Known,
    /// What was not read before is read now, at this priority.
    Read(Priority),
}

/// How long after its end an object's unanswered log reads are still
/// tried (`status.logsPending`), and how far apart.
const EXPLAIN_FOR: SignedDuration = SignedDuration::from_hours(1);
const RETRY_EXPLAINING: Duration = Duration::from_secs(60);

/// How a reconcile explains what failed. The first time every session is
/// seen ended, only what is known (the outcome goes out now); once final,
/// read at the lowest priority; otherwise (sessions running, or the
/// object goes on: a rollout between waves, whose next start must not
/// wait behind its own afterthoughts) read as they end.
pub fn explain_how(final_already: bool, every_ended: bool, logs_pending: bool) -> Explain {
    match (final_already, every_ended && !logs_pending) {
        (true, _) => Explain::Read(Priority::Background),
        (false, true) => Explain::Known,
        (false, false) => Explain::Read(Priority::Ending),
    }
}

/// Whether logs are still owed after a reconcile explained `how`, and if
/// so when to look again: what `Known` left is read at once (`soon`); a
/// read at the lowest priority that ImmyBot did not answer is tried a
/// minute apart for an hour after the end, then given up; while sessions
/// run, every reconcile reads what is missing anyway.
pub fn still_owed(
    how: Explain,
    owed: bool,
    ended: Option<Timestamp>,
    now: Timestamp,
    soon: Duration,
) -> Option<Duration> {
    match how {
        _ if !owed => None,
        Explain::Known => Some(soon),
        Explain::Read(Priority::Background) => {
            (now.duration_since(ended.unwrap_or(now)) < EXPLAIN_FOR).then_some(RETRY_EXPLAINING)
        }
        Explain::Read(_) => None,
    }
}

/// The excerpts of `sessions`' failed actions worth one, by action id, and
/// whether some are owed (`Explain::Known` left them unread, or ImmyBot
/// did not answer their read).
pub async fn read_excerpts(
    ctx: &SessionContext,
    sessions: &[MaintenanceSession],
    how: Explain,
) -> (BTreeMap<i32, Vec<String>>, bool) {
    if !ctx.action_log_excerpts {
        return (BTreeMap::new(), false);
    }
    let cache = &ctx.state.immybot_cache;
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for id in worth_excerpts(sessions) {
        match cache.excerpt(id) {
            Some(known) => {
                found.insert(id, known.as_ref().clone());
            }
            None => missing.push(id),
        }
    }
    let priority = match how {
        Explain::Known => return (found, !missing.is_empty()),
        Explain::Read(priority) => priority,
    };
    let client = ctx.immybot.at(priority);
    let read: Vec<(i32, Option<Vec<String>>)> = futures::stream::iter(missing)
        .map(|id| {
            let client = &client;
            async move {
                match client.action_logs(id).await {
                    Ok(lines) => (id, Some(excerpt(&lines))),
                    // An action ImmyBot no longer has: nothing to show, ever.
                    Err(e) if e.kind() == ErrorKind::NotFound => (id, Some(Vec::new())),
                    Err(e) => {
                        tracing::debug!(action = id, error = %e, "could not read an action's log");
                        (id, None)
                    }
                }
            }
        })
        .buffer_unordered(2)
        .collect()
        .await;
    let failed = read.iter().any(|(_, got)| got.is_none());
    for (id, got) in read {
        if let Some(lines) = got {
            cache.remember_excerpt(id, lines.clone());
            if !lines.is_empty() {
                found.insert(id, lines);
            }
        }
    }
    (found, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_goes_first_and_its_explanation_follows_at_the_lowest_priority() {
        // Running: read as they end.
        assert_eq!(explain_how(false, false, false), Explain::Read(Priority::Ending));
        // Every session ended, first look: only what is known.
        assert_eq!(explain_how(false, true, false), Explain::Known);
        // Final: at the lowest priority.
        assert_eq!(explain_how(true, true, false), Explain::Read(Priority::Background));
        assert_eq!(explain_how(true, true, true), Explain::Read(Priority::Background));
        // Not final after that look (a rollout between waves): never
        // `Known` twice, so it is not held unexplained until the next wave.
        assert_eq!(explain_how(false, true, true), Explain::Read(Priority::Ending));
    }

    #[test]
    fn what_is_owed_is_tried_for_an_hour_after_the_end() {
        let soon = Duration::from_secs(10);
        let end = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(100);
        let at = |minutes| end + SignedDuration::from_mins(minutes);
        let bg = Explain::Read(Priority::Background);
        assert_eq!(still_owed(Explain::Known, true, None, end, soon), Some(soon));
        assert_eq!(still_owed(Explain::Known, false, None, end, soon), None);
        assert_eq!(still_owed(bg, true, Some(end), at(59), soon), Some(RETRY_EXPLAINING));
        assert_eq!(still_owed(bg, true, Some(end), at(60), soon), None);
        assert_eq!(still_owed(bg, false, Some(end), at(1), soon), None);
        assert_eq!(still_owed(Explain::Read(Priority::Ending), true, None, end, soon), None);
    }
}
