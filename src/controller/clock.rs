//! The controllers' clock: the system clock, shifted by an offset that only
//! tests move. Every "now" a reconcile decides with comes from here, so
//! that an end-to-end test can jump to 01:59 on a daylight-saving day or
//! two days past a missed run without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A time as the API server stores it: whole seconds (`metav1.Time`).
/// ImmyBot's times have milliseconds; kept, they made every reconcile see a
/// difference from the stored status that the write then dropped again, so
/// each one was a write that changed nothing (2,479 in 30 s at 5,000
/// running sessions).
pub fn stored_time(t: jiff::Timestamp) -> Time {
    Time(jiff::Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// Parses `90m`, `1h30m`, `45s`, `500ms` (what the schema's pattern allows).
pub fn parse_duration(text: Option<&str>) -> Option<std::time::Duration> {
    let text = text?;
    let mut total = std::time::Duration::ZERO;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                std::time::Duration::from_millis(value)
            }
            ('h', _) => std::time::Duration::from_secs(value * 3600),
            ('m', _) => std::time::Duration::from_secs(value * 60),
            ('s', _) => std::time::Duration::from_secs(value),
            _ => return None,
        };
        total += unit;
    }
    (number.is_empty() && total > std::time::Duration::ZERO).then_some(total)
}

pub struct Clock {
    /// Milliseconds added to the system clock (0 in production).
    offset_ms: AtomicI64,
    /// Bumped on every move, so that controllers re-decide at once.
    moved: tokio::sync::watch::Sender<u64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            moved: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::SeqCst));
        Timestamp::now()
            .checked_add(offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Makes `now()` read `at` from here on (and run on from there). Tests only.
    pub fn set(&self, at: Timestamp) {
        let offset = at.duration_since(Timestamp::now());
        self.offset_ms
            .store(i64::try_from(offset.as_millis()).unwrap_or(0), Ordering::SeqCst);
        self.moved.send_modify(|n| *n += 1);
    }

    /// A stream that yields each time a test moves the clock (never in
    /// production): the controller re-decides every object then.
    pub fn moves(&self) -> impl futures::Stream<Item = ()> + Send + 'static {
        let mut rx = self.moved.subscribe();
        rx.mark_unchanged();
        futures::stream::unfold(rx, |mut rx| async move { rx.changed().await.ok().map(|()| ((), rx)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    #[tokio::test]
    async fn a_set_clock_reads_the_new_time_and_announces_the_move() {
        let clock = Clock::default();
        let before = clock.now();
        assert!(before.duration_since(Timestamp::now()).abs() < SignedDuration::from_secs(1));
        let mut moves = Box::pin(clock.moves());
        let target: Timestamp = "2026-03-29T00:59:00Z".parse().unwrap();
        clock.set(target);
        let off = clock.now().duration_since(target);
        assert!(
            off >= SignedDuration::ZERO && off < SignedDuration::from_secs(1),
            "{off:?}"
        );
        assert_eq!(
            tokio::time::timeout(std::time::Duration::from_secs(5), moves.next())
                .await
                .unwrap(),
            Some(())
        );
    }
}
