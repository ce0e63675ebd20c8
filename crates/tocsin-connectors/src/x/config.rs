//! An X account's settings: where the API is and the account's user name (for links).
//!
//! Unknown fields are refused so a typo is an error at load time. The OAuth 2 user
//! access token is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The public X API.
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";

/// Settings of one X account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    /// The API's base URL; `https`, or plain `http` on a loopback host. Defaults to
    /// `https://api.x.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The account's user name without `@`, used to build post links
    /// (`https://x.com/{username}/status/{id}`).
    pub username: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

impl XConfig {
    /// Reads and checks the settings: the base URL is normalised, the user name must be
    /// 1 to 15 letters, digits or underscores (X's rule).
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: XConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("X settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        let name = config.username.trim().trim_start_matches('@').to_string();
        let ok = (1..=15).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ConnectorError::Config(
                "username must be an X user name (1-15 letters, digits or _)".into(),
            ));
        }
        config.username = name;
        Ok(config)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_to_api_x_com_and_refuses_typos_bad_names_and_plain_http() {
        let c = XConfig::from_settings(&json!({"username": "@CountyHealth"})).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.username, "CountyHealth");
        assert!(XConfig::from_settings(&json!({"username": "a", "user": "b"})).is_err());
        assert!(XConfig::from_settings(&json!({"username": "county health"})).is_err());
        assert!(
            XConfig::from_settings(&json!({"username": "a", "base_url": "http://api.x.com"}))
                .is_err()
        );
        assert!(XConfig::from_settings(
            &json!({"username": "a", "base_url": "http://127.0.0.1:9"})
        )
        .is_ok());
    }
}
