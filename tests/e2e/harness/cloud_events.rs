//! A CloudEvents receiver for the notification tests: it records every
//! delivery (structured JSON, as it arrived) and answers as the test says:
//! accept, or record and fail (a sink that took the event and answered an
//! error: the sender must deliver again, with the same id).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};

use super::Context as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Accept,
    RecordAndFail,
}

#[derive(Default)]
struct State {
    answer: Option<Answer>,
    received: Vec<serde_json::Value>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: url::Url,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> Result<Self, String> {
        let state = Arc::new(Mutex::new(State {
            answer: Some(answer),
            received: vec![],
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .ctx("receiver listener")?;
        let addr = listener.local_addr().ctx("receiver address")?;
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let shared = shared.clone();
                async move {
                    let structured = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/cloudevents+json"));
                    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
                        return StatusCode::BAD_REQUEST;
                    };
                    if !structured {
                        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
                    }
                    let mut s = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.received.push(event);
                    match s.answer {
                        Some(Answer::Accept) => StatusCode::ACCEPTED,
                        _ => StatusCode::SERVICE_UNAVAILABLE,
                    }
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url: format!("http://{addr}/events").parse().ctx("receiver url")?,
            state,
            server,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Answers `answer` from now on; how many deliveries were answered
    /// the old way (read under the same lock: none is in between).
    pub fn answer(&self, answer: Answer) -> usize {
        let mut s = self.lock();
        s.answer = Some(answer);
        s.received.len()
    }

    /// Every delivery so far, in arrival order.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.lock().received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
