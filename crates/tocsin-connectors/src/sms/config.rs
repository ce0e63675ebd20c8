//! An SMS (Twilio) account's settings: the Twilio account, the sender, and the list of
//! recipients one alert goes to.
//!
//! Unknown fields are refused. The auth token (or API key secret) is the account's
//! secret and never appears here; phone numbers are shown masked in errors and logs.

use serde::Deserialize;
use serde_json::Value;
use tocsin_connector::ConnectorError;

use crate::mastodon::config::checked_base_url;

/// Twilio's REST API host.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";
/// Most recipients one account may list (each costs one request per alert).
pub const MAX_RECIPIENTS: usize = 100;

/// Settings of one Twilio SMS account (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// The Twilio Account SID (`AC` and 32 hex digits).
    pub account_sid: String,
    /// An API key SID (`SK...`) to authenticate with instead of the Account SID; the
    /// secret is then that key's secret rather than the account's auth token.
    #[serde(default)]
    pub api_key_sid: Option<String>,
    /// The sending number (E.164), short code or alphanumeric sender id. Exactly one of
    /// `from` and `messaging_service_sid`.
    #[serde(default)]
    pub from: Option<String>,
    /// A Messaging Service (`MG...`) that picks the sender.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The recipients, in E.164 (`+15551234567`); each gets its own message.
    pub to: Vec<String>,
    /// The API base (`https://api.twilio.com`); `https`, or `http` on a loopback host.
    #[serde(default = "default_api_url")]
    pub api_url: String,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

fn sid(prefix: &str, text: &str) -> bool {
    text.len() == 34
        && text.starts_with(prefix)
        && text
            .get(2..)
            .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An E.164 number: `+`, then 2 to 15 digits not starting with 0.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.chars().all(|c| c.is_ascii_digit())
    })
}

/// A phone number for errors and logs: only its last four digits.
pub fn masked(number: &str) -> String {
    let tail: String = number
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

impl SmsConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<Self, ConnectorError> {
        let bad = |why: String| ConnectorError::Config(format!("SMS settings: {why}"));
        let mut config: SmsConfig =
            serde_json::from_value(settings.clone()).map_err(|e| bad(e.to_string()))?;
        config.api_url = checked_base_url("api_url", &config.api_url)?;
        if !sid("AC", &config.account_sid) {
            return Err(bad("account_sid is not a Twilio Account SID (AC...)".into()));
        }
        if config.api_key_sid.as_deref().is_some_and(|k| !sid("SK", k)) {
            return Err(bad("api_key_sid is not a Twilio API key SID (SK...)".into()));
        }
        match (&config.from, &config.messaging_service_sid) {
            (Some(from), None) => {
                let alphanumeric = (1..=11).contains(&from.len())
                    && from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
                    && from.chars().any(|c| c.is_ascii_alphabetic());
                let short_code =
                    (5..=6).contains(&from.len()) && from.chars().all(|c| c.is_ascii_digit());
                if !(is_e164(from) || alphanumeric || short_code) {
                    return Err(bad(
                        "from is not an E.164 number, short code or sender id".into()
                    ));
                }
            }
            (None, Some(service)) if sid("MG", service) => {}
            (None, Some(_)) => {
                return Err(bad(
                    "messaging_service_sid is not a Messaging Service SID (MG...)".into(),
                ))
            }
            _ => {
                return Err(bad(
                    "set exactly one of from and messaging_service_sid".into()
                ))
            }
        }
        if config.to.is_empty() || config.to.len() > MAX_RECIPIENTS {
            return Err(bad(format!("to must list 1 to {MAX_RECIPIENTS} numbers")));
        }
        for (i, number) in config.to.iter().enumerate() {
            if !is_e164(number) {
                return Err(bad(format!(
                    "to[{i}] ({}) is not an E.164 number such as +15551234567",
                    masked(number)
                )));
            }
            if config.to.iter().take(i).any(|n| n == number) {
                return Err(bad(format!("to[{i}] ({}) is listed twice", masked(number))));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sender_and_e164_recipients_are_required_and_numbers_are_masked_in_errors() {
        let ok = json!({"account_sid": AC, "from": "+15005550006", "to": ["+15551234567"]});
        let c = SmsConfig::from_settings(&ok).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        let both = json!({"account_sid": AC, "from": "+15005550006", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "to": ["+15551234567"]});
        assert!(SmsConfig::from_settings(&both).is_err());
        let none = json!({"account_sid": AC, "to": ["+15551234567"]});
        assert!(SmsConfig::from_settings(&none).is_err());
        let bad_to = json!({"account_sid": AC, "from": "CountyHlth", "to": ["555-123-9876"]});
        let err = SmsConfig::from_settings(&bad_to).unwrap_err();
        assert!(
            err.to_string().contains("…9876") && !err.to_string().contains("555-123"),
            "{err}"
        );
        let twice = json!({"account_sid": AC, "from": "+15005550006", "to": ["+15551234567", "+15551234567"]});
        assert!(SmsConfig::from_settings(&twice).is_err());
        let typo =
            json!({"account_sid": AC, "from": "+15005550006", "to": ["+15551234567"], "From": "x"});
        assert!(SmsConfig::from_settings(&typo).is_err());
        assert!(!is_e164("+0123") && is_e164("+447700900123"));
    }
}
