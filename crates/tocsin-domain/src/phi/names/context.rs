//! Names with no cue word next to them ("wishing Piotr Nowak a quick recovery after his
//! bypass"). The scan hands over a stretch of text near words about someone's care; in
//! it, a run of name words that starts with a known given name (or an initial: "J.
//! Okafor") is read as a patient's name, in any case, unless a title, a role, a place or
//! an institution says otherwise.

use super::super::detectors::RawHit;
use super::super::family::PhiFamily;
use super::super::text::{char_after, fold};
use super::given::{Given, GivenNames};
use super::lists::{
    INSTITUTION, KNOWN_PLACES, NAME_PARTICLES, NOT_SURNAME, PLACE_BEFORE, SPEAKER_BEFORE,
    STAFF_ROLE, STAFF_TITLE, STOP,
};
use super::{described_as_staff, in_list, is_name_word, strip_possessive, word_at};

/// How a word is written, which decides what may follow it in one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// "Nowak", "Núñez", "O'Brien".
    Capitalised,
    /// "NOWAK".
    Upper,
    /// "nowak".
    Lower,
    /// "J." (a capital letter and a dot).
    Initial,
    /// Anything else ("McDONALD", "iPhone").
    Other,
}

/// One word of the stretch, with how it joins the previous one.
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    style: Style,
    /// Separated from the previous word by spaces only (or by an initial's dot and a
    /// space): the two may belong to one name.
    joined: bool,
}

fn style_of(text: &str, start: usize, end: usize) -> Style {
    let word = text.get(start..end).unwrap_or("");
    let letters = || word.chars().filter(|c| c.is_alphabetic());
    if word.chars().count() == 1 && word.chars().all(char::is_uppercase) {
        return if char_after(text, end) == Some('.') {
            Style::Initial
        } else {
            Style::Other
        };
    }
    if is_name_word(strip_possessive(word)) {
        Style::Capitalised
    } else if letters().all(char::is_uppercase) {
        Style::Upper
    } else if letters().all(char::is_lowercase) {
        Style::Lower
    } else {
        Style::Other
    }
}

/// The words of `text[start..end]`.
fn words(text: &str, start: usize, end: usize) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut i = start;
    while i < end {
        let Some(c) = char_after(text, i) else {
            break;
        };
        if c.is_alphabetic() {
            if let Some((s, e)) = word_at(text, i) {
                let e = e.min(end);
                let style = style_of(text, s, e);
                let joined = out.last().is_some_and(|prev| {
                    let gap = text.get(prev.end..s).unwrap_or("");
                    (!gap.is_empty() && gap.bytes().all(|b| b == b' '))
                        || (prev.style == Style::Initial && gap == ". ")
                });
                out.push(Word {
                    start: s,
                    end: e,
                    style,
                    joined,
                });
                i = e.max(i + 1);
                continue;
            }
        }
        i += c.len_utf8();
    }
    out
}

/// Whether most letters of the stretch are capitals: a shouted post, in which capitals
/// say nothing about names.
fn shouting(text: &str, start: usize, end: usize) -> bool {
    let stretch = text.get(start..end).unwrap_or("");
    let (mut upper, mut letters) = (0usize, 0usize);
    for c in stretch.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        upper += usize::from(c.is_uppercase());
    }
    letters >= 8 && upper * 10 >= letters * 8
}

/// Appends a Name hit for each name found in `text[start..end]`.
pub(super) fn names_in(
    given: &GivenNames,
    text: &str,
    start: usize,
    end: usize,
    out: &mut Vec<RawHit>,
) {
    let words = words(text, start, end);
    let loud = shouting(text, start, end);
    // A name in lower case is only believed in text written all in lower case.
    let quiet = text
        .get(start..end)
        .is_some_and(|t| t.chars().filter(|c| c.is_uppercase()).count() < 2);
    let word_text = |w: &Word| text.get(w.start..w.end).unwrap_or("");
    let mut k = 0;
    while let Some(first) = words.get(k) {
        let first_text = word_text(first);
        let opens = match first.style {
            Style::Initial => true,
            Style::Capitalised => given.is_given(first_text) && !in_list(STOP, first_text),
            Style::Upper => loud && given.lookup(first_text) == Given::Yes,
            Style::Lower => quiet && given.lookup(first_text) == Given::Yes,
            Style::Other => false,
        };
        let run = if opens {
            surname_run(text, &words, k)
        } else {
            None
        };
        let Some(last) = run else {
            k += 1;
            continue;
        };
        if !rejected_by_context(text, &words, k, last) {
            let last_word = words.get(last).map_or(first, |w| w);
            let end = last_word.start + strip_possessive(word_text(last_word)).len();
            out.push(RawHit::new(PhiFamily::Name, first.start, end));
        }
        k = last + 1;
    }
}

/// The index of the last surname word of a name starting at word `k`, if at least one
/// follows it in the same style; `None` if the run is an institution's name.
fn surname_run(text: &str, words: &[Word], k: usize) -> Option<usize> {
    let first = words.get(k)?;
    let wanted = match first.style {
        Style::Initial => Style::Capitalised,
        style => style,
    };
    let word_text = |w: &Word| text.get(w.start..w.end).unwrap_or("");
    let mut last = None;
    let mut surnames = 0;
    let mut j = k + 1;
    while let Some(next) = words.get(j) {
        if !next.joined || surnames == 3 {
            break;
        }
        let t = word_text(next);
        // "María de la Cruz", "Ludwig van Beethoven": particles inside a name.
        if wanted != Style::Lower && in_list(NAME_PARTICLES, t) && next.style != wanted {
            let continues = words.get(j + 1).is_some_and(|w| {
                w.joined && (w.style == wanted || in_list(NAME_PARTICLES, word_text(w)))
            });
            if continues && surnames > 0 {
                j += 1;
                continue;
            }
            break;
        }
        if next.style != wanted {
            break;
        }
        if in_list(INSTITUTION, t) {
            return None;
        }
        if in_list(STOP, t) || in_list(STAFF_TITLE, t) || in_list(NOT_SURNAME, t) {
            break;
        }
        last = Some(j);
        surnames += 1;
        if strip_possessive(t).len() != t.len() {
            break;
        }
        j += 1;
    }
    let last = last?;
    // "Harold Washington College", "Ana Brito Center".
    if let Some(after) = words.get(last + 1) {
        if after.joined && in_list(INSTITUTION, word_text(after)) {
            return None;
        }
    }
    Some(last)
}

/// Whether the words around a name make it a member of staff, a speaker, a place or a
/// well-known institution rather than a patient.
fn rejected_by_context(text: &str, words: &[Word], k: usize, last: usize) -> bool {
    let word_text = |i: usize| {
        words
            .get(i)
            .and_then(|w| text.get(w.start..w.end))
            .unwrap_or("")
    };
    // "Dr. Ana Brito", "Health Commissioner Jane Ortiz", "Chief Nursing Officer Dana
    // Whitfield", "our nurses Jenna and Luis": a title or role up to three capitalised
    // words before the name.
    for back in 1..=3 {
        let Some(i) = k.checked_sub(back) else {
            break;
        };
        let w = word_text(i);
        let singular = w.strip_suffix('s').unwrap_or(w);
        if in_list(STAFF_TITLE, w)
            || in_list(STAFF_ROLE, w)
            || in_list(STAFF_TITLE, singular)
            || in_list(STAFF_ROLE, singular)
        {
            return true;
        }
        let part_of_title = words
            .get(i)
            .is_some_and(|w| w.style == Style::Capitalised || w.style == Style::Upper);
        if !part_of_title {
            break;
        }
    }
    if let Some(before) = k.checked_sub(1).map(word_text) {
        if in_list(PLACE_BEFORE, before) || in_list(SPEAKER_BEFORE, before) {
            return true;
        }
    }
    let mut buf = [0u8; 24];
    let mut pair = [0u8; 49];
    if let Some(first) = fold(word_text(k), &mut buf) {
        let second = word_text(k + 1);
        let mut n = 0;
        for b in first
            .iter()
            .copied()
            .chain([b' '])
            .chain(second.bytes().map(|b| b.to_ascii_lowercase()).take(24))
        {
            if let Some(slot) = pair.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
        let joined = pair.get(..n).unwrap_or(&[]);
        if KNOWN_PLACES.iter().any(|p| p.as_bytes() == joined) {
            return true;
        }
    }
    let end = words.get(last).map_or(0, |w| w.end);
    described_as_staff(text, end)
}
