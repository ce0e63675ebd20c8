//! What Tocsin knows of Instagram besides the connector: its settings and secret, its
//! host, its OAuth facts (the Instagram Login flow), its counting rule and what it can
//! do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, OAuthApi, OAuthClient, OAuthFacts,
    OAuthIdentity, SecretFacts, SettingKey, SettingKind, TokenDialect, TokenRefresh, UserPart,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::config;
use super::InstagramConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(InstagramConnector::from_spec(spec, http)?))
}

/// Instagram (professional accounts).
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Instagram,
    secret: SecretFacts {
        what: "Instagram user access token",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "user_id",
            Text,
            true,
            "17841400000000001",
            "the Instagram professional account's numeric id",
        ),
        SettingKey::new(
            "base_url",
            Text,
            false,
            "https://graph.instagram.com/v25.0",
            "the API with its version",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "graph.instagram.com",
    },
    // Business Login for Instagram: the code is exchanged at api.instagram.com for a
    // one-hour token, that for a 60-day one (`ig_exchange_token`) at the API's host,
    // refreshed there (`ig_refresh_token`) before it expires.
    oauth: Some(OAuthFacts {
        authorize_url: "https://www.instagram.com/oauth/authorize",
        token_url: "https://api.instagram.com/oauth/access_token",
        // Comments carry a live session's updates and corrections.
        scopes: &[
            "instagram_business_basic",
            "instagram_business_content_publish",
            "instagram_business_manage_comments",
        ],
        scope_separator: ",",
        pkce: false,
        basic_auth: false,
        client: OAuthClient::Registered {
            client_id_key: "instagram_app_id",
            client_secret_key: "instagram_app_secret",
        },
        api_version: None,
        required_settings: &[],
        dialect: TokenDialect::InstagramLongLived,
        refresh: TokenRefresh::LongLivedToken,
        identity: OAuthIdentity::User {
            api: OAuthApi::Setting {
                setting: "base_url",
                default: config::DEFAULT_BASE_URL,
            },
            path: "/me?fields=user_id,username",
            id: "/user_id",
            username: "/username",
            keep: Some(("user_id", UserPart::Id)),
        },
    }),
    counting: CountingRule::INSTAGRAM,
    capabilities: Capabilities {
        // Media made through Instagram Login cannot be deleted through the API.
        delete: false,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        // One image is an image post; two to four are a carousel.
        max_images: super::MAX_IMAGES,
        max_bytes: 8_000_000,
        max_pixels: None,
        alt_max_chars: None,
        alt_sent: true,
        fetched: true,
        required: true,
        square: true,
        media_types: &["image/jpeg"],
        source: "Instagram Graph API IG User Media: JPEG only, 8 MB, aspect ratio 4:5 to 1.91:1; alt_text (since March 2025) has no documented cap; Meta's content publishing guide allows up to 10 images in a carousel, and Tocsin drafts carry at most 4",
    }),
};
