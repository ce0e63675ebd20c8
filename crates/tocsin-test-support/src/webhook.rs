//! A fake webhook subscriber: receives signed Standard Webhooks deliveries over loopback.
//!
//! It checks each delivery's signature with the verifier it is given (tests pass the
//! connector's own `verify_signature`, so this crate needs no dependency on it), refuses
//! bad signatures with 401, dedupes by `webhook-id` as receivers are told to, and records
//! every delivery. It can also play a subscriber that is gone (410).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::{FakeServer, FakeState};

/// Checks a delivery's headers and raw body; `Err` carries the reason.
pub type Verifier = Arc<dyn Fn(&HeaderMap, &[u8]) -> Result<(), String> + Send + Sync>;

/// One distinct delivery (by `webhook-id`).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp` of the first arrival.
    pub timestamp: String,
    /// The body of the first arrival.
    pub body: Bytes,
    /// How many times it arrived (retries with the same id included).
    pub arrivals: usize,
}

impl Delivery {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// How the subscriber answers.
#[derive(Debug, Clone, Default)]
pub struct SubscriberBehaviour {
    /// Answer 410 Gone to everything.
    pub gone: bool,
    /// Answer with `{"id": "rcv-N", "url": ...}` instead of `{"ok": true}`.
    pub answer_with_ids: bool,
}

/// The subscriber's state.
pub struct Subscriber {
    verifier: Verifier,
    deliveries: Mutex<Vec<Delivery>>,
    rejected: Mutex<Vec<String>>,
    behaviour: Mutex<SubscriberBehaviour>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Subscriber {
    /// Distinct deliveries, in order of first arrival.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.deliveries).clone()
    }

    /// Why each refused delivery was refused.
    pub fn rejected(&self) -> Vec<String> {
        lock(&self.rejected).clone()
    }

    /// Changes how the subscriber answers.
    pub fn behave(&self, f: impl FnOnce(&mut SubscriberBehaviour)) {
        f(&mut lock(&self.behaviour));
    }
}

/// A running fake subscriber; deliveries go to [`FakeSubscriber::url`].
pub struct FakeSubscriber {
    /// The HTTP server (base URL, recordings, faults).
    pub server: FakeServer,
    /// The subscriber's state.
    pub subscriber: Arc<Subscriber>,
}

impl FakeSubscriber {
    /// Starts a subscriber checking signatures with `verifier`.
    pub async fn start(verifier: Verifier) -> std::io::Result<FakeSubscriber> {
        let subscriber = Arc::new(Subscriber {
            verifier,
            deliveries: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            behaviour: Mutex::new(SubscriberBehaviour::default()),
        });
        let router = Router::new()
            .route("/hooks/tocsin", post(receive).head(head))
            .with_state(subscriber.clone());
        let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
        Ok(FakeSubscriber { server, subscriber })
    }

    /// The URL to deliver to.
    pub fn url(&self) -> String {
        format!("{}/hooks/tocsin", self.server.base_url)
    }
}

async fn head(State(sub): State<Arc<Subscriber>>) -> StatusCode {
    if lock(&sub.behaviour).gone {
        StatusCode::GONE
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    }
}

async fn receive(State(sub): State<Arc<Subscriber>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = lock(&sub.behaviour).clone();
    if behaviour.gone {
        return (
            StatusCode::GONE,
            Json(json!({ "error": "subscription removed" })),
        )
            .into_response();
    }
    if let Err(why) = (sub.verifier)(&headers, &body) {
        lock(&sub.rejected).push(why);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid signature" })),
        )
            .into_response();
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let webhook_id = text("webhook-id");
    let mut deliveries = lock(&sub.deliveries);
    let index = match deliveries.iter().position(|d| d.webhook_id == webhook_id) {
        Some(i) => {
            if let Some(d) = deliveries.get_mut(i) {
                d.arrivals += 1;
            }
            i
        }
        None => {
            deliveries.push(Delivery {
                webhook_id,
                timestamp: text("webhook-timestamp"),
                body,
                arrivals: 1,
            });
            deliveries.len() - 1
        }
    };
    if behaviour.answer_with_ids {
        let id = format!("rcv-{}", index + 1);
        Json(json!({ "id": id, "url": format!("https://receiver.example/messages/{id}") }))
            .into_response()
    } else {
        Json(json!({ "ok": true })).into_response()
    }
}
