//! What the bench observes: the objects (through a watch, as a user's
//! `kubectl get -w` would), the simulator's sessions (from its ledger, in
//! this process), the operator process (/proc) and its metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use immybot_client::SessionStatus;
use immybot_operator::api::{MaintenanceSession, Phase};
use immybot_sim::RunningSim;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};

/// When each object was first seen in each state.
#[derive(Default, Clone)]
pub struct ObjectTimes {
    pub started: Option<Instant>,
    pub terminal: Option<Instant>,
    pub phase: Option<Phase>,
    pub session_ids: Vec<i32>,
    pub status_bytes: usize,
}

#[derive(Clone, Default)]
pub struct Objects(Arc<Mutex<HashMap<String, ObjectTimes>>>);

impl Objects {
    /// Watches `namespace` until the returned task is aborted.
    pub fn watch(client: kube::Client, namespace: &str) -> (Self, tokio::task::JoinHandle<()>) {
        let objects = Self::default();
        let api: Api<MaintenanceSession> = Api::namespaced(client, namespace);
        let seen = objects.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(ev) = events.next().await {
                let Ok(obj) = ev else { continue };
                let now = Instant::now();
                let Some(status) = obj.status.as_ref() else { continue };
                let mut all = seen.lock();
                let t = all.entry(obj.metadata.name.clone().unwrap_or_default()).or_default();
                t.phase = status.phase;
                t.session_ids = status
                    .immybot
                    .iter()
                    .flat_map(|r| r.attempts.iter().flat_map(|a| a.session_ids.iter().copied()))
                    .collect();
                t.status_bytes = serde_json::to_vec(status).map(|v| v.len()).unwrap_or_default();
                if t.started.is_none() && !t.session_ids.is_empty() {
                    t.started = Some(now);
                }
                if t.terminal.is_none() && status.phase.is_some_and(Phase::is_final) {
                    t.terminal = Some(now);
                }
            }
        });
        (objects, task)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ObjectTimes>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn snapshot(&self) -> HashMap<String, ObjectTimes> {
        self.lock().clone()
    }

    pub fn count(&self, f: impl Fn(&ObjectTimes) -> bool) -> usize {
        self.lock().values().filter(|t| f(t)).count()
    }
}

/// When each simulated session was first seen, and first seen ended, by
/// reading the simulator's ledger every 50 ms (the lag's resolution).
/// Per session id: first seen, first seen ended.
type SeenTimes = BTreeMap<i32, (Instant, Option<Instant>)>;

#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<SeenTimes>>);

impl Sessions {
    pub fn watch(sim: &RunningSim) -> (Self, tokio::task::JoinHandle<()>) {
        let sessions = Self::default();
        let state = sim.state.clone();
        let seen = sessions.clone();
        let task = tokio::spawn(async move {
            loop {
                let ledger = state.ledger();
                let now = Instant::now();
                {
                    let mut all = seen.lock();
                    for entry in ledger {
                        let ended = serde_json::from_value::<SessionStatus>(serde_json::json!(entry.status))
                            .is_ok_and(|s| s.is_terminal());
                        let e = all.entry(entry.id).or_insert((now, None));
                        if ended && e.1.is_none() {
                            e.1 = Some(now);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        (sessions, task)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SeenTimes> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn started(&self) -> usize {
        self.lock().len()
    }

    pub fn last_started(&self) -> Option<Instant> {
        self.lock().values().map(|(s, _)| *s).max()
    }

    /// How long sessions ran in the simulator (first seen to ended), sorted.
    pub fn durations(&self) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .lock()
            .values()
            .filter_map(|(seen, ended)| Some(ended.as_ref()?.duration_since(*seen).as_secs_f64()))
            .collect();
        out.sort_by(f64::total_cmp);
        out
    }

    pub fn ended_at(&self, id: i32) -> Option<Instant> {
        self.lock().get(&id).and_then(|(_, e)| *e)
    }
}

/// The lag from an object's last session ending in the simulator to its
/// status showing the final phase, per object, in milliseconds.
pub fn terminal_lags(objects: &HashMap<String, ObjectTimes>, sessions: &Sessions) -> Vec<f64> {
    terminal_lags_where(objects, sessions, |_| true)
}

/// As [`terminal_lags`], for the objects whose last session ended at a time
/// `when` accepts: tells lag under the creation burst from lag after it.
pub fn terminal_lags_where(
    objects: &HashMap<String, ObjectTimes>,
    sessions: &Sessions,
    when: impl Fn(Instant) -> bool,
) -> Vec<f64> {
    let mut lags: Vec<f64> = objects
        .values()
        .filter_map(|t| {
            let shown = t.terminal?;
            let ended = t
                .session_ids
                .iter()
                .map(|id| sessions.ended_at(*id))
                .collect::<Option<Vec<_>>>()?;
            let last = ended.into_iter().max()?;
            when(last).then_some(())?;
            Some(shown.saturating_duration_since(last).as_secs_f64() * 1000.0)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    lags
}

/// Per object, as Unix seconds: when its last session ended in the
/// simulator and when its final status was seen, to line up with the
/// operator's debug log (`BENCH_OPERATOR_LOG`) when hunting the lag.
pub fn dump_lags(
    objects: &HashMap<String, ObjectTimes>,
    sessions: &Sessions,
    path: &std::path::Path,
) -> std::io::Result<()> {
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    let unix = |t: Instant| {
        let wall = wall - now.saturating_duration_since(t);
        wall.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default()
    };
    let mut out = String::new();
    for (name, t) in objects {
        let ended = t.session_ids.iter().filter_map(|id| sessions.ended_at(*id)).max();
        if let (Some(ended), Some(shown)) = (ended, t.terminal) {
            out.push_str(&format!("{name} {:.3} {:.3}\n", unix(ended), unix(shown)));
        }
    }
    std::fs::write(path, out)
}

pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank).copied()
}

/// Peak resident memory (MiB) and CPU seconds (user + system) of `pid`.
pub fn process_stats(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after ')').
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after ')'.
    // USER_HZ is 100 on Linux.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    (hwm_kib / 1024.0, cpu)
}

/// A Prometheus counter family from the text exposition, summed by the
/// values of `labels` (joined by a space: `PUT maintenancesessions/status`).
pub fn counter_by(text: &str, metric: &str, labels: &[&str]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(metric)) {
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else { continue };
        let label = |name: &str| {
            head.split_once(&format!("{name}=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(k, _)| k.to_owned())
                .unwrap_or_default()
        };
        let key: Vec<String> = labels.iter().map(|l| label(l)).collect();
        *out.entry(key.join(" ")).or_default() += v;
    }
    out
}

/// One metric's value (the first line that starts with `metric`).
pub fn value(text: &str, metric: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(metric))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0)
}

/// The operator's API-server writes, by `verb resource`.
pub fn writes_by_resource(text: &str) -> BTreeMap<String, f64> {
    let mut by = counter_by(text, KUBE_REQUESTS, &["verb", "resource"]);
    by.retain(|key, _| {
        ["POST ", "PUT ", "PATCH ", "DELETE "]
            .iter()
            .any(|v| key.starts_with(v))
    });
    by
}

/// All writes of a `writes_by_resource` map.
pub fn writes(by_resource: &BTreeMap<String, f64>) -> f64 {
    by_resource.values().sum()
}

/// A histogram's mean in milliseconds, from its `_sum` (seconds) and
/// `_count`; NaN (JSON null) when it saw nothing.
pub fn mean_ms(sum_seconds: f64, count: f64) -> f64 {
    if count > 0.0 {
        sum_seconds / count * 1000.0
    } else {
        f64::NAN
    }
}

/// The operator's counter of its API-server requests.
pub const KUBE_REQUESTS: &str = "immybot_operator_kube_requests_total";

/// Waits until `done` holds, checking every 100 ms, for at most `deadline`.
pub async fn until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let end = Instant::now() + deadline;
    while !done() {
        if Instant::now() > end {
            anyhow::bail!("{what} did not happen within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
