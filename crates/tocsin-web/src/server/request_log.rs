//! One span per request with a request id, so every line logged while handling it (errors
//! with their incident ids, refusals, the store's warnings) names the request; and one
//! line when it is answered: method, path (never the query string, which can carry codes
//! and tokens, nor a public image link's token), status and time taken. The id comes from the proxy's `X-Request-Id` when
//! it is a plain token, otherwise a new one, and goes back in the answer's header.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument as _;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Probes and scrapes, logged at debug level only.
const QUIET: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// An id a proxy sent, if it is safe to log as it is (short, no spaces or quotes).
fn usable(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| text.to_string())
}

/// The path as logged: a public image link (`/media/<token>`) without its token, which
/// lets anyone fetch the image while a delivery needs it.
fn loggable(path: &str) -> String {
    match path.strip_prefix("/media/") {
        Some(rest) if rest.ends_with("/square") => "/media/…/square".to_string(),
        Some(_) => "/media/…".to_string(),
        None => path.to_string(),
    }
}

/// A new request id: 16 hex digits.
fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Middleware: a span with the request id around the request, one line at its answer.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(usable)
        .unwrap_or_else(new_id);
    let method = request.method().clone();
    let path = loggable(request.uri().path());
    let quiet = QUIET.contains(&path.as_str());
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    span.in_scope(|| {
        if quiet {
            tracing::debug!(status, ms, "answered");
        } else if status >= 500 {
            tracing::warn!(status, ms, "answered");
        } else {
            tracing::info!(status, ms, "answered");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_from_a_proxy_are_kept() {
        assert_eq!(
            usable(&HeaderValue::from_static("req-42.a_b:c")).as_deref(),
            Some("req-42.a_b:c")
        );
        assert_eq!(usable(&HeaderValue::from_static("a b")), None);
        assert_eq!(usable(&HeaderValue::from_static("x\"y")), None);
        assert_eq!(usable(&HeaderValue::from_static("")), None);
        let long = "a".repeat(65);
        assert_eq!(usable(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(new_id().len(), 16);
    }
}
