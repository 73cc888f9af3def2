//! Fixtures: a simulator seeded with `examples/sim-fleet.yaml` on a manual
//! clock, and a client whose waits are recorded instead of spent.

use std::sync::Arc;
use std::time::Duration;

use immybot_client::*;
use immybot_sim::{FleetSeed, RunningSim, SimConfig};
use uuid::Uuid;

pub const RECEPTION_PC: i32 = 101; // tenant 2: 7-Zip update, Chrome compliant
pub const FINANCE_LT: i32 = 102; // tenant 2: Acrobat update, Legacy VPN fails
pub const KIOSK: i32 = 103; // tenant 2: offline
pub const DC: i32 = 201; // tenant 3: needs a reboot, user postpones prompts
pub const MSP_TENANT: i32 = 1;
pub const FABRIKAM: i32 = 2; // child of 1
pub const NORTHWIND: i32 = 3;
/// Each stage takes 5 s of simulated time, and a session waits 1 s in Created.
pub const STAGE: u64 = 5;

pub fn fleet() -> FleetSeed {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sim-fleet.yaml")).unwrap();
    FleetSeed::from_yaml(&text).unwrap()
}

pub struct Bed {
    pub sim: RunningSim,
    pub client: ImmyBotClient,
    pub sleeper: RecordingSleeper,
    pub secret: Secret,
}

impl Bed {
    /// The document's shape for `GET {id}` (actions embedded), so that the
    /// simulator's session behaviour can be read through one call; the live
    /// shape has its own tests (`actions.rs`, `Bed::live`).
    pub async fn new() -> Self {
        Self::with(
            SimConfig {
                seed: fleet(),
                shape: immybot_sim::ResponseShape {
                    actions_in_get: true,
                    ..Default::default()
                },
                ..Default::default()
            },
            |_| {},
        )
        .await
    }

    /// The simulator's defaults: the live shape (no actions in `GET {id}`).
    pub async fn live() -> Self {
        Self::with(
            SimConfig {
                seed: fleet(),
                ..Default::default()
            },
            |_| {},
        )
        .await
    }

    pub async fn with(config: SimConfig, tweak: impl FnOnce(&mut ClientConfig)) -> Self {
        let secret = config.client_secret.clone();
        let client_id = config.client_id.clone();
        let sim = RunningSim::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut client_config = sim.client_config(&client_id, &secret);
        client_config.request_timeout = Duration::from_secs(5);
        // What is under test is the HTTP: every call goes out (the cache
        // of look-ups has tests of its own, `schedules::lookups_*`).
        client_config.lookup_ages = LookupAges::none();
        tweak(&mut client_config);
        let sleeper = RecordingSleeper::default();
        let client = ImmyBotClient::new(client_config)
            .unwrap()
            .with_sleeper(Arc::new(sleeper.clone()));
        Self {
            sim,
            client,
            sleeper,
            secret,
        }
    }

    pub fn advance(&self, seconds: u64) {
        self.sim.state.advance(Duration::from_secs(seconds));
    }

    /// The ids of the sessions `query` lists whose group id, confirmed with
    /// `GET {id}` (the only response that promises it), is `group`: how a
    /// client must find what an unanswered start created.
    pub async fn sessions_of_group(&self, query: SessionQuery, group: uuid::Uuid) -> Vec<i32> {
        let page = self.client.find_sessions(&query).await.unwrap();
        let mut ids = Vec::new();
        for row in page.items {
            assert!(
                row.session_job_args.is_none(),
                "the simulator's dx rows must not carry sessionJobArgs by default"
            );
            let session = self.client.session(row.id, false, false).await.unwrap();
            if session.session_group_id() == Some(group) {
                ids.push(session.id);
            }
        }
        ids
    }

    pub fn calls(&self, route: &str) -> u64 {
        self.sim.state.call_count(route)
    }

    pub fn fault(&self, route: &str, fault: immybot_sim::FaultKind, times: u32) {
        self.sim.state.add_fault(immybot_sim::FaultRule {
            route: route.into(),
            fault,
            times: Some(times),
            probability: None,
        });
    }

    /// Starts maintenance for computers with a fresh group id.
    pub async fn start_computers(&self, ids: &[i32], tweak: impl FnOnce(&mut StartRequest)) -> (Uuid, StartOutcome) {
        let group = Uuid::new_v4();
        let mut request = StartRequest {
            computers: Some(ids.iter().map(|&computer_id| ComputerTarget { computer_id }).collect()),
            full_maintenance: true,
            session_group_id: Some(group),
            ..Default::default()
        };
        tweak(&mut request);
        let outcome = self.client.start(&request, StartEndpoint::Immediate).await.unwrap();
        (group, outcome)
    }

    /// The ids of the sessions a start created, in computer order.
    pub fn started_ids(outcome: &StartOutcome) -> Vec<i32> {
        match outcome {
            StartOutcome::Started { started, .. } => started.iter().map(|s| s.session_id).collect(),
            other => panic!("expected sessions to start, got {other:?}"),
        }
    }

    /// The first session a start created, with its actions.
    pub async fn first_session(&self, outcome: &StartOutcome) -> MaintenanceSession {
        self.client
            .session(Self::started_ids(outcome)[0], true, false)
            .await
            .unwrap()
    }

    /// A raw authenticated GET, for checks on exactly what the simulator sends.
    pub async fn raw_get(&self, path: &str) -> (u16, String, String) {
        let token = self.token().await;
        let response = reqwest::Client::new()
            .get(self.sim.base_url().join(path).unwrap())
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let ct = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, response.text().await.unwrap())
    }

    pub async fn token(&self) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "immybot-operator"),
            ("client_secret", self.secret.expose()),
            ("scope", "http://sim/.default"),
        ];
        let body: serde_json::Value = reqwest::Client::new()
            .post(self.sim.token_url())
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}
