//! What Tocsin must know of a platform, as one value per platform: [`PlatformDescriptor`].
//!
//! Each connector folder in `tocsin-connectors` exports one, and `tocsin_connectors::ALL`
//! lists them; the app (account setup, route hosts, OAuth), the command line and the
//! composer loop over that list instead of matching on [`Platform`]. The type lives here
//! so that both the connectors and the app can see it; counting rules stay domain values.

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;

use crate::http::HttpClient;
use crate::{AccountSpec, Connector, ConnectorError};

/// Builds a platform's connector for one account (settings and secret checked).
pub type BuildConnector =
    fn(&AccountSpec, &HttpClient) -> Result<Arc<dyn Connector>, ConnectorError>;

/// Everything Tocsin knows of one platform outside its connector's code.
#[derive(Debug, Clone, Copy)]
pub struct PlatformDescriptor {
    /// The platform.
    pub platform: Platform,
    /// What its secret is.
    pub secret: SecretFacts,
    /// The settings its connector reads (the same names its config type knows; a test
    /// checks each against the connector).
    pub settings: &'static [SettingKey],
    /// Builds its connector.
    pub build: BuildConnector,
    /// Which host an account talks to (accounts on one host share its concurrency limit).
    pub host: HostRule,
    /// How accounts are connected through OAuth 2, if they can be.
    pub oauth: Option<OAuthFacts>,
    /// How the platform counts a text, and its limits.
    pub counting: CountingRule,
    /// What the platform can do.
    pub capabilities: Capabilities,
    /// The images it takes with a post (`None`: it takes none, and the text goes alone).
    pub images: Option<ImageRules>,
}

impl PlatformDescriptor {
    /// The setting named `name`, if the connector reads one.
    pub fn setting(&self, name: &str) -> Option<&'static SettingKey> {
        self.settings.iter().find(|k| k.name == name)
    }

    /// The host an account with these settings (and secret, for platforms whose secret
    /// is a URL) talks to, lower-cased with its port.
    pub fn route_host(&self, settings: &Value, secret: Option<&str>) -> String {
        let text = |key: &str| settings.get(key).and_then(Value::as_str);
        let found = match self.host.from {
            HostSource::UrlSetting(key) => text(key).and_then(host_of),
            HostSource::HostSetting(key) => text(key).map(|h| h.trim().to_ascii_lowercase()),
            HostSource::SecretUrl => secret.and_then(host_of),
        };
        found
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| self.host.default.to_string())
    }
}

/// The host part of a URL (with its port), lower-cased.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// What a platform's secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretFacts {
    /// In words for an admin (`bot token`, `webhook URL`, ...).
    pub what: &'static str,
    /// Whether the connector needs it (SMTP without authentication does not).
    pub required: bool,
}

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// Text.
    Text,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A list of texts (`a, b` or a JSON array).
    List,
}

/// One setting a platform's connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SettingKey {
    /// Its name in the settings.
    pub name: &'static str,
    /// What it takes.
    pub kind: SettingKind,
    /// Whether the connector needs it.
    pub required: bool,
    /// An example value (a working one, or the default).
    pub example: &'static str,
    /// What it is.
    pub help: &'static str,
}

impl SettingKey {
    /// A setting.
    pub const fn new(
        name: &'static str,
        kind: SettingKind,
        required: bool,
        example: &'static str,
        help: &'static str,
    ) -> SettingKey {
        SettingKey {
            name,
            kind,
            required,
            example,
            help,
        }
    }
}

/// Where an account's host is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSource {
    /// The host of the URL in this setting (`base_url`, `api_url`, ...).
    UrlSetting(&'static str),
    /// This setting is a host name itself (`smtp_host`).
    HostSetting(&'static str),
    /// The host of the secret, which is a URL (webhook URLs of Discord and Teams).
    SecretUrl,
}

/// Which host an account talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRule {
    /// Where it is read from.
    pub from: HostSource,
    /// The host when the account names none (the platform's public API).
    pub default: &'static str,
}

/// What a platform can do, checked by the connectors' conformance suite: a platform that
/// declares it cannot do something must answer `Unsupported` (or refuse up front), and
/// one that declares it can must do it against its fake server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A post can be deleted (otherwise retraction posts a correction).
    pub delete: bool,
    /// A post can answer an earlier one in a thread.
    pub reply: bool,
    /// The platform honours the post's idempotency key, so a send whose outcome is
    /// unknown can simply be repeated.
    pub idempotency_key: bool,
    /// A post can be looked up after a send whose outcome is unknown (reconciliation).
    pub lookup: bool,
}

/// The four image types Tocsin takes.
pub const ALL_IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

/// What images a platform takes with a post, as its documentation says: a message whose
/// images it would refuse is refused at preview, naming the platform, not at send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRules {
    /// Images per post at most.
    pub max_images: usize,
    /// Bytes per image at most.
    pub max_bytes: u64,
    /// Pixels per image at most, where the platform caps them.
    pub max_pixels: Option<u64>,
    /// The longest description it takes, in characters (`None`: no cap documented).
    pub alt_max_chars: Option<usize>,
    /// Whether the description reaches the platform (Telegram has no alt text).
    pub alt_sent: bool,
    /// Whether the platform fetches each image itself from a link Tocsin serves at
    /// `[server] public_url` (Instagram, Threads) instead of taking an upload.
    pub fetched: bool,
    /// Whether the platform takes no post without an image (Instagram).
    pub required: bool,
    /// Whether it is sent an image's square version where the image has one (an alert
    /// card drawn at 1080x1080 for Instagram's grid).
    pub square: bool,
    /// The media types it takes.
    pub media_types: &'static [&'static str],
    /// Where these numbers come from.
    pub source: &'static str,
}

/// How accounts of one platform are connected through OAuth 2 (authorization code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthFacts {
    /// The consent page. `{instance}` stands for the account's instance URL and
    /// `{version}` for its API version.
    pub authorize_url: &'static str,
    /// The token endpoint, with the same placeholders.
    pub token_url: &'static str,
    /// The scopes Tocsin asks for.
    pub scopes: &'static [&'static str],
    /// How the platform separates scopes in the `scope` parameter.
    pub scope_separator: &'static str,
    /// Whether the flow uses PKCE (S256).
    pub pkce: bool,
    /// Whether the client authenticates with HTTP Basic (else in the body).
    pub basic_auth: bool,
    /// Where Tocsin's client comes from.
    pub client: OAuthClient,
    /// The API version the endpoints carry, where they carry one.
    pub api_version: Option<ApiVersion>,
    /// Settings an account needs before its authorisation starts.
    pub required_settings: &'static [&'static str],
    /// The platform's own steps around the standard code exchange.
    pub dialect: TokenDialect,
    /// How an access token is renewed without the admin.
    pub refresh: TokenRefresh,
    /// How Tocsin learns whose token it got, and names the account.
    pub identity: OAuthIdentity,
}

/// Where Tocsin's OAuth client for a platform comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthClient {
    /// Registered once at the platform's developer portal; its id and secret are these
    /// fields of the configuration's `[oauth]` section.
    Registered {
        /// The `[oauth]` field holding the client id.
        client_id_key: &'static str,
        /// The `[oauth]` field holding the client secret.
        client_secret_key: &'static str,
    },
    /// Registered by Tocsin itself with each instance (`POST /api/v1/apps`), whose URL
    /// is this setting of the account.
    PerInstance {
        /// The setting holding the instance's URL.
        instance_setting: &'static str,
    },
}

/// The API version a platform's endpoints carry (`{version}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion {
    /// The account setting naming it.
    pub setting: &'static str,
    /// The version when the account names none.
    pub default: &'static str,
}

/// A platform's steps around the standard authorization-code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDialect {
    /// RFC 6749 as written.
    Standard,
    /// Facebook Login: the code is exchanged with a `GET` (client in the query), the
    /// short-lived user token for a long-lived one (`fb_exchange_token`), and that for the
    /// Page's own token.
    FacebookLogin,
    /// Threads: the short-lived token becomes a long-lived one (`th_exchange_token`).
    ThreadsLongLived,
    /// Business Login for Instagram: the code answer may come wrapped in `data`, and the
    /// short-lived token becomes a long-lived one (`ig_exchange_token`) at the API's
    /// host, refreshed there with `ig_refresh_token`.
    InstagramLongLived,
}

/// How an access token is renewed without the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefresh {
    /// With the refresh token, where the platform gave one (standard grant).
    RefreshToken,
    /// The long-lived token refreshes itself before it expires (`th_refresh_token`,
    /// `ig_refresh_token`).
    LongLivedToken,
    /// Never: the token does not expire, or only a reconnect renews it.
    Never,
}

/// The API base a token's owner is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthApi {
    /// The URL in this account setting, else `default`.
    Setting {
        /// The setting.
        setting: &'static str,
        /// The platform's public API.
        default: &'static str,
    },
    /// The account's instance (see [`OAuthClient::PerInstance`]); the account is then
    /// named `@user@instance-host`.
    Instance,
}

/// Which part of the token's owner an account setting keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserPart {
    /// The platform's id of the user.
    Id,
    /// The user name.
    Username,
}

/// How Tocsin learns whose token it got, and checks it is the account the admin named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthIdentity {
    /// `GET <api><path>` with the token answers who it belongs to (JSON pointers `id`
    /// and `username`); the account is named `@username`, and `keep` stores the user's
    /// id or name in an account setting (a name kept there is also the account the
    /// admin means, when they name none).
    User {
        /// The API base.
        api: OAuthApi,
        /// The path (and query) that names the token's user.
        path: &'static str,
        /// Where the user's id is in the answer.
        id: &'static str,
        /// Where the user name is in the answer.
        username: &'static str,
        /// The setting that keeps the id or the name.
        keep: Option<(&'static str, UserPart)>,
    },
    /// The Pages the user manages (`GET <api>/<version>/me/accounts`): the one this
    /// setting names, with its own token, or a refusal.
    ManagedPage {
        /// The setting naming the Page.
        setting: &'static str,
        /// The Graph API.
        api: OAuthApi,
    },
    /// The token's scope cannot read who consented: the organisation this setting names
    /// is taken as given (the first post shows whether it works).
    AsGiven {
        /// The setting naming the organisation.
        setting: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn descriptor(from: HostSource, default: &'static str) -> PlatformDescriptor {
        PlatformDescriptor {
            platform: Platform::Webhook,
            secret: SecretFacts {
                what: "a secret",
                required: true,
            },
            settings: &[],
            build: |_, _| Err(ConnectorError::Config("not built in this test".into())),
            host: HostRule { from, default },
            oauth: None,
            counting: CountingRule::UNLIMITED,
            capabilities: Capabilities {
                delete: false,
                reply: false,
                idempotency_key: false,
                lookup: false,
            },
            images: None,
        }
    }

    #[test]
    fn the_route_host_is_read_from_the_named_setting_or_secret_else_the_default() {
        let d = descriptor(HostSource::UrlSetting("api_url"), "api.telegram.org");
        assert_eq!(
            d.route_host(&json!({"api_url": "http://127.0.0.1:9/"}), None),
            "127.0.0.1:9"
        );
        assert_eq!(d.route_host(&json!({}), None), "api.telegram.org");
        let d = descriptor(HostSource::SecretUrl, "discord.com");
        assert_eq!(
            d.route_host(&json!({}), Some("https://Discord.com/api/webhooks/1/t")),
            "discord.com"
        );
        let d = descriptor(HostSource::HostSetting("smtp_host"), "email");
        assert_eq!(
            d.route_host(&json!({"smtp_host": "SMTP.x.org"}), None),
            "smtp.x.org"
        );
        assert_eq!(
            host_of("https://user@h.example:8443/p?q#f"),
            Some("h.example:8443".into())
        );
    }
}
