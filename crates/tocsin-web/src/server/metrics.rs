//! `GET /metrics`: this node's numbers in the Prometheus text exposition format (0.0.4).
//!
//! Written by hand: a dozen series whose labels are fixed names (platforms, outcomes,
//! this node's id), so a formatter of a few dozen lines does what a metrics crate would,
//! and the dispatcher keeps plain atomics without depending on one. Nothing here carries
//! message text, account handles, tokens or anything about a person; still, serve it to
//! the monitoring network only (`[server] metrics = false` turns it off).
//!
//! Counters count since this process started; the queue depth and audit length are read
//! from the database and so are the same on every node.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::time::Duration;
use tocsin_dispatch::stats::LATENCY_BUCKETS;

use super::WebState;

/// How long a scrape waits for the database before reporting it down.
const DATABASE_PATIENCE: Duration = Duration::from_secs(2);

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value (`\`, `"` and newlines).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric's `# HELP` and `# TYPE` lines.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One series without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Everything `/metrics` shows, as text.
pub(crate) async fn render(web: &WebState) -> String {
    let app = &web.app;
    let stats = app.dispatcher().stats();
    let mut out = String::with_capacity(4096);

    head(
        &mut out,
        "tocsin_node_info",
        "gauge",
        "This node's name (server.node_id); always 1.",
    );
    let _ = writeln!(
        out,
        "tocsin_node_info{{node=\"{}\"}} 1",
        label(app.dispatcher().node_id())
    );

    head(
        &mut out,
        "tocsin_deliveries_total",
        "counter",
        "Delivery attempts this node recorded, by platform and outcome (delivered, retrying, failed, unknown, cancelled).",
    );
    for ((platform, outcome), n) in stats.results() {
        let _ = writeln!(
            out,
            "tocsin_deliveries_total{{platform=\"{platform}\",outcome=\"{outcome}\"}} {n}"
        );
    }

    head(
        &mut out,
        "tocsin_send_duration_seconds",
        "histogram",
        "How long each platform took to answer a send, delete or lookup from this node.",
    );
    for (platform, h) in stats.latencies() {
        let mut cumulative = 0u64;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
            cumulative += n;
            let _ = writeln!(
                out,
                "tocsin_send_duration_seconds_bucket{{platform=\"{platform}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "tocsin_send_duration_seconds_bucket{{platform=\"{platform}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "tocsin_send_duration_seconds_sum{{platform=\"{platform}\"}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "tocsin_send_duration_seconds_count{{platform=\"{platform}\"}} {}",
            h.count
        );
    }

    let depth = tokio::time::timeout(DATABASE_PATIENCE, app.store().outbox().queue_depth()).await;
    let audit = tokio::time::timeout(DATABASE_PATIENCE, app.store().audit().entry_count()).await;
    let oldest =
        tokio::time::timeout(DATABASE_PATIENCE, app.store().oldest_unsettled_since()).await;
    let checkpoint = tokio::time::timeout(DATABASE_PATIENCE, app.store().newest_checkpoint()).await;
    let now = app.store().now();
    if let Ok(Ok(oldest)) = oldest {
        single(
            &mut out,
            "tocsin_queue_oldest_age_seconds",
            "gauge",
            "Seconds since the message of the oldest unsettled delivery was approved (0: the queue is empty), all nodes.",
            oldest.map_or(0, |t| (now - t).num_seconds().max(0)),
        );
    }
    let database_up = matches!(depth, Ok(Ok(_))) && stats.database_ok();
    if let Ok(Ok(depth)) = depth {
        single(
            &mut out,
            "tocsin_queue_depth",
            "gauge",
            "Deliveries not yet settled (pending, sending, waiting to retry, unknown), all nodes.",
            depth,
        );
    }
    single(
        &mut out,
        "tocsin_database_up",
        "gauge",
        "1 when the database answers this node and its dispatcher is claiming work.",
        u8::from(database_up),
    );
    single(
        &mut out,
        "tocsin_dispatcher_claim_failures_total",
        "counter",
        "Claim rounds that failed because the database did not answer.",
        stats.claim_failures(),
    );
    single(
        &mut out,
        "tocsin_circuit_breakers_open",
        "gauge",
        "Accounts whose circuit breaker is open on this node.",
        app.dispatcher().open_breakers(),
    );
    single(
        &mut out,
        "tocsin_websocket_connections",
        "gauge",
        "Control-panel websockets open on this node.",
        app.hub().sockets(),
    );
    single(
        &mut out,
        "tocsin_audit_appends_total",
        "counter",
        "Audit entries this node committed.",
        app.store().audit_appends(),
    );
    if let Ok(Ok(len)) = audit {
        single(
            &mut out,
            "tocsin_audit_entries",
            "gauge",
            "Entries in the audit chain, all nodes.",
            len,
        );
        if let Ok(Ok(newest)) = &checkpoint {
            single(
                &mut out,
                "tocsin_audit_unsigned_entries",
                "gauge",
                "Audit entries after the newest signed checkpoint.",
                len.saturating_sub(newest.as_ref().map_or(0, |c| c.size)),
            );
        }
    }
    if let Ok(Ok(Some(newest))) = &checkpoint {
        if let Some(time) = newest.time {
            single(
                &mut out,
                "tocsin_audit_checkpoint_age_seconds",
                "gauge",
                "Seconds since the newest audit checkpoint was signed.",
                (now - time).num_seconds().max(0),
            );
        }
    }
    if app.store().backend() == tocsin_store::Backend::Postgres {
        let relay = app.relay();
        single(
            &mut out,
            "tocsin_relay_connected",
            "gauge",
            "1 while this node listens to the other nodes' panel events (PostgreSQL).",
            u8::from(relay.connected()),
        );
        single(
            &mut out,
            "tocsin_relay_events_sent_total",
            "counter",
            "Panel events this node sent to the other nodes.",
            relay.sent(),
        );
        single(
            &mut out,
            "tocsin_relay_events_received_total",
            "counter",
            "Panel events this node received from the other nodes.",
            relay.received(),
        );
        single(
            &mut out,
            "tocsin_relay_reconnects_total",
            "counter",
            "Times the connection listening to other nodes was lost and opened again.",
            relay.reconnects(),
        );
    }
    out
}

/// `GET /metrics`, unauthenticated; 404 when `[server] metrics = false`.
pub async fn metrics(State(web): State<WebState>) -> Response {
    if web.config.hide_metrics {
        return super::error::not_found().await.into_response();
    }
    let body = render(&web).await;
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
