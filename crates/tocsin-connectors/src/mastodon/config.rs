//! A Mastodon account's settings: which server, and how its posts are shown.
//!
//! Unknown fields are refused so that a typo in an account's settings is an error at
//! load time, not a silently public post. The access token is the account's secret and
//! never appears here.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::endpoint::https_or_loopback;

/// Who may see a status (Mastodon's `visibility` parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, and listed on public timelines (the default for public alerts).
    #[default]
    Public,
    /// Everyone, but kept off public timelines.
    Unlisted,
    /// Followers only.
    Private,
    /// Mentioned accounts only.
    Direct,
}

impl Visibility {
    /// The value Mastodon expects on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// Settings of one Mastodon account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    /// The server's base URL, e.g. `https://mastodon.example`. Must be `https`; plain
    /// `http` is allowed only for a loopback host (tests, a local demo server).
    pub base_url: String,
    /// Who may see the posts; `public` when not set.
    #[serde(default)]
    pub visibility: Visibility,
    /// The posts' language as an ISO 639 code (`en`, `es`), sent as `language`.
    #[serde(default)]
    pub language: Option<String>,
}

impl MastodonConfig {
    /// Reads and checks the settings: the base URL is normalised (no trailing slash),
    /// the language must look like an ISO 639 code.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: MastodonConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Mastodon settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        if let Some(lang) = &config.language {
            check_language(lang)?;
        }
        Ok(config)
    }
}

/// Checks a language tag's shape (`en`, `pt-BR`, `zh-Hant`): letters and dashes only,
/// starting with a two- or three-letter code.
pub(crate) fn check_language(lang: &str) -> Result<(), ConnectorError> {
    let primary = lang.split('-').next().unwrap_or_default();
    let shape_ok = (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && lang.len() <= 35
        && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if shape_ok {
        Ok(())
    } else {
        Err(ConnectorError::Config(format!(
            "language {lang:?} is not a language code such as \"en\" or \"pt-BR\""
        )))
    }
}

/// A platform base URL, checked by [`https_or_loopback`] (`https`, or `http` on a
/// loopback host; no user info, query or fragment) and returned without a trailing
/// slash so API paths can be appended.
pub(crate) fn checked_base_url(field: &str, text: &str) -> Result<String, ConnectorError> {
    let url = https_or_loopback(field, text, false)?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_default_to_public_and_lose_the_trailing_slash() {
        let c =
            MastodonConfig::from_settings(&json!({"base_url": "https://social.example/"})).unwrap();
        assert_eq!(c.base_url, "https://social.example");
        assert_eq!(c.visibility, Visibility::Public);
        assert_eq!(c.language, None);
    }

    #[test]
    fn unknown_fields_plain_http_and_odd_languages_are_refused() {
        let typo = json!({"base_url": "https://social.example", "visibilty": "unlisted"});
        assert!(matches!(
            MastodonConfig::from_settings(&typo),
            Err(ConnectorError::Config(_))
        ));
        let http = json!({"base_url": "http://social.example"});
        assert!(matches!(
            MastodonConfig::from_settings(&http),
            Err(ConnectorError::Config(_))
        ));
        let lang = json!({"base_url": "https://social.example", "language": "english!"});
        assert!(matches!(
            MastodonConfig::from_settings(&lang),
            Err(ConnectorError::Config(_))
        ));
        let creds = json!({"base_url": "https://user:pw@social.example"});
        assert!(matches!(
            MastodonConfig::from_settings(&creds),
            Err(ConnectorError::Config(_))
        ));
    }

    #[test]
    fn plain_http_is_accepted_for_loopback_hosts() {
        for base in [
            "http://127.0.0.1:8080",
            "http://localhost:3000/",
            "http://[::1]:9",
        ] {
            let c = MastodonConfig::from_settings(
                &json!({"base_url": base, "visibility": "unlisted", "language": "en"}),
            );
            assert!(c.is_ok(), "{base}: {c:?}");
        }
    }
}
