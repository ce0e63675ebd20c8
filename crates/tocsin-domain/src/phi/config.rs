//! Organisation settings for the PHI guard (the `[phi]` section of tocsin.toml) and the
//! errors [`PhiGuard::new`](super::PhiGuard::new) reports when they cannot be used.
//! Unknown keys are refused so that a typo in an allow list is an error, not a silent no-op.

/// What the organisation allows and adds on top of the built-in detectors.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhiConfig {
    /// Domains whose URLs and email addresses are the organisation's own and never hits (e.g. "health.example.gov"; subdomains included).
    pub allowed_domains: Vec<String>,
    /// Public phone numbers of the organisation (any formatting; compared by digits) that are never hits.
    pub allowed_phone_numbers: Vec<String>,
    /// Organisation-defined patterns, each reported as family `Custom` with its name.
    pub custom_patterns: Vec<CustomPattern>,
}

/// A named regular expression (Rust `regex` syntax) whose matches are reported as
/// [`PhiFamily::Custom`](super::PhiFamily::Custom) hits.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// The name hits are reported under, e.g. "employee_badge".
    pub name: String,
    /// The pattern, e.g. `\bEMP-[0-9]{6}\b`; add `(?i)` for case-insensitive matching.
    pub regex: String,
}

/// Why a [`PhiConfig`] could not be turned into a guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhiConfigError {
    /// A custom pattern does not compile.
    #[error("custom PHI pattern `{name}` is not a valid regular expression: {reason}")]
    InvalidPattern {
        /// The pattern's configured name.
        name: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A custom pattern matches the empty string, so it says nothing about the text.
    #[error("custom PHI pattern `{name}` matches the empty string; it must match at least one character")]
    EmptyMatchPattern {
        /// The pattern's configured name.
        name: String,
    },
    /// A custom pattern has an empty name, so its hits could not be told apart.
    #[error(
        "a custom PHI pattern has an empty name (regex `{regex}`); every pattern needs a name"
    )]
    UnnamedPattern {
        /// The unnamed pattern's regex.
        regex: String,
    },
    /// An allowed domain is not a domain name.
    #[error(
        "allowed domain `{domain}` is not a domain name (expected e.g. \"health.example.gov\")"
    )]
    InvalidAllowedDomain {
        /// The configured value.
        domain: String,
    },
    /// An allowed phone number has no digits in it.
    #[error("allowed phone number `{number}` contains no digits")]
    InvalidAllowedPhoneNumber {
        /// The configured value.
        number: String,
    },
}

/// Lower-cases a configured domain and strips what people paste around one
/// ("https://", "*.", a path, a trailing dot); `None` if what is left is not a host name.
pub(crate) fn normalise_domain(raw: &str) -> Option<String> {
    let mut s = raw.trim().to_ascii_lowercase();
    if let Some(pos) = s.find("://") {
        s = s.get(pos + 3..).unwrap_or_default().to_owned();
    }
    if let Some(pos) = s.find(['/', '?', '#']) {
        s.truncate(pos);
    }
    let s = s.trim_start_matches("*.").trim_matches('.');
    let valid = !s.is_empty()
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid.then(|| s.to_owned())
}

/// The digits of a phone number, without a leading North American country code.
pub(crate) fn phone_digits(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        digits.get(1..).unwrap_or_default().to_owned()
    } else {
        digits
    }
}
