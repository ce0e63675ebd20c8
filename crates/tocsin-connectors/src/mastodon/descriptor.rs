//! What Tocsin knows of Mastodon (and servers speaking its client API) besides the
//! connector: its settings and secret, its host, its OAuth facts, its counting rule and
//! what it can do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, OAuthApi, OAuthClient, OAuthFacts,
    OAuthIdentity, SecretFacts, SettingKey, SettingKind, TokenDialect, TokenRefresh,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::MastodonConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(MastodonConnector::from_spec(spec, http)?))
}

/// Mastodon.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Mastodon,
    secret: SecretFacts {
        what: "access token (scope write:statuses)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "base_url",
            Text,
            true,
            "https://mastodon.example",
            "the server",
        ),
        SettingKey::new(
            "visibility",
            Text,
            false,
            "public",
            "public, unlisted, private or direct",
        ),
        SettingKey::new("language", Text, false, "en", "ISO 639 code of the posts"),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "mastodon",
    },
    oauth: Some(OAuthFacts {
        authorize_url: "{instance}/oauth/authorize",
        token_url: "{instance}/oauth/token",
        scopes: &["write:statuses", "read:statuses", "read:accounts"],
        scope_separator: " ",
        // S256 on 4.3+; older servers ignore it.
        pkce: true,
        basic_auth: false,
        client: OAuthClient::PerInstance {
            instance_setting: "base_url",
        },
        api_version: None,
        required_settings: &[],
        dialect: TokenDialect::Standard,
        // Mastodon's tokens do not expire.
        refresh: TokenRefresh::Never,
        // `read:accounts` lets `verify_credentials` say who the token belongs to.
        identity: OAuthIdentity::User {
            api: OAuthApi::Instance,
            path: "/api/v1/accounts/verify_credentials",
            id: "/id",
            username: "/username",
            keep: None,
        },
    }),
    counting: CountingRule::MASTODON,
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: true,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 16 * 1024 * 1024,
        max_pixels: None,
        alt_max_chars: Some(1_500),
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "Mastodon MediaAttachment IMAGE_LIMIT 16 MB (4.2+) and MAX_DESCRIPTION_LENGTH 1500; 4 attachments per status",
    }),
};
