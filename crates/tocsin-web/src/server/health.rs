//! Liveness and readiness probes, and the security headers every answer carries.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::WebState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness.
#[derive(Debug, Serialize)]
pub struct Ready {
    ready: bool,
    database: bool,
    dispatcher: bool,
    claiming: bool,
}

/// How long readiness waits for the database before calling it away.
const DATABASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: the database answers (within two seconds), this node's dispatcher runs,
/// and its last claim round reached the database (it claims nothing while it cannot).
pub async fn readyz(State(web): State<WebState>) -> Response {
    let database = matches!(
        tokio::time::timeout(DATABASE_PATIENCE, web.app.store().outbox().queue_depth()).await,
        Ok(Ok(_))
    );
    let dispatcher = web.app.dispatching();
    let claiming = web.app.dispatcher().stats().database_ok();
    let ready = database && dispatcher && claiming;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(Ready {
            ready,
            database,
            dispatcher,
            claiming,
        }),
    )
        .into_response()
}

/// Middleware: no framing, no sniffing, no referrer, a strict content policy (the panel
/// loads only its own scripts and styles), its own browsing-context group, no powerful
/// browser features, no caching of API answers, and HSTS behind an `https` public URL.
pub async fn security_headers(
    State(web): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // An image served as itself (`/api/images/…`, `/media/…`) keeps its own, stricter
    // policy (`default-src 'none'; sandbox`): nothing in it may run or load.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        );
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // The public feed says `cross-origin` itself: anyone may read it.
    if !h.contains_key("cross-origin-resource-policy") {
        h.insert(
            "cross-origin-resource-policy",
            HeaderValue::from_static("same-origin"),
        );
    }
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    if web.config.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
