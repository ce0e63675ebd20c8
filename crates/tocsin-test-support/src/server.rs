//! The shared fake server: an axum router wrapped in recording and fault injection,
//! listening on `127.0.0.1:0` until dropped.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

use crate::fault::{Fault, FaultPlan};

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// State shared by a fake's handlers and the test: faults to apply and what arrived.
#[derive(Debug, Default)]
pub struct FakeState {
    plan: Mutex<FaultPlan>,
    requests: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeState {
    /// Changes the behaviour.
    pub fn plan(&self, f: impl FnOnce(&mut FaultPlan)) {
        f(&mut lock(&self.plan));
    }

    /// Queues a fault for the next write request.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.plan).next_writes.push_back(fault);
    }

    /// Queues a fault for the next request whose path (with its query) contains `route`,
    /// whatever its method.
    pub fn push_fault_at(&self, route: &str, fault: Fault) {
        lock(&self.plan).at.push_back((route.to_string(), fault));
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    /// Requests with this method whose path starts with `prefix`.
    pub fn requests_to(&self, method: &Method, prefix: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == *method && r.path.starts_with(prefix))
            .collect()
    }
}

/// A running fake platform.
pub struct FakeServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The socket address.
    pub addr: SocketAddr,
    /// Behaviour and recordings.
    pub state: Arc<FakeState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeServer {
    /// Serves `router` (whose handlers may use the same `state`) on a loopback port,
    /// with recording and fault injection in front of it.
    pub async fn start(router: Router, state: Arc<FakeState>) -> std::io::Result<FakeServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = router.layer(axum::middleware::from_fn_with_state(state.clone(), inject));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeServer {
            base_url: format!("http://{addr}"),
            addr,
            state,
            shutdown: Some(tx),
        })
    }
}

async fn inject(State(state): State<Arc<FakeState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string());
    lock(&state.requests).push(RecordedRequest {
        method: parts.method.clone(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: bytes.clone(),
    });
    let writes = matches!(
        parts.method,
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    );
    let (latency, reject, fault) = {
        let mut plan = lock(&state.plan);
        let targeted = plan
            .at
            .iter()
            .position(|(route, _)| path.contains(route.as_str()))
            .and_then(|i| plan.at.remove(i))
            .map(|(_, fault)| fault);
        let fault = match targeted {
            Some(fault) => Some(fault),
            None if writes => plan.next_writes.pop_front(),
            None => None,
        };
        let reject = plan.reject_with.clone().or_else(|| {
            plan.reject_token.then(|| {
                (
                    401,
                    "{\"error\":\"The access token is invalid\"}".to_string(),
                )
            })
        });
        (plan.latency, reject, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some((code, body)) = reject {
        let json = ("content-type".to_string(), "application/json".to_string());
        return answer(code, vec![json], body);
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    match fault {
        None => next.run(request).await,
        Some(Fault::Slow(extra)) => {
            tokio::time::sleep(extra).await;
            next.run(request).await
        }
        Some(Fault::Status {
            code,
            retry_after,
            body,
        }) => {
            let headers = retry_after.map(|secs| ("retry-after".to_string(), secs.to_string()));
            answer(code, headers.into_iter().collect(), body)
        }
        Some(Fault::Answer {
            code,
            headers,
            body,
        }) => answer(code, headers, body),
        Some(Fault::Malformed) => {
            let _ = next.run(request).await;
            (
                StatusCode::OK,
                "<html>Service temporarily unavailable</html>",
            )
                .into_response()
        }
        Some(Fault::DropAfterAccept) => {
            let real = next.run(request).await;
            let status = real.status();
            // The handler acted; now send the headers and break the body off.
            let broken = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped",
                ))
            });
            let mut response = Response::new(Body::from_stream(broken));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert("content-length", HeaderValue::from_static("512"));
            response
        }
    }
}

/// An answer with this status, these headers and this body (a scripted refusal).
fn answer(code: u16, headers: Vec<(String, String)>, body: String) -> Response {
    let mut response = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
