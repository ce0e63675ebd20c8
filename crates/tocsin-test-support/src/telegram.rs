//! A fake Telegram Bot API server: `sendMessage`, `deleteMessage` and `getMe` under
//! `/bot{token}/`, answering in the Bot API's envelope (`{ok, result}` or `{ok: false,
//! error_code, description, parameters}`), with its flood control (429 and
//! `parameters.retry_after`) and its 48-hour delete window.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The bot token the fake accepts unless told otherwise.
pub const TOKEN: &str = "123456789:AAFakeTelegramBotTokenForTocsinTests_x";
/// The channel's numeric id.
pub const CHAT_ID: i64 = -1_001_234_567_890;
/// The channel's public username.
pub const CHAT_USERNAME: &str = "county_health_alerts";

/// One message as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    /// Its id in the chat.
    pub message_id: i64,
    /// The text.
    pub text: String,
    /// `reply_parameters.message_id`, if any.
    pub reply_to: Option<i64>,
    /// `link_preview_options.is_disabled`.
    pub preview_disabled: bool,
    /// Unix time sent.
    pub date: i64,
    /// Whether it was deleted since.
    pub deleted: bool,
}

#[derive(Debug)]
struct Inner {
    token: String,
    messages: Vec<FakeMessage>,
    next_id: i64,
    flood: Option<u64>,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct TelegramState {
    inner: Mutex<Inner>,
}

impl TelegramState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Bot API. Derefs to its [`FakeServer`].
pub struct FakeTelegram {
    server: FakeServer,
    state: Arc<TelegramState>,
}

impl Deref for FakeTelegram {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeTelegram {
    /// Every message, deleted ones included, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().messages.clone()
    }

    /// Accepts only this token from now on.
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// Answers the next request with flood control: 429 and `retry_after` seconds.
    pub fn flood(&self, retry_after: u64) {
        self.state.lock().flood = Some(retry_after);
    }

    /// Makes a message look `secs` older (to pass the 48-hour delete window).
    pub fn age_message(&self, message_id: i64, secs: i64) {
        if let Some(m) = self
            .state
            .lock()
            .messages
            .iter_mut()
            .find(|m| m.message_id == message_id)
        {
            m.date -= secs;
        }
    }
}

/// Starts a fake Bot API on a loopback port, accepting [`TOKEN`].
pub async fn start() -> std::io::Result<FakeTelegram> {
    let state = Arc::new(TelegramState {
        inner: Mutex::new(Inner {
            token: TOKEN.to_string(),
            messages: Vec::new(),
            next_id: 100,
            flood: None,
        }),
    });
    let router = Router::new()
        .route("/{bot}/{method}", any(method))
        .with_state(state.clone());
    let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
    Ok(FakeTelegram { server, state })
}

fn failure(code: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code.as_u16(), "description": description});
    if let (Some(p), Some(object)) = (parameters, body.as_object_mut()) {
        object.insert("parameters".into(), p);
    }
    (code, Json(body)).into_response()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn chat_json() -> Value {
    json!({"id": CHAT_ID, "title": "County Health Alerts", "username": CHAT_USERNAME, "type": "channel"})
}

fn targets_our_chat(chat: Option<&Value>) -> bool {
    match chat {
        Some(Value::Number(n)) => n.as_i64() == Some(CHAT_ID),
        Some(Value::String(s)) => {
            s.strip_prefix('@') == Some(CHAT_USERNAME) || s.parse::<i64>().ok() == Some(CHAT_ID)
        }
        _ => false,
    }
}

async fn method(
    State(state): State<Arc<TelegramState>>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        // Telegram answers 404 to a token that names no bot, 401 to a revoked one.
        return if bot.starts_with("bot") && bot.contains(':') {
            failure(StatusCode::UNAUTHORIZED, "Unauthorized", None)
        } else {
            failure(StatusCode::NOT_FOUND, "Not Found", None)
        };
    }
    if let Some(secs) = inner.flood.take() {
        return failure(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too Many Requests: retry after {secs}"),
            Some(json!({ "retry_after": secs })),
        );
    }
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return failure(StatusCode::BAD_REQUEST, "Bad Request: invalid JSON", None),
        }
    };
    match method.as_str() {
        "getMe" => Json(json!({"ok": true, "result": {
            "id": 123_456_789, "is_bot": true, "first_name": "Tocsin", "username": "tocsin_fake_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false
        }}))
        .into_response(),
        "sendMessage" => {
            if !targets_our_chat(params.get("chat_id")) {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            }
            let text = params.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.trim().is_empty() {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", None);
            }
            // 4096 UTF-16 code units, as the Bot API counts (an emoji is two).
            if text.encode_utf16().count() > 4096 {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: message is too long", None);
            }
            let reply = params.get("reply_parameters");
            let reply_to = reply.and_then(|r| r.get("message_id")).and_then(Value::as_i64);
            if let Some(parent) = reply_to {
                let exists = inner.messages.iter().any(|m| m.message_id == parent && !m.deleted);
                let lenient = reply
                    .and_then(|r| r.get("allow_sending_without_reply"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !exists && !lenient {
                    return failure(StatusCode::BAD_REQUEST, "Bad Request: message to be replied not found", None);
                }
            }
            let message = FakeMessage {
                message_id: inner.next_id,
                text: text.to_string(),
                reply_to,
                preview_disabled: params
                    .pointer("/link_preview_options/is_disabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                date: now(),
                deleted: false,
            };
            inner.next_id += 1;
            let mut result = json!({
                "message_id": message.message_id,
                "sender_chat": chat_json(),
                "chat": chat_json(),
                "date": message.date,
                "text": message.text,
            });
            if let (Some(parent), Some(object)) = (reply_to, result.as_object_mut()) {
                object.insert("reply_to_message".into(), json!({"message_id": parent, "chat": chat_json(), "date": message.date}));
            }
            inner.messages.push(message);
            Json(json!({"ok": true, "result": result})).into_response()
        }
        "deleteMessage" => {
            if !targets_our_chat(params.get("chat_id")) {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            }
            let id = params.get("message_id").and_then(Value::as_i64);
            let now = now();
            match inner.messages.iter_mut().find(|m| Some(m.message_id) == id && !m.deleted) {
                None => failure(StatusCode::BAD_REQUEST, "Bad Request: message to delete not found", None),
                Some(m) if now - m.date >= 48 * 3600 => {
                    failure(StatusCode::BAD_REQUEST, "Bad Request: message can't be deleted", None)
                }
                Some(m) => {
                    m.deleted = true;
                    Json(json!({"ok": true, "result": true})).into_response()
                }
            }
        }
        _ => failure(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    }
}
