//! A Threads profile's settings: its user id and where the Threads API is.
//!
//! Unknown fields are refused so a typo is an error at load time. The Threads user
//! access token is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The public Threads API, version included.
pub const DEFAULT_BASE_URL: &str = "https://graph.threads.net/v1.0";

/// Settings of one Threads profile (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadsConfig {
    /// The Threads user id (digits), as the OAuth token exchange returns it.
    pub user_id: String,
    /// The API's base URL with its version; `https`, or plain `http` on a loopback host.
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

impl ThreadsConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: ThreadsConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Threads settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        if config.user_id.is_empty()
            || config.user_id.len() > 24
            || !config.user_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ConnectorError::Config(
                "user_id must be the Threads user's numeric id".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply_and_bad_ids_and_typos_are_refused() {
        let c = ThreadsConfig::from_settings(&json!({"user_id": "17841400000000001"})).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(ThreadsConfig::from_settings(&json!({"user_id": "me"})).is_err());
        assert!(ThreadsConfig::from_settings(&json!({"user_id": "1", "userid": "1"})).is_err());
        assert!(ThreadsConfig::from_settings(
            &json!({"user_id": "1", "base_url": "http://graph.threads.net/v1.0"})
        )
        .is_err());
    }
}
