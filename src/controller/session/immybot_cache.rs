//! What ImmyBot told that cannot change, or has not changed since: the
//! reason a reconcile costs no ImmyBot call for work that is done.
//!
//! - Ended sessions, their actions and logs: read once, kept.
//! - Running sessions, their actions and logs: kept with the session's
//!   status and `updatedDateUTC` as read; served while the poller's last
//!   cycle ([`ActiveSessions`]) shows the session with the same two values.
//! - The compliant (`NoAction`) counts of large objects.
//!
//! Lives as long as the process; a restarted operator reads each session
//! once more. Bounded: past [`CACHE_MAX_SESSIONS`] it starts afresh.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use immybot_client::{MaintenanceAction, MaintenanceSession, SessionLog, SessionStatus, WireTime};

/// A bound on the cache: past it, it starts afresh (each session is then
/// read once more).
const CACHE_MAX_SESSIONS: usize = 200_000;

/// A session as a `dx` row or a read showed it: what tells that it changed.
pub type Seen = (Option<SessionStatus>, Option<WireTime>);

fn seen(s: &MaintenanceSession) -> Seen {
    (s.session_status.clone(), s.updated_date_utc)
}

pub(super) fn ended(s: &MaintenanceSession) -> bool {
    s.session_status.as_ref().is_some_and(|x| x.is_terminal())
}

#[derive(Default)]
pub struct ImmyBotCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Ended sessions as last read (without actions): they never change.
    ended_sessions: HashMap<i32, Arc<MaintenanceSession>>,
    ended: HashMap<i32, Arc<Vec<MaintenanceAction>>>,
    /// Running sessions as last read in full (without actions), and when.
    running_sessions: HashMap<i32, (Instant, Arc<MaintenanceSession>)>,
    /// Running sessions' actions as last read, with the session's
    /// `updatedDateUTC` then: re-read only when it moved.
    running: HashMap<i32, (WireTime, Arc<Vec<MaintenanceAction>>)>,
    /// Log lines per session, with what the session looked like when read.
    logs: HashMap<i32, (Seen, Arc<Vec<SessionLog>>)>,
    /// Per object uid: `NoAction` rows per maintenance item.
    compliant: HashMap<String, BTreeMap<String, i64>>,
    /// Log excerpts of failed actions, by action id: an ended action's log
    /// does not change.
    excerpts: HashMap<i32, Arc<Vec<String>>>,
}

impl Inner {
    fn bound(&mut self) {
        let size = self.ended_sessions.len()
            + self.running_sessions.len()
            + self.ended.len()
            + self.running.len()
            + self.excerpts.len();
        if size >= CACHE_MAX_SESSIONS {
            *self = Inner::default();
        }
    }
}

impl ImmyBotCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session as last read, if that still holds: ended (for good), or
    /// running and shown unchanged by the poller's last cycle.
    pub fn session(&self, id: i32, active: &ActiveSessions) -> Option<MaintenanceSession> {
        let inner = self.lock();
        if let Some(s) = inner.ended_sessions.get(&id) {
            return Some(s.as_ref().clone());
        }
        let (_, s) = inner.running_sessions.get(&id)?;
        active.unchanged(id, &seen(s)).then(|| s.as_ref().clone())
    }

    /// Forgets what is known of session `id` (its session, actions and
    /// logs): the next look reads it. For a session an action rerun may
    /// run again in place, whose end was not for good after all.
    pub fn forget(&self, id: i32) {
        let mut inner = self.lock();
        inner.ended_sessions.remove(&id);
        inner.ended.remove(&id);
        inner.running_sessions.remove(&id);
        inner.running.remove(&id);
        inner.logs.remove(&id);
    }

    /// The session as it ended, if known: it never changes (but see
    /// [`forget`](Self::forget)).
    pub fn ended_session(&self, id: i32) -> Option<MaintenanceSession> {
        self.lock().ended_sessions.get(&id).map(|s| s.as_ref().clone())
    }

    /// A running session's last full read and when it was made, whatever
    /// changed since (for what a row of the listing does not carry).
    pub fn last_read(&self, id: i32) -> Option<(Instant, MaintenanceSession)> {
        let inner = self.lock();
        inner.running_sessions.get(&id).map(|(at, s)| (*at, s.as_ref().clone()))
    }

    /// A failed action's log excerpt, if it was read.
    pub fn excerpt(&self, action_id: i32) -> Option<Arc<Vec<String>>> {
        self.lock().excerpts.get(&action_id).cloned()
    }

    /// Keeps a failed action's log excerpt.
    pub fn remember_excerpt(&self, action_id: i32, excerpt: Vec<String>) {
        let mut inner = self.lock();
        inner.bound();
        inner.excerpts.insert(action_id, Arc::new(excerpt));
    }

    /// Keeps a session as read from ImmyBot (without its actions).
    pub fn remember_session(&self, session: &MaintenanceSession) {
        let mut inner = self.lock();
        inner.bound();
        let mut kept = session.clone();
        kept.maintenance_actions = None;
        if ended(session) {
            inner.running_sessions.remove(&session.id);
            inner.ended_sessions.insert(session.id, Arc::new(kept));
        } else {
            inner
                .running_sessions
                .insert(session.id, (Instant::now(), Arc::new(kept)));
        }
    }

    /// The actions known for this session as ImmyBot describes it now: an
    /// ended session's for good, a running one's while it has not changed.
    pub(super) fn actions(&self, session: &MaintenanceSession) -> Option<Arc<Vec<MaintenanceAction>>> {
        let inner = self.lock();
        if let Some(actions) = inner.ended.get(&session.id) {
            return Some(actions.clone());
        }
        match (inner.running.get(&session.id), session.updated_date_utc) {
            (Some((seen, actions)), Some(now)) if *seen == now && !ended(session) => Some(actions.clone()),
            _ => None,
        }
    }

    /// The actions last read for a running session, whatever changed since.
    pub(super) fn last_actions(&self, id: i32) -> Option<Arc<Vec<MaintenanceAction>>> {
        self.lock().running.get(&id).map(|(_, a)| a.clone())
    }

    pub(super) fn remember_actions(&self, session: &MaintenanceSession, actions: Vec<MaintenanceAction>) {
        let mut inner = self.lock();
        inner.bound();
        if ended(session) {
            inner.running.remove(&session.id);
            inner.ended.insert(session.id, Arc::new(actions));
        } else if let Some(updated) = session.updated_date_utc {
            inner.running.insert(session.id, (updated, Arc::new(actions)));
        }
    }

    /// The logs read for this session when it looked as it does now. Only
    /// with an update time: without one, a change could not be told.
    pub(super) fn logs(&self, session: &MaintenanceSession) -> Option<Arc<Vec<SessionLog>>> {
        let inner = self.lock();
        let (when, logs) = inner.logs.get(&session.id)?;
        (session.updated_date_utc.is_some() && *when == seen(session)).then(|| logs.clone())
    }

    pub(super) fn remember_logs(&self, session: &MaintenanceSession, logs: Vec<SessionLog>) {
        let mut inner = self.lock();
        if inner.logs.len() >= CACHE_MAX_SESSIONS {
            inner.logs.clear();
        }
        inner.logs.insert(session.id, (seen(session), Arc::new(logs)));
    }

    pub(super) fn compliant(&self, object_uid: &str) -> Option<BTreeMap<String, i64>> {
        self.lock().compliant.get(object_uid).cloned()
    }

    pub(super) fn remember_compliant(&self, object_uid: &str, counts: BTreeMap<String, i64>) {
        self.lock().compliant.insert(object_uid.to_owned(), counts);
    }
}

/// ImmyBot's active sessions as the poller's last cycle listed them (the
/// rows), and which session ids the objects had recorded when that cycle
/// began. Empty until the first cycle. Rows that lack `sessionStatus` or
/// `updatedDateUTC` (the document does not promise them in `dx` rows) never
/// count as unchanged: such sessions are read.
#[derive(Default)]
pub struct ActiveSessions {
    last: RwLock<Arc<Listing>>,
    wake: tokio::sync::Notify,
    /// When a start last woke the poller.
    woken_at: std::sync::Mutex<Option<tokio::time::Instant>>,
}

/// One cycle's listing.
#[derive(Default)]
pub struct Listing {
    pub rows: HashMap<i32, MaintenanceSession>,
    /// The session ids recorded in objects when the cycle began: a session
    /// not among them could not have been listed yet.
    pub known: std::collections::HashSet<i32>,
    /// Whether a cycle produced this listing (the default, before the
    /// first cycle, did not: it knows nothing).
    pub listed: bool,
}

impl ActiveSessions {
    /// A start is being sent: the poller's next cycle should come now.
    pub fn wake(&self) {
        *self.woken_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
        self.wake.notify_one();
    }

    /// Whether a start woke the poller within `window`. The cycle a wake
    /// causes can list ImmyBot before the start's sessions exist and before
    /// the object's status shows it starting (the store lags the write):
    /// it then finds nothing to wait on, and going idle would leave the new
    /// sessions unseen for the idle interval.
    pub fn woken_within(&self, window: std::time::Duration) -> bool {
        self.woken_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < window)
    }

    /// When a start last woke the poller.
    fn woken_at(&self) -> Option<tokio::time::Instant> {
        *self.woken_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An active sleep until `deadline` that ends early once the starts
    /// have paused for `settle` (and no cycle began since) while `busy` says
    /// the budget has no call waiting: a burst of starts over, one look
    /// soon sees the sessions that ended at once (nothing to do, computer
    /// offline) instead of leaving them for the rest of the interval
    /// (`busy`: starts wait, so the burst is not over). A
    /// burst still going moves the look on (each start pushes it back), so
    /// the cost is one listing per burst.
    pub async fn sleep_active(
        &self,
        deadline: tokio::time::Instant,
        cycle_began: tokio::time::Instant,
        settle: std::time::Duration,
        busy: impl Fn() -> bool,
    ) {
        loop {
            // A cycle that began after the look was due served as it.
            let look = self
                .woken_at()
                .map(|at| at + settle)
                .filter(|at| *at > cycle_began && *at < deadline);
            let until = look.unwrap_or(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                // A start: the look moves on; recompute.
                () = self.wake.notified() => continue,
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return;
            }
            // Settled: look, unless calls wait for the budget (then the
            // interval's own cycle comes, or the next start's look).
            if look.is_some_and(|at| now >= at) && !busy() {
                return;
            }
            if look.is_some_and(|at| now >= at) {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => return,
                    () = self.wake.notified() => {}
                }
            }
        }
    }

    /// Sleeps `interval`; an idle sleep ends early if [`wake`](Self::wake)
    /// is called. An active sleep does not: its next cycle comes within the
    /// active interval anyway, and in a burst of starts every wake ending
    /// it made the poller list ImmyBot 27 times a second (1,000 starts).
    pub async fn sleep_or_wake(&self, interval: std::time::Duration, idle: bool) {
        if !idle {
            tokio::time::sleep(interval).await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = self.wake.notified() => {}
        }
    }

    pub fn replace(&self, listing: Listing) {
        *self.last.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(listing);
    }

    fn last(&self) -> Arc<Listing> {
        self.last
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the last cycle showed session `id` exactly as `as_read`.
    pub fn unchanged(&self, id: i32, as_read: &Seen) -> bool {
        as_read.0.is_some() && as_read.1.is_some() && self.last().rows.get(&id).map(seen).as_ref() == Some(as_read)
    }

    /// The computers the last cycle saw busy (computer id to the session
    /// holding it), from rows that carry `computerId`; `None` before the
    /// first cycle.
    pub fn busy_computers(&self) -> Option<HashMap<i32, i32>> {
        let last = self.last();
        if !last.listed {
            return None;
        }
        Some(
            last.rows
                .values()
                .filter_map(|s| Some((s.computer_id?, s.id)))
                .collect(),
        )
    }

    /// Where the last cycle saw session `id`.
    pub fn where_is(&self, id: i32) -> Listed {
        let last = self.last();
        match last.rows.get(&id) {
            Some(row) => Listed::Active(Box::new(row.clone())),
            None if last.known.contains(&id) => Listed::NotActive,
            None => Listed::NotYet,
        }
    }
}

/// A session as the poller's last cycle saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Listed {
    /// Listed as active, with its row.
    Active(Box<MaintenanceSession>),
    /// Known when the cycle began, and not listed: it ended (or is gone).
    NotActive,
    /// Recorded after the cycle began: not listed yet.
    NotYet,
}

#[cfg(test)]
mod tests {
    use super::*;

    mod settling {
        use super::*;
        use tokio::time::{Duration, Instant};

        /// When `sleep_active` returns, in seconds from the cycle's start:
        /// a start woke the poller `before` seconds ahead of the cycle (if
        /// at all), then at each of `wakes` after it; the budget busy with
        /// writes or not.
        async fn returns_after(before: Option<f64>, wakes: &[f64], busy: bool) -> f64 {
            let active = std::sync::Arc::new(ActiveSessions::default());
            if let Some(ahead) = before {
                active.wake();
                tokio::time::sleep(Duration::from_secs_f64(ahead)).await;
            }
            let began = Instant::now();
            let waker = {
                let (active, wakes) = (active.clone(), wakes.to_vec());
                tokio::spawn(async move {
                    for at in wakes {
                        tokio::time::sleep_until(began + Duration::from_secs_f64(at)).await;
                        active.wake();
                    }
                })
            };
            active
                .sleep_active(began + Duration::from_secs(10), began, Duration::from_secs(2), || busy)
                .await;
            waker.abort();
            (Instant::now() - began).as_secs_f64()
        }

        #[tokio::test(start_paused = true)]
        async fn a_burst_of_starts_over_brings_one_look_forward() {
            // No start: the interval.
            assert_eq!(returns_after(None, &[], false).await, 10.0);
            // One start at 1 s: a look at 3 s.
            assert_eq!(returns_after(None, &[1.0], false).await, 3.0);
            // A burst until 6 s: each start moves the look; 8 s.
            let burst: Vec<f64> = (1..=12).map(|i| f64::from(i) * 0.5).collect();
            assert_eq!(returns_after(None, &burst, false).await, 8.0);
            // Starts still wait for the budget: the interval.
            assert_eq!(returns_after(None, &[1.0], true).await, 10.0);
            // A start too late for a look before the interval: the interval.
            assert_eq!(returns_after(None, &[9.0], false).await, 10.0);
            // Answered 0.5 s before this cycle began: its look is still due
            // (this cycle may have seen the sessions running), at 1.5 s.
            assert_eq!(returns_after(Some(0.5), &[], false).await, 1.5);
            // Answered 3 s before: this cycle was the look; the interval.
            assert_eq!(returns_after(Some(3.0), &[], false).await, 10.0);
        }
    }

    fn listing(rows: &[MaintenanceSession]) -> Listing {
        Listing {
            rows: rows.iter().map(|r| (r.id, r.clone())).collect(),
            known: rows.iter().map(|r| r.id).collect(),
            listed: true,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_keeps_the_poller_awake_for_the_window() {
        let active = ActiveSessions::default();
        assert!(!active.woken_within(std::time::Duration::from_secs(90)), "never woken");
        active.wake();
        tokio::time::advance(std::time::Duration::from_secs(89)).await;
        assert!(active.woken_within(std::time::Duration::from_secs(90)));
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert!(!active.woken_within(std::time::Duration::from_secs(90)));
    }

    #[test]
    fn busy_computers_are_known_once_a_cycle_listed_even_an_empty_fleet() {
        let active = ActiveSessions::default();
        assert_eq!(active.busy_computers(), None, "no cycle yet: nothing is known");
        active.replace(listing(&[]));
        assert_eq!(active.busy_computers(), Some(HashMap::new()), "listed: nobody is busy");
        let mut r = running(7, "2026-11-24T09:00:00Z");
        r.computer_id = Some(102);
        active.replace(listing(&[r]));
        assert_eq!(active.busy_computers(), Some(HashMap::from([(102, 7)])));
    }

    #[test]
    fn where_a_session_is_says_what_a_reader_may_assume() {
        let active = ActiveSessions::default();
        let mut l = listing(&[running(7, "2026-11-24T09:00:00Z")]);
        l.known.insert(8);
        active.replace(l);
        assert!(matches!(active.where_is(7), Listed::Active(r) if r.id == 7));
        assert_eq!(active.where_is(8), Listed::NotActive, "known and not listed: it ended");
        assert_eq!(active.where_is(9), Listed::NotYet, "recorded after the cycle began");
    }

    fn running(id: i32, updated: &str) -> MaintenanceSession {
        MaintenanceSession {
            id,
            session_status: Some(SessionStatus::Running),
            updated_date_utc: WireTime::parse(updated),
            ..Default::default()
        }
    }

    #[test]
    fn a_running_session_is_served_only_while_the_poller_shows_it_unchanged() {
        let cache = ImmyBotCache::default();
        let active = ActiveSessions::default();
        let s = running(7, "2026-11-24T09:00:00Z");
        cache.remember_session(&s);
        // No cycle yet: read it.
        assert_eq!(cache.session(7, &active), None);
        active.replace(listing(std::slice::from_ref(&s)));
        assert_eq!(cache.session(7, &active).map(|s| s.id), Some(7));
        // It moved: read it again.
        active.replace(listing(&[running(7, "2026-11-24T09:00:05Z")]));
        assert_eq!(cache.session(7, &active), None);
        // It left the active list (it ended): read it again.
        active.replace(listing(&[]));
        assert_eq!(cache.session(7, &active), None);
    }

    #[test]
    fn rows_without_status_or_update_time_never_count_as_unchanged() {
        let cache = ImmyBotCache::default();
        let active = ActiveSessions::default();
        let mut s = running(8, "2026-11-24T09:00:00Z");
        s.updated_date_utc = None;
        cache.remember_session(&s);
        active.replace(listing(std::slice::from_ref(&s)));
        assert_eq!(cache.session(8, &active), None);
        assert!(cache.logs(&s).is_none());
        cache.remember_logs(&s, vec![]);
        assert!(cache.logs(&s).is_none(), "without an update time, logs are read again");
    }

    #[test]
    fn an_ended_session_is_kept_for_good() {
        let cache = ImmyBotCache::default();
        let active = ActiveSessions::default();
        let mut s = running(9, "2026-11-24T09:00:00Z");
        s.session_status = Some(SessionStatus::Passed);
        cache.remember_session(&s);
        assert_eq!(cache.session(9, &active).map(|s| s.id), Some(9));
        cache.remember_logs(&s, vec![]);
        assert!(cache.logs(&s).is_some());
    }
}
