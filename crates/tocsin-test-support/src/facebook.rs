//! A fake Facebook Graph API for one Page: `POST /{v}/{page}/feed`, `POST /{v}/{id}/comments`,
//! `DELETE /{v}/{id}`, `GET /{v}/{page}/posts`, `GET /{v}/{id}/comments`, `GET /{v}/{page}`.
//!
//! It takes form bodies, checks the Page token (Authorization header or `access_token`),
//! and answers failures as Graph errors (`{"error": {"message", "type", "code", ...}}`):
//! 190 for a bad token, 506 for a duplicate post, 32 with `X-Business-Use-Case-Usage`
//! when throttled, 100/33 for a missing object and for a comment on a reply (replies
//! are one level deep).
//!
//! Photos as the Graph API takes them: `POST /{v}/{page}/photos` is multipart with a
//! `source` file (an image whose content matches its type, at most 10 MB), a `message`
//! caption and `alt_text_custom`; published, it makes a Page post (`{id, post_id}`);
//! with `published=false` it only stores the photo (`{id}`), which a `/feed` post then
//! names in `attached_media[n]` = `{"media_fbid": id}` (each once, this Page's).
//! Deleting an unpublished photo is allowed.
//!
//! For Facebook Login it also answers `GET /{v}/oauth/access_token` (the code for a
//! short-lived user token, then `grant_type=fb_exchange_token` for a long-lived one) and
//! `GET /{v}/me/accounts` (the Pages the user manages, each with its own Page token, which
//! becomes the token the API accepts); [`FakeFacebook::authorize`] is the consent page.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The Page access token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-facebook-page-access-token";
/// The Page's id.
pub const PAGE_ID: &str = "104000000000001";
/// The Meta app id registered with the fake (see [`FakeFacebook::register_client`]).
pub const APP_ID: &str = "1234567890123456";
/// That app's secret.
pub const APP_SECRET: &str = "fake-facebook-app-secret-canary";

/// A post or comment as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFacebookPost {
    /// Its id (`{page}_{n}` for a post, digits for a comment).
    pub id: String,
    /// `message`.
    pub message: String,
    /// `link`, if sent.
    pub link: Option<String>,
    /// The post a comment is on (`None` for a Page post).
    pub parent: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// Its photos, in order.
    pub photos: Vec<FakePhoto>,
}

/// One photo uploaded to the Page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePhoto {
    /// Its id.
    pub id: String,
    /// The bytes as received.
    pub bytes: axum::body::Bytes,
    /// `alt_text_custom`.
    pub alt_text: Option<String>,
    /// Whether it was published with a post of its own.
    pub published: bool,
    /// The post it belongs to.
    pub post_id: Option<String>,
    /// Whether it was deleted since.
    pub deleted: bool,
}

#[derive(Debug)]
struct Inner {
    photos: Vec<FakePhoto>,
    token: String,
    posts: Vec<FakeFacebookPost>,
    duplicates_allowed: bool,
    next_id: u64,
    throttled_minutes: Option<u64>,
    login: Login,
}

/// Facebook Login's state: the app's redirect URI, codes and user tokens issued.
#[derive(Debug, Default)]
struct Login {
    redirect_uri: Option<String>,
    codes: HashMap<String, String>,
    short: Option<String>,
    long: Option<String>,
    manages_page: bool,
    issued: u64,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct FacebookState {
    inner: Mutex<Inner>,
}

impl FacebookState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Graph API. Derefs to its [`FakeServer`].
pub struct FakeFacebook {
    server: FakeServer,
    state: Arc<FacebookState>,
}

impl Deref for FakeFacebook {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeFacebook {
    /// Every photo uploaded, oldest first.
    pub fn photos(&self) -> Vec<FakePhoto> {
        self.state.lock().photos.clone()
    }

    /// Every post and comment, deleted ones included, oldest first.
    pub fn posts(&self) -> Vec<FakeFacebookPost> {
        self.state.lock().posts.clone()
    }

    /// Accepts a text this account already posted (the real platform refuses it): for
    /// benchmarks where one fake server stands for many accounts sending the same message.
    pub fn allow_duplicates(&self) {
        self.state.lock().duplicates_allowed = true;
    }

    /// Accepts only this token from now on (as after a revocation).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// Registers the app [`APP_ID`] / [`APP_SECRET`] with this redirect URI.
    pub fn register_client(&self, redirect_uri: &str) {
        let mut inner = self.state.lock();
        inner.login.redirect_uri = Some(redirect_uri.to_string());
        inner.login.manages_page = true;
    }

    /// Whether the user who consents manages [`PAGE_ID`] (else `/me/accounts` lists
    /// another Page only).
    pub fn set_manages_page(&self, manages: bool) {
        self.state.lock().login.manages_page = manages;
    }

    /// The consent page: checks the authorize URL (app, redirect URI, state, scopes) and
    /// answers `(code, state)`.
    pub fn authorize(&self, authorize_url: &str) -> Result<(String, String), String> {
        let query = authorize_url
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let mut inner = self.state.lock();
        if get("client_id") != APP_ID || get("response_type") != "code" {
            return Err("unknown app or response_type".into());
        }
        if inner.login.redirect_uri.as_deref() != Some(get("redirect_uri").as_str()) {
            return Err("redirect_uri is not a valid OAuth redirect URI of the app".into());
        }
        if get("state").len() < 16 || !get("scope").split(',').any(|s| s == "pages_manage_posts") {
            return Err("state or scope missing".into());
        }
        inner.login.issued += 1;
        let code = format!("fake-facebook-code-{}", inner.login.issued);
        let redirect = get("redirect_uri");
        inner.login.codes.insert(code.clone(), redirect);
        Ok((code, get("state")))
    }

    /// The Page token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// Answers every call with error 32 and this many minutes to regain access
    /// (`None` lifts it).
    pub fn set_throttled(&self, minutes: Option<u64>) {
        self.state.lock().throttled_minutes = minutes;
    }
}

/// Starts a fake Graph API on a loopback port, accepting [`TOKEN`] for [`PAGE_ID`].
pub async fn start() -> std::io::Result<FakeFacebook> {
    let state = Arc::new(FacebookState {
        inner: Mutex::new(Inner {
            photos: Vec::new(),
            token: TOKEN.to_string(),
            posts: Vec::new(),
            next_id: 900_000_000_001,
            duplicates_allowed: false,
            throttled_minutes: None,
            login: Login::default(),
        }),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    Ok(FakeFacebook { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<FacebookState>) -> Router {
    Router::new()
        .route("/{version}/{id}", get(node).delete(remove))
        .route("/{version}/{id}/photos", axum::routing::post(photos))
        .route("/{version}/{id}/{edge}", get(list).post(create))
        .with_state(state)
}

/// Sets `key` on a JSON object (a no-op on anything else).
pub(crate) fn set(value: &mut Value, key: &str, field: Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert(key.to_string(), field);
    }
}

/// Sets `paging.next` on a listing, so the client knows more pages exist.
pub(crate) fn set_next_page(body: &mut Value, next: &str) {
    if let Some(paging) = body.get_mut("paging") {
        set(paging, "next", json!(next));
    }
}

/// A Graph error answer.
pub fn graph_error(status: StatusCode, code: u32, subcode: Option<u32>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjK"});
    if let Some(sub) = subcode {
        set(&mut error, "error_subcode", json!(sub));
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn admit(
    inner: &Inner,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Box<Response>> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .or(query.get("access_token").map(String::as_str));
    if presented != Some(inner.token.as_str()) {
        return Err(Box::new(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
        )));
    }
    if let Some(minutes) = inner.throttled_minutes {
        let mut refused = graph_error(
            StatusCode::BAD_REQUEST,
            32,
            None,
            "(#32) Page request limit reached",
        );
        let usage = json!({ PAGE_ID: [{"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 14, "estimated_time_to_regain_access": minutes}] });
        if let Ok(v) = HeaderValue::from_str(&usage.to_string()) {
            refused.headers_mut().insert("x-business-use-case-usage", v);
        }
        return Err(Box::new(refused));
    }
    Ok(())
}

async fn node(
    State(state): State<Arc<FacebookState>>,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = admit(&inner, &headers, &query) {
        return *r;
    }
    if id == PAGE_ID {
        return Json(json!({"id": PAGE_ID, "name": "County Health (fake)"})).into_response();
    }
    match inner.posts.iter().find(|p| p.id == id && !p.deleted) {
        Some(p) => Json(json!({"id": p.id, "message": p.message})).into_response(),
        None => crate::meta_graph::missing(),
    }
}

async fn remove(
    State(state): State<Arc<FacebookState>>,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers, &query) {
        return *r;
    }
    if let Some(photo) = inner.photos.iter_mut().find(|p| p.id == id && !p.deleted) {
        photo.deleted = true;
        return Json(json!({"success": true})).into_response();
    }
    match inner.posts.iter_mut().find(|p| p.id == id && !p.deleted) {
        Some(p) => {
            p.deleted = true;
            Json(json!({"success": true})).into_response()
        }
        None => crate::meta_graph::missing(),
    }
}

/// The largest photo upload.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

async fn photos(
    State(state): State<Arc<FacebookState>>,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers, &query) {
        return *r;
    }
    if id != PAGE_ID {
        return crate::meta_graph::missing();
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let form = match crate::multipart::parse(declared, &body) {
        Ok(form) => form,
        Err(why) => {
            return graph_error(StatusCode::BAD_REQUEST, 100, None, &format!("(#100) {why}"))
        }
    };
    let Some(source) = form.part("source").filter(|p| p.filename.is_some()) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            324,
            None,
            "(#324) Requires upload file",
        );
    };
    if let Err(why) = crate::images::check_declared(source.content_type.as_deref(), &source.body) {
        return graph_error(StatusCode::BAD_REQUEST, 324, None, &format!("(#324) {why}"));
    }
    if source.body.len() > MAX_PHOTO_BYTES {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "(#100) The photo is too large",
        );
    }
    let published = form.text("published").is_none_or(|p| p != "false");
    let n = inner.next_id;
    inner.next_id += 1;
    let mut photo = FakePhoto {
        id: n.to_string(),
        bytes: source.body.clone(),
        alt_text: form.text("alt_text_custom"),
        published,
        post_id: None,
        deleted: false,
    };
    if !published {
        inner.photos.push(photo);
        return Json(json!({ "id": n.to_string() })).into_response();
    }
    let post_id = format!("{PAGE_ID}_{}", inner.next_id);
    inner.next_id += 1;
    photo.post_id = Some(post_id.clone());
    inner.photos.push(photo.clone());
    inner.posts.push(FakeFacebookPost {
        id: post_id.clone(),
        message: form.text("message").unwrap_or_default(),
        link: None,
        parent: None,
        deleted: false,
        photos: vec![photo],
    });
    Json(json!({ "id": n.to_string(), "post_id": post_id })).into_response()
}

async fn create(
    State(state): State<Arc<FacebookState>>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers, &query) {
        return *r;
    }
    let message = form.get("message").cloned().unwrap_or_default();
    let mut attached = Vec::new();
    for i in 0.. {
        let Some(entry) = form.get(&format!("attached_media[{i}]")) else {
            break;
        };
        let fbid = serde_json::from_str::<Value>(entry).ok().and_then(|v| {
            v.get("media_fbid")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        let usable = fbid.as_ref().and_then(|fbid| {
            inner
                .photos
                .iter()
                .position(|p| &p.id == fbid && !p.published && p.post_id.is_none() && !p.deleted)
        });
        match usable {
            Some(index) => attached.push(index),
            None => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "(#100) attached_media must name unpublished photos of this Page",
                )
            }
        }
    }
    if message.is_empty() && attached.is_empty() {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "(#100) Missing message or attachment",
        );
    }
    let parent = match (edge.as_str(), id == PAGE_ID) {
        ("feed", true) => None,
        ("comments", false) => {
            let Some(target) = inner.posts.iter().find(|p| p.id == id && !p.deleted) else {
                return crate::meta_graph::missing();
            };
            // Replies are one level deep: a comment on a reply is refused.
            let is_reply = target
                .parent
                .as_ref()
                .is_some_and(|p| inner.posts.iter().any(|q| &q.id == p && q.parent.is_some()));
            if is_reply {
                return crate::meta_graph::missing();
            }
            Some(id)
        }
        _ => return crate::meta_graph::missing(),
    };
    if parent.is_none()
        && !inner.duplicates_allowed
        && inner
            .posts
            .iter()
            .any(|p| p.parent.is_none() && !p.deleted && p.message == message)
    {
        return graph_error(
            StatusCode::BAD_REQUEST,
            506,
            None,
            "Duplicate status message",
        );
    }
    let n = inner.next_id;
    inner.next_id += 1;
    let new_id = if parent.is_none() {
        format!("{PAGE_ID}_{n}")
    } else {
        n.to_string()
    };
    let mut photos = Vec::new();
    for index in attached {
        if let Some(photo) = inner.photos.get_mut(index) {
            photo.post_id = Some(new_id.clone());
            photos.push(photo.clone());
        }
    }
    inner.posts.push(FakeFacebookPost {
        id: new_id.clone(),
        message,
        link: form.get("link").cloned(),
        parent,
        deleted: false,
        photos,
    });
    Json(json!({ "id": new_id })).into_response()
}

async fn list(
    State(state): State<Arc<FacebookState>>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if id == "oauth" && edge == "access_token" {
        return login_token(&mut inner, &query);
    }
    if id == "me" && edge == "accounts" {
        return pages(&mut inner, &headers);
    }
    if let Err(r) = admit(&inner, &headers, &query) {
        return *r;
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(100);
    let wanted: Vec<&FakeFacebookPost> = match (edge.as_str(), id == PAGE_ID) {
        ("posts" | "feed", true) => inner
            .posts
            .iter()
            .rev()
            .filter(|p| p.parent.is_none() && !p.deleted)
            .collect(),
        ("comments", false) => inner
            .posts
            .iter()
            .filter(|p| p.parent.as_deref() == Some(id.as_str()) && !p.deleted)
            .collect(),
        _ => return crate::meta_graph::missing(),
    };
    let data: Vec<Value> = wanted
        .iter()
        .take(limit)
        .map(|p| json!({"id": p.id, "message": p.message, "from": {"id": PAGE_ID, "name": "County Health (fake)"}, "created_time": "2026-01-01T00:00:00+0000"}))
        .collect();
    let mut body =
        json!({"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIU"}}});
    if wanted.len() > limit {
        set_next_page(&mut body, "https://graph.facebook.com/next-page");
    }
    Json(body).into_response()
}

/// `GET /{v}/oauth/access_token`: a code for a short-lived user token, or
/// (`grant_type=fb_exchange_token`) a short-lived one for a long-lived one.
fn login_token(inner: &mut Inner, query: &HashMap<String, String>) -> Response {
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    if get("client_id") != APP_ID || get("client_secret") != APP_SECRET {
        return graph_error(
            StatusCode::BAD_REQUEST,
            1,
            None,
            "Error validating client secret.",
        );
    }
    inner.login.issued += 1;
    let n = inner.login.issued;
    if get("grant_type") == "fb_exchange_token" {
        if inner.login.short.as_deref() != Some(get("fb_exchange_token").as_str()) {
            return crate::meta_graph::bad_token(StatusCode::BAD_REQUEST);
        }
        let long = format!("fake-facebook-user-long-{n}-canary");
        inner.login.long = Some(long.clone());
        return Json(
            json!({"access_token": long, "token_type": "bearer", "expires_in": 5_183_944}),
        )
        .into_response();
    }
    match inner.login.codes.remove(&get("code")) {
        Some(redirect) if redirect == get("redirect_uri") => {
            let short = format!("fake-facebook-user-short-{n}-canary");
            inner.login.short = Some(short.clone());
            Json(json!({"access_token": short, "token_type": "bearer", "expires_in": 5183}))
                .into_response()
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36009),
            "This authorization code has been used.",
        ),
    }
}

/// `GET /{v}/me/accounts` with the long-lived user token: the Pages the user manages,
/// each with a Page token (which the API accepts from now on).
fn pages(inner: &mut Inner, headers: &HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_none() || presented != inner.login.long.as_deref() {
        return crate::meta_graph::bad_token(StatusCode::BAD_REQUEST);
    }
    inner.login.issued += 1;
    let page_token = format!("fake-facebook-page-{}-canary", inner.login.issued);
    let page = if inner.login.manages_page {
        inner.token = page_token.clone();
        json!({"id": PAGE_ID, "name": "County Health (fake)", "access_token": page_token})
    } else {
        json!({"id": "104999999999999", "name": "Someone else's Page", "access_token": page_token})
    };
    Json(json!({"data": [page], "paging": {"cursors": {"before": "b", "after": "a"}}}))
        .into_response()
}
