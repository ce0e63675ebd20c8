//! A fake X API v2: `POST /2/tweets`, `DELETE /2/tweets/:id`, `GET /2/users/me` and
//! `GET /2/users/:id/tweets`, with X's problem-details errors and `x-rate-limit-*`
//! headers (reset as epoch seconds). It refuses a duplicate text with 403 and a text
//! over 280 weighted characters (twitter-text: CJK and emoji weigh 2, links 23) as X
//! does, checks the bearer token, and shows texts the way X does (`&amp;`, links as
//! `t.co` links).
//!
//! Each call needs the OAuth 2.0 scopes X's API reference lists for it (`POST /2/tweets`
//! and `DELETE /2/tweets/:id`: `tweet.read tweet.write users.read`; `GET /2/users/me` and
//! `GET /2/users/:id/tweets`: `tweet.read users.read`); a token without them gets X's
//! 403 `Forbidden` problem, as the real API answers.
//!
//! Media as X API v2 takes them: `POST /2/media/upload` is multipart with a `media`
//! file (an image whose content matches its declared type, at most 5 MB) and
//! `media_category` `tweet_image`, and needs the `media.write` scope; `POST
//! /2/media/metadata` sets `metadata.alt_text.text` (at most 1,000 characters) on an
//! upload of this user's; a post's `media.media_ids` (1 to 4) must name uploads of this
//! user's.
//!
//! It also serves X's OAuth 2 token endpoint (`POST /2/oauth2/token`: authorization code
//! with PKCE, rotating refresh tokens, confidential clients with HTTP Basic) through
//! [`crate::oauth::OAuthProvider`]; a token it issues becomes the one the API accepts, with
//! the scopes the authorize URL asked for, and `GET /2/users/me` answers for whoever the
//! token was issued to.

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::facebook::set;
use crate::oauth::{FakeClient, Flavor, OAuthProvider};
use crate::{FakeServer, FakeState};

/// The OAuth 2 user token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-x-oauth2-user-token";
/// The account's user id.
pub const USER_ID: &str = "1500000000000000001";
/// The account's user name.
pub const USERNAME: &str = "CountyHealth";
/// The OAuth 2 client id registered with the fake (see [`FakeX::register_client`]).
pub const CLIENT_ID: &str = "fake-x-client-id";
/// That client's secret.
pub const CLIENT_SECRET: &str = "fake-x-client-secret-canary";
/// The scopes Tocsin asks X for; the token the fake accepts at start has all of them.
pub const ALL_SCOPES: [&str; 4] = ["tweet.read", "tweet.write", "users.read", "offline.access"];
/// What posting and deleting need (X API reference, "Authorization" of each endpoint).
pub const WRITE_SCOPES: [&str; 3] = ["tweet.read", "tweet.write", "users.read"];
/// What media upload and metadata need.
pub const MEDIA_SCOPES: [&str; 1] = ["media.write"];
/// Largest image upload.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// What reading the account and its timeline needs.
pub const READ_SCOPES: [&str; 2] = ["tweet.read", "users.read"];
/// Requests per window reported in `x-rate-limit-limit`.
pub const RATE_LIMIT: u64 = 100;

/// One post as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTweet {
    /// Its id.
    pub id: String,
    /// The submitted text.
    pub text: String,
    /// `reply.in_reply_to_tweet_id`.
    pub in_reply_to: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// The media it names, in `media.media_ids` order.
    pub media: Vec<FakeXMedia>,
}

/// One media upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeXMedia {
    /// Its id.
    pub id: String,
    /// `media_category` as sent.
    pub category: String,
    /// The type read from the content.
    pub media_type: String,
    /// The bytes as received.
    pub bytes: axum::body::Bytes,
    /// The alt text `POST /2/media/metadata` set.
    pub alt_text: Option<String>,
}

#[derive(Debug)]
struct Inner {
    token: String,
    /// The scopes the accepted token was granted.
    scopes: Vec<String>,
    tweets: Vec<FakeTweet>,
    duplicates_allowed: bool,
    next_id: u64,
    remaining: u64,
    /// Posts a user may make in 24 hours (`None`: no cap), and made so far.
    daily_cap: Option<u64>,
    posted: u64,
    media: Vec<FakeXMedia>,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct XState {
    inner: Mutex<Inner>,
    oauth: OAuthProvider,
}

impl XState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake X API. Derefs to its [`FakeServer`].
pub struct FakeX {
    server: FakeServer,
    state: Arc<XState>,
}

impl Deref for FakeX {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeX {
    /// Every media upload, oldest first.
    pub fn media(&self) -> Vec<FakeXMedia> {
        self.state.lock().media.clone()
    }

    /// Every post received, deleted ones included, oldest first.
    pub fn tweets(&self) -> Vec<FakeTweet> {
        self.state.lock().tweets.clone()
    }

    /// Accepts a text this account already posted (the real platform refuses it): for
    /// benchmarks where one fake server stands for many accounts sending the same message.
    pub fn allow_duplicates(&self) {
        self.state.lock().duplicates_allowed = true;
    }

    /// The scopes the accepted token was granted (all of [`ALL_SCOPES`] at start; a
    /// token from the fake's token endpoint has those its authorize URL asked for).
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.state.lock().scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// Accepts only this token from now on (as after a revocation).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// The per-user 24-hour post cap: past `posts`, creating a post answers 429 with
    /// `x-user-limit-24hour-remaining: 0` and `x-user-limit-24hour-reset` six hours
    /// ahead, as X does at the cap (the 15-minute window may still have room).
    pub fn set_daily_cap(&self, posts: u64) {
        self.state.lock().daily_cap = Some(posts);
    }

    /// Requests left in the window; at 0 every call answers 429.
    pub fn set_rate_limit_remaining(&self, remaining: u64) {
        self.state.lock().remaining = remaining;
    }

    /// The fake's OAuth 2 authorisation server.
    pub fn oauth(&self) -> &OAuthProvider {
        &self.state.oauth
    }

    /// Registers the confidential client [`CLIENT_ID`] / [`CLIENT_SECRET`] with this
    /// callback URL (as an X developer would in the developer portal).
    pub fn register_client(&self, redirect_uri: &str) {
        self.state.oauth.add_client(FakeClient {
            id: CLIENT_ID.into(),
            secret: CLIENT_SECRET.into(),
            redirect_uris: vec![redirect_uri.to_string()],
            scopes: "tweet.read tweet.write users.read offline.access".into(),
            name: "Tocsin".into(),
        });
    }

    /// The token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }
}

/// Starts a fake X API on a loopback port, accepting [`TOKEN`].
pub async fn start() -> std::io::Result<FakeX> {
    let state = Arc::new(XState {
        inner: Mutex::new(Inner {
            token: TOKEN.to_string(),
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            tweets: Vec::new(),
            next_id: 1_800_000_000_000_000_001,
            duplicates_allowed: false,
            remaining: RATE_LIMIT,
            daily_cap: None,
            posted: 0,
            media: Vec::new(),
        }),
        oauth: OAuthProvider::new(Flavor::X),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    Ok(FakeX { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<XState>) -> Router {
    Router::new()
        .route("/2/tweets", post(create))
        .route("/2/media/upload", post(upload_media))
        .route("/2/media/metadata", post(media_metadata))
        .route("/2/tweets/{id}", delete(remove))
        .route("/2/users/me", get(me))
        .route("/2/users/{id}/tweets", get(timeline))
        .route("/2/oauth2/token", post(token))
        .route("/i/oauth2/authorize", get(consent))
        .with_state(state)
}

/// The reset time of the fake's 15-minute window, as epoch seconds.
pub fn window_reset() -> i64 {
    chrono::Utc::now().timestamp() + 15 * 60
}

fn problem(code: StatusCode, title: &str, detail: &str) -> Response {
    let body =
        json!({"title": title, "detail": detail, "type": "about:blank", "status": code.as_u16()});
    (code, Json(body)).into_response()
}

fn with_rate_headers(mut response: Response, remaining: u64) -> Response {
    for (name, value) in [
        ("x-rate-limit-limit", RATE_LIMIT.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", window_reset().to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Admits a call with the accepted token holding every scope in `needs`: a wrong token
/// is 401; a token without a scope the endpoint needs is 403 `Forbidden` (X's problem
/// body names no scope), before the rate limit counts it.
fn admit(inner: &mut Inner, headers: &HeaderMap, needs: &[&str]) -> Result<u64, Box<Response>> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(inner.token.as_str()) {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        )));
    }
    if !needs.iter().all(|n| inner.scopes.iter().any(|s| s == n)) {
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Forbidden",
        )));
    }
    if inner.remaining == 0 {
        let refused = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Too Many Requests",
        );
        return Err(Box::new(with_rate_headers(refused, 0)));
    }
    inner.remaining -= 1;
    Ok(inner.remaining)
}

/// The text as X's API shows it: `&`, `<`, `>` as entities, links as `t.co` links.
pub fn shown_text(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.starts_with("https://") || word.starts_with("http://") {
                format!("https://t.co/{:010x}", word.len())
            } else {
                word.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn create(
    State(state): State<Arc<XState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &WRITE_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let answer = |r: Response| with_rate_headers(r, remaining);
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return answer(problem(
            StatusCode::BAD_REQUEST,
            "Invalid Request",
            "One or more parameters to your request was invalid.",
        ));
    };
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if text.is_empty() || tocsin_domain::counting::twitter_weighted_length(&text) > 280 {
        return answer(problem(
            StatusCode::BAD_REQUEST,
            "Invalid Request",
            "One or more parameters to your request was invalid.",
        ));
    }
    if !inner.duplicates_allowed && inner.tweets.iter().any(|t| !t.deleted && t.text == text) {
        return answer(problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You are not allowed to create a Tweet with duplicate content.",
        ));
    }
    let in_reply_to = params
        .pointer("/reply/in_reply_to_tweet_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(parent) = &in_reply_to {
        if !inner.tweets.iter().any(|t| &t.id == parent && !t.deleted) {
            return answer(problem(
                StatusCode::BAD_REQUEST,
                "Invalid Request",
                "The Tweet you are replying to has been deleted or is not visible to you.",
            ));
        }
    }
    let mut media = Vec::new();
    if let Some(ids) = params.pointer("/media/media_ids") {
        let ids: Vec<&str> = ids
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if ids.is_empty() || ids.len() > 4 {
            return answer(problem(
                StatusCode::BAD_REQUEST,
                "Invalid Request",
                "media.media_ids must hold 1 to 4 media ids.",
            ));
        }
        for id in ids {
            match inner.media.iter().find(|m| m.id == id) {
                Some(m) => media.push(m.clone()),
                None => {
                    return answer(problem(
                        StatusCode::BAD_REQUEST,
                        "Invalid Request",
                        &format!("Your media IDs are invalid: {id}"),
                    ))
                }
            }
        }
    }
    if let Some(cap) = inner.daily_cap {
        if inner.posted >= cap {
            let mut refused = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Too Many Requests",
            );
            let reset = chrono::Utc::now().timestamp() + 6 * 3600;
            for (name, value) in [
                ("x-user-limit-24hour-limit", cap.to_string()),
                ("x-user-limit-24hour-remaining", "0".to_string()),
                ("x-user-limit-24hour-reset", reset.to_string()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    refused.headers_mut().insert(name, v);
                }
            }
            return answer(refused);
        }
    }
    inner.posted += 1;
    let id = inner.next_id.to_string();
    inner.next_id += 1;
    let shown = shown_text(&text);
    inner.tweets.push(FakeTweet {
        id: id.clone(),
        text,
        in_reply_to,
        deleted: false,
        media,
    });
    answer(
        (
            StatusCode::CREATED,
            Json(json!({"data": {"id": id, "text": shown, "edit_history_tweet_ids": [id]}})),
        )
            .into_response(),
    )
}

async fn upload_media(
    State(state): State<Arc<XState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &MEDIA_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let answer = |r: Response| with_rate_headers(r, remaining);
    let invalid = |detail: &str| problem(StatusCode::BAD_REQUEST, "Invalid Request", detail);
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let form = match crate::multipart::parse(declared, &body) {
        Ok(form) => form,
        Err(why) => return answer(invalid(&why)),
    };
    let Some(file) = form.part("media") else {
        return answer(invalid("The `media` field is required."));
    };
    let category = form.text("media_category").unwrap_or_default();
    if category != "tweet_image" {
        return answer(invalid(
            "media_category must be tweet_image for an image in a post.",
        ));
    }
    let media_type = match crate::images::check_declared(file.content_type.as_deref(), &file.body) {
        Ok(t) => t,
        Err(why) => return answer(invalid(&why)),
    };
    if form.text("media_type").is_some_and(|t| t != media_type) {
        return answer(invalid("media_type does not match the file."));
    }
    if file.body.len() > MAX_IMAGE_BYTES {
        return answer(invalid("Images must be 5 MB or smaller."));
    }
    let id = inner.next_id.to_string();
    inner.next_id += 1;
    inner.media.push(FakeXMedia {
        id: id.clone(),
        category,
        media_type: media_type.to_string(),
        bytes: file.body.clone(),
        alt_text: None,
    });
    answer(
        Json(json!({"data": {
            "id": id,
            "media_key": format!("3_{id}"),
            "size": file.body.len(),
            "expires_after_secs": 86400,
            "image": {"image_type": media_type},
        }}))
        .into_response(),
    )
}

async fn media_metadata(
    State(state): State<Arc<XState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &MEDIA_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let answer = |r: Response| with_rate_headers(r, remaining);
    let invalid = |detail: &str| problem(StatusCode::BAD_REQUEST, "Invalid Request", detail);
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return answer(invalid("The body must be JSON."));
    };
    let id = params.get("id").and_then(Value::as_str).unwrap_or_default();
    let Some(text) = params
        .pointer("/metadata/alt_text/text")
        .and_then(Value::as_str)
    else {
        return answer(invalid("metadata.alt_text.text is required."));
    };
    if text.chars().count() > 1000 {
        return answer(invalid("Alt text must be 1000 characters or fewer."));
    }
    let Some(media) = inner.media.iter_mut().find(|m| m.id == id) else {
        return answer(invalid("The media id is not one of this user's uploads."));
    };
    media.alt_text = Some(text.to_string());
    answer(
        Json(json!({"data": {"id": id, "associated_metadata": {"alt_text": {"text": text}}}}))
            .into_response(),
    )
}

async fn remove(
    State(state): State<Arc<XState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &WRITE_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let response = match inner.tweets.iter_mut().find(|t| t.id == id && !t.deleted) {
        Some(t) => {
            t.deleted = true;
            Json(json!({"data": {"deleted": true}})).into_response()
        }
        None => problem(
            StatusCode::NOT_FOUND,
            "Not Found Error",
            "Could not find tweet.",
        ),
    };
    with_rate_headers(response, remaining)
}

/// The consent page, for browser tests: the user consents at once and is sent back to
/// the client's redirect URI with a code and the state (or gets a 400 saying why not).
async fn consent(State(state): State<Arc<XState>>, uri: axum::http::Uri) -> Response {
    let url = format!("http://x.invalid{uri}");
    match state.oauth.authorize(&url) {
        Ok(auth) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", &auth.state)
                .append_pair("code", &auth.code)
                .finish();
            let target = format!("{}?{query}", auth.redirect_uri);
            match HeaderValue::from_str(&target) {
                Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
                Err(_) => (StatusCode::BAD_REQUEST, "bad redirect").into_response(),
            }
        }
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

async fn token(
    State(state): State<Arc<XState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let response = state.oauth.token(&headers, &form);
    if response.status().is_success() {
        if let Some(token) = state.oauth.current_access_token() {
            let scopes = state.oauth.current_scopes().unwrap_or_default();
            let mut inner = state.lock();
            inner.token = token;
            inner.scopes = scopes.split_whitespace().map(str::to_string).collect();
        }
    }
    response
}

async fn me(State(state): State<Arc<XState>>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(other) = presented.and_then(|t| state.oauth.identity_of(t)) {
        let body = json!({"data": {"id": other.id, "name": "Someone else (fake)", "username": other.username}});
        return Json(body).into_response();
    }
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &READ_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let body =
        json!({"data": {"id": USER_ID, "name": "County Health (fake)", "username": USERNAME}});
    with_rate_headers(Json(body).into_response(), remaining)
}

async fn timeline(
    State(state): State<Arc<XState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    let remaining = match admit(&mut inner, &headers, &READ_SCOPES) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    if id != USER_ID {
        let refused = problem(
            StatusCode::NOT_FOUND,
            "Not Found Error",
            "Could not find user.",
        );
        return with_rate_headers(refused, remaining);
    }
    let live: Vec<&FakeTweet> = inner.tweets.iter().rev().filter(|t| !t.deleted).collect();
    let page: Vec<Value> = live
        .iter()
        .take(100)
        .map(|t| {
            let mut v =
                json!({"id": t.id, "text": shown_text(&t.text), "edit_history_tweet_ids": [t.id]});
            if let Some(parent) = &t.in_reply_to {
                set(
                    &mut v,
                    "referenced_tweets",
                    json!([{"type": "replied_to", "id": parent}]),
                );
            }
            v
        })
        .collect();
    let mut meta = json!({"result_count": page.len()});
    if live.len() > 100 {
        set(
            &mut meta,
            "next_token",
            json!("7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"),
        );
    }
    let body = if page.is_empty() {
        json!({"meta": meta})
    } else {
        json!({"data": page, "meta": meta})
    };
    with_rate_headers(Json(body).into_response(), remaining)
}
