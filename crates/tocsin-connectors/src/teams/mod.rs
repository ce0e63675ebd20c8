//! Microsoft Teams through a Workflows (Power Automate) webhook posting an Adaptive Card.
//! One `POST` of `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": <card>}]}`; `202 Accepted` is
//! the whole answer: no message id, no link, no threads, no delete, no lookup. The
//! idempotency key stands in for the id; a retraction is a correction card.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tocsin_connector::http::{printable, redact_urls, HttpClient, Reply};
use tocsin_connector::rate_limit::rate_limit_status;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::{workflow_url, TeamsConfig};

/// The largest message Teams posts (about 28 KB); bigger cards are refused before sending.
pub const MAX_CARD_BYTES: usize = 28 * 1024;
/// The marker at the top of an exercise (drill) card.
pub const EXERCISE_MARK: &str = "EXERCISE";
/// The Adaptive Card attachment's content type.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// One Teams channel's Workflows webhook.
pub struct TeamsConnector {
    http: HttpClient,
    config: TeamsConfig,
    webhook: SecretString,
}

impl std::fmt::Debug for TeamsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsConnector").finish_non_exhaustive()
    }
}

/// The message carrying one Adaptive Card (version 1.4) for `post`: an exercise starts
/// with a bold [`EXERCISE_MARK`] line, the title (if any) is bold, the text wraps.
pub fn card_message(post: &OutgoingPost, default_title: Option<&str>) -> Value {
    let mut body = Vec::new();
    if post.exercise {
        body.push(json!({
            "type": "TextBlock", "text": format!("{EXERCISE_MARK}: this is a drill, not a real alert"),
            "weight": "Bolder", "color": "Attention", "wrap": true
        }));
    }
    if let Some(title) = post.title.as_deref().or(default_title) {
        body.push(json!({"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": true}));
    }
    if post.reply_to.is_some() {
        body.push(json!({
            "type": "TextBlock", "text": "Update to an earlier message in this channel",
            "isSubtle": true, "wrap": true
        }));
    }
    body.push(json!({"type": "TextBlock", "text": post.text, "wrap": true}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CARD_CONTENT_TYPE,
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }
        }]
    })
}

impl TeamsConnector {
    /// A connector posting to the Workflows webhook `webhook`.
    pub fn new(
        http: HttpClient,
        config: TeamsConfig,
        webhook: SecretString,
    ) -> Result<Self, ConnectorError> {
        workflow_url(webhook.expose_secret())?;
        Ok(TeamsConnector {
            http,
            config,
            webhook,
        })
    }

    /// Builds the connector from an account: settings checked by [`TeamsConfig`], the
    /// secret is the Workflows webhook URL.
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = TeamsConfig::from_settings(&spec.settings)?;
        let webhook = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!(
                "Teams account {} has no Workflows webhook URL",
                spec.id
            ))
        })?;
        TeamsConnector::new(http.clone(), config, webhook)
    }
}

#[async_trait]
impl Connector for TeamsConnector {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    /// A Workflows webhook cannot remove a card: retraction posts a correction card.
    fn can_delete(&self) -> bool {
        false
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let message = card_message(post, self.config.default_title.as_deref());
        let body = serde_json::to_vec(&message)
            .map_err(|e| ConnectorError::Permanent(format!("cannot encode the card: {e}")))?;
        if body.len() > MAX_CARD_BYTES {
            return Err(ConnectorError::Permanent(format!(
                "the card is {} bytes; Teams posts at most about {MAX_CARD_BYTES} bytes (28 KB)",
                body.len()
            )));
        }
        let url = workflow_url(self.webhook.expose_secret())?;
        let request = self
            .http
            .request(Method::POST, url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let reply = self.http.send(request, true).await?;
        if !reply.status.is_success() {
            return Err(error_for(&reply));
        }
        // 202 Accepted with no body: the flow has the card. No id or link comes back.
        Ok(PostOutcome {
            remote: RemotePost {
                id: post.idempotency_key.clone(),
                url: None,
                extra: None,
            },
            rate_limit: rate_limit_status(&reply.headers),
        })
    }

    async fn delete(&self, _remote: &RemotePost) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "a Teams Workflows webhook cannot delete a card; post a correction instead".into(),
        ))
    }

    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "a Teams Workflows webhook cannot list the cards it posted; check the channel by hand"
                .into(),
        ))
    }

    /// A Workflows webhook has no read-only endpoint: the only way to test it would be to
    /// post a card into the channel, which a health check must not do.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        workflow_url(self.webhook.expose_secret())?;
        Err(ConnectorError::Unsupported(
            "a Teams Workflows webhook cannot be checked without posting a card".into(),
        ))
    }
}

/// Power Automate's error answers: `{"error": {"code": "...", "message": "..."}}`. A
/// deleted or disabled flow (404) needs an admin, like a refused signature (401/403).
fn error_for(reply: &Reply) -> ConnectorError {
    let parsed = serde_json::from_slice::<Value>(&reply.body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let said = match (code, message) {
        (Some(c), Some(m)) => printable(&redact_urls(&format!("{c}: {m}"))),
        (Some(c), None) => printable(c),
        _ => redact_urls(&reply.excerpt()),
    };
    let status = reply.status.as_u16();
    let what = format!("Teams Workflows HTTP {status}: {said}");
    match status {
        404 => ConnectorError::Auth(format!(
            "{what}: the workflow is gone or disabled; create a new one and update the account"
        )),
        413 => ConnectorError::Permanent(format!("{what}: the card is too large")),
        _ => reply.status_error_saying(what),
    }
}
