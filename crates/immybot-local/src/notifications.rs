//! A local CloudEvents receiver: the operator's `--default-cloud-events-sink`
//! on this machine, printing each notification as it arrives (what a
//! Knative broker, Argo Events or a chat webhook would get). Duplicates (a
//! redelivery after a lost answer) are printed once, by id.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

/// Starts the receiver; its URL for the operator's flag.
pub async fn start() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the notification receiver")?;
    let addr = listener.local_addr().context("receiver address")?;
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let id = event["id"].as_str().unwrap_or_default().to_owned();
                if seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id)
                {
                    println!("{}", line(&event));
                }
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("notification receiver: {e}");
        }
    });
    Ok((format!("http://{addr}/"), server))
}

/// One notification in one line: what, which object, why.
fn line(event: &serde_json::Value) -> String {
    let ty = event["type"].as_str().unwrap_or_default();
    let what = ty
        .trim_start_matches("io.immybot.maintenancesession.")
        .trim_end_matches(".v1");
    let data = &event["data"];
    let full = data["message"].as_str().unwrap_or_default();
    let message: String = if full.chars().count() > 140 {
        full.chars().take(137).chain("...".chars()).collect()
    } else {
        full.to_owned()
    };
    format!(
        "notification (CloudEvent {what}) {}/{}: {} {message}",
        data["namespace"].as_str().unwrap_or_default(),
        data["name"].as_str().unwrap_or_default(),
        data["reason"].as_str().unwrap_or_default(),
    )
}
