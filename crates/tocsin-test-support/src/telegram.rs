//! A fake Telegram Bot API server: `sendMessage`, `deleteMessage` and `getMe` under
//! `/bot{token}/`, answering in the Bot API's envelope (`{ok, result}` or `{ok: false,
//! error_code, description, parameters}`), with its flood control (429 and
//! `parameters.retry_after`) and its 48-hour delete window.
//!
//! Photos as the Bot API takes uploads: `sendPhoto` and `sendMediaGroup` must be
//! `multipart/form-data`; `sendPhoto` needs a `photo` file part (an image whose content
//! matches its type, at most 10 MB) and a `caption` of at most 1,024 UTF-16 units;
//! `sendMediaGroup` needs `media`, a JSON array of 2 to 10 `InputMediaPhoto` whose
//! `media` is `attach://<part>` naming a file part of the same form; JSON fields
//! (`reply_parameters`, `media`) arrive as JSON text. `deleteMessages` deletes several.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
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
    /// A photo message's image bytes.
    pub photo: Option<axum::body::Bytes>,
    /// An album's id, shared by its messages.
    pub media_group_id: Option<String>,
}

/// Longest caption, in UTF-16 units.
pub const MAX_CAPTION: usize = 1024;
/// Largest photo upload.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

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
    headers: HeaderMap,
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
    if method == "sendPhoto" || method == "sendMediaGroup" {
        let declared = headers.get("content-type").and_then(|v| v.to_str().ok());
        return match crate::multipart::parse(declared, &body) {
            Ok(form) => send_photos(&mut inner, &method, &form),
            Err(why) => failure(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: {why}"),
                None,
            ),
        };
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
                photo: None,
                media_group_id: None,
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
        "deleteMessages" => {
            if !targets_our_chat(params.get("chat_id")) {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            }
            let ids: Vec<i64> = params
                .get("message_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            if ids.is_empty() || ids.len() > 100 {
                return failure(StatusCode::BAD_REQUEST, "Bad Request: message_ids must hold 1 to 100 ids", None);
            }
            // As the Bot API: messages that cannot be found are skipped.
            let now = now();
            for m in inner.messages.iter_mut().filter(|m| ids.contains(&m.message_id)) {
                if now - m.date < 48 * 3600 {
                    m.deleted = true;
                }
            }
            Json(json!({"ok": true, "result": true})).into_response()
        }
        _ => failure(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    }
}

fn bad(description: &str) -> Response {
    failure(
        StatusCode::BAD_REQUEST,
        &format!("Bad Request: {description}"),
        None,
    )
}

/// `sendPhoto` / `sendMediaGroup` from a multipart form.
fn send_photos(inner: &mut Inner, method: &str, form: &crate::multipart::Form) -> Response {
    let chat = form.text("chat_id").map(|c| match c.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(c),
    });
    if !targets_our_chat(chat.as_ref()) {
        return bad("chat not found");
    }
    let reply_to = match form.text("reply_parameters") {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => v.get("message_id").and_then(Value::as_i64),
            Err(_) => return bad("can't parse reply parameters JSON object"),
        },
    };
    // (caption, file part name) per photo.
    let mut items: Vec<(String, String)> = Vec::new();
    if method == "sendPhoto" {
        items.push((form.text("caption").unwrap_or_default(), "photo".into()));
    } else {
        let Some(media) = form.text("media") else {
            return bad("parameter \"media\" is required");
        };
        let Ok(Value::Array(media)) = serde_json::from_str::<Value>(&media) else {
            return bad("can't parse media JSON object");
        };
        if media.len() < 2 || media.len() > 10 {
            return bad("media must include 2-10 items");
        }
        for item in &media {
            if item.get("type").and_then(Value::as_str) != Some("photo") {
                return bad("unsupported media type in an album of photos");
            }
            let Some(part) = item
                .get("media")
                .and_then(Value::as_str)
                .and_then(|m| m.strip_prefix("attach://"))
            else {
                return bad("wrong HTTP URL specified: expected attach://<file part>");
            };
            let caption = item
                .get("caption")
                .and_then(Value::as_str)
                .unwrap_or_default();
            items.push((caption.to_string(), part.to_string()));
        }
    }
    let mut photos = Vec::new();
    for (caption, part) in &items {
        if caption.encode_utf16().count() > MAX_CAPTION {
            return bad("message caption is too long");
        }
        let Some(file) = form.part(part).filter(|p| p.filename.is_some()) else {
            return bad(&format!("file part {part:?} not found in the request"));
        };
        if let Err(why) = crate::images::check_declared(file.content_type.as_deref(), &file.body) {
            return bad(&format!("IMAGE_PROCESS_FAILED ({why})"));
        }
        if file.body.len() > MAX_PHOTO_BYTES {
            return bad("file is too big");
        }
        photos.push((caption.clone(), file.body.clone()));
    }
    let group = (method == "sendMediaGroup").then(|| format!("1{}", inner.next_id));
    let mut results = Vec::new();
    for (caption, bytes) in photos {
        let message = FakeMessage {
            message_id: inner.next_id,
            text: caption.clone(),
            reply_to,
            preview_disabled: false,
            date: now(),
            deleted: false,
            photo: Some(bytes.clone()),
            media_group_id: group.clone(),
        };
        inner.next_id += 1;
        let mut result = json!({
            "message_id": message.message_id,
            "sender_chat": chat_json(),
            "chat": chat_json(),
            "date": message.date,
            "photo": [{"file_id": format!("AgAC{}", message.message_id), "file_unique_id": format!("AQAD{}", message.message_id), "width": 64, "height": 48, "file_size": bytes.len()}],
        });
        if let Some(object) = result.as_object_mut() {
            if !caption.is_empty() {
                object.insert("caption".into(), json!(caption));
            }
            if let Some(g) = &group {
                object.insert("media_group_id".into(), json!(g));
            }
        }
        inner.messages.push(message);
        results.push(result);
    }
    let result = if method == "sendPhoto" {
        results.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(results)
    };
    Json(json!({"ok": true, "result": result})).into_response()
}
