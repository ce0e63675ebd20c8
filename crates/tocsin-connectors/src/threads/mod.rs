//! Threads (Meta) through the Threads API: text posts for one profile, in two steps.
//!
//! `POST /{user-id}/threads` (`media_type=TEXT`, `text`, `reply_to_id`) makes a
//! container; its status is read (`GET /{container-id}?fields=status,error_message`) until
//! it is `FINISHED`, as Meta asks, and then `POST /{user-id}/threads_publish`
//! (`creation_id`) publishes it. A container that was made but not published is invisible
//! and harmless, so any failure before the publish is sent is a plain failure (a retry
//! makes a new container); only a publish whose answer was lost is `Unknown`. Delete:
//! `DELETE /{media-id}` (scope `threads_delete`); looking up a reply reads
//! `/{user-id}/replies` (scope `threads_read_replies`). The publishing quota (250 posts
//! in a rolling 24 hours) is read from `/{user-id}/threads_publishing_limit`. Errors
//! are Graph errors; a missing permission for one call fails that call, naming the
//! scope, and does not mark the account's token as refused.
//!
//! Images: Threads fetches an image itself from a public URL, so images go only when
//! each has a `public_url` (Tocsin serving it under `[server] public_url`): one is an
//! `IMAGE` container (`image_url`, `alt_text`, the text), several are carousel items
//! (`is_carousel_item=true`) gathered by a `CAROUSEL` container (`children`). Without
//! public URLs the text goes alone. A container never published is harmless.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostOutcome, PublishingQuota, RemotePost,
};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
use crate::meta;
pub use config::ThreadsConfig;

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Longest post, as Threads counts it (see [`threads_length`]).
pub const MAX_LENGTH: usize = 500;
/// Posts (or replies) read when reconciling.
const LOOKUP_PAGE: u32 = 100;
/// Reads of a container's status before giving up on it (it stays unpublished).
const CONTAINER_READS: u32 = 10;
/// The wait between two reads of a container's status.
const CONTAINER_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// One Threads profile.
pub struct ThreadsConnector {
    http: HttpClient,
    config: ThreadsConfig,
    token: SecretString,
    container_poll: std::time::Duration,
}

impl std::fmt::Debug for ThreadsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsConnector")
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
    status: String,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    replied_to: Option<Created>,
}

/// The text as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

/// A post's length as Threads counts it: characters, except that an emoji counts as its
/// UTF-8 bytes (Meta's documentation says so of emojis; 4-byte characters are taken as
/// emojis here).
pub fn threads_length(text: &str) -> usize {
    text.chars()
        .map(|c| if c.len_utf8() == 4 { 4 } else { 1 })
        .sum()
}

impl ThreadsConnector {
    /// A connector for the profile in `config` using its Threads user access `token`.
    pub fn new(http: HttpClient, config: ThreadsConfig, token: SecretString) -> Self {
        ThreadsConnector {
            http,
            config,
            token,
            container_poll: CONTAINER_POLL,
        }
    }

    /// The same connector waiting `wait` between reads of a container's status (tests).
    pub fn with_container_poll(mut self, wait: std::time::Duration) -> Self {
        self.container_poll = wait;
        self
    }

    /// Builds the connector from an account: settings checked by [`ThreadsConfig`], the
    /// secret is the Threads user access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = ThreadsConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Threads account {} has no access token", spec.id))
        })?;
        Ok(ThreadsConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &ThreadsConfig {
        &self.config
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, &format!("{}/{path}", self.config.base_url))
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Step one: a container for the text. Nothing is visible yet, so an answer that
    /// was lost or unreadable is a plain (transient) failure, not an unknown outcome.
    async fn create_container(&self, post: &OutgoingPost) -> Result<String, ConnectorError> {
        crate::media::check_images(&post.images, "Threads", 4, usize::MAX)?;
        let urls: Option<Vec<&str>> = post
            .images
            .iter()
            .map(|i| i.public_url.as_deref())
            .collect();
        let mut form: Vec<(&str, String)> = match (urls, post.images.as_slice()) {
            (Some(urls), [image]) => vec![
                ("media_type", "IMAGE".into()),
                ("image_url", urls.concat()),
                ("alt_text", image.alt.clone()),
                ("text", sent_text(post)),
            ],
            (Some(urls), images) if images.len() > 1 => {
                let mut children = Vec::with_capacity(images.len());
                for (n, (url, image)) in urls.iter().zip(images).enumerate() {
                    let item = meta::carousel_item(url, &image.alt, Some("IMAGE"));
                    let child = self.make_container(&item).await?;
                    // Meta: each item container is ready before the carousel names it.
                    let what = format!("image {} of {}", n + 1, images.len());
                    self.await_container(&child, &what).await?;
                    children.push(child);
                }
                meta::carousel_album(&children, "text", sent_text(post))
            }
            // No image, or one Threads could not fetch: the text alone.
            _ => vec![("media_type", "TEXT".into()), ("text", sent_text(post))],
        };
        if let Some(parent) = &post.reply_to {
            check_id(&parent.id)?;
            form.push(("reply_to_id", parent.id.clone()));
        }
        self.make_container(&form).await
    }

    /// `POST /{user-id}/threads` with `form`: the new container's id.
    async fn make_container(&self, form: &[(&str, String)]) -> Result<String, ConnectorError> {
        let request = self
            .authorized(Method::POST, &format!("{}/threads", self.config.user_id))
            .form(form);
        let unpublished = |e: ConnectorError| match e {
            ConnectorError::Unknown(why) => ConnectorError::Transient(format!(
                "{why} (while making the container: nothing was published)"
            )),
            other => other,
        };
        let reply = self.http.send(request, true).await.map_err(unpublished)?;
        let created: Created = self
            .success(&reply, "threads_content_publish")?
            .json()
            .map_err(unpublished)?;
        check_id(&created.id).map_err(|_| {
            ConnectorError::Transient(
                "Threads answered with a container id that is not a number (nothing was published)"
                    .into(),
            )
        })?;
        Ok(created.id)
    }

    /// Step two: reads the container's `status` until it is `FINISHED`
    /// ([`meta::await_container`], at most [`CONTAINER_READS`] times; the reason is in
    /// `error_message`). `what` names the container in errors (`the post`, `image 2 of 3`).
    async fn await_container(&self, container: &str, what: &str) -> Result<(), ConnectorError> {
        let unpublished =
            |why: String| ConnectorError::Transient(format!("{why} (nothing was published)"));
        meta::await_container(
            "Threads",
            what,
            CONTAINER_READS,
            self.container_poll,
            || async {
                let request = self.authorized(
                    Method::GET,
                    &format!("{container}?fields=status,error_message"),
                );
                let reply = self
                    .http
                    .send(request, false)
                    .await
                    .map_err(|e| unpublished(e.to_string()))?;
                let status: ContainerStatus = self
                    .success(&reply, "threads_content_publish")?
                    .json()
                    .map_err(|e| unpublished(e.to_string()))?;
                Ok(meta::ContainerState {
                    state: status.status,
                    reason: status.error_message,
                })
            },
        )
        .await
    }

    /// `GET /{user-id}/threads_publishing_limit?fields=quota_usage,config`: posts the
    /// profile published through the API in the last 24 hours, of the 250 it may (a
    /// carousel counts once). Needs `threads_basic` and `threads_content_publish`.
    pub async fn publishing_limit(&self) -> Result<PublishingQuota, ConnectorError> {
        let path = format!(
            "{}/threads_publishing_limit?fields=quota_usage,config",
            self.config.user_id
        );
        meta::read_publishing_quota(
            "Threads",
            "threads_publishing_limit",
            &self.http,
            self.authorized(Method::GET, &path),
            "threads_content_publish",
        )
        .await
    }

    /// `reply` when it is a success, else its Graph error, naming `scope` when the token
    /// lacks it ([`meta::success_with_scope`]).
    fn success<'r>(&self, reply: &'r Reply, scope: &str) -> Result<&'r Reply, ConnectorError> {
        meta::success_with_scope("Threads", reply, scope)
    }

    /// The post's link, if Threads gives it; a failure here does not undo the post.
    async fn permalink(&self, media_id: &str) -> Option<String> {
        let request = self.authorized(Method::GET, &format!("{media_id}?fields=permalink"));
        let reply = self.http.send(request, false).await.ok()?;
        let media: Media = success(&reply).ok()?.json().ok()?;
        media.permalink
    }
}

#[async_trait]
impl Connector for ThreadsConnector {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let length = threads_length(&sent_text(post));
        if length > MAX_LENGTH {
            return Err(ConnectorError::Permanent(format!(
                "the post counts {length}; Threads takes at most {MAX_LENGTH}"
            )));
        }
        let container = self.create_container(post).await?;
        self.await_container(&container, "the post").await?;
        let request = self
            .authorized(
                Method::POST,
                &format!("{}/threads_publish", self.config.user_id),
            )
            .form(&[("creation_id", container.as_str())]);
        // From here a lost or unreadable answer may mean a published post: Unknown.
        let reply = self.http.send(request, true).await?;
        let published: Created = self.success(&reply, "threads_content_publish")?.json()?;
        check_id(&published.id).map_err(|_| {
            ConnectorError::Unknown("Threads answered with a media id that is not a number".into())
        })?;
        let url = self.permalink(&published.id).await;
        Ok(PostOutcome::new(RemotePost {
            id: published.id,
            url,
            extra: None,
        }))
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        check_id(&remote.id)?;
        let reply = self
            .http
            .send(self.authorized(Method::DELETE, &remote.id), true)
            .await?;
        if !reply.status.is_success() {
            // Already gone is what a retraction wants.
            if meta::parse(&reply).is_some_and(|e| meta::is_missing_object(&e)) {
                return Ok(());
            }
            return self.success(&reply, "threads_delete").map(|_| ());
        }
        Ok(())
    }

    /// Reads the profile's 100 most recent posts (`/{user-id}/threads`) or replies
    /// (`/{user-id}/replies`, matched on `replied_to`) for one with this exact text.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let text = sent_text(post);
        let parent = post.reply_to.as_ref().map(|p| p.id.as_str());
        let path = match parent {
            Some(_) => format!(
                "{}/replies?fields=id,text,permalink,replied_to&limit={LOOKUP_PAGE}",
                self.config.user_id
            ),
            None => format!(
                "{}/threads?fields=id,text,permalink&limit={LOOKUP_PAGE}",
                self.config.user_id
            ),
        };
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let scope = match parent {
            Some(_) => "threads_read_replies",
            None => "threads_basic",
        };
        let listing: meta::Listing<Media> = self
            .success(&reply, scope)?
            .json()
            .map_err(ConnectorError::for_read)?;
        let more = listing.has_next();
        let found = listing.data.into_iter().find(|m| {
            m.text.as_deref() == Some(text.as_str())
                && (parent.is_none() || m.replied_to.as_ref().map(|r| r.id.as_str()) == parent)
        });
        if let Some(media) = found {
            check_id(&media.id)?;
            return Ok(Some(RemotePost {
                id: media.id,
                url: media.permalink,
                extra: None,
            }));
        }
        if more {
            return Err(ConnectorError::Unknown(format!(
                "not among the profile's {LOOKUP_PAGE} most recent, and older ones were not searched"
            )));
        }
        Ok(None)
    }

    /// The profile's publishing limit ([`ThreadsConnector::publishing_limit`]).
    async fn publishing_quota(&self) -> Result<Option<PublishingQuota>, ConnectorError> {
        self.publishing_limit().await.map(Some)
    }

    /// `GET /{user-id}?fields=id,username`: the token works for this profile.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let path = format!("{}?fields=id,username", self.config.user_id);
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let me: Created = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        if me.id == self.config.user_id {
            Ok(())
        } else {
            Err(ConnectorError::Config(
                "the Threads API answered for a different profile than user_id".into(),
            ))
        }
    }
}

fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    meta::success("Threads", reply)
}

/// Threads media, container and user ids are digits; anything else is refused before it
/// reaches a URL path.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Threads id",
            printable(id)
        )))
    }
}
