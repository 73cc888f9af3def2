//! The events waiting to be sent, bounded: at most `MAX_PENDING`, past
//! which new ones are dropped (and counted), as client-go's broadcaster
//! drops past its queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Events waiting to be sent, at most: past it new ones are dropped (and
/// counted), as client-go's broadcaster drops past its queue. 10,000 waiting
/// events hold about 10 MiB.
pub const MAX_PENDING: usize = 10_000;

/// How many events wait to be sent (shared by the context's clones).
#[derive(Default, Clone)]
pub struct PendingEvents(Arc<AtomicUsize>);

impl PendingEvents {
    /// A place in line, or `None` when the line is full.
    pub(super) fn enter(&self) -> Option<PendingGuard> {
        let guard = PendingGuard(self.0.clone());
        // Taken first, given back (by the guard's drop) when over the limit.
        (self.0.fetch_add(1, Ordering::AcqRel) < MAX_PENDING).then_some(guard)
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Leaves the line when the event is sent or given up.
pub(super) struct PendingGuard(Arc<AtomicUsize>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_bounded_and_places_come_back() {
        let pending = PendingEvents::default();
        let places: Vec<_> = (0..MAX_PENDING).map_while(|_| pending.enter()).collect();
        assert_eq!(places.len(), MAX_PENDING);
        assert!(pending.enter().is_none(), "a full line takes no more");
        drop(places);
        assert_eq!(pending.count(), 0);
        assert!(pending.enter().is_some());
    }
}
