//! A fake Matrix homeserver: the client-server API v3 routes Tocsin uses, over loopback.
//!
//! It honours transaction ids (the same `txnId` from the same token answers with the
//! same event; another device's token makes a new one), stores events with their
//! relations, redacts, and answers `whoami`, `joined_rooms` and `/messages` as Synapse
//! does. As Synapse 1.163 does: room ids are checked (`!opaque:server`, or version 12's
//! `!` and 43 base64url characters, see [`v12_room_id`]), event ids are `$` and 43
//! base64url characters, and redacting an event it never had is accepted (Synapse does
//! not look). Errors have Matrix's shape (`errcode`, `error`); [`limit_exceeded`]
//! queues an `M_LIMIT_EXCEEDED` answer.
//!
//! The media repository takes `POST /_matrix/media/v3/upload` (the bytes as the body,
//! their `Content-Type` matching the content, at most [`MAX_UPLOAD_BYTES`], else 413
//! `M_TOO_LARGE`) and answers an `mxc://` URI. An `m.image` event must carry a `body`
//! string and a `url` this server handed out, and `info` whose `mimetype` and `size` are
//! the upload's and whose `w` and `h` are positive integers.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::fault::Fault;
use crate::server::{FakeServer, FakeState};

/// A 429 `M_LIMIT_EXCEEDED` answer with `retry_after_ms` in the body and a
/// `Retry-After` header (whole seconds, rounded up), for [`FakeState::push_fault`].
pub fn limit_exceeded(retry_after_ms: u64) -> Fault {
    Fault::Status {
        code: 429,
        retry_after: Some(retry_after_ms.div_ceil(1000)),
        body: json!({
            "errcode": "M_LIMIT_EXCEEDED",
            "error": "Too Many Requests",
            "retry_after_ms": retry_after_ms,
        })
        .to_string(),
    }
}

/// A room id of room version 12 (MSC4291): `!` and 43 base64url characters (the hash
/// of its create event; here of `seed`), with no server name.
pub fn v12_room_id(seed: &str) -> String {
    format!("!{}", hash43(seed.as_bytes()))
}

fn hash43(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// An event id as room versions 4 and later make them: `$` and 43 base64url characters.
fn event_id(n: usize) -> String {
    format!("${}", hash43(format!("fake-event-{n}").as_bytes()))
}

/// Whether Synapse would take `room_id` as a room id in a path.
fn is_room_id(room_id: &str) -> bool {
    let v12 = room_id.strip_prefix('!').is_some_and(|h| {
        h.len() == 43
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let older = room_id.starts_with('!')
        && room_id
            .split_once(':')
            .is_some_and(|(l, server)| l.len() > 1 && !server.is_empty());
    v12 || older
}

/// An event the fake homeserver stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The room.
    pub room_id: String,
    /// `$...` id.
    pub event_id: String,
    /// Who sent it.
    pub sender: String,
    /// `m.room.message`, `m.room.redaction`, ...
    pub event_type: String,
    /// The content as sent (emptied by a redaction).
    pub content: Value,
    /// The transaction id it was sent with.
    pub txn_id: String,
    /// For a redaction: the event it redacts.
    pub redacts: Option<String>,
    /// Whether a later redaction removed its content.
    pub redacted: bool,
}

/// The largest upload (Synapse's default `max_upload_size`, 50 MiB).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// One file in the media repository.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMedia {
    /// `mxc://server/id`.
    pub mxc: String,
    /// The type read from the content.
    pub media_type: String,
    /// The `filename` query parameter, if given.
    pub filename: Option<String>,
    /// The bytes as received.
    pub bytes: axum::body::Bytes,
}

#[derive(Debug, Default)]
struct Rooms {
    events: Vec<StoredEvent>,
    media: Vec<StoredMedia>,
    /// (access token, txnId) → event id: transaction ids are scoped to the device.
    transactions: HashMap<(String, String), String>,
}

/// The homeserver's state: one user with one access token, the rooms it has joined,
/// and every event.
#[derive(Debug)]
pub struct Homeserver {
    /// The user the token belongs to (`@tocsin:example.org`).
    pub user_id: String,
    tokens: Mutex<BTreeSet<String>>,
    joined: Mutex<BTreeSet<String>>,
    rooms: Mutex<Rooms>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Homeserver {
    /// Every event in every room, in order.
    pub fn events(&self) -> Vec<StoredEvent> {
        lock(&self.rooms).events.clone()
    }

    /// The `m.room.message` events of one room, in order.
    pub fn messages(&self, room_id: &str) -> Vec<StoredEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.room_id == room_id && e.event_type == "m.room.message")
            .collect()
    }

    /// Every upload, oldest first.
    pub fn media(&self) -> Vec<StoredMedia> {
        lock(&self.rooms).media.clone()
    }

    /// Makes the user leave a room (sends are then refused with `M_FORBIDDEN`).
    pub fn leave(&self, room_id: &str) {
        lock(&self.joined).remove(room_id);
    }

    /// Makes the user join a room.
    pub fn join(&self, room_id: &str) {
        lock(&self.joined).insert(room_id.to_string());
    }

    /// Adds a device (a new login) with its own token: its transaction ids are its own.
    pub fn add_device(&self, token: &str) {
        lock(&self.tokens).insert(token.to_string());
    }

    /// Adds a message by someone else (or by this user, sent from another device).
    pub fn inject_message(&self, room_id: &str, sender: &str, content: Value) -> String {
        let mut rooms = lock(&self.rooms);
        let event_id = event_id(rooms.events.len() + 1);
        rooms.events.push(StoredEvent {
            room_id: room_id.to_string(),
            event_id: event_id.clone(),
            sender: sender.to_string(),
            event_type: "m.room.message".into(),
            content,
            txn_id: String::new(),
            redacts: None,
            redacted: false,
        });
        event_id
    }
}

/// A running fake homeserver.
pub struct FakeMatrix {
    /// The HTTP server (base URL, recordings, faults).
    pub server: FakeServer,
    /// The homeserver's state.
    pub homeserver: Arc<Homeserver>,
}

impl FakeMatrix {
    /// Starts a homeserver where `user_id` holds `token` and has joined `rooms`.
    pub async fn start(user_id: &str, token: &str, rooms: &[&str]) -> std::io::Result<FakeMatrix> {
        let homeserver = Arc::new(Homeserver {
            user_id: user_id.to_string(),
            tokens: Mutex::new(BTreeSet::from([token.to_string()])),
            joined: Mutex::new(rooms.iter().map(|r| r.to_string()).collect()),
            rooms: Mutex::new(Rooms::default()),
        });
        let router = Router::new()
            .route("/_matrix/client/v3/account/whoami", get(whoami))
            .route("/_matrix/client/v3/joined_rooms", get(joined_rooms))
            .route(
                "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}",
                put(send),
            )
            .route(
                "/_matrix/client/v3/rooms/{room_id}/redact/{event_id}/{txn_id}",
                put(redact),
            )
            .route("/_matrix/client/v3/rooms/{room_id}/messages", get(messages))
            .route("/_matrix/media/v3/upload", axum::routing::post(upload))
            .fallback(unrecognized)
            .with_state(homeserver.clone());
        let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
        Ok(FakeMatrix { server, homeserver })
    }
}

fn error(status: StatusCode, errcode: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errcode": errcode, "error": message })),
    )
        .into_response()
}

/// The bearer token of a request.
fn token_of(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

/// Checks `Authorization: Bearer <token>`: `Some(refusal)` when it is missing or wrong.
fn authenticate(hs: &Homeserver, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Some(error(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "Missing access token",
        )),
        Some(t) if lock(&hs.tokens).contains(t) => None,
        Some(_) => Some(error(
            StatusCode::UNAUTHORIZED,
            "M_UNKNOWN_TOKEN",
            "Unrecognised access token",
        )),
    }
}

/// `Some(refusal)` when the user is not in the room (or it is no room id at all).
fn not_joined(hs: &Homeserver, room_id: &str) -> Option<Response> {
    if !is_room_id(room_id) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "M_INVALID_PARAM",
            &format!("{room_id:?} is not a valid room ID"),
        ));
    }
    if lock(&hs.joined).contains(room_id) {
        None
    } else {
        Some(error(
            StatusCode::FORBIDDEN,
            "M_FORBIDDEN",
            &format!("User {} not in room {room_id}", hs.user_id),
        ))
    }
}

async fn whoami(State(hs): State<Arc<Homeserver>>, headers: HeaderMap) -> Response {
    if let Some(r) = authenticate(&hs, &headers) {
        return r;
    }
    Json(json!({ "user_id": hs.user_id, "device_id": "TOCSINFAKE", "is_guest": false }))
        .into_response()
}

async fn joined_rooms(State(hs): State<Arc<Homeserver>>, headers: HeaderMap) -> Response {
    if let Some(r) = authenticate(&hs, &headers) {
        return r;
    }
    let rooms: Vec<String> = lock(&hs.joined).iter().cloned().collect();
    Json(json!({ "joined_rooms": rooms })).into_response()
}

async fn send(
    State(hs): State<Arc<Homeserver>>,
    Path((room_id, event_type, txn_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = authenticate(&hs, &headers).or_else(|| not_joined(&hs, &room_id)) {
        return r;
    }
    let Ok(content) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON.");
    };
    if !content.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "M_BAD_JSON",
            "Content must be a JSON object.",
        );
    }
    if body.len() > 65_536 {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "M_TOO_LARGE",
            "event too large",
        );
    }
    let mut rooms = lock(&hs.rooms);
    if content.get("msgtype").and_then(Value::as_str) == Some("m.image") {
        if let Err(why) = check_image(&rooms.media, &content) {
            return error(StatusCode::BAD_REQUEST, "M_BAD_JSON", &why);
        }
    }
    let key = (token_of(&headers), txn_id.clone());
    if let Some(existing) = rooms.transactions.get(&key) {
        return Json(json!({ "event_id": existing })).into_response();
    }
    let event_id = event_id(rooms.events.len() + 1);
    rooms.events.push(StoredEvent {
        room_id,
        event_id: event_id.clone(),
        sender: hs.user_id.clone(),
        event_type,
        content,
        txn_id,
        redacts: None,
        redacted: false,
    });
    rooms.transactions.insert(key, event_id.clone());
    Json(json!({ "event_id": event_id })).into_response()
}

/// Checks an `m.image` content against the spec and the media repository.
fn check_image(media: &[StoredMedia], content: &Value) -> Result<(), String> {
    if content.get("body").and_then(Value::as_str).is_none() {
        return Err("m.image needs a body".into());
    }
    let url = content
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let stored = media.iter().find(|m| m.mxc == url).ok_or(format!(
        "m.image url {url:?} is not an mxc URI of this server's"
    ))?;
    let info = content.get("info").ok_or("m.image needs info")?;
    if info.get("mimetype").and_then(Value::as_str) != Some(stored.media_type.as_str()) {
        return Err("info.mimetype is not the uploaded file's type".into());
    }
    if info.get("size").and_then(Value::as_u64) != Some(stored.bytes.len() as u64) {
        return Err("info.size is not the uploaded file's size".into());
    }
    for side in ["w", "h"] {
        if info
            .get(side)
            .and_then(Value::as_u64)
            .is_none_or(|n| n == 0)
        {
            return Err(format!("info.{side} must be a positive integer"));
        }
    }
    Ok(())
}

async fn upload(
    State(hs): State<Arc<Homeserver>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = authenticate(&hs, &headers) {
        return r;
    }
    if body.len() > MAX_UPLOAD_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "M_TOO_LARGE",
            "Upload request body is too large",
        );
    }
    let declared = headers.get("content-type").and_then(|v| v.to_str().ok());
    let media_type = match crate::images::check_declared(declared, &body) {
        Ok(t) => t,
        Err(why) => return error(StatusCode::BAD_REQUEST, "M_UNKNOWN", &why),
    };
    let server = hs.user_id.split_once(':').map_or("localhost", |(_, s)| s);
    let mut rooms = lock(&hs.rooms);
    let id = crate::images::sha256_hex(&body);
    let mxc = format!(
        "mxc://{server}/{}{}",
        rooms.media.len(),
        id.get(..20).unwrap_or_default()
    );
    rooms.media.push(StoredMedia {
        mxc: mxc.clone(),
        media_type: media_type.to_string(),
        filename: query.get("filename").cloned(),
        bytes: body,
    });
    Json(json!({ "content_uri": mxc })).into_response()
}

async fn redact(
    State(hs): State<Arc<Homeserver>>,
    Path((room_id, target, txn_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = authenticate(&hs, &headers).or_else(|| not_joined(&hs, &room_id)) {
        return r;
    }
    let reason = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("reason").cloned());
    let mut rooms = lock(&hs.rooms);
    let key = (token_of(&headers), txn_id.clone());
    if let Some(existing) = rooms.transactions.get(&key) {
        return Json(json!({ "event_id": existing })).into_response();
    }
    // Synapse does not check that the event exists: a redaction of one it never had (or
    // of one already redacted) is a new redaction event all the same.
    if let Some(victim) = rooms
        .events
        .iter_mut()
        .find(|e| e.room_id == room_id && e.event_id == target)
    {
        victim.redacted = true;
        victim.content = json!({});
    }
    let event_id = event_id(rooms.events.len() + 1);
    let mut content = serde_json::Map::new();
    content.insert("redacts".into(), json!(target));
    if let Some(reason) = reason {
        content.insert("reason".into(), reason);
    }
    let content = Value::Object(content);
    rooms.events.push(StoredEvent {
        room_id,
        event_id: event_id.clone(),
        sender: hs.user_id.clone(),
        event_type: "m.room.redaction".into(),
        content,
        txn_id,
        redacts: Some(target),
        redacted: false,
    });
    rooms.transactions.insert(key, event_id.clone());
    Json(json!({ "event_id": event_id })).into_response()
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    from: Option<String>,
}

/// `/messages`: `from` tokens are `t<index>`; `dir=b` walks back from the newest event.
/// `end` is left out once the start of the room is reached.
async fn messages(
    State(hs): State<Arc<Homeserver>>,
    Path(room_id): Path<String>,
    Query(query): Query<MessagesQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = authenticate(&hs, &headers).or_else(|| not_joined(&hs, &room_id)) {
        return r;
    }
    if query.dir.as_deref() != Some("b") {
        return error(
            StatusCode::BAD_REQUEST,
            "M_INVALID_PARAM",
            "the fake only walks backwards",
        );
    }
    let rooms = lock(&hs.rooms);
    let in_room: Vec<&StoredEvent> = rooms
        .events
        .iter()
        .filter(|e| e.room_id == room_id)
        .collect();
    let start = match query
        .from
        .as_deref()
        .map(|f| f.trim_start_matches('t').parse::<usize>())
    {
        Some(Ok(n)) => n.min(in_room.len()),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", "bad from token"),
        None => in_room.len(),
    };
    let limit = query.limit.unwrap_or(10).clamp(1, 1000);
    let first = start.saturating_sub(limit);
    let chunk: Vec<Value> = in_room
        .get(first..start)
        .unwrap_or_default()
        .iter()
        .rev()
        .map(|e| {
            let mut unsigned = serde_json::Map::new();
            if !e.txn_id.is_empty() {
                unsigned.insert("transaction_id".into(), json!(e.txn_id));
            }
            let mut event = serde_json::Map::new();
            let fields = json!({
                "event_id": e.event_id,
                "room_id": e.room_id,
                "sender": e.sender,
                "type": e.event_type,
                "content": e.content,
                "origin_server_ts": 1_700_000_000_000u64,
                "unsigned": unsigned,
            });
            if let Value::Object(fields) = fields {
                event.extend(fields);
            }
            if let Some(r) = &e.redacts {
                event.insert("redacts".into(), json!(r));
            }
            Value::Object(event)
        })
        .collect();
    let mut answer = serde_json::Map::new();
    answer.insert("chunk".into(), Value::Array(chunk));
    answer.insert("start".into(), json!(format!("t{start}")));
    if first > 0 {
        answer.insert("end".into(), json!(format!("t{first}")));
    }
    Json(Value::Object(answer)).into_response()
}

async fn unrecognized() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "M_UNRECOGNIZED",
        "Unrecognized request",
    )
}
