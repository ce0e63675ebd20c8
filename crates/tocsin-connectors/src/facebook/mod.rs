//! Facebook Pages through the Graph API: posts on one Page with its Page access token.
//!
//! `POST /{version}/{page-id}/feed` (`message`, optional `link`); replies (live
//! sessions, corrections) are comments, `POST /{version}/{post-id}/comments`;
//! `DELETE /{version}/{id}`. Facebook has no idempotency key: reconciliation reads the
//! Page's recent posts (or the parent's comments). Errors are Graph errors ([`crate::meta`]).
//! Images: one is a photo post (`POST /{page-id}/photos`, multipart `source`, the text
//! as `message` and the description as `alt_text_custom`); several are uploaded
//! unpublished (`published=false`) and named by the feed post in `attached_media[n]`.
//! If that post is refused, the unpublished photos are deleted. A comment (a live
//! session's update) carries its text only.

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
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
use crate::meta;
pub use config::FacebookConfig;

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Posts (or comments) read when reconciling.
const LOOKUP_PAGE: u32 = 100;
/// Images on one post (Tocsin sends at most four).
pub const MAX_IMAGES: usize = 4;
/// Largest photo the Graph API takes (10 MB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// What `RemotePost::extra` says for a comment (a reply), as opposed to a Page post.
const COMMENT: &str = "comment";

/// What a reply comments on: the thread's first post when it is a Page post, so that a
/// session's updates are comments on it (Facebook's replies are one level deep: a reply
/// to a reply is refused), else the post it answers. `None` for a Page post.
fn comment_target(post: &OutgoingPost) -> Option<&RemotePost> {
    let parent = post.reply_to.as_ref()?;
    let root = post
        .thread_root
        .as_ref()
        .filter(|r| r.extra.as_deref() != Some(COMMENT));
    Some(root.unwrap_or(parent))
}

/// One Facebook Page.
pub struct FacebookConnector {
    http: HttpClient,
    config: FacebookConfig,
    token: SecretString,
}

impl std::fmt::Debug for FacebookConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookConnector")
            .field("page_id", &self.config.page_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    from: Option<From>,
}

#[derive(Debug, Deserialize)]
struct From {
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

/// The first `http(s)://` link in a text, trailing punctuation removed.
pub fn first_link(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        .map(|w| w.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']))
}

impl FacebookConnector {
    /// A connector for the Page in `config` using its Page access `token`.
    pub fn new(http: HttpClient, config: FacebookConfig, token: SecretString) -> Self {
        FacebookConnector {
            http,
            config,
            token,
        }
    }

    /// Builds the connector from an account: settings checked by [`FacebookConfig`],
    /// the secret is the Page access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = FacebookConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!(
                "Facebook account {} has no Page access token",
                spec.id
            ))
        })?;
        Ok(FacebookConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &FacebookConfig {
        &self.config
    }

    /// A Graph request with the token in the `Authorization` header (never in the URL).
    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/{}/{path}",
            self.config.base_url, self.config.graph_version
        );
        self.http
            .request(method, &url)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn post_remote(&self, id: &str) -> RemotePost {
        let url = match id.split_once('_') {
            Some((page, post)) => format!("https://www.facebook.com/{page}/posts/{post}"),
            None => format!("https://www.facebook.com/{id}"),
        };
        RemotePost {
            id: id.to_string(),
            url: Some(url),
            extra: None,
        }
    }

    fn comment_remote(id: &str) -> RemotePost {
        RemotePost {
            id: id.to_string(),
            url: None,
            extra: Some(COMMENT.into()),
        }
    }
}

impl FacebookConnector {
    /// A Page post with photos: one photo post, or unpublished photos attached to a
    /// feed post.
    async fn post_photos(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        #[derive(Deserialize)]
        struct PhotoPost {
            post_id: String,
        }
        crate::media::check_images(&post.images, "Facebook", MAX_IMAGES, MAX_PHOTO_BYTES)?;
        let text = sent_text(post);
        if let [image] = post.images.as_slice() {
            let reply = self.upload_photo(post, image, Some(&text)).await?;
            let created: PhotoPost = success(&reply)?.json()?;
            check_id(&created.post_id).map_err(|_| {
                ConnectorError::Unknown(
                    "Facebook answered with a post id that is not a Graph id".into(),
                )
            })?;
            return Ok(PostOutcome::new(self.post_remote(&created.post_id)));
        }
        let mut photos = Vec::with_capacity(post.images.len());
        for image in &post.images {
            let uploaded = match self.upload_photo(post, image, None).await {
                Ok(reply) => success(&reply)
                    .and_then(|r| r.json::<Created>().map_err(ConnectorError::for_read)),
                Err(e) => Err(e),
            };
            match uploaded {
                Ok(created) if check_id(&created.id).is_ok() => photos.push(created.id),
                Ok(_) => {
                    self.discard(&photos).await;
                    return Err(ConnectorError::Transient(
                        "Facebook answered a photo upload with an id that is not a Graph id".into(),
                    ));
                }
                Err(e) => {
                    self.discard(&photos).await;
                    return Err(e);
                }
            }
        }
        let mut form: Vec<(String, String)> = vec![("message".into(), text)];
        for (i, id) in photos.iter().enumerate() {
            form.push((
                format!("attached_media[{i}]"),
                serde_json::json!({ "media_fbid": id }).to_string(),
            ));
        }
        let path = format!("{}/feed", self.config.page_id);
        let request = self.authorized(Method::POST, &path).form(&form);
        let outcome = async {
            let reply = self.http.send(request, true).await?;
            let created: Created = success(&reply)?.json()?;
            check_id(&created.id).map_err(|_| {
                ConnectorError::Unknown(
                    "Facebook answered with an id that is not a Graph id".into(),
                )
            })?;
            Ok(PostOutcome::new(self.post_remote(&created.id)))
        }
        .await;
        if let Err(e) = &outcome {
            // Refused for sure: the unpublished photos would stay behind. (After an
            // unknown outcome the post may show them: they stay.)
            if !matches!(e, ConnectorError::Unknown(_)) {
                self.discard(&photos).await;
            }
        }
        outcome
    }

    /// `POST /{page-id}/photos`: published with the caption, or unpublished.
    async fn upload_photo(
        &self,
        post: &OutgoingPost,
        image: &PostImage,
        caption: Option<&str>,
    ) -> Result<Reply, ConnectorError> {
        let mut form =
            crate::media::Multipart::new(&format!("{}:{}", post.idempotency_key, image.sha256))
                .file(
                    "source",
                    &crate::media::file_name(image),
                    &image.media_type,
                    &image.bytes,
                )
                .text("alt_text_custom", &image.alt);
        form = match caption {
            Some(caption) => form.text("message", caption),
            None => form.text("published", "false"),
        };
        let (content_type, body) = form.finish();
        let request = self
            .authorized(Method::POST, &format!("{}/photos", self.config.page_id))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        // A published photo is the post itself: its lost answer is an unknown outcome.
        self.http.send(request, caption.is_some()).await
    }

    /// Deletes unpublished photos no post uses (best effort).
    async fn discard(&self, photos: &[String]) {
        for id in photos {
            let _ = self
                .http
                .send(self.authorized(Method::DELETE, id), true)
                .await;
        }
    }
}

#[async_trait]
impl Connector for FacebookConnector {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        if !post.images.is_empty() && comment_target(post).is_none() {
            return self.post_photos(post).await;
        }
        let text = sent_text(post);
        let mut form: Vec<(&str, String)> = vec![("message", text.clone())];
        let (path, comment) = match comment_target(post) {
            Some(parent) => {
                check_id(&parent.id)?;
                (format!("{}/comments", parent.id), true)
            }
            None => {
                if self.config.link_preview {
                    if let Some(link) = first_link(&text) {
                        form.push(("link", link.to_string()));
                    }
                }
                (format!("{}/feed", self.config.page_id), false)
            }
        };
        let request = self.authorized(Method::POST, &path).form(&form);
        let reply = self.http.send(request, true).await?;
        let created: Created = success(&reply)?.json()?;
        check_id(&created.id).map_err(|_| {
            ConnectorError::Unknown("Facebook answered with an id that is not a Graph id".into())
        })?;
        Ok(PostOutcome::new(if comment {
            Self::comment_remote(&created.id)
        } else {
            self.post_remote(&created.id)
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
            return Err(meta::error_for("Facebook", &reply));
        }
        Ok(())
    }

    /// Reads the Page's 100 most recent posts (`/{page-id}/posts`) or, for a reply, the
    /// parent's comments made by the Page, for one with this exact text.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let text = sent_text(post);
        let path = match comment_target(post) {
            Some(parent) => {
                check_id(&parent.id)?;
                format!(
                    "{}/comments?fields=id,message,from&limit={LOOKUP_PAGE}",
                    parent.id
                )
            }
            None => format!(
                "{}/posts?fields=id,message&limit={LOOKUP_PAGE}",
                self.config.page_id
            ),
        };
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let listing: meta::Listing<Item> =
            success(&reply)?.json().map_err(ConnectorError::for_read)?;
        let found = listing.data.iter().find(|item| {
            item.message.as_deref() == Some(text.as_str())
                && (post.reply_to.is_none()
                    || item.from.as_ref().map(|f| f.id.as_str())
                        == Some(self.config.page_id.as_str()))
        });
        if let Some(item) = found {
            check_id(&item.id)?;
            return Ok(Some(if post.reply_to.is_some() {
                Self::comment_remote(&item.id)
            } else {
                self.post_remote(&item.id)
            }));
        }
        if listing.has_next() && listing.data.len() >= LOOKUP_PAGE as usize {
            return Err(ConnectorError::Unknown(format!(
                "not among the {LOOKUP_PAGE} most recent, and older ones were not searched"
            )));
        }
        Ok(None)
    }

    /// `GET /{page-id}?fields=id,name`: the token works for this Page.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let path = format!("{}?fields=id,name", self.config.page_id);
        let reply = self
            .http
            .send(self.authorized(Method::GET, &path), false)
            .await?;
        let page: Created = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        if page.id == self.config.page_id {
            Ok(())
        } else {
            Err(ConnectorError::Config(
                "the Graph API answered for a different Page than page_id".into(),
            ))
        }
    }
}

fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    meta::success("Facebook", reply)
}

/// Graph object ids are digits, a Page post's `{page}_{post}`; anything else is refused
/// before it reaches a URL path.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Facebook Graph id",
            printable(id)
        )))
    }
}
