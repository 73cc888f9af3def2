use immybot_client::{ImmyBotClient, Secret};
use immybot_sim::{RunningSim, SimConfig};

use super::*;

const ROUTE: &str = "GET /api/v1/schedules/running-schedule-ids";

/// Against the simulator over real HTTP.
#[tokio::test]
async fn many_reconciles_share_one_running_ids_call() {
    let sim = RunningSim::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = ImmyBotClient::new(sim.client_config("immybot-operator", &Secret::new("simulator-secret"))).unwrap();
    let running = RunningSchedules::default();
    let asks = (0..20).map(|_| running.ids(&client, Duration::from_secs(60)));
    for ids in futures::future::join_all(asks).await {
        assert!(ids.unwrap().is_empty());
    }
    assert_eq!(sim.state.call_count(ROUTE), 1);
    running.invalidate().await;
    running.ids(&client, Duration::from_secs(60)).await.unwrap();
    assert_eq!(sim.state.call_count(ROUTE), 2);
    running.ids(&client, Duration::ZERO).await.unwrap();
    assert_eq!(sim.state.call_count(ROUTE), 3, "a stale answer is asked again");
}
