//! Prometheus metrics: the runtime's implementation of the controller's and
//! the ImmyBot client's observers. Names are prefixed `immybot_operator_`
//! and follow Prometheus' conventions: the ImmyBot instance is `instance_`
//! (never a second `immybot`), HTTP calls carry `method`, `route` and
//! `code` apart, no label is ever empty, and normal waits (a conflict, a
//! cancel under way) are not errors. docs/metrics.md lists every one; a
//! test fails when the two differ.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::controller::ControllerObserver;
use immybot_client::CallObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    result: String,
    error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    route: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeRequestLabels {
    verb: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    item: String,
}

/// Maintenance items with a label of their own in `failed_actions_total`;
/// items first seen after these many count as `other`, so that a fleet
/// with thousands of software items keeps a bounded set of series.
pub const MAX_ITEM_LABELS: usize = 100;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabels {
    priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StandingLabels {
    standing: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApprovalLabels {
    result: String,
    reason: String,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_seconds: Histogram,
    immybot_calls: Family<CallLabels, Counter>,
    immybot_call_seconds: Family<CallLabels, Histogram>,
    sessions: Family<PhaseLabels, Gauge>,
    poll_seconds: Histogram,
    poll_failures: Counter,
    poll_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    last_successful_poll: Gauge<f64, std::sync::atomic::AtomicU64>,
    active_sessions: Gauge,
    immybot_up: Gauge,
    approvals: Family<ApprovalLabels, Counter>,
    kube_requests: Family<KubeRequestLabels, Counter>,
    last_poll: Mutex<Option<std::time::Instant>>,
    seen_phases: Mutex<BTreeMap<String, i64>>,
    schedule_writes: Family<OpLabels, Counter>,
    schedules: Family<StandingLabels, Gauge>,
    maintenance_schedules: Family<ReasonLabels, Gauge>,
    sessions_finished: Family<ResultLabels, Counter>,
    computers_finished: Family<ResultLabels, Counter>,
    failed_actions: Family<ItemLabels, Counter>,
    item_labels: Mutex<std::collections::HashSet<String>>,
    seen_reasons: Mutex<BTreeMap<String, i64>>,
    /// Each ImmyBotSchedule's standing, to count them (schedules are tens
    /// to hundreds, so a recount per change is cheap).
    schedule_standings: Mutex<BTreeMap<String, &'static str>>,
    api_write_wait_seconds: Family<PriorityLabels, Histogram>,
    status_writes_deferred: Counter,
    events_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("immybot_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by result and error kind", reconciles.clone());
        let reconcile_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile, from its start to its result (status written)",
            reconcile_seconds.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "1, labelled with the operator's version",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        let immybot_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "instance_requests",
            "Calls to the ImmyBot instance by method, route template and HTTP status code (none: no answer)",
            immybot_calls.clone(),
        );
        let immybot_call_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 12))
        });
        registry.register(
            "instance_request_duration_seconds",
            "Latency of calls to the ImmyBot instance",
            immybot_call_seconds.clone(),
        );
        let sessions = Family::<PhaseLabels, Gauge>::default();
        registry.register("sessions", "MaintenanceSessions by phase", sessions.clone());
        let poll_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "poll_cycle_seconds",
            "Duration of one poll of ImmyBot's active sessions",
            poll_seconds.clone(),
        );
        let poll_failures = Counter::default();
        registry.register("poll_failures", "Poll cycles that failed", poll_failures.clone());
        let poll_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "poll_lag_seconds",
            "Seconds since the last successful poll cycle, at the last cycle",
            poll_lag.clone(),
        );
        let last_successful_poll = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "last_successful_poll_timestamp_seconds",
            "When a poll of ImmyBot's active sessions last worked (Unix seconds): a frozen poller stops moving it",
            last_successful_poll.clone(),
        );
        let immybot_up = Gauge::default();
        registry.register(
            "instance_up",
            "1 when the last poll of ImmyBot worked, 0 when it failed (readiness ignores it)",
            immybot_up.clone(),
        );
        let active_sessions = Gauge::default();
        registry.register(
            "instance_active_sessions",
            "Active ImmyBot sessions at the last poll",
            active_sessions.clone(),
        );
        let approvals = Family::<ApprovalLabels, Counter>::default();
        registry.register("approvals", "Approval verdicts by result and reason", approvals.clone());
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        registry.register(
            "kube_requests",
            "Requests this process sent to the Kubernetes API server, by HTTP method and resource (watches count once)",
            kube_requests.clone(),
        );
        let schedule_writes = Family::<OpLabels, Counter>::default();
        registry.register(
            "schedule_writes",
            "Writes to ImmyBot schedules by operation (create, update, correct_drift, run_now, cancel_running, delete)",
            schedule_writes.clone(),
        );
        let schedules = Family::<StandingLabels, Gauge>::default();
        registry.register(
            "schedules",
            "ImmyBotSchedules by standing (Ready, Waiting, Progressing, Stalled, Drifted)",
            schedules.clone(),
        );
        let maintenance_schedules = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "maintenance_schedules",
            "MaintenanceSchedules by the reason of their Ready condition (Scheduled, MissedSchedule, RunSkipped, Suspended, Pending)",
            maintenance_schedules.clone(),
        );
        let sessions_finished = Family::<ResultLabels, Counter>::default();
        registry.register(
            "sessions_finished",
            "MaintenanceSessions that reached a final phase, by it (Succeeded, PartiallySucceeded, Failed, Cancelled, TimedOut)",
            sessions_finished.clone(),
        );
        let computers_finished = Family::<ResultLabels, Counter>::default();
        registry.register(
            "computers_finished",
            "Computers of finished MaintenanceSessions by outcome (passed, failed, partially_passed, cancelled, missed, not_started)",
            computers_finished.clone(),
        );
        let failed_actions = Family::<ItemLabels, Counter>::default();
        registry.register(
            "failed_actions",
            "Failed maintenance actions of finished sessions by item (the first 100 items by name, then other)",
            failed_actions.clone(),
        );
        let api_write_wait_seconds = Family::<PriorityLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "api_write_wait_seconds",
            "Time an API-server write waited for the write gate (--max-concurrent-api-writes), by priority",
            api_write_wait_seconds.clone(),
        );
        let status_writes_deferred = Counter::default();
        registry.register(
            "status_writes_deferred",
            "Status writes of a running session's detail put off while API-server writes queued",
            status_writes_deferred.clone(),
        );
        let events_dropped = Counter::default();
        registry.register(
            "events_dropped",
            "Kubernetes Events dropped because 10,000 were already waiting to be sent",
            events_dropped.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_seconds,
            immybot_calls,
            immybot_call_seconds,
            sessions,
            poll_seconds,
            poll_failures,
            poll_lag,
            last_successful_poll,
            active_sessions,
            immybot_up,
            approvals,
            kube_requests,
            last_poll: Mutex::new(None),
            seen_phases: Mutex::new(BTreeMap::new()),
            schedule_writes,
            schedules,
            schedule_standings: Mutex::new(BTreeMap::new()),
            maintenance_schedules,
            seen_reasons: Mutex::new(BTreeMap::new()),
            sessions_finished,
            computers_finished,
            failed_actions,
            item_labels: Mutex::new(std::collections::HashSet::new()),
            api_write_wait_seconds,
            status_writes_deferred,
            events_dropped,
        }
    }
}

impl Metrics {
    /// Counts one request to the API server. `path` is the request's path;
    /// only its resource (and subresource) becomes a label, so the label
    /// set stays small whatever the names are.
    pub fn kube_request(&self, method: &str, path: &str) {
        self.kube_requests
            .get_or_create(&KubeRequestLabels {
                verb: method.to_owned(),
                resource: resource_of(path),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl ControllerObserver for Metrics {
    fn status_write_deferred(&self) {
        self.status_writes_deferred.inc();
    }

    fn event_dropped(&self) {
        self.events_dropped.inc();
    }

    fn api_write_waited(&self, priority: &'static str, waited: Duration) {
        self.api_write_wait_seconds
            .get_or_create(&PriorityLabels {
                priority: priority.into(),
            })
            .observe(waited.as_secs_f64());
    }

    fn reconcile_took(&self, duration: Duration) {
        self.reconcile_seconds.observe(duration.as_secs_f64());
    }

    fn reconciled(&self, error: Option<&'static str>) {
        let labels = match error {
            None => ReconcileLabels {
                result: "ok".into(),
                error: "none".into(),
            },
            // Normal waits, tried again soon: not errors.
            Some(e @ ("conflict" | "awaiting_cancellation")) => ReconcileLabels {
                result: "requeued".into(),
                error: e.into(),
            },
            Some(e) => ReconcileLabels {
                result: "error".into(),
                error: e.into(),
            },
        };
        self.reconciles.get_or_create(&labels).inc();
    }

    fn poll_cycle(&self, duration: Duration, active_sessions: usize, ok: bool) {
        self.poll_seconds.observe(duration.as_secs_f64());
        self.immybot_up.set(i64::from(ok));
        let mut last = self.last_poll.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if ok {
            if let Some(previous) = *last {
                self.poll_lag.set(previous.elapsed().as_secs_f64());
            }
            *last = Some(std::time::Instant::now());
            self.active_sessions.set(active_sessions as i64);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            self.last_successful_poll.set(now.as_secs_f64());
        } else {
            self.poll_failures.inc();
        }
    }

    fn phases(&self, counts: &BTreeMap<String, i64>) {
        set_counts(&self.seen_phases, counts, |phase, n| {
            self.sessions
                .get_or_create(&PhaseLabels {
                    phase: phase.to_owned(),
                })
                .set(n);
        });
    }

    fn session_finished(&self, result: &str, computers: &[(&'static str, i64)], failed_items: &[(&str, i64)]) {
        self.sessions_finished
            .get_or_create(&ResultLabels { result: result.into() })
            .inc();
        for (outcome, n) in computers.iter().filter(|(_, n)| *n > 0) {
            self.computers_finished
                .get_or_create(&ResultLabels {
                    result: (*outcome).into(),
                })
                .inc_by(u64::try_from(*n).unwrap_or(0));
        }
        let mut known = self
            .item_labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (item, n) in failed_items.iter().filter(|(_, n)| *n > 0) {
            let label = if known.contains(*item) {
                (*item).to_owned()
            } else if known.len() < MAX_ITEM_LABELS {
                known.insert((*item).to_owned());
                (*item).to_owned()
            } else {
                "other".to_owned()
            };
            self.failed_actions
                .get_or_create(&ItemLabels { item: label })
                .inc_by(u64::try_from(*n).unwrap_or(0));
        }
    }

    fn maintenance_schedules(&self, by_reason: &BTreeMap<String, i64>) {
        set_counts(&self.seen_reasons, by_reason, |reason, n| {
            self.maintenance_schedules
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .set(n);
        });
    }

    fn approval(&self, accepted: bool, reason: &str) {
        let result = if accepted { "accepted" } else { "refused" };
        self.approvals
            .get_or_create(&ApprovalLabels {
                result: result.into(),
                reason: reason.into(),
            })
            .inc();
    }
    fn schedule_write(&self, op: &'static str) {
        self.schedule_writes.get_or_create(&OpLabels { op: op.into() }).inc();
    }

    fn schedule_standing(&self, key: &str, standing: Option<&'static str>) {
        let mut all = self
            .schedule_standings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = match standing {
            Some(s) => all.insert(key.to_owned(), s),
            None => all.remove(key),
        };
        if before == standing {
            return;
        }
        for s in ["Ready", "Waiting", "Progressing", "Stalled", "Drifted"] {
            let n = all.values().filter(|v| **v == s).count();
            self.schedules
                .get_or_create(&StandingLabels { standing: s.into() })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// Sets a gauge family to `counts`; a label that emptied out since the
/// last time drops to zero rather than keep a stale count.
fn set_counts(seen: &Mutex<BTreeMap<String, i64>>, counts: &BTreeMap<String, i64>, set: impl Fn(&str, i64)) {
    let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for label in seen.keys() {
        if !counts.contains_key(label) {
            set(label, 0);
        }
    }
    for (label, n) in counts {
        set(label, *n);
    }
    *seen = counts.clone();
}

impl CallObserver for Metrics {
    fn observe(&self, route: &'static str, status: Option<u16>, elapsed: Duration) {
        // The client names a call "GET /api/v1/tenants": method and route.
        let (method, route) = route.split_once(' ').unwrap_or(("other", route));
        let labels = CallLabels {
            method: method.into(),
            route: route.into(),
            code: status.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
        };
        self.immybot_calls.get_or_create(&labels).inc();
        self.immybot_call_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_shows_in_the_exposition() {
        let m = Metrics::default();
        m.reconciled(None);
        m.reconciled(Some("conflict"));
        m.reconciled(Some("transient"));
        m.observe("GET /api/v1/tenants", Some(200), Duration::from_millis(20));
        m.poll_cycle(Duration::from_millis(5), 3, true);
        m.phases(&[("Running".to_string(), 2)].into());
        m.phases(&[("Succeeded".to_string(), 2)].into());
        m.approval(false, "SelfApproval");
        m.kube_request(
            "PATCH",
            "/apis/immybot.io/v1alpha1/namespaces/a/maintenancesessions/x/status",
        );
        m.schedule_write("create");
        m.schedule_standing("ns/a", Some("Waiting"));
        m.schedule_standing("ns/b", Some("Waiting"));
        m.schedule_standing("ns/a", Some("Ready"));
        m.schedule_standing("ns/c", Some("Stalled"));
        m.schedule_standing("ns/c", None);
        m.maintenance_schedules(&[("MissedSchedule".to_string(), 2)].into());
        m.maintenance_schedules(&[("Scheduled".to_string(), 2)].into());
        let text = m.encode();
        for needle in [
            r#"immybot_operator_schedule_writes_total{op="create"} 1"#,
            r#"immybot_operator_schedules{standing="Ready"} 1"#,
            r#"immybot_operator_schedules{standing="Waiting"} 1"#,
            r#"immybot_operator_schedules{standing="Stalled"} 0"#,
            r#"immybot_operator_reconciles_total{result="requeued",error="conflict"} 1"#,
            r#"immybot_operator_reconciles_total{result="ok",error="none"} 1"#,
            r#"immybot_operator_reconciles_total{result="error",error="transient"} 1"#,
            r#"immybot_operator_instance_requests_total{method="GET",route="/api/v1/tenants",code="200"} 1"#,
            r#"immybot_operator_build_info{version=""#,
            r#"immybot_operator_sessions{phase="Running"} 0"#,
            r#"immybot_operator_maintenance_schedules{reason="MissedSchedule"} 0"#,
            r#"immybot_operator_maintenance_schedules{reason="Scheduled"} 2"#,
            r#"immybot_operator_sessions{phase="Succeeded"} 2"#,
            r#"immybot_operator_approvals_total{result="refused",reason="SelfApproval"} 1"#,
            "immybot_operator_poll_cycle_seconds_count 1",
            r#"immybot_operator_kube_requests_total{verb="PATCH",resource="maintenancesessions/status"} 1"#,
            "immybot_operator_instance_active_sessions 3",
        ] {
            assert!(text.contains(needle), "missing {needle} in:\n{text}");
        }
        let stamp: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("immybot_operator_last_successful_poll_timestamp_seconds "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(stamp > 1.7e9, "a Unix time: {stamp}");
        assert!(!text.contains("=\"\""), "no empty label:\n{text}");
    }

    /// The metric names a scrape shows, as docs/metrics.md names them (a
    /// counter with its `_total`), from the registry's `# TYPE` lines,
    /// once every observation was made once (a family with no labels
    /// yet shows nothing).
    fn registered() -> std::collections::BTreeSet<String> {
        let m = Metrics::default();
        m.reconciled(None);
        m.reconcile_took(Duration::from_millis(3));
        m.observe("GET /api/v1/tenants", Some(200), Duration::from_millis(20));
        m.poll_cycle(Duration::from_millis(5), 3, true);
        m.poll_cycle(Duration::from_millis(5), 3, false);
        m.phases(&[("Running".to_string(), 2)].into());
        m.approval(true, "MaintenanceApproval");
        m.kube_request("GET", "/api/v1/namespaces/a/events");
        m.schedule_write("create");
        m.schedule_standing("ns/a", Some("Ready"));
        m.maintenance_schedules(&[("Scheduled".to_string(), 1)].into());
        m.session_finished("Failed", &[("failed", 1)], &[("7-Zip", 1)]);
        m.api_write_waited("final", Duration::from_millis(1));
        m.status_write_deferred();
        m.event_dropped();
        m.encode()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE immybot_operator_"))
            .filter_map(|l| l.split_once(' '))
            .map(|(name, kind)| match kind {
                "counter" => format!("{name}_total"),
                _ => name.to_owned(),
            })
            .collect()
    }

    /// The names in the first column of docs/metrics.md's metric table
    /// (the one headed `| metric |`; the spans' table comes later).
    fn documented() -> std::collections::BTreeSet<String> {
        include_str!("../../docs/metrics.md")
            .lines()
            .skip_while(|l| !l.starts_with("| metric |"))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`'))
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    #[test]
    fn docs_list_exactly_the_registered_metrics() {
        let (registered, documented) = (registered(), documented());
        assert!(registered.len() >= 15, "{registered:?}");
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let gone: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty() && gone.is_empty(),
            "docs/metrics.md and the registry differ: not documented {undocumented:?}, documented but not registered {gone:?}"
        );
    }

    #[test]
    fn failed_items_keep_a_bounded_label_set() {
        let m = Metrics::default();
        m.session_finished(
            "Failed",
            &[("passed", 3), ("failed", 2), ("missed", 0)],
            &[("7-Zip", 2)],
        );
        for i in 0..MAX_ITEM_LABELS + 50 {
            m.session_finished("PartiallySucceeded", &[], &[(&format!("item-{i:04}"), 1)]);
        }
        m.session_finished("Failed", &[], &[("7-Zip", 1)]);
        let text = m.encode();
        for needle in [
            r#"immybot_operator_sessions_finished_total{result="Failed"} 2"#,
            r#"immybot_operator_sessions_finished_total{result="PartiallySucceeded"} 150"#,
            r#"immybot_operator_computers_finished_total{result="passed"} 3"#,
            r#"immybot_operator_computers_finished_total{result="failed"} 2"#,
            r#"immybot_operator_failed_actions_total{item="7-Zip"} 3"#,
            r#"immybot_operator_failed_actions_total{item="other"} 51"#,
        ] {
            assert!(text.contains(needle), "missing {needle} in:\n{text}");
        }
        assert!(!text.contains(r#"result="missed""#), "no series for a zero count");
        let series = text
            .lines()
            .filter(|l| l.starts_with("immybot_operator_failed_actions_total{"))
            .count();
        assert_eq!(
            series,
            MAX_ITEM_LABELS + 1,
            "the first {MAX_ITEM_LABELS} items, then other"
        );
    }

    #[test]
    fn no_name_repeats_immybot() {
        for name in registered() {
            assert!(!name.contains("immybot"), "immybot_operator_{name}");
        }
    }
}

/// The resource of an API path: `.../namespaces/ns/maintenancesessions/x/status`
/// gives `maintenancesessions/status`. A namespaced path puts the resource after
/// the namespace's name; a cluster path right after the group version.
fn resource_of(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or("")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    // /api/v1/... or /apis/group/version/...
    let rest = match parts.first() {
        Some(&"api") => parts.get(2..),
        Some(&"apis") => parts.get(3..),
        _ => None,
    }
    .unwrap_or(&[]);
    let rest = if rest.first() == Some(&"namespaces") && rest.len() > 2 {
        &rest[2..]
    } else {
        rest
    };
    match rest {
        [] => "other".into(),
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, sub, ..] => format!("{resource}/{sub}"),
    }
}

#[cfg(test)]
mod resource_tests {
    use super::resource_of;

    #[test]
    fn resources_of_paths() {
        assert_eq!(
            resource_of("/apis/immybot.io/v1alpha1/namespaces/a/maintenancesessions/x/status"),
            "maintenancesessions/status"
        );
        assert_eq!(resource_of("/api/v1/namespaces/a/events"), "events");
        assert_eq!(resource_of("/apis/events.k8s.io/v1/namespaces/a/events/e1"), "events");
        assert_eq!(
            resource_of("/apis/immybot.io/v1alpha1/maintenancesessions?watch=true"),
            "maintenancesessions"
        );
        assert_eq!(resource_of("/api/v1/namespaces/ns"), "namespaces");
        assert_eq!(resource_of("/version"), "other");
    }
}
