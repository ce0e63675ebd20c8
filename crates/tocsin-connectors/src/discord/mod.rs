//! Discord through a channel webhook: no bot, no OAuth, the webhook URL is the secret.
//! `POST {webhook}?wait=true` with `content` and `allowed_mentions: {parse: []}` (an
//! alert never pings @everyone), into a thread with `thread_id` when configured;
//! `DELETE {webhook}/messages/{id}`; `GET {webhook}` as the health check. A 429 carries
//! `retry_after` (seconds, a float) in its JSON body. Webhooks cannot list messages.
//! Images travel in the same request: `multipart/form-data` with the JSON as
//! `payload_json` and each file as `files[n]`, described by `attachments[n]` (`id`
//! n, `filename`, and `description`, Discord's alt text, at most 1,024 characters).
//! Nothing is uploaded apart from the message, so a failure leaves nothing to clean.

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
use std::time::Duration;
use tocsin_connector::http::{printable, redact_urls, HttpClient, Reply};
use tocsin_connector::rate_limit::{rate_limit_status, retry_after};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;
use url::Url;

use crate::account::AccountSpec;
use config::check_snowflake;
pub use config::{webhook_url, DiscordConfig};

/// Longest message content Discord takes, in characters.
pub const MAX_CONTENT_CHARS: usize = 2000;
/// Files on one message (Discord takes ten; Tocsin sends at most four).
pub const MAX_IMAGES: usize = 4;
/// Largest upload a webhook may send without a boosted server (10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Longest attachment description (alt text).
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Discord's code for a message that does not exist (already deleted).
const UNKNOWN_MESSAGE: u64 = 10008;
/// Discord's code for a webhook that was deleted.
const UNKNOWN_WEBHOOK: u64 = 10015;

/// One Discord channel webhook.
pub struct DiscordConnector {
    http: HttpClient,
    config: DiscordConfig,
    webhook: SecretString,
}

impl std::fmt::Debug for DiscordConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConnector")
            .field("guild_id", &self.config.guild_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Message {
    id: String,
    channel_id: String,
}

/// Discord's error body: `{code, message}`, and for 429 `{message, retry_after, global}`.
#[derive(Debug, Deserialize)]
struct DiscordError {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: Option<bool>,
}

/// The content as sent: an exercise carries [`EXERCISE_PREFIX`]; a reply outside a
/// thread ends with the earlier message's link (if it fits in 2,000 characters).
fn content_for(post: &OutgoingPost, in_thread: bool) -> String {
    let mut content = if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    };
    if !in_thread {
        if let Some(link) = post.reply_to.as_ref().and_then(|p| p.url.as_deref()) {
            // <...> keeps Discord from embedding a preview of the earlier message.
            let reference = format!("\n\n(Follows up on <{link}>)");
            if content.chars().count() + reference.chars().count() <= MAX_CONTENT_CHARS {
                content.push_str(&reference);
            }
        }
    }
    content
}

impl DiscordConnector {
    /// A connector posting through `webhook` (the full webhook URL).
    pub fn new(
        http: HttpClient,
        config: DiscordConfig,
        webhook: SecretString,
    ) -> Result<Self, ConnectorError> {
        webhook_url(webhook.expose_secret())?;
        Ok(DiscordConnector {
            http,
            config,
            webhook,
        })
    }

    /// Builds the connector from an account: settings checked by [`DiscordConfig`], the
    /// secret is the webhook URL.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = DiscordConfig::from_settings(&spec.settings)?;
        let webhook = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Discord account {} has no webhook URL", spec.id))
        })?;
        DiscordConnector::new(http.clone(), config, webhook)
    }

    /// The account's settings.
    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }

    /// The webhook URL with `path` appended and `query` pairs set.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url = webhook_url(self.webhook.expose_secret())?;
        if !path.is_empty() {
            let joined = format!("{}{path}", url.path().trim_end_matches('/'));
            url.set_path(&joined);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn link(&self, channel: &str, message: &str) -> Option<String> {
        self.config
            .guild_id
            .as_ref()
            .map(|guild| format!("https://discord.com/channels/{guild}/{channel}/{message}"))
    }
}

#[async_trait]
impl Connector for DiscordConnector {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        // A reply continues the parent's thread, or goes to the configured one.
        let thread = post.reply_to.as_ref().and_then(|parent| {
            parent
                .extra
                .clone()
                .filter(|t| check_snowflake(t).is_ok())
                .or_else(|| self.config.thread_id.clone())
        });
        let content = content_for(post, thread.is_some());
        let chars = content.chars().count();
        if chars > MAX_CONTENT_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "the message has {chars} characters; Discord takes at most {MAX_CONTENT_CHARS}"
            )));
        }
        let mut query = vec![("wait", "true")];
        if let Some(t) = &thread {
            query.push(("thread_id", t));
        }
        let url = self.url("", &query)?;
        let mut body = json!({ "content": content, "allowed_mentions": { "parse": [] } });
        let request = self.http.request(Method::POST, url.as_str());
        let request = if post.images.is_empty() {
            request.json(&body)
        } else {
            crate::media::check_images(&post.images, "Discord", MAX_IMAGES, MAX_FILE_BYTES)?;
            let attachments: Vec<_> = post
                .images
                .iter()
                .enumerate()
                .map(|(i, image)| {
                    json!({
                        "id": i,
                        "filename": crate::media::file_name(image),
                        "description": image.alt,
                    })
                })
                .collect();
            if post
                .images
                .iter()
                .any(|i| i.alt.chars().count() > MAX_DESCRIPTION_CHARS)
            {
                return Err(ConnectorError::Permanent(format!(
                    "an image description is longer than Discord's {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            if let Some(object) = body.as_object_mut() {
                object.insert("attachments".into(), json!(attachments));
            }
            let mut form = crate::media::Multipart::new(&post.idempotency_key)
                .json_part("payload_json", &body.to_string());
            for (i, image) in post.images.iter().enumerate() {
                form = form.file(
                    &format!("files[{i}]"),
                    &crate::media::file_name(image),
                    &image.media_type,
                    &image.bytes,
                );
            }
            let (content_type, bytes) = form.finish();
            request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes)
        };
        let reply = self.http.send(request, true).await?;
        if !reply.status.is_success() {
            return Err(error_for(&reply));
        }
        let message: Message = reply.json()?;
        check_snowflake(&message.id).map_err(|e| ConnectorError::Unknown(e.to_string()))?;
        Ok(PostOutcome {
            remote: RemotePost {
                url: self.link(&message.channel_id, &message.id),
                id: message.id,
                extra: thread,
            },
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        check_snowflake(&remote.id)?;
        let thread = remote
            .extra
            .as_deref()
            .filter(|t| check_snowflake(t).is_ok());
        let query: Vec<(&str, &str)> = thread.map(|t| ("thread_id", t)).into_iter().collect();
        let url = self.url(&format!("/messages/{}", remote.id), &query)?;
        let reply = self
            .http
            .send(self.http.request(Method::DELETE, url.as_str()), true)
            .await?;
        if reply.status.is_success() {
            return Ok(());
        }
        let said = serde_json::from_slice::<DiscordError>(&reply.body).ok();
        if reply.status == reqwest::StatusCode::NOT_FOUND
            && said.and_then(|e| e.code) == Some(UNKNOWN_MESSAGE)
        {
            // Already gone is what a retraction wants.
            return Ok(());
        }
        Err(error_for(&reply))
    }

    /// A webhook can fetch a message by id but cannot list or search what it sent.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "a Discord webhook cannot list the messages it sent; check the channel by hand".into(),
        ))
    }

    /// `GET {webhook}`: the webhook exists and its token is valid.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let url = self.url("", &[])?;
        let reply = self
            .http
            .send(self.http.request(Method::GET, url.as_str()), false)
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(error_for(&reply))
        }
    }
}

/// Discord's error answers, classified; a deleted webhook or bad token needs an admin.
fn error_for(reply: &Reply) -> ConnectorError {
    let parsed = serde_json::from_slice::<DiscordError>(&reply.body).ok();
    let code = reply.status.as_u16();
    let said = parsed
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map_or_else(
            || redact_urls(&reply.excerpt()),
            |t| printable(&redact_urls(t)),
        );
    let what = match parsed.as_ref().and_then(|e| e.code) {
        Some(c) => format!("Discord HTTP {code} (code {c}): {said}"),
        None => format!("Discord HTTP {code}: {said}"),
    };
    if code == 429 {
        let global = parsed.as_ref().and_then(|e| e.global).unwrap_or(false)
            || reply
                .headers
                .get("x-ratelimit-global")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let wait = parsed
            .as_ref()
            .and_then(|e| e.retry_after)
            .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s))
            .map(Duration::from_secs_f64)
            .or_else(|| retry_after(&reply.headers));
        return ConnectorError::RateLimited {
            retry_after: wait,
            reason: if global {
                format!("{what} (global rate limit)")
            } else {
                what
            },
        };
    }
    if code == 404 && parsed.as_ref().and_then(|e| e.code) == Some(UNKNOWN_WEBHOOK) {
        return ConnectorError::Auth(format!(
            "{what}: the webhook was deleted; create a new one and update the account"
        ));
    }
    reply.status_error_saying(what)
}
