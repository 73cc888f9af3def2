//! At most N of this process's API-server writes in flight, handed out by
//! priority: the write that finishes a session first, the event last.
//!
//! Why: when many sessions start and end together, the API server is the
//! bottleneck (on the bench's two cores a status PUT costs ~3 creates of
//! CPU: decode, schema, CEL, managedFields). Sending every write at once
//! only moves the queue into the API server, where a final status waits
//! behind hundreds of intents and events, and the server's one watch
//! goroutine per resource is starved, so every watcher sees writes late.
//! Queued here instead, the write a user waits for goes first. Throughput
//! stays the same: a few writes in flight keep the server busy.
//!
//! Within one priority the order is first come, first served, so one
//! object's writes keep their order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The operator's default number of writes in flight
/// (`--max-concurrent-api-writes`): on the bench's two-core control plane,
/// enough to keep the API server busy; on a real one, ~10 ms writes make it
/// ~1,600 writes/s, more than API Priority and Fairness gives one client.
pub const DEFAULT_SLOTS: usize = 16;

/// What a write is for; the order of the variants is the order of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WritePriority {
    /// A status that ends the session: the lag a person watching sees.
    Final,
    /// What ImmyBot answered to a call that changed it (the session ids a
    /// start created, a rerun or a cancel it accepted): what crash safety
    /// waits on.
    StartResult,
    /// A status on the way to a start (phase Starting: the start intent),
    /// which the start itself waits on.
    Start,
    /// Any other status (progress, conditions).
    Progress,
    /// The finalizer of an object no work has begun on.
    NewObject,
    /// A Kubernetes Event: best effort, may trail a burst.
    Event,
}

impl WritePriority {
    const ALL: [WritePriority; 6] = [
        Self::Final,
        Self::StartResult,
        Self::Start,
        Self::Progress,
        Self::NewObject,
        Self::Event,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Final => "final",
            Self::StartResult => "start_result",
            Self::Start => "start",
            Self::Progress => "progress",
            Self::NewObject => "new_object",
            Self::Event => "event",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The gate. Cloning shares it. `unlimited()` never waits.
#[derive(Clone)]
pub struct WriteGate {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    /// Events in flight, and how many may be: events never hold more than
    /// a quarter of the slots, so a status write rarely waits behind one.
    events: usize,
    event_cap: usize,
    waiting: [VecDeque<oneshot::Sender<Permit>>; WritePriority::ALL.len()],
}

impl State {
    fn may_take(&self, priority: WritePriority) -> bool {
        self.free > 0 && (priority != WritePriority::Event || self.events < self.event_cap)
    }

    fn take(&mut self, priority: WritePriority) {
        self.free -= 1;
        if priority == WritePriority::Event {
            self.events += 1;
        }
    }

    fn give_back(&mut self, priority: WritePriority) {
        self.free += 1;
        if priority == WritePriority::Event {
            self.events -= 1;
        }
    }
}

/// Leave to write; dropping it lets the next write go.
#[derive(Debug)]
#[must_use = "the write's slot is released when the permit is dropped"]
pub struct Permit {
    gate: Option<Arc<Inner>>,
    priority: WritePriority,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(inner) = self.gate.take() {
            inner.release(self.priority);
        }
    }
}

impl Default for WriteGate {
    fn default() -> Self {
        Self::unlimited()
    }
}

impl WriteGate {
    /// At most `slots` writes at once; 0 means no limit.
    pub fn new(slots: usize) -> Self {
        if slots == 0 {
            return Self::unlimited();
        }
        Self {
            inner: Some(Arc::new(Inner {
                state: Mutex::new(State {
                    free: slots,
                    events: 0,
                    event_cap: (slots / 4).max(1),
                    waiting: Default::default(),
                }),
            })),
        }
    }

    pub fn unlimited() -> Self {
        Self { inner: None }
    }

    /// Waits for a slot; returns the permit and how long it waited.
    /// Cancel-safe: a dropped wait gives up its place, and a slot handed to
    /// it in the meantime goes to the next in line.
    pub async fn acquire(&self, priority: WritePriority) -> (Permit, Duration) {
        let started = Instant::now();
        let unarmed = Permit { gate: None, priority };
        let Some(inner) = &self.inner else {
            return (unarmed, Duration::ZERO);
        };
        let rx = {
            let mut state = inner.lock();
            // A slot this write may take means nobody it would queue behind
            // waits: release hands slots to the waiters that may take them
            // before it frees them.
            if state.may_take(priority) {
                state.take(priority);
                return (
                    Permit {
                        gate: Some(inner.clone()),
                        priority,
                    },
                    Duration::ZERO,
                );
            }
            let (tx, rx) = oneshot::channel();
            state.waiting[priority.index()].push_back(tx);
            rx
        };
        // The sender lives in the gate's queue until a slot is handed to it,
        // so an error means the gate itself is gone: nothing left to limit.
        let permit = rx.await.unwrap_or(unarmed);
        (permit, started.elapsed())
    }

    /// Whether a write of `priority` would queue behind others: writes of
    /// that priority or a higher one wait. The moment to put off writes
    /// that can wait. (Lower ones waiting do not count: this write would go
    /// ahead of them.)
    pub fn is_congested_for(&self, priority: WritePriority) -> bool {
        self.inner.as_ref().is_some_and(|i| {
            i.lock()
                .waiting
                .iter()
                .take(priority.index() + 1)
                .any(|q| !q.is_empty())
        })
    }

    /// Writes waiting.
    pub fn waiting(&self) -> usize {
        self.inner
            .as_ref()
            .map(|i| i.lock().waiting.iter().map(VecDeque::len).sum())
            .unwrap_or(0)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot of `released` came back: to the first waiter of the highest
    /// priority that may take it, else it stays free. The hand-over happens
    /// outside the lock, because a permit that cannot be delivered is
    /// dropped.
    fn release(self: &Arc<Self>, released: WritePriority) {
        let mut back = released;
        loop {
            let (tx, priority) = {
                let mut state = self.lock();
                state.give_back(back);
                let next = WritePriority::ALL
                    .into_iter()
                    .find(|p| !state.waiting[p.index()].is_empty() && state.may_take(*p));
                let Some(priority) = next else { return };
                let Some(tx) = state.waiting[priority.index()].pop_front() else {
                    return;
                };
                state.take(priority);
                (tx, priority)
            };
            match tx.send(Permit {
                gate: Some(self.clone()),
                priority,
            }) {
                Ok(()) => return,
                // That waiter gave up: disarm the permit (its drop would
                // release again), take the slot back and try the next one.
                Err(mut unclaimed) => {
                    unclaimed.gate = None;
                    back = priority;
                }
            }
        }
    }
}

/// How long a put-off write waits before its object is decided again:
/// the poll interval, doubling while the same object keeps being put off,
/// up to a cap. Without it, every object of a long burst (5,000 sessions
/// starting for two minutes) was decided again every poll interval: 42
/// reconciles per object and most of a core, taken from the API server
/// the burst was waiting on. A write that lands (or an object that no
/// longer needs one) forgets the object.
#[derive(Default)]
pub struct DeferralBackoff(Mutex<std::collections::HashMap<(String, String), u32>>);

impl DeferralBackoff {
    /// One more put-off of `key`: how long until it is decided again.
    pub fn next_delay(&self, key: (String, String), base: Duration, cap: Duration) -> Duration {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let times = map.entry(key).or_insert(0);
        let delay = base.saturating_mul(1 << (*times).min(10));
        *times = times.saturating_add(1);
        delay.min(cap.max(base))
    }

    /// `key` was written or needs nothing: start again from the base.
    pub fn forget(&self, key: &(String, String)) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.is_empty() {
            map.remove(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Waits (with a deadline) until `n` writes queue at the gate.
    async fn until_waiting(gate: &WriteGate, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while gate.waiting() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} waiting, saw {}",
                gate.waiting()
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_highest_priority_then_first_come() {
        let gate = WriteGate::new(1);
        let (held, waited) = gate.acquire(WritePriority::Progress).await;
        assert_eq!(waited, Duration::ZERO);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in [
            WritePriority::Event,
            WritePriority::Progress,
            WritePriority::NewObject,
            WritePriority::Final,
            WritePriority::Progress,
            WritePriority::StartResult,
            WritePriority::Start,
        ]
        .into_iter()
        .enumerate()
        {
            let (g, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = g.acquire(p).await;
                order.lock().unwrap().push((p, i));
            }));
            // Queue them in this order.
            until_waiting(&gate, i + 1).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec![
                (WritePriority::Final, 3),
                (WritePriority::StartResult, 5),
                (WritePriority::Start, 6),
                (WritePriority::Progress, 1),
                (WritePriority::Progress, 4),
                (WritePriority::NewObject, 2),
                (WritePriority::Event, 0),
            ]
        );
    }

    #[tokio::test]
    async fn a_cancelled_wait_loses_no_slot() {
        let gate = WriteGate::new(1);
        let held = gate.acquire(WritePriority::Progress).await;
        let cancelled = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Final).await })
        };
        until_waiting(&gate, 1).await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        let next = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Event).await.1 })
        };
        until_waiting(&gate, 2).await;
        drop(held);
        // The slot skipped the cancelled waiter and reached the next.
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("the slot was lost to the cancelled waiter")
            .unwrap();
        // And it came back: the gate is whole again.
        let (_p, waited) = gate.acquire(WritePriority::Event).await;
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn never_more_than_the_slots_in_flight() {
        let gate = WriteGate::new(3);
        let (now, peak, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (gate, now, peak, done) = (gate.clone(), now.clone(), peak.clone(), done.clone());
                tokio::spawn(async move {
                    let p = WritePriority::ALL[i % WritePriority::ALL.len()];
                    let _permit = gate.acquire(p).await;
                    let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(in_flight, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 200);
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak in flight {peak}");
    }

    #[tokio::test]
    async fn congestion_counts_only_writes_that_would_go_first() {
        let gate = WriteGate::new(1);
        let held = gate.acquire(WritePriority::Final).await;
        assert!(!gate.is_congested_for(WritePriority::Event), "nobody waits");
        let event = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Event).await.1 })
        };
        until_waiting(&gate, 1).await;
        assert!(gate.is_congested_for(WritePriority::Event));
        assert!(
            !gate.is_congested_for(WritePriority::Progress),
            "a progress write goes ahead of a waiting event"
        );
        let progress = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Progress).await.1 })
        };
        until_waiting(&gate, 2).await;
        assert!(gate.is_congested_for(WritePriority::Progress));
        assert!(!gate.is_congested_for(WritePriority::Final));
        drop(held);
        progress.await.unwrap();
        event.await.unwrap();
        assert!(!gate.is_congested_for(WritePriority::Event));
    }

    #[test]
    fn a_put_off_object_waits_longer_each_time_until_written() {
        let backoff = DeferralBackoff::default();
        let key = ("ops".to_string(), "a".to_string());
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(60));
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay(key.clone(), base, cap).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        let other = ("ops".to_string(), "b".to_string());
        assert_eq!(backoff.next_delay(other.clone(), base, cap), base, "per object");
        backoff.forget(&key);
        assert_eq!(
            backoff.next_delay(key.clone(), base, cap),
            base,
            "written: from the start"
        );
        backoff.forget(&key);
        backoff.forget(&other);
        assert!(backoff.is_empty(), "nothing kept for objects written");
        // A cap below the base never shortens the base.
        assert_eq!(backoff.next_delay(key, base * 10, base), base * 10);
    }

    #[tokio::test]
    async fn events_take_at_most_a_quarter_of_the_slots() {
        let gate = WriteGate::new(8);
        let mut events = Vec::new();
        for _ in 0..2 {
            events.push(gate.acquire(WritePriority::Event).await);
        }
        // Two of eight are events: a third waits though six slots are free.
        let third = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Event).await.1 })
        };
        until_waiting(&gate, 1).await;
        // Status writes still find the free slots at once.
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let (permit, waited) = gate.acquire(WritePriority::Progress).await;
            assert_eq!(waited, Duration::ZERO);
            statuses.push(permit);
        }
        // Every slot is in use: the next status write waits, and when an
        // event ends its slot goes to that write, not to the waiting event.
        let status = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(WritePriority::Final).await })
        };
        until_waiting(&gate, 2).await;
        events.pop();
        let _status_slot = tokio::time::timeout(Duration::from_secs(5), status)
            .await
            .expect("the freed slot went to the status write")
            .unwrap();
        assert_eq!(gate.waiting(), 1, "the third event still waits");
        // A status write's slot coming back lets the event go: events
        // are below their cap again.
        statuses.clear();
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("the event went once below the cap")
            .unwrap();
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test]
    async fn zero_slots_means_no_limit() {
        let gate = WriteGate::new(0);
        let permits: Vec<_> = futures::future::join_all((0..100).map(|_| gate.acquire(WritePriority::Event))).await;
        assert!(permits.iter().all(|(_, waited)| *waited == Duration::ZERO));
        assert_eq!(gate.waiting(), 0);
    }
}
