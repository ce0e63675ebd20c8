//! A Discord webhook account's settings: the server (guild) for message links, and the
//! thread replies go into.
//!
//! Unknown fields are refused. The webhook URL is the account's secret (it holds the
//! webhook token) and never appears here or in any error.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;
use url::Url;

use crate::endpoint::https_or_loopback;

/// Settings of one Discord webhook account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The server (guild) id, used to build message links
    /// (`https://discord.com/channels/{guild}/{channel}/{message}`); without it posts
    /// have no link.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// A thread in the webhook's channel where replies (live-session updates) go. Without
    /// it a reply is posted in the channel, quoting the earlier message's link: webhooks
    /// cannot set a message reference.
    #[serde(default)]
    pub thread_id: Option<String>,
}

impl DiscordConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let config: DiscordConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Discord settings: {e}")))?;
        for (field, value) in [
            ("guild_id", &config.guild_id),
            ("thread_id", &config.thread_id),
        ] {
            if let Some(id) = value {
                check_snowflake(id).map_err(|_| {
                    ConnectorError::Config(format!("{field} is not a Discord id (digits only)"))
                })?;
            }
        }
        Ok(config)
    }
}

/// Discord ids ("snowflakes") are decimal numbers; anything else is refused before it
/// reaches a URL.
pub(crate) fn check_snowflake(id: &str) -> Result<(), ConnectorError> {
    if !id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Permanent(format!(
            "{:?} is not a Discord id",
            id.chars().take(40).collect::<String>()
        )))
    }
}

/// Checks a webhook URL (`https://discord.com/api/webhooks/{id}/{token}`): `https` (or
/// `http` on loopback), no query, and a path ending in `webhooks/{id}/{token}`. The
/// error never echoes the URL.
pub fn webhook_url(text: &str) -> Result<Url, ConnectorError> {
    let url = https_or_loopback("webhook URL", text, false)?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    let shape_ok = match segments.as_slice() {
        [.., webhooks, id, token] => {
            *webhooks == "webhooks" && check_snowflake(id).is_ok() && !token.is_empty()
        }
        _ => false,
    };
    if shape_ok {
        Ok(url)
    } else {
        Err(ConnectorError::Config(
            "webhook URL: the path is not .../webhooks/{id}/{token}".into(),
        ))
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_must_be_snowflakes_and_webhook_urls_are_checked_without_echoing_them() {
        assert!(
            DiscordConfig::from_settings(&json!({"guild_id": "123", "thread_id": "456"})).is_ok()
        );
        assert!(DiscordConfig::from_settings(&json!({"guild_id": "../1"})).is_err());
        assert!(DiscordConfig::from_settings(&json!({"guild": "1"})).is_err());
        assert!(webhook_url("https://discord.com/api/webhooks/123/s3cret-token").is_ok());
        for bad in [
            "http://discord.com/api/webhooks/123/s3cret-token",
            "https://discord.com/api/webhooks/123/s3cret-token?wait=true",
            "https://discord.com/api/channels/s3cret-token",
        ] {
            let err = webhook_url(bad).unwrap_err();
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }
}
