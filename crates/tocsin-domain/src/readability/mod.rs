//! Plain-language checks of a rendered variant: a reading grade, sentence lengths,
//! passive voice and jargon, so the drafter and the approver see how hard a message is
//! to read before it goes to residents.
//!
//! English is graded with Flesch–Kincaid ([`flesch_kincaid_grade`]), Spanish with
//! Fernández Huerta mapped to a school grade by its published table. Links, hashtags and
//! @handles are masked before counting (they are not prose); every offset reported is a
//! byte offset into the text as given.

mod formulas;
mod jargon;
mod passive;
mod syllables_en;
mod syllables_es;

use serde::Serialize;

pub use formulas::{
    fernandez_huerta, fernandez_huerta_band, flesch_kincaid_grade, flesch_reading_ease, Counts,
    HuertaBand,
};
pub use jargon::{jargon_list, JargonEntry};
pub use syllables_en::syllables as english_syllables;
pub use syllables_es::syllables as spanish_syllables;

/// The reading grade a playbook asks for when it names none (`reading_grade_max`).
pub const DEFAULT_READING_GRADE_MAX: f64 = 8.0;

/// A language the plain-language check knows: its syllables, formula, passive voice and
/// jargon list. Playbooks name their language as a BCP 47 tag; [`Language::of_tag`] reads
/// the primary subtag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English: Flesch–Kincaid.
    En,
    /// Spanish: Fernández Huerta.
    Es,
}

impl Language {
    /// The language of a BCP 47 tag (`en`, `en-US`, `es-419`), when it is one this check
    /// knows; `None` for others (they get no grade).
    pub fn of_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Language::En),
            "es" => Some(Language::Es),
            _ => None,
        }
    }

    /// The formula used to grade this language, by name.
    pub fn formula(self) -> &'static str {
        match self {
            Language::En => "Flesch–Kincaid grade level",
            Language::Es => "Fernández Huerta",
        }
    }

    fn syllables(self, word: &str) -> usize {
        match self {
            Language::En => syllables_en::syllables(word),
            Language::Es => syllables_es::syllables(word),
        }
    }
}

/// Whether `tag` is a well-formed BCP 47 language tag as far as a playbook needs: a
/// primary subtag of 2 or 3 letters, then subtags of 1 to 8 letters or digits.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A form of "be" (or "ser") and the participle after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassiveHit {
    /// The words as written, from the auxiliary to the participle.
    pub phrase: String,
    /// Byte offset in the text.
    pub start: usize,
    /// Byte offset just past the participle.
    pub end: usize,
}

/// A word from the jargon list, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JargonHit {
    /// The words as written.
    pub term: String,
    /// The plain replacement from the list.
    pub replacement: String,
    /// Byte offset in the text.
    pub start: usize,
    /// Byte offset just past the term.
    pub end: usize,
}

/// How hard a text is to read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadabilityReport {
    /// The language graded.
    pub language: Language,
    /// The formula's name ([`Language::formula`]).
    pub formula: &'static str,
    /// The US school grade: Flesch–Kincaid's directly, Fernández Huerta's from its table.
    /// Rounded to one decimal.
    pub grade: f64,
    /// The formula's reading-ease score (Flesch reading ease for English, Fernández
    /// Huerta's lecturabilidad for Spanish; higher is easier), rounded to one decimal.
    pub ease: f64,
    /// For Spanish, the band of Fernández Huerta's table ("normal (7º u 8º grado)").
    pub band: Option<&'static str>,
    /// Words counted (tokens with a letter; numbers, links, hashtags and handles are not).
    pub words: usize,
    /// Syllables in those words.
    pub syllables: usize,
    /// The words of each sentence, in order.
    pub sentence_lengths: Vec<usize>,
    /// Words per sentence, rounded to one decimal.
    pub average_sentence_length: f64,
    /// The longest sentence, in words.
    pub longest_sentence: usize,
    /// Passive constructions found.
    pub passive: Vec<PassiveHit>,
    /// Jargon found, with plain replacements.
    pub jargon: Vec<JargonHit>,
}

impl ReadabilityReport {
    /// Whether the grade is above `max`.
    pub fn is_above(&self, max: f64) -> bool {
        self.grade > max
    }
}

/// A word of the text with its byte offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
}

impl Word<'_> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

/// Grades `text` (a rendered variant, plain text) in `language`.
pub fn assess(text: &str, language: Language) -> ReadabilityReport {
    assess_masked(&mask_non_prose(text), text, language)
}

/// Grades the HTML part of an email: tags and character references are masked first, a
/// closing block tag ending a sentence.
pub fn assess_html(html: &str, language: Language) -> ReadabilityReport {
    let text = mask_markup(html);
    assess_masked(&mask_non_prose(&text), html, language)
}

fn assess_masked(masked: &str, original: &str, language: Language) -> ReadabilityReport {
    let mut sentence_lengths = Vec::new();
    let mut all_words: Vec<Word<'_>> = Vec::new();
    let mut syllables = 0;
    for (offset, sentence) in sentences(masked) {
        let words: Vec<Word<'_>> = words_of(sentence, offset)
            .into_iter()
            .map(|w| Word {
                // Same offsets: masking keeps every byte where it was.
                text: original.get(w.start..w.end()).unwrap_or(w.text),
                start: w.start,
            })
            .collect();
        if words.is_empty() {
            continue;
        }
        syllables += words
            .iter()
            .map(|w| language.syllables(w.text))
            .sum::<usize>();
        sentence_lengths.push(words.len());
        all_words.extend(words);
    }
    let counts = Counts {
        words: all_words.len(),
        sentences: sentence_lengths.len(),
        syllables,
    };
    let (grade, ease, band) = match language {
        Language::En => (
            flesch_kincaid_grade(counts),
            flesch_reading_ease(counts),
            None,
        ),
        Language::Es => {
            let l = fernandez_huerta(counts);
            let band = fernandez_huerta_band(l);
            (band.grade, l, Some(band.label))
        }
    };
    let lowered: Vec<String> = all_words.iter().map(|w| w.text.to_lowercase()).collect();
    let average = if counts.sentences == 0 {
        0.0
    } else {
        counts.words as f64 / counts.sentences as f64
    };
    ReadabilityReport {
        language,
        formula: language.formula(),
        grade: round1(grade),
        ease: round1(ease),
        band,
        words: counts.words,
        syllables,
        longest_sentence: sentence_lengths.iter().copied().max().unwrap_or(0),
        sentence_lengths,
        average_sentence_length: round1(average),
        passive: passive::find(original, &all_words, &lowered, language),
        jargon: jargon::find(original, &all_words, &lowered, language),
    }
}

fn round1(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// The sentences of `text` with their byte offsets: a sentence ends after `.`, `!`, `?` or
/// `…` (and any closing quotes or brackets) followed by a space and anything but a
/// lower-case letter ("a.m. tomorrow" is one sentence), and at every line break (a post's
/// lines are read as separate sentences). This is the gist of Unicode's sentence
/// boundaries (UAX #29) at a fraction of their cost: a preview grades every variant on
/// each keystroke, and the full algorithm was half of that time.
fn sentences<'a>(text: &'a str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let push = |from: &mut usize, to: usize, out: &mut Vec<(usize, &'a str)>| {
        if to > *from {
            if let Some(s) = text.get(*from..to) {
                out.push((*from, s));
            }
        }
        *from = to;
    };
    while let Some((i, c)) = chars.next() {
        if matches!(c, '\n' | '\r' | '\u{2029}' | '\u{2028}') {
            push(&mut start, i + c.len_utf8(), &mut out);
            continue;
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        // The rest of the terminator ("?!", "...") and what closes around it.
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if matches!(
                d,
                '.' | '!' | '?' | '…' | ')' | ']' | '"' | '\'' | '”' | '’' | '»'
            ) {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let rest = text.get(end..).unwrap_or("");
        let after_space = rest.trim_start_matches([' ', '\t', '\u{a0}']);
        if after_space.len() == rest.len() && !rest.is_empty() {
            continue; // "3.5", "health.gov": no space, no end
        }
        if after_space.chars().next().is_some_and(char::is_lowercase) {
            continue;
        }
        let to = end + (rest.len() - after_space.len());
        while chars.peek().is_some_and(|&(j, _)| j < to) {
            chars.next();
        }
        push(&mut start, to, &mut out);
    }
    push(&mut start, text.len(), &mut out);
    out
}

/// Whether `c` belongs inside a word: letters, digits and combining marks.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || ('\u{300}'..='\u{36f}').contains(&c)
}

/// The words of a sentence that contain a letter, with their offsets in the whole text: runs
/// of letters and digits, an apostrophe between letters kept inside ("don't"), a point,
/// comma or colon between digits kept inside ("9:30"); hyphens and slashes separate words.
fn words_of(sentence: &str, offset: usize) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut begin: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut iter = sentence.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let joins = match (prev, c, next) {
            (Some(p), '\'' | '’', Some(n)) => p.is_alphabetic() && n.is_alphabetic(),
            (Some(p), '.' | ',' | ':', Some(n)) => p.is_ascii_digit() && n.is_ascii_digit(),
            _ => false,
        };
        let inside = is_word_char(c) || (begin.is_some() && joins);
        match (inside, begin) {
            (true, None) => begin = Some(i),
            (false, Some(b)) => {
                push_word(&mut out, sentence, b, i, offset);
                begin = None;
            }
            _ => {}
        }
        prev = Some(c);
    }
    if let Some(b) = begin {
        push_word(&mut out, sentence, b, sentence.len(), offset);
    }
    out
}

fn push_word<'a>(
    out: &mut Vec<Word<'a>>,
    sentence: &'a str,
    from: usize,
    to: usize,
    offset: usize,
) {
    if let Some(w) = sentence
        .get(from..to)
        .filter(|w| w.chars().any(char::is_alphabetic))
    {
        out.push(Word {
            text: w,
            start: offset + from,
        });
    }
}

/// Replaces links, hashtags, @handles and e-mail addresses with spaces, byte for byte, so
/// they are neither words nor sentence ends and every other offset stays put.
pub fn mask_non_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        let starts_token = previous.is_none_or(char::is_whitespace) || previous == Some('(');
        let rest = text.get(i..).unwrap_or("");
        let token_len = if starts_token { non_prose_len(rest) } else { 0 };
        if token_len > 0 {
            let end = i + token_len;
            push_blank(&mut out, text.get(i..end).unwrap_or(""));
            previous = Some(' ');
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// The byte length of the link, hashtag, handle or address `rest` starts with (0: none).
fn non_prose_len(rest: &str) -> usize {
    let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let token = rest.get(..token_end).unwrap_or("");
    // Punctuation after a link or tag ends the sentence; it is not part of the token.
    let trimmed = token.trim_end_matches(|c: char| {
        matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | ')' | '"' | '\'')
    });
    let starts = |prefix: &str| {
        trimmed
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let is_link = starts("http://") || starts("https://") || starts("www.");
    let is_tag = (trimmed.starts_with('#') || trimmed.starts_with('@'))
        && trimmed.chars().skip(1).any(char::is_alphanumeric);
    let is_address = !trimmed.starts_with('@')
        && trimmed
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
    if is_link || is_tag || is_address {
        trimmed.len()
    } else {
        0
    }
}

fn push_blank(out: &mut String, replaced: &str) {
    out.extend(std::iter::repeat_n(' ', replaced.len()));
}

/// Replaces HTML tags and character references with spaces, byte for byte; the `>` of a
/// block-level closing tag (and `<br>`) becomes a line break, which ends a sentence.
fn mask_markup(html: &str) -> String {
    const BLOCKS: [&str; 12] = [
        "</p", "<br", "</li", "</h1", "</h2", "</h3", "</h4", "</div", "</td", "</tr", "</ul",
        "</ol",
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = rest.get(..end).unwrap_or("");
            let lower = tag.to_ascii_lowercase();
            let block = BLOCKS.iter().any(|b| lower.starts_with(b));
            if block && tag.ends_with('>') {
                push_blank(&mut out, tag.get(..tag.len() - 1).unwrap_or(""));
                out.push('\n');
            } else {
                push_blank(&mut out, tag);
            }
            rest = rest.get(end..).unwrap_or("");
        } else if c == '&' {
            let end = rest
                .find(';')
                .filter(|e| {
                    *e <= 10
                        && rest.get(1..*e).is_some_and(|r| {
                            r.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '#')
                        })
                })
                .map_or(c.len_utf8(), |e| e + 1);
            push_blank(&mut out, rest.get(..end).unwrap_or(""));
            rest = rest.get(end..).unwrap_or("");
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
    }
    out
}

#[cfg(test)]
mod tests;
