//! Connecting platform accounts through OAuth 2, and keeping their tokens fresh.
//!
//! An admin starts an authorisation ([`TokenManager::start`]): Tocsin stores it (the
//! SHA-256 of a random `state`, the PKCE verifier sealed, who started it, ten minutes to
//! live) and answers the platform's authorize URL. The platform sends the browser back to
//! `GET /oauth/callback` on the Tocsin server, which checks the state (known, unexpired,
//! unused, started by the same user as the session the browser carries), exchanges the
//! code ([`TokenManager::finish`]), asks the platform who the token belongs to and refuses
//! a token for another account than the one the admin named, then stores the account and
//! its sealed token bundle in one transaction. Every step and every refusal is audited;
//! no token, code, verifier or client secret is ever logged, audited or answered.
//!
//! Platforms (their descriptors' OAuth facts, read by [`platform`]): X (authorization
//! code + PKCE S256 + `state`, confidential client with HTTP Basic, rotating refresh
//! tokens), LinkedIn (authorization code +
//! `state`, 60-day tokens, refresh tokens only for some partners), Facebook Pages
//! (Facebook Login, then a long-lived user token, then the Page's token from
//! `/me/accounts`), Threads (authorization code, then a long-lived token refreshed with
//! `th_refresh_token`), Mastodon (a client registered per instance with
//! `POST /api/v1/apps` and kept sealed, then authorization code + PKCE). The `oauth2`
//! crate builds the authorize URLs and runs the standard code and refresh exchanges over
//! Tocsin's bounded HTTP client; the platform-specific steps are plain requests.
//!
//! Tokens are refreshed by the account's connector itself ([`TokenManager`] wraps the
//! platform connector of every OAuth account): before a call when the token is within its
//! refresh window, by a background sweep that does the same for idle accounts, and once
//! after a platform answers 401, then the call is retried once. Refreshes of one account
//! are serialised, and a refresh the platform refuses marks the account `auth_failed`
//! (shown on the admin page, audited) and makes every later call fail at once as an
//! authentication failure, which the dispatcher does not retry: no retry storm, no
//! hammering of the token endpoint, until an admin connects the account again.

pub mod bundle;
pub mod platform;
mod tokens;

use secrecy::SecretString;
use std::time::Duration;
use tocsin_domain::Platform;

pub use bundle::TokenBundle;
pub(crate) use tokens::client_aad;
pub use tokens::{state_hash, Finished, StartRequest, Started, TokenManager};

/// The OAuth client Tocsin is registered as with one platform (from the platform's
/// developer portal). Endpoints can be overridden (a test pointing at a fake platform, a
/// regional endpoint); by default each platform's documented endpoints are used.
#[derive(Debug, Clone)]
pub struct OAuthClientConfig {
    /// The platform (X, LinkedIn, Facebook, Threads; Mastodon registers per instance).
    pub platform: Platform,
    /// The client id (Facebook's and Threads' app id).
    pub client_id: String,
    /// The client secret (app secret); `None` for a public client (X allows one).
    pub client_secret: Option<SecretString>,
    /// The authorize (consent page) URL instead of the platform's.
    pub authorize_url: Option<String>,
    /// The token endpoint instead of the platform's.
    pub token_url: Option<String>,
}

/// How Tocsin connects accounts through OAuth 2.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Tocsin's public URL (`https://alerts.health.example.gov`): the redirect URI
    /// registered at each platform is `<public_url>/oauth/callback`. When unset, a request
    /// from a loopback address uses its own `Host` (local use and tests only).
    pub public_url: Option<String>,
    /// The clients registered with platforms.
    pub clients: Vec<OAuthClientConfig>,
    /// The name Tocsin registers itself under with Mastodon instances.
    pub client_name: String,
    /// Refresh a token when less than this (or a quarter of its lifetime, if longer)
    /// remains.
    pub refresh_margin: Duration,
    /// How often the background sweep looks for tokens to refresh.
    pub refresh_every: Duration,
    /// How long an authorisation may take, from start to callback.
    pub pending_ttl: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            public_url: None,
            clients: Vec::new(),
            client_name: "Tocsin".into(),
            refresh_margin: Duration::from_secs(5 * 60),
            refresh_every: Duration::from_secs(60),
            pending_ttl: Duration::from_secs(10 * 60),
        }
    }
}

impl OAuthConfig {
    /// The client registered with `platform`, if any.
    pub fn client(&self, platform: Platform) -> Option<&OAuthClientConfig> {
        self.clients.iter().find(|c| c.platform == platform)
    }
}

/// Why an OAuth step was refused: a stable code (shown by the panel, in the audit log and
/// in `#/admin?oauth_error=<code>`) and words for the admin (never a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The code (`state_replayed`, `denied`, `code_rejected`, `wrong_account`, ...).
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl Refusal {
    /// A refusal with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Whether `platform`'s accounts can be connected through OAuth 2 (its descriptor has
/// OAuth facts).
pub fn connects_through_oauth(platform: Platform) -> bool {
    platform::facts(platform).is_some()
}

/// The platforms accounts can be connected on through OAuth 2, by name (`mastodon, x,
/// ...`), for messages.
pub fn oauth_platform_names() -> String {
    platform::oauth_platforms()
        .map(|(p, _)| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The redirect URI for a public URL: `<public_url>/oauth/callback`.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/oauth/callback", public_url.trim_end_matches('/'))
}

/// Checks a URL Tocsin will call: `https`, or plain `http` on a loopback host (tests and
/// local instances); no user or password. Returns it without a trailing slash.
pub fn checked_url(field: &str, text: &str) -> Result<String, Refusal> {
    let bad = |why: &str| Refusal::new("invalid", format!("{field}: {why}"));
    let url = url::Url::parse(text.trim()).map_err(|_| bad("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold a user name or password"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must be https (plain http only on a loopback address)")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_tocsin_calls_are_https_or_loopback_http() {
        assert_eq!(
            checked_url("u", "https://social.example/").unwrap(),
            "https://social.example"
        );
        assert!(checked_url("u", "http://127.0.0.1:9").is_ok());
        assert!(checked_url("u", "http://social.example").is_err());
        assert!(checked_url("u", "https://a:b@social.example").is_err());
        assert!(checked_url("u", "https://social.example/?x=1").is_err());
        assert!(checked_url("u", "ftp://social.example").is_err());
        assert_eq!(
            redirect_uri("https://alerts.example.org/"),
            "https://alerts.example.org/oauth/callback"
        );
    }
}
