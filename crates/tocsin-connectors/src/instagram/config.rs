//! An Instagram professional account's settings: its user id and where the API is.
//!
//! Unknown fields are refused so a typo is an error at load time. The Instagram user
//! access token is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The Instagram API with Instagram Login, version included (the version Meta's IG
/// Media reference named as the latest when this was written).
pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com/v25.0";

/// Settings of one Instagram professional account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramConfig {
    /// The Instagram professional account's id (digits): `user_id` of `GET /me`, as
    /// Connect with Instagram stores it.
    pub user_id: String,
    /// The API's base URL with its version; `https`, or plain `http` on a loopback host.
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

impl InstagramConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: InstagramConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Instagram settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        if config.user_id.is_empty()
            || config.user_id.len() > 24
            || !config.user_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ConnectorError::Config(
                "user_id must be the Instagram professional account's numeric id".into(),
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
        let c = InstagramConfig::from_settings(&json!({"user_id": "17841400000000001"})).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(InstagramConfig::from_settings(&json!({"user_id": "me"})).is_err());
        assert!(InstagramConfig::from_settings(&json!({"user_id": "1", "userid": "1"})).is_err());
        assert!(InstagramConfig::from_settings(
            &json!({"user_id": "1", "base_url": "http://graph.instagram.com/v25.0"})
        )
        .is_err());
    }
}
