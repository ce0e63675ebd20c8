//! An account as the dispatcher knows it, and building its connector.

use secrecy::SecretString;
use serde_json::Value;
use std::sync::Arc;
use tocsin_connector::http::HttpClient;
use tocsin_connector::{Connector, ConnectorError};
use tocsin_domain::Platform;

use crate::sandbox::{SandboxConnector, SandboxLog};

/// One platform account: who it is, its non-secret settings, and its secret.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// Tocsin's id for the account.
    pub id: String,
    /// The platform.
    pub platform: Platform,
    /// A name people recognise ("@health@mastodon.example").
    pub name: String,
    /// Platform settings (base URL, room id, ...), checked by the platform's config type.
    pub settings: Value,
    /// The token, app password or signing secret. Never logged.
    pub secret: Option<SecretString>,
}

/// Builds the connector for an account. The sandbox records into `sandbox`.
pub fn build_connector(
    spec: &AccountSpec,
    http: &HttpClient,
    sandbox: &Arc<SandboxLog>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let _ = http;
    match spec.platform {
        Platform::Sandbox => Ok(Arc::new(SandboxConnector::new(&spec.id, sandbox.clone()))),
        Platform::Mastodon => Ok(Arc::new(crate::mastodon::MastodonConnector::from_spec(
            spec, http,
        )?)),
        Platform::Bluesky => Ok(Arc::new(crate::bluesky::BlueskyConnector::from_spec(
            spec, http,
        )?)),
        Platform::Matrix => Ok(Arc::new(crate::matrix::MatrixConnector::from_spec(
            spec, http,
        )?)),
        Platform::Webhook => Ok(Arc::new(crate::webhook::WebhookConnector::from_spec(
            spec, http,
        )?)),
        Platform::Email => Ok(Arc::new(crate::email::EmailConnector::from_spec(spec)?)),
        Platform::Telegram => Ok(Arc::new(crate::telegram::TelegramConnector::from_spec(
            spec, http,
        )?)),
        Platform::Discord => Ok(Arc::new(crate::discord::DiscordConnector::from_spec(
            spec, http,
        )?)),
        Platform::Slack => Ok(Arc::new(crate::slack::SlackConnector::from_spec(
            spec, http,
        )?)),
        Platform::Teams => Ok(Arc::new(crate::teams::TeamsConnector::from_spec(
            spec, http,
        )?)),
        Platform::Sms => Ok(Arc::new(crate::sms::SmsConnector::from_spec(spec, http)?)),
        Platform::X => Ok(Arc::new(crate::x::XConnector::from_spec(spec, http)?)),
        Platform::Facebook => Ok(Arc::new(crate::facebook::FacebookConnector::from_spec(
            spec, http,
        )?)),
        Platform::Threads => Ok(Arc::new(crate::threads::ThreadsConnector::from_spec(
            spec, http,
        )?)),
        Platform::Linkedin => Ok(Arc::new(crate::linkedin::LinkedinConnector::from_spec(
            spec, http,
        )?)),
        other => Err(ConnectorError::Config(format!(
            "no connector for {} yet",
            other.display_name()
        ))),
    }
}
