//! One poller per ImmyBot instance. ImmyBot has no push channel, and polling
//! every session on its own would cost one call per session per cycle.
//! Instead each cycle pages through the *active* sessions (`dx`, filtered on
//! status), compares them with the last cycle, and triggers a reconcile of
//! only the MaintenanceSessions whose sessions changed or finished. Calls
//! per cycle: the page count, at the budget's `Listing` priority.
//!
//! Sessions of small objects that are no longer listed (they ended) are
//! read here, for all objects at once (`ended_reader`: a listing per page
//! of them, at `Ending` priority), before their objects are triggered: the
//! reconciles find them in the cache instead of reading one each.
//!
//! The interval adapts: short while anything runs, long when idle.

use std::collections::{BTreeMap, BTreeSet};
use tracing::Instrument as _;

use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use std::sync::Arc;

use super::action_reader::PER_SESSION_MAX;
use super::attempts::recorded_sessions;
use super::ended_reader::{Asked, read_ended};
use super::immybot_cache::{ActiveSessions, ImmyBotCache, Listing, ended};
use crate::api::{MaintenanceSession, Phase};
use crate::controller::connections::ConnectionKey;
use crate::controller::context::Timing;
use crate::controller::observer::ControllerObserver;
use immybot_client::{ImmyBotClient, Priority, SessionStatus, WireTime};

const PAGE: u32 = 200;

/// What the poller works with.
pub struct Poller {
    /// The ImmyBot client (the poller sets the priority of its own reads).
    pub immybot: ImmyBotClient,
    /// The connection `immybot` is: the poller looks after the objects
    /// that started through it, and no others.
    pub connection: ConnectionKey,
    /// Whether this poller reports every object's phase (one poller does).
    pub reports_phases: bool,
    pub store: Store<MaintenanceSession>,
    pub timing: Timing,
    pub observer: Arc<dyn ControllerObserver>,
    pub snapshot: Arc<ActiveSessions>,
    pub cache: Arc<ImmyBotCache>,
    pub tx: mpsc::Sender<ObjectRef<MaintenanceSession>>,
}

/// Runs until the receiver is dropped.
pub async fn run(p: Poller) {
    let Poller {
        immybot,
        connection,
        reports_phases,
        store,
        timing,
        observer,
        snapshot,
        cache,
        tx,
    } = p;
    let (listing, ending) = (immybot.at(Priority::Listing), immybot.at(Priority::Ending));
    let mut last: BTreeMap<i32, (Option<SessionStatus>, Option<WireTime>)> = BTreeMap::new();
    loop {
        let started = tokio::time::Instant::now();
        // Which ids the objects had before this listing: one not among them
        // could not be listed yet.
        let objects = own_objects(&store, &connection);
        let known = recorded_ids(&objects);
        // The cycle's span: the calls below are its children.
        let span = tracing::info_span!(
            "poll_cycle",
            connection = %connection,
            active = tracing::field::Empty,
            ended_read = tracing::field::Empty,
        );
        let (current, rows) = match active_sessions(&listing).instrument(span.clone()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "polling ImmyBot's active sessions failed");
                observer.poll_cycle(started.elapsed(), last.len(), false);
                tokio::time::sleep(timing.poll_active).await;
                continue;
            }
        };
        observer.poll_cycle(started.elapsed(), current.len(), true);
        // Sessions of small objects that were known and are not listed
        // ended: read them for all objects at once, before the triggers.
        span.record("active", current.len());
        let asked = ended_to_read(&objects, &known, &current, &cache);
        span.record("ended_read", asked.len());
        if !asked.is_empty()
            && let Err(e) = read_ended(&ending, &cache, &asked).instrument(span.clone()).await
        {
            tracing::warn!(error = %e, sessions = asked.len(), "reading ended sessions failed; their objects read them");
        }
        // Published before the triggers go out, so that the reconciles they
        // cause see this cycle.
        snapshot.replace(Listing {
            rows,
            known,
            listed: true,
        });
        let in_progress = objects
            .iter()
            .any(|o| waits_on_sessions(o.status.as_ref().and_then(|s| s.phase)));
        if reports_phases {
            let mut phases: BTreeMap<String, i64> = BTreeMap::new();
            for obj in store.state() {
                let phase = obj.status.as_ref().and_then(|s| s.phase);
                let phase = phase.map_or("Pending", Phase::as_str).to_owned();
                *phases.entry(phase).or_default() += 1;
            }
            observer.phases(&phases);
        }
        let changed: BTreeSet<i32> = current
            .iter()
            .filter(|(id, v)| last.get(id) != Some(v))
            .map(|(id, _)| *id)
            .chain(last.keys().filter(|id| !current.contains_key(id)).copied())
            .collect();
        for obj_ref in to_trigger(&objects, &changed, &current) {
            tracing::debug!(name = %obj_ref.name, "poll: sessions changed");
            if tx.send(obj_ref).await.is_err() {
                return;
            }
        }
        // Idle only when ImmyBot shows nothing active and no object waits on
        // a session: a start made since the last cycle must not wait for the
        // idle interval (it also wakes the poller at once).
        // Nor within the start grace after a start woke it (see
        // `woken_within`: that cycle may have raced the start).
        let idle = current.is_empty() && !in_progress && !snapshot.woken_within(timing.start_grace);
        last = current;
        // The interval runs from cycle start to cycle start: a cycle that
        // took long (a large listing, a slow ImmyBot) does not push the next
        // one back by its own length.
        let interval = if idle { timing.poll_idle } else { timing.poll_active };
        if idle {
            snapshot
                .sleep_or_wake(interval.saturating_sub(started.elapsed()), true)
                .await;
        } else {
            let settle = SETTLE.min(timing.poll_active);
            snapshot
                .sleep_active(started + interval, started, settle, || {
                    listing.is_busy_at(Priority::Write)
                })
                .await;
        }
    }
}

/// How long starts must pause (with the budget free) before the poller
/// looks again ahead of its interval: see `ActiveSessions::sleep_active`.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the cycle compares, and the rows as listed.
type Active = (
    BTreeMap<i32, (Option<SessionStatus>, Option<WireTime>)>,
    std::collections::HashMap<i32, immybot_client::MaintenanceSession>,
);

async fn active_sessions(immybot: &ImmyBotClient) -> Result<Active, immybot_client::ImmyBotError> {
    let mut out = BTreeMap::new();
    let mut rows = std::collections::HashMap::new();
    let mut skip = 0;
    loop {
        // One row more than the page: it says whether another page exists,
        // so a count that is a multiple of the page size costs no extra
        // (empty) call. The row is listed again as the next page's first.
        let page = immybot.active_sessions(skip, PAGE + 1).await?;
        // A row's own status decides, whatever listing returned it: an
        // ended row in a listing of active statuses (a route that ignores
        // its filter) is no active session. Left out, it counts as left
        // the list, so it is read as ended, actions and all.
        for s in page.items.into_iter().filter(|s| !ended(s)) {
            out.insert(s.id, (s.session_status.clone(), s.updated_date_utc));
            rows.insert(s.id, s);
        }
        if !page.full {
            return Ok((out, rows));
        }
        skip += PAGE;
    }
}

/// The objects whose sessions were started through `connection` (as
/// their status records it): the only ones this poller's listing can
/// speak for. Session ids of two instances may be equal.
fn own_objects(store: &Store<MaintenanceSession>, connection: &ConnectionKey) -> Vec<Arc<MaintenanceSession>> {
    store
        .state()
        .into_iter()
        .filter(|o| {
            o.status.as_ref().and_then(|s| s.immybot.as_ref()).is_some_and(|r| {
                ConnectionKey::recorded(
                    r.connection.as_ref(),
                    o.metadata.namespace.as_deref().unwrap_or_default(),
                ) == *connection
            })
        })
        .collect()
}

/// Every session id recorded in an object's status.
fn recorded_ids(objects: &[Arc<MaintenanceSession>]) -> std::collections::HashSet<i32> {
    objects
        .iter()
        .filter_map(|o| o.status.as_ref())
        .flat_map(|st| recorded_sessions(st).map(|(id, _)| id))
        .collect()
}

/// The sessions to read as ended: of objects in progress with a few
/// sessions, known before this cycle, not listed as active, not already
/// known to have ended.
fn ended_to_read(
    objects: &[Arc<MaintenanceSession>],
    known: &std::collections::HashSet<i32>,
    active: &BTreeMap<i32, (Option<SessionStatus>, Option<WireTime>)>,
    cache: &ImmyBotCache,
) -> Vec<Asked> {
    let mut out = Vec::new();
    for obj in objects {
        let Some(status) = obj.status.as_ref() else { continue };
        if !waits_on_sessions(status.phase) {
            continue;
        }
        if recorded_sessions(status).count() > PER_SESSION_MAX {
            continue;
        }
        for (id, intent) in recorded_sessions(status) {
            if known.contains(&id) && !active.contains_key(&id) && cache.ended_session(id).is_none() {
                out.push(Asked { id, intent });
            }
        }
    }
    out
}

/// The objects to reconcile: those owning a changed session, and those still
/// in progress none of whose sessions is active any more (they finished
/// between two cycles, perhaps before the poller ever saw them run).
fn to_trigger(
    objects: &[Arc<MaintenanceSession>],
    changed: &BTreeSet<i32>,
    active: &BTreeMap<i32, (Option<SessionStatus>, Option<WireTime>)>,
) -> Vec<ObjectRef<MaintenanceSession>> {
    let mut out = Vec::new();
    for obj in objects {
        let Some(status) = obj.status.as_ref() else { continue };
        let ids: Vec<i32> = recorded_sessions(status).map(|(id, _)| id).collect();
        if ids.is_empty() {
            continue;
        }
        let in_progress = waits_on_sessions(status.phase);
        let touched = ids.iter().any(|id| changed.contains(id));
        // An object whose computers wait for other sessions has its own
        // requeue (the busy backoff); triggering it every cycle would cost a
        // full read of its sessions each time for nothing.
        let waiting = status
            .immybot
            .as_ref()
            .and_then(|r| r.attempts.last())
            .is_some_and(|a| !a.busy_computer_ids.is_empty());
        let silently_finished = in_progress && !waiting && !ids.iter().any(|id| active.contains_key(id));
        if touched || silently_finished {
            out.push(ObjectRef::from(&**obj));
        }
    }
    out
}

/// Phases in which an object waits on ImmyBot sessions.
fn waits_on_sessions(phase: Option<Phase>) -> bool {
    phase.is_some_and(|p| matches!(p, Phase::Starting | Phase::Queued | Phase::Running | Phase::Postponed))
}
