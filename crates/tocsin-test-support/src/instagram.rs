//! A fake Instagram API with Instagram Login (under `/v25.0`): image containers
//! (`POST /{user}/media`), their `status_code`, publishing (`POST /{user}/media_publish`),
//! `content_publishing_limit`, comments and replies to them, the account's `media`
//! listing, `GET /me`, and the Business Login token endpoints.
//!
//! Strict as Meta's content publishing guide: a container needs `image_url` (http or
//! https), which the fake fetches as Instagram does, refusing what does not answer 200
//! with a JPEG (Graph error 9004); the caption holds at most 2,200 characters and 30
//! hashtags; `alt_text` is recorded. A container is published once, and only once its
//! `status_code` is `FINISHED` (9007, subcode 2207027, before); past the 24-hour quota
//! the publish is refused (code 9, subcode 2207042).
//!
//! Carousels as the guide describes them: an item container is made with
//! `is_carousel_item=true` and an `image_url` the fake fetches; it takes `alt_text`, and
//! a caption sent with it is ignored (album children have none). A `media_type=CAROUSEL`
//! container needs 2 to 10 `children` that are this account's carousel items, each
//! already read as `FINISHED`; it takes the caption. An item is never published on its
//! own, and a published carousel counts once against the quota. Each call needs its
//! permission
//! (`instagram_business_content_publish` to post, `instagram_business_manage_comments`
//! for comments, `instagram_business_basic` for the rest; code 10 without it), and the
//! token goes in the Authorization header or `access_token`. `DELETE` of media answers
//! as the real API does for Instagram Login: not supported (100/33).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::facebook::{graph_error, set_next_page};
use crate::meta_graph;
use crate::oauth::{FakeClient, Flavor, OAuthProvider};
use crate::{FakeServer, FakeState};

/// The user token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-instagram-user-access-token";
/// The professional account's id (`user_id`).
pub const USER_ID: &str = "17841400000000001";
/// The app-scoped id `GET /me` also gives (`id`), which is not the account's id.
pub const APP_SCOPED_ID: &str = "7300000000000001";
/// The account's user name.
pub const USERNAME: &str = "countyhealth";
/// The Instagram app id registered with the fake (see [`FakeInstagram::register_client`]).
pub const APP_ID: &str = "990602627938111";
/// That app's secret.
pub const APP_SECRET: &str = "fake-instagram-app-secret-canary";
/// Posts the rolling 24 hours allow.
pub const QUOTA_TOTAL: u64 = 100;
/// Every scope Tocsin asks Instagram for.
pub const ALL_SCOPES: [&str; 3] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
];

/// A container as the fake stored it, and the post it became once published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMedia {
    /// The container id.
    pub container_id: String,
    /// The media id once published.
    pub media_id: Option<String>,
    /// `IMAGE`, or `CAROUSEL` for an album.
    pub media_type: String,
    /// Whether it is an item of a carousel (`is_carousel_item=true`).
    pub carousel_item: bool,
    /// A carousel's item containers, in order.
    pub children: Vec<String>,
    /// `image_url` (empty for a carousel).
    pub image_url: String,
    /// `caption` (empty for a carousel item: Instagram ignores one there).
    pub caption: String,
    /// `alt_text`.
    pub alt_text: Option<String>,
    /// The bytes fetched from `image_url`.
    pub image_bytes: usize,
    /// Times its status was read.
    pub status_reads: u32,
    /// Status reads left that answer `IN_PROGRESS`.
    processing: u32,
    /// Set: its status is this (`ERROR`, `EXPIRED`).
    failed: Option<&'static str>,
}

/// A comment the account made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    /// Its id.
    pub id: String,
    /// The media it is on.
    pub media_id: String,
    /// The comment it replies to, if it is a reply.
    pub parent_comment: Option<String>,
    /// `message`.
    pub text: String,
}

#[derive(Debug)]
struct Inner {
    token: String,
    media: Vec<FakeMedia>,
    comments: Vec<FakeComment>,
    next_id: u64,
    quota_used: u64,
    scopes: Vec<String>,
    processing: u32,
    failing: Option<&'static str>,
    failing_urls: HashMap<String, &'static str>,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct InstagramState {
    inner: Mutex<Inner>,
    oauth: OAuthProvider,
    long_lived: Mutex<u64>,
    fetcher: reqwest::Client,
}

impl InstagramState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Images served over loopback, standing for Tocsin's `[server] public_url`.
#[derive(Debug, Default)]
struct Hosted {
    images: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

/// A running fake Instagram API, with a second loopback server that hosts images for
/// it to fetch. Derefs to the API's [`FakeServer`].
pub struct FakeInstagram {
    server: FakeServer,
    state: Arc<InstagramState>,
    host: FakeServer,
    hosted: Arc<Hosted>,
}

impl Deref for FakeInstagram {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

/// A tiny JPEG (one grey pixel) for tests; the fake checks the JPEG signature only.
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xDB, 0x00, 0x43, 0x00, 0x03, 0x02, 0x02, 0x02, 0x02, 0x02, 0x03,
    0x02, 0x02, 0x02, 0x03, 0x03, 0x03, 0x03, 0x04, 0x06, 0x04, 0x04, 0x04, 0x04, 0x04, 0x08, 0x06,
    0x06, 0x05, 0x06, 0x09, 0x08, 0x0A, 0x0A, 0x09, 0x08, 0x09, 0x09, 0x0A, 0x0C, 0x0F, 0x0C, 0x0A,
    0x0B, 0x0E, 0x0B, 0x09, 0x09, 0x0D, 0x11, 0x0D, 0x0E, 0x0F, 0x10, 0x10, 0x11, 0x10, 0x0A, 0x0C,
    0x12, 0x13, 0x12, 0x10, 0x13, 0x0F, 0x10, 0x10, 0x10, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01,
    0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xFF, 0xC4, 0x00,
    0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x2A, 0x9F, 0xFF,
    0xD9,
];

impl FakeInstagram {
    /// The API base URL, version included (`http://127.0.0.1:PORT/v25.0`).
    pub fn api_url(&self) -> String {
        format!("{}/v25.0", self.server.base_url)
    }

    /// The fake's origin, where the Business Login token endpoints are
    /// (`/oauth/access_token`, `/access_token`, `/refresh_access_token`).
    pub fn origin(&self) -> String {
        self.server.base_url.clone()
    }

    /// Serves `bytes` as `content_type` at a new loopback URL, as Tocsin's public server
    /// would, and gives the URL.
    pub fn host_image(&self, name: &str, content_type: &str, bytes: &[u8]) -> String {
        self.hosted
            .images
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string(), (content_type.to_string(), bytes.to_vec()));
        format!("{}/media/{name}", self.host.base_url)
    }

    /// Every container, published or not, oldest first.
    pub fn media(&self) -> Vec<FakeMedia> {
        self.state.lock().media.clone()
    }

    /// Published posts, oldest first.
    pub fn published(&self) -> Vec<FakeMedia> {
        self.media()
            .into_iter()
            .filter(|m| m.media_id.is_some())
            .collect()
    }

    /// Comments and replies the account made, oldest first.
    pub fn comments(&self) -> Vec<FakeComment> {
        self.state.lock().comments.clone()
    }

    /// Accepts only this token from now on (as after a revocation).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// The token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// The permissions the accepted token was granted (all of [`ALL_SCOPES`] at start).
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.state.lock().scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// New containers answer `IN_PROGRESS` to this many status reads before `FINISHED`.
    pub fn set_container_processing(&self, reads: u32) {
        self.state.lock().processing = reads;
    }

    /// New containers end in this status (`ERROR` or `EXPIRED`).
    pub fn fail_containers(&self, status: &'static str) {
        self.state.lock().failing = Some(status);
    }

    /// New containers for this `image_url` end in this status (`ERROR` or `EXPIRED`),
    /// as when Instagram cannot process that one image.
    pub fn fail_image(&self, image_url: &str, status: &'static str) {
        self.state
            .lock()
            .failing_urls
            .insert(image_url.to_string(), status);
    }

    /// A carousel's items, in order (empty for anything else).
    pub fn carousel_items(&self, carousel: &FakeMedia) -> Vec<FakeMedia> {
        let inner = self.state.lock();
        carousel
            .children
            .iter()
            .filter_map(|id| inner.media.iter().find(|m| &m.container_id == id).cloned())
            .collect()
    }

    /// Posts already published in the rolling 24 hours (of [`QUOTA_TOTAL`]).
    pub fn set_quota_used(&self, used: u64) {
        self.state.lock().quota_used = used;
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
}

/// Starts a fake Instagram API on a loopback port, accepting [`TOKEN`] for [`USER_ID`],
/// and its image host.
pub async fn start() -> std::io::Result<FakeInstagram> {
    let fetcher = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(std::io::Error::other)?;
    let state = Arc::new(InstagramState {
        inner: Mutex::new(Inner {
            token: TOKEN.to_string(),
            media: Vec::new(),
            comments: Vec::new(),
            next_id: 17_900_000_000_000_001,
            quota_used: 0,
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            processing: 0,
            failing: None,
            failing_urls: HashMap::new(),
        }),
        oauth: OAuthProvider::new(Flavor::Instagram),
        long_lived: Mutex::new(0),
        fetcher,
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    let hosted = Arc::new(Hosted::default());
    let host = FakeServer::start(
        Router::new()
            .route("/media/{name}", get(serve_image))
            .with_state(hosted.clone()),
        Arc::new(FakeState::default()),
    )
    .await?;
    Ok(FakeInstagram {
        server,
        state,
        host,
        hosted,
    })
}

async fn serve_image(State(hosted): State<Arc<Hosted>>, Path(name): Path<String>) -> Response {
    let found = hosted
        .images
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&name)
        .cloned();
    match found {
        Some((content_type, bytes)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The fake's routes over `state`.
pub fn router(state: Arc<InstagramState>) -> Router {
    Router::new()
        .route("/v25.0/{id}", get(node).delete(remove))
        .route("/v25.0/{id}/{edge}", get(list).post(create))
        .route("/oauth/access_token", axum::routing::post(code_exchange))
        .route("/access_token", get(long_lived))
        .route("/refresh_access_token", get(refresh))
        .with_state(state)
}

fn invalid(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, None, message)
}

fn permalink(media_id: &str) -> String {
    format!("https://www.instagram.com/p/{media_id}/")
}

fn wants(query: &HashMap<String, String>, field: &str) -> bool {
    query
        .get("fields")
        .is_some_and(|f| f.split(',').any(|f| f == field))
}

async fn node(
    State(state): State<Arc<InstagramState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_basic") {
        return *r;
    }
    if id == "me" || id == USER_ID {
        return Json(json!({"id": APP_SCOPED_ID, "user_id": USER_ID, "username": USERNAME}))
            .into_response();
    }
    if wants(&query, "status_code") {
        if let Some(c) = inner.media.iter_mut().find(|m| m.container_id == id) {
            c.status_reads += 1;
            let code = if let Some(failed) = c.failed {
                failed
            } else if c.media_id.is_some() {
                "PUBLISHED"
            } else if c.processing > 0 {
                c.processing -= 1;
                "IN_PROGRESS"
            } else {
                "FINISHED"
            };
            let mut answer = json!({"id": id, "status_code": code});
            if code == "ERROR" {
                crate::facebook::set(
                    &mut answer,
                    "status",
                    json!("Error: Media download has failed. (2207052)"),
                );
            }
            return Json(answer).into_response();
        }
    }
    let found = inner
        .media
        .iter()
        .find(|m| m.media_id.as_deref() == Some(id.as_str()));
    match found {
        Some(m) => Json(json!({
            "id": id,
            "caption": m.caption,
            "permalink": permalink(&id),
            "timestamp": "2026-12-07T12:00:00+0000",
            "media_type": published_type(m),
        }))
        .into_response(),
        None => meta_graph::missing(),
    }
}

/// Media made through Instagram Login cannot be deleted: the real API refuses so.
async fn remove(
    State(state): State<Arc<InstagramState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    meta_graph::missing()
}

/// A published post's `media_type` as the IG Media node gives it.
fn published_type(media: &FakeMedia) -> &'static str {
    if media.media_type == "CAROUSEL" {
        "CAROUSEL_ALBUM"
    } else {
        "IMAGE"
    }
}

/// Why `caption` breaks Meta's caption rules, if it does (2,200 characters, 30 hashtags).
fn caption_problem(caption: &str) -> Option<&'static str> {
    if caption.chars().count() > 2200 {
        return Some("(#100) The caption is longer than 2200 characters");
    }
    let tags = caption
        .split_whitespace()
        .filter(|w| w.starts_with('#') && w.len() > 1)
        .count();
    (tags > 30).then_some("(#100) The caption has more than 30 hashtags")
}

/// Fetches `url` as Instagram does: it must answer 200 with a JPEG.
async fn fetch_image(fetcher: &reqwest::Client, url: &str) -> Result<usize, Response> {
    let refused =
        |message: &str| graph_error(StatusCode::BAD_REQUEST, 9004, Some(2_207_052), message);
    let parsed = url::Url::parse(url).map_err(|_| invalid("(#100) image_url is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("(#100) image_url must be an http or https URL"));
    }
    let answer = fetcher.get(parsed).send().await.map_err(|_| {
        refused("Media download has failed. The media URI doesn't meet our requirements.")
    })?;
    if !answer.status().is_success() {
        return Err(refused(
            "Media download has failed. The media URI doesn't meet our requirements.",
        ));
    }
    let bytes = answer
        .bytes()
        .await
        .map_err(|_| refused("Media download has failed."))?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(refused(
            "Only photo or video can be accepted as media type. The image format is not supported (JPEG only).",
        ));
    }
    if bytes.len() > 8 * 1024 * 1024 {
        return Err(refused("The image is larger than 8 MB."));
    }
    Ok(bytes.len())
}

/// Whether a container was read as `FINISHED`: never read counts as not ready, since
/// Meta asks for the check before a container is used.
fn is_ready(container: &FakeMedia) -> bool {
    container.processing == 0 && container.failed.is_none() && container.status_reads > 0
}

fn not_ready() -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        9007,
        Some(2_207_027),
        "Media ID is not available: the media is not ready for publishing, please wait for a moment",
    )
}

/// An image container, or a carousel item: the image fetched as Instagram does, the
/// caption checked (ignored on an item, which has none), `alt_text` kept.
async fn image_container(
    state: &InstagramState,
    form: &HashMap<String, String>,
    carousel_item: bool,
) -> Response {
    let Some(image_url) = form.get("image_url").filter(|u| !u.is_empty()) else {
        return invalid("(#100) The parameter image_url is required");
    };
    let caption = if carousel_item {
        String::new()
    } else {
        form.get("caption").cloned().unwrap_or_default()
    };
    if let Some(problem) = caption_problem(&caption) {
        return invalid(problem);
    }
    // Instagram fetches the image when the container is made.
    let image_bytes = match fetch_image(&state.fetcher, image_url).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut inner = state.lock();
    let failed = inner
        .failing_urls
        .get(image_url.as_str())
        .copied()
        .or(inner.failing);
    let media = FakeMedia {
        container_id: String::new(),
        media_id: None,
        media_type: "IMAGE".into(),
        carousel_item,
        children: Vec::new(),
        image_url: image_url.clone(),
        caption,
        alt_text: form.get("alt_text").cloned(),
        image_bytes,
        status_reads: 0,
        processing: inner.processing,
        failed,
    };
    store_container(&mut inner, media)
}

/// A `CAROUSEL` container: 2 to 10 children, each this account's carousel item and
/// already read as `FINISHED`, and the caption.
fn carousel_container(state: &InstagramState, form: &HashMap<String, String>) -> Response {
    let caption = form.get("caption").cloned().unwrap_or_default();
    if let Some(problem) = caption_problem(&caption) {
        return invalid(problem);
    }
    let children: Vec<String> = form
        .get("children")
        .map(|c| c.split(',').map(|id| id.trim().to_string()).collect())
        .unwrap_or_default();
    if !(2..=10).contains(&children.len()) || children.iter().any(String::is_empty) {
        return invalid("(#100) A carousel needs 2 to 10 children (comma-separated container ids)");
    }
    let mut inner = state.lock();
    for (i, child) in children.iter().enumerate() {
        if children.iter().take(i).any(|earlier| earlier == child) {
            return invalid(&format!("(#100) The child {child} is named twice"));
        }
        let Some(item) = inner.media.iter().find(|m| &m.container_id == child) else {
            return invalid(&format!(
                "(#100) The child {child} is not a container of this account"
            ));
        };
        if !item.carousel_item {
            return invalid(&format!(
                "(#100) The child {child} was not created with is_carousel_item=true"
            ));
        }
        if !is_ready(item) {
            return not_ready();
        }
    }
    let media = FakeMedia {
        container_id: String::new(),
        media_id: None,
        media_type: "CAROUSEL".into(),
        carousel_item: false,
        children,
        image_url: String::new(),
        caption,
        alt_text: None,
        image_bytes: 0,
        status_reads: 0,
        processing: inner.processing,
        failed: inner.failing,
    };
    store_container(&mut inner, media)
}

/// Gives `media` the next id, keeps it, and answers with the id.
fn store_container(inner: &mut Inner, mut media: FakeMedia) -> Response {
    let container_id = inner.next_id.to_string();
    inner.next_id += 1;
    media.container_id = container_id.clone();
    inner.media.push(media);
    Json(json!({ "id": container_id })).into_response()
}

async fn create(
    State(state): State<Arc<InstagramState>>,
    Path((id, edge)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    {
        let inner = state.lock();
        if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
            return *r;
        }
    }
    match edge.as_str() {
        "media" if id == USER_ID => {
            if let Err(r) =
                meta_graph::needs(&state.lock().scopes, "instagram_business_content_publish")
            {
                return *r;
            }
            let carousel_item = match form.get("is_carousel_item").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return invalid("(#100) is_carousel_item must be true or false"),
            };
            match form.get("media_type").map(String::as_str) {
                None | Some("IMAGE") => image_container(&state, &form, carousel_item).await,
                Some("CAROUSEL") if carousel_item => {
                    invalid("(#100) A carousel cannot be an item of another carousel")
                }
                Some("CAROUSEL") => carousel_container(&state, &form),
                Some(other) => invalid(&format!(
                    "(#100) media_type {other} is not one the fake takes (images and carousels)"
                )),
            }
        }
        "media_publish" if id == USER_ID => {
            let mut inner = state.lock();
            if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_content_publish") {
                return *r;
            }
            let creation_id = form.get("creation_id").cloned().unwrap_or_default();
            if inner.quota_used >= QUOTA_TOTAL {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    9,
                    Some(2_207_042),
                    "Application request limit reached: you reached the maximum number of posts allowed in 24 hours",
                );
            }
            let next = inner.next_id;
            let Some(container) = inner
                .media
                .iter_mut()
                .find(|m| m.container_id == creation_id)
            else {
                return meta_graph::missing();
            };
            if container.carousel_item {
                return invalid(
                    "(#100) A carousel item cannot be published on its own: publish the CAROUSEL container that holds it",
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
            if !is_ready(container) {
                return not_ready();
            }
            let media_id = next.to_string();
            container.media_id = Some(media_id.clone());
            inner.next_id += 1;
            inner.quota_used += 1;
            Json(json!({ "id": media_id })).into_response()
        }
        "comments" | "replies" => {
            let mut inner = state.lock();
            if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_manage_comments") {
                return *r;
            }
            let Some(message) = form.get("message").filter(|m| !m.is_empty()).cloned() else {
                return invalid("(#100) The parameter message is required");
            };
            if message.chars().count() > 2200 {
                return invalid("(#100) The comment is longer than 2200 characters");
            }
            let (media_id, parent_comment) = if edge == "comments" {
                if !inner
                    .media
                    .iter()
                    .any(|m| m.media_id.as_deref() == Some(id.as_str()))
                {
                    return meta_graph::missing();
                }
                (id.clone(), None)
            } else {
                let Some(parent) = inner.comments.iter().find(|c| c.id == id) else {
                    return meta_graph::missing();
                };
                (parent.media_id.clone(), Some(id.clone()))
            };
            let comment_id = inner.next_id.to_string();
            inner.next_id += 1;
            inner.comments.push(FakeComment {
                id: comment_id.clone(),
                media_id,
                parent_comment,
                text: message,
            });
            Json(json!({ "id": comment_id })).into_response()
        }
        _ => meta_graph::missing(),
    }
}

async fn list(
    State(state): State<Arc<InstagramState>>,
    Path((id, edge)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = meta_graph::admit(&inner.token, &headers, &query) {
        return *r;
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(100);
    let (wanted, total): (Vec<Value>, usize) = match edge.as_str() {
        "content_publishing_limit" if id == USER_ID => {
            if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_content_publish") {
                return *r;
            }
            let mut entry = json!({"quota_usage": inner.quota_used});
            if wants(&query, "config") {
                crate::facebook::set(
                    &mut entry,
                    "config",
                    json!({"quota_total": QUOTA_TOTAL, "quota_duration": 86_400}),
                );
            }
            return Json(json!({ "data": [entry] })).into_response();
        }
        "media" if id == USER_ID => {
            if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_basic") {
                return *r;
            }
            let all: Vec<Value> = inner
                .media
                .iter()
                .rev()
                .filter_map(|m| {
                    let media_id = m.media_id.clone()?;
                    Some(json!({"id": media_id, "caption": m.caption, "permalink": permalink(&media_id), "media_type": published_type(m), "timestamp": "2026-12-07T12:00:00+0000"}))
                })
                .collect();
            let total = all.len();
            (all, total)
        }
        "comments" | "replies" => {
            if let Err(r) = meta_graph::needs(&inner.scopes, "instagram_business_manage_comments") {
                return *r;
            }
            let all: Vec<Value> = inner
                .comments
                .iter()
                .rev()
                .filter(|c| {
                    if edge == "comments" {
                        c.media_id == id && c.parent_comment.is_none()
                    } else {
                        c.parent_comment.as_deref() == Some(id.as_str())
                    }
                })
                .map(|c| json!({"id": c.id, "text": c.text, "timestamp": "2026-12-07T12:00:00+0000"}))
                .collect();
            let total = all.len();
            (all, total)
        }
        _ => return meta_graph::missing(),
    };
    let data: Vec<Value> = wanted.into_iter().take(limit).collect();
    let mut body =
        json!({"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}});
    if total > limit {
        set_next_page(&mut body, "https://graph.instagram.com/v25.0/next-page");
    }
    Json(body).into_response()
}

/// `POST /oauth/access_token` (api.instagram.com): the code for a one-hour token.
async fn code_exchange(
    State(state): State<Arc<InstagramState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.oauth.token(&headers, &form)
}

/// A new 60-day token, accepted by the API from now on.
fn long_token(state: &InstagramState) -> Response {
    let (token, answer) = meta_graph::long_token(&state.long_lived, "fake-instagram-long");
    state.lock().token = token;
    answer
}

/// `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token`: a
/// short-lived token the fake issued for a long-lived one.
async fn long_lived(
    State(state): State<Arc<InstagramState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !meta_graph::exchange_allowed(
        &query,
        "ig_exchange_token",
        APP_SECRET,
        state.oauth.current_access_token().as_ref(),
    ) {
        return meta_graph::bad_token(StatusCode::BAD_REQUEST);
    }
    long_token(&state)
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token&access_token`: the current
/// long-lived token for a new one.
async fn refresh(
    State(state): State<Arc<InstagramState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let current = state.lock().token.clone();
    if !meta_graph::refresh_allowed(&query, "ig_refresh_token", &current) {
        return meta_graph::bad_token(StatusCode::BAD_REQUEST);
    }
    long_token(&state)
}
