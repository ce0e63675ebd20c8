//! Typed playbook variables: what a blank may hold, and checking a filled-in value.
//!
//! A [`VariableSpec`] is the validated form of a `[[variables]]` entry. [`VariableSpec::parse`]
//! turns the text a coordinator typed into a [`VariableValue`] or a [`ValueError`] that
//! names the rule broken; nothing is rendered until every value has passed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use regex::Regex;
use serde::Serialize;
use std::fmt;

use crate::phi::PhiFamily;

/// The kind of value a variable holds, as written in a playbook's `type = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableKind {
    /// Free text with a maximum length and an optional pattern.
    Text,
    /// One of a fixed list of choices.
    Enum,
    /// A whole number within a range.
    Integer,
    /// A date and time, read in (or converted to) the playbook's time zone.
    Datetime,
    /// A US ZIP code (five digits), optionally restricted to the jurisdiction's prefixes.
    Zip,
    /// A phone number in E.164 form (`+13125550143`).
    Phone,
    /// An `https` URL on one of the allowed domains.
    Url,
    /// A hashtag (letters, digits, underscore; not only digits).
    Hashtag,
}

impl VariableKind {
    /// The name used in playbooks (`text`, `enum`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            VariableKind::Text => "text",
            VariableKind::Enum => "enum",
            VariableKind::Integer => "integer",
            VariableKind::Datetime => "datetime",
            VariableKind::Zip => "zip",
            VariableKind::Phone => "phone",
            VariableKind::Url => "url",
            VariableKind::Hashtag => "hashtag",
        }
    }
}

/// The rules of one kind of variable, already checked for consistency.
#[derive(Debug, Clone)]
pub enum VariableRule {
    /// Free text.
    Text {
        /// Longest value accepted, in characters.
        max_length: usize,
        /// A pattern the whole value must match, with its source text for messages.
        pattern: Option<(Regex, String)>,
        /// Whether line breaks are allowed.
        multiline: bool,
    },
    /// One of these choices, exactly.
    Enum {
        /// The accepted values.
        choices: Vec<String>,
    },
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A date-time rendered in `zone` with `format` (strftime).
    Datetime {
        /// The playbook's zone: values without a zone are read in it, all are shown in it.
        zone: Tz,
        /// strftime format used when the variable is rendered.
        format: String,
    },
    /// A five-digit ZIP code starting with one of `prefixes` (any, when empty).
    Zip {
        /// Accepted leading digits, e.g. `["606", "607"]`.
        prefixes: Vec<String>,
    },
    /// An E.164 phone number.
    Phone,
    /// An https URL whose host is one of `allowed_domains` or a subdomain of one.
    Url {
        /// Domains the URL may point at.
        allowed_domains: Vec<String>,
    },
    /// A hashtag, stored without its `#`.
    Hashtag,
}

/// A playbook variable, validated.
#[derive(Debug, Clone)]
pub struct VariableSpec {
    /// The name templates use (`{{area}}`).
    pub name: String,
    /// The label shown on the form.
    pub label: String,
    /// Guidance shown under the field.
    pub help: Option<String>,
    /// Whether the form may be submitted without it.
    pub required: bool,
    /// The value used when none is given.
    pub default: Option<String>,
    /// A realistic value for previews, linting and `playbooks render`.
    pub example: Option<String>,
    /// PHI families the playbook's approvers accepted inside this value
    /// (e.g. `street_address` for a public clinic's address).
    pub phi_allow: Vec<PhiFamily>,
    /// The kind and its rules.
    pub rule: VariableRule,
    /// For a date-time: another date-time variable this one must come after (an
    /// expected end after the start), checked when both are given.
    pub after: Option<String>,
}

/// A value that passed its variable's rules.
#[derive(Debug, Clone, PartialEq)]
pub enum VariableValue {
    /// Text, an enum choice, a ZIP code or a URL, as given (trimmed).
    Text(String),
    /// An integer.
    Integer(i64),
    /// A moment, in the playbook's zone.
    Datetime(DateTime<Tz>),
    /// A phone number in E.164 form.
    Phone(String),
    /// A hashtag without its `#`.
    Hashtag(String),
}

/// Why a value was refused. The message names the rule; [`ValueError::variable`] names
/// the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `{variable}`: {problem}")]
pub struct ValueError {
    /// The variable whose value was refused.
    pub variable: String,
    /// What is wrong, in plain language.
    pub problem: String,
}

impl VariableSpec {
    /// The kind of this variable.
    pub fn kind(&self) -> VariableKind {
        match self.rule {
            VariableRule::Text { .. } => VariableKind::Text,
            VariableRule::Enum { .. } => VariableKind::Enum,
            VariableRule::Integer { .. } => VariableKind::Integer,
            VariableRule::Datetime { .. } => VariableKind::Datetime,
            VariableRule::Zip { .. } => VariableKind::Zip,
            VariableRule::Phone => VariableKind::Phone,
            VariableRule::Url { .. } => VariableKind::Url,
            VariableRule::Hashtag => VariableKind::Hashtag,
        }
    }

    fn refuse(&self, problem: impl Into<String>) -> ValueError {
        ValueError {
            variable: self.name.clone(),
            problem: problem.into(),
        }
    }

    /// Checks `input` (what a person typed) against this variable's rules.
    pub fn parse(&self, input: &str) -> Result<VariableValue, ValueError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(self.refuse("is required but empty"));
        }
        match &self.rule {
            VariableRule::Text {
                max_length,
                pattern,
                multiline,
            } => {
                let length = value.chars().count();
                if length > *max_length {
                    return Err(self.refuse(format!(
                        "is {length} characters long; at most {max_length} allowed"
                    )));
                }
                if !multiline && value.contains(['\n', '\r']) {
                    return Err(self.refuse("must be a single line"));
                }
                if value
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r')
                {
                    return Err(self.refuse("contains control characters"));
                }
                if let Some((regex, source)) = pattern {
                    if !regex.is_match(value) {
                        return Err(self.refuse(format!("does not match the pattern `{source}`")));
                    }
                }
                Ok(VariableValue::Text(value.to_string()))
            }
            VariableRule::Enum { choices } => {
                if choices.iter().any(|c| c == value) {
                    Ok(VariableValue::Text(value.to_string()))
                } else {
                    Err(self.refuse(format!(
                        "`{value}` is not one of the choices: {}",
                        quoted_list(choices)
                    )))
                }
            }
            VariableRule::Integer { min, max } => {
                let number: i64 = value
                    .replace(',', "")
                    .parse()
                    .map_err(|_| self.refuse(format!("`{value}` is not a whole number")))?;
                if number < *min || number > *max {
                    return Err(self.refuse(format!(
                        "{number} is outside the allowed range {min} to {max}"
                    )));
                }
                Ok(VariableValue::Integer(number))
            }
            VariableRule::Datetime { zone, .. } => parse_datetime(value, *zone)
                .map(VariableValue::Datetime)
                .map_err(|problem| self.refuse(problem)),
            VariableRule::Zip { prefixes } => {
                if value.len() != 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(self.refuse(format!(
                        "`{value}` is not a five-digit ZIP code (ZIP+4 is not accepted)"
                    )));
                }
                if !prefixes.is_empty() && !prefixes.iter().any(|p| value.starts_with(p)) {
                    return Err(self.refuse(format!(
                        "ZIP {value} is outside this playbook's area (allowed prefixes: {})",
                        quoted_list(prefixes)
                    )));
                }
                Ok(VariableValue::Text(value.to_string()))
            }
            VariableRule::Phone => parse_e164(value)
                .map(VariableValue::Phone)
                .map_err(|problem| self.refuse(problem)),
            VariableRule::Url { allowed_domains } => check_url(value, allowed_domains)
                .map(VariableValue::Text)
                .map_err(|problem| self.refuse(problem)),
            VariableRule::Hashtag => {
                let tag = value.strip_prefix('#').unwrap_or(value);
                if tag.is_empty()
                    || !tag.chars().all(|c| c.is_alphanumeric() || c == '_')
                    || tag.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(self.refuse(format!(
                        "`{value}` is not a hashtag: use letters, digits and underscores, not only digits"
                    )));
                }
                if tag.chars().count() > 100 {
                    return Err(self.refuse("is longer than 100 characters"));
                }
                Ok(VariableValue::Hashtag(tag.to_string()))
            }
        }
    }

    /// How the value appears in rendered text (`{{name}}`).
    pub fn display(&self, value: &VariableValue) -> String {
        match (value, &self.rule) {
            (VariableValue::Datetime(at), VariableRule::Datetime { format, .. }) => {
                format_datetime(at, format)
            }
            (VariableValue::Datetime(at), _) => at.to_rfc3339(),
            (VariableValue::Text(text), _) => text.clone(),
            (VariableValue::Integer(n), _) => n.to_string(),
            (VariableValue::Phone(e164), _) => display_phone(e164),
            (VariableValue::Hashtag(tag), _) => format!("#{tag}"),
        }
    }
}

impl fmt::Display for VariableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats `at` with a strftime `format`, never panicking on a bad format (the playbook
/// loader rejects bad formats; this is the last line of defence).
pub fn format_datetime(at: &DateTime<Tz>, format: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if write!(out, "{}", at.format(format)).is_err() {
        return at.to_rfc3339();
    }
    out
}

/// Whether a strftime format string is valid for chrono.
pub fn datetime_format_is_valid(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    !StrftimeItems::new(format).any(|item| matches!(item, Item::Error))
}

/// Reads a date-time: RFC 3339 with an offset (`2026-07-14T09:30:00-05:00`), a local
/// time in the playbook's zone (`2026-07-14T09:30`, `2026-07-14 09:30`), or a local time
/// followed by an IANA zone (`2026-07-14T09:30 America/New_York`). The result is in `zone`.
pub fn parse_datetime(value: &str, zone: Tz) -> Result<DateTime<Tz>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&zone));
    }
    let (local_part, input_zone) = match value.rsplit_once(' ') {
        Some((left, right)) if right.contains('/') || right == "UTC" => {
            let tz: Tz = right.parse().map_err(|_| {
                format!("`{right}` is not an IANA time zone (e.g. America/Chicago)")
            })?;
            (left.trim(), tz)
        }
        _ => (value, zone),
    };
    let naive = parse_naive(local_part).ok_or_else(|| {
        format!(
            "`{value}` is not a date-time; write e.g. 2026-07-14T09:30 (in {zone}) or 2026-07-14T09:30 America/New_York"
        )
    })?;
    let at = match input_zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(at) => at,
        chrono::LocalResult::Ambiguous(_, _) => {
            return Err(format!(
                "`{value}` happens twice in {input_zone} (clocks go back): add an offset, e.g. 2026-11-01T01:30:00-05:00"
            ))
        }
        chrono::LocalResult::None => {
            return Err(format!(
                "`{value}` does not exist in {input_zone} (clocks go forward)"
            ))
        }
    };
    Ok(at.with_timezone(&zone))
}

fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// Checks an E.164 number (`+` then 8 to 15 digits, no leading zero) and returns it
/// without separators. Spaces, dashes, dots and parentheses are tolerated in input.
pub fn parse_e164(value: &str) -> Result<String, String> {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let Some(digits) = compact.strip_prefix('+') else {
        return Err(format!(
            "`{value}` is not in E.164 form: start with + and the country code, e.g. +13125550143"
        ));
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(8..=15).contains(&digits.len()) {
        return Err(format!(
            "`{value}` is not in E.164 form: + then 8 to 15 digits"
        ));
    }
    if digits.starts_with('0') {
        return Err(format!("`{value}`: country codes never start with 0"));
    }
    Ok(compact)
}

/// Shows a North American number as `(312) 555-0143`; others stay in E.164.
pub fn display_phone(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(rest) if rest.len() == 10 => {
            let (area, tail) = rest.split_at(3);
            let (exchange, line) = tail.split_at(3);
            format!("({area}) {exchange}-{line}")
        }
        _ => e164.to_string(),
    }
}

/// Whether `host` is `domain` or one of its subdomains.
pub fn host_is_within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

fn check_url(value: &str, allowed_domains: &[String]) -> Result<String, String> {
    let parsed = url::Url::parse(value).map_err(|e| {
        format!("`{value}` is not a URL ({e}); write it in full, starting https://")
    })?;
    if parsed.scheme() != "https" {
        return Err(format!("`{value}` must use https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{value}` must not carry a user name or password"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("`{value}` has no host"))?;
    if !allowed_domains.iter().any(|d| host_is_within(host, d)) {
        return Err(format!(
            "`{host}` is not an allowed domain for this link (allowed: {})",
            quoted_list(allowed_domains)
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rule: VariableRule) -> VariableSpec {
        VariableSpec {
            name: "v".into(),
            label: "V".into(),
            help: None,
            required: true,
            default: None,
            example: None,
            phi_allow: vec![],
            rule,
            after: None,
        }
    }

    #[test]
    fn text_longer_than_its_maximum_is_refused_with_both_lengths() {
        let s = spec(VariableRule::Text {
            max_length: 5,
            pattern: None,
            multiline: false,
        });
        let err = s.parse("abcdef").unwrap_err();
        assert_eq!(err.variable, "v");
        assert!(err.problem.contains("6 characters"), "{err}");
        assert!(err.problem.contains("at most 5"), "{err}");
        assert!(s.parse("abc").is_ok());
    }

    #[test]
    fn text_must_match_its_pattern() {
        let s = spec(VariableRule::Text {
            max_length: 50,
            pattern: Some((
                Regex::new("^[A-Z]{2}-[0-9]+$").unwrap(),
                "^[A-Z]{2}-[0-9]+$".into(),
            )),
            multiline: false,
        });
        assert!(s.parse("WA-12").is_ok());
        let err = s.parse("wa12").unwrap_err();
        assert!(err.problem.contains("pattern"), "{err}");
    }

    #[test]
    fn an_enum_accepts_only_its_choices() {
        let s = spec(VariableRule::Enum {
            choices: vec!["boil".into(), "do not drink".into()],
        });
        assert!(s.parse("boil").is_ok());
        let err = s.parse("Boil").unwrap_err();
        assert!(err.problem.contains("`boil`"), "{err}");
    }

    #[test]
    fn integers_outside_their_range_are_refused() {
        let s = spec(VariableRule::Integer { min: 1, max: 10 });
        assert_eq!(s.parse("7").unwrap(), VariableValue::Integer(7));
        assert!(s.parse("11").unwrap_err().problem.contains("1 to 10"));
        assert!(s
            .parse("seven")
            .unwrap_err()
            .problem
            .contains("whole number"));
    }

    #[test]
    fn a_local_datetime_is_read_in_the_playbook_zone_and_shown_in_its_format() {
        let s = spec(VariableRule::Datetime {
            zone: chrono_tz::America::Chicago,
            format: "%B %-d at %-I:%M %p %Z".into(),
        });
        let v = s.parse("2026-07-14T09:30").unwrap();
        assert_eq!(s.display(&v), "July 14 at 9:30 AM CDT");
    }

    #[test]
    fn a_datetime_in_another_zone_is_converted_to_the_playbook_zone() {
        let s = spec(VariableRule::Datetime {
            zone: chrono_tz::America::Chicago,
            format: "%H:%M %Z".into(),
        });
        let v = s.parse("2026-07-14T10:30 America/New_York").unwrap();
        assert_eq!(s.display(&v), "09:30 CDT");
        let v = s.parse("2026-07-14T15:30:00Z").unwrap();
        assert_eq!(s.display(&v), "10:30 CDT");
    }

    #[test]
    fn a_nonexistent_local_time_is_refused_rather_than_guessed() {
        let s = spec(VariableRule::Datetime {
            zone: chrono_tz::America::Chicago,
            format: "%H:%M".into(),
        });
        let err = s.parse("2026-03-08T02:30").unwrap_err();
        assert!(err.problem.contains("does not exist"), "{err}");
        assert!(s
            .parse("tomorrow")
            .unwrap_err()
            .problem
            .contains("not a date-time"));
    }

    #[test]
    fn zip_codes_must_be_five_digits_within_the_allowed_prefixes() {
        let s = spec(VariableRule::Zip {
            prefixes: vec!["606".into()],
        });
        assert!(s.parse("60612").is_ok());
        assert!(s
            .parse("60612-1234")
            .unwrap_err()
            .problem
            .contains("five-digit"));
        assert!(s.parse("10001").unwrap_err().problem.contains("outside"));
    }

    #[test]
    fn phones_must_be_e164_and_north_american_ones_display_nationally() {
        let s = spec(VariableRule::Phone);
        let v = s.parse("+1 312 555 0143").unwrap();
        assert_eq!(v, VariableValue::Phone("+13125550143".into()));
        assert_eq!(s.display(&v), "(312) 555-0143");
        assert!(s
            .parse("312-555-0143")
            .unwrap_err()
            .problem
            .contains("E.164"));
        assert_eq!(
            s.display(&s.parse("+442071234567").unwrap()),
            "+442071234567"
        );
    }

    #[test]
    fn urls_must_be_https_on_an_allowed_domain() {
        let s = spec(VariableRule::Url {
            allowed_domains: vec!["health.example.gov".into()],
        });
        assert!(s.parse("https://health.example.gov/water").is_ok());
        assert!(s.parse("https://www.health.example.gov/water").is_ok());
        assert!(s
            .parse("http://health.example.gov")
            .unwrap_err()
            .problem
            .contains("https"));
        let err = s
            .parse("https://health.example.gov.evil.test/")
            .unwrap_err();
        assert!(err.problem.contains("not an allowed domain"), "{err}");
        assert!(s
            .parse("not a url")
            .unwrap_err()
            .problem
            .contains("not a URL"));
    }

    #[test]
    fn hashtags_are_stored_without_and_shown_with_their_hash() {
        let s = spec(VariableRule::Hashtag);
        let v = s.parse("#StVKnee").unwrap();
        assert_eq!(v, VariableValue::Hashtag("StVKnee".into()));
        assert_eq!(s.display(&v), "#StVKnee");
        assert!(s.parse("#2013").is_err());
        assert!(s.parse("#two words").is_err());
    }

    #[test]
    fn empty_values_are_refused() {
        assert!(spec(VariableRule::Phone)
            .parse("   ")
            .unwrap_err()
            .problem
            .contains("empty"));
    }
}
