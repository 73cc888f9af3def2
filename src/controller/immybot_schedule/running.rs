//! ImmyBot's running-schedule ids, shared by every schedule's reconcile.
//! The answer is the same for all of them, so one call serves all the
//! reconciles of a short while: with hundreds of schedules the cost stays
//! one call per interval instead of one per schedule.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use immybot_client::{ImmyBotClient, ImmyBotError};

#[derive(Default)]
pub struct RunningSchedules {
    /// The last answer and when it was asked. A tokio mutex: reconciles that
    /// arrive while a call is under way wait for its answer (one call, not
    /// one each).
    last: tokio::sync::Mutex<Option<(Instant, Arc<BTreeSet<i32>>)>>,
}

impl RunningSchedules {
    /// The running ids, asked at most once per `fresh_for`.
    pub async fn ids(&self, immybot: &ImmyBotClient, fresh_for: Duration) -> Result<Arc<BTreeSet<i32>>, ImmyBotError> {
        let mut last = self.last.lock().await;
        if let Some((at, ids)) = last.as_ref()
            && at.elapsed() < fresh_for
        {
            return Ok(ids.clone());
        }
        let ids: Arc<BTreeSet<i32>> = Arc::new(immybot.running_schedule_ids().await?.into_iter().collect());
        *last = Some((Instant::now(), ids.clone()));
        Ok(ids)
    }

    /// Forgets the last answer: after a run-now or a cancel this process
    /// made, the next reconcile asks again.
    pub async fn invalidate(&self) {
        *self.last.lock().await = None;
    }
}

#[cfg(test)]
mod tests;
