//! Feeds the controller's observations to metrics and readiness at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::admin::Readiness;
use super::metrics::Metrics;
use crate::controller::ControllerObserver;

pub struct RuntimeObserver {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
}

impl ControllerObserver for RuntimeObserver {
    fn reconciled(&self, error: Option<&'static str>) {
        self.metrics.reconciled(error);
    }
    fn reconcile_took(&self, duration: Duration) {
        self.metrics.reconcile_took(duration);
    }
    fn poll_cycle(&self, duration: Duration, active_sessions: usize, ok: bool) {
        self.metrics.poll_cycle(duration, active_sessions, ok);
    }
    fn phases(&self, counts: &BTreeMap<String, i64>) {
        self.metrics.phases(counts);
    }
    fn approval(&self, accepted: bool, reason: &str) {
        self.metrics.approval(accepted, reason);
    }
    fn caches_synced(&self) {
        self.readiness.set_caches_synced();
    }
    fn schedule_write(&self, op: &'static str) {
        self.metrics.schedule_write(op);
    }
    fn schedule_standing(&self, key: &str, standing: Option<&'static str>) {
        self.metrics.schedule_standing(key, standing);
    }
    fn maintenance_schedules(&self, by_reason: &BTreeMap<String, i64>) {
        self.metrics.maintenance_schedules(by_reason);
    }
    fn session_finished(&self, result: &str, computers: &[(&'static str, i64)], failed_items: &[(&str, i64)]) {
        self.metrics.session_finished(result, computers, failed_items);
    }
    fn api_write_waited(&self, priority: &'static str, waited: Duration) {
        self.metrics.api_write_waited(priority, waited);
    }
    fn status_write_deferred(&self) {
        self.metrics.status_write_deferred();
    }
    fn event_dropped(&self) {
        self.metrics.event_dropped();
    }
}
