//! Bluesky (AT Protocol): `app.bsky.feed.post` records in one account's repository.
//!
//! Signs in with an app password (`com.atproto.server.createSession`) and keeps the
//! session; an `ExpiredToken` answer is met by one `refreshSession` (or, failing that,
//! one new session) and one repeat of the call. Posts carry link, hashtag and mention
//! facets ([`facets`]; a mention's handle is resolved to its DID with
//! `com.atproto.identity.resolveHandle`, and one that does not resolve stays plain text)
//! and reply strong refs. Images go up first, each by `com.atproto.repo.uploadBlob`
//! (at most four, 1,000,000 bytes each, as `app.bsky.embed.images` allows), and the
//! post embeds them with their `alt` text and `aspectRatio`; a blob no record ends up
//! referencing is dropped by the PDS itself, so a failed post leaves nothing to clean.
//! Bluesky takes no idempotency key, so an unknown outcome is reconciled by listing
//! the repository's recent posts.

pub mod config;
mod descriptor;
mod facets;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::rate_limit::rate_limit_status;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;
use tokio::sync::Mutex;

use crate::account::AccountSpec;
pub use config::{BlueskyConfig, DEFAULT_SERVICE};

/// The collection (NSID) of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Records per page when reconciling.
const LOOKUP_PAGE: u32 = 50;
/// Pages reconciliation reads before it stops and says it cannot tell.
const LOOKUP_PAGES: u32 = 3;
/// Images on one post (`app.bsky.embed.images#main.images.maxLength`).
pub const MAX_IMAGES: usize = 4;
/// Largest image blob (`app.bsky.embed.images#image.image.maxSize`).
pub const MAX_IMAGE_BYTES: usize = 1_000_000;

/// One Bluesky account.
pub struct BlueskyConnector {
    http: HttpClient,
    config: BlueskyConfig,
    password: SecretString,
    session: Mutex<SessionSlot>,
}

impl std::fmt::Debug for BlueskyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskyConnector")
            .field("service", &self.config.service)
            .field("handle", &self.config.handle)
            .finish_non_exhaustive()
    }
}

/// The cached session, and a counter that tells a caller holding an expired access
/// token whether someone else has already renewed it.
#[derive(Default)]
struct SessionSlot {
    current: Option<Session>,
    generation: u64,
}

struct Session {
    access: SecretString,
    refresh: SecretString,
    did: String,
    handle: String,
    generation: u64,
}

/// What one call needs from the session, cloned out so the lock is not held while the
/// call is in flight.
#[derive(Clone)]
struct SessionView {
    access: SecretString,
    did: String,
    handle: String,
    generation: u64,
}

impl Session {
    fn view(&self) -> SessionView {
        SessionView {
            access: self.access.clone(),
            did: self.did.clone(),
            handle: self.handle.clone(),
            generation: self.generation,
        }
    }
}

/// `createSession` and `refreshSession` answers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    #[serde(default)]
    handle: Option<String>,
}

/// `createRecord`'s answer: the strong ref of the new record.
#[derive(Deserialize)]
struct Created {
    uri: String,
    cid: String,
}

impl BlueskyConnector {
    /// A connector for the account `config.handle` signing in with `app_password`.
    pub fn new(http: HttpClient, config: BlueskyConfig, app_password: SecretString) -> Self {
        BlueskyConnector {
            http,
            config,
            password: app_password,
            session: Mutex::new(SessionSlot::default()),
        }
    }

    /// Builds the connector from an account: settings checked by [`BlueskyConfig`],
    /// the secret is an app password.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = BlueskyConfig::from_settings(&spec.settings)?;
        let password = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Bluesky account {} has no app password", spec.id))
        })?;
        Ok(BlueskyConnector::new(http.clone(), config, password))
    }

    /// The account's settings.
    pub fn config(&self) -> &BlueskyConfig {
        &self.config
    }

    fn xrpc(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.config.service)
    }

    /// The session, signing in first if there is none.
    async fn current(&self) -> Result<SessionView, ConnectorError> {
        let mut slot = self.session.lock().await;
        if let Some(session) = &slot.current {
            return Ok(session.view());
        }
        let answer = self.create_session().await?;
        Ok(install(&mut slot, answer))
    }

    /// A fresh session after `stale` was refused as expired: one `refreshSession`, and if
    /// that fails one `createSession`. A caller that finds the session already renewed
    /// by another call uses that one.
    async fn renew(&self, stale: u64) -> Result<SessionView, ConnectorError> {
        let mut slot = self.session.lock().await;
        let refreshed = match &slot.current {
            Some(session) if session.generation != stale => return Ok(session.view()),
            Some(session) => self.refresh_session(&session.refresh).await.ok(),
            None => None,
        };
        let answer = match refreshed {
            Some(answer) => answer,
            None => match self.create_session().await {
                Ok(answer) => answer,
                Err(e) => {
                    slot.current = None;
                    return Err(e);
                }
            },
        };
        Ok(install(&mut slot, answer))
    }

    async fn create_session(&self) -> Result<SessionAnswer, ConnectorError> {
        let request = self
            .http
            .request(Method::POST, &self.xrpc("com.atproto.server.createSession"))
            .json(&json!({
                "identifier": self.config.handle,
                "password": self.password.expose_secret(),
            }));
        let reply = self
            .http
            .send(request, false)
            .await
            .map_err(nothing_changed)?
            .redacting(self.password.expose_secret());
        let answer: SessionAnswer = success(&reply)?.json().map_err(nothing_changed)?;
        check_did(&answer.did)?;
        Ok(answer)
    }

    async fn refresh_session(
        &self,
        refresh: &SecretString,
    ) -> Result<SessionAnswer, ConnectorError> {
        let request = self
            .http
            .request(
                Method::POST,
                &self.xrpc("com.atproto.server.refreshSession"),
            )
            .bearer_auth(refresh.expose_secret());
        let reply = self
            .http
            .send(request, false)
            .await
            .map_err(nothing_changed)?;
        let answer: SessionAnswer = success(&reply)?.json().map_err(nothing_changed)?;
        check_did(&answer.did)?;
        Ok(answer)
    }

    /// One authenticated call, made again once with a renewed session if the access
    /// token had expired (an `ExpiredToken` refusal means the call did nothing).
    async fn call(
        &self,
        writes: bool,
        build: impl Fn(&SessionView) -> RequestBuilder,
    ) -> Result<(Reply, SessionView), ConnectorError> {
        let session = self.current().await?;
        let request = build(&session).bearer_auth(session.access.expose_secret());
        let reply = self.http.send(request, writes).await?;
        if !is_expired_token(&reply) {
            return Ok((reply, session));
        }
        let session = self.renew(session.generation).await?;
        let request = build(&session).bearer_auth(session.access.expose_secret());
        let reply = self.http.send(request, writes).await?;
        Ok((reply, session))
    }

    /// The post's public link: `https://bsky.app/profile/{handle}/post/{rkey}`.
    fn remote(&self, uri: &str, cid: &str, session: &SessionView) -> Option<RemotePost> {
        let at = AtUri::parse(uri)?;
        let profile = if is_safe_handle(&session.handle) {
            session.handle.as_str()
        } else {
            session.did.as_str()
        };
        Some(RemotePost {
            id: uri.to_string(),
            url: Some(format!(
                "https://bsky.app/profile/{profile}/post/{}",
                at.rkey
            )),
            extra: Some(cid.to_string()),
        })
    }

    /// The DID of `handle` (`com.atproto.identity.resolveHandle`), or `None` when it
    /// does not resolve, or the answer cannot be had: a mention is not worth an alert.
    async fn resolve_handle(&self, handle: &str) -> Option<String> {
        let request = self
            .http
            .request(
                Method::GET,
                &self.xrpc("com.atproto.identity.resolveHandle"),
            )
            .query(&[("handle", handle)]);
        let reply = self.http.send(request, false).await.ok()?;
        if !reply.status.is_success() {
            return None;
        }
        let did = reply
            .json::<Value>()
            .ok()?
            .get("did")?
            .as_str()?
            .to_string();
        check_did(&did).ok()?;
        Some(did)
    }

    /// The post's facets: links and tags, and mentions of handles that resolve.
    async fn all_facets(&self, text: &str) -> Vec<Value> {
        let mut all = facets::facets(text);
        for (range, handle) in facets::mentions(text) {
            let overlaps = all.iter().any(|f| {
                let other = facets::range_of(f);
                range.start < other.end && other.start < range.end
            });
            if overlaps {
                continue;
            }
            if let Some(did) = self.resolve_handle(&handle).await {
                all.push(facets::facet(
                    range,
                    json!({"$type": "app.bsky.richtext.facet#mention", "did": did}),
                ));
            }
        }
        all.sort_by_key(|f| facets::range_of(f).start);
        all
    }

    /// Uploads one image (`com.atproto.repo.uploadBlob`, the bytes as the body with
    /// their type) and gives back the blob reference the PDS answered with.
    async fn upload_blob(&self, image: &PostImage) -> Result<Value, ConnectorError> {
        let url = self.xrpc("com.atproto.repo.uploadBlob");
        let (reply, _) = self
            .call(false, |_| {
                self.http
                    .request(Method::POST, &url)
                    .header(reqwest::header::CONTENT_TYPE, image.media_type.as_str())
                    .body(image.bytes.clone())
            })
            .await?;
        // An upload changes nothing anyone sees: an unreadable answer is only a failure.
        let answer: Value = success(&reply)?.json().map_err(nothing_changed)?;
        let blob = answer
            .get("blob")
            .filter(|b| b.pointer("/ref/$link").and_then(Value::as_str).is_some())
            .cloned()
            .ok_or_else(|| {
                ConnectorError::Transient("uploadBlob answered without a blob reference".into())
            })?;
        Ok(blob)
    }

    /// The `app.bsky.embed.images` embed: every image uploaded, in order, with its alt
    /// text and aspect ratio.
    async fn images_embed(&self, images: &[PostImage]) -> Result<Value, ConnectorError> {
        crate::media::check_images(images, "Bluesky", MAX_IMAGES, MAX_IMAGE_BYTES)?;
        let mut embedded = Vec::with_capacity(images.len());
        for image in images {
            let blob = self.upload_blob(image).await?;
            let mut entry = json!({"image": blob, "alt": image.alt});
            if image.width > 0 && image.height > 0 {
                set_field(
                    &mut entry,
                    "aspectRatio",
                    json!({"width": image.width, "height": image.height}),
                );
            }
            embedded.push(entry);
        }
        Ok(json!({"$type": "app.bsky.embed.images", "images": embedded}))
    }

    async fn record(&self, post: &OutgoingPost) -> Result<Value, ConnectorError> {
        let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut record = serde_json::Map::new();
        record.insert("$type".into(), json!(POST_COLLECTION));
        record.insert("text".into(), json!(post.text));
        record.insert("createdAt".into(), json!(created_at));
        if let Some(lang) = post.language.as_ref().or(self.config.language.as_ref()) {
            record.insert("langs".into(), json!([lang]));
        }
        let facets = self.all_facets(&post.text).await;
        if !facets.is_empty() {
            record.insert("facets".into(), Value::Array(facets));
        }
        if let Some(parent) = &post.reply_to {
            let root = post.thread_root.as_ref().unwrap_or(parent);
            let reply = json!({
                "root": strong_ref(root)?,
                "parent": strong_ref(parent)?,
            });
            record.insert("reply".into(), reply);
        }
        if !post.images.is_empty() {
            record.insert("embed".into(), self.images_embed(&post.images).await?);
        }
        Ok(Value::Object(record))
    }
}

fn set_field(value: &mut Value, key: &str, field: Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert(key.to_string(), field);
    }
}

fn install(slot: &mut SessionSlot, answer: SessionAnswer) -> SessionView {
    slot.generation += 1;
    let session = Session {
        access: SecretString::from(answer.access_jwt),
        refresh: SecretString::from(answer.refresh_jwt),
        handle: answer.handle.unwrap_or_else(|| answer.did.clone()),
        did: answer.did,
        generation: slot.generation,
    };
    let view = session.view();
    slot.current = Some(session);
    view
}

#[async_trait]
impl Connector for BlueskyConnector {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn idempotent(&self) -> bool {
        false
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let record = self.record(post).await?;
        let url = self.xrpc("com.atproto.repo.createRecord");
        let (reply, session) = self
            .call(true, |s| {
                self.http.request(Method::POST, &url).json(&json!({
                    "repo": s.did,
                    "collection": POST_COLLECTION,
                    "record": &record,
                }))
            })
            .await?;
        let created: Created = success(&reply)?.json()?;
        // The record exists but its answer makes no sense: the outcome is unknown.
        let remote = self
            .remote(&created.uri, &created.cid, &session)
            .ok_or_else(|| {
                ConnectorError::Unknown("createRecord answered with an unreadable AT URI".into())
            })?;
        Ok(PostOutcome {
            remote,
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        let at = AtUri::parse(&remote.id)
            .filter(|at| at.collection == POST_COLLECTION)
            .ok_or_else(|| ConnectorError::Permanent("not the AT URI of a Bluesky post".into()))?;
        let session = self.current().await?;
        if at.authority != session.did && at.authority != session.handle {
            return Err(ConnectorError::Permanent(
                "the post belongs to another account's repository".into(),
            ));
        }
        let url = self.xrpc("com.atproto.repo.deleteRecord");
        let (reply, _) = self
            .call(true, |s| {
                self.http.request(Method::POST, &url).json(&json!({
                    "repo": s.did,
                    "collection": POST_COLLECTION,
                    "rkey": at.rkey,
                }))
            })
            .await?;
        success(&reply).map(|_| ())
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        #[derive(Deserialize)]
        struct Listing {
            records: Vec<Listed>,
            #[serde(default)]
            cursor: Option<String>,
        }
        #[derive(Deserialize)]
        struct Listed {
            uri: String,
            cid: String,
            value: Value,
        }
        let url = self.xrpc("com.atproto.repo.listRecords");
        let limit = LOOKUP_PAGE.to_string();
        let parent = post.reply_to.as_ref().map(|p| p.id.as_str());
        let mut cursor: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let (reply, session) = self
                .call(false, |s| {
                    let mut query = vec![
                        ("repo", s.did.as_str()),
                        ("collection", POST_COLLECTION),
                        ("limit", limit.as_str()),
                    ];
                    if let Some(c) = &cursor {
                        query.push(("cursor", c.as_str()));
                    }
                    self.http.request(Method::GET, &url).query(&query)
                })
                .await?;
            let listing: Listing = success(&reply)?.json().map_err(nothing_changed)?;
            let found = listing.records.iter().find(|r| {
                r.value.get("text").and_then(Value::as_str) == Some(post.text.as_str())
                    && (parent.is_none()
                        || r.value.pointer("/reply/parent/uri").and_then(Value::as_str) == parent)
            });
            if let Some(record) = found {
                return Ok(self.remote(&record.uri, &record.cid, &session));
            }
            // A short page or no cursor is the end of the repository: certainly not posted.
            let full = u32::try_from(listing.records.len()).is_ok_and(|n| n >= LOOKUP_PAGE);
            match listing.cursor {
                Some(next) if full => cursor = Some(next),
                _ => return Ok(None),
            }
        }
        Err(ConnectorError::Unknown(format!(
            "not among the repository's {} most recent posts, and older ones were not searched",
            LOOKUP_PAGES * LOOKUP_PAGE
        )))
    }

    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let url = self.xrpc("com.atproto.server.getSession");
        let (reply, _) = self
            .call(false, |_| self.http.request(Method::GET, &url))
            .await?;
        success(&reply).map(|_| ())
    }
}

/// The parts of an `at://` URI that name a record.
struct AtUri {
    authority: String,
    collection: String,
    rkey: String,
}

impl AtUri {
    fn parse(uri: &str) -> Option<AtUri> {
        let mut parts = uri.strip_prefix("at://")?.split('/');
        let (authority, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
        let safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '~'))
        };
        if parts.next().is_some() || !safe(authority) || !safe(collection) || !safe(rkey) {
            return None;
        }
        Some(AtUri {
            authority: authority.to_string(),
            collection: collection.to_string(),
            rkey: rkey.to_string(),
        })
    }
}

/// A reply's `{uri, cid}`: the CID travels in [`RemotePost::extra`].
fn strong_ref(post: &RemotePost) -> Result<Value, ConnectorError> {
    let cid = post.extra.as_deref().filter(|c| !c.is_empty());
    match (AtUri::parse(&post.id), cid) {
        (Some(_), Some(cid)) => Ok(json!({"uri": post.id, "cid": cid})),
        _ => Err(ConnectorError::Permanent(
            "the post replied to has no AT URI and CID to refer to".into(),
        )),
    }
}

fn is_safe_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

fn check_did(did: &str) -> Result<(), ConnectorError> {
    let ok = did.starts_with("did:")
        && did.len() <= 2048
        && did
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_' | '%'));
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Transient(
            "the session answer holds no valid DID".into(),
        ))
    }
}

/// Session calls and reads change nothing on the platform: an unreadable or cut-off
/// answer to them is a plain temporary failure, not an unknown outcome.
fn nothing_changed(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Unknown(why) => ConnectorError::Transient(why),
        other => other,
    }
}

/// An XRPC error body: `{"error": "Name", "message": "..."}`.
#[derive(Deserialize)]
struct XrpcError {
    error: String,
    #[serde(default)]
    message: Option<String>,
}

fn xrpc_error(reply: &Reply) -> Option<XrpcError> {
    serde_json::from_slice(&reply.body).ok()
}

/// Whether the access token was refused as expired: HTTP 400 (some servers say 401)
/// with `"error": "ExpiredToken"` (or `InvalidToken`).
fn is_expired_token(reply: &Reply) -> bool {
    // `InvalidToken` too: a cached session the PDS no longer knows (sessions revoked,
    // keys rotated) is renewed the same way, once, as the official agent does.
    matches!(reply.status.as_u16(), 400 | 401)
        && xrpc_error(reply).is_some_and(|e| e.error == "ExpiredToken" || e.error == "InvalidToken")
}

fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(error_for(reply))
    }
}

/// Classifies an XRPC failure. Named auth errors are `Auth` whatever the status.
fn error_for(reply: &Reply) -> ConnectorError {
    let code = reply.status.as_u16();
    let error = xrpc_error(reply);
    let name = error.as_ref().map(|e| e.error.as_str()).unwrap_or_default();
    let said = match &error {
        Some(XrpcError {
            error,
            message: Some(m),
        }) => printable(&format!("{error}: {m}")),
        Some(XrpcError {
            error,
            message: None,
        }) => printable(error),
        None => reply.excerpt(),
    };
    let what = format!("Bluesky HTTP {code}: {said}");
    const AUTH_ERRORS: [&str; 7] = [
        "AuthenticationRequired",
        "AuthMissing",
        "ExpiredToken",
        "InvalidToken",
        "AccountTakedown",
        "AccountDeactivated",
        "AuthFactorTokenRequired",
    ];
    if AUTH_ERRORS.contains(&name) {
        return ConnectorError::Auth(what);
    }
    reply.status_error_saying(what)
}
