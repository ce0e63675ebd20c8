//! LinkedIn organisation pages through the versioned Posts API.
//!
//! `POST /rest/posts` with `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`; the
//! new post's URN comes back in `x-restli-id`. `commentary` is "little" text
//! ([`little_text_escape`]). Replies are comments (`POST /rest/socialActions/{urn}/comments`);
//! delete is `DELETE /rest/posts/{urn}`. No idempotency key: lookup lists the author's posts.
//! Images go through the Images API (`POST /rest/images?action=initializeUpload`, then
//! the bytes `PUT` to the upload URL) and the post names them in `content.media` (one)
//! or `content.multiImage.images` (several), each with its `altText`. A comment (a live
//! session's update) carries its text only. An image no post uses is not deleted (the
//! Images API has no delete for it).

pub mod config;
mod descriptor;
mod little;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::LinkedinConfig;
pub use little::{little_text_escape, RESERVED};

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Longest `commentary`, in characters.
pub const MAX_CHARS: usize = 3000;
/// Images on one post (a multi-image post takes up to 20; Tocsin sends at most four).
pub const MAX_IMAGES: usize = 4;
/// Largest image Tocsin uploads (LinkedIn's documented ceiling is 36 megapixels; a
/// file this size is far past what an alert needs).
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Longest `altText`.
pub const MAX_ALT_CHARS: usize = 4086;
/// Posts read when reconciling.
const LOOKUP_PAGE: u32 = 50;

/// One LinkedIn organisation page.
pub struct LinkedinConnector {
    http: HttpClient,
    config: LinkedinConfig,
    token: SecretString,
}

impl std::fmt::Debug for LinkedinConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedinConnector")
            .field("organization_id", &self.config.organization_id)
            .finish_non_exhaustive()
    }
}

/// The post a reply comments on (`None` for a post): the thread's first post when it is
/// a post, else the post the reply answers, or, when that is a comment, the post the
/// comment is on (its `extra` names it). Every reply is thus a top-level comment on a
/// post: LinkedIn nests comments one level only (a comment on a comment carries
/// `parentComment`, and a reply to such a reply is refused), and a session's updates
/// read best as comments on its first post.
fn comment_target(post: &OutgoingPost) -> Option<String> {
    let parent = post.reply_to.as_ref()?;
    if let Some(root) = post.thread_root.as_ref().filter(|r| r.extra.is_none()) {
        return Some(root.id.clone());
    }
    let on = parent
        .extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<CommentRef>(e).ok());
    Some(on.map_or_else(|| parent.id.clone(), |c| c.object))
}

/// What `RemotePost::extra` holds for a comment: the post it is on and its own id, which
/// its delete path needs.
#[derive(Debug, Serialize, Deserialize)]
struct CommentRef {
    object: String,
    comment_id: String,
}

#[derive(Debug, Deserialize)]
struct Elements<T> {
    #[serde(default = "Vec::new")]
    elements: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct Post {
    id: String,
    #[serde(default)]
    commentary: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(rename = "$URN", default)]
    urn: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    text: String,
}

/// The text as sent (before little escaping): an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

/// A URN percent-encoded for a URL path or query (`:`, `(`, `)`, `,` included).
fn encode(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

impl LinkedinConnector {
    /// A connector for the organisation in `config` using a member `token` allowed to
    /// post for it.
    pub fn new(http: HttpClient, config: LinkedinConfig, token: SecretString) -> Self {
        LinkedinConnector {
            http,
            config,
            token,
        }
    }

    /// Builds the connector from an account: settings checked by [`LinkedinConfig`],
    /// the secret is the OAuth 2 access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = LinkedinConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("LinkedIn account {} has no access token", spec.id))
        })?;
        Ok(LinkedinConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &LinkedinConfig {
        &self.config
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, &format!("{}{path}", self.config.base_url))
            .bearer_auth(self.token.expose_secret())
            .header("LinkedIn-Version", &self.config.linkedin_version)
            .header("X-Restli-Protocol-Version", "2.0.0")
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Uploads the post's images through the Images API and gives the post's `content`:
    /// `media` for one image, `multiImage` for several, each with its `altText`.
    async fn images_content(&self, post: &OutgoingPost) -> Result<Option<Value>, ConnectorError> {
        if post.images.is_empty() {
            return Ok(None);
        }
        crate::media::check_images(&post.images, "LinkedIn", MAX_IMAGES, MAX_IMAGE_BYTES)?;
        let mut entries = Vec::with_capacity(post.images.len());
        for image in &post.images {
            if image.alt.chars().count() > MAX_ALT_CHARS {
                return Err(ConnectorError::Permanent(format!(
                    "an image description is longer than LinkedIn's {MAX_ALT_CHARS} characters"
                )));
            }
            let urn = self.upload(image).await?;
            entries.push(json!({ "id": urn, "altText": image.alt }));
        }
        Ok(Some(match entries.as_slice() {
            [one] => json!({ "media": one }),
            _ => json!({ "multiImage": { "images": entries } }),
        }))
    }

    /// `POST /rest/images?action=initializeUpload`, then the bytes `PUT` to the upload
    /// URL it gave; the image's URN.
    async fn upload(&self, image: &PostImage) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Initialized {
            upload_url: String,
            image: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            value: Initialized,
        }
        let request = self
            .authorized(Method::POST, "/rest/images?action=initializeUpload")
            .json(&json!({ "initializeUploadRequest": { "owner": self.config.author() } }));
        let reply = self.http.send(request, false).await?;
        success(&reply)?;
        let answer: Answer = reply.json().map_err(ConnectorError::for_read)?;
        if !answer.value.image.starts_with("urn:li:image:") {
            return Err(ConnectorError::Transient(
                "LinkedIn initializeUpload answered without an image URN".into(),
            ));
        }
        let request = self
            .http
            .request(Method::PUT, &answer.value.upload_url)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, image.media_type.as_str())
            .body(image.bytes.clone());
        let reply = self.http.send(request, false).await?;
        success(&reply)?;
        Ok(answer.value.image)
    }

    fn post_remote(urn: &str) -> RemotePost {
        RemotePost {
            id: urn.to_string(),
            url: Some(format!("https://www.linkedin.com/feed/update/{urn}/")),
            extra: None,
        }
    }

    fn comment_remote(object: &str, comment: &Comment) -> RemotePost {
        let extra = serde_json::to_string(&CommentRef {
            object: object.to_string(),
            comment_id: comment.id.clone(),
        })
        .ok();
        RemotePost {
            id: comment.urn.clone().unwrap_or_else(|| comment.id.clone()),
            url: None,
            extra,
        }
    }

    async fn comment(&self, parent: &str, text: &str) -> Result<PostOutcome, ConnectorError> {
        check_urn(parent)?;
        let body = json!({
            "actor": self.config.author(),
            "object": parent,
            "message": { "text": text },
        });
        let path = format!("/rest/socialActions/{}/comments", encode(parent));
        let reply = self
            .http
            .send(self.authorized(Method::POST, &path).json(&body), true)
            .await?;
        let comment: Comment = success(&reply)?.json()?;
        check_id(&comment.id).map_err(|_| {
            ConnectorError::Unknown("LinkedIn answered with a comment id it should not".into())
        })?;
        Ok(PostOutcome::new(Self::comment_remote(parent, &comment)))
    }

    async fn author_posts(&self, count: u32) -> Result<Vec<Post>, ConnectorError> {
        let path = format!(
            "/rest/posts?author={}&q=author&count={count}&sortBy=LAST_MODIFIED",
            encode(&self.config.author())
        );
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let page: Elements<Post> = read_success(&reply)?
            .json()
            .map_err(ConnectorError::for_read)?;
        Ok(page.elements)
    }
}

#[async_trait]
impl Connector for LinkedinConnector {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    /// A post, or for a reply a comment on the earlier post. Comments are sent as plain
    /// text: little escaping is documented for `commentary` only.
    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let text = sent_text(post);
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "the post has {chars} characters; LinkedIn takes at most {MAX_CHARS}"
            )));
        }
        if let Some(parent) = comment_target(post) {
            // A comment carries text only here: its images are not sent.
            return self.comment(&parent, &text).await;
        }
        let content = self.images_content(post).await?;
        let mut body = json!({
            "author": self.config.author(),
            "commentary": little_text_escape(&text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        if let (Some(content), Some(object)) = (content, body.as_object_mut()) {
            object.insert("content".into(), content);
        }
        let request = self.authorized(Method::POST, "/rest/posts").json(&body);
        let reply = self.http.send(request, true).await?;
        success(&reply)?;
        let urn = reply
            .headers
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|u| check_urn(u).is_ok())
            .ok_or_else(|| {
                ConnectorError::Unknown(format!(
                    "LinkedIn answered HTTP {} without a post URN in x-restli-id",
                    reply.status.as_u16()
                ))
            })?;
        Ok(PostOutcome::new(Self::post_remote(urn)))
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        let comment: Option<CommentRef> = remote
            .extra
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok());
        let path = match &comment {
            Some(c) => {
                check_urn(&c.object)?;
                check_id(&c.comment_id)?;
                format!(
                    "/rest/socialActions/{}/comments/{}?actor={}",
                    encode(&c.object),
                    c.comment_id,
                    encode(&self.config.author())
                )
            }
            None => {
                check_urn(&remote.id)?;
                format!("/rest/posts/{}", encode(&remote.id))
            }
        };
        let reply = self
            .http
            .send(self.authorized(Method::DELETE, &path), true)
            .await?;
        // Already gone is what a retraction wants.
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        success(&reply).map(|_| ())
    }

    /// Lists the organisation's 50 most recent posts (or, for a reply, the comments on
    /// the parent by the organisation) for one with this text.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let text = sent_text(post);
        if let Some(parent) = comment_target(post) {
            check_urn(&parent)?;
            let path = format!("/rest/socialActions/{}/comments?count=100", encode(&parent));
            let reply = self
                .http
                .send(self.authorized(Method::GET, &path), false)
                .await?;
            let page: Elements<Comment> = read_success(&reply)?
                .json()
                .map_err(ConnectorError::for_read)?;
            let author = self.config.author();
            return Ok(page
                .elements
                .iter()
                .find(|c| {
                    c.actor.as_deref() == Some(author.as_str())
                        && c.message.as_ref().is_some_and(|m| m.text == text)
                })
                .map(|c| Self::comment_remote(&parent, c)));
        }
        let commentary = little_text_escape(&text);
        let posts = self.author_posts(LOOKUP_PAGE).await?;
        if let Some(found) = posts
            .iter()
            .find(|p| p.commentary.as_deref() == Some(commentary.as_str()))
        {
            check_urn(&found.id)?;
            return Ok(Some(Self::post_remote(&found.id)));
        }
        if posts.len() >= LOOKUP_PAGE as usize {
            return Err(ConnectorError::Unknown(format!(
                "not among the organisation's {LOOKUP_PAGE} most recent posts, and older ones were not searched"
            )));
        }
        Ok(None)
    }

    /// Reads one of the organisation's posts: the token, the version header and the
    /// organisation role all work.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        self.author_posts(1).await.map(|_| ())
    }
}

fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(error_for(reply))
    }
}

/// As [`success`], for reading the organization's posts and comments back: a 403 there
/// means the token lacks `r_organization_social`, which no retry grants (and which does
/// not stop the account posting), so it is permanent and says so rather than `Auth`.
fn read_success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.as_u16() == 403 {
        return Err(ConnectorError::Permanent(format!(
            "{}: reading posts back needs the r_organization_social permission; connect the \
             account again with Connect with LinkedIn to grant it",
            error_for(reply)
        )));
    }
    success(reply)
}

/// LinkedIn's error answers: `{"message", "status", "serviceErrorCode", "code"}`. A 426
/// means the `LinkedIn-Version` is no longer served: a setting to change, not a retry.
fn error_for(reply: &Reply) -> ConnectorError {
    #[derive(Deserialize)]
    struct LinkedinError {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<String>,
    }
    let status = reply.status.as_u16();
    let parsed = serde_json::from_slice::<LinkedinError>(&reply.body).ok();
    let said = parsed
        .as_ref()
        .and_then(|e| match (&e.code, &e.message) {
            (Some(code), Some(m)) => Some(format!("{code}: {m}")),
            (None, Some(m)) => Some(m.clone()),
            (Some(code), None) => Some(code.clone()),
            (None, None) => None,
        })
        .map_or_else(|| reply.excerpt(), |t| printable(&t));
    let what = format!("LinkedIn HTTP {status}: {said}");
    match status {
        426 => ConnectorError::Config(format!(
            "{what}: set linkedin_version to a version LinkedIn still serves"
        )),
        _ => reply.status_error_saying(what),
    }
}

/// A LinkedIn URN as we accept it back: `urn:li:` then letters, digits and `:(),_-`.
fn check_urn(urn: &str) -> Result<(), ConnectorError> {
    let ok = urn.starts_with("urn:li:")
        && urn.len() <= 200
        && urn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":(),_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a LinkedIn URN",
            printable(urn)
        )))
    }
}

/// Comment ids are digits.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a LinkedIn comment id",
            printable(id)
        )))
    }
}
