//! A signed generic webhook: JSON events POSTed to a subscriber, per Standard Webhooks.
//!
//! Each delivery carries `webhook-id` (the idempotency key: subscribers drop ids they have
//! seen, so a retry never becomes a second alert), `webhook-timestamp` and
//! `webhook-signature` ([`signature`]). A post is a `message.published` event; a deletion
//! is a `message.retracted` event with its own id. Any 2xx answer is a delivery.
//! Images are described in the event, not sent: `images` lists each one's `sha256`,
//! `media_type`, `width`, `height` and `alt`, and its `public_url` when Tocsin serves it
//! (`[server] public_url`), so a subscriber can fetch it and check the hash.

pub mod config;
mod descriptor;
pub mod signature;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Serialize;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};
use tocsin_connector::http::{HttpClient, Reply};
use tocsin_connector::rate_limit::rate_limit_status;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostImage, PostOutcome, RemotePost,
};
use tocsin_domain::Platform;
use url::Url;

use crate::account::AccountSpec;
pub use config::WebhookConfig;
pub use signature::{verify_signature, SignatureError, SIGNATURE_TOLERANCE};

/// Shortest signing key accepted, in bytes (the specification asks for 24 to 64).
const MIN_KEY_BYTES: usize = 24;
/// Longest signing key accepted, in bytes.
const MAX_KEY_BYTES: usize = 64;

/// The `type` of a new message.
pub const PUBLISHED: &str = "message.published";
/// The `type` of a retraction.
pub const RETRACTED: &str = "message.retracted";

#[derive(Debug, Serialize)]
struct Event<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: D,
}

#[derive(Debug, Serialize)]
struct Published<'a> {
    id: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread: Option<Thread<'a>>,
    exercise: bool,
    #[serde(skip_serializing_if = "<[PostImage]>::is_empty")]
    images: &'a [PostImage],
}

#[derive(Debug, Serialize)]
struct Thread<'a> {
    reply_to: &'a str,
    root: &'a str,
}

#[derive(Debug, Serialize)]
struct Retracted<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_id: Option<&'a str>,
}

/// The id a subscriber knows a delivered post by: its `webhook-id`, kept in `extra`
/// when the subscriber answered with an id of its own.
fn delivered_id(remote: &RemotePost) -> &str {
    remote.extra.as_deref().unwrap_or(&remote.id)
}

/// The id of the retraction of the post delivered as `webhook_id`.
pub fn retraction_id(webhook_id: &str) -> String {
    format!("{webhook_id}:retract")
}

/// One webhook subscription.
pub struct WebhookConnector {
    http: HttpClient,
    endpoint: Url,
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for WebhookConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConnector")
            .field("host", &self.endpoint.host_str())
            .finish_non_exhaustive()
    }
}

/// What a subscriber may answer: its own id and a link, both optional.
fn receiver_answer(reply: &Reply) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<Value>(&reply.body) else {
        return (None, None);
    };
    let id = match value.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.len() <= 2048 && (u.starts_with("https://") || u.starts_with("http://")))
        .map(str::to_string);
    (id, url)
}

fn webhook_error(reply: &Reply) -> ConnectorError {
    if reply.status.as_u16() == 410 {
        return ConnectorError::Permanent(format!(
            "the subscriber is gone (HTTP 410): remove or replace this subscription; {}",
            reply.excerpt()
        ));
    }
    reply.status_error()
}

impl WebhookConnector {
    /// A connector delivering to `config.url`, signing with `secret` (`whsec_<base64>`
    /// of 24 to 64 bytes).
    pub fn new(
        http: HttpClient,
        config: &WebhookConfig,
        secret: &SecretString,
    ) -> Result<Self, ConnectorError> {
        let endpoint = config.endpoint()?;
        let key = signature::decode_secret(secret.expose_secret()).map_err(|_| {
            ConnectorError::Config("the signing secret is not whsec_ followed by base64".into())
        })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(ConnectorError::Config(format!(
                "the signing secret holds {} bytes; Standard Webhooks asks for {MIN_KEY_BYTES} to {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        Ok(WebhookConnector {
            http,
            endpoint,
            key: SecretSlice::from(key),
        })
    }

    /// Builds the connector from an account: settings checked by [`WebhookConfig`], the
    /// secret is the signing secret.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = WebhookConfig::from_settings(&spec.settings)?;
        let secret = spec.secret.as_ref().ok_or_else(|| {
            ConnectorError::Config(format!("webhook account {} has no signing secret", spec.id))
        })?;
        WebhookConnector::new(http.clone(), &config, secret)
    }

    /// Signs and POSTs one event body under `webhook_id`.
    async fn deliver(
        &self,
        webhook_id: &str,
        timestamp: i64,
        body: Vec<u8>,
    ) -> Result<Reply, ConnectorError> {
        let signature = signature::sign(self.key.expose_secret(), webhook_id, timestamp, &body)
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let id_header = HeaderValue::from_str(webhook_id).map_err(|_| {
            ConnectorError::Permanent(
                "the idempotency key cannot be sent as a webhook-id header".into(),
            )
        })?;
        let request = self
            .http
            .request(Method::POST, self.endpoint.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id_header)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        // The key never travels, but a subscriber holds it and could quote it back.
        let key = base64::engine::general_purpose::STANDARD.encode(self.key.expose_secret());
        let reply = self.http.send(request, true).await?.redacting(&key);
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(webhook_error(&reply))
        }
    }
}

/// Now, as unix seconds and as the RFC 3339 text put in the payload.
fn now() -> (i64, String) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let text = DateTime::<Utc>::from(now).to_rfc3339_opts(SecondsFormat::Secs, true);
    (secs, text)
}

fn encode(event: &impl Serialize) -> Result<Vec<u8>, ConnectorError> {
    serde_json::to_vec(event)
        .map_err(|e| ConnectorError::Permanent(format!("cannot encode the event: {e}")))
}

#[async_trait]
impl Connector for WebhookConnector {
    fn platform(&self) -> Platform {
        Platform::Webhook
    }

    /// Subscribers dedupe on `webhook-id`, which is the idempotency key.
    fn idempotent(&self) -> bool {
        true
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let webhook_id = post.idempotency_key.as_str();
        let parent = post.reply_to.as_ref().or(post.thread_root.as_ref());
        let root = post.thread_root.as_ref().or(post.reply_to.as_ref());
        let thread = match (parent, root) {
            (Some(parent), Some(root)) => Some(Thread {
                reply_to: delivered_id(parent),
                root: delivered_id(root),
            }),
            _ => None,
        };
        let (secs, timestamp) = now();
        let body = encode(&Event {
            kind: PUBLISHED,
            timestamp,
            data: Published {
                id: webhook_id,
                text: &post.text,
                html: post.html.as_deref(),
                title: post.title.as_deref(),
                thread,
                exercise: post.exercise,
                images: &post.images,
            },
        })?;
        let reply = self.deliver(webhook_id, secs, body).await?;
        let (receiver_id, url) = receiver_answer(&reply);
        let remote = match receiver_id {
            Some(id) if id != webhook_id => RemotePost {
                id,
                url,
                extra: Some(webhook_id.to_string()),
            },
            _ => RemotePost {
                id: webhook_id.to_string(),
                url,
                extra: None,
            },
        };
        Ok(PostOutcome {
            remote,
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    /// Sends `message.retracted` for the post, under the id `{webhook-id}:retract` so a
    /// repeated retraction is deduped like a repeated post.
    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        let original = delivered_id(remote);
        let (secs, timestamp) = now();
        let body = encode(&Event {
            kind: RETRACTED,
            timestamp,
            data: Retracted {
                id: original,
                remote_id: (remote.id != original).then_some(remote.id.as_str()),
            },
        })?;
        self.deliver(&retraction_id(original), secs, body)
            .await
            .map(|_| ())
    }

    /// Webhooks cannot be looked up; none is needed, since a delivery is repeated under
    /// the same `webhook-id` and the subscriber drops the duplicate.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "a webhook delivery cannot be looked up; repeat it with the same webhook-id instead"
                .into(),
        ))
    }

    /// A `HEAD` request: the subscriber answers (any status below 500 except 404 and 410;
    /// a POST-only endpoint answering 405 is healthy). Nothing is delivered, so
    /// subscribers see no test events.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let reply = self
            .http
            .send(
                self.http.request(Method::HEAD, self.endpoint.as_str()),
                false,
            )
            .await?;
        match reply.status.as_u16() {
            410 => Err(webhook_error(&reply)),
            404 => Err(ConnectorError::Permanent(
                "the subscriber's endpoint answers 404 Not Found: check the URL".into(),
            )),
            code if code >= 500 => Err(reply.status_error()),
            _ => Ok(()),
        }
    }
}
