//! A fake Mastodon server: the client API routes Tocsin uses, with Mastodon's JSON and
//! headers (`X-RateLimit-*` on every answer, `{"error": "..."}` bodies).
//!
//! It honours `Idempotency-Key` (same key, same status), checks the bearer token,
//! enforces a character limit with 422 (URLs count 23, as Mastodon counts them), and
//! renders `content` as HTML the way Mastodon does, so reconciliation is tested against
//! markup rather than the submitted text.
//!
//! Media as Mastodon 4 takes them: `POST /api/v2/media` is multipart with a `file`
//! part whose content must be the image type it declares, and an optional
//! `description` (at most 1,500 characters); it answers 202 with `url: null` while the
//! file is "processing" (for as many polls as the test asks), and `GET
//! /api/v1/media/:id` answers 206 until ready. A status may name at most 4 `media_ids`,
//! each this account's, processed (else 422 "Cannot attach files that have not finished
//! processing") and not yet attached; the text may then be empty.
//!
//! It registers OAuth clients (`POST /api/v1/apps`) and serves the token endpoint
//! (`POST /oauth/token`, authorization code with optional PKCE, as Mastodon 4.3 does)
//! through [`crate::oauth::OAuthProvider`]; a token it issues becomes the one the API
//! accepts, and `verify_credentials` answers for whoever the token was issued to.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::oauth::{Flavor, OAuthProvider};
use crate::{FakeServer, FakeState};

/// The access token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-mastodon-access-token";
/// The id of the fake's one account.
pub const ACCOUNT_ID: &str = "109876543210000001";
/// The account's user name.
pub const USERNAME: &str = "publichealth";
/// Requests per window reported in `X-RateLimit-Limit`.
pub const RATE_LIMIT: u64 = 300;

/// One status as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    /// Its id (digits, increasing).
    pub id: String,
    /// The submitted `status` text.
    pub text: String,
    /// The `visibility` it was posted with.
    pub visibility: String,
    /// The `language` it was posted with.
    pub language: Option<String>,
    /// The status it replies to.
    pub in_reply_to_id: Option<String>,
    /// Its content warning (`spoiler_text`), empty when none.
    pub spoiler_text: String,
    /// The `Idempotency-Key` header it came with.
    pub idempotency_key: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// The media it carries, in `media_ids` order.
    pub media: Vec<FakeMedia>,
}

/// One uploaded media attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMedia {
    /// Its id.
    pub id: String,
    /// The `description` (alt text) it was uploaded with.
    pub description: Option<String>,
    /// The type read from the file's content.
    pub media_type: String,
    /// The file name sent.
    pub filename: Option<String>,
    /// The bytes as received.
    pub bytes: Bytes,
    /// Polls of `GET /api/v1/media/:id` left before it is processed.
    pub polls_left: u32,
    /// The status it is attached to.
    pub status_id: Option<String>,
}

#[derive(Debug)]
struct Inner {
    base_url: String,
    token: String,
    max_characters: usize,
    statuses: Vec<FakeStatus>,
    next_id: u64,
    remaining: u64,
    media: Vec<FakeMedia>,
    processing_polls: u32,
}

/// The fake's platform state, shared by its handlers and the test.
#[derive(Debug)]
pub struct MastodonState {
    inner: Mutex<Inner>,
    oauth: OAuthProvider,
}

impl MastodonState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Mastodon server. Derefs to its [`FakeServer`] (base URL, faults,
/// recorded requests).
pub struct FakeMastodon {
    server: FakeServer,
    state: Arc<MastodonState>,
}

impl Deref for FakeMastodon {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeMastodon {
    /// Every status received, deleted ones included, oldest first.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        self.state.lock().statuses.clone()
    }

    /// Statuses not deleted, oldest first.
    pub fn live_statuses(&self) -> Vec<FakeStatus> {
        self.statuses().into_iter().filter(|s| !s.deleted).collect()
    }

    /// Every media upload received, oldest first.
    pub fn media(&self) -> Vec<FakeMedia> {
        self.state.lock().media.clone()
    }

    /// Makes later uploads answer 202 and stay "processing" for `polls` polls.
    pub fn set_processing_polls(&self, polls: u32) {
        self.state.lock().processing_polls = polls;
    }

    /// Accepts only this bearer token from now on (as after a token rotation).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// The server's `max_characters` (500 by default).
    pub fn set_max_characters(&self, max: usize) {
        self.state.lock().max_characters = max;
    }

    /// Requests left in the rate-limit window; at 0 every API call answers 429.
    pub fn set_rate_limit_remaining(&self, remaining: u64) {
        self.state.lock().remaining = remaining;
    }

    /// The fake's OAuth 2 authorisation server (clients registered with `/api/v1/apps`).
    pub fn oauth(&self) -> &OAuthProvider {
        &self.state.oauth
    }

    /// The token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// The fake's behaviour and recordings (same as `self.state` through `Deref`).
    pub fn faults(&self) -> &Arc<FakeState> {
        &self.server.state
    }
}

/// Starts a fake Mastodon on a loopback port, accepting [`TOKEN`].
pub async fn start() -> std::io::Result<FakeMastodon> {
    let state = Arc::new(MastodonState {
        inner: Mutex::new(Inner {
            base_url: String::new(),
            token: TOKEN.to_string(),
            max_characters: 500,
            statuses: Vec::new(),
            next_id: 110_000_000_000_000_001,
            remaining: RATE_LIMIT,
            media: Vec::new(),
            processing_polls: 0,
        }),
        oauth: OAuthProvider::new(Flavor::Mastodon),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    state.lock().base_url = server.base_url.clone();
    Ok(FakeMastodon { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<MastodonState>) -> Router {
    Router::new()
        .route("/api/v1/statuses", post(create_status))
        .route(
            "/api/v1/statuses/{id}",
            delete(delete_status).get(get_status),
        )
        .route(
            "/api/v1/accounts/verify_credentials",
            get(verify_credentials),
        )
        .route("/api/v1/accounts/{id}/statuses", get(account_statuses))
        .route("/api/v2/instance", get(instance))
        .route("/api/v2/media", post(upload_media))
        .route("/api/v1/media/{id}", get(get_media))
        .route("/api/v1/apps", post(register_app))
        .route("/oauth/token", post(token))
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

fn error(code: StatusCode, message: &str) -> Response {
    (code, Json(json!({ "error": message }))).into_response()
}

/// Adds Mastodon's rate-limit headers (reset at the end of the 5-minute window).
fn with_rate_headers(mut response: Response, remaining: u64) -> Response {
    let reset = chrono::Utc::now() + chrono::Duration::minutes(5);
    let reset = reset.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// Checks the bearer token and takes one request from the rate-limit budget.
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<u64, Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(inner.token.as_str()) {
        let refused = error(StatusCode::UNAUTHORIZED, "The access token is invalid");
        return Err(Box::new(refused));
    }
    if inner.remaining == 0 {
        let refused = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        return Err(Box::new(with_rate_headers(refused, 0)));
    }
    inner.remaining -= 1;
    Ok(inner.remaining)
}

/// How Mastodon counts a status: grapheme clusters (its `StatusLengthValidator`), with
/// every URL counting 23.
pub fn mastodon_length(text: &str) -> usize {
    use unicode_segmentation::UnicodeSegmentation as _;
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end_matches(char::is_whitespace);
            let spaces = piece.graphemes(true).count() - word.graphemes(true).count();
            let counted = if word.starts_with("https://") || word.starts_with("http://") {
                23
            } else {
                word.graphemes(true).count()
            };
            counted + spaces
        })
        .sum()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Mastodon's rendering of plain text: paragraphs, `<br />`, links split into spans.
fn render_content(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|paragraph| {
            let lines: Vec<String> = paragraph
                .lines()
                .map(|line| {
                    line.split(' ')
                        .map(render_word)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect()
}

fn render_word(word: &str) -> String {
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| word.starts_with(s));
    match scheme {
        Some(scheme) => format!(
            "<a href=\"{}\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">{scheme}</span><span class=\"\">{}</span><span class=\"invisible\"></span></a>",
            escape(word),
            escape(word.get(scheme.len()..).unwrap_or_default())
        ),
        None => escape(word),
    }
}

fn account_json(base: &str) -> Value {
    json!({
        "id": ACCOUNT_ID,
        "username": USERNAME,
        "acct": USERNAME,
        "display_name": "Public Health (fake)",
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": "2024-01-01T00:00:00.000Z",
        "note": "",
        "url": format!("{base}/@{USERNAME}"),
        "uri": format!("{base}/users/{USERNAME}"),
        "avatar": format!("{base}/avatars/original/missing.png"),
        "header": format!("{base}/headers/original/missing.png"),
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": null,
        "emojis": [],
        "fields": [],
    })
}

fn status_json(status: &FakeStatus, base: &str) -> Value {
    json!({
        "id": status.id,
        "created_at": "2026-01-01T00:00:00.000Z",
        "in_reply_to_id": status.in_reply_to_id,
        "in_reply_to_account_id": status.in_reply_to_id.as_ref().map(|_| ACCOUNT_ID),
        "sensitive": false,
        "spoiler_text": status.spoiler_text,
        "visibility": status.visibility,
        "language": status.language,
        "uri": format!("{base}/users/{USERNAME}/statuses/{}", status.id),
        "url": format!("{base}/@{USERNAME}/{}", status.id),
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": null,
        "content": render_content(&status.text),
        "reblog": null,
        "application": {"name": "Tocsin", "website": null},
        "account": account_json(base),
        "media_attachments": status.media.iter().map(|m| media_json(m, base)).collect::<Vec<_>>(),
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": null,
        "poll": null,
    })
}

/// The parameters of `POST /api/v1/statuses`, from a JSON or a form body.
async fn status_params(headers: &HeaderMap, body: &Bytes) -> Option<HashMap<String, String>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        Some(
            object
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Null => None,
                    other => Some((k.clone(), other.to_string())),
                })
                .collect(),
        )
    } else {
        use axum::extract::{Form, FromRequest};
        let request = axum::http::Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.clone()))
            .ok()?;
        let Form(map) = Form::<HashMap<String, String>>::from_request(request, &())
            .await
            .ok()?;
        Some(map)
    }
}

async fn create_status(
    State(state): State<Arc<MastodonState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = status_params(&headers, &body).await;
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let base = inner.base_url.clone();
    let answer = |response: Response| with_rate_headers(response, remaining);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(key) = &key {
        if let Some(existing) = inner
            .statuses
            .iter()
            .find(|s| s.idempotency_key.as_ref() == Some(key))
        {
            return answer(Json(status_json(existing, &base)).into_response());
        }
    }
    let Some(params) = params else {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        ));
    };
    let media_ids: Vec<String> = match params.get("media_ids") {
        None => Vec::new(),
        Some(list) => match serde_json::from_str(list) {
            Ok(ids) => ids,
            Err(_) => {
                return answer(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "media_ids must be an array of ids",
                ))
            }
        },
    };
    if media_ids.len() > 4 {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Media attachments can't be more than 4",
        ));
    }
    for id in &media_ids {
        match inner.media.iter().find(|m| &m.id == id) {
            None => {
                return answer(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed: Media attachments are not valid",
                ))
            }
            Some(m) if m.status_id.is_some() => {
                return answer(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed: Media attachments are already attached",
                ))
            }
            Some(m) if m.polls_left > 0 => {
                return answer(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Cannot attach files that have not finished processing. Try again in a moment!",
                ))
            }
            Some(_) => {}
        }
    }
    let text = params.get("status").cloned().unwrap_or_default();
    if text.trim().is_empty() && media_ids.is_empty() {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        ));
    }
    if mastodon_length(&text) > inner.max_characters {
        let message = format!(
            "Validation failed: Text character limit of {} exceeded",
            inner.max_characters
        );
        return answer(error(StatusCode::UNPROCESSABLE_ENTITY, &message));
    }
    let visibility = params
        .get("visibility")
        .cloned()
        .unwrap_or_else(|| "public".into());
    if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Visibility is not included in the list",
        ));
    }
    let in_reply_to_id = params
        .get("in_reply_to_id")
        .cloned()
        .filter(|s| !s.is_empty());
    if let Some(parent) = &in_reply_to_id {
        if !inner.statuses.iter().any(|s| &s.id == parent && !s.deleted) {
            return answer(error(StatusCode::NOT_FOUND, "Record not found"));
        }
    }
    let status = FakeStatus {
        id: inner.next_id.to_string(),
        text,
        visibility,
        language: params.get("language").cloned().filter(|s| !s.is_empty()),
        in_reply_to_id,
        spoiler_text: params.get("spoiler_text").cloned().unwrap_or_default(),
        idempotency_key: key,
        deleted: false,
        media: Vec::new(),
    };
    let mut status = status;
    for id in &media_ids {
        if let Some(m) = inner.media.iter_mut().find(|m| &m.id == id) {
            m.status_id = Some(status.id.clone());
            status.media.push(m.clone());
        }
    }
    inner.next_id += 1;
    let json = status_json(&status, &base);
    inner.statuses.push(status);
    answer(Json(json).into_response())
}

fn media_json(media: &FakeMedia, base: &str) -> Value {
    let ready = media.polls_left == 0;
    json!({
        "id": media.id,
        "type": "image",
        "url": ready.then(|| format!("{base}/system/media_attachments/files/{}/original.png", media.id)),
        "preview_url": format!("{base}/system/media_attachments/files/{}/small.png", media.id),
        "remote_url": null,
        "text_url": null,
        "meta": {},
        "description": media.description,
        "blurhash": null,
    })
}

/// Mastodon's largest image (`image_size_limit`).
pub const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;

async fn upload_media(
    State(state): State<Arc<MastodonState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let base = inner.base_url.clone();
    let answer = |response: Response| with_rate_headers(response, remaining);
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let form = match crate::multipart::parse(declared, &body) {
        Ok(form) => form,
        Err(why) => return answer(error(StatusCode::UNPROCESSABLE_ENTITY, &why)),
    };
    let Some(file) = form.part("file") else {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File can't be blank",
        ));
    };
    let media_type = match crate::images::check_declared(file.content_type.as_deref(), &file.body) {
        Ok(t) => t,
        Err(why) => {
            return answer(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Validation failed: File content type is invalid ({why})"),
            ))
        }
    };
    if file.body.len() > MAX_IMAGE_BYTES {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File file size must be less than 16 MB",
        ));
    }
    let description = form.text("description");
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1500)
    {
        return answer(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Description is too long (maximum is 1500 characters)",
        ));
    }
    let media = FakeMedia {
        id: inner.next_id.to_string(),
        description,
        media_type: media_type.to_string(),
        filename: file.filename.clone(),
        bytes: file.body.clone(),
        polls_left: inner.processing_polls,
        status_id: None,
    };
    inner.next_id += 1;
    let code = if media.polls_left > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let json = media_json(&media, &base);
    inner.media.push(media);
    answer((code, Json(json)).into_response())
}

async fn get_media(
    State(state): State<Arc<MastodonState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let base = inner.base_url.clone();
    let Some(media) = inner.media.iter_mut().find(|m| m.id == id) else {
        return with_rate_headers(error(StatusCode::NOT_FOUND, "Record not found"), remaining);
    };
    if media.polls_left > 0 {
        media.polls_left -= 1;
        let json = media_json(media, &base);
        return with_rate_headers(
            (StatusCode::PARTIAL_CONTENT, Json(json)).into_response(),
            remaining,
        );
    }
    let json = media_json(media, &base);
    with_rate_headers(Json(json).into_response(), remaining)
}

async fn get_status(
    State(state): State<Arc<MastodonState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let response = match inner.statuses.iter().find(|s| s.id == id && !s.deleted) {
        Some(s) => Json(status_json(s, &inner.base_url)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    };
    with_rate_headers(response, remaining)
}

async fn delete_status(
    State(state): State<Arc<MastodonState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let base = inner.base_url.clone();
    let response = match inner.statuses.iter_mut().find(|s| s.id == id && !s.deleted) {
        Some(s) => {
            s.deleted = true;
            // Mastodon answers a delete with the status and its source `text`, for
            // "delete and redraft".
            let mut json = status_json(s, &base);
            set(&mut json, "text", json!(s.text));
            Json(json).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    };
    with_rate_headers(response, remaining)
}

/// A request's parameters from a JSON or a form body (arrays kept as JSON arrays).
fn body_params(headers: &HeaderMap, body: &Bytes) -> HashMap<String, Value> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return serde_json::from_slice::<HashMap<String, Value>>(body).unwrap_or_default();
    }
    let mut out: HashMap<String, Value> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        out.insert(k.trim_end_matches("[]").to_string(), json!(v));
    }
    out
}

async fn register_app(
    State(state): State<Arc<MastodonState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = body_params(&headers, &body);
    let name = params
        .get("client_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let redirect_uris: Vec<String> = match params.get("redirect_uris") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if name.is_empty() || redirect_uris.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "Validation failed: Name can't be blank, Redirect URI can't be blank"})),
        )
            .into_response();
    }
    let scopes = params
        .get("scopes")
        .and_then(Value::as_str)
        .unwrap_or("read")
        .to_string();
    let client = state.oauth.register(name, redirect_uris.clone(), &scopes);
    let website = params.get("website").cloned().unwrap_or(Value::Null);
    Json(json!({
        "id": client.id.trim_start_matches("fake-client-id-"),
        "name": name,
        "website": website,
        "scopes": scopes.split_whitespace().collect::<Vec<_>>(),
        "redirect_uri": redirect_uris.join("\n"),
        "redirect_uris": redirect_uris,
        "client_id": client.id,
        "client_secret": client.secret,
        "client_secret_expires_at": 0,
    }))
    .into_response()
}

async fn token(
    State(state): State<Arc<MastodonState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let response = state.oauth.token(&headers, &form);
    if response.status().is_success() {
        if let Some(token) = state.oauth.current_access_token() {
            state.lock().token = token;
        }
    }
    response
}

async fn verify_credentials(
    State(state): State<Arc<MastodonState>>,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(other) = presented.and_then(|t| state.oauth.identity_of(t)) {
        let base = state.lock().base_url.clone();
        let mut account = account_json(&base);
        set(&mut account, "id", json!(other.id));
        set(&mut account, "username", json!(other.username));
        set(&mut account, "acct", json!(other.username));
        return Json(account).into_response();
    }
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let mut account = account_json(&inner.base_url);
    set(
        &mut account,
        "statuses_count",
        json!(inner.statuses.iter().filter(|s| !s.deleted).count()),
    );
    let source = json!({
        "privacy": "public",
        "sensitive": false,
        "language": "en",
        "note": "",
        "fields": [],
    });
    set(&mut account, "source", source);
    with_rate_headers(Json(account).into_response(), remaining)
}

async fn account_statuses(
    State(state): State<Arc<MastodonState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    if id != ACCOUNT_ID {
        return with_rate_headers(error(StatusCode::NOT_FOUND, "Record not found"), remaining);
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 40);
    // `max_id`: only statuses older than that id (ids are increasing numbers).
    let older_than = query.get("max_id").and_then(|m| m.parse::<u64>().ok());
    let page: Vec<Value> = inner
        .statuses
        .iter()
        .rev()
        .filter(|s| !s.deleted)
        .filter(|s| older_than.is_none_or(|max| s.id.parse::<u64>().is_ok_and(|id| id < max)))
        .take(limit)
        .map(|s| status_json(s, &inner.base_url))
        .collect();
    with_rate_headers(Json(Value::Array(page)).into_response(), remaining)
}

async fn instance(State(state): State<Arc<MastodonState>>) -> Response {
    let inner = state.lock();
    let domain = inner
        .base_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string();
    Json(json!({
        "domain": domain,
        "title": "Fake Mastodon",
        "version": "4.3.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A fake Mastodon server for Tocsin's tests.",
        "usage": {"users": {"active_month": 1}},
        "thumbnail": {"url": format!("{}/packs/media/images/preview.png", inner.base_url)},
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": format!("ws://{domain}")},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": inner.max_characters,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {"image_size_limit": 16_777_216, "video_size_limit": 103_809_024},
            "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2_629_746},
            "translation": {"enabled": false},
        },
        "registrations": {"enabled": false, "approval_required": false, "message": null},
        "contact": {"email": "admin@example.invalid", "account": null},
        "rules": [],
    }))
    .into_response()
}
