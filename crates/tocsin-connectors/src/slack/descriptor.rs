//! What Tocsin knows of Slack (Web API) besides the connector: its settings and secret,
//! its host, its counting rule and what it can do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, SecretFacts, SettingKey, SettingKind,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::SlackConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(SlackConnector::from_spec(spec, http)?))
}

/// Slack.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Slack,
    secret: SecretFacts {
        what: "bot token (xoxb-..., scope chat:write)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "channel",
            Text,
            true,
            "C0123ABCD",
            "the channel's id (the bot must be in it)",
        ),
        SettingKey::new("api_url", Text, false, "https://slack.com", "the Web API"),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("api_url"),
        default: "slack.com",
    },
    oauth: None,
    counting: CountingRule::characters(40_000),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 10_000_000,
        max_pixels: None,
        alt_max_chars: Some(1_000),
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "files.getUploadURLExternal alt_txt (alt_txt_too_large: over 1000 characters); Slack's file cap is far above Tocsin's 10 MB",
    }),
};
