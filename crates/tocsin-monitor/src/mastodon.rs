//! Mastodon's hashtag stream: `GET /api/v1/streaming?stream=hashtag&tag=…` upgraded to a
//! websocket, with the token as `Authorization: Bearer` (Mastodon 4.2+ wants a user token
//! even for public streams). The websocket is on the instance's streaming host, which
//! may be another host (`streaming.mastodon.social`, where the instance's own path only
//! redirects): before each connection `GET /api/v2/instance` is read for
//! `configuration.urls.streaming`, and the instance's own host is used if that fails. Frames are `{"stream":[…],"event":…,"payload":"…"}`, the
//! payload a Status cast to a string for `update`, the status id for `delete`.

use crate::trust::ExtraRoots;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::fmt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use url::Url;

use crate::connection::Feed;
use crate::html_text::html_to_text;
use crate::{ConfigError, Heard, HeardPost, Source};

/// One hashtag on one Mastodon instance.
pub struct MastodonHashtagStream {
    /// The instance, `https://host` (`http://` gives a plain `ws://` socket, for tests).
    pub instance_url: Url,
    /// A user access token with `read` (sent as `Authorization: Bearer`).
    pub token: Option<SecretString>,
    /// The hashtag, with or without `#`; matched case-insensitively.
    pub tag: String,
}

impl fmt::Debug for MastodonHashtagStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MastodonHashtagStream")
            .field("instance_url", &self.instance_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("tag", &self.tag)
            .finish()
    }
}

impl Clone for MastodonHashtagStream {
    fn clone(&self) -> MastodonHashtagStream {
        MastodonHashtagStream {
            instance_url: self.instance_url.clone(),
            token: self
                .token
                .as_ref()
                .map(|t| SecretString::from(t.expose_secret().to_owned())),
            tag: self.tag.clone(),
        }
    }
}

impl MastodonHashtagStream {
    /// The tag as Mastodon knows it: without `#`, lowercase.
    pub fn normalized_tag(&self) -> String {
        normalize_tag(&self.tag)
    }

    /// Where it is heard: the instance's host, with its port when not the default.
    pub fn source(&self) -> Source {
        let host = self.instance_url.host_str().unwrap_or_default();
        let instance = match self.instance_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Source::Mastodon { instance }
    }

    /// The stream's stable name, e.g. `mastodon mastodon.social #stvknee`.
    pub fn stream_name(&self) -> String {
        let Source::Mastodon { instance } = self.source() else {
            return String::new();
        };
        format!("mastodon {instance} #{}", self.normalized_tag())
    }

    /// The websocket URL on the instance's own host:
    /// `wss://host/api/v1/streaming?stream=hashtag&tag=…`. An error names what is wrong
    /// with the instance URL or the tag.
    pub fn streaming_url(&self) -> Result<Url, ConfigError> {
        self.streaming_url_at(&self.instance_url)
    }

    /// The websocket URL on `base`, the streaming host the instance names
    /// (`configuration.urls.streaming`, e.g. `wss://streaming.mastodon.social`).
    pub fn streaming_url_at(&self, base: &Url) -> Result<Url, ConfigError> {
        let tag = self.normalized_tag();
        if tag.is_empty() || tag.chars().any(char::is_whitespace) {
            return Err(ConfigError::Tag(self.tag.clone()));
        }
        let scheme = match base.scheme() {
            "https" | "wss" => "wss",
            "http" | "ws" => "ws",
            other => {
                return Err(ConfigError::Scheme {
                    url: base.to_string(),
                    scheme: other.to_string(),
                })
            }
        };
        let host = base
            .host_str()
            .ok_or_else(|| ConfigError::NoHost(base.to_string()))?;
        let mut url = Url::parse(&format!("{scheme}://{host}/api/v1/streaming"))
            .map_err(|e| ConfigError::Url(format!("{base}: {e}")))?;
        if let Some(port) = base.port() {
            url.set_port(Some(port))
                .map_err(|()| ConfigError::Url(base.to_string()))?;
        }
        url.query_pairs_mut()
            .append_pair("stream", "hashtag")
            .append_pair("tag", &tag);
        Ok(url)
    }
}

/// `#StVKnee` → `stvknee`.
pub(crate) fn normalize_tag(tag: &str) -> String {
    tag.trim().trim_start_matches('#').to_lowercase()
}

/// How long reading `/api/v2/instance` may take before the instance's host is used.
const INSTANCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The [`Feed`] for one Mastodon hashtag stream.
pub(crate) struct MastodonFeed {
    stream: MastodonHashtagStream,
    name: String,
    tag: String,
    source: Source,
    /// The streaming host the instance named, read before each connection.
    streaming: Option<Url>,
    client: Option<reqwest::Client>,
}

impl MastodonFeed {
    pub(crate) fn new(stream: MastodonHashtagStream, roots: &ExtraRoots) -> MastodonFeed {
        let client = roots
            .http(reqwest::Client::builder())
            .timeout(INSTANCE_TIMEOUT)
            .connect_timeout(INSTANCE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        MastodonFeed {
            name: stream.stream_name(),
            tag: stream.normalized_tag(),
            source: stream.source(),
            stream,
            streaming: None,
            client,
        }
    }
}

/// `configuration.urls.streaming` of `GET {instance}/api/v2/instance`, if the instance
/// answers with a usable `ws`/`wss` (or `http`/`https`) URL.
async fn streaming_host(client: &reqwest::Client, instance: &Url, name: &str) -> Option<Url> {
    #[derive(Deserialize)]
    struct Instance {
        configuration: Configuration,
    }
    #[derive(Deserialize)]
    struct Configuration {
        urls: Urls,
    }
    #[derive(Deserialize)]
    struct Urls {
        streaming: String,
    }
    let url = instance.join("/api/v2/instance").ok()?;
    let answer = client.get(url).send().await.ok()?;
    if !answer.status().is_success() {
        tracing::debug!(stream = %name, status = answer.status().as_u16(), "no /api/v2/instance: streaming on the instance's host");
        return None;
    }
    let read: Instance = answer.json().await.ok()?;
    let streaming = Url::parse(read.configuration.urls.streaming.trim()).ok()?;
    let usable = matches!(streaming.scheme(), "ws" | "wss" | "http" | "https")
        && streaming.host_str().is_some();
    usable.then_some(streaming)
}

impl Feed for MastodonFeed {
    fn name(&self) -> &str {
        &self.name
    }

    fn prepare(&mut self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(client) = &self.client {
                if let Some(found) =
                    streaming_host(client, &self.stream.instance_url, &self.name).await
                {
                    self.streaming = Some(found);
                }
            }
        })
    }

    fn request(&mut self) -> Result<Request, String> {
        let url = match &self.streaming {
            Some(base) => self.stream.streaming_url_at(base),
            None => self.stream.streaming_url(),
        }
        .map_err(|e| e.to_string())?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("cannot build the upgrade request for {url}: {e}"))?;
        if let Some(token) = &self.stream.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    "the access token holds characters an HTTP header cannot carry".to_string()
                })?;
            value.set_sensitive(true);
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        Ok(request)
    }

    fn refused(&self, status: u16) -> String {
        let has_token = self.stream.token.is_some();
        match status {
            401 if has_token => "instance refused the token (401)".into(),
            401 => "instance wants an access token for streaming (401)".into(),
            403 => "instance forbade the stream; does the token have the read scope? (403)".into(),
            404 => "instance has no streaming endpoint at /api/v1/streaming (404)".into(),
            429 => "instance is rate limiting connections (429)".into(),
            code => format!("instance refused the websocket upgrade ({code})"),
        }
    }

    fn on_text(&mut self, text: &str, out: &mut Vec<Heard>) {
        match parse_frame(text, &self.tag, &self.source) {
            Ok(Some(heard)) => out.push(heard),
            Ok(None) => {}
            Err(e) => tracing::warn!(stream = %self.name, "skipped a Mastodon frame: {e}"),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    event: Option<String>,
    payload: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Status {
    pub(crate) id: String,
    uri: Option<String>,
    url: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    content: String,
    reblog: Option<IgnoredAny>,
    #[serde(default)]
    tags: Vec<Tag>,
    account: Account,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct Account {
    acct: String,
    #[serde(default)]
    display_name: String,
}

/// What was wrong with a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is not the JSON envelope.
    #[error("frame is not a streaming event: {0}")]
    Envelope(String),
    /// The server sent an error instead of an event.
    #[error("server sent an error: {0}")]
    Server(String),
    /// An `update` or `delete` came without its payload.
    #[error("`{0}` event has no payload")]
    NoPayload(String),
    /// The `update` payload is not a Status.
    #[error("`update` payload is not a status: {0}")]
    Status(String),
}

/// One frame of a hashtag stream for `tag` (lowercase, no `#`): a post, a deletion, or
/// nothing (other events, reblogs, statuses not tagged `tag`).
pub fn parse_frame(text: &str, tag: &str, source: &Source) -> Result<Option<Heard>, FrameError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| FrameError::Envelope(e.to_string()))?;
    let Some(event) = envelope.event else {
        return Err(match envelope.error {
            Some(error) => FrameError::Server(error),
            None => FrameError::Envelope("no `event` field".into()),
        });
    };
    match event.as_str() {
        "update" => {
            let payload = envelope.payload.ok_or(FrameError::NoPayload(event))?;
            let status: Status =
                serde_json::from_str(&payload).map_err(|e| FrameError::Status(e.to_string()))?;
            Ok(status_to_post(status, tag, source).map(Heard::Post))
        }
        "delete" => {
            let id = envelope.payload.ok_or(FrameError::NoPayload(event))?;
            Ok(Some(Heard::Deleted {
                source: source.clone(),
                remote_id: id.trim().to_string(),
            }))
        }
        _ => Ok(None),
    }
}

pub(crate) fn status_to_post(status: Status, tag: &str, source: &Source) -> Option<HeardPost> {
    if status.reblog.is_some() {
        return None;
    }
    let tags: Vec<String> = status.tags.iter().map(|t| normalize_tag(&t.name)).collect();
    if !tags.iter().any(|t| t == tag) {
        return None;
    }
    let author_name = if status.account.display_name.trim().is_empty() {
        status.account.acct.clone()
    } else {
        status.account.display_name
    };
    Some(HeardPost {
        source: source.clone(),
        remote_id: status.id,
        tags,
        author_handle: status.account.acct,
        author_name,
        text: html_to_text(&status.content),
        url: status.url.or(status.uri),
        posted_at: status.created_at,
    })
}
