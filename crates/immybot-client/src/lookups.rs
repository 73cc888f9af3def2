//! What rarely changes, asked once per while: the tenant list, computers
//! by name, a schedule's definition. One cache per client (per ImmyBot
//! connection), each answer with a bounded age. A miss is asked again (a
//! tenant or computer just created is found), and the client's own writes
//! to a schedule drop its entry.
//!
//! Callers that share a key wait for one call instead of making one each;
//! callers of other keys do not wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// How old a cached answer may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupAges {
    /// The tenant list (an MSP's customers change rarely).
    pub tenants: Duration,
    /// A computer name's ids (names change rarely; a name not found is
    /// never cached).
    pub computers_by_name: Duration,
    /// A schedule's definition: how late a change made in ImmyBot's own UI
    /// may be noticed (drift), beyond the reconcile interval.
    pub schedules: Duration,
}

impl Default for LookupAges {
    fn default() -> Self {
        Self {
            tenants: Duration::from_secs(300),
            computers_by_name: Duration::from_secs(300),
            schedules: Duration::from_secs(5),
        }
    }
}

impl LookupAges {
    /// Nothing cached: every look-up asks ImmyBot.
    pub fn none() -> Self {
        Self {
            tenants: Duration::ZERO,
            computers_by_name: Duration::ZERO,
            schedules: Duration::ZERO,
        }
    }
}

/// A bounded map of answers by key, each with the time it was asked.
/// Past `MAX_ENTRIES` the oldest go: a fleet's worth of names cannot grow
/// it without end.
pub(crate) struct Cached<K, V> {
    slots: std::sync::Mutex<HashMap<K, Slot<V>>>,
}

/// One key's answer and when it was asked. Its own lock: callers of one
/// key wait for one call, callers of others do not wait at all.
type Slot<V> = Arc<Mutex<Option<(Instant, Arc<V>)>>>;

const MAX_ENTRIES: usize = 4096;

impl<K: std::hash::Hash + Eq + Clone, V> Default for Cached<K, V> {
    fn default() -> Self {
        Self {
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> Cached<K, V> {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn slot(&self, key: &K) -> Slot<V> {
        let mut slots = self.slots();
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        if slots.len() >= MAX_ENTRIES {
            // Empty slots first (misses, forgotten keys), else any: the
            // map only bounds memory; a dropped answer is asked again.
            let victim = slots
                .iter()
                .find(|(_, s)| s.try_lock().is_ok_and(|g| g.is_none()))
                .or_else(|| slots.iter().next())
                .map(|(k, _)| k.clone());
            if let Some(k) = victim {
                slots.remove(&k);
            }
        }
        slots.entry(key.clone()).or_default().clone()
    }

    /// The answer for `key` no older than `age`, else `ask`'s (kept when
    /// `keep` says so).
    pub(crate) async fn get_or_ask<E, F, Fut>(
        &self,
        key: &K,
        age: Duration,
        keep: impl Fn(&V) -> bool,
        ask: F,
    ) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key);
        let mut entry = slot.lock().await;
        if let Some((at, value)) = entry.as_ref()
            && at.elapsed() < age
        {
            return Ok(value.clone());
        }
        let value = Arc::new(ask().await?);
        *entry = (age > Duration::ZERO && keep(&value)).then(|| (Instant::now(), value.clone()));
        Ok(value)
    }

    pub(crate) async fn forget(&self, key: &K) {
        let slot = self.slots().get(key).cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn ask_counted(calls: &AtomicU32, answer: Vec<i32>) -> Result<Vec<i32>, ()> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(answer)
    }

    #[tokio::test]
    async fn an_answer_serves_until_its_age_and_a_miss_is_asked_again() {
        let cache: Cached<String, Vec<i32>> = Cached::default();
        let calls = AtomicU32::new(0);
        let key = "pc-1".to_string();
        let age = Duration::from_secs(60);
        let keep = |v: &Vec<i32>| !v.is_empty();
        for _ in 0..3 {
            let got = cache
                .get_or_ask(&key, age, keep, || ask_counted(&calls, vec![7]))
                .await
                .unwrap();
            assert_eq!(*got, vec![7]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let missing = "pc-new".to_string();
        for _ in 0..2 {
            cache
                .get_or_ask(&missing, age, keep, || ask_counted(&calls, vec![]))
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a miss is never cached");
        cache.forget(&key).await;
        cache
            .get_or_ask(&key, age, keep, || ask_counted(&calls, vec![7]))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "a forgotten key is asked again");
    }

    #[tokio::test]
    async fn age_zero_caches_nothing() {
        let cache: Cached<u8, Vec<i32>> = Cached::default();
        let calls = AtomicU32::new(0);
        for _ in 0..3 {
            cache
                .get_or_ask(&0, Duration::ZERO, |_| true, || ask_counted(&calls, vec![1]))
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_map_is_bounded() {
        let cache: Cached<usize, Vec<i32>> = Cached::default();
        for k in 0..MAX_ENTRIES + 10 {
            cache
                .get_or_ask(&k, Duration::from_secs(60), |_| true, || async { Ok::<_, ()>(vec![1]) })
                .await
                .unwrap();
        }
        assert_eq!(cache.slots().len(), MAX_ENTRIES);
    }
}
