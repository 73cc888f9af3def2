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
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
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

/// Token bucket plus concurrency cap.
pub(crate) struct Pacer {
    bucket: Mutex<Bucket>,
    in_flight: Arc<Semaphore>,
    rate: f64,
    burst: f64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Pacer {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limits.burst),
                updated: Instant::now(),
            }),
            in_flight: Arc::new(Semaphore::new(limits.max_concurrent)),
            rate: limits.requests_per_second,
            burst: f64::from(limits.burst),
        }
    }

    /// Waits for a rate token and a concurrency slot; the slot is released
    /// when the returned permit drops.
    ///
    /// Tokens are reserved in arrival order: a caller that finds the bucket
    /// empty takes the next token due (the count goes below zero) and sleeps
    /// until it is due. Callers are served first come, first served (the
    /// lock is fair), and each waits once, however many are queued: one
    /// object's burst of calls queues behind the calls already waiting
    /// instead of racing them for every token.
    pub(crate) async fn admit(&self, sleeper: &dyn Sleeper) -> OwnedSemaphorePermit {
        let wait = {
            let mut bucket = self.bucket.lock().await;
            let now = Instant::now();
            let refill = now.duration_since(bucket.updated).as_secs_f64() * self.rate;
            bucket.tokens = (bucket.tokens + refill).min(self.burst) - 1.0;
            bucket.updated = now;
            (bucket.tokens < 0.0).then(|| Duration::from_secs_f64(-bucket.tokens / self.rate))
        };
        if let Some(d) = wait {
            sleeper.sleep(d).await;
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

    // Paused tokio time is a controllable clock: sleeps complete as soon as
    // the runtime is idle, and `Instant` reports exactly the virtual time spent.
    #[tokio::test(start_paused = true)]
    async fn pacer_holds_the_sustained_rate_after_the_burst() {
        let pacer = Pacer::new(&Limits {
            requests_per_second: 2.0,
            burst: 3,
            max_concurrent: 10,
        });
        let started = Instant::now();
        for _ in 0..3 {
            drop(pacer.admit(&TokioSleeper).await);
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "the burst must pass without waiting");
        for _ in 0..4 {
            drop(pacer.admit(&TokioSleeper).await);
        }
        let spent = started.elapsed();
        assert!(
            spent >= Duration::from_millis(1990) && spent <= Duration::from_millis(2010),
            "4 more at 2/s took {spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn queued_callers_are_served_in_arrival_order_each_waiting_once() {
        let pacer = Arc::new(Pacer::new(&Limits {
            requests_per_second: 10.0,
            burst: 1,
            max_concurrent: 100,
        }));
        let sleeper = Arc::new(RecordingSleeper::default());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for caller in 0..20 {
            let (pacer, sleeper, order) = (pacer.clone(), sleeper.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                drop(pacer.admit(&*sleeper).await);
                order.lock().unwrap().push(caller);
            }));
            // Let it reach the queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        // One wait per queued caller, each a tenth of a second further out.
        let waits = sleeper.waits();
        assert_eq!(waits.len(), 19, "{waits:?}");
        for (i, w) in waits.iter().enumerate() {
            let due = Duration::from_millis(100 * (i as u64 + 1));
            assert!(
                w.abs_diff(due) < Duration::from_millis(2),
                "caller {} waited {w:?}, due {due:?}",
                i + 1
            );
        }
    }

    #[tokio::test]
    async fn pacer_caps_requests_in_flight() {
        let pacer = Pacer::new(&Limits {
            requests_per_second: 1000.0,
            burst: 1000,
            max_concurrent: 2,
        });
        let sleeper = TokioSleeper;
        let a = pacer.admit(&sleeper).await;
        let _b = pacer.admit(&sleeper).await;
        let third = tokio::time::timeout(Duration::from_millis(50), pacer.admit(&sleeper)).await;
        assert!(third.is_err(), "a third request must wait for a slot");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), pacer.admit(&sleeper)).await;
        assert!(third.is_ok(), "a freed slot must admit the waiting request");
    }
}
