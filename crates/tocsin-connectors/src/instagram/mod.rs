//! Instagram professional accounts through the Instagram API with Instagram Login
//! (`graph.instagram.com`): an image post or a carousel, replies as comments.
//!
//! `POST /{ig-user-id}/media` (`image_url`, `caption`, `alt_text`) makes a container;
//! Instagram fetches the image from `image_url` itself, so the image must have its
//! `public_url` (`[server] public_url`). The container's `status_code` is read until it
//! is `FINISHED`, then `POST /{ig-user-id}/media_publish` (`creation_id`) publishes it.
//! Two to four images (a Tocsin draft carries at most four; Instagram takes up to ten)
//! make a carousel, as Meta's content publishing guide describes: one item container
//! per image (`image_url`, `alt_text`, `is_carousel_item=true`, no caption: album
//! children have none), each read until `FINISHED`, then a `media_type=CAROUSEL`
//! container (`children`, `caption`), read the same way and published; the carousel
//! counts once against the limit. Any item that fails fails the post and nothing is
//! published. Before the containers, `GET /{ig-user-id}/content_publishing_limit`
//! says how many posts the rolling 24 hours allow; none left is a rate limit, and what
//! is left comes back with the outcome (and with [`Connector::publishing_quota`]). A
//! post with a parent (a live session's update, a correction) is a comment on the
//! thread's first post (`POST /{ig-media-id}/comments`, `message`).
//! Media made through Instagram Login cannot be deleted through the API (Meta's IG Media
//! reference: deleting is for the Facebook Login API only), so `delete` is unsupported
//! and a retraction posts a correction. Errors are Graph errors ([`crate::meta`]).

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, PublishingQuota, RemotePost,
};
use tocsin_domain::counting::{measure, CountingRule, PlatformLimits};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
use crate::meta;
pub use config::InstagramConfig;

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Posts (or comments) read when reconciling.
const LOOKUP_PAGE: u32 = 100;
/// Reads of a container's status before giving up on it (it stays unpublished).
const CONTAINER_READS: u32 = 12;
/// The wait between two reads of a container's status (a minute in all, as Meta's
/// content publishing guide suggests for a container that is not ready).
const CONTAINER_POLL: Duration = Duration::from_secs(5);
/// What `RemotePost::extra` says for a comment (a reply), as opposed to a post.
const COMMENT: &str = "comment";
/// The widest and tallest aspect ratios Instagram takes for a feed image (1.91:1, 4:5).
const WIDEST: f64 = 1.91;
const TALLEST: f64 = 0.8;
/// The most images a post from Tocsin carries (a draft holds four; an Instagram
/// carousel could hold ten).
pub const MAX_IMAGES: usize = 4;
/// Instagram's largest image (8 MB).
const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// Instagram's subcode for "the account reached its posts for 24 hours".
const PUBLISHING_LIMIT_REACHED: i64 = 2_207_042;
/// The permission publishing needs.
const PUBLISH: &str = "instagram_business_content_publish";
/// The permission comments need.
const COMMENTS: &str = "instagram_business_manage_comments";
/// The permission reading needs.
const BASIC: &str = "instagram_business_basic";

/// One Instagram professional account.
pub struct InstagramConnector {
    http: HttpClient,
    config: InstagramConfig,
    token: SecretString,
    container_poll: Duration,
}

impl std::fmt::Debug for InstagramConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstagramConnector")
            .field("user_id", &self.config.user_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ContainerStatus {
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
}

/// The caption as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

/// What a reply comments on: the thread's first post when it is a post, so that a
/// session's updates are comments on it, else the comment it answers (a reply to it).
/// `None` for a post.
fn comment_target(post: &OutgoingPost) -> Option<&RemotePost> {
    let parent = post.reply_to.as_ref()?;
    let root = post
        .thread_root
        .as_ref()
        .filter(|r| r.extra.as_deref() != Some(COMMENT));
    Some(root.unwrap_or(parent))
}

/// Why Instagram would refuse this image, before anything is sent: it needs a public
/// URL to fetch, JPEG (the only image format the content publishing API takes), at most
/// 8 MB, and an aspect ratio between 4:5 and 1.91:1.
pub fn image_problem(image: &PostImage) -> Option<String> {
    if image.public_url.is_none() {
        return Some(
            "Instagram fetches the image from [server] public_url, which is not set".into(),
        );
    }
    if image.media_type != "image/jpeg" {
        return Some(format!(
            "Instagram takes JPEG images only; this image is {}",
            printable(&image.media_type)
        ));
    }
    if image.bytes.len() > MAX_IMAGE_BYTES {
        return Some(format!(
            "Instagram takes images up to 8 MB; this image is {} bytes",
            image.bytes.len()
        ));
    }
    if image.width > 0 && image.height > 0 {
        let ratio = f64::from(image.width) / f64::from(image.height);
        if !(TALLEST..=WIDEST).contains(&ratio) {
            return Some(format!(
                "Instagram takes aspect ratios from 4:5 to 1.91:1; this image is {}x{}",
                image.width, image.height
            ));
        }
    }
    None
}

impl InstagramConnector {
    /// A connector for the account in `config` using its Instagram user access `token`.
    pub fn new(http: HttpClient, config: InstagramConfig, token: SecretString) -> Self {
        InstagramConnector {
            http,
            config,
            token,
            container_poll: CONTAINER_POLL,
        }
    }

    /// The same connector waiting `wait` between reads of a container's status (tests).
    pub fn with_container_poll(mut self, wait: Duration) -> Self {
        self.container_poll = wait;
        self
    }

    /// Builds the connector from an account: settings checked by [`InstagramConfig`],
    /// the secret is the Instagram user access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = InstagramConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Instagram account {} has no access token", spec.id))
        })?;
        Ok(InstagramConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &InstagramConfig {
        &self.config
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, &format!("{}/{path}", self.config.base_url))
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// `reply` when it is a success, else its Graph error, naming `scope` when the token
    /// lacks it; Instagram's own "maximum posts in 24 hours" (subcode 2207042) is a rate
    /// limit whatever its code.
    fn success<'r>(&self, reply: &'r Reply, scope: &str) -> Result<&'r Reply, ConnectorError> {
        if !reply.status.is_success()
            && meta::parse(reply).and_then(|e| e.error_subcode) == Some(PUBLISHING_LIMIT_REACHED)
        {
            return Err(ConnectorError::RateLimited {
                retry_after: None,
                reason: "Instagram's publishing limit for the last 24 hours is reached".into(),
            });
        }
        meta::success_with_scope("Instagram", reply, scope)
    }

    /// `GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config`: how many
    /// posts the account made in the rolling 24 hours and how many it may (a carousel
    /// counts once).
    pub async fn publishing_limit(&self) -> Result<PublishingQuota, ConnectorError> {
        let path = format!(
            "{}/content_publishing_limit?fields=quota_usage,config",
            self.config.user_id
        );
        meta::read_publishing_quota(
            "Instagram",
            "content_publishing_limit",
            &self.http,
            self.authorized(Method::GET, &path),
            PUBLISH,
        )
        .await
    }

    /// Step one: a container (`POST /{ig-user-id}/media` with `form`). Nothing is
    /// visible yet, so an answer that was lost or unreadable is a plain (transient)
    /// failure.
    async fn create_container(&self, form: &[(&str, String)]) -> Result<String, ConnectorError> {
        let request = self
            .authorized(Method::POST, &format!("{}/media", self.config.user_id))
            .form(form);
        let reply = self.http.send(request, true).await.map_err(unpublished)?;
        let created: Created = self.success(&reply, PUBLISH)?.json().map_err(unpublished)?;
        check_id(&created.id).map_err(|_| {
            ConnectorError::Transient(
                "Instagram answered with a container id that is not a number (nothing was published)"
                    .into(),
            )
        })?;
        Ok(created.id)
    }

    /// Step two: reads the container's `status_code` until it is `FINISHED`
    /// ([`meta::await_container`], at most [`CONTAINER_READS`] times; the reason is in
    /// `status`). `what` names the container in errors (`the post`, `image 2 of 3`).
    async fn await_container(&self, container: &str, what: &str) -> Result<(), ConnectorError> {
        meta::await_container(
            "Instagram",
            what,
            CONTAINER_READS,
            self.container_poll,
            || async {
                let request = self.authorized(
                    Method::GET,
                    &format!("{container}?fields=status_code,status"),
                );
                let reply = self.http.send(request, false).await.map_err(unpublished)?;
                let status: ContainerStatus =
                    self.success(&reply, PUBLISH)?.json().map_err(unpublished)?;
                Ok(meta::ContainerState {
                    state: status.status_code,
                    reason: status.status,
                })
            },
        )
        .await
    }

    /// The images checked before anything is sent: one to [`MAX_IMAGES`], each one
    /// Instagram can fetch and take. Gives each with its public URL.
    fn checked_images(post: &OutgoingPost) -> Result<Vec<(&PostImage, &str)>, ConnectorError> {
        let count = post.images.len();
        if count == 0 {
            return Err(ConnectorError::Permanent(
                "Instagram needs an image: this post has none".into(),
            ));
        }
        if count > MAX_IMAGES {
            return Err(ConnectorError::Permanent(format!(
                "Instagram posts from Tocsin carry at most {MAX_IMAGES} images; this post has \
                 {count}"
            )));
        }
        post.images
            .iter()
            .enumerate()
            .map(|(i, image)| match image_problem(image) {
                Some(problem) if count > 1 => Err(ConnectorError::Permanent(format!(
                    "image {} of {count}: {problem}",
                    i + 1
                ))),
                Some(problem) => Err(ConnectorError::Permanent(problem)),
                None => Ok((image, image.public_url.as_deref().unwrap_or_default())),
            })
            .collect()
    }

    /// The container to publish: the image's own for one image; for several, an item
    /// container per image, each read until `FINISHED`, then the carousel's, which is
    /// read until `FINISHED` by the caller like a single image's.
    async fn prepare(
        &self,
        images: &[(&PostImage, &str)],
        caption: String,
    ) -> Result<String, ConnectorError> {
        if let [(image, url)] = images {
            let form = [
                ("image_url", url.to_string()),
                ("caption", caption),
                ("alt_text", image.alt.clone()),
            ];
            return self.create_container(&form).await;
        }
        let mut children = Vec::with_capacity(images.len());
        for (image, url) in images {
            let item = meta::carousel_item(url, &image.alt, None);
            children.push(self.create_container(&item).await?);
        }
        for (i, child) in children.iter().enumerate() {
            let what = format!("image {} of {}", i + 1, children.len());
            self.await_container(child, &what).await?;
        }
        self.create_container(&meta::carousel_album(&children, "caption", caption))
            .await
    }

    /// A post: the images checked, the publishing limit read, then the containers, their
    /// status and the publish.
    async fn publish(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let caption = sent_text(post);
        let measured = measure(
            Platform::Instagram,
            &CountingRule::INSTAGRAM,
            &caption,
            &PlatformLimits::default(),
        );
        if let Some(problem) = measured.problems().into_iter().next() {
            return Err(ConnectorError::Permanent(format!(
                "the caption does not fit Instagram: {problem}"
            )));
        }
        let images = Self::checked_images(post)?;
        // A read: an unknown outcome there was already made a plain failure.
        let limit = self.publishing_limit().await?;
        if limit.left() == 0 {
            return Err(ConnectorError::RateLimited {
                retry_after: None,
                reason: format!(
                    "Instagram's publishing limit: {} of {} posts in the last 24 hours",
                    limit.used, limit.total
                ),
            });
        }
        let carousel = images.len() > 1;
        let container = self.prepare(&images, caption).await?;
        let what = if carousel { "the carousel" } else { "the post" };
        self.await_container(&container, what).await?;
        let request = self
            .authorized(
                Method::POST,
                &format!("{}/media_publish", self.config.user_id),
            )
            .form(&[("creation_id", container.as_str())]);
        // From here a lost or unreadable answer may mean a published post: Unknown.
        let reply = self.http.send(request, true).await?;
        let published: Created = self.success(&reply, PUBLISH)?.json()?;
        check_id(&published.id).map_err(|_| {
            ConnectorError::Unknown(
                "Instagram answered with a media id that is not a number".into(),
            )
        })?;
        let url = self.permalink(&published.id).await;
        // A carousel counts once, as Meta's guide says.
        let after = PublishingQuota {
            used: limit.used.saturating_add(1),
            ..limit
        };
        Ok(PostOutcome {
            remote: RemotePost {
                id: published.id,
                url,
                extra: None,
            },
            rate_limit: Some(after.rate_limit_status()),
        })
    }

    /// A reply: a comment on the thread's first post, or a reply to the comment it
    /// answers when the first post is not known.
    async fn comment(
        &self,
        post: &OutgoingPost,
        target: &RemotePost,
    ) -> Result<PostOutcome, ConnectorError> {
        check_id(&target.id)?;
        let edge = if target.extra.as_deref() == Some(COMMENT) {
            "replies"
        } else {
            "comments"
        };
        let text = sent_text(post);
        let request = self
            .authorized(Method::POST, &format!("{}/{edge}", target.id))
            .form(&[("message", text.as_str())]);
        let reply = self.http.send(request, true).await?;
        let created: Created = self.success(&reply, COMMENTS)?.json()?;
        check_id(&created.id).map_err(|_| {
            ConnectorError::Unknown(
                "Instagram answered with a comment id that is not a number".into(),
            )
        })?;
        Ok(PostOutcome::new(comment_remote(&created.id)))
    }

    /// The post's link, if Instagram gives it; a failure here does not undo the post.
    async fn permalink(&self, media_id: &str) -> Option<String> {
        let request = self.authorized(Method::GET, &format!("{media_id}?fields=permalink"));
        let reply = self.http.send(request, false).await.ok()?;
        let item: Item = self.success(&reply, BASIC).ok()?.json().ok()?;
        item.permalink
    }
}

fn comment_remote(id: &str) -> RemotePost {
    RemotePost {
        id: id.to_string(),
        url: None,
        extra: Some(COMMENT.into()),
    }
}

/// Before the publish nothing is visible: a lost answer is a plain failure.
fn unpublished(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Unknown(why) => {
            ConnectorError::Transient(format!("{why} (nothing was published)"))
        }
        other => other,
    }
}

#[async_trait]
impl Connector for InstagramConnector {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn can_delete(&self) -> bool {
        false
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        match comment_target(post) {
            Some(target) => self.comment(post, target).await,
            None => self.publish(post).await,
        }
    }

    async fn delete(&self, _remote: &RemotePost) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Instagram's API deletes no media made through Instagram Login; a retraction \
             posts a correction instead"
                .into(),
        ))
    }

    /// Reads the account's 100 most recent posts (`/{ig-user-id}/media`) or, for a
    /// reply, the comments it was made on, for one with this exact text.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let text = sent_text(post);
        let target = comment_target(post);
        let (path, scope) = match target {
            Some(parent) => {
                check_id(&parent.id)?;
                let edge = if parent.extra.as_deref() == Some(COMMENT) {
                    "replies"
                } else {
                    "comments"
                };
                (
                    format!("{}/{edge}?fields=id,text&limit={LOOKUP_PAGE}", parent.id),
                    COMMENTS,
                )
            }
            None => (
                format!(
                    "{}/media?fields=id,caption,permalink,timestamp&limit={LOOKUP_PAGE}",
                    self.config.user_id
                ),
                BASIC,
            ),
        };
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let listing: meta::Listing<Item> = self
            .success(&reply, scope)?
            .json()
            .map_err(ConnectorError::for_read)?;
        let more = listing.has_next();
        let found = listing.data.into_iter().find(|item| {
            let said = if target.is_some() {
                &item.text
            } else {
                &item.caption
            };
            said.as_deref() == Some(text.as_str())
        });
        if let Some(item) = found {
            check_id(&item.id)?;
            return Ok(Some(if target.is_some() {
                comment_remote(&item.id)
            } else {
                RemotePost {
                    id: item.id,
                    url: item.permalink,
                    extra: None,
                }
            }));
        }
        if more {
            return Err(ConnectorError::Unknown(format!(
                "not among the {LOOKUP_PAGE} most recent, and older ones were not searched"
            )));
        }
        Ok(None)
    }

    /// The account's publishing limit ([`InstagramConnector::publishing_limit`]).
    async fn publishing_quota(&self) -> Result<Option<PublishingQuota>, ConnectorError> {
        self.publishing_limit().await.map(Some)
    }

    /// `GET /me?fields=user_id,username`: the token works for this account.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let reply = self
            .http
            .send(
                self.authorized(Method::GET, "me?fields=user_id,username"),
                false,
            )
            .await?;
        #[derive(Deserialize)]
        struct Me {
            #[serde(default)]
            user_id: Option<serde_json::Value>,
        }
        let me: Me = self
            .success(&reply, BASIC)?
            .json()
            .map_err(ConnectorError::for_read)?;
        let id = match me.user_id {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if id == self.config.user_id {
            Ok(())
        } else {
            Err(ConnectorError::Config(
                "the Instagram API answered for a different account than user_id".into(),
            ))
        }
    }
}

/// Instagram media, container, comment and user ids are digits; anything else is refused
/// before it reaches a URL path.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not an Instagram id",
            printable(id)
        )))
    }
}
