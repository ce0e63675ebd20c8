//! Slack through the Web API: one bot posting into one channel with `chat.postMessage`
//! (`thread_ts` for replies, unfurling off), `chat.getPermalink`, `chat.delete`;
//! reconciliation reads `conversations.history`/`.replies` (needs `channels:history` or
//! `groups:history`); `auth.test` is the health check. Slack reports most failures as
//! HTTP 200 with `{"ok": false, "error": "..."}`.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::rate_limit::retry_after;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
use config::check_channel;
pub use config::SlackConfig;

/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Messages per page when reconciling.
const LOOKUP_PAGE: u32 = 100;
/// Images on one message (Tocsin sends at most four).
pub const MAX_IMAGES: usize = 4;
/// Largest image sent (Slack takes up to 1 GB; an image over 50 MB is not an alert's).
pub const MAX_IMAGE_BYTES: usize = 50 * 1024 * 1024;
/// Longest `alt_text` of an image block.
pub const MAX_ALT_CHARS: usize = 2000;
/// Longest text of a section block.
const SECTION_CHARS: usize = 3000;
/// Pages reconciliation reads before it says it cannot tell.
const LOOKUP_PAGES: u32 = 3;

/// One Slack bot posting into one channel.
pub struct SlackConnector {
    http: HttpClient,
    config: SlackConfig,
    token: SecretString,
    bot_id: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for SlackConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConnector")
            .field("channel", &self.config.channel)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Posted {
    channel: String,
    ts: String,
}

#[derive(Debug, Deserialize)]
struct History {
    #[serde(default)]
    messages: Vec<HistoryMessage>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    response_metadata: Option<Cursor>,
}

#[derive(Debug, Deserialize)]
struct Cursor {
    #[serde(default)]
    next_cursor: String,
}

#[derive(Debug, Deserialize)]
struct HistoryMessage {
    ts: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    bot_id: Option<String>,
}

/// The text as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

/// The message's blocks: the text in sections of at most 3,000 characters (a section's
/// limit; cut before escaping, so no entity is split), then one image block per uploaded file with its alt text.
fn blocks(text: &str, images: &[PostImage], files: &[String]) -> Value {
    let chars: Vec<char> = text.chars().collect();
    let mut blocks: Vec<Value> = chars
        .chunks(SECTION_CHARS)
        .map(|chunk| {
            let part: String = chunk.iter().collect();
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": escape(&part) } })
        })
        .collect();
    for (image, id) in images.iter().zip(files) {
        blocks.push(json!({
            "type": "image",
            "slack_file": { "id": id },
            "alt_text": image.alt,
        }));
    }
    Value::Array(blocks)
}

/// The text escaped as Slack's message formatting asks: `&`, `<` and `>` become
/// `&amp;`, `&lt;` and `&gt;` (nothing else), so "ages <5" is text, not the start of a
/// control sequence, and no value can ping `<!channel>`. Links stay bare: Slack links
/// them itself.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

/// Slack's stored text back to what was sent: links `<url>` or `<url|label>` become the
/// URL, and `&lt;`, `&gt;`, `&amp;` are unescaped.
pub fn unformat(stored: &str) -> String {
    let mut out = String::with_capacity(stored.len());
    let mut rest = stored;
    while let Some(start) = rest.find('<') {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 1..).unwrap_or_default();
        match after.find('>') {
            Some(end) => {
                let inner = after.get(..end).unwrap_or_default();
                let target = inner.split('|').next().unwrap_or_default();
                if target.starts_with("http://")
                    || target.starts_with("https://")
                    || target.starts_with("mailto:")
                {
                    out.push_str(target.trim_start_matches("mailto:"));
                } else {
                    out.push('<');
                    out.push_str(inner);
                    out.push('>');
                }
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push_str(rest.get(start..).unwrap_or_default());
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl SlackConnector {
    /// A connector posting into `config.channel` with the bot `token`.
    pub fn new(
        http: HttpClient,
        config: SlackConfig,
        token: SecretString,
    ) -> Result<Self, ConnectorError> {
        let t = token.expose_secret();
        if !t.starts_with("xox") || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConnectorError::Config(
                "the Slack token is not a bot token (xoxb-...)".into(),
            ));
        }
        Ok(SlackConnector {
            http,
            config,
            token,
            bot_id: tokio::sync::OnceCell::new(),
        })
    }

    /// Builds the connector from an account: settings checked by [`SlackConfig`], the
    /// secret is the bot token.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = SlackConfig::from_settings(&spec.settings)?;
        let token = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("Slack account {} has no bot token", spec.id))
        })?;
        SlackConnector::new(http.clone(), config, token)
    }

    /// The account's settings.
    pub fn config(&self) -> &SlackConfig {
        &self.config
    }

    /// Calls a Web API method: a JSON POST for `body`, else a GET with `query`. Returns
    /// the answer's object once `ok` is true.
    async fn call(
        &self,
        method: &str,
        body: Option<&Value>,
        query: &[(&str, &str)],
        writes: bool,
    ) -> Result<Value, ConnectorError> {
        let url = format!("{}/api/{method}", self.config.api_url);
        let request = match body {
            Some(body) => self
                .http
                .request(Method::POST, &url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(body.to_string()),
            None => self.http.request(Method::GET, &url).query(query),
        }
        .bearer_auth(self.token.expose_secret());
        let reply = self.http.send(request, writes).await?;
        if !reply.status.is_success() {
            return Err(http_error(&reply, method));
        }
        let answer: Value = match reply.json() {
            Ok(v) => v,
            Err(e) if writes => return Err(e),
            Err(e) => return Err(ConnectorError::for_read(e)),
        };
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(answer),
            Some(false) => Err(slack_error(method, &answer, &reply.headers, writes)),
            None => {
                let why = format!("Slack {method} answered without \"ok\"");
                Err(if writes {
                    ConnectorError::Unknown(why)
                } else {
                    ConnectorError::Transient(why)
                })
            }
        }
    }

    /// `chat.postMessage`: the text, and the uploaded files as image blocks.
    async fn post_message(
        &self,
        post: &OutgoingPost,
        files: &[String],
    ) -> Result<PostOutcome, ConnectorError> {
        let mut body = json!({
            "channel": self.config.channel,
            "text": escape(&sent_text(post)),
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if !files.is_empty() {
            let blocks = blocks(&sent_text(post), &post.images, files);
            if let Some(object) = body.as_object_mut() {
                object.insert("blocks".into(), blocks);
            }
        }
        // Slack threads hang off their first message: reply to the root, not a reply.
        if let Some(parent) = post.thread_root.as_ref().or(post.reply_to.as_ref()) {
            check_ts(&parent.id)?;
            if let Some(object) = body.as_object_mut() {
                object.insert("thread_ts".into(), json!(parent.id));
            }
        }
        let answer = self
            .call("chat.postMessage", Some(&body), &[], true)
            .await?;
        let posted: Posted = serde_json::from_value(answer).map_err(|e| {
            ConnectorError::Unknown(format!(
                "Slack chat.postMessage answer lacks channel/ts: {e}"
            ))
        })?;
        check_ts(&posted.ts).map_err(|e| ConnectorError::Unknown(e.to_string()))?;
        let url = self.permalink(&posted.channel, &posted.ts).await;
        Ok(PostOutcome::new(RemotePost {
            id: posted.ts,
            url,
            extra: Some(posted.channel),
        }))
    }

    /// `files.getUploadURLExternal`, then the bytes to the URL it gave; the file's id.
    async fn upload(&self, image: &PostImage) -> Result<String, ConnectorError> {
        if image.alt.chars().count() > MAX_ALT_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "an image description is longer than Slack's {MAX_ALT_CHARS} characters"
            )));
        }
        let length = image.bytes.len().to_string();
        let filename = crate::media::file_name(image);
        let answer = self
            .call_form(
                "files.getUploadURLExternal",
                &[
                    ("filename", filename.as_str()),
                    ("length", length.as_str()),
                    ("alt_txt", image.alt.as_str()),
                ],
            )
            .await?;
        let (Some(url), Some(id)) = (
            answer.get("upload_url").and_then(Value::as_str),
            answer.get("file_id").and_then(Value::as_str),
        ) else {
            return Err(ConnectorError::Transient(
                "Slack files.getUploadURLExternal answered without upload_url and file_id".into(),
            ));
        };
        // The URL is pre-signed: no bearer token goes to it.
        let request = self
            .http
            .request(Method::POST, url)
            .header(reqwest::header::CONTENT_TYPE, image.media_type.as_str())
            .body(image.bytes.clone());
        let reply = self.http.send(request, false).await?;
        if !reply.status.is_success() {
            return Err(http_error(&reply, "file upload"));
        }
        Ok(id.to_string())
    }

    /// `files.completeUploadExternal` with no channel: the files exist, unshared.
    async fn complete(&self, files: &[String]) -> Result<(), ConnectorError> {
        let list: Vec<Value> = files.iter().map(|id| json!({ "id": id })).collect();
        let list = Value::Array(list).to_string();
        self.call_form("files.completeUploadExternal", &[("files", list.as_str())])
            .await
            .map(|_| ())
    }

    /// Deletes uploads no message shows (best effort: a failure here is not the post's).
    async fn discard(&self, files: &[String]) {
        for id in files {
            let _ = self
                .call_form("files.delete", &[("file", id.as_str())])
                .await;
        }
    }

    /// A Web API call with a form body (the `files.*` methods take no JSON).
    async fn call_form(
        &self,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, ConnectorError> {
        let url = format!("{}/api/{method}", self.config.api_url);
        let request = self
            .http
            .request(Method::POST, &url)
            .form(form)
            .bearer_auth(self.token.expose_secret());
        let reply = self.http.send(request, false).await?;
        if !reply.status.is_success() {
            return Err(http_error(&reply, method));
        }
        let answer: Value = reply.json().map_err(ConnectorError::for_read)?;
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(answer),
            _ => Err(slack_error(method, &answer, &reply.headers, false)),
        }
    }

    /// The bot's own id (`auth.test`), to tell its messages from people's.
    async fn bot_id(&self) -> Result<&str, ConnectorError> {
        self.bot_id
            .get_or_try_init(|| async {
                let me = self.call("auth.test", Some(&json!({})), &[], false).await?;
                me.get("bot_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ConnectorError::Config(
                            "the Slack token is not a bot token (auth.test has no bot_id)".into(),
                        )
                    })
            })
            .await
            .map(String::as_str)
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Option<String> {
        match self
            .call(
                "chat.getPermalink",
                None,
                &[("channel", channel), ("message_ts", ts)],
                false,
            )
            .await
        {
            Ok(answer) => answer
                .get("permalink")
                .and_then(Value::as_str)
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map(str::to_string),
            Err(e) => {
                // The message exists; a missing link must not fail the post.
                tracing::warn!(kind = e.kind(), error = %e, "Slack chat.getPermalink failed; posted without a link");
                None
            }
        }
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        crate::media::check_images(&post.images, "Slack", MAX_IMAGES, MAX_IMAGE_BYTES)?;
        let mut files = Vec::with_capacity(post.images.len());
        for image in &post.images {
            match self.upload(image).await {
                Ok(id) => files.push(id),
                Err(e) => {
                    self.discard(&files).await;
                    return Err(e);
                }
            }
        }
        if !files.is_empty() {
            if let Err(e) = self.complete(&files).await {
                self.discard(&files).await;
                return Err(e);
            }
        }
        let outcome = self.post_message(post, &files).await;
        if let Err(e) = &outcome {
            if !matches!(e, ConnectorError::Unknown(_)) {
                self.discard(&files).await;
            }
        }
        outcome
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        check_ts(&remote.id)?;
        let channel = remote.extra.as_deref().unwrap_or(&self.config.channel);
        check_channel(channel)?;
        let body = json!({ "channel": channel, "ts": remote.id });
        match self.call("chat.delete", Some(&body), &[], true).await {
            Ok(_) => Ok(()),
            // Already gone is what a retraction wants.
            Err(ConnectorError::Permanent(why)) if why.contains("message_not_found") => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Looks for a message from this bot with exactly this text: in the thread for a
    /// reply (`conversations.replies`), else in the channel (`conversations.history`).
    /// Needs the `channels:history` (public) or `groups:history` (private) scope.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        let bot = self.bot_id().await?.to_string();
        let text = sent_text(post);
        let channel = self.config.channel.as_str();
        let thread = post.thread_root.as_ref().or(post.reply_to.as_ref());
        if let Some(root) = thread {
            check_ts(&root.id)?;
        }
        let mut cursor = String::new();
        let limit = LOOKUP_PAGE.to_string();
        for _ in 0..LOOKUP_PAGES {
            let mut query = vec![("channel", channel), ("limit", limit.as_str())];
            let method = match thread {
                Some(root) => {
                    query.push(("ts", root.id.as_str()));
                    "conversations.replies"
                }
                None => "conversations.history",
            };
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let answer = self.call(method, None, &query, false).await?;
            let page: History = serde_json::from_value(answer).map_err(|e| {
                ConnectorError::Transient(format!(
                    "Slack {method} answer is not a message list: {e}"
                ))
            })?;
            let found = page
                .messages
                .iter()
                .filter(|m| m.bot_id.as_deref() == Some(bot.as_str()))
                .filter(|m| thread.is_none_or(|root| m.ts != root.id))
                .find(|m| unformat(&m.text) == text);
            if let Some(m) = found {
                check_ts(&m.ts).map_err(|e| ConnectorError::Transient(e.to_string()))?;
                let url = self.permalink(channel, &m.ts).await;
                return Ok(Some(RemotePost {
                    id: m.ts.clone(),
                    url,
                    extra: Some(channel.to_string()),
                }));
            }
            let next = page
                .response_metadata
                .map(|c| c.next_cursor)
                .unwrap_or_default();
            if !page.has_more || next.is_empty() {
                return Ok(None);
            }
            cursor = next;
        }
        Err(ConnectorError::Unknown(format!(
            "not among the channel's {} most recent messages, and older ones were not searched",
            LOOKUP_PAGES * LOOKUP_PAGE
        )))
    }

    /// `auth.test`: the token is valid and belongs to a bot.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        self.bot_id().await.map(|_| ())
    }
}

/// A message `ts` (`1503435956.000247`) is the message's id within its channel.
fn check_ts(ts: &str) -> Result<(), ConnectorError> {
    let ok = ts.len() <= 32
        && ts.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Slack message ts",
            printable(ts)
        )))
    }
}

/// A non-2xx answer (429 with `Retry-After`, 5xx, ...), with Slack's `error` if given.
fn http_error(reply: &Reply, method: &str) -> ConnectorError {
    let said = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(printable))
        .unwrap_or_else(|| reply.excerpt());
    reply.status_error_saying(format!(
        "Slack {method} HTTP {}: {said}",
        reply.status.as_u16()
    ))
}

/// Slack's `{"ok": false, "error": "..."}` (sent with HTTP 200), classified.
fn slack_error(method: &str, answer: &Value, headers: &HeaderMap, writes: bool) -> ConnectorError {
    let code = answer
        .get("error")
        .and_then(Value::as_str)
        .map(printable)
        .unwrap_or_else(|| "unknown_error".into());
    let what = format!("Slack {method}: {code}");
    match code.as_str() {
        "ratelimited" | "rate_limited" => ConnectorError::RateLimited {
            retry_after: retry_after(headers),
            reason: what,
        },
        "missing_scope" => {
            let needed = answer.get("needed").and_then(Value::as_str).map(printable);
            ConnectorError::Auth(match needed {
                Some(scope) => format!("{what}: the app needs the {scope} scope"),
                None => format!("{what}: the app lacks a scope this needs"),
            })
        }
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "no_permission"
        | "not_allowed_token_type"
        | "ekm_access_denied"
        | "org_login_required" => ConnectorError::Auth(what),
        // Slack says of both: "it's possible some aspect of the operation succeeded".
        "internal_error" | "fatal_error" if writes => ConnectorError::Unknown(format!(
            "{what} (Slack says the message may have been posted anyway)"
        )),
        "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => ConnectorError::Transient(what),
        // channel_not_found, not_in_channel, msg_too_long, is_archived, no_text, ...
        _ => ConnectorError::Permanent(what),
    }
}
