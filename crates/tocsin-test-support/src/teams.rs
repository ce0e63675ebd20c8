//! A fake Teams Workflows (Power Automate) webhook: `POST
//! /workflows/{id}/triggers/manual/paths/invoke?...&sig=...` taking a message with one
//! Adaptive Card, answering `202 Accepted` with no body, and Power Automate's
//! `{"error": {"code", "message"}}` for a bad signature, a bad payload or a big card.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The workflow's id.
pub const WORKFLOW_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The signature in the URL (the secret part).
pub const SIG: &str = "fAkE-TeAmS-wOrKfLoW-sIg_x1";

#[derive(Debug, Default)]
struct Inner {
    cards: Vec<Value>,
    disabled: bool,
}

/// The fake's platform state.
#[derive(Debug, Default)]
pub struct TeamsState {
    inner: Mutex<Inner>,
}

impl TeamsState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Workflows webhook. Derefs to its [`FakeServer`].
pub struct FakeTeams {
    server: FakeServer,
    state: Arc<TeamsState>,
}

impl Deref for FakeTeams {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeTeams {
    /// The webhook URL (the account's secret).
    pub fn webhook_url(&self) -> String {
        format!(
            "{}/workflows/{WORKFLOW_ID}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}",
            self.server.base_url
        )
    }

    /// The Adaptive Cards accepted (each attachment's `content`), oldest first.
    pub fn cards(&self) -> Vec<Value> {
        self.state.lock().cards.clone()
    }

    /// Turns the flow off (404, as Power Automate answers for a missing flow).
    pub fn disable(&self) {
        self.state.lock().disabled = true;
    }
}

/// Starts a fake Workflows webhook on a loopback port.
pub async fn start() -> std::io::Result<FakeTeams> {
    let state = Arc::new(TeamsState::default());
    let router = Router::new()
        .route("/workflows/{id}/triggers/manual/paths/invoke", post(invoke))
        .with_state(state.clone());
    let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
    Ok(FakeTeams { server, state })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn invoke(
    State(state): State<Arc<TeamsState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    if id != WORKFLOW_ID || inner.disabled {
        return error(
            StatusCode::NOT_FOUND,
            "WorkflowNotFound",
            "The workflow could not be found.",
        );
    }
    if query.get("sig").map(String::as_str) != Some(SIG) {
        return error(
            StatusCode::UNAUTHORIZED,
            "DirectApiInvalidAuthorizationSignature",
            "The provided signature is not valid.",
        );
    }
    if body.len() > 28 * 1024 {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Request Entity too large",
        );
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content is not valid JSON.",
        );
    };
    let card = message
        .get("attachments")
        .and_then(|a| a.get(0))
        .filter(|a| {
            a.get("contentType").and_then(Value::as_str)
                == Some("application/vnd.microsoft.card.adaptive")
        })
        .and_then(|a| a.get("content"))
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("AdaptiveCard"));
    match (message.get("type").and_then(Value::as_str), card) {
        (Some("message"), Some(card)) => {
            inner.cards.push(card.clone());
            StatusCode::ACCEPTED.into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "TriggerInputSchemaMismatch", "The input body for trigger 'manual' of type 'Request' did not match its schema definition."),
    }
}
