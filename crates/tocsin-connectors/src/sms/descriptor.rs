//! What Tocsin knows of SMS (Twilio) besides the connector: its settings and secret, its
//! host, its counting rule and what it can do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, SecretFacts, SettingKey, SettingKind,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::SmsConnector;
use SettingKind::{List, Text};

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(SmsConnector::from_spec(spec, http)?))
}

/// SMS.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Sms,
    secret: SecretFacts {
        what: "Twilio auth token (or the API key's secret)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "account_sid",
            Text,
            true,
            "AC0123456789abcdef0123456789abcdef",
            "Account SID",
        ),
        SettingKey::new("to", List, true, "+15557654321", "recipients in E.164"),
        SettingKey::new(
            "from",
            Text,
            false,
            "+15551234567",
            "sender (or messaging_service_sid)",
        ),
        SettingKey::new(
            "messaging_service_sid",
            Text,
            false,
            "MG0123456789abcdef0123456789abcdef",
            "a Messaging Service instead of from",
        ),
        SettingKey::new(
            "api_key_sid",
            Text,
            false,
            "SK0123456789abcdef0123456789abcdef",
            "API key to sign in with",
        ),
        SettingKey::new("api_url", Text, false, "https://api.twilio.com", "the API"),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("api_url"),
        default: "api.twilio.com",
    },
    oauth: None,
    counting: CountingRule::SMS,
    capabilities: Capabilities {
        delete: false,
        reply: false,
        idempotency_key: false,
        lookup: false,
    },
    images: None,
};
