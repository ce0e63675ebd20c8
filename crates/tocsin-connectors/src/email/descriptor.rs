//! What Tocsin knows of Email (SMTP) besides the connector: its settings and secret, its
//! host, its counting rule and what it can do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, SecretFacts, SettingKey, SettingKind,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::EmailConnector;
use SettingKind::{List, Number, Text};

/// The SMTP connection trusts what the shared HTTP client trusts (`[tls]`).
fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(
        EmailConnector::from_spec(spec)?.with_tls_trust(http.trust().clone()),
    ))
}

/// Email.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Email,
    secret: SecretFacts {
        what: "SMTP password (none if the server takes no authentication)",
        required: false,
    },
    settings: &[
        SettingKey::new(
            "smtp_host",
            Text,
            true,
            "smtp.example.org",
            "submission server",
        ),
        SettingKey::new(
            "smtp_port",
            Number,
            true,
            "587",
            "587 with starttls, 465 with implicit",
        ),
        SettingKey::new(
            "tls",
            Text,
            true,
            "starttls",
            "starttls, implicit, or none (loopback only)",
        ),
        SettingKey::new(
            "from",
            Text,
            true,
            "County Health <alerts@example.org>",
            "the sender",
        ),
        SettingKey::new(
            "to",
            List,
            true,
            "alerts@example.org, partners@example.org",
            "recipients",
        ),
        SettingKey::new(
            "username",
            Text,
            false,
            "alerts@example.org",
            "SMTP user name",
        ),
        SettingKey::new("timeout_secs", Number, false, "30", "seconds per SMTP step"),
    ],
    build,
    host: HostRule {
        from: HostSource::HostSetting("smtp_host"),
        default: "email",
    },
    oauth: None,
    counting: CountingRule::UNLIMITED,
    capabilities: Capabilities {
        delete: false,
        reply: true,
        idempotency_key: false,
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
        source: "inline images (Content-ID) with alt in the HTML part; Tocsin's 10 MB applies",
    }),
};
