//! OpenTelemetry traces. With `[telemetry] otlp_endpoint` set, the `tracing` spans that
//! pass the log filter (a `fan_out` span per message going out, a `delivery` span per
//! account under it, and what connectors log inside) are exported to that collector over
//! OTLP/HTTP in protobuf, besides being logged.
//!
//! Spans are batched on the SDK's own thread, so a slow or absent collector never holds
//! up a delivery; [`Traces`] flushes what is left when the command ends.

use anyhow::{bail, Context as _, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::config::TelemetrySection;

/// The service name traces carry.
const SERVICE_NAME: &str = "tocsin";

/// The exporting pipeline; dropping it exports the spans still batched.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("traces: the last spans may not have reached the collector: {e}");
        }
    }
}

/// The OTLP endpoint's traces URL: the configured one, with `/v1/traces` added when it
/// names no path.
pub fn traces_url(endpoint: &str) -> Result<String> {
    let url = url::Url::parse(endpoint.trim())
        .with_context(|| format!("[telemetry] otlp_endpoint `{endpoint}` is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("[telemetry] otlp_endpoint `{endpoint}` must be an http:// or https:// URL");
    }
    Ok(if url.path() == "/" {
        format!("{}v1/traces", url.as_str())
    } else {
        url.to_string()
    })
}

/// The tracer to give `tracing_opentelemetry::layer()`, and the pipeline behind it; none
/// when no endpoint is configured.
pub fn start(section: &TelemetrySection) -> Result<Option<(SdkTracer, Traces)>> {
    if section.otlp_endpoint.trim().is_empty() {
        return Ok(None);
    }
    let url = traces_url(&section.otlp_endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .context("[telemetry] the OTLP exporter")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(SERVICE_NAME)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer(SERVICE_NAME);
    Ok(Some((tracer, Traces { provider })))
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_bare_endpoint_gets_the_traces_path_and_one_with_a_path_is_kept() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").ok().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            traces_url("https://otel.example.gov/custom/traces")
                .ok()
                .as_deref(),
            Some("https://otel.example.gov/custom/traces")
        );
        assert!(traces_url("otel.example.gov:4318").is_err());
        assert!(traces_url("ftp://otel.example.gov").is_err());
    }
}
