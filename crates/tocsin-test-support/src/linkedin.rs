//! A fake LinkedIn versioned API: `POST/GET /rest/posts`, `DELETE /rest/posts/{urn}`,
//! `POST/GET /rest/socialActions/{urn}/comments` and
//! `DELETE /rest/socialActions/{urn}/comments/{id}`.
//!
//! It insists on `LinkedIn-Version` (400 if missing, 426 if retired) and
//! `X-Restli-Protocol-Version: 2.0.0`, answers a new post with 201 and its URN in
//! `x-restli-id`, and renders `commentary` as LinkedIn does with "little" text: an
//! unescaped reserved character silently cuts the post there.
//!
//! Comments nest as LinkedIn's do, one level: a comment on a post has `object` the post;
//! a reply to a comment is sent to the comment's URN with `object` the post and
//! `parentComment` that comment, which must be a top-level one. A reply to a reply is
//! refused (422; the wording is the fake's), as is a comment whose `object` is a comment.
//!
//! Images take the Images API: `POST /rest/images?action=initializeUpload` with
//! `initializeUploadRequest.owner` the author answers an `uploadUrl` and an
//! `urn:li:image:…`; a `PUT` of the bytes to that URL (with the bearer token, a
//! JPEG, PNG or GIF) makes the image available. A post's `content.media` (`id`,
//! `altText`) or `content.multiImage.images` (2 to 20) must name available images of
//! this author; `altText` is at most 4,086 characters.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::facebook::set;
use crate::oauth::{FakeClient, Flavor, OAuthProvider};
use crate::{FakeServer, FakeState};

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-linkedin-member-access-token";
/// The organisation's id.
pub const ORGANIZATION_ID: &str = "2414183";
/// The OAuth client id registered with the fake (see [`FakeLinkedin::register_client`]).
pub const CLIENT_ID: &str = "77fakelinkedinid";
/// That client's secret.
pub const CLIENT_SECRET: &str = "fake-linkedin-client-secret-canary";
/// The oldest `LinkedIn-Version` the fake still serves.
pub const OLDEST_VERSION: &str = "202511";

/// The organisation URN posts are authored by.
pub fn author() -> String {
    format!("urn:li:organization:{ORGANIZATION_ID}")
}

/// A post or comment as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLinkedinPost {
    /// Its URN (`urn:li:share:N`), or a comment's id.
    pub id: String,
    /// `commentary` as received (little text), or a comment's `message.text`.
    pub commentary: String,
    /// What LinkedIn shows: little text rendered, cut at an unescaped reserved character.
    pub shown: String,
    /// The post a comment is on (`None` for a post).
    pub object: Option<String>,
    /// For a reply to a comment, that (top-level) comment's URN.
    pub parent_comment: Option<String>,
    /// The whole request body.
    pub body: Value,
    /// Whether it was deleted since.
    pub deleted: bool,
}

/// The scopes Tocsin asks LinkedIn for: posting, and reading posts back.
pub const ALL_SCOPES: [&str; 2] = ["w_organization_social", "r_organization_social"];

/// One image of the Images API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLinkedinImage {
    /// `urn:li:image:…`.
    pub urn: String,
    /// The bytes `PUT` to its upload URL (`None` before).
    pub bytes: Option<Bytes>,
}

#[derive(Debug)]
struct Inner {
    images: Vec<FakeLinkedinImage>,
    token: String,
    scopes: Vec<String>,
    posts: Vec<FakeLinkedinPost>,
    duplicates_allowed: bool,
    next_id: u64,
    throttled: bool,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct LinkedinState {
    inner: Mutex<Inner>,
    oauth: OAuthProvider,
}

impl LinkedinState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake LinkedIn API. Derefs to its [`FakeServer`].
pub struct FakeLinkedin {
    server: FakeServer,
    state: Arc<LinkedinState>,
}

impl Deref for FakeLinkedin {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeLinkedin {
    /// The scopes the accepted token was granted (all of [`ALL_SCOPES`] at start):
    /// listing posts and comments needs `r_organization_social`, writing
    /// `w_organization_social`, else 403 `ACCESS_DENIED` as LinkedIn answers.
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.state.lock().scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// Every post and comment, deleted ones included, oldest first.
    pub fn posts(&self) -> Vec<FakeLinkedinPost> {
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

    /// The fake's OAuth authorisation server (`POST /oauth/v2/accessToken`).
    pub fn oauth(&self) -> &OAuthProvider {
        &self.state.oauth
    }

    /// Registers the app [`CLIENT_ID`] / [`CLIENT_SECRET`] with this redirect URL.
    pub fn register_client(&self, redirect_uri: &str) {
        self.state.oauth.add_client(FakeClient {
            id: CLIENT_ID.into(),
            secret: CLIENT_SECRET.into(),
            redirect_uris: vec![redirect_uri.to_string()],
            scopes: ALL_SCOPES.join(" "),
            name: "Tocsin".into(),
        });
    }

    /// The token the API accepts now.
    pub fn accepted_token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// Every image of the Images API, oldest first.
    pub fn images(&self) -> Vec<FakeLinkedinImage> {
        self.state.lock().images.clone()
    }

    /// Answers every call with LinkedIn's 429 (no `Retry-After`, as LinkedIn sends none).
    pub fn set_throttled(&self, throttled: bool) {
        self.state.lock().throttled = throttled;
    }
}

/// Starts a fake LinkedIn API on a loopback port, accepting [`TOKEN`].
pub async fn start() -> std::io::Result<FakeLinkedin> {
    let state = Arc::new(LinkedinState {
        inner: Mutex::new(Inner {
            images: Vec::new(),
            token: TOKEN.to_string(),
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            posts: Vec::new(),
            next_id: 7_100_000_000_000_000_001,
            duplicates_allowed: false,
            throttled: false,
        }),
        oauth: OAuthProvider::new(Flavor::Linkedin),
    });
    let server = FakeServer::start(router(state.clone()), Arc::new(FakeState::default())).await?;
    Ok(FakeLinkedin { server, state })
}

/// The fake's routes over `state`.
pub fn router(state: Arc<LinkedinState>) -> Router {
    Router::new()
        .route("/rest/posts", get(list_posts).post(create_post))
        .route("/rest/images", axum::routing::post(initialize_upload))
        .route("/dms-uploads/{id}", axum::routing::put(upload_image))
        .route("/rest/posts/{urn}", delete(delete_post))
        .route("/oauth/v2/accessToken", axum::routing::post(token))
        .route(
            "/rest/socialActions/{urn}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/rest/socialActions/{urn}/comments/{id}",
            delete(delete_comment),
        )
        .with_state(state)
}

fn error(status: StatusCode, code: Option<&str>, service: Option<u32>, message: &str) -> Response {
    let mut body = json!({"status": status.as_u16(), "message": message});
    if let Some(code) = code {
        set(&mut body, "code", json!(code));
    }
    if let Some(service) = service {
        set(&mut body, "serviceErrorCode", json!(service));
    }
    (status, Json(body)).into_response()
}

fn admit(inner: &Inner, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let presented = get(header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(inner.token.as_str()) {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            Some("REVOKED_ACCESS_TOKEN"),
            Some(65601),
            "The token used in the request has been revoked by the user",
        )));
    }
    let Some(version) = get("linkedin-version") else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            Some("VERSION_MISSING"),
            None,
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        )));
    };
    if version.len() != 6
        || !version.chars().all(|c| c.is_ascii_digit())
        || version < OLDEST_VERSION
    {
        return Err(Box::new(error(
            StatusCode::UPGRADE_REQUIRED,
            Some("NONEXISTENT_VERSION"),
            None,
            &format!("Requested version {version} is not active"),
        )));
    }
    if get("x-restli-protocol-version") != Some("2.0.0") {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "Restli protocol 2.0.0 is required",
        )));
    }
    if inner.throttled {
        return Err(Box::new(error(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            None,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        )));
    }
    Ok(())
}

/// Refuses a call the token has no scope for, as LinkedIn does (403 `ACCESS_DENIED`).
fn needs(inner: &Inner, scope: &str) -> Result<(), Box<Response>> {
    if inner.scopes.iter().any(|s| s == scope) {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::FORBIDDEN,
        Some("ACCESS_DENIED"),
        Some(100),
        // LinkedIn names the resource, not the scope.
        &format!(
            "Not enough permissions to access: {}",
            if scope.starts_with('r') {
                "partnerApiPostsExternal.FINDER-author.20250801"
            } else {
                "partnerApiPostsExternal.CREATE.20250801"
            }
        ),
    )))
}

/// A field of a JSON body by pointer (`Null` when absent).
fn field<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

const RESERVED: &str = "\\|{}@[]()<>#*_~";

/// How LinkedIn shows little text: escapes resolved, `{hashtag|#|tag}` as `#tag`, and
/// the text cut at the first unescaped reserved character.
pub fn render_little(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = rest.get(c.len_utf8()..).unwrap_or_default();
        if c == '\\' {
            match after.chars().next() {
                Some(next) => {
                    out.push(next);
                    rest = after.get(next.len_utf8()..).unwrap_or_default();
                    continue;
                }
                None => break,
            }
        }
        if let Some(template) = rest.strip_prefix("{hashtag|#|") {
            if let Some((tag, tail)) = template.split_once('}') {
                if !tag.is_empty() && tag.chars().all(char::is_alphanumeric) {
                    out.push('#');
                    out.push_str(tag);
                    rest = tail;
                    continue;
                }
            }
        }
        if RESERVED.contains(c) {
            break;
        }
        out.push(c);
        rest = after;
    }
    out
}

async fn create_post(
    State(state): State<Arc<LinkedinState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "w_organization_social") {
        return *r;
    }
    let Ok(post) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, None, None, "Malformed JSON");
    };
    let valid = field(&post, "/author") == &json!(author())
        && field(&post, "/visibility") == "PUBLIC"
        && field(&post, "/lifecycleState") == "PUBLISHED"
        && field(&post, "/distribution/feedDistribution") == "MAIN_FEED"
        && field(&post, "/commentary").is_string();
    if !valid {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(100),
            "ERROR :: /author :: the post is not a valid organisation post",
        );
    }
    if let Err(why) = check_content(&inner, &post) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, None, Some(100), &why);
    }
    let commentary = field(&post, "/commentary")
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(dup) = inner
        .posts
        .iter()
        .filter(|_| !inner.duplicates_allowed)
        .find(|p| p.object.is_none() && !p.deleted && p.commentary == commentary)
    {
        let message = format!(
            "ERROR :: /commentary :: Content is a duplicate of {}",
            dup.id
        );
        return error(StatusCode::UNPROCESSABLE_ENTITY, None, None, &message);
    }
    let urn = format!("urn:li:share:{}", inner.next_id);
    inner.next_id += 1;
    inner.posts.push(FakeLinkedinPost {
        id: urn.clone(),
        shown: render_little(&commentary),
        commentary,
        object: None,
        parent_comment: None,
        body: post,
        deleted: false,
    });
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&urn) {
        response.headers_mut().insert("x-restli-id", v);
    }
    response
}

/// Checks a post's `content` images: available, this author's, described within limits.
fn check_content(inner: &Inner, post: &Value) -> Result<(), String> {
    let Some(content) = post.get("content") else {
        return Ok(());
    };
    let images: Vec<&Value> = if let Some(media) = content.get("media") {
        vec![media]
    } else if let Some(list) = content
        .pointer("/multiImage/images")
        .and_then(Value::as_array)
    {
        if list.len() < 2 || list.len() > 20 {
            return Err("ERROR :: /content/multiImage/images :: must hold 2 to 20 images".into());
        }
        list.iter().collect()
    } else {
        return Err("ERROR :: /content :: unknown content type".into());
    };
    for image in images {
        let id = field(image, "/id").as_str().unwrap_or_default();
        if !inner
            .images
            .iter()
            .any(|i| i.urn == id && i.bytes.is_some())
        {
            return Err(format!("ERROR :: /content :: image {id} is not available"));
        }
        if let Some(alt) = image.get("altText") {
            if alt.as_str().is_none_or(|a| a.chars().count() > 4086) {
                return Err(
                    "ERROR :: /content :: altText must be text of at most 4086 characters".into(),
                );
            }
        }
    }
    Ok(())
}

async fn initialize_upload(
    State(state): State<Arc<LinkedinState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "w_organization_social") {
        return *r;
    }
    if query.get("action").map(String::as_str) != Some("initializeUpload") {
        return error(StatusCode::BAD_REQUEST, None, None, "Unsupported action");
    }
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    if field(&request, "/initializeUploadRequest/owner") != &json!(author()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(100),
            "ERROR :: /initializeUploadRequest/owner :: must be the organisation",
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let id = format!("D4E10AQ{}", inner.images.len() + 1);
    let urn = format!("urn:li:image:{id}");
    inner.images.push(FakeLinkedinImage {
        urn: urn.clone(),
        bytes: None,
    });
    Json(json!({"value": {
        "uploadUrlExpiresAt": chrono::Utc::now().timestamp_millis() + 86_400_000,
        "uploadUrl": format!("http://{host}/dms-uploads/{id}"),
        "image": urn,
    }}))
    .into_response()
}

async fn upload_image(
    State(state): State<Arc<LinkedinState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(inner.token.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match crate::images::sniff(&body) {
        Some("image/png" | "image/jpeg" | "image/gif") => {}
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                None,
                None,
                "Unsupported image format",
            )
        }
    }
    let urn = format!("urn:li:image:{id}");
    match inner.images.iter_mut().find(|i| i.urn == urn) {
        Some(image) => {
            image.bytes = Some(body);
            StatusCode::CREATED.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_posts(
    State(state): State<Arc<LinkedinState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "r_organization_social") {
        return *r;
    }
    if query.get("q").map(String::as_str) != Some("author")
        || query.get("author") != Some(&author())
    {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "q=author and author are required",
        );
    }
    let count = query
        .get("count")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(10)
        .min(100);
    let elements: Vec<Value> = inner
        .posts
        .iter()
        .rev()
        .filter(|p| p.object.is_none() && !p.deleted)
        .take(count)
        .map(|p| {
            let mut v = p.body.clone();
            set(&mut v, "id", json!(p.id));
            v
        })
        .collect();
    Json(json!({"elements": elements, "paging": {"start": 0, "count": count, "links": []}}))
        .into_response()
}

async fn delete_post(
    State(state): State<Arc<LinkedinState>>,
    Path(urn): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "w_organization_social") {
        return *r;
    }
    match inner
        .posts
        .iter_mut()
        .find(|p| p.id == urn && p.object.is_none() && !p.deleted)
    {
        Some(p) => {
            p.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, None, None, "Not Found"),
    }
}

/// A comment's URN: `urn:li:comment:(urn:li:activity:{post's number},{id})`.
fn comment_urn(p: &FakeLinkedinPost) -> String {
    let object = p.object.clone().unwrap_or_default();
    let activity = object.rsplit(':').next().unwrap_or_default().to_string();
    format!("urn:li:comment:(urn:li:activity:{activity},{})", p.id)
}

fn comment_json(p: &FakeLinkedinPost) -> Value {
    let mut v = json!({
        "id": p.id,
        "$URN": comment_urn(p),
        "actor": author(),
        "object": p.object.clone().unwrap_or_default(),
        "message": {"text": p.commentary},
        "created": {"actor": author(), "time": 1_767_225_600_000_u64},
    });
    if let Some(parent) = &p.parent_comment {
        set(&mut v, "parentComment", json!(parent));
    }
    v
}

/// Where a new comment goes, from the URN in its path and its body: on a post (`object`
/// the post, no `parentComment`), or under a top-level comment (`object` the comment's
/// post, `parentComment` the comment). Returns its object and parent comment.
fn comment_place(
    inner: &Inner,
    urn: &str,
    comment: &Value,
) -> Result<(String, Option<String>), Box<Response>> {
    let refused = |why: &str| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            None,
            &format!("ERROR :: {why}"),
        ))
    };
    let Some(target) = inner
        .posts
        .iter()
        .find(|p| !p.deleted && (p.id == urn || (p.object.is_some() && comment_urn(p) == urn)))
    else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            None,
            None,
            "Not Found",
        )));
    };
    let parent = field(comment, "/parentComment").as_str();
    let object = field(comment, "/object");
    match &target.object {
        None => {
            if parent.is_some() {
                return Err(refused(
                    "/parentComment :: not available for a first-level comment",
                ));
            }
            if object != &json!(urn) {
                return Err(refused("/object :: must be the post in the path"));
            }
            Ok((urn.to_string(), None))
        }
        Some(post) => {
            // LinkedIn keeps two levels: a post's comments and their replies.
            if target.parent_comment.is_some() {
                return Err(refused(
                    "/parentComment :: a reply to a reply is not allowed; comments nest one level",
                ));
            }
            let own = comment_urn(target);
            if parent != Some(own.as_str()) {
                return Err(refused(
                    "/parentComment :: a reply to a comment names it as parentComment",
                ));
            }
            if object != &json!(post) {
                return Err(refused(
                    "/object :: a reply to a comment has the post as object",
                ));
            }
            Ok((post.clone(), Some(own)))
        }
    }
}

async fn create_comment(
    State(state): State<Arc<LinkedinState>>,
    Path(urn): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "w_organization_social") {
        return *r;
    }
    let Ok(comment) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, None, None, "Malformed JSON");
    };
    let (object, parent_comment) = match comment_place(&inner, &urn, &comment) {
        Ok(place) => place,
        Err(r) => return *r,
    };
    let text = field(&comment, "/message/text")
        .as_str()
        .unwrap_or_default()
        .to_string();
    if field(&comment, "/actor") != &json!(author()) || text.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            None,
            "ERROR :: /actor :: actor, object and message are required",
        );
    }
    let id = inner.next_id.to_string();
    inner.next_id += 1;
    let stored = FakeLinkedinPost {
        id,
        shown: text.clone(),
        commentary: text,
        object: Some(object),
        parent_comment,
        body: comment,
        deleted: false,
    };
    let answer = comment_json(&stored);
    inner.posts.push(stored);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn list_comments(
    State(state): State<Arc<LinkedinState>>,
    Path(urn): Path<String>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "r_organization_social") {
        return *r;
    }
    let elements: Vec<Value> = inner
        .posts
        .iter()
        .filter(|p| {
            !p.deleted
                && p.object.is_some()
                && match &p.parent_comment {
                    // A post's comments are its top-level ones; a comment's, its replies.
                    None => p.object.as_deref() == Some(urn.as_str()),
                    Some(parent) => parent == &urn,
                }
        })
        .map(comment_json)
        .collect();
    Json(json!({"elements": elements, "paging": {"start": 0, "count": 100}})).into_response()
}

async fn delete_comment(
    State(state): State<Arc<LinkedinState>>,
    Path((urn, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock();
    if let Err(r) = admit(&inner, &headers) {
        return *r;
    }
    if let Err(r) = needs(&inner, "w_organization_social") {
        return *r;
    }
    if query.get("actor") != Some(&author()) {
        return error(
            StatusCode::FORBIDDEN,
            Some("ACCESS_DENIED"),
            Some(100),
            "Not enough permissions: actor",
        );
    }
    match inner
        .posts
        .iter_mut()
        .find(|p| p.id == id && p.object.as_deref() == Some(urn.as_str()) && !p.deleted)
    {
        Some(p) => {
            p.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, None, None, "Not Found"),
    }
}

/// `POST /oauth/v2/accessToken`: the code for a 60-day member token, which the API
/// accepts from then on.
async fn token(
    State(state): State<Arc<LinkedinState>>,
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
