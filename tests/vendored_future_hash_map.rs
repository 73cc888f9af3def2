//! kube-runtime's map of reconciles in flight, as patched in
//! vendor/kube-runtime (PATCHED.md): compiled here from the vendored file,
//! with upstream's own tests of it (the published crate's test suite needs
//! dev-dependencies it does not ship) and the property the patch is for.

#[path = "../vendor/kube-runtime/src/controller/future_hash_map.rs"]
mod future_hash_map;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use future_hash_map::FutureHashMap;
use futures::StreamExt as _;

/// A reconcile that waits (never woken) and counts how often it is polled.
struct Waiting(Arc<AtomicUsize>);

impl Future for Waiting {
    type Output = &'static str;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Poll::Pending
    }
}

/// One that is done at once.
struct Done;

impl Future for Done {
    type Output = &'static str;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready("done")
    }
}

type Either = futures::future::Either<Waiting, Done>;

#[tokio::test]
async fn a_wake_up_polls_the_woken_reconcile_not_every_one_in_flight() {
    let polls = Arc::new(AtomicUsize::new(0));
    let mut map: FutureHashMap<u32, Either> = FutureHashMap::default();
    const IN_FLIGHT: u32 = 2_000;
    for key in 0..IN_FLIGHT {
        assert!(map.insert(key, Either::Left(Waiting(polls.clone()))).is_none());
    }
    // Each waiting reconcile is polled once, when it is first seen.
    assert!(futures::poll!(map.next()).is_pending());
    assert_eq!(polls.load(Ordering::Relaxed), IN_FLIGHT as usize);
    // Then 100 reconciles finish, one after the other: upstream polled all
    // 2,000 waiting ones for each (200,000 polls); woken-only polls none.
    for key in IN_FLIGHT..IN_FLIGHT + 100 {
        assert!(map.insert(key, Either::Right(Done)).is_none());
        assert_eq!(map.next().await, Some("done"));
        assert!(!map.contains_key(&key), "a finished reconcile leaves the map");
    }
    assert_eq!(
        polls.load(Ordering::Relaxed),
        IN_FLIGHT as usize,
        "waiting reconciles were polled again"
    );
    assert_eq!(map.len(), IN_FLIGHT as usize);
    assert!(map.contains_key(&7));
}

#[tokio::test]
async fn a_key_in_flight_is_not_replaced() {
    let mut map: FutureHashMap<u32, Either> = FutureHashMap::default();
    assert!(map.insert(1, Either::Right(Done)).is_none());
    assert!(
        map.insert(1, Either::Right(Done)).is_some(),
        "handed back, not run twice"
    );
    assert_eq!(map.next().await, Some("done"));
    assert_eq!(map.next().await, None, "one ran");
}
