//! A fake Threads API (under `/v1.0`): containers (`POST /{user}/threads`), publishing
//! (`POST /{user}/threads_publish`), `GET /{media}?fields=permalink`, `DELETE /{media}`,
//! and the profile's `threads` and `replies` listings.
//!
//! Form bodies, the user token in the Authorization header (or `access_token`), Graph
//! errors (`{"error": {...}}`): 190 for a bad token, 4 past the posting quota, 100/33 for
//! a missing object. A container is published at most once, and only once its status
//! (`GET /{container}?fields=status`) is `FINISHED` (9007 before: Meta's "not ready for
//! publishing"); [`FakeThreads::set_container_processing`] keeps new containers
//! `IN_PROGRESS` for some reads. Each call needs its scope, as Meta's documentation says
//! (`threads_content_publish` to post, `threads_delete` to delete,
//! `threads_read_replies` for the replies listing, `threads_basic` for the rest); a
//! missing one is refused with code 10.
//!
//! `GET /{user}/threads_publishing_limit` answers as Meta's overview shows:
//! `{"data": [{"quota_usage": N, "config": {"quota_total": 250, "quota_duration":
//! 86400}}]}`, with only the fields asked for (`quota_usage` alone when none are). It
//! needs `threads_basic` and `threads_content_publish` (and `threads_manage_replies`
//! for `reply_quota_usage` and `reply_config`); a field the node does not have is
//! refused with code 100, as the Graph API refuses a nonexisting field. A carousel
//! counts once; replies count against their own quota (1,000), which the fake reports
//! but does not enforce.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::facebook::{graph_error, set, set_next_page};
use crate::meta_graph;
use crate::oauth::{FakeClient, Flavor, OAuthProvider};
use crate::{FakeServer, FakeState};

/// The user token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-threads-user-access-token";
/// The profile's user id.
pub const USER_ID: &str = "27000000000000001";
/// The profile's user name.
pub const USERNAME: &str = "countyhealth";
/// The Threads app id registered with the fake (see [`FakeThreads::register_client`]).
pub const APP_ID: &str = "990602627938098";
/// That app's secret.
pub const APP_SECRET: &str = "fake-threads-app-secret-canary";
/// Posts a profile may publish through the API in 24 hours.
pub const QUOTA_TOTAL: u64 = 250;
/// Replies a profile may publish through the API in 24 hours.
pub const REPLY_QUOTA_TOTAL: u64 = 1000;

/// A container as the fake stored it, and the post it became once published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeThread {
    /// The container id.
    pub container_id: String,
    /// The media id once published.
    pub media_id: Option<String>,
    /// `media_type`.
    pub media_type: String,
    /// `text`.
    pub text: String,
    /// `reply_to_id`.
    pub reply_to_id: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// Times its status was read.
    pub status_reads: u32,
    /// Status reads left that answer `IN_PROGRESS`.
    processing: u32,
    /// Set: its status is `ERROR` with this message.
    error: Option<String>,
    /// An `IMAGE` container's (`image_url`, `alt_text`); a `CAROUSEL`'s, its items'.
    pub images: Vec<(String, Option<String>)>,
    /// Whether it is an item of a carousel (`is_carousel_item=true`).
    pub carousel_item: bool,
}

#[derive(Debug)]
struct Inner {
    token: String,
    threads: Vec<FakeThread>,
    next_id: u64,
    quota_used: u64,
    quota_total: u64,
    scopes: Vec<String>,
    processing: u32,
    container_error: Option<String>,
}

/// Every scope Tocsin asks Threads for.
pub const ALL_SCOPES: [&str; 4] = [
    "threads_basic",
    "threads_content_publish",
    "threads_delete",
    "threads_read_replies",
];

/// The fake's platform state.
#[derive(Debug)]
pub struct ThreadsState {
    inner: Mutex<Inner>,
    oauth: OAuthProvider,
    long_lived: Mutex<u64>,
}

impl ThreadsState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Threads API. Derefs to its [`FakeServer`].
pub struct FakeThreads {
    server: FakeServer,
    state: Arc<ThreadsState>,
}

impl Deref for FakeThreads {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeThreads {
    /// The API base URL, version included (`http://127.0.0.1:PORT/v1.0`).
    pub fn api_url(&self) -> String {
        format!("{}/v1.0", self.server.base_url)
    }

    /// Every container, published or not, oldest first.
    pub fn threads(&self) -> Vec<FakeThread> {
        self.state.lock().threads.clone()
    }

    /// Published, not deleted posts, oldest first.
    pub fn published(&self) -> Vec<FakeThread> {
        self.threads()
            .into_iter()
            .filter(|t| t.media_id.is_some() && !t.deleted)
            .collect()
    }

    /// Accepts only this token from now on (as after a revocation).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// The fake's OAuth authorisation server (the code exchange).
    pub fn oauth(&self) -> &OAuthProvider {
        &self.state.oauth
    }

    /// Registers the app [`APP_ID`] / [`APP_SECRET`] with this redirect URI.
    pub fn register_client(&self, redirect_uri: &str) {
        self.state.oauth.add_client(FakeClient {
            id: APP_ID.into(),
            secret: APP_SECRET.into(),
            redirect_uris: vec![redirect_uri.to_string()],
            scopes: ALL_SCOPES.join(" "),
            name: "Tocsin".into(),
        });
    }

    /// The token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// The scopes the accepted token was granted (all of [`ALL_SCOPES`] at start).
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.state.lock().scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// New containers answer `IN_PROGRESS` to this many status reads before `FINISHED`.
    pub fn set_container_processing(&self, reads: u32) {
        self.state.lock().processing = reads;
    }

    /// New containers end in status `ERROR` with this message.
    pub fn fail_containers(&self, message: &str) {
        self.state.lock().container_error = Some(message.to_string());
    }

    /// Posts (not replies) left before the quota ([`QUOTA_TOTAL`] a day on Threads)
    /// refuses a publish with code 4. More than [`QUOTA_TOTAL`] raises the quota (for
    /// benchmarks).
    pub fn set_quota_left(&self, left: u64) {
        let mut inner = self.state.lock();
        inner.quota_total = QUOTA_TOTAL.max(left);
        inner.quota_used = inner.quota_total - left;
    }

    /// Posts already published in the last 24 hours (of [`QUOTA_TOTAL`]).
    pub fn set_quota_used(&self, used: u64) {
        let mut inner = self.state.lock();
        inner.quota_total = QUOTA_TOTAL;
        inner.quota_used = used;
    }
}

/// Starts a fake Threads API on a loopback port, accepting [`TOKEN`] for [`USER_ID`].
pub async fn start() -> std::io::Result<FakeThreads> {
    let state = Arc::new(ThreadsState {
        inner: Mutex::new(Inner {
            token: TOKEN.to_string(),
            threads: Vec::new(),
            next_id: 18_000_000_000_000_001,
            quota_used: 0,
            quota_total: QUOTA_TOTAL,
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            processing: 0,
            container_error: None,
        }),
        oauth: OAuthProvider::new(Flavor::Threads),
        long_lived: Mutex::new(0),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    Ok(FakeThreads { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<ThreadsState>) -> Router {
    Router::new()
        .route("/v1.0/{id}", get(node).delete(remove))
        .route("/v1.0/{id}/{edge}", get(list).post(create))
        .route("/oauth/access_token", axum::routing::post(code_exchange))
        .route("/access_token", get(long_lived))
        .route("/refresh_access_token", get(refresh))
        .with_state(state)
}

fn permalink(media_id: &str) -> String {
    format!("https://www.threads.net/@{USERNAME}/post/{media_id}")
}

async fn node(
    State(state): State<Arc<ThreadsState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    if let Err(r) = meta_graph::needs(&inner.scopes, "threads_basic") {
        return *r;
    }
    if id == USER_ID || id == "me" {
        return Json(json!({"id": USER_ID, "username": USERNAME})).into_response();
    }
    let wants_status = query
        .get("fields")
        .is_some_and(|f| f.split(',').any(|f| f == "status"));
    if let Some(c) = inner
        .threads
        .iter_mut()
        .find(|t| t.container_id == id && wants_status)
    {
        c.status_reads += 1;
        let mut answer = json!({"id": id});
        let status = if let Some(message) = &c.error {
            set(&mut answer, "error_message", json!(message));
            "ERROR"
        } else if c.media_id.is_some() {
            "PUBLISHED"
        } else if c.processing > 0 {
            c.processing -= 1;
            "IN_PROGRESS"
        } else {
            "FINISHED"
        };
        set(&mut answer, "status", json!(status));
        return Json(answer).into_response();
    }
    let found = inner
        .threads
        .iter()
        .find(|t| t.media_id.as_deref() == Some(id.as_str()) && !t.deleted);
    match found {
        Some(t) => {
            Json(json!({"id": id, "text": t.text, "permalink": permalink(&id)})).into_response()
        }
        None => meta_graph::missing(),
    }
}

async fn remove(
    State(state): State<Arc<ThreadsState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    if let Err(r) = meta_graph::needs(&inner.scopes, "threads_delete") {
        return *r;
    }
    let found = inner
        .threads
        .iter_mut()
        .find(|t| t.media_id.as_deref() == Some(id.as_str()) && !t.deleted);
    match found {
        Some(t) => {
            t.deleted = true;
            Json(json!({"success": true, "deleted_id": id})).into_response()
        }
        None => meta_graph::missing(),
    }
}

/// Checks an `IMAGE` or `CAROUSEL` container: an image needs a public `image_url`
/// (Threads fetches it) and takes `alt_text` (at most 1,000 characters); a carousel
/// names 2 to 20 carousel items in `children`, each `FINISHED`. Gives the container's
/// images.
fn media_container(
    inner: &Inner,
    media_type: &str,
    form: &HashMap<String, String>,
    carousel_item: bool,
) -> Result<Vec<(String, Option<String>)>, String> {
    match media_type {
        "TEXT" if !carousel_item => Ok(Vec::new()),
        "IMAGE" => {
            let url = form.get("image_url").cloned().unwrap_or_default();
            let parsed = url::Url::parse(&url).ok();
            if !parsed.is_some_and(|u| u.scheme() == "https" && u.host_str().is_some()) {
                return Err("(#100) image_url must be a public https URL".into());
            }
            let alt = form.get("alt_text").cloned();
            if alt.as_ref().is_some_and(|a| a.chars().count() > 1000) {
                return Err("(#100) alt_text must be at most 1000 characters".into());
            }
            Ok(vec![(url, alt)])
        }
        "CAROUSEL" if !carousel_item => {
            let children: Vec<&str> = form
                .get("children")
                .map(|c| c.split(',').collect())
                .unwrap_or_default();
            if children.len() < 2 || children.len() > 20 {
                return Err("(#100) a carousel needs 2 to 20 children".into());
            }
            let mut images = Vec::new();
            for child in children {
                let item = inner
                    .threads
                    .iter()
                    .find(|t| t.container_id == child && t.carousel_item)
                    .ok_or(format!(
                        "(#100) child {child} is not a carousel item container"
                    ))?;
                // Meta: check each item container's status before the carousel; one
                // still in progress, or failed, is not ready.
                if item.processing > 0 || item.error.is_some() {
                    return Err(format!(
                        "(#9007) The media is not ready: carousel item {child} is not FINISHED"
                    ));
                }
                images.extend(item.images.iter().cloned());
            }
            Ok(images)
        }
        _ => Err(
            "(#100) The parameter media_type is required and must be TEXT, IMAGE or CAROUSEL"
                .into(),
        ),
    }
}

async fn create(
    State(state): State<Arc<ThreadsState>>,
    Path((id, edge)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    if id != USER_ID {
        return meta_graph::missing();
    }
    if let Err(r) = meta_graph::needs(&inner.scopes, "threads_content_publish") {
        return *r;
    }
    match edge.as_str() {
        "threads" => {
            let media_type = form.get("media_type").cloned().unwrap_or_default();
            let text = form.get("text").cloned().unwrap_or_default();
            let carousel_item = form.get("is_carousel_item").is_some_and(|v| v == "true");
            let images = match media_container(&inner, &media_type, &form, carousel_item) {
                Ok(images) => images,
                Err(why) => return graph_error(StatusCode::BAD_REQUEST, 100, None, &why),
            };
            if media_type == "TEXT" && text.is_empty() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "(#100) The parameter media_type is required and text is required for TEXT posts",
                );
            }
            let reply_to_id = form.get("reply_to_id").cloned();
            if let Some(parent) = &reply_to_id {
                let exists = inner
                    .threads
                    .iter()
                    .any(|t| t.media_id.as_ref() == Some(parent) && !t.deleted);
                if !exists {
                    return meta_graph::missing();
                }
            }
            let container_id = inner.next_id.to_string();
            inner.next_id += 1;
            let (processing, error) = (inner.processing, inner.container_error.clone());
            inner.threads.push(FakeThread {
                container_id: container_id.clone(),
                media_id: None,
                media_type,
                text,
                reply_to_id,
                deleted: false,
                status_reads: 0,
                processing,
                error,
                images,
                carousel_item,
            });
            Json(json!({ "id": container_id })).into_response()
        }
        "threads_publish" => {
            let creation_id = form.get("creation_id").cloned().unwrap_or_default();
            let (next, spent) = (inner.next_id, inner.quota_used >= inner.quota_total);
            let Some(container) = inner
                .threads
                .iter_mut()
                .find(|t| t.container_id == creation_id)
            else {
                return meta_graph::missing();
            };
            // Replies have a quota of their own (not enforced here), as Meta documents.
            let post = container.reply_to_id.is_none();
            if post && spent {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    4,
                    Some(2_207_051),
                    "Application request limit reached",
                );
            }
            if container.media_id.is_some() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    24,
                    Some(4_279_009),
                    "The media has already been published",
                );
            }
            if container.processing > 0 || container.error.is_some() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    9007,
                    Some(2_207_027),
                    "Media ID is not available: the media is not ready for publishing, please wait for a moment",
                );
            }
            let media_id = next.to_string();
            container.media_id = Some(media_id.clone());
            inner.next_id += 1;
            if post {
                inner.quota_used += 1;
            }
            Json(json!({ "id": media_id })).into_response()
        }
        _ => meta_graph::missing(),
    }
}

async fn list(
    State(state): State<Arc<ThreadsState>>,
    Path((id, edge)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    if id != USER_ID {
        return meta_graph::missing();
    }
    let replies = match edge.as_str() {
        "threads" => false,
        "replies" => true,
        "threads_publishing_limit" => return publishing_limit(&inner, &query),
        _ => return meta_graph::missing(),
    };
    let scope = if replies {
        "threads_read_replies"
    } else {
        "threads_basic"
    };
    if let Err(r) = meta_graph::needs(&inner.scopes, scope) {
        return *r;
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(100);
    let wanted: Vec<&FakeThread> = inner
        .threads
        .iter()
        .rev()
        .filter(|t| t.media_id.is_some() && !t.deleted && t.reply_to_id.is_some() == replies)
        .collect();
    let data: Vec<Value> = wanted
        .iter()
        .take(limit)
        .map(|t| {
            let media_id = t.media_id.clone().unwrap_or_default();
            let mut v = json!({"id": media_id, "text": t.text, "permalink": permalink(&media_id), "media_type": "TEXT_POST"});
            if let Some(parent) = &t.reply_to_id {
                set(&mut v, "replied_to", json!({ "id": parent }));
            }
            v
        })
        .collect();
    let mut body =
        json!({"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}});
    if wanted.len() > limit {
        set_next_page(&mut body, "https://graph.threads.net/v1.0/next-page");
    }
    Json(body).into_response()
}

/// `GET /{user}/threads_publishing_limit?fields=...`: the profile's quota, with only
/// the fields asked for; an unknown field or a missing permission is refused.
fn publishing_limit(inner: &Inner, query: &HashMap<String, String>) -> Response {
    for scope in ["threads_basic", "threads_content_publish"] {
        if let Err(r) = meta_graph::needs(&inner.scopes, scope) {
            return *r;
        }
    }
    let asked = query
        .get("fields")
        .map(String::as_str)
        .unwrap_or("quota_usage");
    let config = |total: u64| json!({"quota_total": total, "quota_duration": 86_400});
    let mut entry = json!({});
    for field in asked.split(',') {
        let value = match field {
            "quota_usage" => json!(inner.quota_used),
            "config" => config(inner.quota_total),
            "reply_quota_usage" | "reply_config" => {
                if let Err(r) = meta_graph::needs(&inner.scopes, "threads_manage_replies") {
                    return *r;
                }
                let replies = inner
                    .threads
                    .iter()
                    .filter(|t| t.media_id.is_some() && t.reply_to_id.is_some())
                    .count();
                if field == "reply_config" {
                    config(REPLY_QUOTA_TOTAL)
                } else {
                    json!(replies)
                }
            }
            other => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    &format!(
                        "(#100) Tried accessing nonexisting field ({other}) on node type (ThreadsPublishingLimit)"
                    ),
                )
            }
        };
        set(&mut entry, field, value);
    }
    Json(json!({ "data": [entry] })).into_response()
}

/// `POST /oauth/access_token`: the code for a one-hour token and the user id.
async fn code_exchange(
    State(state): State<Arc<ThreadsState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.oauth.token(&headers, &form)
}

/// A new 60-day token, accepted by the API from now on.
fn long_token(state: &ThreadsState) -> Response {
    let (token, answer) = meta_graph::long_token(&state.long_lived, "fake-threads-long");
    state.lock().token = token;
    answer
}

/// `GET /access_token?grant_type=th_exchange_token&client_secret&access_token`: a short-lived
/// token the fake issued for a long-lived one.
async fn long_lived(
    State(state): State<Arc<ThreadsState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !meta_graph::exchange_allowed(
        &query,
        "th_exchange_token",
        APP_SECRET,
        state.oauth.current_access_token().as_ref(),
    ) {
        return meta_graph::bad_token(StatusCode::BAD_REQUEST);
    }
    long_token(&state)
}

/// `GET /refresh_access_token?grant_type=th_refresh_token&access_token`: the current
/// long-lived token for a new one.
async fn refresh(
    State(state): State<Arc<ThreadsState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let current = state.lock().token.clone();
    if !meta_graph::refresh_allowed(&query, "th_refresh_token", &current) {
        return meta_graph::bad_token(StatusCode::BAD_REQUEST);
    }
    long_token(&state)
}
