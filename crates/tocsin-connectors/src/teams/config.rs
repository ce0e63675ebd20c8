//! A Microsoft Teams channel's settings. The Workflows (Power Automate) webhook URL is
//! the account's secret (its `sig` query parameter is the key) and never appears here
//! or in any error; unknown fields are refused.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;
use url::Url;

use crate::endpoint::https_or_loopback;

/// Settings of one Teams channel (`AccountSpec::settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The card's heading when the message has no title of its own.
    #[serde(default)]
    pub default_title: Option<String>,
}

impl TeamsConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Teams settings: {e}")))
    }
}

/// Checks a Workflows webhook URL: `https` (or `http` on loopback), no user info; the
/// query (`api-version`, `sig`, ...) is kept. The error never echoes the URL.
pub fn workflow_url(text: &str) -> Result<Url, ConnectorError> {
    https_or_loopback("Workflows webhook URL", text, true)
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_optional_and_typos_refused_and_urls_never_echoed() {
        assert_eq!(
            TeamsConfig::from_settings(&json!({})).unwrap(),
            TeamsConfig::default()
        );
        assert!(TeamsConfig::from_settings(&json!({"title": "x"})).is_err());
        assert!(workflow_url("https://prod-00.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s3cret").is_ok());
        let err =
            workflow_url("http://prod-00.westus.logic.azure.com/workflows?sig=s3cret").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
