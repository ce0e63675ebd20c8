//! What Tocsin knows of LinkedIn organisation pages (Posts API) besides the connector:
//! its settings and secret, its host, its OAuth facts, its counting rule and what it can
//! do. `tocsin_connectors::ALL` lists it.

use std::sync::Arc;
use tocsin_connector::descriptor::{
    Capabilities, HostRule, HostSource, ImageRules, OAuthClient, OAuthFacts, OAuthIdentity,
    SecretFacts, SettingKey, SettingKind, TokenDialect, TokenRefresh,
};
use tocsin_connector::http::HttpClient;
use tocsin_connector::{AccountSpec, Connector, ConnectorError, PlatformDescriptor};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use super::LinkedinConnector;
use SettingKind::Text;

fn build(spec: &AccountSpec, http: &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(LinkedinConnector::from_spec(spec, http)?))
}

/// LinkedIn.
pub const DESCRIPTOR: PlatformDescriptor = PlatformDescriptor {
    platform: Platform::Linkedin,
    secret: SecretFacts {
        what: "OAuth token (scope w_organization_social)",
        required: true,
    },
    settings: &[
        SettingKey::new(
            "organization_id",
            Text,
            true,
            "2414183",
            "the organisation's numeric id",
        ),
        SettingKey::new(
            "linkedin_version",
            Text,
            false,
            "202605",
            "LinkedIn-Version, YYYYMM",
        ),
        SettingKey::new(
            "base_url",
            Text,
            false,
            "https://api.linkedin.com",
            "the API",
        ),
    ],
    build,
    host: HostRule {
        from: HostSource::UrlSetting("base_url"),
        default: "api.linkedin.com",
    },
    oauth: Some(OAuthFacts {
        authorize_url: "https://www.linkedin.com/oauth/v2/authorization",
        token_url: "https://www.linkedin.com/oauth/v2/accessToken",
        // Reading the organization's posts and comments back (to find a post whose
        // answer was lost) needs r_organization_social: 403 without it.
        scopes: &["w_organization_social", "r_organization_social"],
        scope_separator: " ",
        pkce: false,
        basic_auth: false,
        client: OAuthClient::Registered {
            client_id_key: "linkedin_client_id",
            client_secret_key: "linkedin_client_secret",
        },
        api_version: None,
        required_settings: &["organization_id"],
        dialect: TokenDialect::Standard,
        // 60-day tokens; refresh tokens only for some partners.
        refresh: TokenRefresh::RefreshToken,
        // The posting scope cannot read who consented.
        identity: OAuthIdentity::AsGiven {
            setting: "organization_id",
        },
    }),
    counting: CountingRule::characters(3000),
    capabilities: Capabilities {
        delete: true,
        reply: true,
        idempotency_key: false,
        lookup: true,
    },
    images: Some(ImageRules {
        max_images: 4,
        max_bytes: 10_000_000,
        max_pixels: Some(36_152_320),
        alt_max_chars: None,
        alt_sent: true,
        fetched: false,
        required: false,
        square: false,
        media_types: &["image/jpeg", "image/png", "image/gif"],
        source: "LinkedIn Images API: JPG, GIF, PNG under 36,152,320 pixels; altText has no documented cap; no byte cap documented (Tocsin's 10 MB applies)",
    }),
};
