//! A Bluesky account's settings: which PDS to talk to and who signs in.
//!
//! Unknown fields are refused so that a typo is an error at load time. The app password
//! is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::{check_language, checked_base_url};

/// The service most accounts sign in to.
pub const DEFAULT_SERVICE: &str = "https://bsky.social";

fn default_service() -> String {
    DEFAULT_SERVICE.to_string()
}

/// Settings of one Bluesky account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    /// The PDS (or entryway) base URL; `https://bsky.social` when not set. Must be
    /// `https`; plain `http` is allowed only for a loopback host.
    #[serde(default = "default_service")]
    pub service: String,
    /// The account's handle (`health.example.gov`) or DID (`did:plc:...`), used as the
    /// `identifier` of `com.atproto.server.createSession`.
    pub handle: String,
    /// The posts' language (BCP 47, e.g. `en`), sent as the record's `langs`.
    #[serde(default)]
    pub language: Option<String>,
}

impl BlueskyConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: BlueskyConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Bluesky settings: {e}")))?;
        config.service = checked_base_url("service", &config.service)?;
        config.handle = config.handle.trim().trim_start_matches('@').to_string();
        let handle_ok = !config.handle.is_empty()
            && config.handle.len() <= 253
            && config
                .handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '%'));
        if !handle_ok {
            return Err(ConnectorError::Config(format!(
                "handle {:?} is neither a handle nor a DID",
                config.handle
            )));
        }
        if let Some(lang) = &config.language {
            check_language(lang)?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_service_defaults_to_bsky_social() {
        let c = BlueskyConfig::from_settings(&json!({"handle": "@health.example.gov"})).unwrap();
        assert_eq!(c.service, "https://bsky.social");
        assert_eq!(c.handle, "health.example.gov");
    }

    #[test]
    fn typos_bad_handles_and_plain_http_are_refused() {
        for bad in [
            json!({"handle": "a.example", "servce": "https://pds.example"}),
            json!({"handle": "not a handle"}),
            json!({"handle": "a.example", "service": "http://pds.example"}),
            json!({}),
        ] {
            assert!(
                matches!(
                    BlueskyConfig::from_settings(&bad),
                    Err(ConnectorError::Config(_))
                ),
                "{bad}"
            );
        }
    }
}
