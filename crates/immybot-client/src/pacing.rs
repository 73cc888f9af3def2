//! How fast and how often the client talks to ImmyBot: a token-bucket rate
//! limit, a cap on requests in flight, and backoff between retries.
//!
//! Waiting goes through [`Sleeper`] so that tests can record the delays the
//! client chose instead of spending them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use std::collections::BTreeMap;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

use super::config::{Limits, RetryPolicy};

/// Something that waits. Production uses tokio's timer.
pub trait Sleeper: Send + Sync + 'static {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Waits on tokio's timer.
#[derive(Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Records every wait and returns at once: for tests of backoff and
/// `Retry-After`, which then run in microseconds and can assert exact delays.
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper {
    waits: Arc<std::sync::Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        if let Ok(mut w) = self.waits.lock() {
            w.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}

/// What a call is worth, when the budget is short: a waiting call of a
/// higher priority gets the next token first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Changes something in ImmyBot: a start, a cancel, a rerun, a resume,
    /// a schedule write. Whatever waits, these go first.
    Write,
    /// Reads of sessions that may have ended: their outcome is what a person
    /// waits for.
    Ending,
    /// The poller's listing of active sessions: how ends are noticed.
    Listing,
    /// Where a running session stands: the first to be put off.
    Progress,
    /// Afterthoughts (compliance after a session): served only when
    /// nothing else waits, and never moved ahead by age, so they delay no
    /// start, no end and no progress read.
    Background,
}

/// Token bucket with priorities, plus a concurrency cap.
///
/// A caller that finds tokens and nobody waiting goes at once. Otherwise it
/// waits in line and a ticker (a task that lives while anyone waits) hands
/// each token, as it comes due, to the waiter of the highest priority,
/// first come first served within one. Nothing starves: a waiter older
/// than `max_wait` is served before any newer one, whatever its priority.
pub(crate) struct Pacer {
    state: Arc<std::sync::Mutex<State>>,
    in_flight: Arc<Semaphore>,
    rate: f64,
    burst: f64,
    max_wait: Duration,
}

struct State {
    tokens: f64,
    updated: Instant,
    next_seq: u64,
    /// Waiting callers by (priority, arrival).
    by_priority: BTreeMap<(Priority, u64), Waiter>,
    /// The same by arrival alone, to find the oldest.
    by_arrival: BTreeMap<u64, Priority>,
    /// A ticker is running.
    ticking: bool,
    /// Tokens handed to waiters so far: every `RESERVED_EVERY`th is the
    /// reads' that see an end.
    granted: u64,
}

/// One token in this many, while a read that sees an end (`Ending`, or the
/// poller's `Listing`) waits, goes to it whatever writes wait: outcomes
/// stop queuing behind every start. Work-conserving: with no such read
/// waiting the token goes by priority, so the reserve costs the starts
/// nothing when nothing ends. At 10 requests/s that is 2.5/s for ends
/// (one listing per 200 sessions, then each ended object's own reads).
const RESERVED_EVERY: u64 = 4;

struct Waiter {
    since: Instant,
    grant: oneshot::Sender<()>,
}

impl State {
    fn refill(&mut self, rate: f64, burst: f64) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.updated).as_secs_f64() * rate).min(burst);
        self.updated = now;
    }

    /// The waiter to serve next: the oldest if it has waited `max_wait`,
    /// else the first of the highest priority.
    fn next(&self, max_wait: Duration) -> Option<(Priority, u64)> {
        if self.granted % RESERVED_EVERY == RESERVED_EVERY - 1
            && let Some(key) = self
                .by_priority
                .range((Priority::Ending, 0)..=(Priority::Listing, u64::MAX))
                .next()
                .map(|(k, _)| *k)
        {
            return Some(key);
        }
        // The oldest caller that ages (background ones never do).
        if let Some((&seq, &priority)) = self.by_arrival.iter().next() {
            let oldest = (priority, seq);
            let aged = self
                .by_priority
                .get(&oldest)
                .is_some_and(|w| w.since.elapsed() >= max_wait);
            if aged {
                return Some(oldest);
            }
        }
        self.by_priority.keys().next().copied()
    }

    /// Hands out the tokens there are; a waiter that went away (its call
    /// was dropped) takes none.
    fn grant(&mut self, max_wait: Duration) {
        while self.tokens >= 1.0 {
            let Some(key) = self.next(max_wait) else { return };
            self.by_arrival.remove(&key.1);
            if let Some(w) = self.by_priority.remove(&key)
                && w.grant.send(()).is_ok()
            {
                self.tokens -= 1.0;
                self.granted += 1;
            }
        }
    }
}

impl Pacer {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            state: Arc::new(std::sync::Mutex::new(State {
                tokens: f64::from(limits.burst),
                updated: Instant::now(),
                next_seq: 0,
                by_priority: BTreeMap::new(),
                by_arrival: BTreeMap::new(),
                ticking: false,
                granted: 0,
            })),
            in_flight: Arc::new(Semaphore::new(limits.max_concurrent)),
            rate: limits.requests_per_second,
            burst: f64::from(limits.burst),
            max_wait: limits.max_wait,
        }
    }

    /// Whether any call waits for a token now.
    pub(crate) fn has_waiters(&self) -> bool {
        !self.lock().by_priority.is_empty()
    }

    /// Whether a call of `priority` or a more urgent one waits now.
    pub(crate) fn has_waiters_at(&self, priority: Priority) -> bool {
        self.lock()
            .by_priority
            .keys()
            .next()
            .is_some_and(|(p, _)| *p <= priority)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a rate token (in the order of `priority`) and a
    /// concurrency slot; the slot is released when the permit drops.
    pub(crate) async fn admit(&self, priority: Priority, sleeper: &Arc<dyn Sleeper>) -> OwnedSemaphorePermit {
        let wait = {
            let mut state = self.lock();
            state.refill(self.rate, self.burst);
            if state.by_priority.is_empty() && state.tokens >= 1.0 {
                state.tokens -= 1.0;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                let seq = state.next_seq;
                state.next_seq += 1;
                state.by_priority.insert(
                    (priority, seq),
                    Waiter {
                        since: Instant::now(),
                        grant: tx,
                    },
                );
                // Background calls are never served for their age.
                if priority != Priority::Background {
                    state.by_arrival.insert(seq, priority);
                }
                if !state.ticking {
                    state.ticking = true;
                    tokio::spawn(tick(
                        self.state.clone(),
                        sleeper.clone(),
                        self.rate,
                        self.burst,
                        self.max_wait,
                    ));
                }
                Some(rx)
            }
        };
        if let Some(rx) = wait {
            // The ticker sends before it removes the waiter and never drops
            // a live one, so the sender cannot go away unanswered.
            let _ = rx.await;
        }
        // Invariant: `in_flight` is private to the pacer and never closed, so
        // acquiring can only wait, never fail.
        #[allow(clippy::expect_used)]
        self.in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the in-flight semaphore is never closed")
    }
}

/// Hands out tokens as they come due while anyone waits.
async fn tick(
    state: Arc<std::sync::Mutex<State>>,
    sleeper: Arc<dyn Sleeper>,
    rate: f64,
    burst: f64,
    max_wait: Duration,
) {
    loop {
        let wait = {
            let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            s.refill(rate, burst);
            s.grant(max_wait);
            if s.by_priority.is_empty() {
                s.ticking = false;
                return;
            }
            Duration::from_secs_f64(((1.0 - s.tokens) / rate).max(0.0))
        };
        sleeper.sleep(wait).await;
    }
}

/// The delay before retry number `attempt` (1 = the first retry):
/// exponential, capped, with "equal jitter" (half fixed, half random), so
/// that many clients that failed together do not retry together.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(policy.max_delay);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_and_caps() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (12, 1000)] {
            for _ in 0..50 {
                let d = backoff(&p, attempt).as_millis() as u64;
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d}ms outside [{}, {full}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn only_urgent_waiters_make_it_busy_for_a_write() {
        let pacer = Arc::new(Pacer::new(&limits(0.5, 1, Duration::from_secs(60))));
        drop(pacer.admit(Priority::Write, &tokio_sleeper()).await);
        assert!(!pacer.has_waiters());
        let wait = |priority: Priority| {
            let pacer = pacer.clone();
            tokio::spawn(async move { drop(pacer.admit(priority, &tokio_sleeper()).await) })
        };
        let background = wait(Priority::Background);
        tokio::task::yield_now().await;
        assert!(pacer.has_waiters());
        assert!(
            !pacer.has_waiters_at(Priority::Write),
            "a background read waits, no write"
        );
        assert!(pacer.has_waiters_at(Priority::Background));
        let write = wait(Priority::Write);
        tokio::task::yield_now().await;
        assert!(pacer.has_waiters_at(Priority::Write));
        background.abort();
        write.abort();
    }

    fn limits(rate: f64, burst: u32, max_wait: Duration) -> Limits {
        Limits {
            requests_per_second: rate,
            burst,
            max_concurrent: 100,
            max_wait,
        }
    }

    fn tokio_sleeper() -> Arc<dyn Sleeper> {
        Arc::new(TokioSleeper)
    }

    // Paused tokio time is a controllable clock: sleeps complete as soon as
    // the runtime is idle, and `Instant` reports exactly the virtual time spent.
    #[tokio::test(start_paused = true)]
    async fn pacer_holds_the_sustained_rate_after_the_burst() {
        let pacer = Pacer::new(&limits(2.0, 3, Duration::from_secs(60)));
        let started = Instant::now();
        for _ in 0..3 {
            drop(pacer.admit(Priority::Progress, &tokio_sleeper()).await);
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "the burst must pass without waiting");
        for _ in 0..4 {
            drop(pacer.admit(Priority::Progress, &tokio_sleeper()).await);
        }
        let spent = started.elapsed();
        assert!(
            spent >= Duration::from_millis(1990) && spent <= Duration::from_millis(2010),
            "4 more at 2/s took {spent:?}"
        );
    }

    /// Queues `callers` (priority each) one after another, then records the
    /// order they were served in.
    async fn served(pacer: Arc<Pacer>, callers: Vec<Priority>) -> Vec<usize> {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in callers.into_iter().enumerate() {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                drop(pacer.admit(p, &tokio_sleeper()).await);
                order.lock().unwrap().push(i);
            }));
            // Let it reach the queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        order.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn within_one_priority_callers_are_served_in_arrival_order() {
        let pacer = Arc::new(Pacer::new(&limits(10.0, 1, Duration::from_secs(60))));
        let started = Instant::now();
        let order = served(pacer, vec![Priority::Progress; 20]).await;
        assert_eq!(order, (0..20).collect::<Vec<_>>());
        let spent = started.elapsed();
        assert!(
            spent >= Duration::from_millis(1890) && spent <= Duration::from_millis(1910),
            "19 waited at 10/s: {spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_goes_before_every_read_already_waiting() {
        let pacer = Arc::new(Pacer::new(&limits(10.0, 1, Duration::from_secs(60))));
        let mut callers = vec![Priority::Progress; 30];
        callers.push(Priority::Listing);
        callers.push(Priority::Ending);
        callers.push(Priority::Write);
        let order = served(pacer, callers).await;
        // The first progress read took the one token there was; then the
        // write, the ending read, the listing, and the rest in order.
        assert_eq!(&order[..4], &[0, 32, 31, 30], "{order:?}");
        assert_eq!(&order[4..], &(1..30).collect::<Vec<_>>()[..]);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_that_see_an_end_get_a_share_while_writes_queue() {
        // 40 writes queued, then an ending read and the poller's listing:
        // each goes within the next four tokens, not after every write; a
        // progress read gets no share of the reserve.
        let pacer = Arc::new(Pacer::new(&limits(10.0, 1, Duration::from_secs(60))));
        let mut callers = vec![Priority::Write; 40];
        callers.push(Priority::Progress);
        callers.push(Priority::Ending);
        callers.push(Priority::Listing);
        let order = served(pacer, callers).await;
        let at = |who: usize| order.iter().position(|&i| i == who).unwrap();
        assert!(at(41) <= 5, "the ending read was served {}th: {order:?}", at(41));
        assert!(at(42) <= 9, "the listing was served {}th: {order:?}", at(42));
        assert_eq!(at(40), 42, "progress waits for every write: {order:?}");
        // The writes keep their order among themselves.
        let writes: Vec<usize> = order.iter().copied().filter(|&i| i < 40).collect();
        assert_eq!(writes, (0..40).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_starves_a_caller_past_max_wait_goes_next() {
        // 2 tokens a second, writes arriving faster than that for 30 s: the
        // one progress read still goes within max_wait (5 s) plus a token.
        let pacer = Arc::new(Pacer::new(&limits(2.0, 1, Duration::from_secs(5))));
        drop(pacer.admit(Priority::Write, &tokio_sleeper()).await);
        let reader = {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                drop(pacer.admit(Priority::Progress, &tokio_sleeper()).await);
                started.elapsed()
            })
        };
        tokio::task::yield_now().await;
        let writers: Vec<_> = (0..90)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move { drop(pacer.admit(Priority::Write, &tokio_sleeper()).await) })
            })
            .collect();
        let waited = reader.await.unwrap();
        assert!(
            waited >= Duration::from_secs(5) && waited <= Duration::from_millis(5600),
            "the read waited {waited:?}"
        );
        for w in writers {
            w.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn background_calls_wait_for_everything_whatever_their_age() {
        // The same 30 s of writes as above, with max_wait 5 s: a progress
        // read goes after 5 s, a background read only after the last write.
        let pacer = Arc::new(Pacer::new(&limits(2.0, 1, Duration::from_secs(5))));
        drop(pacer.admit(Priority::Write, &tokio_sleeper()).await);
        let waiting = |priority: Priority| {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                drop(pacer.admit(priority, &tokio_sleeper()).await);
                started.elapsed()
            })
        };
        let background = waiting(Priority::Background);
        let progress = waiting(Priority::Progress);
        tokio::task::yield_now().await;
        let writers: Vec<_> = (0..60)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    drop(pacer.admit(Priority::Write, &tokio_sleeper()).await);
                    Instant::now()
                })
            })
            .collect();
        let progress = progress.await.unwrap();
        let background = background.await.unwrap();
        let mut last_write = None;
        for w in writers {
            last_write = Some(w.await.unwrap());
        }
        assert!(
            progress <= Duration::from_millis(5600),
            "progress is promoted by age: {progress:?}"
        );
        assert!(
            background >= Duration::from_secs(30),
            "background waited for all 60 writes at 2/s: {background:?}"
        );
        assert!(last_write.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_went_away_takes_no_token() {
        let pacer = Arc::new(Pacer::new(&limits(1.0, 1, Duration::from_secs(60))));
        drop(pacer.admit(Priority::Write, &tokio_sleeper()).await);
        let gone = {
            let pacer = pacer.clone();
            tokio::spawn(async move { drop(pacer.admit(Priority::Write, &tokio_sleeper()).await) })
        };
        tokio::task::yield_now().await;
        gone.abort();
        let started = Instant::now();
        drop(pacer.admit(Priority::Progress, &tokio_sleeper()).await);
        assert!(
            started.elapsed() <= Duration::from_millis(1010),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn pacer_caps_requests_in_flight() {
        let pacer = Pacer::new(&Limits {
            requests_per_second: 1000.0,
            burst: 1000,
            max_concurrent: 2,
            max_wait: Duration::from_secs(60),
        });
        let sleeper = tokio_sleeper();
        let a = pacer.admit(Priority::Write, &sleeper).await;
        let _b = pacer.admit(Priority::Write, &sleeper).await;
        let third = tokio::time::timeout(Duration::from_millis(50), pacer.admit(Priority::Write, &sleeper)).await;
        assert!(third.is_err(), "a third request must wait for a slot");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), pacer.admit(Priority::Write, &sleeper)).await;
        assert!(third.is_ok(), "a freed slot must admit the waiting request");
    }
}
