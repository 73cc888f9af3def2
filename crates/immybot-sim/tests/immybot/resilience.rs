//! Faults injected in the simulator and how the client copes. Waits are
//! recorded by the client's sleeper, not spent, so the delays it chose are
//! asserted exactly and the tests take milliseconds.

use std::time::Duration;

use immybot_client::*;
use immybot_sim::{FaultKind, SimConfig};

use crate::support::*;

const SESSION_ROUTE: &str = "GET /api/v1/maintenance-sessions/{sessionId}";
const START_ROUTE: &str = "POST /api/v1/run-immy-service";
const TOKEN_ROUTE: &str = "POST /{tenant}/oauth2/v2.0/token";

async fn one_session(bed: &Bed) -> i32 {
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    Bed::started_ids(&outcome)[0]
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_jittered_backoff() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(SESSION_ROUTE, FaultKind::Status { status: 503 }, 3);
    let s = bed.client.session(id, false, false).await.unwrap();
    assert_eq!(s.id, id);
    assert_eq!(bed.calls(SESSION_ROUTE), 4, "three failures and the success");
    let waits = bed.sleeper.waits();
    let policy = RetryPolicy::default();
    assert_eq!(waits.len(), 3, "{waits:?}");
    for (i, wait) in waits.iter().enumerate() {
        let full = policy.base_delay * (1 << i);
        assert!(
            *wait >= full / 2 && *wait <= full,
            "retry {i}: {wait:?} not in [{:?}, {full:?}]",
            full / 2
        );
    }
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_with_the_last_error() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(SESSION_ROUTE, FaultKind::Status { status: 502 }, 100);
    let err = bed.client.session(id, false, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("502"), "{err}");
    assert_eq!(bed.calls(SESSION_ROUTE), u64::from(RetryPolicy::default().max_attempts));
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(
        SESSION_ROUTE,
        FaultKind::RateLimited {
            retry_after_seconds: 7,
            http_date: false,
        },
        1,
    );
    bed.client.session(id, false, false).await.unwrap();
    assert_eq!(bed.sleeper.waits(), vec![Duration::from_secs(7)]);

    bed.fault(
        SESSION_ROUTE,
        FaultKind::RateLimited {
            retry_after_seconds: 30,
            http_date: true,
        },
        1,
    );
    bed.client.session(id, false, false).await.unwrap();
    let date_wait = bed.sleeper.waits()[1];
    // An HTTP date has one-second resolution and the request took a moment.
    assert!(
        date_wait >= Duration::from_secs(28) && date_wait <= Duration::from_secs(30),
        "{date_wait:?}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_fails_as_rate_limited() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(
        SESSION_ROUTE,
        FaultKind::RateLimited {
            retry_after_seconds: 3600,
            http_date: false,
        },
        1,
    );
    let err = bed.client.session(id, false, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(bed.sleeper.waits().is_empty());
}

#[tokio::test]
async fn start_is_never_retried_after_it_may_have_reached_immybot() {
    let bed = Bed::new().await;
    bed.fault(START_ROUTE, FaultKind::Status { status: 500 }, 1);
    let request = StartRequest {
        computers: Some(vec![ComputerTarget {
            computer_id: RECEPTION_PC,
        }]),
        ..Default::default()
    };
    let err = bed.client.start(&request, StartEndpoint::Immediate).await.unwrap_err();
    assert!(err.start_outcome_unknown(), "{err}");
    assert_eq!(bed.calls(START_ROUTE), 1, "exactly one start was sent");
}

#[tokio::test]
async fn start_is_retried_when_immybot_refused_it_with_429() {
    let bed = Bed::new().await;
    bed.fault(
        START_ROUTE,
        FaultKind::RateLimited {
            retry_after_seconds: 2,
            http_date: false,
        },
        1,
    );
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    assert_eq!(Bed::started_ids(&outcome).len(), 1);
    assert_eq!(bed.calls(START_ROUTE), 2);
    assert_eq!(bed.sim.state.ledger().len(), 1, "one session, not two");
}

#[tokio::test]
async fn a_lost_start_response_leaves_sessions_findable_by_group_id() {
    let bed = Bed::new().await;
    bed.fault(START_ROUTE, FaultKind::DropResponse, 1);
    let group = uuid::Uuid::new_v4();
    let request = StartRequest {
        computers: Some(vec![
            ComputerTarget {
                computer_id: RECEPTION_PC,
            },
            ComputerTarget {
                computer_id: FINANCE_LT,
            },
        ]),
        session_group_id: Some(group),
        ..Default::default()
    };
    let err = bed.client.start(&request, StartEndpoint::Immediate).await.unwrap_err();
    assert!(
        err.start_outcome_unknown(),
        "a dropped answer must count as 'may have started': {err}"
    );
    assert_eq!(bed.calls(START_ROUTE), 1);
    let ledger = bed.sim.state.ledger();
    assert_eq!(ledger.len(), 2, "ImmyBot did start the sessions");
    let mut found = Vec::new();
    for computer in [RECEPTION_PC, FINANCE_LT] {
        let query = SessionQuery {
            computer_id: Some(computer),
            ..Default::default()
        };
        found.extend(bed.sessions_of_group(query, group).await);
    }
    found.sort();
    assert_eq!(found, ledger.iter().map(|e| e.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_html_page_is_its_own_error_not_a_decode_failure() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(SESSION_ROUTE, FaultKind::HtmlPage, 1);
    let err = bed.client.session(id, false, false).await.unwrap_err();
    assert!(matches!(err, ImmyBotError::HtmlPage { .. }), "{err:?}");
    assert!(err.to_string().contains("path or base URL is wrong"), "{err}");
    // The quirk itself: a list path without /dx answers the page with 200.
    let (status, ct, body) = bed.raw_get("api/v1/computers").await;
    assert_eq!(status, 200);
    assert!(
        ct.starts_with("text/html") && body.starts_with("<!DOCTYPE html>"),
        "{ct} {body}"
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_naming_the_route() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.fault(SESSION_ROUTE, FaultKind::MalformedJson, 1);
    let err = bed.client.session(id, false, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        err.to_string().contains("GET /api/v1/maintenance-sessions/{id}"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hung_request_times_out_and_is_retried_when_idempotent() {
    let bed = Bed::with(
        SimConfig {
            seed: fleet(),
            ..Default::default()
        },
        |c| {
            c.request_timeout = Duration::from_millis(300);
        },
    )
    .await;
    let id = one_session(&bed).await;
    bed.fault(SESSION_ROUTE, FaultKind::Hang, 1);
    let s = bed.client.session(id, false, false).await.unwrap();
    assert_eq!(s.id, id);
    assert_eq!(bed.calls(SESSION_ROUTE), 2);

    bed.fault(START_ROUTE, FaultKind::Hang, 1);
    let request = StartRequest {
        computers: Some(vec![ComputerTarget {
            computer_id: FINANCE_LT,
        }]),
        ..Default::default()
    };
    let err = bed.client.start(&request, StartEndpoint::Immediate).await.unwrap_err();
    assert!(matches!(err, ImmyBotError::Timeout { .. }), "{err:?}");
    assert!(err.start_outcome_unknown());
    assert_eq!(
        bed.calls(START_ROUTE),
        2,
        "the earlier start plus this one, never retried"
    );
}

#[tokio::test]
async fn one_token_serves_many_concurrent_callers() {
    let bed = Bed::new().await;
    // These are the client's first calls: all of them find no token.
    let calls = (0..20).map(|_| {
        let c = bed.client.clone();
        tokio::spawn(async move { c.tenants().await })
    });
    // Collect first: a lazy map would spawn each call only when awaited.
    let calls: Vec<_> = calls.collect();
    for handle in calls {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(bed.calls(TOKEN_ROUTE), 1, "the token was fetched once and shared");
    assert_eq!(bed.calls("GET /api/v1/tenants"), 20);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_call_repeated() {
    let bed = Bed::new().await;
    let id = one_session(&bed).await;
    bed.sim.state.revoke_tokens();
    let calls = (0..10).map(|_| {
        let c = bed.client.clone();
        tokio::spawn(async move { c.session(id, false, false).await })
    });
    // Collect first: a lazy map would spawn each call only when awaited.
    let calls: Vec<_> = calls.collect();
    for handle in calls {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(bed.calls(TOKEN_ROUTE), 2, "concurrent 401s share a single refresh");
}

#[tokio::test]
async fn bad_credentials_are_an_auth_error_that_never_shows_the_secret() {
    let config = SimConfig {
        seed: fleet(),
        ..Default::default()
    };
    let bed = Bed::with(config, |c| c.auth.client_secret = Secret::new("wrong-secret-value-123")).await;
    let err = bed.client.tenants().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!format!("{err} {err:?}").contains("wrong-secret-value-123"), "{err:?}");
    assert_eq!(bed.calls("GET /api/v1/tenants"), 0, "nothing is sent without a token");
}

#[tokio::test]
async fn requests_in_flight_never_exceed_the_cap() {
    let bed = Bed::with(
        SimConfig {
            seed: fleet(),
            ..Default::default()
        },
        |c| {
            c.limits = Limits {
                requests_per_second: 1000.0,
                burst: 1000,
                max_concurrent: 2,
                ..Default::default()
            };
        },
    )
    .await;
    let id = one_session(&bed).await;
    bed.sim.state.add_fault(immybot_sim::FaultRule {
        route: SESSION_ROUTE.into(),
        fault: FaultKind::Latency { millis: 100 },
        times: None,
        probability: None,
    });
    bed.sim.state.reset_calls();
    let calls = (0..8).map(|_| {
        let c = bed.client.clone();
        tokio::spawn(async move { c.session(id, false, false).await })
    });
    // Collect first: a lazy map would spawn each call only when awaited.
    let calls: Vec<_> = calls.collect();
    for handle in calls {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(bed.calls(SESSION_ROUTE), 8);
    assert_eq!(
        bed.sim.state.peak_in_flight(),
        2,
        "the simulator saw at most two requests at once"
    );
}

#[tokio::test]
async fn plain_http_is_refused_without_the_explicit_insecure_setting() {
    let bed = Bed::new().await;
    let mut config = bed.sim.client_config("immybot-operator", &bed.secret);
    config.allow_insecure = false;
    let err = ImmyBotClient::new(config).unwrap_err();
    assert!(err.to_string().contains("not https"), "{err}");
}
