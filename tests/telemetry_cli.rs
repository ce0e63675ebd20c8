//! Traces over OTLP: with `[telemetry] otlp_endpoint` set, a message going out is one
//! trace, a `fan_out` span with a `delivery` span per account under it, exported to the
//! collector (here a tiny OTLP/HTTP one on loopback) by the time the command ends.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::{Arc, Mutex};

use crate::support::Workspace;

/// What the fake collector received: each request's path and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP collector on loopback that answers every request `200 OK` and keeps it.
fn collector() -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let keep = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let keep = keep.clone();
            std::thread::spawn(move || serve_connection(stream, &keep));
        }
    });
    (format!("http://{addr}"), received)
}

/// Reads requests off one connection (kept alive) until it closes.
fn serve_connection(stream: std::net::TcpStream, keep: &Received) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        keep.lock().unwrap().push((path, body));
        let _ = writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        );
    }
}

/// Every span the collector received, decoded.
fn spans(received: &Received) -> Vec<Span> {
    received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(path, body)| {
            assert_eq!(path, "/v1/traces");
            ExportTraceServiceRequest::decode(body.as_slice())
                .unwrap()
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

/// The integer attribute `key` of `span`.
fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::IntValue(n) => Some(*n),
            _ => None,
        }
    })
}

#[test]
fn a_drill_exports_one_fan_out_span_per_message_with_its_deliveries_under_it() {
    let ws = Workspace::with_library();
    let (endpoint, received) = collector();
    ws.tocsin_env(
        &["drill", "boil-water", "--as", "lead"],
        &[("TOCSIN_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str())],
    )
    .ok();
    let spans = spans(&received);
    let fan_outs: Vec<&Span> = spans.iter().filter(|s| s.name == "fan_out").collect();
    assert!(
        !fan_outs.is_empty(),
        "no fan_out span among {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let fan_out = fan_outs[0];
    let message = int_attribute(fan_out, "message").expect("the fan-out names its message");
    let deliveries: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "delivery" && s.parent_span_id == fan_out.span_id)
        .collect();
    assert!(
        !deliveries.is_empty(),
        "no delivery span under the fan-out: {spans:?}"
    );
    for d in &deliveries {
        assert_eq!(d.trace_id, fan_out.trace_id, "one trace per fan-out");
        assert_eq!(int_attribute(d, "message"), Some(message));
    }
    assert_eq!(
        int_attribute(fan_out, "deliveries"),
        Some(deliveries.len() as i64),
        "the fan-out counts the deliveries under it"
    );
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_a_bad_one_is_refused() {
    let ws = Workspace::with_library();
    let (_, received) = collector();
    ws.tocsin(&["drill", "boil-water", "--as", "lead"]).ok();
    assert!(received.lock().unwrap().is_empty());
    let err = ws
        .tocsin_env(
            &["drill", "boil-water", "--as", "lead"],
            &[("TOCSIN_TELEMETRY__OTLP_ENDPOINT", "collector.example:4318")],
        )
        .fails();
    assert!(err.contains("otlp_endpoint"), "{err}");
}
