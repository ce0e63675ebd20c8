//! Mastodon (and servers speaking its client API): statuses for one account.
//!
//! `POST /api/v1/statuses` with the account's bearer token and an `Idempotency-Key`
//! (Mastodon keeps keys about an hour, so a repeated send returns the same status);
//! `DELETE /api/v1/statuses/:id`; reconciliation lists the account's recent statuses.
//! [`instance_max_characters`] reads the server's limit from `GET /api/v2/instance`.
//! Images go up first (`POST /api/v2/media`, multipart `file` and `description`, the
//! alt text); a 202 means the server is still processing, and `GET /api/v1/media/:id`
//! is polled until it answers 200. The status then names them in `media_ids`. Media
//! left unattached by a failed post are removed by Mastodon itself (its media cleanup
//! drops unattached uploads after a day), so nothing is deleted by hand.

pub mod config;
mod descriptor;
mod html;

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
pub use config::{MastodonConfig, Visibility};

/// Statuses per page when reconciling (the API's maximum).
const LOOKUP_PAGE: u32 = 40;
/// Pages reconciliation reads before it stops and says it cannot tell.
const LOOKUP_PAGES: u32 = 3;
/// Images on one status (Mastodon's `MAX_MEDIA_ATTACHMENTS`).
pub const MAX_IMAGES: usize = 4;
/// Largest image Mastodon takes by default (`image_size_limit`, 16 MiB).
pub const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
/// Longest media description (`MediaAttachment::MAX_DESCRIPTION_LENGTH`).
pub const MAX_DESCRIPTION_CHARS: usize = 1500;
/// Times a processing upload is polled before the post gives up (about 30 s in all).
const MEDIA_POLLS: u32 = 20;
/// The first wait between polls; each later one doubles, up to [`MEDIA_POLL_MAX`].
const MEDIA_POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
/// The longest wait between polls.
const MEDIA_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// The content warning an exercise (drill) is posted behind, so nobody mistakes it for
/// a real alert at a glance: Mastodon shows the warning and folds the text under it.
pub const EXERCISE_WARNING: &str = "EXERCISE";

/// One Mastodon account.
pub struct MastodonConnector {
    http: HttpClient,
    config: MastodonConfig,
    token: SecretString,
}

impl std::fmt::Debug for MastodonConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonConnector")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

/// The parts of a Mastodon `Status` the connector reads.
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content: String,
    /// Only present in some answers (delete, and servers that echo the source).
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    reblog: Option<serde_json::Value>,
}

impl Status {
    fn remote(&self) -> RemotePost {
        RemotePost {
            id: self.id.clone(),
            url: self.url.clone(),
            extra: None,
        }
    }

    fn has_text(&self, text: &str) -> bool {
        match &self.text {
            Some(source) => html::same_text(source, text),
            None => html::displays_as(&html::html_to_text(&self.content), text),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Account {
    id: String,
}

impl MastodonConnector {
    /// A connector for the account at `config.base_url` using `token`.
    pub fn new(http: HttpClient, config: MastodonConfig, token: SecretString) -> Self {
        MastodonConnector {
            http,
            config,
            token,
        }
    }

    /// Builds the connector from an account: settings checked by [`MastodonConfig`],
    /// the secret is the access token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = MastodonConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Mastodon account {} has no access token", spec.id))
        })?;
        Ok(MastodonConnector::new(http.clone(), config, token))
    }

    /// The account's settings.
    pub fn config(&self) -> &MastodonConfig {
        &self.config
    }

    /// The server's character limit for a status (see [`instance_max_characters`]).
    pub async fn max_characters(&self) -> Result<u32, ConnectorError> {
        instance_max_characters(&self.http, &self.config.base_url).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, &self.url(path))
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Uploads one image with its description and waits until the server has
    /// processed it; gives back the media id.
    async fn upload(&self, image: &PostImage, key: &str) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        struct Media {
            id: String,
            #[serde(default)]
            url: Option<String>,
        }
        if image.alt.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "an image description is longer than Mastodon's {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let (content_type, body) = crate::media::Multipart::new(&format!("{key}:{}", image.sha256))
            .file(
                "file",
                &crate::media::file_name(image),
                &image.media_type,
                &image.bytes,
            )
            .text("description", &image.alt)
            .finish();
        let request = self
            .authorized(Method::POST, "/api/v2/media")
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        // An upload nobody sees: a lost answer is a plain failure (the media expires).
        let reply = self.http.send(request, false).await?;
        let media: Media = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        check_id(&media.id)?;
        if reply.status == reqwest::StatusCode::OK && media.url.is_some() {
            return Ok(media.id);
        }
        let mut wait = MEDIA_POLL_FIRST;
        for _ in 0..MEDIA_POLLS {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MEDIA_POLL_MAX);
            let request = self.authorized(Method::GET, &format!("/api/v1/media/{}", media.id));
            let reply = self.http.send(request, false).await?;
            // 206 Partial Content: still processing.
            if reply.status == reqwest::StatusCode::PARTIAL_CONTENT {
                continue;
            }
            let ready: Media = success(&reply)?.json().map_err(ConnectorError::for_read)?;
            if ready.url.is_some() {
                return Ok(media.id);
            }
        }
        Err(ConnectorError::Transient(format!(
            "Mastodon was still processing image {} after {MEDIA_POLLS} checks",
            media.id
        )))
    }

    async fn own_account_id(&self) -> Result<String, ConnectorError> {
        let request = self.authorized(Method::GET, "/api/v1/accounts/verify_credentials");
        let reply = self.http.send(request, false).await?;
        let account: Account = success(&reply)?.json().map_err(ConnectorError::for_read)?;
        check_id(&account.id)?;
        Ok(account.id)
    }
}

#[async_trait]
impl Connector for MastodonConnector {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    fn idempotent(&self) -> bool {
        true
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let mut body = serde_json::Map::new();
        body.insert("status".into(), json!(post.text));
        body.insert("visibility".into(), json!(self.config.visibility.as_str()));
        // A status's `language` is an ISO 639 code: a post's BCP 47 tag gives its
        // language subtag (`zh-Hans` is `zh`).
        let language = post
            .language
            .as_deref()
            .map(|tag| tag.split('-').next().unwrap_or(tag).to_ascii_lowercase())
            .or_else(|| self.config.language.clone());
        if let Some(lang) = language {
            body.insert("language".into(), json!(lang));
        }
        if let Some(parent) = &post.reply_to {
            check_id(&parent.id)?;
            body.insert("in_reply_to_id".into(), json!(parent.id));
        }
        if post.exercise {
            body.insert("spoiler_text".into(), json!(EXERCISE_WARNING));
        }
        if !post.images.is_empty() {
            crate::media::check_images(&post.images, "Mastodon", MAX_IMAGES, MAX_IMAGE_BYTES)?;
            let mut ids = Vec::with_capacity(post.images.len());
            for image in &post.images {
                ids.push(self.upload(image, &post.idempotency_key).await?);
            }
            body.insert("media_ids".into(), json!(ids));
        }
        let request = self
            .authorized(Method::POST, "/api/v1/statuses")
            .header(
                "Idempotency-Key",
                idempotency_header(&post.idempotency_key)?,
            )
            .json(&body);
        let reply = self.http.send(request, true).await?;
        let status: Status = success(&reply)?.json()?;
        Ok(PostOutcome {
            remote: status.remote(),
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        check_id(&remote.id)?;
        let request = self.authorized(Method::DELETE, &format!("/api/v1/statuses/{}", remote.id));
        let reply = self.http.send(request, true).await?;
        // Already gone is what a retraction wants: a repeated delete after an unknown
        // outcome must not fail.
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        success(&reply).map(|_| ())
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let account = self.own_account_id().await?;
        let parent = post.reply_to.as_ref().map(|p| p.id.as_str());
        let mut max_id: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut path = format!("/api/v1/accounts/{account}/statuses?limit={LOOKUP_PAGE}");
            if let Some(older_than) = &max_id {
                path.push_str(&format!("&max_id={older_than}"));
            }
            let reply = self
                .http
                .send(self.authorized(Method::GET, &path), false)
                .await?;
            let statuses: Vec<Status> =
                success(&reply)?.json().map_err(ConnectorError::for_read)?;
            let found = statuses
                .iter()
                .filter(|s| s.reblog.is_none())
                .filter(|s| parent.is_none() || s.in_reply_to_id.as_deref() == parent)
                .find(|s| s.has_text(&post.text));
            if let Some(status) = found {
                return Ok(Some(status.remote()));
            }
            // An empty page is the end of the account's history: certainly not posted.
            let Some(oldest) = statuses.last() else {
                return Ok(None);
            };
            check_id(&oldest.id)?;
            max_id = Some(oldest.id.clone());
        }
        Err(ConnectorError::Unknown(format!(
            "not among the account's {} most recent statuses, and older ones were not searched",
            LOOKUP_PAGES * LOOKUP_PAGE
        )))
    }

    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        self.own_account_id().await.map(|_| ())
    }
}

/// The server's character limit for a status: `configuration.statuses.max_characters`
/// from `GET /api/v2/instance` (public, no token needed). Mastodon's default is 500.
pub async fn instance_max_characters(
    http: &HttpClient,
    base_url: &str,
) -> Result<u32, ConnectorError> {
    #[derive(Deserialize)]
    struct Instance {
        configuration: Configuration,
    }
    #[derive(Deserialize)]
    struct Configuration {
        statuses: Statuses,
    }
    #[derive(Deserialize)]
    struct Statuses {
        max_characters: u32,
    }
    let base = config::checked_base_url("base_url", base_url)?;
    let request = http
        .request(Method::GET, &format!("{base}/api/v2/instance"))
        .header(reqwest::header::ACCEPT, "application/json");
    let reply = http.send(request, false).await?;
    let instance: Instance = success(&reply)?.json().map_err(ConnectorError::for_read)?;
    Ok(instance.configuration.statuses.max_characters)
}

/// The reply if it is a success, else its classified error.
fn success(reply: &Reply) -> Result<&Reply, ConnectorError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(error_for(reply))
    }
}

/// Mastodon's error answers: `{"error": "...", "error_description": "..."}`.
fn error_for(reply: &Reply) -> ConnectorError {
    #[derive(Deserialize)]
    struct MastodonError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let code = reply.status.as_u16();
    let said = serde_json::from_slice::<MastodonError>(&reply.body)
        .ok()
        .map(|e| match e.error_description {
            Some(d) if !d.is_empty() => format!("{}: {d}", e.error),
            _ => e.error,
        })
        .map_or_else(|| reply.excerpt(), |text| printable(&text));
    let what = format!("Mastodon HTTP {code}: {said}");
    reply.status_error_saying(what)
}

/// Status and account ids go into URL paths: Mastodon's are digits (other servers use
/// letters too); anything else is refused rather than escaped into another path.
fn check_id(id: &str) -> Result<(), ConnectorError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Mastodon status or account id",
            printable(id)
        )))
    }
}

/// The idempotency key as a header value (printable ASCII only).
fn idempotency_header(key: &str) -> Result<reqwest::header::HeaderValue, ConnectorError> {
    reqwest::header::HeaderValue::from_str(key)
        .ok()
        .filter(|_| !key.is_empty())
        .ok_or_else(|| {
            ConnectorError::Permanent("the idempotency key is not a valid header value".into())
        })
}
