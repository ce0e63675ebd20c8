//! What Tocsin knows of Discord (webhooks) besides the connector: its settings and
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

use super::DiscordConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(DiscordConnector::from_spec(spec, http)?))
}

/// Discord.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Discord,
    secret: SecretFacts {
        what: "webhook URL (https://discord.com/api/webhooks/ID/TOKEN)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "guild_id",
            Text,
            false,
            "1100000000000000001",
            "the server id, for message links",
        ),
        SettingKey::new(
            "thread_id",
            Text,
            false,
            "1100000000000000002",
            "thread that replies go into",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::SecretUrl,
        default: "discord.com",
    },
    oauth: None,
    counting: CountingRule::characters(2000),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: false,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 10 * 1024 * 1024,
        max_pixels: None,
        alt_max_chars: Some(1_024),
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "Discord attachment object: description max 1024 characters; 10 MiB upload limit without boosts",
    }),
};
