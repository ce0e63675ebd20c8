//! Street addresses the suffix pattern in `detectors` does not see: a house number and a
//! street name with no "Street" after a word about where someone lives ("she lives at
//! 42 Maple"), addresses written in lower case or capitals ("1837 w cullerton st"), and
//! Spanish addresses ("Calle Olmo 42", "el 2210 de la avenida Pulaski").

use regex::Regex;

use super::detectors::{plausible_street_address, RawHit};
use super::family::PhiFamily;
use super::text::{find_in, in_sorted, widen, window_before, Window};

/// Words whose house number comes next ("lives at 42 Maple"), lower case, folded.
const HOME_WORDS: &[&str] = &[
    "address",
    "casa",
    "direccion",
    "domicilio",
    "home",
    "house",
    "live",
    "lives",
    "living",
    "moved",
    "reside",
    "resides",
    "residing",
    "stay",
    "staying",
    "stays",
    "vive",
    "viven",
];

/// Words that end a suffix-less street name ("42 Maple with her sons").
const CLAUSE_WORDS: &[&str] = &[
    "and", "con", "en", "for", "hasta", "in", "near", "since", "until", "where", "while", "who",
    "with", "y",
];

/// Words that make "12 blocks" or "3 times" a count, not a street ("a 4 lane road").
const NOT_STREET_WORDS: &[&str] = &[
    "a", "and", "are", "at", "block", "blocks", "by", "car", "cars", "day", "days", "each", "feet",
    "for", "from", "hour", "hours", "in", "is", "lane", "lanes", "mile", "miles", "minute",
    "minutes", "month", "months", "more", "new", "of", "on", "or", "other", "out", "people", "per",
    "the", "times", "to", "was", "way", "week", "weeks", "were", "year", "years",
];

/// The street types `any_case` ends on, lower case and sorted.
const SUFFIXES: &[&str] = &[
    "ave",
    "avenue",
    "blvd",
    "boulevard",
    "cir",
    "circle",
    "court",
    "ct",
    "dr",
    "drive",
    "highway",
    "hwy",
    "lane",
    "ln",
    "parkway",
    "pkwy",
    "pl",
    "place",
    "rd",
    "road",
    "st",
    "street",
    "ter",
    "terrace",
    "trail",
    "trl",
    "way",
];

/// Whether ASCII letters (any case) are one of [`SUFFIXES`]: the words are packed into
/// integers and compared as such, since this runs on every word near a number.
fn is_suffix(letters: &[u8]) -> bool {
    if !(2..=9).contains(&letters.len()) {
        return false;
    }
    let key = letters.iter().fold(0u128, |key, b| {
        (key << 8) | u128::from(b.to_ascii_lowercase())
    });
    SUFFIX_KEYS.contains(&key)
}

/// A word as an integer, one byte after another (letters have no zero byte, so words
/// of different lengths never collide).
const fn pack(word: &[u8]) -> u128 {
    let mut key = 0u128;
    let mut rest = word;
    while let [b, tail @ ..] = rest {
        key = (key << 8) | *b as u128;
        rest = tail;
    }
    key
}

/// [`SUFFIXES`] packed.
// Evaluated at compile time: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const SUFFIX_KEYS: [u128; SUFFIXES.len()] = {
    let mut keys = [0u128; SUFFIXES.len()];
    let mut i = 0;
    while i < SUFFIXES.len() {
        keys[i] = pack(SUFFIXES[i].as_bytes());
        i += 1;
    }
    keys
};

/// The compiled forms.
#[derive(Debug)]
pub(crate) struct Streets {
    suffixless: Regex,
    any_case: Regex,
    spanish: Regex,
    spanish_number_first: Regex,
}

impl Streets {
    pub(crate) fn new() -> Result<Streets, regex::Error> {
        Ok(Streets {
            suffixless: Regex::new(concat!(
                r"(?-u:\b)[0-9]{1,6}[A-Za-z]?\s+(?:(?:N|S|E|W)\.?\s+)?",
                r"(?:[A-Z][a-z'\-]+|[0-9]{1,3}(?:st|nd|rd|th))(?:\s+[A-Z][a-z'\-]+)?",
                r"(?:[,.;!?]|\s+[a-z]+|$)"
            ))?,
            any_case: Regex::new(concat!(
                r"(?i)(?-u:\b)[0-9]{1,6}[a-z]?\s+(?:(?:n|s|e|w|north|south|east|west)\.?\s+)?",
                r"(?:[a-z][a-z'\-]*\.?\s+){1,3}?",
                r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|place|pl|parkway|pkwy|highway|hwy|terrace|ter|circle|cir|trail|trl|way)(?-u:\b)\.?",
                r"(?:,?\s+(?:apt|apartment|unit|suite|ste|fl|floor)\.?\s*\#?[a-z0-9\-]+)?"
            ))?,
            spanish: Regex::new(concat!(
                r"(?i)(?-u:\b)(?:calle|c/|avenida|av\.|avda\.?|paseo|camino|carretera|calzada|callej[oó]n|privada|bulevar|carrera|pasaje)\s+",
                r"(?-i:(?:(?:de|del|la|las|los|el)\s+)*\p{Lu}[\p{L}'\-]*\.?(?:\s+(?:(?:de|del|la|las|los|el)\s+)*\p{Lu}[\p{L}'\-]*\.?){0,3})",
                r",?\s*(?:n[uú]m(?:ero)?\.?\s*|no\.?\s*|n\.?º\s*|\#\s*)?[0-9]{1,5}[A-Za-z]?(?-u:\b)",
                r"(?:,?\s+(?:apartamento|apto\.?|depto\.?|departamento|piso|interior|int\.?)\s*[0-9A-Za-z\-]+)?"
            ))?,
            spanish_number_first: Regex::new(concat!(
                r"(?i)(?-u:\b)[0-9]{1,6}\s+de\s+la\s+(?:calle|avenida|av\.|avda\.?|calzada|carretera)\s+",
                r"(?-i:\p{Lu}[\p{L}'\-]*(?:\s+\p{Lu}[\p{L}'\-]*){0,2})"
            ))?,
        })
    }

    /// A house number at `start` followed by a capitalised word: a street with no suffix,
    /// when a word about where someone lives comes just before.
    pub(crate) fn on_house_number(&self, text: &str, start: usize, out: &mut Vec<RawHit>) {
        let before = window_before(text, start, 32);
        let cut = before
            .rfind(['.', '!', '?', ';', '\n'])
            .map_or(0, |i| i + 1);
        let lives_here = before
            .get(cut..)
            .unwrap_or("")
            .split(|c: char| !c.is_alphabetic())
            .any(|w| in_sorted(HOME_WORDS, w));
        if !lives_here {
            return;
        }
        for m in find_in(&self.suffixless, text, widen(text, start, start + 40)) {
            if m.start != start {
                continue;
            }
            let body = m.text.trim_end_matches([',', '.', ';', '!', '?']);
            let mut words = body.split_whitespace().skip(1);
            let last_is_clause = body
                .rsplit(' ')
                .next()
                .is_some_and(|w| w.starts_with(char::is_lowercase));
            if last_is_clause
                && !body
                    .rsplit(' ')
                    .next()
                    .is_some_and(|w| in_sorted(CLAUSE_WORDS, w))
            {
                continue;
            }
            if words.any(|w| in_sorted(NOT_STREET_WORDS, w)) {
                continue;
            }
            let end = if last_is_clause {
                m.start + body.rfind(' ').unwrap_or(body.len())
            } else {
                m.start + body.len()
            };
            if plausible_street_address(text, m.start, end) {
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start, end));
            }
        }
    }

    /// A house number followed by a lower-case or capitalised word: an address written
    /// all in lower case or capitals, or a Spanish one that gives the number first.
    pub(crate) fn on_any_case(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        // Both forms need a word the window may not have: a street type, or "de". Words
        // are read by their leading ASCII letters, and one starting with any other
        // character may be either, so the check only ever passes more than the regexes.
        let (mut suffix, mut de) = (false, false);
        for token in text
            .get(win.start..win.end)
            .unwrap_or("")
            .split_whitespace()
        {
            let letters = token
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(token, |i| token.get(..i).unwrap_or(token));
            let other = token.starts_with(|c: char| !c.is_ascii());
            suffix |= other || is_suffix(letters.as_bytes());
            de |= other || letters.eq_ignore_ascii_case("de");
        }
        if suffix {
            self.any_case_streets(text, win, out);
        }
        if de {
            for m in find_in(&self.spanish_number_first, text, win) {
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start, m.end));
            }
        }
    }

    fn any_case_streets(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.any_case, text, win) {
            let words: Vec<&str> = m.text.split_whitespace().skip(1).collect();
            let letters = || m.text.chars().filter(|c| c.is_alphabetic());
            let lower = letters().all(char::is_lowercase);
            let upper = letters().all(char::is_uppercase);
            let counts = words
                .iter()
                .take(words.len().saturating_sub(1))
                .any(|w| in_sorted(NOT_STREET_WORDS, w.trim_end_matches('.')));
            if (lower || upper) && !counts && plausible_street_address(text, m.start, m.end) {
                let end = m.start + m.text.trim_end_matches(['.', ',']).len();
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start, end));
            }
        }
    }

    /// A Spanish street word ("calle", "avenida") at `start`.
    pub(crate) fn on_spanish_street_word(&self, text: &str, start: usize, out: &mut Vec<RawHit>) {
        for m in find_in(&self.spanish, text, widen(text, start, start + 80)) {
            if m.start == start {
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start, m.end));
            }
        }
    }
}
