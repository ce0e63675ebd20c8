//! What Tocsin knows of Telegram (Bot API) besides the connector: its settings and
//! secret, its host, its counting rule and what it can do. `tocsin_connectors::ALL` lists
//! it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, SecretFacts, SettingKey, SettingKind,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::TelegramConnector;
use SettingKind::{Bool, Text};

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(TelegramConnector::from_spec(spec, http)?))
}

/// Telegram.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Telegram,
    secret: SecretFacts {
        what: "bot token",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "chat_id",
            Text,
            true,
            "-1001234567890",
            "numeric chat id or @channelusername",
        ),
        SettingKey::new(
            "api_url",
            Text,
            false,
            "https://api.telegram.org",
            "the Bot API server",
        ),
        SettingKey::new(
            "link_preview",
            Bool,
            false,
            "false",
            "let Telegram show link previews",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("api_url"),
        default: "api.telegram.org",
    },
    oauth: None,
    counting: CountingRule::utf16_units(4096),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: false,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 10_000_000,
        max_pixels: None,
        alt_max_chars: None,
        alt_sent: false,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "Bot API sendPhoto: photo at most 10 MB; Telegram has no alt text",
    }),
};
