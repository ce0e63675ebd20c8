//! A fake Discord webhook: execute (`POST ...?wait=true`, into a thread with
//! `thread_id`), get, and delete message, with Discord's JSON (`{code, message}` errors,
//! 429 with `retry_after` as float seconds, `global` and `X-RateLimit-*` headers).
//!
//! Files as Discord takes them: a `multipart/form-data` body whose `payload_json` part
//! holds the JSON, and files in `files[n]` parts; every file part needs an
//! `attachments` entry whose `id` is its n (and a file name), a `description` (alt
//! text) is at most 1,024 characters, and an attachment naming no file part is
//! refused. A message with files may have empty `content`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The webhook's id.
pub const WEBHOOK_ID: &str = "1180000000000000001";
/// The webhook's token (the secret part of its URL).
pub const WEBHOOK_TOKEN: &str = "fAkE-dIsCoRd-WeBhOoK-tOkEn_x1";
/// The server (guild).
pub const GUILD_ID: &str = "1170000000000000001";
/// The webhook's channel.
pub const CHANNEL_ID: &str = "1170000000000000002";
/// A thread in that channel.
pub const THREAD_ID: &str = "1170000000000000003";

/// One message as the fake stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    /// Its id.
    pub id: String,
    /// The channel or thread it is in.
    pub channel_id: String,
    /// `content`.
    pub content: String,
    /// `allowed_mentions` as received.
    pub allowed_mentions: Value,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// Its attachments, in `attachments` order.
    pub attachments: Vec<FakeAttachment>,
}

/// One file sent with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAttachment {
    /// The file name.
    pub filename: String,
    /// The `description` (alt text).
    pub description: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// The bytes as received.
    pub bytes: axum::body::Bytes,
}

#[derive(Debug)]
struct Inner {
    token: String,
    messages: Vec<FakeMessage>,
    next_id: u64,
    limited: Option<(f64, bool)>,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct DiscordState {
    inner: Mutex<Inner>,
}

impl DiscordState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Discord. Derefs to its [`FakeServer`].
pub struct FakeDiscord {
    server: FakeServer,
    state: Arc<DiscordState>,
}

impl Deref for FakeDiscord {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeDiscord {
    /// The webhook URL (the account's secret).
    pub fn webhook_url(&self) -> String {
        format!(
            "{}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
            self.server.base_url
        )
    }

    /// Every message, deleted ones included, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().messages.clone()
    }

    /// Accepts only this webhook token from now on (as after the webhook was reset).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// Answers the next request 429 with `retry_after` seconds (global or not).
    pub fn rate_limit(&self, retry_after: f64, global: bool) {
        self.state.lock().limited = Some((retry_after, global));
    }
}

/// Starts a fake Discord webhook on a loopback port.
pub async fn start() -> std::io::Result<FakeDiscord> {
    let state = Arc::new(DiscordState {
        inner: Mutex::new(Inner {
            token: WEBHOOK_TOKEN.to_string(),
            messages: Vec::new(),
            next_id: 1_190_000_000_000_000_001,
            limited: None,
        }),
    });
    let router = Router::new()
        .route("/api/webhooks/{id}/{token}", get(get_webhook).post(execute))
        .route(
            "/api/webhooks/{id}/{token}/messages/{message}",
            delete(delete_message),
        )
        .with_state(state.clone());
    let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
    Ok(FakeDiscord { server, state })
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn with_rate_headers(mut response: Response, remaining: u64) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", "5".to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset-after", "2.000".to_string()),
        ("x-ratelimit-bucket", "fake-webhook-bucket".to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// Checks the webhook id and token, and any scripted rate limit.
fn admit(inner: &mut Inner, id: &str, token: &str) -> Result<(), Box<Response>> {
    if id != WEBHOOK_ID {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            10015,
            "Unknown Webhook",
        )));
    }
    if token != inner.token {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            50027,
            "Invalid Webhook Token",
        )));
    }
    if let Some((secs, global)) = inner.limited.take() {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"message": "You are being rate limited.", "retry_after": secs, "global": global})),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("{}", secs.ceil())) {
            headers.insert("retry-after", v);
        }
        if global {
            headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
            headers.insert("x-ratelimit-scope", HeaderValue::from_static("global"));
        } else {
            headers.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
        }
        return Err(Box::new(response));
    }
    Ok(())
}

fn message_json(m: &FakeMessage) -> Value {
    json!({
        "id": m.id, "type": 0, "content": m.content, "channel_id": m.channel_id,
        "author": {"id": WEBHOOK_ID, "username": "Tocsin", "bot": true},
        "attachments": m.attachments.iter().enumerate().map(|(i, a)| json!({
            "id": format!("{}{i}", m.id), "filename": a.filename, "description": a.description,
            "content_type": a.content_type, "size": a.bytes.len(),
            "url": format!("https://cdn.discordapp.com/attachments/{}/{}{i}/{}", m.channel_id, m.id, a.filename),
        })).collect::<Vec<_>>(), "embeds": [], "mentions": [], "mention_roles": [],
        "pinned": false, "mention_everyone": false, "tts": false,
        "timestamp": "2026-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "flags": 0, "components": [], "webhook_id": WEBHOOK_ID,
    })
}

async fn get_webhook(
    State(state): State<Arc<DiscordState>>,
    Path((id, token)): Path<(String, String)>,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&mut inner, &id, &token) {
        return *r;
    }
    Json(json!({
        "application_id": null, "avatar": null, "channel_id": CHANNEL_ID, "guild_id": GUILD_ID,
        "id": WEBHOOK_ID, "name": "Tocsin alerts", "type": 1, "token": inner.token,
    }))
    .into_response()
}

async fn execute(
    State(state): State<Arc<DiscordState>>,
    Path((id, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&mut inner, &id, &token) {
        return *r;
    }
    let declared = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (body, attachments) = if declared.starts_with("multipart/form-data") {
        match files_of(declared, &body) {
            Ok(parsed) => parsed,
            Err(why) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    50035,
                    &format!("Invalid Form Body: {why}"),
                )
            }
        }
    } else {
        (body, Vec::new())
    };
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        );
    };
    let content = params
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if content.is_empty() && attachments.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        );
    }
    if content.chars().count() > 2000 {
        return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
    }
    let channel_id = match query.get("thread_id") {
        None => CHANNEL_ID.to_string(),
        Some(t) if t == THREAD_ID => t.clone(),
        Some(_) => return error(StatusCode::BAD_REQUEST, 10003, "Unknown Channel"),
    };
    let message = FakeMessage {
        id: inner.next_id.to_string(),
        channel_id,
        content: content.to_string(),
        allowed_mentions: params
            .get("allowed_mentions")
            .cloned()
            .unwrap_or(Value::Null),
        deleted: false,
        attachments: Vec::new(),
    };
    let mut message = message;
    match described(&params, attachments) {
        Ok(files) => message.attachments = files,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                50035,
                &format!("Invalid Form Body: {why}"),
            )
        }
    }
    inner.next_id += 1;
    let answer = message_json(&message);
    inner.messages.push(message);
    if query.get("wait").map(String::as_str) == Some("true") {
        with_rate_headers(Json(answer).into_response(), 4)
    } else {
        with_rate_headers(StatusCode::NO_CONTENT.into_response(), 4)
    }
}

/// The `payload_json` and the `files[n]` parts of a multipart body.
fn files_of(
    content_type: &str,
    body: &[u8],
) -> Result<(axum::body::Bytes, Vec<(usize, crate::multipart::Part)>), String> {
    let form = crate::multipart::parse(Some(content_type), body)?;
    let payload = form
        .part("payload_json")
        .ok_or("payload_json is required with files")?;
    let mut files = Vec::new();
    for part in &form.parts {
        if part.name == "payload_json" {
            continue;
        }
        let n = part
            .name
            .strip_prefix("files[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(format!("unexpected form field {:?}", part.name))?;
        if part.filename.is_none() {
            return Err(format!("files[{n}] has no file name"));
        }
        files.push((n, part.clone()));
    }
    Ok((payload.body.clone(), files))
}

/// Matches each file to its `attachments` entry (by `id`), with its description.
fn described(
    params: &Value,
    files: Vec<(usize, crate::multipart::Part)>,
) -> Result<Vec<FakeAttachment>, String> {
    let entries = params
        .get("attachments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.len() != files.len() {
        return Err(format!(
            "{} attachments described for {} files",
            entries.len(),
            files.len()
        ));
    }
    let mut out = Vec::new();
    for entry in &entries {
        let id = entry
            .get("id")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or("attachments[].id must be the n of a files[n] part")?;
        let (_, part) = files
            .iter()
            .find(|(n, _)| *n as u64 == id)
            .ok_or(format!("attachment {id} names no files[{id}] part"))?;
        let description = entry
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1024)
        {
            return Err("attachments[].description must be 1024 or fewer in length".into());
        }
        out.push(FakeAttachment {
            filename: entry
                .get("filename")
                .and_then(Value::as_str)
                .or(part.filename.as_deref())
                .unwrap_or_default()
                .to_string(),
            description,
            content_type: part.content_type.clone(),
            bytes: part.body.clone(),
        });
    }
    Ok(out)
}

async fn delete_message(
    State(state): State<Arc<DiscordState>>,
    Path((id, token, message)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&mut inner, &id, &token) {
        return *r;
    }
    let thread = query.get("thread_id").cloned();
    let found = inner.messages.iter_mut().find(|m| {
        m.id == message
            && !m.deleted
            && (m.channel_id == CHANNEL_ID || Some(&m.channel_id) == thread.as_ref())
    });
    match found {
        Some(m) => {
            m.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
    }
}
