//! A Slack bot account's settings: which channel it posts into, and where the Web API is.
//!
//! Unknown fields are refused. The bot token (`xoxb-...`) is the account's secret and
//! never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// Slack's Web API host.
pub const DEFAULT_API_URL: &str = "https://slack.com";

/// Settings of one Slack bot account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The channel's id (`C0123ABCD`; a name can be renamed, an id cannot). The bot must
    /// be a member of it.
    pub channel: String,
    /// The Web API base (`https://slack.com`, to which `/api/{method}` is appended);
    /// `https`, or `http` on a loopback host.
    #[serde(default = "default_api_url")]
    pub api_url: String,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

impl SlackConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: SlackConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Slack settings: {e}")))?;
        config.api_url = checked_base_url("api_url", &config.api_url)?;
        check_channel(&config.channel).map_err(|_| {
            ConnectorError::Config(format!(
                "channel {:?} is not a Slack channel id such as \"C0123ABCD\"",
                config.channel.chars().take(40).collect::<String>()
            ))
        })?;
        Ok(config)
    }
}

/// A conversation id: `C`, `G` or `D` and capital letters or digits.
pub(crate) fn check_channel(id: &str) -> Result<(), ConnectorError> {
    let ok = id.len() >= 5
        && id.len() <= 24
        && id.starts_with(['C', 'G', 'D'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Slack channel id",
            id.chars().take(40).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_channel_id_is_required_and_names_or_typos_are_refused() {
        let c = SlackConfig::from_settings(&json!({"channel": "C0TOCSIN01"})).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(SlackConfig::from_settings(&json!({"channel": "#alerts"})).is_err());
        assert!(
            SlackConfig::from_settings(&json!({"channel": "C0TOCSIN01", "chanel": "x"})).is_err()
        );
        assert!(SlackConfig::from_settings(
            &json!({"channel": "C0TOCSIN01", "api_url": "http://slack.com"})
        )
        .is_err());
    }
}
