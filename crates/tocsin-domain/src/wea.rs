//! Wireless Emergency Alerts (WEA) texts: the 90- and 360-character messages a playbook
//! step may declare per language, carried in the CAP feed as IPAWS `CMAMtext` and
//! `CMAMlongtext` parameters.
//!
//! Limits: 47 CFR 10.430 (as amended by the 2016 order, FCC 16-127, in force since
//! 1 May 2019): at most 360 characters of alphanumeric text, 90 on devices that cannot
//! show 360. Languages: 47 CFR 10.480 requires English and Spanish, the two here.
//!
//! Counting ([`wea_count`]): WEA is sent by cell broadcast in the GSM 7-bit alphabet
//! (3GPP TS 23.038), so a text is counted in septets, the way it is carried:
//! - a character of the default alphabet (§6.2.1) costs 1; `é`, `ñ`, `ü`, `à`, `¡`,
//!   `¿`, `É`, `Ñ`, `Ü` are in it;
//! - one of the extension table (§6.2.1.1: `[ ] { } \ ^ ~ | €`, form feed) costs 2
//!   (escape + character);
//! - in Spanish texts, the Spanish national single shift table (Annex A.2.2) adds `á`,
//!   `í`, `ó`, `ú`, `Á`, `Í`, `Ó`, `Ú` and `ç`, each 2 septets;
//! - anything else (curly quotes, emoji, a tab) cannot be carried: the text is refused.
//!
//! A septet count is never below the character count, so a text within the limit here is
//! within the FCC's character limit however a carrier encodes it.

use serde::Serialize;
use std::fmt;

use crate::counting::gsm7_septets;

/// A language WEA carries (47 CFR 10.480).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeaLanguage {
    /// English, CAP `en-US`.
    En,
    /// Spanish, CAP `es-US`.
    Es,
}

impl WeaLanguage {
    /// Both, English first (the order of the CAP `info` blocks).
    pub const ALL: [WeaLanguage; 2] = [WeaLanguage::En, WeaLanguage::Es];

    /// The key in a playbook (`[steps.wea.en]`): `en` or `es`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeaLanguage::En => "en",
            WeaLanguage::Es => "es",
        }
    }

    /// The CAP `language` (RFC 3066), as NWS writes it: `en-US`, `es-US`.
    pub fn cap_language(self) -> &'static str {
        match self {
            WeaLanguage::En => "en-US",
            WeaLanguage::Es => "es-US",
        }
    }

    /// Reads a playbook key (exactly `en` or `es`).
    pub fn parse(text: &str) -> Option<WeaLanguage> {
        WeaLanguage::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

impl fmt::Display for WeaLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the two WEA texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeaLength {
    /// The 90-character text (`CMAMtext`), shown by every WEA device.
    Short,
    /// The 360-character text (`CMAMlongtext`), shown by devices that can.
    Long,
}

impl WeaLength {
    /// Both, short first.
    pub const ALL: [WeaLength; 2] = [WeaLength::Short, WeaLength::Long];

    /// The key in a playbook: `short` or `long`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeaLength::Short => "short",
            WeaLength::Long => "long",
        }
    }

    /// The limit (47 CFR 10.430): 90 or 360.
    pub fn limit(self) -> usize {
        match self {
            WeaLength::Short => 90,
            WeaLength::Long => 360,
        }
    }

    /// The IPAWS CAP `parameter` `valueName`: `CMAMtext` or `CMAMlongtext`.
    pub fn cap_parameter(self) -> &'static str {
        match self {
            WeaLength::Short => "CMAMtext",
            WeaLength::Long => "CMAMlongtext",
        }
    }
}

/// A short text and, if any, a long one in one language: a step's templates, or a
/// message's approved texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeaTexts {
    /// The 90-character text (`CMAMtext`).
    pub short: String,
    /// The 360-character text (`CMAMlongtext`), if there is one.
    pub long: Option<String>,
}

impl WeaTexts {
    /// The text of one length, if there is one.
    pub fn get(&self, length: WeaLength) -> Option<&str> {
        match length {
            WeaLength::Short => Some(self.short.as_str()),
            WeaLength::Long => self.long.as_deref(),
        }
    }
}

/// A WEA text counted the way it is carried (see the module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeaCount {
    /// Septets: 1 per default-alphabet character, 2 per shift-table character; the
    /// characters that cannot be carried are not counted.
    pub septets: usize,
    /// Characters that cannot be carried in this language, each once, in order.
    pub not_carried: Vec<char>,
}

/// Septets `c` costs in a WEA text in `language` (`None`: it cannot be carried).
pub fn wea_septets(c: char, language: WeaLanguage) -> Option<usize> {
    gsm7_septets(c).or(match (language, c) {
        // TS 23.038 Annex A.2.2, the Spanish national language single shift table.
        (WeaLanguage::Es, 'á' | 'í' | 'ó' | 'ú' | 'Á' | 'Í' | 'Ó' | 'Ú' | 'ç') => Some(2),
        _ => None,
    })
}

/// Counts `text` for WEA in `language`.
pub fn wea_count(text: &str, language: WeaLanguage) -> WeaCount {
    let mut septets = 0;
    let mut not_carried = Vec::new();
    for c in text.chars() {
        match wea_septets(c, language) {
            Some(n) => septets += n,
            None if !not_carried.contains(&c) => not_carried.push(c),
            None => {}
        }
    }
    WeaCount {
        septets,
        not_carried,
    }
}

/// Plain-language problems of a WEA text (empty: it can be sent): over its limit, or
/// characters WEA cannot carry.
pub fn wea_problems(text: &str, language: WeaLanguage, length: WeaLength) -> Vec<String> {
    let count = wea_count(text, language);
    let mut problems = Vec::new();
    if text.trim().is_empty() {
        problems.push(format!("the WEA {} text is empty", length.as_str()));
    }
    if count.septets > length.limit() {
        problems.push(format!(
            "{} of {} WEA characters ({} over; GSM-7 septets, shift-table characters count 2)",
            count.septets,
            length.limit(),
            count.septets - length.limit()
        ));
    }
    if !count.not_carried.is_empty() {
        problems.push(format!(
            "WEA cannot carry {} (GSM 7-bit alphabet only{})",
            count
                .not_carried
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            if language == WeaLanguage::Es {
                " and the Spanish shift table"
            } else {
                ""
            }
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_ascii_counts_one_per_character() {
        let text = "Boil water advisory for North Side until further notice. Boil 1 min.";
        let c = wea_count(text, WeaLanguage::En);
        assert_eq!(c.septets, text.chars().count());
        assert!(c.not_carried.is_empty());
    }

    #[test]
    fn spanish_accents_in_the_default_alphabet_cost_one_and_the_shift_table_two() {
        // é ñ ü ¿ ¡ are in the GSM 7-bit default alphabet.
        assert_eq!(wea_count("éñü¿¡", WeaLanguage::Es).septets, 5);
        // á í ó ú (and capitals, ç) come from the Spanish single shift table.
        assert_eq!(wea_count("áíóú", WeaLanguage::Es).septets, 8);
        assert_eq!(wea_count("ÁÍÓÚç", WeaLanguage::Es).septets, 10);
        // "Hierva el agua 1 minuto. Información: ..." : 'ó' costs 2.
        assert_eq!(wea_count("Información", WeaLanguage::Es).septets, 12);
        // The extension table costs 2 in either language.
        assert_eq!(wea_count("€[]", WeaLanguage::En).septets, 6);
    }

    #[test]
    fn english_texts_do_not_get_the_spanish_shift_table() {
        let c = wea_count("Información", WeaLanguage::En);
        assert_eq!(c.not_carried, vec!['ó']);
        assert_eq!(c.septets, 10);
    }

    #[test]
    fn characters_outside_gsm7_are_named_once() {
        let c = wea_count("“Boil” “water” 🚰", WeaLanguage::En);
        assert_eq!(c.not_carried, vec!['“', '”', '🚰']);
        let problems = wea_problems("“Boil”", WeaLanguage::En, WeaLength::Short);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("cannot carry"), "{problems:?}");
    }

    #[test]
    fn the_limits_are_90_and_360_and_the_boundary_is_inclusive() {
        let at = "a".repeat(90);
        assert!(wea_problems(&at, WeaLanguage::En, WeaLength::Short).is_empty());
        let over = "a".repeat(91);
        let p = wea_problems(&over, WeaLanguage::En, WeaLength::Short);
        assert!(p[0].starts_with("91 of 90"), "{p:?}");
        assert!(wea_problems(&"a".repeat(360), WeaLanguage::Es, WeaLength::Long).is_empty());
        assert!(!wea_problems(&"a".repeat(361), WeaLanguage::Es, WeaLength::Long).is_empty());
        // 89 letters and one 'ú' are 91 septets: over.
        let accented = format!("{}ú", "a".repeat(89));
        assert!(!wea_problems(&accented, WeaLanguage::Es, WeaLength::Short).is_empty());
        assert!(!wea_problems("  ", WeaLanguage::En, WeaLength::Short).is_empty());
    }

    #[test]
    fn cap_names_follow_ipaws_and_nws() {
        assert_eq!(WeaLength::Short.cap_parameter(), "CMAMtext");
        assert_eq!(WeaLength::Long.cap_parameter(), "CMAMlongtext");
        assert_eq!(WeaLanguage::Es.cap_language(), "es-US");
        assert_eq!(WeaLanguage::parse("es"), Some(WeaLanguage::Es));
        assert_eq!(WeaLanguage::parse("fr"), None);
        assert_eq!(WeaLanguage::parse("EN"), None);
    }

    proptest! {
        #[test]
        fn septets_are_never_fewer_than_characters_carried(text in "\\PC{0,200}") {
            for language in WeaLanguage::ALL {
                let c = wea_count(&text, language);
                let carried = text
                    .chars()
                    .filter(|ch| wea_septets(*ch, language).is_some())
                    .count();
                prop_assert!(c.septets >= carried);
                prop_assert!(c.septets <= 2 * carried);
            }
        }
    }
}
