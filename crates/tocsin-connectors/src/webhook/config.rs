//! A webhook subscription's settings: where to deliver.
//!
//! Unknown fields are refused. The signing secret (`whsec_<base64>`) is the account's
//! secret and never appears here; the URL is never echoed in errors, since receivers
//! often put their own routing key in it.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;
use url::Url;

use crate::endpoint::https_or_loopback;

/// Settings of one webhook subscription (`AccountSpec::settings`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The subscriber's endpoint. Must be `https`; plain `http` only for a loopback host.
    /// A query string is allowed.
    pub url: String,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry the receiver's key: show only where it goes.
        let host = Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        f.debug_struct("WebhookConfig")
            .field("host", &host)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let config: WebhookConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("webhook settings: {e}")))?;
        config.endpoint()?;
        Ok(config)
    }

    /// The endpoint, checked.
    pub fn endpoint(&self) -> Result<Url, ConnectorError> {
        https_or_loopback("url", &self.url, true)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_https_url_is_accepted_and_plain_http_elsewhere_is_not() {
        assert!(
            WebhookConfig::from_settings(&json!({"url": "https://hooks.example/in?k=1"})).is_ok()
        );
        assert!(WebhookConfig::from_settings(&json!({"url": "http://[::1]:9000/in"})).is_ok());
        let err =
            WebhookConfig::from_settings(&json!({"url": "http://hooks.example/in?key=hunter2"}))
                .unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)));
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        assert!(
            WebhookConfig::from_settings(&json!({"url": "https://h.example", "secret": "x"}))
                .is_err()
        );
    }

    #[test]
    fn debug_output_hides_the_path_and_query() {
        let c = WebhookConfig::from_settings(
            &json!({"url": "https://hooks.example/in/s3cret?k=hunter2"}),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("hooks.example"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
