//! What the controller reports for metrics, without knowing about any
//! metrics library: the runtime implements this trait (see `runtime::metrics`).

use std::collections::BTreeMap;
use std::time::Duration;

pub trait ControllerObserver: Send + Sync + 'static {
    /// One reconcile ended; `error` is the error's metric label.
    fn reconciled(&self, _error: Option<&'static str>) {}
    /// How long one reconcile took (errors included).
    fn reconcile_took(&self, _duration: Duration) {}
    /// One poll cycle ended.
    fn poll_cycle(&self, _duration: Duration, _active_sessions: usize, _ok: bool) {}
    /// MaintenanceSessions by phase, as the poller last saw them.
    fn phases(&self, _counts: &BTreeMap<String, i64>) {}
    /// An approval verdict changed: accepted, or refused for `reason`.
    fn approval(&self, _accepted: bool, _reason: &str) {}
    /// The controller's watch caches hold the whole initial list.
    fn caches_synced(&self) {}
    /// One write to an ImmyBot schedule: `create`, `update`, `correct_drift`,
    /// `run_now`, `cancel_running` or `delete`.
    fn schedule_write(&self, _op: &'static str) {}
    /// Where the ImmyBotSchedule `key` (namespace/name) stands now (`Ready`,
    /// `Waiting`, `Progressing`, `Stalled`, `Drifted`), or `None` once it is
    /// gone.
    fn schedule_standing(&self, _key: &str, _standing: Option<&'static str>) {}
    /// MaintenanceSchedules by the reason of their `Ready` condition
    /// (`Scheduled`, `MissedSchedule`, `RunSkipped`, `Suspended`, ...;
    /// `Pending` before the first), counted afresh each time.
    fn maintenance_schedules(&self, _by_reason: &BTreeMap<String, i64>) {}
    /// A MaintenanceSession reached a final phase (`result`, e.g.
    /// `Succeeded`), with its computers by outcome (`passed`, `failed`, ...)
    /// and the maintenance items that failed somewhere, with how often.
    fn session_finished(&self, _result: &str, _computers: &[(&'static str, i64)], _failed_items: &[(&str, i64)]) {}
    /// An API-server write waited `waited` at the write gate (`priority` is
    /// its `WritePriority` label).
    fn api_write_waited(&self, _priority: &'static str, _waited: Duration) {}
    /// A status write that only mirrored a running session's detail was put
    /// off because the write gate was congested.
    fn status_write_deferred(&self) {}
    /// An event was dropped: too many were waiting to be sent.
    fn event_dropped(&self) {}
}

/// Reports nothing.
pub struct NoObserver;

impl ControllerObserver for NoObserver {}
