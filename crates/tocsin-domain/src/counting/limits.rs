//! Per-deployment overrides of platform limits, read from config or from the account.
//!
//! Only limits that really vary by deployment live here: a Mastodon instance's character
//! limit and how many SMS segments the organisation is willing to pay for.

use serde::{Deserialize, Serialize};

/// Per-deployment overrides of platform limits (from config / the account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformLimits {
    /// Mastodon instance limit (`configuration.statuses.max_characters` from
    /// `GET /api/v2/instance`), default 500.
    pub mastodon_max_characters: usize,
    /// Longest SMS allowed, in segments, default 4.
    pub sms_max_segments: u32,
}

impl Default for PlatformLimits {
    fn default() -> Self {
        PlatformLimits {
            mastodon_max_characters: 500,
            sms_max_segments: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mastodon_500_and_four_sms_segments() {
        let limits = PlatformLimits::default();
        assert_eq!(limits.mastodon_max_characters, 500);
        assert_eq!(limits.sms_max_segments, 4);
    }

    #[test]
    fn config_may_set_either_field_and_the_other_keeps_its_default() {
        let limits: PlatformLimits = toml::from_str("mastodon_max_characters = 5000").unwrap();
        assert_eq!(limits.mastodon_max_characters, 5000);
        assert_eq!(limits.sms_max_segments, 4);
        let limits: PlatformLimits = serde_json::from_str(r#"{"sms_max_segments": 2}"#).unwrap();
        assert_eq!(limits.sms_max_segments, 2);
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let result: Result<PlatformLimits, _> = toml::from_str("mastodon_max_chars = 5000");
        assert!(result.is_err());
    }
}
