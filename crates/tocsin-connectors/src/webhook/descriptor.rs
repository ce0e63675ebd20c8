//! What Tocsin knows of The signed webhook (Standard Webhooks) besides the connector: its
//! settings and secret, its host, its counting rule and what it can do.
//! `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, SecretFacts, SettingKey, SettingKind,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::WebhookConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(WebhookConnector::from_spec(spec, http)?))
}

/// Webhook.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Webhook,
    secret: SecretFacts {
        what: "signing secret (whsec_ and base64)",
        required: true,
    },
    settings: &[SettingKey::new(
        "url",
        Text,
        true,
        "https://hooks.example.org/tocsin",
        "the subscriber's endpoint",
    )],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("url"),
        default: "webhook",
    },
    oauth: None,
    counting: CountingRule::UNLIMITED,
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: true,
        lookup: false,
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
        source: "the webhook receives image URLs and alt text; Tocsin's 10 MB applies",
    }),
};
