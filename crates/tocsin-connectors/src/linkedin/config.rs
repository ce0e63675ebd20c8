//! A LinkedIn organisation page's settings: which organisation, which API version, and
//! where the API is.
//!
//! Unknown fields are refused so a typo is an error at load time. The OAuth 2 member
//! token (with `w_organization_social`) is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// The public LinkedIn API.
pub const DEFAULT_BASE_URL: &str = "https://api.linkedin.com";
/// The `LinkedIn-Version` sent unless set (`YYYYMM`; LinkedIn keeps a version about a
/// year, so this setting must move forward with time).
pub const DEFAULT_VERSION: &str = "202605";

/// Settings of one LinkedIn organisation page (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedinConfig {
    /// The organisation's numeric id (the author is `urn:li:organization:{id}`).
    pub organization_id: String,
    /// The `LinkedIn-Version` header, `YYYYMM`.
    #[serde(default = "default_version")]
    pub linkedin_version: String,
    /// The API's base URL; `https`, or plain `http` on a loopback host.
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

fn default_version() -> String {
    DEFAULT_VERSION.to_string()
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

impl LinkedinConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let mut config: LinkedinConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("LinkedIn settings: {e}")))?;
        config.base_url = checked_base_url("base_url", &config.base_url)?;
        let id = &config.organization_id;
        if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConnectorError::Config(
                "organization_id must be the organisation's numeric id".into(),
            ));
        }
        let v = &config.linkedin_version;
        let month = v.get(4..).and_then(|m| m.parse::<u32>().ok());
        if v.len() != 6
            || !v.chars().all(|c| c.is_ascii_digit())
            || !month.is_some_and(|m| (1..=12).contains(&m))
        {
            return Err(ConnectorError::Config(
                "linkedin_version must be YYYYMM, e.g. \"202605\"".into(),
            ));
        }
        Ok(config)
    }

    /// The author URN, `urn:li:organization:{id}`.
    pub fn author(&self) -> String {
        format!("urn:li:organization:{}", self.organization_id)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply_and_bad_ids_versions_and_typos_are_refused() {
        let c = LinkedinConfig::from_settings(&json!({"organization_id": "2414183"})).unwrap();
        assert_eq!(c.linkedin_version, DEFAULT_VERSION);
        assert_eq!(c.author(), "urn:li:organization:2414183");
        for bad in [
            json!({"organization_id": "acme"}),
            json!({"organization_id": "1", "linkedin_version": "2026-05"}),
            json!({"organization_id": "1", "linkedin_version": "202613"}),
            json!({"organization_id": "1", "version": "202605"}),
            json!({"organization_id": "1", "base_url": "http://api.linkedin.com"}),
        ] {
            assert!(LinkedinConfig::from_settings(&bad).is_err(), "{bad}");
        }
    }
}
