//! A stateful ImmyBot simulator: the same paths and shapes as the instance's
//! OpenAPI document, a token endpoint, fault injection and an admin API.
//! Every test, demo and benchmark runs against it; run it yourself with
//! `immybot-sim --seed examples/sim-fleet.yaml` (see `docs/simulator.md`).

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

mod clock;
mod destructive;
mod dx_filter;
mod engine;
mod faults;
mod fleet;
mod http;

pub use clock::SimClock;
pub use destructive::{DestructiveCall, schedule_create_intent};
pub use engine::{Engine, EngineError, EngineSettings, LedgerEntry, RunMode, SessionArgs, Started};
pub use faults::{FaultKind, FaultRule, Faults};
pub use fleet::{FleetSeed, SeedComputer, SeedSoftware, SeedTenant, SoftwareBehaviour};
pub use http::StartResponseShape;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use url::Url;

use immybot_client::{AuthConfig, ClientConfig, Secret};

/// How the simulator is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: FleetSeed,
    pub engine: EngineSettings,
    /// `None`: a manual clock starting at this time; see [`SimClock`].
    pub clock: ClockMode,
    /// The credentials the token endpoint accepts.
    pub client_id: String,
    pub client_secret: Secret,
    pub token_lifetime: Duration,
    /// How responses are shaped where the document and live evidence leave
    /// room; the default is the least helpful reading of each.
    pub shape: ResponseShape,
}

/// The simulator's answers where the document leaves a shape open or live
/// instances differ from it. Every default is the reading least helpful to a
/// client (or the live evidence, where it exists), so that tests cannot lean
/// on what a real instance may not send; each switch turns on the other.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseShape {
    /// Rows of the session `dx` list carry `sessionJobArgs` (and with it
    /// `sessionGroupId`). The document leaves `dx` rows untyped and promises
    /// `sessionJobArgs` only on `GET /maintenance-sessions/{id}`.
    pub dx_rows_with_job_args: bool,
    /// `GET /maintenance-sessions/{id}` answers without `sessionJobArgs`, as
    /// an instance that breaks the document would.
    pub get_without_job_args: bool,
    /// Rows of the session `dx` list carry the per-stage statuses
    /// (`detectionStageStatus`, ...). The document leaves `dx` rows untyped
    /// and no live evidence shows them there: off by default, so a client
    /// must read a session whose stages it needs.
    pub dx_rows_with_stages: bool,
    /// `GET /computers/dx` ignores its `filter`, as some list routes ignore
    /// what they do not know.
    pub computers_dx_ignores_filter: bool,
    /// `GET /maintenance-sessions/{id}?includeActions=true` carries
    /// `maintenanceActions`, as the document says. Off by default: live
    /// answers have come without them.
    pub actions_in_get: bool,
    /// `GET /maintenance-actions/dx` answers the bare array the document
    /// types it as, instead of the `LoadResult` live clients page through.
    pub actions_dx_as_array: bool,
    /// `GET /maintenance-actions/dx` ignores `group` and answers rows (how
    /// an instance without grouping would).
    pub actions_dx_ignores_group: bool,
    /// `dx` filters accept ISO 8601 dates. Off by default: only
    /// `MM/dd/yyyy HH:mm:ss` is known to work.
    pub accept_iso_dates: bool,
    /// A secret-looking task parameter value carried in every session's
    /// `sessionJobArgs` (as live instances echo parameters in clear text),
    /// for tests that it never reaches status, events or logs.
    pub job_args_secret: Option<String>,
    /// Schedules answer `timeZoneInfoId` as it was sent. Off by default: the
    /// document does not say which form comes back, and a .NET instance may
    /// answer the Windows id of the IANA zone it was given.
    pub schedule_zone_as_sent: bool,
    /// Action rows of a detection-only session carry versions
    /// (`detectedVersionString`, `desiredVersionString`), `status` and
    /// `result`. Off by default: the document promises `actionType` and
    /// `maintenanceDisplayName`, and which other fields a live instance
    /// fills for a detection-only session is not known.
    pub detection_rows_in_full: bool,
    /// `GET /maintenance-sessions/dx` ignores its `filter` and answers every
    /// row (paged and sorted), as list routes that silently ignore what
    /// they do not apply would: rows then contradict the query (ended rows
    /// in a listing of active statuses, other ids than the range asked).
    /// Off by default: the document does not say the filter is ignored,
    /// and a client must hold either way (a row's own fields decide).
    pub sessions_dx_ignores_filter: bool,
    /// `POST .../actions/{actionId}/rerun` runs the action again inside the
    /// session it belongs to (the session back to `Running`, the action
    /// pending, then a new result and end time), instead of in a new
    /// session carrying `sessionJobArgs.actionIdToRerun`. Off by default:
    /// `SessionJobArgs.rerunningAction`/`actionIdToRerun` in the document
    /// suggest a new session; nothing says so, so a client must recognise
    /// both.
    pub action_rerun_in_place: bool,
    /// Every session read (`GET {id}` and `dx` rows) carries the time of
    /// the read as `updatedDateUTC`, as an instance that moves it on every
    /// log line or heartbeat would show it. Off by default (it moves when
    /// the status or a stage changes): the document does not say what
    /// moves it, so a client must not read news into it alone.
    pub updated_on_every_read: bool,
    /// A session cancel is accepted (200) and takes effect when the running
    /// stage ends, as an instance that lets a script finish would do it.
    /// Off by default (the session ends `Cancelled` at once): nothing says
    /// how soon ImmyBot ends a cancelled session, so a client must wait
    /// for it without asking again.
    pub cancel_after_the_stage: bool,
    /// The compliance routes (`latest-non-compliant-actions-for-tenant`,
    /// `computer/{id}/needs-attention`, `latest-action-for-computers`) answer
    /// whole action rows (names, result, times), as the document's
    /// `GetMaintenanceActionResponse` would. Off by default: the tenant
    /// route's items are untyped (`{}`) and no live evidence shows what
    /// rows carry, so they carry only `id`, `computerId` and
    /// `maintenanceIdentifier`, and a client names items and computers
    /// from what it already knows.
    pub compliance_rows_in_full: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMode {
    /// Real time times a speed factor.
    Real { speed: f64 },
    /// Stands still until advanced (tests).
    Manual,
}

impl SimConfig {
    /// A simulator of `seed` on the real clock, sped up so that each stage
    /// (5 simulated seconds) takes `stage_ms` real milliseconds: whole
    /// lifecycles in seconds, for tests and the bench.
    pub fn sped_up(seed: FleetSeed, stage_ms: u64) -> Self {
        SimConfig {
            seed,
            engine: EngineSettings {
                stage_duration: Duration::from_secs(5),
                queue_delay: Duration::from_secs(1),
                max_concurrent_sessions: 0,
            },
            clock: ClockMode::Real {
                speed: 5000.0 / stage_ms.max(1) as f64,
            },
            ..Default::default()
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: FleetSeed::generate(2, 5),
            engine: EngineSettings::default(),
            clock: ClockMode::Manual,
            client_id: "immybot-operator".into(),
            client_secret: Secret::new("simulator-secret"),
            token_lifetime: Duration::from_secs(3600),
            shape: ResponseShape::default(),
        }
    }
}

/// The shared state behind every route. Locks are held only for in-memory
/// work, never across an `.await`.
pub struct SimState {
    engine: Mutex<Engine>,
    clock: SimClock,
    faults: Mutex<Faults>,
    calls: Mutex<BTreeMap<String, u64>>,
    /// JSON bodies received, by route, oldest first (bounded).
    bodies: Mutex<Vec<(String, serde_json::Value)>>,
    /// Query strings of GET requests, by route, oldest first (bounded).
    queries: Mutex<Vec<(String, String)>>,
    /// Requests being handled now, and the most seen at once.
    in_flight: Mutex<(usize, usize)>,
    tokens: Mutex<HashMap<String, Timestamp>>,
    /// Every call that changed the instance, with its intent (`destructive`).
    destructive: Mutex<Vec<DestructiveCall>>,
    /// Schedules created through the API, with their create intent.
    created_schedules: Mutex<BTreeMap<i32, String>>,
    start_shape: Mutex<StartResponseShape>,
    shape: Mutex<ResponseShape>,
    client_id: String,
    /// The client secret the token endpoint accepts (rotated by tests).
    client_secret: Mutex<Secret>,
    token_lifetime: Duration,
}

/// Recovers a poisoned lock: the simulator's state stays usable after a
/// handler panicked, which only a bug could cause.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SimState {
    pub fn new(config: &SimConfig) -> Self {
        let clock = match config.clock {
            ClockMode::Real { speed } => SimClock::real(speed),
            ClockMode::Manual => SimClock::manual(Timestamp::now()),
        };
        Self {
            engine: Mutex::new(Engine::new(&config.seed, config.engine.clone())),
            clock,
            faults: Mutex::new(Faults::default()),
            calls: Mutex::new(BTreeMap::new()),
            in_flight: Mutex::new((0, 0)),
            bodies: Mutex::new(Vec::new()),
            queries: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
            destructive: Mutex::new(Vec::new()),
            created_schedules: Mutex::new(BTreeMap::new()),
            start_shape: Mutex::new(StartResponseShape::default()),
            shape: Mutex::new(config.shape.clone()),
            client_id: config.client_id.clone(),
            client_secret: Mutex::new(config.client_secret.clone()),
            token_lifetime: config.token_lifetime,
        }
    }

    /// Runs `f` on the engine after advancing it to the clock's time.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, Timestamp) -> T) -> T {
        let now = self.clock.now();
        let mut engine = lock(&self.engine);
        engine.advance_to(now);
        f(&mut engine, now)
    }

    /// Plays `weeks` of past weekly maintenance of every computer
    /// (`Engine::seed_history`); returns how many sessions it made.
    pub fn seed_history(&self, weeks: u32) -> usize {
        self.with_engine(|e, now| e.seed_history(weeks, now))
    }

    pub fn tick(&self) {
        self.with_engine(|_, _| ());
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.tick();
    }

    pub fn count_call(&self, route: &str) {
        *lock(&self.calls).entry(route.to_owned()).or_insert(0) += 1;
    }

    /// Calls per route template since start or the last reset.
    /// How many calls `route` (a route template) has had.
    pub fn call_count(&self, route: &str) -> u64 {
        lock(&self.calls).get(route).copied().unwrap_or(0)
    }

    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.calls).clone()
    }

    pub fn reset_calls(&self) {
        lock(&self.calls).clear();
        lock(&self.in_flight).1 = 0;
    }

    /// Keeps a request's JSON body for tests; the oldest go past 1,000.
    fn record_body(&self, route: &str, body: &[u8]) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            let mut bodies = lock(&self.bodies);
            if bodies.len() >= 1000 {
                bodies.remove(0);
            }
            bodies.push((route.to_owned(), value));
        }
    }

    /// Keeps a GET request's query string for tests; the oldest go past 1,000.
    fn record_query(&self, route: &str, query: &str) {
        let mut queries = lock(&self.queries);
        if queries.len() >= 1000 {
            queries.remove(0);
        }
        queries.push((route.to_owned(), query.to_owned()));
    }

    /// The decoded query parameters of the GET requests received on `route`,
    /// oldest first.
    pub fn queries(&self, route: &str) -> Vec<Vec<(String, String)>> {
        lock(&self.queries)
            .iter()
            .filter(|(r, _)| r == route)
            .map(|(_, q)| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .collect()
    }

    /// The JSON bodies received on `route`, oldest first.
    pub fn bodies(&self, route: &str) -> Vec<serde_json::Value> {
        lock(&self.bodies)
            .iter()
            .filter(|(r, _)| r == route)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The most API requests handled at the same time since the last reset.
    pub fn peak_in_flight(&self) -> usize {
        lock(&self.in_flight).1
    }

    fn enter(&self) -> InFlight<'_> {
        let mut g = lock(&self.in_flight);
        g.0 += 1;
        g.1 = g.1.max(g.0);
        InFlight(self)
    }

    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.faults).add(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub fn fault_rules(&self) -> Vec<FaultRule> {
        lock(&self.faults).rules().to_vec()
    }

    fn pick_fault(&self, route: &str) -> Option<FaultKind> {
        lock(&self.faults).pick(route)
    }

    pub fn set_start_shape(&self, shape: StartResponseShape) {
        *lock(&self.start_shape) = shape;
    }

    fn start_shape(&self) -> StartResponseShape {
        *lock(&self.start_shape)
    }

    /// How responses are shaped now (see [`ResponseShape`]).
    pub fn shape(&self) -> ResponseShape {
        lock(&self.shape).clone()
    }

    /// Changes how responses are shaped from the next request on.
    pub fn update_shape(&self, f: impl FnOnce(&mut ResponseShape)) {
        f(&mut lock(&self.shape));
    }

    /// Every ImmyBot schedule of the instance, as sent (for tests).
    pub fn schedules(&self) -> Vec<immybot_client::Schedule> {
        self.with_engine(|e, _| e.schedules(None))
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.with_engine(|e, _| e.ledger())
    }

    /// Every call that changed the instance, oldest first, with the intent
    /// it served and the status its handler answered.
    pub fn destructive_calls(&self) -> Vec<DestructiveCall> {
        lock(&self.destructive).clone()
    }

    /// The intents ImmyBot carried out more than once, with how often:
    /// empty when nothing was ever done twice.
    pub fn repeated_intents(&self) -> Vec<(String, usize)> {
        destructive::repeated(&lock(&self.destructive))
    }

    /// The intents a call serves, read before it is carried out.
    fn intents_of(&self, route: &str, path: &str, body: &[u8]) -> Vec<String> {
        let created = lock(&self.created_schedules).clone();
        self.with_engine(|e, _| destructive::intents(route, path, body, e, &created))
    }

    fn record_destructive(&self, route: &str, intents: Vec<String>, status: u16) {
        if route == "POST /api/v1/schedules"
            && (200..300).contains(&status)
            && let Some(intent) = intents.first()
            && let Some(id) = self.with_engine(|e, _| e.schedules(None).iter().map(|s| s.id).max())
        {
            // The newest schedule is the one just created (creates are
            // carried out one at a time under the engine's lock).
            let intent = intent.split(" (recreation").next().unwrap_or(intent).to_owned();
            lock(&self.created_schedules).insert(id, intent);
        }
        let mut calls = lock(&self.destructive);
        calls.extend(intents.into_iter().map(|intent| DestructiveCall {
            route: route.to_owned(),
            intent,
            status,
        }));
    }

    /// A token for valid credentials, with its lifetime.
    fn issue_token(&self, client_id: Option<&str>, secret: Option<&str>) -> Option<(String, Duration)> {
        if client_id != Some(self.client_id.as_str()) || secret != Some(lock(&self.client_secret).expose()) {
            return None;
        }
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        let expires = Timestamp::now()
            .checked_add(self.token_lifetime)
            .unwrap_or(Timestamp::MAX);
        lock(&self.tokens).insert(token.clone(), expires);
        Some((token, self.token_lifetime))
    }

    fn token_valid(&self, token: &str) -> bool {
        lock(&self.tokens).get(token).is_some_and(|exp| Timestamp::now() < *exp)
    }

    /// Invalidates every issued token: the next call of each client gets 401.
    pub fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }

    /// Accepts only `secret` from now on and revokes every token, as
    /// rotating an app registration's secret (and removing the old one)
    /// does: clients must sign in again with the new secret.
    pub fn rotate_client_secret(&self, secret: Secret) {
        *lock(&self.client_secret) = secret;
        self.revoke_tokens();
    }
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a SimState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut g = lock(&self.0.in_flight);
        g.0 = g.0.saturating_sub(1);
    }
}

/// A simulator serving on a local port until dropped or shut down.
pub struct RunningSim {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    /// Binds `addr` (use port 0 for any free port) and serves.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(&config));
        let app = http::router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        Ok(Self {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn base_url(&self) -> Url {
        // Invariant: a socket address always forms a valid http URL.
        #[allow(clippy::expect_used)]
        Url::parse(&format!("http://{}/", self.addr)).expect("socket address forms a URL")
    }

    /// The token endpoint, in Entra's path shape.
    pub fn token_url(&self) -> Url {
        #[allow(clippy::expect_used)]
        self.base_url()
            .join("simulated-tenant/oauth2/v2.0/token")
            .expect("static path joins")
    }

    /// A client configuration that talks to this simulator with the given
    /// credentials (insecure http is allowed: it is loopback).
    pub fn client_config(&self, client_id: &str, client_secret: &Secret) -> ClientConfig {
        let mut config = ClientConfig::new(
            self.base_url(),
            AuthConfig {
                entra_tenant_id: "simulated-tenant".into(),
                client_id: client_id.into(),
                client_secret: client_secret.clone(),
                token_url: Some(self.token_url()),
                scope: None,
            },
        );
        config.allow_insecure = true;
        config
    }

    /// The `immybot-operator` flags that point the operator at this simulator,
    /// with the client secret in `secret_file` (as from a mounted Secret).
    /// Callers append their own flags (namespace, lease, admin address).
    pub fn operator_flags(&self, secret_file: &std::path::Path) -> Vec<String> {
        [
            "immybot-operator",
            "--immybot-url",
            self.base_url().as_str(),
            "--entra-tenant-id",
            "simulated-tenant",
            "--client-id",
            "immybot-operator",
            "--client-secret-file",
            &secret_file.display().to_string(),
            "--token-url",
            self.token_url().as_str(),
            "--allow-insecure-http",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Stops serving and waits for in-flight requests (hung ones are cut).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
