//! An OAuth account's token bundle: what is sealed as the account's secret.
//!
//! The bundle is JSON with a marker field, so a pasted plain token (which never starts
//! with `{"tocsin_oauth2"`) and a bundle can share the `token_encrypted` column and be
//! told apart when the secret is opened. It is only ever held inside a [`SecretString`]
//! in serialised form, and its `Debug` shows no token.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

/// The marker that starts a serialised bundle.
const MARKER: &str = "{\"tocsin_oauth2\":";

/// Access token, refresh token, expiry and scopes of one OAuth account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBundle {
    /// Format version (1).
    pub tocsin_oauth2: u8,
    /// The platform (`x`, `mastodon`, ...).
    pub platform: String,
    /// The access token the connector sends.
    pub access_token: String,
    /// The refresh token, where the platform gives one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token was obtained.
    pub issued_at: DateTime<Utc>,
    /// When it expires (`None`: it does not, or the platform did not say).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Mastodon's instance (whose registered client refreshes would use).
    #[serde(default)]
    pub instance_url: Option<String>,
}

impl std::fmt::Debug for TokenBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBundle")
            .field("platform", &self.platform)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenBundle {
    /// The bundle as the secret to seal.
    pub fn to_secret(&self) -> SecretString {
        // Serialising plain strings and times cannot fail; an empty secret would be
        // refused by the connector check rather than stored.
        SecretString::from(serde_json::to_string(self).unwrap_or_default())
    }

    /// The bundle in an opened secret, or `None` for a plain token.
    pub fn from_secret(secret: &SecretString) -> Option<TokenBundle> {
        let text = secret.expose_secret();
        if !text.starts_with(MARKER) {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// The access token as the secret a connector takes.
    pub fn access_secret(&self) -> SecretString {
        SecretString::from(self.access_token.clone())
    }

    /// Whether the token should be refreshed at `now`: it expires within `margin`, or
    /// within a quarter of its lifetime if that is longer.
    pub fn due(&self, now: DateTime<Utc>, margin: std::time::Duration) -> bool {
        let Some(expires) = self.expires_at else {
            return false;
        };
        let lifetime = expires - self.issued_at;
        let margin = chrono::Duration::from_std(margin).unwrap_or_default();
        let window = (lifetime / 4).max(margin);
        expires - now <= window
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> TokenBundle {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        TokenBundle {
            tocsin_oauth2: 1,
            platform: "x".into(),
            access_token: "canary-access".into(),
            refresh_token: Some("canary-refresh".into()),
            issued_at: at,
            expires_at: Some(at + chrono::Duration::hours(2)),
            scopes: vec!["tweet.write".into()],
            instance_url: None,
        }
    }

    #[test]
    fn a_bundle_round_trips_and_a_plain_token_is_not_one() {
        let b = bundle();
        let secret = b.to_secret();
        assert_eq!(TokenBundle::from_secret(&secret), Some(b.clone()));
        assert_eq!(
            TokenBundle::from_secret(&SecretString::from("plain-token".to_string())),
            None
        );
        assert!(!format!("{b:?}").contains("canary"));
    }

    #[test]
    fn refresh_is_due_in_the_last_quarter_of_the_lifetime_or_the_margin() {
        let b = bundle();
        let five = std::time::Duration::from_secs(300);
        let start = b.issued_at;
        assert!(!b.due(start + chrono::Duration::minutes(80), five));
        assert!(b.due(start + chrono::Duration::minutes(91), five));
        assert!(!b.expired(start + chrono::Duration::minutes(119)));
        assert!(b.expired(start + chrono::Duration::minutes(120)));
        let forever = TokenBundle {
            expires_at: None,
            ..b
        };
        assert!(!forever.due(start + chrono::Duration::days(999), five));
    }
}
