//! The simulator's admin API over HTTP, as demos and out-of-process tests use it.

use immybot_client::*;
use serde_json::{Value, json};

use crate::support::*;

async fn admin(bed: &Bed, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, bed.sim.base_url().join(path).unwrap());
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn faults_clock_ledger_and_calls_through_the_admin_api() {
    let bed = Bed::new().await;
    let post = reqwest::Method::POST;

    let (status, _) = admin(
        &bed,
        post.clone(),
        "_sim/faults",
        Some(json!({"route": "GET /api/v1/tenants", "kind": "status", "status": 404, "times": 1})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, rules) = admin(&bed, reqwest::Method::GET, "_sim/faults", None).await;
    assert_eq!(rules[0]["route"], "GET /api/v1/tenants");
    assert_eq!(bed.client.tenants().await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(bed.client.tenants().await.unwrap().len(), 5, "the rule applied once");

    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    let (status, now) = admin(&bed, post.clone(), "_sim/clock/advance", Some(json!({"seconds": 60}))).await;
    assert_eq!(status, 200, "{now}");
    let (_, ledger) = admin(&bed, reqwest::Method::GET, "_sim/sessions", None).await;
    assert_eq!(ledger[0]["id"], id);
    assert_eq!(ledger[0]["status"], "Passed");

    let (_, calls) = admin(&bed, reqwest::Method::GET, "_sim/calls", None).await;
    assert_eq!(calls["calls"]["GET /api/v1/tenants"], 2);
    assert_eq!(calls["calls"]["POST /api/v1/run-immy-service"], 1);
    let (status, _) = admin(&bed, reqwest::Method::DELETE, "_sim/calls", None).await;
    assert_eq!(status, 204);
    assert!(bed.sim.state.calls().is_empty());

    let (status, _) = admin(
        &bed,
        post.clone(),
        &format!("_sim/computers/{KIOSK}/online"),
        Some(json!({"online": true})),
    )
    .await;
    assert_eq!(status, 204);
    assert!(bed.client.computer(KIOSK).await.unwrap().is_online);
    let (status, _) = admin(
        &bed,
        post.clone(),
        "_sim/computers/9999/online",
        Some(json!({"online": true})),
    )
    .await;
    assert_eq!(status, 404);

    let (status, _) = admin(
        &bed,
        post.clone(),
        "_sim/settings",
        Some(json!({"startResponseShape": "empty"})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    assert_eq!(outcome, StartOutcome::Accepted);

    let (status, _) = admin(&bed, post, "_sim/tokens/revoke", None).await;
    assert_eq!(status, 204);
    bed.client.tenants().await.unwrap();
    assert_eq!(
        bed.calls("POST /{tenant}/oauth2/v2.0/token"),
        1,
        "one refresh after the revocation (calls were reset)"
    );
}

#[tokio::test]
async fn api_routes_refuse_requests_without_a_valid_token() {
    let bed = Bed::new().await;
    let anonymous = reqwest::Client::new()
        .get(bed.sim.base_url().join("api/v1/tenants").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let forged = reqwest::Client::new()
        .get(bed.sim.base_url().join("api/v1/tenants").unwrap())
        .bearer_auth("sim-forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let bad_grant = reqwest::Client::new()
        .post(bed.sim.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", "immybot-operator"),
            ("client_secret", "x"),
            ("scope", "a/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_grant.status().as_u16(), 400);
}
