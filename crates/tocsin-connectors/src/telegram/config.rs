//! A Telegram bot account's settings: which chat it posts into, and where the Bot API is.
//!
//! Unknown fields are refused so a typo is an error at load time. The bot token is the
//! account's secret and never appears here (nor in any error: it travels in URL paths).

use serde::Deserialize;
use serde_json::{json, Value};
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The public Bot API server.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Settings of one Telegram bot account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The chat to post into: a numeric chat id (`-1001234567890`) or a public channel's
    /// `@username`.
    pub chat_id: String,
    /// The Bot API server (a self-hosted `telegram-bot-api` works too); `https`, or plain
    /// `http` on a loopback host. Defaults to `https://api.telegram.org`.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Whether Telegram may show a link preview under the message; off by default so an
    /// alert is not pushed below the fold by a picture.
    #[serde(default)]
    pub link_preview: bool,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

impl TelegramConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: TelegramConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Telegram settings: {e}")))?;
        config.api_url = checked_base_url("api_url", &config.api_url)?;
        config.chat_id_json()?;
        Ok(config)
    }

    /// `chat_id` as the Bot API takes it: a number, or the `@username` string.
    pub fn chat_id_json(&self) -> Result<Value, ConnectorError> {
        let id = self.chat_id.trim();
        if let Ok(n) = id.parse::<i64>() {
            return Ok(json!(n));
        }
        let name = id.strip_prefix('@').unwrap_or_default();
        let ok = (4..=32).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(json!(id))
        } else {
            Err(ConnectorError::Config(format!(
                "chat_id {:?} is neither a numeric chat id nor an @channelusername",
                id.chars().take(40).collect::<String>()
            )))
        }
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn numeric_and_username_chat_ids_are_accepted_and_typos_refused() {
        let c = TelegramConfig::from_settings(&json!({"chat_id": "-1001234567890"})).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.chat_id_json().unwrap(), json!(-1_001_234_567_890_i64));
        let c = TelegramConfig::from_settings(&json!({"chat_id": "@county_health"})).unwrap();
        assert_eq!(c.chat_id_json().unwrap(), json!("@county_health"));
        assert!(TelegramConfig::from_settings(&json!({"chat_id": "county health"})).is_err());
        assert!(TelegramConfig::from_settings(&json!({"chat_id": "1", "chatid": "2"})).is_err());
        assert!(TelegramConfig::from_settings(
            &json!({"chat_id": "1", "api_url": "http://api.telegram.org"})
        )
        .is_err());
    }
}
