//! The languages a playbook is written in: BCP 47 tags, their names in words, and how each
//! language writes a date-time.
//!
//! A [`LanguageTag`] is parsed and put in canonical case by ICU4X (`zh-hans` → `zh-Hans`)
//! and kept inline so a rendered text's target stays `Copy`. Date-times are formatted
//! with chrono's locale data (glibc's month and day names), except where that data leaves
//! a reader without an answer: glibc's Spanish locales print nothing for `%p`, so Spanish
//! gets "a. m." / "p. m." as the Real Academia Española writes them.

use chrono::{DateTime, Locale};
use chrono_tz::Tz;
use icu_locale_core::LanguageIdentifier;
use serde::{Serialize, Serializer};
use std::fmt;

/// The longest tag a playbook may declare. BCP 47 allows longer ones, but a language,
/// script and region (`zh-Hans-CN`, 10 characters) is all a playbook needs.
pub const MAX_TAG_LENGTH: usize = 23;

/// A BCP 47 language tag (language, optional script, region and variants), in canonical
/// case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LanguageTag {
    bytes: [u8; MAX_TAG_LENGTH],
    len: u8,
}

/// Why a text is not a language tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{tag}` is not a BCP 47 language tag (e.g. en, es, es-MX, zh-Hans): {reason}")]
pub struct BadLanguageTag {
    /// The text given.
    pub tag: String,
    /// What is wrong with it.
    pub reason: String,
}

impl LanguageTag {
    /// English, the language of a playbook that declares none.
    pub fn english() -> LanguageTag {
        LanguageTag::inline("en")
    }

    fn inline(canonical: &str) -> LanguageTag {
        let mut bytes = [0u8; MAX_TAG_LENGTH];
        let len = canonical.len().min(MAX_TAG_LENGTH);
        bytes[..len].copy_from_slice(&canonical.as_bytes()[..len]);
        LanguageTag {
            bytes,
            len: len as u8,
        }
    }

    /// Parses a tag, putting it in canonical case (`ES-mx` → `es-MX`).
    pub fn parse(text: &str) -> Result<LanguageTag, BadLanguageTag> {
        let bad = |reason: &str| BadLanguageTag {
            tag: text.to_string(),
            reason: reason.to_string(),
        };
        if text.contains('_') {
            return Err(bad("subtags are joined by `-`, not `_`"));
        }
        let id = LanguageIdentifier::try_from_str(text).map_err(|e| bad(&e.to_string()))?;
        if id.language.as_str() == "und" {
            return Err(bad("`und` (undetermined) is no language to write in"));
        }
        let canonical = id.to_string();
        if canonical.len() > MAX_TAG_LENGTH {
            return Err(bad(&format!(
                "a playbook's language tag is at most {MAX_TAG_LENGTH} characters"
            )));
        }
        Ok(LanguageTag::inline(&canonical))
    }

    /// The tag as written canonically.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("und")
    }

    /// The primary language subtag (`es` for `es-MX`).
    pub fn primary(&self) -> &str {
        self.as_str().split('-').next().unwrap_or("")
    }

    fn subtag(&self, wanted: impl Fn(&str) -> bool) -> Option<&str> {
        self.as_str().split('-').skip(1).find(|s| wanted(s))
    }

    fn script(&self) -> Option<&str> {
        self.subtag(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_alphabetic()))
    }

    fn region(&self) -> Option<&str> {
        self.subtag(|s| {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()))
                || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// Whether the language is Chinese written in traditional characters.
    fn is_traditional_chinese(&self) -> bool {
        self.primary() == "zh"
            && (self.script() == Some("Hant") || matches!(self.region(), Some("TW" | "HK" | "MO")))
    }

    /// Its name in its own words, for the people who read it ("Español", "中文(简体)");
    /// the tag itself for a language this table does not name.
    pub fn display_name(&self) -> String {
        let name = match self.primary() {
            "en" => "English",
            "es" => "Español",
            "zh" if self.is_traditional_chinese() => "中文(繁體)",
            "zh" => "中文(简体)",
            "vi" => "Tiếng Việt",
            "fr" => "Français",
            "ht" => "Kreyòl ayisyen",
            "ko" => "한국어",
            "tl" => "Tagalog",
            "ru" => "Русский",
            "ar" => "العربية",
            "pt" => "Português",
            "pl" => "Polski",
            "de" => "Deutsch",
            "it" => "Italiano",
            "ja" => "日本語",
            "hi" => "हिन्दी",
            "so" => "Soomaali",
            _ => return self.as_str().to_string(),
        };
        name.to_string()
    }

    /// The locale whose month and day names date-times are written with.
    pub fn chrono_locale(&self) -> Locale {
        let primary = self.primary();
        let default_region = match primary {
            "zh" if self.is_traditional_chinese() => "TW",
            "zh" => "CN",
            "en" | "es" => "US",
            "vi" => "VN",
            "ko" => "KR",
            "tl" => "PH",
            "ar" => "SA",
            "pt" => "BR",
            "ja" => "JP",
            "hi" => "IN",
            "so" => "SO",
            "ht" => "HT",
            _ => "",
        };
        let mut candidates = Vec::new();
        if let Some(region) = self.region() {
            candidates.push(format!("{primary}_{region}"));
        }
        if !default_region.is_empty() {
            candidates.push(format!("{primary}_{default_region}"));
        }
        candidates.push(format!("{primary}_{}", primary.to_ascii_uppercase()));
        candidates
            .iter()
            .find_map(|c| Locale::try_from(c.as_str()).ok())
            .unwrap_or(Locale::en_US)
    }

    /// How the language writes "before noon" and "after noon" (`%p`), where chrono's
    /// locale data has nothing or something readers would not write.
    fn meridiem(&self) -> Option<[&'static str; 2]> {
        match self.primary() {
            "es" => Some(["a. m.", "p. m."]),
            _ => None,
        }
    }

    /// The strftime format of a date-time when the playbook names none for this language.
    pub fn default_datetime_format(&self) -> &'static str {
        match self.primary() {
            "en" => crate::playbook::DEFAULT_DATETIME_FORMAT,
            // "martes, 14 de julio, 9:30 a. m. CDT"
            "es" => "%A, %-d de %B, %-I:%M %p %Z",
            // "7月14日（星期二）上午9:30 CDT": month, day, weekday, then the time.
            "zh" => "%-m月%-d日（%A）%p%-I:%M %Z",
            _ => "%A %-d %B, %H:%M %Z",
        }
    }

    /// `at` written with `format` in this language: its month and day names, its way of
    /// writing the time of day.
    pub fn format_datetime(&self, at: &DateTime<Tz>, format: &str) -> String {
        let format = match self.meridiem() {
            Some(names) => with_meridiem(format, at, names),
            None => format.to_string(),
        };
        if self.primary() == "en" {
            return crate::variables::format_datetime(at, &format);
        }
        let mut out = String::new();
        use fmt::Write;
        match write!(
            out,
            "{}",
            at.format_localized(&format, self.chrono_locale())
        ) {
            Ok(()) => out,
            // The format was checked when the playbook was read; an item chrono still
            // cannot print falls back to the unlocalized rendering, never a panic.
            Err(_) => crate::variables::format_datetime(at, &format),
        }
    }
}

/// `format` with each `%p` (and `%P`) replaced by the language's own words for it.
fn with_meridiem(format: &str, at: &DateTime<Tz>, names: [&str; 2]) -> String {
    use chrono::Timelike;
    let word = if at.hour() < 12 { names[0] } else { names[1] };
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('p' | 'P') => out.push_str(word),
            Some(next) => {
                out.push('%');
                out.push(next);
            }
            None => out.push('%'),
        }
    }
    out
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageTag({})", self.as_str())
    }
}

impl Serialize for LanguageTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for LanguageTag {
    type Err = BadLanguageTag;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LanguageTag::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tag(s: &str) -> LanguageTag {
        LanguageTag::parse(s).unwrap()
    }

    fn at(hour: u32) -> DateTime<Tz> {
        chrono_tz::America::Chicago
            .with_ymd_and_hms(2026, 7, 14, hour, 30, 0)
            .unwrap()
    }

    #[test]
    fn tags_are_read_in_canonical_case_and_bad_ones_say_why() {
        assert_eq!(tag("zh-hans").as_str(), "zh-Hans");
        assert_eq!(tag("ES-mx").as_str(), "es-MX");
        assert_eq!(tag("es-419").as_str(), "es-419");
        for bad in [
            "Spanish",
            "e",
            "en_US",
            "",
            "und",
            "es-",
            "zh-Hans-CN-toolongvariant-x",
        ] {
            let err = LanguageTag::parse(bad).unwrap_err();
            assert!(err.to_string().contains("not a BCP 47"), "{bad}: {err}");
        }
    }

    #[test]
    fn languages_are_named_in_their_own_words() {
        assert_eq!(tag("es").display_name(), "Español");
        assert_eq!(tag("es-MX").display_name(), "Español");
        assert_eq!(tag("zh-Hans").display_name(), "中文(简体)");
        assert_eq!(tag("zh-TW").display_name(), "中文(繁體)");
        assert_eq!(tag("en").display_name(), "English");
        assert_eq!(tag("xh").display_name(), "xh");
    }

    #[test]
    fn spanish_date_times_read_as_spanish_readers_write_them() {
        let es = tag("es");
        let f = es.default_datetime_format();
        assert_eq!(
            es.format_datetime(&at(9), f),
            "martes, 14 de julio, 9:30 a. m. CDT"
        );
        assert_eq!(
            tag("es-MX").format_datetime(&at(21), f),
            "martes, 14 de julio, 9:30 p. m. CDT"
        );
        // A literal %% stays a percent sign; %p is still replaced after it.
        assert_eq!(es.format_datetime(&at(9), "%%p %p"), "%p a. m.");
    }

    #[test]
    fn simplified_chinese_date_times_read_as_chinese_readers_write_them() {
        let zh = tag("zh-Hans");
        assert_eq!(zh.chrono_locale(), Locale::zh_CN);
        assert_eq!(
            zh.format_datetime(&at(9), zh.default_datetime_format()),
            "7月14日（星期二）上午9:30 CDT"
        );
        assert_eq!(
            zh.format_datetime(&at(21), "%Y年%-m月%-d日 %p%-I:%M"),
            "2026年7月14日 下午9:30"
        );
        assert_eq!(tag("zh-Hant").chrono_locale(), Locale::zh_TW);
    }

    #[test]
    fn english_keeps_the_format_it_always_had() {
        let en = LanguageTag::english();
        assert_eq!(
            en.format_datetime(&at(9), en.default_datetime_format()),
            crate::variables::format_datetime(&at(9), crate::playbook::DEFAULT_DATETIME_FORMAT)
        );
        assert_eq!(en.format_datetime(&at(9), "%A %p"), "Tuesday AM");
    }
}
