//! What Tocsin knows of Bluesky (AT Protocol) besides the connector: its settings and
//! secret, its host, its counting rule and what it can do. `tocsin_connectors::ALL` lists
//! it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, SecretFacts, SettingKey, SettingKind,
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
};
