//! Matrix rooms through the client-server API (v3): one account, one room, `m.room.message`.
//!
//! A send is `PUT /rooms/{roomId}/send/m.room.message/{txnId}` with the transaction id
//! derived from the idempotency key and the text, so a send whose outcome is unknown is
//! simply sent again and the homeserver answers with the same event. Transaction ids are
//! scoped to the token's device, not to Tocsin's database: a key that repeats in another
//! installation on the same token would get the first installation's event back and its
//! message would be lost silently, so the text is part of the id. Every event carries an
//! HTML `formatted_body`; thread updates carry an `m.thread` relation; deletion is a
//! redaction (of an event already gone: done); reconciliation reads the latest events.
//! Room ids are either `!opaque:server` or, from room version 12 on, `!` and 43
//! base64url characters with no server, so links name the server with `via=`.
//!
//! Images go up to the media repository first (`POST /_matrix/media/v3/upload`, the
//! bytes with their type), then, after the text event, each is an `m.image` event
//! whose `body` is its alt text (no `filename`, so clients read `body` as the image's
//! description, not as a caption), with `url` (the `mxc://` URI) and `info` (`mimetype`,
//! `w`, `h`, `size`), in the text's thread and replying to it. The image events' ids
//! travel in [`RemotePost::extra`] so a retraction redacts them too. The client API has
//! no call to delete an upload, so one a failed post leaves behind stays in the media
//! repository (a server admin can purge it).

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use base64::Engine;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tocsin_connector::http::{HttpClient, Reply};
use tocsin_connector::rate_limit::{rate_limit_status, retry_after};
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;
use url::Url;

use crate::account::AccountSpec;
pub use config::MatrixConfig;

/// Events per page when reconciling (`limit` of `/messages`).
const LOOKUP_PAGE: usize = 50;
/// Pages read before giving up on certainty (the post, if it exists, is recent).
const LOOKUP_PAGES: usize = 4;
/// Matrix refuses events over 65,536 bytes, envelope included; the content must leave
/// room for the envelope (ids, signatures, hashes).
const MAX_CONTENT_BYTES: usize = 60_000;
/// The longest `retry_after_ms` believed; anything larger is treated as absent.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The Matrix transaction id for an idempotency key: `tocsin.` and the URL-safe base64
/// of the key's SHA-256, so any key becomes a short, path-safe, stable id.
pub fn transaction_id(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!(
        "tocsin.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// The transaction id of a post: [`transaction_id`] of its idempotency key and its text,
/// so that the same key from another installation (another database counting messages
/// from 1 again) with another text makes a new event instead of getting an old one back.
/// A repeat of the same post (same key, same text) has the same id.
pub fn post_transaction_id(post: &OutgoingPost) -> String {
    transaction_id(&format!("{}\n{}", post.idempotency_key, post.text))
}

/// Plain text as Matrix HTML: escaped, links made clickable, line breaks kept.
pub fn text_to_html(text: &str) -> String {
    let urls = tocsin_domain::counting::find_urls(text);
    let mut html = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for range in urls {
        let (Some(before), Some(shown)) = (text.get(at..range.start), text.get(range.clone()))
        else {
            continue;
        };
        escape_into(&mut html, before);
        let href = if shown.starts_with("http://") || shown.starts_with("https://") {
            shown.to_string()
        } else {
            format!("https://{shown}")
        };
        html.push_str("<a href=\"");
        escape_into(&mut html, &href);
        html.push_str("\">");
        escape_into(&mut html, shown);
        html.push_str("</a>");
        at = range.end;
    }
    escape_into(&mut html, text.get(at..).unwrap_or_default());
    html
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
}

/// Where an image event goes: in the text's thread, replying to the text event; a
/// post outside any thread gets none, so the images follow it in the timeline.
fn image_relation(post: &OutgoingPost, text_id: &str) -> Option<Value> {
    let root = post.thread_root.as_ref().or(post.reply_to.as_ref())?;
    Some(json!({
        "rel_type": "m.thread",
        "event_id": root.id,
        "is_falling_back": true,
        "m.in_reply_to": { "event_id": text_id },
    }))
}

/// What [`RemotePost::extra`] starts with when it lists a post's image events.
const IMAGE_EVENTS: &str = "images:";

/// The `m.room.message` content for a post: `m.text` with the plain body, and HTML as
/// `formatted_body` (the post's own HTML, or the text made HTML), and an `m.thread` relation for thread updates
/// (`m.in_reply_to` points at the previous post, marked as a fallback for clients
/// without threads).
pub fn message_content(post: &OutgoingPost) -> Value {
    let mut content = serde_json::Map::new();
    content.insert("msgtype".into(), json!("m.text"));
    content.insert("body".into(), json!(post.text));
    let html = post
        .html
        .clone()
        .unwrap_or_else(|| text_to_html(&post.text));
    content.insert("format".into(), json!("org.matrix.custom.html"));
    content.insert("formatted_body".into(), json!(html));
    let parent = post.reply_to.as_ref().or(post.thread_root.as_ref());
    let root = post.thread_root.as_ref().or(post.reply_to.as_ref());
    if let (Some(parent), Some(root)) = (parent, root) {
        let relation = json!({
            "rel_type": "m.thread",
            "event_id": root.id,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": parent.id },
        });
        content.insert("m.relates_to".into(), relation);
    }
    if post.exercise {
        // A namespaced key: clients ignore it, bridges and bots can read it.
        content.insert("org.tocsin.exercise".into(), json!(true));
    }
    Value::Object(content)
}

/// One Matrix account posting into one room.
pub struct MatrixConnector {
    http: HttpClient,
    config: MatrixConfig,
    homeserver: Url,
    token: SecretString,
    user_id: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for MatrixConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixConnector")
            .field("homeserver", &self.config.homeserver)
            .field("room_id", &self.config.room_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct EventIdAnswer {
    event_id: String,
}

#[derive(Debug, Deserialize)]
struct WhoAmI {
    user_id: String,
}

#[derive(Debug, Deserialize)]
struct JoinedRooms {
    joined_rooms: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct MessagesPage {
    #[serde(default)]
    chunk: Vec<RoomEvent>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RoomEvent {
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    content: Value,
    #[serde(default)]
    unsigned: Value,
}

impl RoomEvent {
    /// Whether this event is `post` as sent by `user_id`: the same transaction id (the
    /// homeserver shows it to the device that sent it), or the same text in the same
    /// thread.
    fn is(&self, post: &OutgoingPost, txn_id: &str, user_id: &str) -> bool {
        if self.event_type != "m.room.message" || self.sender != user_id {
            return false;
        }
        if self.unsigned.get("transaction_id").and_then(Value::as_str) == Some(txn_id) {
            return true;
        }
        let same_text =
            self.content.get("body").and_then(Value::as_str) == Some(post.text.as_str());
        let root = post
            .thread_root
            .as_ref()
            .or(post.reply_to.as_ref())
            .map(|r| r.id.as_str());
        let event_root = self
            .content
            .get("m.relates_to")
            .and_then(|r| r.get("event_id"))
            .and_then(Value::as_str);
        same_text && root == event_root
    }
}

/// Whether `name` looks like a Matrix server name (host, optional port): safe in a URL.
fn is_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[derive(Debug, Default, Deserialize)]
struct MatrixErrorBody {
    #[serde(default)]
    errcode: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

/// Text from a platform answer made safe for an error message: no control characters,
/// at most 200 characters.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// What a non-success answer from a homeserver means. Matrix puts its reason in the
/// body (`errcode`), so that is read first; the status is the fallback: `M_UNKNOWN_TOKEN`
/// (401) is `Auth`, `M_FORBIDDEN` (403: not in the room, banned, too low a power level)
/// and `M_TOO_LARGE` (413) are `Permanent`, `M_LIMIT_EXCEEDED` (429) waits
/// `retry_after_ms`.
pub fn matrix_error(reply: &Reply) -> ConnectorError {
    let code = reply.status.as_u16();
    let body: MatrixErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
    let what = if body.errcode.is_empty() {
        format!("HTTP {code}: {}", reply.excerpt())
    } else {
        format!(
            "HTTP {code} {}: {}",
            clean(&body.errcode),
            clean(&body.error)
        )
    };
    let rate_limited = |what: String| ConnectorError::RateLimited {
        retry_after: body
            .retry_after_ms
            .map(Duration::from_millis)
            .filter(|d| *d <= MAX_RETRY_AFTER)
            .or_else(|| retry_after(&reply.headers)),
        reason: what,
    };
    let token_refused = |what: String| {
        ConnectorError::Auth(format!("the homeserver refused the access token ({what})"))
    };
    let forbidden = |what: String| {
        ConnectorError::Permanent(format!(
            "the account may not post in this room: not joined, banned, or below the needed power level ({what})"
        ))
    };
    match (body.errcode.as_str(), code) {
        ("M_LIMIT_EXCEEDED", _) | (_, 429) => rate_limited(what),
        ("M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN", _) | (_, 401) => token_refused(what),
        ("M_FORBIDDEN", _) | (_, 403) => forbidden(what),
        ("M_TOO_LARGE", _) | (_, 413) => {
            ConnectorError::Permanent(format!("the event is too large ({what})"))
        }
        (_, 408 | 500..=599) => ConnectorError::Transient(what),
        _ => ConnectorError::Permanent(what),
    }
}

impl MatrixConnector {
    /// A connector for `config`'s room, authenticating with `token`.
    pub fn new(
        http: HttpClient,
        config: MatrixConfig,
        token: SecretString,
    ) -> Result<Self, ConnectorError> {
        let homeserver = config.homeserver_url()?;
        if homeserver.cannot_be_a_base() {
            return Err(ConnectorError::Config("homeserver: not a base URL".into()));
        }
        Ok(MatrixConnector {
            http,
            config,
            homeserver,
            token,
            user_id: tokio::sync::OnceCell::new(),
        })
    }

    /// Builds the connector from an account: settings checked by [`MatrixConfig`], the
    /// secret is the access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = MatrixConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Matrix account {} has no access token", spec.id))
        })?;
        MatrixConnector::new(http.clone(), config, token)
    }

    /// The account's settings.
    pub fn config(&self) -> &MatrixConfig {
        &self.config
    }

    /// `{homeserver}/_matrix/client/v3/{segments}`, each segment percent-encoded.
    fn endpoint(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self.homeserver.clone();
        url.set_query(None);
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ConnectorError::Config("homeserver: not a base URL".into()))?;
            path.pop_if_empty()
                .extend(["_matrix", "client", "v3"])
                .extend(segments);
        }
        Ok(url)
    }

    fn authorized(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        self.http
            .request(method, url.as_str())
            .bearer_auth(self.token.expose_secret())
    }

    /// The event as a remote post, its link on matrix.to naming a server to join
    /// through (`via=`): a version-12 room id names none.
    fn remote(&self, event_id: &str, via: &str) -> RemotePost {
        RemotePost {
            id: event_id.to_string(),
            url: Some(format!(
                "https://matrix.to/#/{}/{event_id}?via={via}",
                self.config.room_id
            )),
            extra: None,
        }
    }

    /// The server to name in links: the room id's (rooms before version 12), else the
    /// account's (from `whoami`, asked once), else the homeserver's host.
    async fn via(&self) -> String {
        if let Some((_, server)) = self.config.room_id.split_once(':') {
            return server.to_string();
        }
        if let Ok(user) = self.user_id().await {
            if let Some((_, server)) = user.split_once(':') {
                if is_server_name(server) {
                    return server.to_string();
                }
            }
        }
        self.homeserver
            .host_str()
            .unwrap_or("matrix.org")
            .to_string()
    }

    /// `GET /account/whoami`: whose token this is.
    async fn whoami(&self) -> Result<String, ConnectorError> {
        let url = self.endpoint(&["account", "whoami"])?;
        let reply = self
            .http
            .send(self.authorized(Method::GET, &url), false)
            .await?;
        if !reply.status.is_success() {
            return Err(matrix_error(&reply));
        }
        let me: WhoAmI = reply.json()?;
        Ok(me.user_id)
    }

    async fn user_id(&self) -> Result<&str, ConnectorError> {
        self.user_id
            .get_or_try_init(|| self.whoami())
            .await
            .map(String::as_str)
    }

    /// Uploads one image to the media repository; gives back its `mxc://` URI.
    async fn upload(&self, image: &PostImage) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        struct Uploaded {
            content_uri: String,
        }
        let mut url = self.homeserver.clone();
        url.set_query(None);
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ConnectorError::Config("homeserver: not a base URL".into()))?;
            path.pop_if_empty()
                .extend(["_matrix", "media", "v3", "upload"]);
        }
        url.query_pairs_mut()
            .append_pair("filename", &crate::media::file_name(image));
        let request = self
            .authorized(Method::POST, &url)
            .header(CONTENT_TYPE, image.media_type.as_str())
            .body(image.bytes.clone());
        // An upload nobody sees: a lost answer is a plain failure.
        let reply = self.http.send(request, false).await?;
        if !reply.status.is_success() {
            return Err(matrix_error(&reply));
        }
        let uploaded: Uploaded = reply.json().map_err(ConnectorError::for_read)?;
        if !uploaded.content_uri.starts_with("mxc://") {
            return Err(ConnectorError::Transient(
                "the media repository answered without an mxc:// URI".into(),
            ));
        }
        Ok(uploaded.content_uri)
    }

    /// Sends one `m.image` event for an uploaded image after the text event `text_id`.
    async fn send_image(
        &self,
        post: &OutgoingPost,
        index: usize,
        image: &PostImage,
        mxc: &str,
        text_id: &str,
    ) -> Result<String, ConnectorError> {
        let mut content = json!({
            "msgtype": "m.image",
            "body": image.alt,
            "url": mxc,
            "info": {
                "mimetype": image.media_type,
                "w": image.width,
                "h": image.height,
                "size": image.bytes.len(),
            },
        });
        if let Some(relation) = image_relation(post, text_id) {
            if let Some(object) = content.as_object_mut() {
                object.insert("m.relates_to".into(), relation);
            }
        }
        let body = serde_json::to_vec(&content)
            .map_err(|e| ConnectorError::Permanent(format!("cannot encode the event: {e}")))?;
        let txn_id = transaction_id(&format!("{}\nimage {index}", post_transaction_id(post)));
        let url = self.endpoint(&[
            "rooms",
            &self.config.room_id,
            "send",
            "m.room.message",
            &txn_id,
        ])?;
        let (event_id, _) = self.put_event(&url, body).await?;
        Ok(event_id)
    }

    /// Redacts one event (`PUT /rooms/{roomId}/redact/{eventId}/{txnId}`), with a
    /// transaction id derived from the event id so a repeated redaction is one redaction.
    /// An event the homeserver does not have (`404 M_NOT_FOUND`: already gone) is done.
    async fn redact(&self, event_id: &str) -> Result<(), ConnectorError> {
        let txn_id = transaction_id(&format!("redact:{event_id}"));
        let url = self.endpoint(&["rooms", &self.config.room_id, "redact", event_id, &txn_id])?;
        let body = serde_json::to_vec(&json!({ "reason": "Retracted" }))
            .map_err(|e| ConnectorError::Permanent(format!("cannot encode the redaction: {e}")))?;
        let request = self
            .authorized(Method::PUT, &url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let reply = self.http.send(request, true).await?;
        let not_found = reply.status.as_u16() == 404
            && serde_json::from_slice::<MatrixErrorBody>(&reply.body)
                .is_ok_and(|b| b.errcode == "M_NOT_FOUND");
        if reply.status.is_success() || not_found {
            Ok(())
        } else {
            Err(matrix_error(&reply))
        }
    }

    /// A PUT of a JSON body to `url`; the answer's `event_id`.
    async fn put_event(&self, url: &Url, body: Vec<u8>) -> Result<(String, Reply), ConnectorError> {
        let request = self
            .authorized(Method::PUT, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let reply = self.http.send(request, true).await?;
        if !reply.status.is_success() {
            return Err(matrix_error(&reply));
        }
        let answer: EventIdAnswer = reply.json()?;
        if answer.event_id.is_empty() {
            return Err(ConnectorError::Unknown(format!(
                "HTTP {} answer has an empty event_id",
                reply.status.as_u16()
            )));
        }
        Ok((answer.event_id, reply))
    }
}

#[async_trait]
impl Connector for MatrixConnector {
    fn platform(&self) -> Platform {
        Platform::Matrix
    }

    /// Transaction ids make a repeated send return the same event.
    fn idempotent(&self) -> bool {
        true
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let body = serde_json::to_vec(&message_content(post))
            .map_err(|e| ConnectorError::Permanent(format!("cannot encode the event: {e}")))?;
        if body.len() > MAX_CONTENT_BYTES {
            return Err(ConnectorError::Permanent(format!(
                "the event content is {} bytes; Matrix refuses events over 65,536 bytes",
                body.len()
            )));
        }
        // Every upload before any event: a refused image leaves the room untouched.
        let mut uploads = Vec::with_capacity(post.images.len());
        for image in &post.images {
            uploads.push(self.upload(image).await?);
        }
        let txn_id = post_transaction_id(post);
        let url = self.endpoint(&[
            "rooms",
            &self.config.room_id,
            "send",
            "m.room.message",
            &txn_id,
        ])?;
        let via = self.via().await;
        let (event_id, reply) = self.put_event(&url, body).await?;
        let mut remote = self.remote(&event_id, &via);
        let mut image_events = Vec::with_capacity(uploads.len());
        for (index, (image, mxc)) in post.images.iter().zip(&uploads).enumerate() {
            // A failure here leaves the text sent: the repeat (transaction ids) sends
            // the same text event and only the images still missing.
            image_events.push(self.send_image(post, index, image, mxc, &event_id).await?);
        }
        if !image_events.is_empty() {
            remote.extra = Some(format!("{IMAGE_EVENTS}{}", image_events.join(",")));
        }
        Ok(PostOutcome {
            remote,
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    /// Redacts the post's image events, then its text event (each redaction idempotent,
    /// an event already gone done).
    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        let images = remote
            .extra
            .as_deref()
            .and_then(|e| e.strip_prefix(IMAGE_EVENTS))
            .map(|ids| {
                ids.split(',')
                    .filter(|id| !id.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for image in images {
            self.redact(image).await?;
        }
        self.redact(&remote.id).await
    }

    /// Reads the room backwards (`GET /rooms/{roomId}/messages?dir=b&limit=50`) for an
    /// event this account sent with the post's transaction id or its exact text in the
    /// same thread. `Ok(None)` only when the start of the room was reached; if the post
    /// is not among the latest events but history goes on, the answer is `Unknown`.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let user_id = self.user_id().await?;
        let txn_id = post_transaction_id(post);
        let via = self.via().await;
        let mut from: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut url = self.endpoint(&["rooms", &self.config.room_id, "messages"])?;
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("dir", "b")
                    .append_pair("limit", &LOOKUP_PAGE.to_string());
                if let Some(from) = &from {
                    query.append_pair("from", from);
                }
            }
            let reply = self
                .http
                .send(self.authorized(Method::GET, &url), false)
                .await?;
            if !reply.status.is_success() {
                return Err(matrix_error(&reply));
            }
            let page: MessagesPage = reply.json()?;
            if let Some(event) = page.chunk.iter().find(|e| e.is(post, &txn_id, user_id)) {
                return Ok(Some(self.remote(&event.event_id, &via)));
            }
            match page.end {
                Some(end) if !page.chunk.is_empty() => from = Some(end),
                _ => return Ok(None),
            }
        }
        Err(ConnectorError::Unknown(format!(
            "the post is not among the room's latest {} events, and older history was not searched",
            LOOKUP_PAGE * LOOKUP_PAGES
        )))
    }

    /// `GET /account/whoami` (the token works), then `GET /joined_rooms` (the account
    /// is in the room).
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let user_id = self.whoami().await?;
        let _ = self.user_id.set(user_id.clone());
        let url = self.endpoint(&["joined_rooms"])?;
        let reply = self
            .http
            .send(self.authorized(Method::GET, &url), false)
            .await?;
        if !reply.status.is_success() {
            return Err(matrix_error(&reply));
        }
        let joined: JoinedRooms = reply.json()?;
        if joined
            .joined_rooms
            .iter()
            .any(|r| r == &self.config.room_id)
        {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "{} is not joined to room {}: invite the account and accept the invitation",
                clean(&user_id),
                self.config.room_id
            )))
        }
    }
}
