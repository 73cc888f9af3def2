//! An OpenTelemetry collector's OTLP/HTTP traces endpoint, in process:
//! `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`, decoded
//! with the OpenTelemetry project's own message types (opentelemetry-proto),
//! the spans kept for the test to read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use prost::Message as _;

/// One exported span, as the collector received it.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub parent_span_id: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    /// The resource's attributes (service.name, ...).
    pub resource: BTreeMap<String, String>,
}

pub struct Collector {
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    /// Requests that were not a valid export (a test failure).
    malformed: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

impl Collector {
    pub async fn start() -> Result<Self, String> {
        use axum::routing::post;
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let malformed: Arc<Mutex<Vec<String>>> = Arc::default();
        let (kept, bad) = (spans.clone(), malformed.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (kept, bad) = (kept.clone(), bad.clone());
                async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) if content_type == "application/x-protobuf" => {
                            let mut got = Vec::new();
                            for rs in request.resource_spans {
                                let resource: BTreeMap<String, String> = rs
                                    .resource
                                    .map(|r| r.attributes)
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|kv| (kv.key, text(kv.value.as_ref())))
                                    .collect();
                                for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                                    got.push(ReceivedSpan {
                                        name: span.name,
                                        trace_id: span.trace_id,
                                        span_id: span.span_id,
                                        parent_span_id: span.parent_span_id,
                                        attributes: span
                                            .attributes
                                            .into_iter()
                                            .map(|kv| (kv.key, text(kv.value.as_ref())))
                                            .collect(),
                                        resource: resource.clone(),
                                    });
                                }
                            }
                            if let Ok(mut all) = kept.lock() {
                                all.extend(got);
                            }
                        }
                        other => {
                            if let Ok(mut all) = bad.lock() {
                                all.push(format!("content-type {content_type:?}: {:?}", other.err()));
                            }
                        }
                    }
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("collector port: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            spans,
            malformed,
            server,
        })
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn malformed(&self) -> Vec<String> {
        self.malformed.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}
