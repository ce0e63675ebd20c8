//! Jargon from the shipped lists (`jargon_en.tsv`, `jargon_es.tsv`: a term, a tab, the
//! plain words to use instead), matched case-insensitively on whole words, multi-word
//! terms included.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{JargonHit, Language, Word};

const EN: &str = include_str!("jargon_en.tsv");
const ES: &str = include_str!("jargon_es.tsv");

/// One line of a jargon list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JargonEntry {
    /// The term, lower case, its words separated by single spaces (a hyphen in the list
    /// separates words too, as it does in the text).
    pub term: String,
    /// What to write instead.
    pub replacement: String,
}

fn parse(list: &str) -> Vec<JargonEntry> {
    list.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(term, replacement)| JargonEntry {
            term: term
                .split(|c: char| c.is_whitespace() || c == '-')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
            replacement: replacement.trim().to_string(),
        })
        .collect()
}

/// A list with its terms split into words and indexed by their first word, so a text is
/// matched with one lookup per word (a preview grades every variant on each keystroke).
struct Indexed {
    entries: Vec<JargonEntry>,
    by_first_word: HashMap<String, Vec<(Vec<String>, usize)>>,
}

impl Indexed {
    fn new(list: &str) -> Indexed {
        let entries = parse(list);
        let mut by_first_word: HashMap<String, Vec<(Vec<String>, usize)>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let words: Vec<String> = e.term.split(' ').map(str::to_string).collect();
            if let Some(first) = words.first() {
                by_first_word
                    .entry(first.clone())
                    .or_default()
                    .push((words, i));
            }
        }
        Indexed {
            entries,
            by_first_word,
        }
    }
}

fn indexed(language: Language) -> &'static Indexed {
    static LISTS: OnceLock<(Indexed, Indexed)> = OnceLock::new();
    let (en, es) = LISTS.get_or_init(|| (Indexed::new(EN), Indexed::new(ES)));
    match language {
        Language::En => en,
        Language::Es => es,
    }
}

/// The shipped jargon list for `language`.
pub fn jargon_list(language: Language) -> &'static [JargonEntry] {
    &indexed(language).entries
}

/// The jargon among `words` (in order, with offsets into `text`); a longer term wins
/// over a shorter one starting at the same word.
/// `lowered` holds the words in lower case.
pub(crate) fn find(
    text: &str,
    words: &[Word<'_>],
    lowered: &[String],
    language: Language,
) -> Vec<JargonHit> {
    let list = indexed(language);
    let mut hits = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut best: Option<(usize, &JargonEntry)> = None;
        let candidates = lowered
            .get(i)
            .and_then(|w| list.by_first_word.get(w))
            .map_or(&[][..], Vec::as_slice);
        for (term, index) in candidates {
            let n = term.len();
            let matches = lowered
                .get(i..i + n)
                .is_some_and(|run| run == term.as_slice());
            if matches && best.is_none_or(|(m, _)| n > m) {
                best = list.entries.get(*index).map(|e| (n, e));
            }
        }
        match (best, words.get(i)) {
            (Some((n, entry)), Some(first)) => {
                let end = words.get(i + n - 1).map_or(first.end(), Word::end);
                hits.push(JargonHit {
                    term: text.get(first.start..end).unwrap_or("").to_string(),
                    replacement: entry.replacement.clone(),
                    start: first.start,
                    end,
                });
                i += n;
            }
            _ => i += 1,
        }
    }
    hits
}
