//! A Facebook Page's settings: which Page, which Graph API version, where the API is.
//!
//! Unknown fields are refused so a typo is an error at load time. The Page access token
//! is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The public Graph API.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version used unless set (the newest in Meta's changelog when written).
pub const DEFAULT_GRAPH_VERSION: &str = "v26.0";

/// Settings of one Facebook Page (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacebookConfig {
    /// The Page's numeric id.
    pub page_id: String,
    /// The Graph API version in paths (`v26.0`).
    #[serde(default = "default_version")]
    pub graph_version: String,
    /// The Graph API's base URL; `https`, or plain `http` on a loopback host.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Whether the first link in the text is also sent as the post's `link`, so Facebook
    /// shows its preview card. On by default.
    #[serde(default = "yes")]
    pub link_preview: bool,
}

fn default_version() -> String {
    DEFAULT_GRAPH_VERSION.to_string()
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn yes() -> bool {
    true
}

impl FacebookConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: FacebookConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Facebook settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        if config.page_id.is_empty()
            || config.page_id.len() > 20
            || !config.page_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ConnectorError::Config(
                "page_id must be the Page's numeric id".into(),
            ));
        }
        check_version(&config.graph_version)?;
        Ok(config)
    }
}

/// A Graph API version: `v` then `major.minor` digits.
pub(crate) fn check_version(version: &str) -> Result<(), ConnectorError> {
    let ok = version.strip_prefix('v').is_some_and(|rest| {
        rest.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        })
    });
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Config(
            "graph_version must look like \"v26.0\"".into(),
        ))
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply_and_bad_ids_versions_and_typos_are_refused() {
        let c = FacebookConfig::from_settings(&json!({"page_id": "1234567890"})).unwrap();
        assert_eq!(c.graph_version, DEFAULT_GRAPH_VERSION);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(c.link_preview);
        assert!(FacebookConfig::from_settings(&json!({"page_id": "county-health"})).is_err());
        assert!(
            FacebookConfig::from_settings(&json!({"page_id": "1", "graph_version": "21"})).is_err()
        );
        assert!(FacebookConfig::from_settings(&json!({"page_id": "1", "pageid": "2"})).is_err());
        assert!(FacebookConfig::from_settings(
            &json!({"page_id": "1", "base_url": "http://graph.facebook.com"})
        )
        .is_err());
    }
}
