//! What Tocsin knows of Matrix (client-server API) besides the connector: its settings
//! and secret, its host, its counting rule and what it can do. `tocsin_connectors::ALL`
//! lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, SecretFacts, SettingKey, SettingKind,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::MatrixConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(MatrixConnector::from_spec(spec, http)?))
}

/// Matrix.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Matrix,
    secret: SecretFacts {
        what: "access token",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "homeserver",
            Text,
            true,
            "https://matrix.example.org",
            "the homeserver",
        ),
        SettingKey::new(
            "room_id",
            Text,
            true,
            "!alerts:example.org",
            "room id (not an alias)",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("homeserver"),
        default: "matrix",
    },
    oauth: None,
    // A 65,536-byte event carries both `body` and `formatted_body`.
    counting: CountingRule::bytes(32_000),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: true,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 10_000_000,
        max_pixels: None,
        alt_max_chars: None,
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "m.image with the media repository; the server's m.upload.size (Synapse default 50 MB) is read by the connector at send; Tocsin's 10 MB applies here",
    }),
};
