//! Jargon from the shipped lists (`jargon_en.tsv`, `jargon_es.tsv`: a term, a tab, the
//! plain words to use instead), matched case-insensitively on whole words, multi-word
//! terms included.

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

/// The shipped jargon list for `language`.
pub fn jargon_list(language: Language) -> &'static [JargonEntry] {
    static LISTS: OnceLock<(Vec<JargonEntry>, Vec<JargonEntry>)> = OnceLock::new();
    let (en, es) = LISTS.get_or_init(|| (parse(EN), parse(ES)));
    match language {
        Language::En => en,
        Language::Es => es,
    }
}

/// The jargon among `words` (in order, with offsets into `text`); a longer term wins
/// over a shorter one starting at the same word.
pub(crate) fn find(text: &str, words: &[Word<'_>], language: Language) -> Vec<JargonHit> {
    let lowered: Vec<String> = words.iter().map(|w| w.text.to_lowercase()).collect();
    let list = jargon_list(language);
    let mut hits = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut best: Option<(usize, &JargonEntry)> = None;
        for entry in list {
            let n = entry.term.split(' ').count();
            let matches = lowered
                .get(i..i + n)
                .is_some_and(|run| entry.term.split(' ').eq(run.iter().map(String::as_str)));
            if matches && best.is_none_or(|(m, _)| n > m) {
                best = Some((n, entry));
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
