//! A gazetteer of given names from many cultures (`data/given_names.txt`), so that a
//! name can be recognised where nothing else marks it: with no cue word around it, or
//! written all in lower case or capitals. Names that are also common words ("Hope",
//! "Paz") count only when written with a capital letter.

use super::super::text::fold;

const GIVEN_NAMES: &str = include_str!("../data/given_names.txt");

/// How a word matched the gazetteer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Given {
    /// Not a given name.
    No,
    /// A given name that is also a common word: only a capitalised one counts.
    Ambiguous,
    /// A given name and nothing else.
    Yes,
}

/// The gazetteer, sorted for binary search; built once with the guard. Each name (at
/// most 16 bytes; a test checks) is packed into a number that sorts as the name does, so
/// a lookup compares integers.
#[derive(Debug)]
pub(crate) struct GivenNames {
    keys: Vec<u128>,
    ambiguous: Vec<bool>,
}

/// `word` big-endian in 16 bytes, zero-padded; `None` if longer.
fn pack(word: &[u8]) -> Option<u128> {
    if word.len() > 16 {
        return None;
    }
    let mut key = 0u128;
    for i in 0..16 {
        key = (key << 8) | u128::from(word.get(i).copied().unwrap_or(0));
    }
    Some(key)
}

impl GivenNames {
    pub(crate) fn new() -> GivenNames {
        let mut names: Vec<(u128, bool)> = GIVEN_NAMES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::split_whitespace)
            .filter_map(|w| match w.strip_suffix('*') {
                Some(bare) => pack(bare.as_bytes()).map(|k| (k, true)),
                None => pack(w.as_bytes()).map(|k| (k, false)),
            })
            .collect();
        names.sort_unstable();
        names.dedup_by(|a, b| a.0 == b.0);
        GivenNames {
            keys: names.iter().map(|(k, _)| *k).collect(),
            ambiguous: names.iter().map(|(_, a)| *a).collect(),
        }
    }

    /// Whether `word` (any case, accents folded) is a given name.
    pub(crate) fn lookup(&self, word: &str) -> Given {
        let mut buf = [0u8; 24];
        let Some(key) = fold(word, &mut buf).and_then(pack) else {
            return Given::No;
        };
        match self.keys.binary_search(&key) {
            Ok(i) => match self.ambiguous.get(i) {
                Some(true) => Given::Ambiguous,
                Some(false) => Given::Yes,
                None => Given::No,
            },
            Err(_) => Given::No,
        }
    }

    /// Whether `word` is a given name as written: an ambiguous one only with a capital
    /// first letter and a lower-case second ("Hope", not "hope" or "HOPE").
    pub(crate) fn is_given(&self, word: &str) -> bool {
        match self.lookup(word) {
            Given::No => false,
            Given::Yes => true,
            Given::Ambiguous => {
                let mut chars = word.chars();
                chars.next().is_some_and(char::is_uppercase)
                    && chars.next().is_some_and(char::is_lowercase)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gazetteer_is_lower_case_ascii_and_finds_names_in_any_case() {
        for line in GIVEN_NAMES.lines().filter(|l| !l.starts_with('#')) {
            for word in line.split_whitespace() {
                let bare = word.trim_end_matches('*');
                assert!(
                    bare.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') && bare.len() <= 16,
                    "{word:?}"
                );
            }
        }
        let names = GivenNames::new();
        assert!(names.is_given("Piotr"));
        assert!(names.is_given("JOSÉ"));
        assert!(names.is_given("maria"));
        assert!(names.is_given("Grace"));
        assert!(!names.is_given("grace"));
        assert!(!names.is_given("GRACE"));
        assert!(!names.is_given("Hospital"));
    }
}
