//! Telegram through the Bot API: one bot posting into one chat (channel or group).
//! `POST {api}/bot{token}/sendMessage` with `chat_id`, `text`, `link_preview_options` and,
//! for a reply, `reply_parameters`; `deleteMessage` (Telegram refuses after 48 hours);
//! `getMe` as the health check. The token sits in the URL path, so no error here ever
//! carries a URL. The Bot API cannot list sent messages: there is no lookup.
//!
//! Images: one goes by `sendPhoto`, two to four as an album by `sendMediaGroup`
//! (`media` naming `attach://` file parts), multipart either way, with the text as the
//! caption when it fits Telegram's 1,024 characters; a longer text goes first by
//! `sendMessage` and the photos follow as its reply. The Bot API has no alt-text field
//! for photos, so the image descriptions do not reach Telegram. Every message of the
//! post is kept in `extra`, so a retraction deletes them all (`deleteMessages`).

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tocsin_connector::http::{printable, redact_urls, HttpClient, Reply};
use tocsin_connector::rate_limit::retry_after;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::TelegramConfig;

/// Longest message text the Bot API takes, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// How long after sending a bot may still delete its message.
pub const DELETE_WINDOW: Duration = Duration::from_secs(48 * 3600);
/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";

/// One Telegram bot posting into one chat.
pub struct TelegramConnector {
    http: HttpClient,
    config: TelegramConfig,
    token: SecretString,
}

impl std::fmt::Debug for TelegramConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConnector")
            .field("chat_id", &self.config.chat_id)
            .finish_non_exhaustive()
    }
}

/// The Bot API's envelope: `{ok, result}` or `{ok: false, error_code, description,
/// parameters}`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

#[derive(Debug, Deserialize)]
struct ResponseParameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: i64,
    #[serde(default)]
    date: Option<i64>,
    chat: Chat,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
    #[serde(default)]
    username: Option<String>,
}

/// What `RemotePost::extra` holds for a Telegram message: the chat and the send time
/// (the 48-hour delete window is counted from it).
#[derive(Debug, serde::Serialize, Deserialize)]
struct Extra {
    chat_id: i64,
    #[serde(default)]
    date: Option<i64>,
    /// The post's other messages (an album's photos, the photos after a long text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    also: Vec<i64>,
}

/// Longest photo caption, in UTF-16 units.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Images on one post (an album takes up to ten; Tocsin sends at most four).
pub const MAX_IMAGES: usize = 4;
/// Largest photo a bot may upload (10 MB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// The text as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl TelegramConnector {
    /// A connector for `config.chat_id` using the bot `token` (`123456:ABC-...`).
    pub fn new(
        http: HttpClient,
        config: TelegramConfig,
        token: SecretString,
    ) -> Result<Self, ConnectorError> {
        let ok = token
            .expose_secret()
            .split_once(':')
            .is_some_and(|(id, rest)| {
                !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_digit())
                    && !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !ok {
            return Err(ConnectorError::Config(
                "the Telegram bot token is not of the form <bot id>:<secret> (as BotFather gives it)"
                    .into(),
            ));
        }
        Ok(TelegramConnector {
            http,
            config,
            token,
        })
    }

    /// Builds the connector from an account: settings checked by [`TelegramConfig`], the
    /// secret is the bot token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = TelegramConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Telegram account {} has no bot token", spec.id))
        })?;
        TelegramConnector::new(http.clone(), config, token)
    }

    /// The account's settings.
    pub fn config(&self) -> &TelegramConfig {
        &self.config
    }

    /// Calls a Bot API method (never put the URL in an error: it holds the token).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: Option<&Value>,
        writes: bool,
    ) -> Result<T, ConnectorError> {
        let verb = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        self.call_with(method, verb, writes, |request| match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// Calls a Bot API method with a `multipart/form-data` body.
    async fn call_form<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        form: crate::media::Multipart,
    ) -> Result<T, ConnectorError> {
        let (content_type, body) = form.finish();
        self.call_with(method, Method::POST, true, |request| {
            request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body)
        })
        .await
    }

    async fn call_with<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        verb: Method,
        writes: bool,
        body: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let url = format!(
            "{}/bot{}/{method}",
            self.config.api_url,
            self.token.expose_secret()
        );
        let request =
            body(self.http.request(verb, &url)).header(reqwest::header::ACCEPT, "application/json");
        // The token is inside a URL segment (`bot<token>`): the shared redaction of URL
        // segments does not match it, or its secret half after the bot id, quoted alone.
        let token = self.token.expose_secret();
        let secret_half = token.split_once(':').map_or("", |(_, half)| half);
        let reply = self
            .http
            .send(request, writes)
            .await?
            .redacting(token)
            .redacting(secret_half);
        if !reply.status.is_success() {
            return Err(error_for(&reply));
        }
        let envelope: Envelope<T> = match reply.json() {
            Ok(e) => e,
            Err(e) if writes => return Err(e),
            Err(e) => return Err(ConnectorError::for_read(e)),
        };
        match (envelope.ok, envelope.result) {
            (true, Some(result)) => Ok(result),
            (false, _) => Err(error_for(&reply)),
            (true, None) => {
                let why = format!("Telegram {method} answered ok without a result");
                Err(if writes {
                    ConnectorError::Unknown(why)
                } else {
                    ConnectorError::Transient(why)
                })
            }
        }
    }
}

impl TelegramConnector {
    /// A post with images: photos captioned with the text when it fits, else the text
    /// first and the photos as its reply.
    async fn post_with_photos(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        crate::media::check_images(&post.images, "Telegram", MAX_IMAGES, MAX_PHOTO_BYTES)?;
        let text = sent_text(post);
        let units = text.encode_utf16().count();
        if units <= MAX_CAPTION_CHARS {
            let reply_to = post
                .reply_to
                .as_ref()
                .map(|p| message_id(&p.id))
                .transpose()?;
            let messages = self.send_photos(post, Some(&text), reply_to).await?;
            let (first, rest) = split_first(&messages)?;
            return Ok(PostOutcome::new(remote_of(first, rest)));
        }
        // Too long for a caption: the text by itself, then the photos replying to it.
        let mut text_only = post.clone();
        text_only.images.clear();
        let head = self.post(&text_only).await?;
        let head_id = message_id(&head.remote.id)?;
        let messages = self.send_photos(post, None, Some(head_id)).await?;
        let also: Vec<i64> = messages.iter().map(|m| m.message_id).collect();
        let mut remote = head.remote;
        let mut extra: Option<Extra> = remote
            .extra
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok());
        if let Some(extra) = &mut extra {
            extra.also = also;
        }
        remote.extra = extra.and_then(|e| serde_json::to_string(&e).ok());
        Ok(PostOutcome::new(remote))
    }

    /// `sendPhoto` for one image, `sendMediaGroup` for several; the caption goes on the
    /// first photo.
    async fn send_photos(
        &self,
        post: &OutgoingPost,
        caption: Option<&str>,
        reply_to: Option<i64>,
    ) -> Result<Vec<Message>, ConnectorError> {
        let chat = self.config.chat_id_json()?;
        let chat = match &chat {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut form = crate::media::Multipart::new(&post.idempotency_key).text("chat_id", &chat);
        if let Some(parent) = reply_to {
            let reply = json!({ "message_id": parent, "allow_sending_without_reply": true });
            form = form.text("reply_parameters", &reply.to_string());
        }
        if let [image] = post.images.as_slice() {
            if let Some(caption) = caption {
                form = form.text("caption", caption);
            }
            form = form.file(
                "photo",
                &crate::media::file_name(image),
                &image.media_type,
                &image.bytes,
            );
            let message: Message = self.call_form("sendPhoto", form).await?;
            return Ok(vec![message]);
        }
        let media: Vec<Value> = post
            .images
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let mut item = json!({ "type": "photo", "media": format!("attach://photo{i}") });
                if let (0, Some(caption), Some(object)) = (i, caption, item.as_object_mut()) {
                    object.insert("caption".into(), json!(caption));
                }
                item
            })
            .collect();
        form = form.text("media", &Value::Array(media).to_string());
        for (i, image) in post.images.iter().enumerate() {
            form = form.file(
                &format!("photo{i}"),
                &crate::media::file_name(image),
                &image.media_type,
                &image.bytes,
            );
        }
        self.call_form("sendMediaGroup", form).await
    }
}

fn split_first(messages: &[Message]) -> Result<(&Message, Vec<i64>), ConnectorError> {
    let (first, rest) = messages.split_first().ok_or_else(|| {
        ConnectorError::Unknown("Telegram answered the photos with no message".into())
    })?;
    Ok((first, rest.iter().map(|m| m.message_id).collect()))
}

/// The remote post for a sent message (and the post's other messages).
fn remote_of(message: &Message, also: Vec<i64>) -> RemotePost {
    let url = message
        .chat
        .username
        .as_ref()
        .filter(|u| !u.is_empty())
        .map(|u| format!("https://t.me/{u}/{}", message.message_id));
    let extra = serde_json::to_string(&Extra {
        chat_id: message.chat.id,
        date: message.date,
        also,
    })
    .ok();
    RemotePost {
        id: message.message_id.to_string(),
        url,
        extra,
    }
}

#[async_trait]
impl Connector for TelegramConnector {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        if !post.images.is_empty() {
            return self.post_with_photos(post).await;
        }
        let text = sent_text(post);
        // The Bot API counts UTF-16 code units: an emoji outside the BMP is two.
        let units = text.encode_utf16().count();
        if units > MAX_TEXT_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "the message counts {units} UTF-16 units; Telegram takes at most {MAX_TEXT_CHARS}"
            )));
        }
        let mut body = serde_json::Map::new();
        body.insert("chat_id".into(), self.config.chat_id_json()?);
        body.insert("text".into(), json!(text));
        body.insert(
            "link_preview_options".into(),
            json!({ "is_disabled": !self.config.link_preview }),
        );
        if let Some(parent) = &post.reply_to {
            let id = message_id(&parent.id)?;
            // Still send the update if the earlier message was deleted meanwhile.
            body.insert(
                "reply_parameters".into(),
                json!({ "message_id": id, "allow_sending_without_reply": true }),
            );
        }
        let message: Message = self
            .call("sendMessage", Some(&Value::Object(body)), true)
            .await?;
        Ok(PostOutcome::new(remote_of(&message, Vec::new())))
    }

    /// `deleteMessage`. Telegram lets a bot delete its message only within 48 hours of
    /// sending: past that (known from the send time kept in `extra`, or from Telegram's
    /// refusal) this is a permanent error saying so; post a correction instead.
    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        let id = message_id(&remote.id)?;
        let extra: Option<Extra> = remote
            .extra
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok());
        if let Some(sent) = extra.as_ref().and_then(|e| e.date) {
            let age = unix_now().saturating_sub(sent);
            if age >= i64::try_from(DELETE_WINDOW.as_secs()).unwrap_or(i64::MAX) {
                return Err(too_old(age));
            }
        }
        let chat = match &extra {
            Some(e) => json!(e.chat_id),
            None => self.config.chat_id_json()?,
        };
        let also = extra.as_ref().map(|e| e.also.clone()).unwrap_or_default();
        let (method, body) = if also.is_empty() {
            (
                "deleteMessage",
                json!({ "chat_id": chat, "message_id": id }),
            )
        } else {
            let mut ids = vec![id];
            ids.extend(also);
            (
                "deleteMessages",
                json!({ "chat_id": chat, "message_ids": ids }),
            )
        };
        match self.call::<bool>(method, Some(&body), true).await {
            Ok(_) => Ok(()),
            // Already gone is what a retraction wants.
            Err(ConnectorError::Permanent(why)) if why.contains("message to delete not found") => {
                Ok(())
            }
            Err(ConnectorError::Permanent(why)) if why.contains("can't be deleted") => {
                Err(ConnectorError::Permanent(format!(
                    "{why} (Telegram lets a bot delete its messages only within 48 hours of sending, and only with delete rights in the chat: post a correction instead)"
                )))
            }
            Err(other) => Err(other),
        }
    }

    /// The Bot API has no way to list or search a bot's sent messages.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "the Telegram Bot API cannot list the messages a bot has sent; check the chat by hand"
                .into(),
        ))
    }

    /// `getMe`: the token is valid and belongs to a bot.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        #[derive(Deserialize)]
        struct Me {
            is_bot: bool,
        }
        let me: Me = self.call("getMe", None, false).await?;
        if me.is_bot {
            Ok(())
        } else {
            Err(ConnectorError::Auth(
                "the token does not belong to a bot".into(),
            ))
        }
    }
}

fn too_old(age_secs: i64) -> ConnectorError {
    ConnectorError::Permanent(format!(
        "the message was sent {} hours ago; Telegram lets a bot delete its messages only within 48 hours: post a correction instead",
        age_secs / 3600
    ))
}

/// Telegram message ids are integers.
fn message_id(id: &str) -> Result<i64, ConnectorError> {
    id.parse::<i64>().map_err(|_| {
        ConnectorError::Permanent(format!("{:?} is not a Telegram message id", printable(id)))
    })
}

/// The Bot API's error answers: `{ok: false, error_code, description, parameters}`.
fn error_for(reply: &Reply) -> ConnectorError {
    let parsed = serde_json::from_slice::<Envelope<Value>>(&reply.body).ok();
    let code = reply.status.as_u16();
    let description = parsed
        .as_ref()
        .and_then(|e| e.description.as_deref())
        .map_or_else(
            || redact_urls(&reply.excerpt()),
            |t| printable(&redact_urls(t)),
        );
    let what = format!("Telegram HTTP {code}: {description}");
    let parameters = parsed.as_ref().and_then(|e| e.parameters.as_ref());
    if let Some(new_chat) = parameters.and_then(|p| p.migrate_to_chat_id) {
        return ConnectorError::Config(format!(
            "{what}; the group became a supergroup: set chat_id to {new_chat}"
        ));
    }
    let flood = parameters.and_then(|p| p.retry_after);
    if code == 429 || flood.is_some() {
        return ConnectorError::RateLimited {
            retry_after: flood
                .map(Duration::from_secs)
                .or_else(|| retry_after(&reply.headers)),
            reason: what,
        };
    }
    match code {
        // A malformed or revoked token gets 404 (no such bot) or 401.
        401 | 404 => ConnectorError::Auth(format!("{what}: the bot token was refused")),
        _ => reply.status_error_saying(what),
    }
}
