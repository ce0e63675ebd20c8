//! What Tocsin knows of Threads (Meta) besides the connector: its settings and secret,
//! its host, its OAuth facts, its counting rule and what it can do.
//! `tocsin_connectors::ALL` lists it.

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
use super::ThreadsConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(ThreadsConnector::from_spec(spec, http)?))
}

/// Threads.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Threads,
    secret: SecretFacts {
        what: "Threads user access token",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "user_id",
            Text,
            true,
            "17841400000000001",
            "the Threads user's numeric id",
        ),
        SettingKey::new(
            "base_url",
            Text,
            false,
            "https://graph.threads.net/v1.0",
            "the API with its version",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "graph.threads.net",
    },
    oauth: Some(OAuthFacts {
        authorize_url: "https://threads.net/oauth/authorize",
        token_url: "https://graph.threads.net/oauth/access_token",
        // Deleting (a retraction) needs threads_delete, finding a reply whose answer
        // was lost needs threads_read_replies.
        scopes: &[
            "threads_basic",
            "threads_content_publish",
            "threads_delete",
            "threads_read_replies",
        ],
        scope_separator: ",",
        pkce: false,
        basic_auth: false,
        client: OAuthClient::Registered {
            client_id_key: "threads_app_id",
            client_secret_key: "threads_app_secret",
        },
        api_version: None,
        required_settings: &[],
        dialect: TokenDialect::ThreadsLongLived,
        // 60-day tokens, refreshed (`th_refresh_token`) well before they expire.
        refresh: TokenRefresh::LongLivedToken,
        identity: OAuthIdentity::User {
            api: OAuthApi::Setting {
                setting: "base_url",
                default: config::DEFAULT_BASE_URL,
            },
            path: "/me?fields=id,username",
            id: "/id",
            username: "/username",
            keep: Some(("user_id", UserPart::Id)),
        },
    }),
    counting: CountingRule::THREADS,
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 8_000_000,
        max_pixels: None,
        alt_max_chars: None,
        alt_sent: true,
        fetched: true,
        required: false,
        square: false,
        media_types: &["image/jpeg", "image/png"],
        source: "Threads API image posts: JPEG or PNG, 8 MB; alt_text (posts/accessibility) has no documented cap",
    }),
};
