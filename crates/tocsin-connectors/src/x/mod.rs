//! X (formerly Twitter) through API v2: posts for one account with an OAuth 2 user token.
//!
//! `POST /2/tweets` (`text`, `reply.in_reply_to_tweet_id`), `DELETE /2/tweets/:id`;
//! reconciliation reads `GET /2/users/me` then the account's recent posts. X has no
//! idempotency key and refuses a duplicate text with 403, which is a permanent refusal
//! here (said as such), not an auth failure. `x-rate-limit-*` headers are read, and a
//! 429 at the per-user 24-hour cap waits for `x-user-limit-24hour-reset`.
//! Images go up first (`POST /2/media/upload`, multipart `media` and
//! `media_category=tweet_image`, which needs the `media.write` scope), each gets its
//! alt text by `POST /2/media/metadata` (`metadata.alt_text.text`), and the post names
//! them in `media.media_ids`. An upload no post uses expires by itself
//! (`expires_after_secs`); X has no call to delete one.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::rate_limit::rate_limit_status;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::XConfig;

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Images on one post.
pub const MAX_IMAGES: usize = 4;
/// Largest image X takes (5 MB).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Longest alt text X takes.
pub const MAX_ALT_CHARS: usize = 1000;
/// The scope media uploads need, besides posting's.
pub const MEDIA_SCOPE: &str = "media.write";

/// Posts read when reconciling (`max_results`, the API's maximum).
const LOOKUP_PAGE: u32 = 100;

/// One X account.
pub struct XConnector {
    http: HttpClient,
    config: XConfig,
    token: SecretString,
}

impl std::fmt::Debug for XConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XConnector")
            .field("username", &self.config.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
struct Tweet {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Deserialize)]
struct Timeline {
    #[serde(default)]
    data: Vec<Tweet>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
}

/// The text as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

/// Whether the text X shows (`returned`: `&`, `<`, `>` as entities, links replaced by
/// `https://t.co/...`) is the text we sent.
pub fn same_text(sent: &str, returned: &str) -> bool {
    let returned = returned
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let mut a = sent.split_whitespace();
    let mut b = returned.split_whitespace();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let link = (x.starts_with("https://") || x.starts_with("http://"))
                    && y.starts_with("https://t.co/");
                if x != y && !link {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

impl XConnector {
    /// A connector for the account named in `config` using its OAuth 2 user `token`.
    pub fn new(http: HttpClient, config: XConfig, token: SecretString) -> Self {
        XConnector {
            http,
            config,
            token,
        }
    }

    /// Builds the connector from an account: settings checked by [`XConfig`], the secret
    /// is the OAuth 2 user access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = XConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("X account {} has no access token", spec.id))
        })?;
        Ok(XConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &XConfig {
        &self.config
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, &format!("{}{path}", self.config.base_url))
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Uploads one image and sets its alt text; gives back the media id.
    async fn upload(&self, image: &PostImage, key: &str) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        if image.alt.chars().count() > MAX_ALT_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "an image description is longer than X's {MAX_ALT_CHARS} characters"
            )));
        }
        let (content_type, body) = crate::media::Multipart::new(&format!("{key}:{}", image.sha256))
            .file(
                "media",
                &crate::media::file_name(image),
                &image.media_type,
                &image.bytes,
            )
            .text("media_category", "tweet_image")
            .text("media_type", &image.media_type)
            .finish();
        let request = self
            .authorized(Method::POST, "/2/media/upload")
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let reply = self.http.send(request, false).await?;
        let uploaded: Data<Uploaded> = media_success(&reply)?
            .json()
            .map_err(ConnectorError::for_read)?;
        check_id(&uploaded.data.id)?;
        let request = self
            .authorized(Method::POST, "/2/media/metadata")
            .json(&json!({
                "id": uploaded.data.id,
                "metadata": {"alt_text": {"text": image.alt}},
            }));
        let reply = self.http.send(request, false).await?;
        media_success(&reply)?;
        Ok(uploaded.data.id)
    }

    fn remote(&self, id: &str) -> RemotePost {
        RemotePost {
            id: id.to_string(),
            url: Some(format!(
                "https://x.com/{}/status/{id}",
                self.config.username
            )),
            extra: None,
        }
    }

    async fn own_user_id(&self) -> Result<String, ConnectorError> {
        let reply = self
            .http
            .send(self.authorized(Method::GET, "/2/users/me"), false)
            .await?;
        let me: Data<User> = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        check_id(&me.data.id)?;
        Ok(me.data.id)
    }
}

#[async_trait]
impl Connector for XConnector {
    fn platform(&self) -> Platform {
        Platform::X
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let mut body = serde_json::Map::new();
        body.insert("text".into(), json!(sent_text(post)));
        if let Some(parent) = &post.reply_to {
            check_id(&parent.id)?;
            body.insert("reply".into(), json!({ "in_reply_to_tweet_id": parent.id }));
        }
        if !post.images.is_empty() {
            crate::media::check_images(&post.images, "X", MAX_IMAGES, MAX_IMAGE_BYTES)?;
            let mut ids = Vec::with_capacity(post.images.len());
            for image in &post.images {
                ids.push(self.upload(image, &post.idempotency_key).await?);
            }
            body.insert("media".into(), json!({ "media_ids": ids }));
        }
        let request = self.authorized(Method::POST, "/2/tweets").json(&body);
        let reply = self.http.send(request, true).await?;
        let created: Data<Tweet> = success(&reply)?.json()?;
        check_id(&created.data.id).map_err(|_| {
            ConnectorError::Unknown("X answered with a post id that is not a number".into())
        })?;
        Ok(PostOutcome {
            remote: self.remote(&created.data.id),
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        check_id(&remote.id)?;
        let request = self.authorized(Method::DELETE, &format!("/2/tweets/{}", remote.id));
        let reply = self.http.send(request, true).await?;
        // Already gone is what a retraction wants.
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        success(&reply).map(|_| ())
    }

    /// Reads the account's 100 most recent posts (`GET /2/users/:id/tweets`) for one
    /// with this text (and, for a reply, this parent). X shows links as `t.co` links, so
    /// a link matches any `t.co` link in the same place.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let user = self.own_user_id().await?;
        let path = format!(
            "/2/users/{user}/tweets?max_results={LOOKUP_PAGE}&tweet.fields=referenced_tweets"
        );
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let timeline: Timeline = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        let text = sent_text(post);
        let parent = post.reply_to.as_ref().map(|p| p.id.as_str());
        let found = timeline
            .data
            .iter()
            .filter(|t| {
                let replied_to = t
                    .referenced_tweets
                    .iter()
                    .find(|r| r.kind == "replied_to")
                    .map(|r| r.id.as_str());
                parent.is_none() || replied_to == parent
            })
            .find(|t| same_text(&text, &t.text));
        if let Some(tweet) = found {
            check_id(&tweet.id)?;
            return Ok(Some(self.remote(&tweet.id)));
        }
        if timeline.meta.and_then(|m| m.next_token).is_some() {
            return Err(ConnectorError::Unknown(format!(
                "not among the account's {LOOKUP_PAGE} most recent posts, and older ones were not searched"
            )));
        }
        Ok(None)
    }

    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        self.own_user_id().await.map(|_| ())
    }
}

fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(error_for(reply))
    }
}

/// A media call's failure: as any other, except that a 403 names the scope uploads
/// need (an account connected before images were sent may lack it).
fn media_success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.as_u16() == 403 {
        return Err(ConnectorError::Auth(format!(
            "X HTTP 403 on an image upload: {} (uploading images needs the {MEDIA_SCOPE} \
             scope; connect the account again and grant it)",
            reply.excerpt()
        )));
    }
    success(reply)
}

/// X's error answers: problem details (`{"title", "detail", "type", "status"}`) or the
/// older `{"errors": [{"message"}]}`. A 403 about duplicate content is a refusal of this
/// text, not of the token; any other 403 is the token's (X's body then names no scope, so
/// the error says which ones the call needs).
fn error_for(reply: &Reply) -> ConnectorError {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        detail: Option<String>,
        #[serde(default)]
        errors: Vec<Message>,
    }
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        message: Option<String>,
    }
    let code = reply.status.as_u16();
    let said = serde_json::from_slice::<Problem>(&reply.body)
        .ok()
        .and_then(|p| {
            p.detail
                .or_else(|| p.errors.into_iter().find_map(|e| e.message))
                .or(p.title)
        })
        .map_or_else(|| reply.excerpt(), |t| printable(&t));
    let what = format!("X HTTP {code}: {said}");
    if code == 403 && said.to_ascii_lowercase().contains("duplicate") {
        return ConnectorError::Permanent(format!(
            "{what} (X refuses a text identical to a recent post from the account)"
        ));
    }
    if code == 403 {
        return ConnectorError::Auth(format!(
            "{what} (the token lacks a scope this call needs, or the account may not use it: \
             posting and deleting need {}; connect the account again and grant them)",
            descriptor::WRITE_SCOPES.join(" ")
        ));
    }
    if let Some(wait) = daily_cap_wait(reply) {
        return ConnectorError::RateLimited {
            retry_after: Some(wait),
            reason: format!("{what} (the account's 24-hour post cap)"),
        };
    }
    reply.status_error_saying(what)
}

/// On a 429 at the per-user 24-hour cap (Free and Basic tiers), the wait until
/// `x-user-limit-24hour-reset` (epoch seconds): the 15-minute window's
/// `x-rate-limit-reset` may be long past by then.
fn daily_cap_wait(reply: &Reply) -> Option<std::time::Duration> {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if reply.status.as_u16() != 429 || header("x-user-limit-24hour-remaining") != Some("0") {
        return None;
    }
    let reset: i64 = header("x-user-limit-24hour-reset")?.parse().ok()?;
    let now = chrono::Utc::now().timestamp();
    u64::try_from(reset.saturating_sub(now))
        .ok()
        .map(std::time::Duration::from_secs)
}

/// X post and user ids are decimal numbers; anything else is refused before it reaches
/// a URL path.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    if !id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not an X post or user id",
            printable(id)
        )))
    }
}
