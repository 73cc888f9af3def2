use futures::{FutureExt, Stream, StreamExt, stream::FuturesUnordered};
use std::{
    collections::HashSet,
    hash::Hash,
    pin::Pin,
    task::{Context, Poll},
};

// PATCHED (immybot-operator, vendor/kube-runtime/PATCHED.md): upstream keeps
// the futures in a `HashMap` and polls every one of them on every poll of
// the map, so a controller with thousands of reconciles in flight spends
// O(in flight) per wake-up. Here they run in a `FuturesUnordered`, which
// polls only the futures that were woken, and a `HashSet` of keys answers
// `contains_key`. The interface is upstream's.

/// Variant of [`tokio_stream::StreamMap`](https://docs.rs/tokio-stream/0.1.3/tokio_stream/struct.StreamMap.html)
/// that only runs [`Future`]s, keyed for (amortized) O(1) insertion and
/// membership checks, polling only the futures that were woken.
///
/// NOTE: Contrary to `StreamMap`, `FutureHashMap` does *not* try to be fair. The polling order
/// is arbitrary (although this should not be relied on!).
pub struct FutureHashMap<K, F> {
    futures: FuturesUnordered<Keyed<K, F>>,
    keys: HashSet<K>,
}

impl<K, F> std::fmt::Debug for FutureHashMap<K, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FutureHashMap").field("len", &self.keys.len()).finish()
    }
}

/// A future and its key, which it hands back with its output.
struct Keyed<K, F> {
    key: K,
    future: F,
}

impl<K: Clone + Unpin, F: Future + Unpin> Future for Keyed<K, F> {
    type Output = (K, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = futures::ready!(self.future.poll_unpin(cx));
        // A clone, as upstream's `find_map` made one (the key is an ObjectRef).
        Poll::Ready((self.key.clone(), output))
    }
}

impl<K, F> Default for FutureHashMap<K, F> {
    fn default() -> Self {
        Self {
            futures: FuturesUnordered::new(),
            keys: HashSet::new(),
        }
    }
}

impl<K, F> FutureHashMap<K, F>
where
    K: Hash + Eq + Clone,
{
    /// Inserts `future` under the key `key`. Unlike upstream, a key that is
    /// already running is not replaced: `future` is handed back unrun (the
    /// runner only inserts keys it checked are absent).
    pub fn insert(&mut self, key: K, future: F) -> Option<F> {
        if !self.keys.insert(key.clone()) {
            return Some(future);
        }
        self.futures.push(Keyed { key, future });
        None
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.keys.contains(key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

impl<K, F> Stream for FutureHashMap<K, F>
where
    K: Hash + Clone + Eq + Unpin,
    F: Future + Unpin,
    Self: Unpin,
{
    type Item = F::Output;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.futures.poll_next_unpin(cx) {
            Poll::Ready(Some((key, output))) => {
                self.keys.remove(&key);
                Poll::Ready(Some(output))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{future, task::Poll};

    use super::FutureHashMap;
    use futures::{StreamExt, channel::mpsc, poll};

    #[tokio::test]
    async fn fhm_should_forward_all_values_and_shut_down() {
        let mut fhm = FutureHashMap::default();
        let count = 100;
        for i in 0..count {
            fhm.insert(i, future::ready(i));
        }
        let mut values = fhm.collect::<Vec<u16>>().await;
        values.sort_unstable();
        assert_eq!(values, (0..count).collect::<Vec<u16>>());
    }

    #[tokio::test]
    async fn fhm_should_stay_alive_until_all_sources_finish() {
        // PATCHED: the receivers are declared first, to outlive the map
        // (which now has a destructor, FuturesUnordered's).
        let (tx0, mut rx0) = mpsc::unbounded::<()>();
        let (tx1, mut rx1) = mpsc::unbounded::<()>();
        let mut fhm = FutureHashMap::default();
        fhm.insert(0, rx0.next());
        fhm.insert(1, rx1.next());
        assert_eq!(poll!(fhm.next()), Poll::Pending);
        drop(tx0);
        assert_eq!(poll!(fhm.next()), Poll::Ready(Some(None)));
        assert_eq!(poll!(fhm.next()), Poll::Pending);
        drop(tx1);
        assert_eq!(poll!(fhm.next()), Poll::Ready(Some(None)));
        assert_eq!(poll!(fhm.next()), Poll::Ready(None));
    }
}
