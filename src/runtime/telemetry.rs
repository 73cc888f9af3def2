//! The operator's spans (`controller::spans`, the client's `immybot_call`,
//! the poller's `poll_cycle`) exported to an OpenTelemetry collector over
//! OTLP/HTTP (protobuf), as a `tracing` layer beside the log lines. Behind
//! the `otlp` cargo feature; without it, asking for an endpoint is an error
//! rather than silence.

/// Why traces cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "this build has no OTLP export (built without the `otlp` feature); unset --otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    NotBuilt,
    #[cfg(feature = "otlp")]
    #[error("setting up the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        endpoint: String,
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// Flushes what is still buffered when dropped at exit.
pub struct Flush {
    #[cfg(feature = "otlp")]
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl Drop for Flush {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Err(e) = self.provider.shutdown() {
            // Logging is going away with the process; stderr is what is left.
            eprintln!("flushing traces to the OTLP collector: {e}");
        }
    }
}

/// The layer that exports spans to `endpoint` (OTLP/HTTP, the base URL),
/// and what flushes it at exit.
#[cfg(feature = "otlp")]
pub fn otlp_layer<S>(
    endpoint: &url::Url,
) -> Result<(impl tracing_subscriber::Layer<S> + Send + Sync + 'static, Flush), TelemetryError>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    // The exporter's HTTP client is built here, before the ImmyBot
    // client installs the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let traces = traces_url(endpoint);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces.clone())
        .build()
        .map_err(|source| TelemetryError::Exporter {
            endpoint: traces,
            source,
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("immybot-operator")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("immybot-operator"));
    Ok((layer, Flush { provider }))
}

/// OTLP/HTTP's traces path under the collector's base URL (the OpenTelemetry
/// convention for OTEL_EXPORTER_OTLP_ENDPOINT), whatever path it has.
pub fn traces_url(endpoint: &url::Url) -> String {
    format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
}

/// Without the `otlp` feature there is nothing to export with.
#[cfg(not(feature = "otlp"))]
pub fn otlp_layer(_endpoint: &url::Url) -> Result<(tracing_subscriber::layer::Identity, Flush), TelemetryError> {
    Err(TelemetryError::NotBuilt)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_traces_path_is_added_to_the_base_url() {
        let at = |base: &str| super::traces_url(&url::Url::parse(base).unwrap());
        assert_eq!(at("http://collector:4318"), "http://collector:4318/v1/traces");
        assert_eq!(at("http://collector:4318/"), "http://collector:4318/v1/traces");
        assert_eq!(at("https://gw.example/otel/"), "https://gw.example/otel/v1/traces");
    }
}
