//! A fake Bluesky PDS: the XRPC methods Tocsin uses, with the AT Protocol's JSON bodies,
//! `{"error": "Name", "message": "..."}` failures and `RateLimit-*` headers.
//!
//! Sessions are opaque JWT-like strings; the test can expire every access token so the
//! next call gets 400 `ExpiredToken`, or refuse refreshes. As `@atproto/pds` 0.5 does, a
//! token it cannot verify is 400 `InvalidToken` (not 401), a missing one 401
//! `AuthMissing`, a wrong password 401 `AuthenticationRequired`, an unknown handle 400
//! `HandleNotFound`, and deleting a missing record succeeds. `createRecord` validates
//! posts more strictly than Bluesky does: at most 300 graphemes, facet byte offsets on
//! character boundaries inside the text, reply root and parent naming existing posts.
//! `uploadBlob` takes the raw bytes with their `Content-Type` (checked against the
//! content) and answers a blob ref; an `app.bsky.embed.images` embed must hold 1 to 4
//! images, each a blob this account uploaded (type and size as uploaded, at most
//! 1,000,000 bytes), with an `alt` string and a positive integer `aspectRatio`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use unicode_segmentation::UnicodeSegmentation;

use crate::{FakeServer, FakeState};

/// The account's handle.
pub const HANDLE: &str = "health.fake-pds.test";
/// The account's DID.
pub const DID: &str = "did:plc:tocsinfakehealth7q2x4z";
/// The app password the fake accepts unless told otherwise.
pub const APP_PASSWORD: &str = "fake-app1-pass-word";
/// The posts collection.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Longest post text, in graphemes.
pub const MAX_GRAPHEMES: usize = 300;
/// Largest image blob `app.bsky.embed.images` accepts.
pub const MAX_IMAGE_BYTES: usize = 1_000_000;
/// Largest blob `uploadBlob` takes (the PDS's default `blobUploadLimit`, 5 MB).
pub const MAX_BLOB_BYTES: usize = 5 * 1024 * 1024;
/// Write points per window reported in `RateLimit-Limit`.
pub const RATE_LIMIT: u64 = 5000;

/// One record as the fake stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRecord {
    /// `at://{did}/app.bsky.feed.post/{rkey}`.
    pub uri: String,
    /// Its CID.
    pub cid: String,
    /// Its record key (a TID).
    pub rkey: String,
    /// The record as sent.
    pub value: Value,
    /// `value.text`.
    pub text: String,
    /// `value.reply.root.uri`.
    pub reply_root: Option<String>,
    /// `value.reply.parent.uri`.
    pub reply_parent: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// The images its embed carried, in order.
    pub images: Vec<FakeEmbeddedImage>,
}

/// One blob as `uploadBlob` stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBlob {
    /// Its CID (`bafkrei…`, raw codec).
    pub cid: String,
    /// The type read from the content.
    pub mime_type: String,
    /// The bytes as received.
    pub bytes: Bytes,
}

/// One image of a post's `app.bsky.embed.images` embed, as the fake accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeEmbeddedImage {
    /// The blob's CID.
    pub cid: String,
    /// The blob's bytes.
    pub bytes: Bytes,
    /// The `alt` text.
    pub alt: String,
    /// `aspectRatio` as (width, height), when sent.
    pub aspect_ratio: Option<(u64, u64)>,
}

impl FakeRecord {
    /// `value.facets` (empty when there are none).
    pub fn facets(&self) -> Vec<Value> {
        self.value
            .get("facets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Inner {
    password: String,
    /// Access token -> expired.
    access: HashMap<String, bool>,
    /// Refresh token -> already used.
    refresh: HashMap<String, bool>,
    records: Vec<FakeRecord>,
    counter: u64,
    sessions_created: usize,
    refreshes: usize,
    refuse_refresh: bool,
    remaining: u64,
    /// Handles `resolveHandle` knows besides the account's own.
    handles: HashMap<String, String>,
    blobs: Vec<FakeBlob>,
}

impl Inner {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn issue(&mut self) -> (String, String) {
        let n = self.next();
        let access = format!(
            "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ.access-{n}-{:016x}.fakesig",
            mix(n)
        );
        let refresh = format!(
            "eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkVTMjU2SyJ9.refresh-{n}-{:016x}.fakesig",
            mix(n ^ 0xA5)
        );
        self.access.insert(access.clone(), false);
        self.refresh.insert(refresh.clone(), false);
        (access, refresh)
    }
}

/// The fake's platform state, shared by its handlers and the test.
#[derive(Debug)]
pub struct BlueskyState {
    inner: Mutex<Inner>,
}

impl BlueskyState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake PDS. Derefs to its [`FakeServer`] (base URL, faults, recordings).
pub struct FakeBluesky {
    server: FakeServer,
    state: Arc<BlueskyState>,
}

impl Deref for FakeBluesky {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeBluesky {
    /// Every record created, deleted ones included, oldest first.
    pub fn records(&self) -> Vec<FakeRecord> {
        self.state.lock().records.clone()
    }

    /// Records not deleted, oldest first.
    pub fn live_records(&self) -> Vec<FakeRecord> {
        self.records().into_iter().filter(|r| !r.deleted).collect()
    }

    /// Every blob uploaded, oldest first.
    pub fn blobs(&self) -> Vec<FakeBlob> {
        self.state.lock().blobs.clone()
    }

    /// How many sessions `createSession` opened.
    pub fn sessions_created(&self) -> usize {
        self.state.lock().sessions_created
    }

    /// How many sessions `refreshSession` renewed.
    pub fn refreshes(&self) -> usize {
        self.state.lock().refreshes
    }

    /// Expires every access token issued so far: the next call with one gets
    /// 400 `ExpiredToken`.
    pub fn expire_access_tokens(&self) {
        for expired in self.state.lock().access.values_mut() {
            *expired = true;
        }
    }

    /// Forgets every session (as when the account signs out everywhere): old access
    /// and refresh tokens get 400 `InvalidToken`, as the PDS answers.
    pub fn revoke_sessions(&self) {
        let mut inner = self.state.lock();
        inner.access.clear();
        inner.refresh.clear();
    }

    /// Makes `refreshSession` answer 400 `ExpiredToken` (the refresh token expired too).
    pub fn refuse_refresh(&self, refuse: bool) {
        self.state.lock().refuse_refresh = refuse;
    }

    /// Accepts only this app password from now on (as after a revocation).
    pub fn set_password(&self, password: &str) {
        self.state.lock().password = password.to_string();
    }

    /// Makes `com.atproto.identity.resolveHandle` know `handle` as `did`.
    pub fn add_handle(&self, handle: &str, did: &str) {
        self.state
            .lock()
            .handles
            .insert(handle.to_ascii_lowercase(), did.to_string());
    }

    /// Write points left in the window; at 0 writes answer 429 `RateLimitExceeded`.
    pub fn set_rate_limit_remaining(&self, remaining: u64) {
        self.state.lock().remaining = remaining;
    }
}

/// Starts a fake PDS on a loopback port for [`HANDLE`] / [`DID`] with [`APP_PASSWORD`].
pub async fn start() -> std::io::Result<FakeBluesky> {
    let state = Arc::new(BlueskyState {
        inner: Mutex::new(Inner {
            password: APP_PASSWORD.to_string(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            records: Vec::new(),
            counter: 0,
            sessions_created: 0,
            refreshes: 0,
            refuse_refresh: false,
            remaining: RATE_LIMIT,
            handles: HashMap::new(),
            blobs: Vec::new(),
        }),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    Ok(FakeBluesky { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<BlueskyState>) -> Router {
    Router::new()
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(create_session),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            post(refresh_session),
        )
        .route("/xrpc/com.atproto.server.getSession", get(get_session))
        .route("/xrpc/com.atproto.repo.uploadBlob", post(upload_blob))
        .route("/xrpc/com.atproto.repo.createRecord", post(create_record))
        .route("/xrpc/com.atproto.repo.deleteRecord", post(delete_record))
        .route("/xrpc/com.atproto.repo.listRecords", get(list_records))
        .route(
            "/xrpc/com.atproto.identity.resolveHandle",
            get(resolve_handle),
        )
        .with_state(state)
}

/// An answer that ends a request early (boxed: responses are large).
type Refusal = Box<Response>;

/// Sets `key` on a JSON object (a no-op on anything else).
fn set(value: &mut Value, key: &str, field: Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert(key.to_string(), field);
    }
}

fn xrpc_error(code: StatusCode, error: &str, message: &str) -> Response {
    (code, Json(json!({ "error": error, "message": message }))).into_response()
}

fn invalid(message: &str) -> Response {
    xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// A 64-bit mix (splitmix64), for ids that look random but are reproducible.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SORTABLE: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn encode(value: u64, chars: usize, alphabet: &[u8]) -> String {
    (0..chars)
        .rev()
        .map(|i| {
            let index = ((value >> (5 * i).min(63)) & 31) as usize;
            alphabet.get(index).copied().map_or('a', char::from)
        })
        .collect()
}

/// A TID record key: 13 base32-sortable characters of microseconds and a clock id, so
/// later records sort after earlier ones.
fn tid(n: u64) -> String {
    let micros = 1_760_000_000_000_000u64 + n * 1000;
    encode((micros << 10) & (u64::MAX >> 1), 13, SORTABLE)
}

/// A CIDv1 (dag-cbor, sha-256) lookalike: `bafyrei` and 52 base32 characters.
fn cid(n: u64) -> String {
    let body: String = (0..4u64)
        .map(|i| encode(mix(n * 4 + i), 13, BASE32))
        .collect();
    format!("bafyrei{body}")
}

/// Adds the atproto rate-limit headers (reset as epoch seconds).
fn with_rate_headers(mut response: Response, remaining: u64) -> Response {
    let reset = chrono::Utc::now().timestamp() + 3600;
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", RATE_LIMIT.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
        ("ratelimit-policy", format!("{RATE_LIMIT};w=3600")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Checks the access token as a PDS does.
fn authenticate(inner: &Inner, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(xrpc_error(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        )));
    };
    match inner.access.get(token) {
        Some(false) => Ok(()),
        Some(true) => Err(Box::new(xrpc_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has expired",
        ))),
        // As @atproto/pds 0.5: a token it cannot verify is a 400, like an expired one.
        None => Err(Box::new(xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            "Token could not be verified",
        ))),
    }
}

/// Authenticates a write and takes one point from the rate-limit budget.
fn admit_write(inner: &mut Inner, headers: &HeaderMap) -> Result<u64, Refusal> {
    authenticate(inner, headers)?;
    if inner.remaining == 0 {
        let refused = xrpc_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
        );
        return Err(Box::new(with_rate_headers(refused, 0)));
    }
    inner.remaining -= 1;
    Ok(inner.remaining)
}

fn session_json(access: &str, refresh: &str) -> Value {
    json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": HANDLE,
        "did": DID,
        "active": true,
    })
}

fn is_our_repo(repo: Option<&str>) -> bool {
    matches!(repo, Some(r) if r == DID || r == HANDLE)
}

async fn create_session(State(state): State<Arc<BlueskyState>>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Request body must be JSON");
    };
    let identifier = input.get("identifier").and_then(Value::as_str);
    let password = input.get("password").and_then(Value::as_str);
    let mut inner = state.lock();
    let known = matches!(identifier, Some(i) if i == HANDLE || i == DID);
    if !known || password != Some(inner.password.as_str()) {
        return xrpc_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    inner.sessions_created += 1;
    let (access, refresh) = inner.issue();
    Json(session_json(&access, &refresh)).into_response()
}

async fn refresh_session(State(state): State<Arc<BlueskyState>>, headers: HeaderMap) -> Response {
    let mut inner = state.lock();
    let Some(token) = bearer(&headers).map(str::to_string) else {
        return xrpc_error(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        );
    };
    match inner.refresh.get(&token).copied() {
        None => xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            "Token could not be verified",
        ),
        Some(true) => xrpc_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        ),
        Some(false) if inner.refuse_refresh => {
            xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired")
        }
        Some(false) => {
            inner.refresh.insert(token, true);
            inner.refreshes += 1;
            let (access, refresh) = inner.issue();
            Json(session_json(&access, &refresh)).into_response()
        }
    }
}

async fn get_session(State(state): State<Arc<BlueskyState>>, headers: HeaderMap) -> Response {
    let inner = state.lock();
    if let Err(refused) = authenticate(&inner, &headers) {
        return *refused;
    }
    Json(json!({"handle": HANDLE, "did": DID, "active": true, "emailConfirmed": true}))
        .into_response()
}

/// Checks a post record as the fake's lexicon does; the error message on failure.
/// What [`check_post`] found valid in a record.
type CheckedPost = (
    String,
    Option<String>,
    Option<String>,
    Vec<FakeEmbeddedImage>,
);

fn check_post(inner: &Inner, record: &Value) -> Result<CheckedPost, String> {
    if record.get("$type").and_then(Value::as_str) != Some(POST_COLLECTION) {
        return Err(format!("Invalid $type: expected {POST_COLLECTION}"));
    }
    let text = record
        .get("text")
        .and_then(Value::as_str)
        .ok_or("Invalid app.bsky.feed.post record: Record must have the property \"text\"")?;
    if text.graphemes(true).count() > MAX_GRAPHEMES || text.len() > 3000 {
        return Err(format!(
            "Invalid app.bsky.feed.post record: Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        ));
    }
    let created_at = record
        .get("createdAt")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if chrono::DateTime::parse_from_rfc3339(created_at).is_err() {
        return Err(
            "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime"
                .into(),
        );
    }
    if let Some(langs) = record.get("langs") {
        let ok = langs.as_array().is_some_and(|l| {
            l.len() <= 3 && l.iter().all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        });
        if !ok {
            return Err(
                "Invalid app.bsky.feed.post record: Record/langs must be up to 3 language codes"
                    .into(),
            );
        }
    }
    if let Some(facets) = record.get("facets") {
        let facets = facets
            .as_array()
            .ok_or("Invalid app.bsky.feed.post record: Record/facets must be an array")?;
        for (i, facet) in facets.iter().enumerate() {
            check_facet(text, facet).map_err(|why| {
                format!("Invalid app.bsky.feed.post record: Record/facets/{i} {why}")
            })?;
        }
    }
    let (mut root, mut parent) = (None, None);
    if let Some(reply) = record.get("reply") {
        let strong = |name: &str| -> Result<&FakeRecord, String> {
            let r = reply
                .get(name)
                .ok_or(format!("Record/reply must have the property \"{name}\""))?;
            let uri = r.get("uri").and_then(Value::as_str).unwrap_or_default();
            let cid = r.get("cid").and_then(Value::as_str).unwrap_or_default();
            inner
                .records
                .iter()
                .find(|rec| rec.uri == uri && rec.cid == cid && !rec.deleted)
                .ok_or(format!(
                    "Record/reply/{name} does not refer to an existing post (uri and cid)"
                ))
        };
        let root_record = strong("root")?;
        let parent_record = strong("parent")?;
        let thread_root = parent_record
            .reply_root
            .as_deref()
            .unwrap_or(&parent_record.uri);
        if root_record.uri != thread_root {
            return Err("Record/reply/root is not the root of the parent's thread".into());
        }
        root = Some(root_record.uri.clone());
        parent = Some(parent_record.uri.clone());
    }
    let images = match record.get("embed") {
        Some(embed) => check_images_embed(inner, embed)
            .map_err(|why| format!("Invalid app.bsky.feed.post record: Record/embed{why}"))?,
        None => Vec::new(),
    };
    Ok((text.to_string(), root, parent, images))
}

/// Checks an `app.bsky.embed.images` embed against the lexicon and the uploaded blobs.
fn check_images_embed(inner: &Inner, embed: &Value) -> Result<Vec<FakeEmbeddedImage>, String> {
    if embed.get("$type").and_then(Value::as_str) != Some("app.bsky.embed.images") {
        return Err(" $type must be app.bsky.embed.images (the only embed this fake knows)".into());
    }
    let images = embed
        .get("images")
        .and_then(Value::as_array)
        .ok_or("/images must be an array")?;
    if images.is_empty() || images.len() > 4 {
        return Err(format!(
            "/images must hold 1 to 4 images, not {}",
            images.len()
        ));
    }
    let mut out = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let at = format!("/images/{i}");
        let alt = image
            .get("alt")
            .and_then(Value::as_str)
            .ok_or(format!("{at} must have the property \"alt\""))?;
        let blob = image
            .get("image")
            .ok_or(format!("{at} must have the property \"image\""))?;
        if blob.get("$type").and_then(Value::as_str) != Some("blob") {
            return Err(format!("{at}/image should be a blob ref"));
        }
        let link = blob
            .pointer("/ref/$link")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let stored = inner.blobs.iter().find(|b| b.cid == link).ok_or(format!(
            "{at}/image refers to a blob this repository never uploaded"
        ))?;
        if blob.get("mimeType").and_then(Value::as_str) != Some(stored.mime_type.as_str())
            || blob.get("size").and_then(Value::as_u64) != Some(stored.bytes.len() as u64)
        {
            return Err(format!("{at}/image mimeType and size must be as uploaded"));
        }
        if !stored.mime_type.starts_with("image/") {
            return Err(format!("{at}/image mimeType must be image/*"));
        }
        if stored.bytes.len() > MAX_IMAGE_BYTES {
            return Err(format!(
                "{at}/image file too large: {} bytes, max {MAX_IMAGE_BYTES}",
                stored.bytes.len()
            ));
        }
        let aspect_ratio = match image.get("aspectRatio") {
            None => None,
            Some(ratio) => {
                let side = |k: &str| ratio.get(k).and_then(Value::as_u64).filter(|n| *n >= 1);
                match (side("width"), side("height")) {
                    (Some(w), Some(h)) => Some((w, h)),
                    _ => {
                        return Err(format!(
                            "{at}/aspectRatio must have integer width and height of at least 1"
                        ))
                    }
                }
            }
        };
        out.push(FakeEmbeddedImage {
            cid: stored.cid.clone(),
            bytes: stored.bytes.clone(),
            alt: alt.to_string(),
            aspect_ratio,
        });
    }
    Ok(out)
}

async fn upload_blob(
    State(state): State<Arc<BlueskyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(refused) = authenticate(&inner, &headers) {
        return *refused;
    }
    if body.is_empty() {
        return invalid("Request body is empty");
    }
    if body.len() > MAX_BLOB_BYTES {
        return xrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request entity too large",
        );
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mime_type = match crate::images::check_declared(declared, &body) {
        Ok(t) => t,
        Err(why) => return invalid(&why),
    };
    let hash = crate::images::sha256_hex(&body);
    let cid = format!("bafkrei{}", hash.get(..52).unwrap_or_default());
    if !inner.blobs.iter().any(|b| b.cid == cid) {
        inner.blobs.push(FakeBlob {
            cid: cid.clone(),
            mime_type: mime_type.to_string(),
            bytes: body.clone(),
        });
    }
    Json(json!({"blob": {
        "$type": "blob",
        "ref": {"$link": cid},
        "mimeType": mime_type,
        "size": body.len(),
    }}))
    .into_response()
}

fn check_facet(text: &str, facet: &Value) -> Result<(), String> {
    let start = facet.pointer("/index/byteStart").and_then(Value::as_u64);
    let end = facet.pointer("/index/byteEnd").and_then(Value::as_u64);
    let (Some(start), Some(end)) = (start, end) else {
        return Err("must have index.byteStart and index.byteEnd".into());
    };
    let (start, end) = (
        usize::try_from(start).unwrap_or(usize::MAX),
        usize::try_from(end).unwrap_or(usize::MAX),
    );
    if start >= end || end > text.len() {
        return Err(format!(
            "byte range {start}..{end} is not inside the text ({} bytes)",
            text.len()
        ));
    }
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return Err(format!("byte range {start}..{end} splits a character"));
    }
    let features = facet
        .get("features")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or("must have features")?;
    for feature in features {
        match feature.get("$type").and_then(Value::as_str) {
            Some("app.bsky.richtext.facet#link") => {
                let uri = feature
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !(uri.starts_with("https://") || uri.starts_with("http://")) {
                    return Err(format!("link uri {uri:?} is not a full URL"));
                }
            }
            Some("app.bsky.richtext.facet#tag") => {
                let tag = feature
                    .get("tag")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if tag.is_empty()
                    || tag.starts_with('#')
                    || tag.len() > 640
                    || tag.graphemes(true).count() > 64
                {
                    return Err(format!("tag {tag:?} is not a tag without its '#'"));
                }
            }
            Some("app.bsky.richtext.facet#mention") => {
                let did = feature
                    .get("did")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !did.starts_with("did:") {
                    return Err("mention must carry a DID".into());
                }
            }
            other => return Err(format!("unknown feature type {other:?}")),
        }
    }
    Ok(())
}

async fn create_record(
    State(state): State<Arc<BlueskyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit_write(&mut inner, &headers) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    let answer = |response: Response| with_rate_headers(response, remaining);
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return answer(invalid("Input must be a JSON object"));
    };
    if !is_our_repo(input.get("repo").and_then(Value::as_str)) {
        return answer(invalid("Input/repo must be the session's account"));
    }
    if input.get("collection").and_then(Value::as_str) != Some(POST_COLLECTION) {
        return answer(invalid("This fake only stores app.bsky.feed.post records"));
    }
    let Some(record) = input.get("record") else {
        return answer(invalid("Input must have the property \"record\""));
    };
    let (text, reply_root, reply_parent, images) = match check_post(&inner, record) {
        Ok(checked) => checked,
        Err(why) => return answer(invalid(&why)),
    };
    let n = inner.next();
    let rkey = tid(n);
    let uri = format!("at://{DID}/{POST_COLLECTION}/{rkey}");
    let cid = cid(n);
    inner.records.push(FakeRecord {
        uri: uri.clone(),
        cid: cid.clone(),
        rkey: rkey.clone(),
        value: record.clone(),
        text,
        reply_root,
        reply_parent,
        deleted: false,
        images,
    });
    answer(
        Json(json!({
            "uri": uri,
            "cid": cid,
            "commit": {"cid": self::cid(n ^ 0xC0FFEE), "rev": rkey},
            "validationStatus": "valid",
        }))
        .into_response(),
    )
}

async fn delete_record(
    State(state): State<Arc<BlueskyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit_write(&mut inner, &headers) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    let answer = |response: Response| with_rate_headers(response, remaining);
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return answer(invalid("Input must be a JSON object"));
    };
    if !is_our_repo(input.get("repo").and_then(Value::as_str)) {
        return answer(invalid("Input/repo must be the session's account"));
    }
    let collection = input
        .get("collection")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(rkey) = input.get("rkey").and_then(Value::as_str) else {
        return answer(invalid("Input must have the property \"rkey\""));
    };
    // Deleting a record that is not there succeeds, as on a real PDS.
    if let Some(record) = inner
        .records
        .iter_mut()
        .find(|r| r.rkey == rkey && collection == POST_COLLECTION)
    {
        record.deleted = true;
    }
    let n = inner.next();
    answer(Json(json!({"commit": {"cid": cid(n), "rev": tid(n)}})).into_response())
}

/// As the PDS: its own handles resolve, one it does not know is 400 `HandleNotFound`.
async fn resolve_handle(
    State(state): State<Arc<BlueskyState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let inner = state.lock();
    let Some(handle) = query.get("handle").map(|h| h.to_ascii_lowercase()) else {
        return invalid("Params must have the property \"handle\"");
    };
    let did = if handle == HANDLE {
        Some(DID.to_string())
    } else {
        inner.handles.get(&handle).cloned()
    };
    match did {
        Some(did) => Json(json!({ "did": did })).into_response(),
        None => xrpc_error(
            StatusCode::BAD_REQUEST,
            "HandleNotFound",
            "Unable to resolve handle",
        ),
    }
}

async fn list_records(
    State(state): State<Arc<BlueskyState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let inner = state.lock();
    if !is_our_repo(query.get("repo").map(String::as_str)) {
        return invalid("Could not find repo");
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => return invalid("Input/limit must be between 1 and 100"),
    };
    let collection = query
        .get("collection")
        .map(String::as_str)
        .unwrap_or_default();
    let reverse = query.get("reverse").is_some_and(|r| r == "true");
    let cursor = query.get("cursor");
    let mut records: Vec<&FakeRecord> = inner
        .records
        .iter()
        .filter(|r| !r.deleted && collection == POST_COLLECTION)
        .collect();
    // Newest first unless `reverse`; the cursor is the last rkey of the previous page.
    if !reverse {
        records.reverse();
    }
    let page: Vec<&FakeRecord> = records
        .into_iter()
        .filter(|r| match cursor {
            Some(c) if reverse => r.rkey.as_str() > c.as_str(),
            Some(c) => r.rkey.as_str() < c.as_str(),
            None => true,
        })
        .take(limit)
        .collect();
    let mut out = json!({
        "records": page
            .iter()
            .map(|r| json!({"uri": r.uri, "cid": r.cid, "value": r.value}))
            .collect::<Vec<_>>(),
    });
    // As the PDS does: the cursor is the last rkey of any non-empty page.
    if let Some(last) = page.last() {
        set(&mut out, "cursor", json!(last.rkey));
    }
    Json(out).into_response()
}
