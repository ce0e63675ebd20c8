//! The HTTP listener, with the limits `axum::serve` has not: a client must send a
//! request's headers within the header-read timeout (a slowloris client trickling them is
//! disconnected), a handler must answer within the request timeout (the websocket upgrade
//! and the audit export and verification excepted), and at most `max_connections`
//! connections are open at once. Past that a new connection is closed as soon as it is
//! accepted, while the open ones keep being served.
//!
//! Each connection is served by hyper (HTTP/1.1 with upgrades, as before), with the peer
//! address as axum's `ConnectInfo`. On shutdown the listener stops accepting and every
//! connection is closed gracefully: requests under way finish first.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt as _;

use super::WebState;

/// The listener's limits (`[server] header_read_timeout_seconds`,
/// `request_timeout_seconds`, `max_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// How long a client has to send a request's headers, from the time the connection
    /// is ready for one.
    pub header_read_timeout: Duration,
    /// How long a handler has to answer (reading the body included); the websocket and
    /// the audit export and verification are not limited.
    pub request_timeout: Duration,
    /// Connections open at once; a new one past this is closed at once.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Paths whose answers may take long by design: the websocket (upgraded, then lives on
/// its own) and the audit log's export and verification, which read the whole chain.
const UNTIMED: [&str; 3] = ["/ws", "/api/audit/export", "/api/audit/verify"];

/// Answers 503 when a handler takes longer than the request timeout (middleware).
pub(crate) async fn time_limit(State(web): State<WebState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if UNTIMED.contains(&path) {
        return next.run(req).await;
    }
    let limit = web.config.listener.request_timeout;
    let method = req.method().clone();
    let path = path.to_string();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, seconds = limit.as_secs_f64(), "request timed out");
            let body = serde_json::json!({"error": {
                "code": "timeout",
                "message": format!(
                    "the server did not answer within {} s; try again",
                    limit.as_secs()
                ),
            }});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then closes
/// every connection gracefully and returns once they are closed.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refused = AtomicU64::new(0);
    // Told to every connection at shutdown; and the count of connections still open
    // (each holds a receiver of `close`).
    let (signal_tx, signal_rx) = watch::channel(());
    let (close_tx, close_rx) = watch::channel(());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::debug!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            // Once, then every thousandth: a flood must not flood the log too.
            let n = refused.fetch_add(1, Ordering::Relaxed);
            if n % 1000 == 0 {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    refused = n + 1,
                    "connection refused: the server holds as many connections as it takes"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut signal = signal_rx.clone();
        let close = close_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = signal.changed() => {
                    // Finish the request under way, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            // An upgraded connection (a websocket) lives on in its own task, under the
            // websocket limits; the permit counts HTTP connections.
            drop(permit);
            drop(close);
        });
    }
    drop(listener);
    drop(signal_rx);
    let _ = signal_tx.send(());
    drop(close_rx);
    close_tx.closed().await;
    Ok(())
}
