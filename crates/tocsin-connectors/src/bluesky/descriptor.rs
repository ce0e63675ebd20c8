//! What Tocsin knows of Bluesky (AT Protocol) besides the connector: its settings and
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

use super::BlueskyConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(BlueskyConnector::from_spec(spec, http)?))
}

/// Bluesky.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Bluesky,
    secret: SecretFacts {
        what: "app password",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "handle",
            Text,
            true,
            "health.example.gov",
            "handle or DID that signs in",
        ),
        SettingKey::new("service", Text, false, "https://bsky.social", "the PDS"),
        SettingKey::new("language", Text, false, "en", "BCP 47 code of the posts"),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("service"),
        default: "bsky.social",
    },
    oauth: None,
    counting: CountingRule::BLUESKY,
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 1_000_000,
        max_pixels: None,
        alt_max_chars: Some(2_000),
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "app.bsky.embed.images lexicon (images maxLength 4, image blob maxSize 1000000); bsky social-app MAX_ALT_TEXT 2000",
    }),
};
