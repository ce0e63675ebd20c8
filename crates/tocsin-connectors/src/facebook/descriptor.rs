//! What Tocsin knows of Facebook Pages (Graph API) besides the connector: its settings
//! and secret, its host, its OAuth facts, its counting rule and what it can do.
//! `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    ApiVersion, Capabilities, HostRule, HostSource, ImageRules, OAuthApi, OAuthClient, OAuthFacts,
    OAuthIdentity, SecretFacts, SettingKey, SettingKind, TokenDialect, TokenRefresh,
    ALL_IMAGE_TYPES,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::config;
use super::FacebookConnector;
use SettingKind::{Bool, Text};

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(FacebookConnector::from_spec(spec, http)?))
}

/// Facebook Pages.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Facebook,
    secret: SecretFacts {
        what: "Page access token",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "page_id",
            Text,
            true,
            "104560000000001",
            "the Page's numeric id",
        ),
        SettingKey::new("graph_version", Text, false, "v26.0", "Graph API version"),
        SettingKey::new(
            "base_url",
            Text,
            false,
            "https://graph.facebook.com",
            "the API",
        ),
        SettingKey::new(
            "link_preview",
            Bool,
            false,
            "true",
            "send the first link as the post's link",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "graph.facebook.com",
    },
    oauth: Some(OAuthFacts {
        authorize_url: "https://www.facebook.com/{version}/dialog/oauth",
        token_url: "https://graph.facebook.com/{version}/oauth/access_token",
        scopes: &[
            "pages_show_list",
            "pages_manage_posts",
            "pages_read_engagement",
        ],
        scope_separator: ",",
        pkce: false,
        basic_auth: false,
        client: OAuthClient::Registered {
            client_id_key: "facebook_app_id",
            client_secret_key: "facebook_app_secret",
        },
        api_version: Some(ApiVersion {
            setting: "graph_version",
            default: config::DEFAULT_GRAPH_VERSION,
        }),
        required_settings: &["page_id"],
        dialect: TokenDialect::FacebookLogin,
        // A Page token obtained from a long-lived user token does not expire.
        refresh: TokenRefresh::Never,
        identity: OAuthIdentity::ManagedPage {
            setting: "page_id",
            api: OAuthApi::Setting {
                setting: "base_url",
                default: config::DEFAULT_BASE_URL,
            },
        },
    }),
    counting: CountingRule::characters(63_206),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 4_000_000,
        max_pixels: None,
        alt_max_chars: None,
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: ALL_IMAGE_TYPES,
        source: "Graph API Page Photos: photos up to 4 MB; alt_text_custom has no documented cap",
    }),
};
