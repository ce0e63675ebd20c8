//! What Tocsin knows of X (API v2) besides the connector: its settings and secret, its
//! host, its OAuth facts, its counting rule and what it can do. `tocsin_connectors::ALL`
//! lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, OAuthApi, OAuthClient, OAuthFacts,
    OAuthIdentity, SecretFacts, SettingKey, SettingKind, TokenDialect, TokenRefresh, UserPart,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::config;
use super::XConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(XConnector::from_spec(spec, http)?))
}

/// The OAuth 2.0 scopes `POST /2/tweets` and `DELETE /2/tweets/:id` need (X API
/// reference); the OAuth facts below ask for them, and `offline.access` for refreshing.
pub(super) const WRITE_SCOPES: [&str; 3] = ["tweet.read", "tweet.write", "users.read"];

/// X.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::X,
    secret: SecretFacts {
        what: "OAuth 2 user access token (tweet.read tweet.write users.read offline.access)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "username",
            Text,
            true,
            "CountyHealth",
            "user name, for post links",
        ),
        SettingKey::new("base_url", Text, false, "https://api.x.com", "the API"),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "api.x.com",
    },
    oauth: Some(OAuthFacts {
        authorize_url: "https://x.com/i/oauth2/authorize",
        token_url: "https://api.x.com/2/oauth2/token",
        scopes: &[
            "tweet.read",
            "tweet.write",
            "users.read",
            "media.write",
            "offline.access",
        ],
        scope_separator: " ",
        pkce: true,
        // A confidential client.
        basic_auth: true,
        client: OAuthClient::Registered {
            client_id_key: "x_client_id",
            client_secret_key: "x_client_secret",
        },
        api_version: None,
        required_settings: &[],
        dialect: TokenDialect::Standard,
        // Two-hour tokens, renewed with the rotating refresh token.
        refresh: TokenRefresh::RefreshToken,
        identity: OAuthIdentity::User {
            api: OAuthApi::Setting {
                setting: "base_url",
                default: config::DEFAULT_BASE_URL,
            },
            path: "/2/users/me",
            id: "/data/id",
            username: "/data/username",
            keep: Some(("username", UserPart::Username)),
        },
    }),
    counting: CountingRule::X,
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 5_000_000,
        max_pixels: None,
        alt_max_chars: Some(1_000),
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "X API media: images 5 MB, up to 4 photos a Post; media metadata alt_text up to 1000 characters",
    }),
};
