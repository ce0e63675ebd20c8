//! What Tocsin knows of Microsoft Teams (Workflows webhook) besides the connector: its
//! settings and secret, its host, its counting rule and what it can do.
//! `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, SecretFacts, SettingKey, SettingKind,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::TeamsConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(TeamsConnector::from_spec(spec, http)?))
}

/// Microsoft Teams.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Teams,
    secret: SecretFacts {
        what: "Workflows webhook URL",
        required: true,
    },
    settings: &[SettingKey::new(
        "default_title",
        Text,
        false,
        "County Health",
        "card heading when a message has no title",
    )],
    build,
    host: HostRule {
        from: HostSource::SecretUrl,
        default: "teams",
    },
    oauth: None,
    // A 28 KB Adaptive Card, less the card's own envelope.
    counting: CountingRule::bytes(27_000),
    capabilities: Capabilities {
        delete: false,
        reply: false,
        idempotency_key: false,
        lookup: false,
    },
    images: None,
};
