//! A Matrix account's settings: which homeserver, and which room it posts into.
//!
//! Unknown fields are refused so that a typo is an error when the account is loaded.
//! The access token is the account's secret and never appears here.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;
use url::Url;

use crate::endpoint::https_or_loopback;

/// Settings of one Matrix account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base URL, e.g. `https://matrix.example.org`.
    /// Must be `https`; plain `http` only for a loopback host.
    pub homeserver: String,
    /// The room to post into, as a room id, not an alias (an alias can be repointed to
    /// another room by whoever controls it): `!opaque:server.name`, or from room version
    /// 12 on `!` and 43 base64url characters, with no server.
    pub room_id: String,
}

impl MatrixConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let config: MatrixConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("Matrix settings: {e}")))?;
        config.homeserver_url()?;
        check_room_id(&config.room_id)?;
        Ok(config)
    }

    /// The homeserver base URL, checked.
    pub fn homeserver_url(&self) -> Result<Url, ConnectorError> {
        https_or_loopback("homeserver", &self.homeserver, false)
    }
}

/// A room id is `!localpart:server` (room versions 1 to 11) or `!` and the 43 unpadded
/// base64url characters of the create event's hash (version 12, MSC4291); control
/// characters and whitespace are refused so the id is safe in a URL path and a log line.
pub fn check_room_id(room_id: &str) -> Result<(), ConnectorError> {
    let v12 = room_id.strip_prefix('!').is_some_and(|hash| {
        hash.len() == 43
            && hash
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let with_server = room_id.starts_with('!')
        && room_id
            .split_once(':')
            .is_some_and(|(local, server)| local.len() > 1 && !server.is_empty());
    let shape_ok = (v12 || with_server)
        && room_id.len() <= 255
        && !room_id.chars().any(|c| c.is_control() || c.is_whitespace());
    if shape_ok {
        Ok(())
    } else {
        Err(ConnectorError::Config(format!(
            "room_id {:?} is not a Matrix room id such as \"!abc123:example.org\" or (room version 12) \"!\" and 43 characters (aliases starting with # are not accepted)",
            room_id.chars().take(80).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_room_id_on_an_https_homeserver_is_accepted() {
        let c = MatrixConfig::from_settings(&json!({
            "homeserver": "https://matrix.example.org",
            "room_id": "!alerts:example.org"
        }))
        .unwrap();
        assert_eq!(c.room_id, "!alerts:example.org");
    }

    #[test]
    fn aliases_typos_and_plain_http_are_refused() {
        let alias = json!({"homeserver": "https://m.example", "room_id": "#alerts:example.org"});
        assert!(matches!(
            MatrixConfig::from_settings(&alias),
            Err(ConnectorError::Config(_))
        ));
        let typo = json!({"homeserver": "https://m.example", "room": "!a:example.org"});
        assert!(matches!(
            MatrixConfig::from_settings(&typo),
            Err(ConnectorError::Config(_))
        ));
        let http = json!({"homeserver": "http://m.example", "room_id": "!a:example.org"});
        assert!(matches!(
            MatrixConfig::from_settings(&http),
            Err(ConnectorError::Config(_))
        ));
        let local = json!({"homeserver": "http://127.0.0.1:8008", "room_id": "!a:example.org"});
        assert!(MatrixConfig::from_settings(&local).is_ok());
    }

    #[test]
    fn a_room_version_12_id_without_a_server_is_accepted_and_a_near_miss_is_not() {
        let v12 = "!DMc_GNIcrGiUx-y9_I5pI1rMYNaNIYdHfy5EMM3vb4o";
        let c = MatrixConfig::from_settings(&json!({
            "homeserver": "https://matrix.example.org",
            "room_id": v12,
        }))
        .unwrap();
        assert_eq!(c.room_id, v12);
        for bad in [
            "!DMc_GNIcrGiUx-y9_I5pI1rMYNaNIYdHfy5EMM3vb4",
            "!DMc_GNIcrGiUx-y9_I5pI1rMYNaNIYdHfy5EMM3vb4o=",
            "!DMc/GNIcrGiUx+y9_I5pI1rMYNaNIYdHfy5EMM3vb4o",
            "!short",
        ] {
            assert!(check_room_id(bad).is_err(), "{bad} should be refused");
        }
    }
}
