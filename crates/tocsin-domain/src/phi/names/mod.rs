//! Person names in patient context. Names have no shape, so this is a heuristic: a
//! name run next to a patient-context trigger ("patient X", "Mrs. X", "X was admitted",
//! "X, a 92-year-old"), minus clinicians, staff credits, organisations, places, calendar
//! words and headline capitalisation; `context` finds names with no cue word near words
//! about someone's care, with the `given` names gazetteer and the word `lists`.

mod context;
mod given;
mod lists;

use regex::Regex;

use lists::{CREDENTIALS, INSTITUTION, STAFF_ROLE, STAFF_TITLE, STOP};

pub(crate) use given::GivenNames;

use super::detectors::RawHit;
use super::family::PhiFamily;
use super::text::{
    char_after, char_before, contains_ci, find_in, in_sorted, next_word, previous_word,
    starts_with_ci, window_after, Window,
};

/// The name-context regex. Triggers before a name need none: the scanner hands over the
/// word ("patient", "son" + "of", "named"), and titles ("Mr", "Mrs", "Ms", "Mx", "Miss")
/// are matched case-sensitively, so "MS" (the disease) is not a title.
#[derive(Debug)]
pub(crate) struct NameDetector {
    /// "was admitted", "tested positive", ", a 45-year-old", "'s surgery", ...
    after_name: Regex,
    /// Given names, for names with no cue word next to them.
    given: GivenNames,
}

/// Whether `word` (ignoring ASCII case and a possessive "'s") is in `list`, which must be
/// sorted and lower-case (a test checks every list).
pub(super) fn in_list(list: &[&str], word: &str) -> bool {
    in_sorted(list, strip_possessive(word))
}

pub(super) fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("\u{2019}s"))
        .unwrap_or(word)
}

/// A capitalised word with at least one lower-case letter ("Garcia", "O'Brien",
/// "McDonald", "Núñez"), not an acronym ("ICU", "COVID").
pub(super) fn is_name_word(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_uppercase()
        && word.chars().count() >= 2
        && word.chars().any(char::is_lowercase)
        && word
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '\u{2019}' || c == '-')
}

/// The word starting at byte `i` (letters, apostrophes, inner hyphens).
pub(super) fn word_at(text: &str, i: usize) -> Option<(usize, usize)> {
    let rest = text.get(i..)?;
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || *c == '\'' || *c == '\u{2019}' || *c == '-'))
        .map_or(rest.len(), |(j, _)| j);
    let word = rest.get(..end)?.trim_end_matches(['\'', '\u{2019}', '-']);
    (!word.is_empty()).then_some((i, i + word.len()))
}

/// The word ending at byte `i`.
pub(super) fn word_ending_at(text: &str, i: usize) -> Option<(usize, usize)> {
    let head = text.get(..i)?;
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic() || *c == '\'' || *c == '\u{2019}' || *c == '-')
        .last()
        .map(|(j, _)| j)?;
    let word = head.get(start..)?;
    let lead = word.len() - word.trim_start_matches(['\'', '\u{2019}', '-']).len();
    (start + lead < i).then_some((start + lead, i))
}

/// A run of name words found next to a trigger.
#[derive(Debug, Clone, Copy)]
struct NameRun {
    start: usize,
    end: usize,
    words: usize,
    /// The run went on past the words taken: more capitalised words follow (a headline).
    continues: bool,
}

/// Reads up to `max` name words forward from `i`, allowing middle initials ("John Q. Public").
/// `None` if the first word is not a name word or is a stop word.
fn name_after(text: &str, i: usize, max: usize) -> Option<NameRun> {
    let rest = text.get(i..)?;
    let skipped = rest.len() - rest.trim_start_matches([' ', ',', ':']).len();
    let mut cursor = i + skipped;
    let mut run: Option<NameRun> = None;
    while let Some((s, e)) = word_at(text, cursor) {
        let word = text.get(s..e).unwrap_or("");
        let is_initial = run.is_some()
            && word.chars().count() == 1
            && word.chars().all(char::is_uppercase)
            && char_after(text, e) == Some('.');
        if !is_initial {
            if !is_name_word(word) || in_list(STOP, word) || in_list(STAFF_TITLE, word) {
                break;
            }
            if in_list(INSTITUTION, word) {
                return None;
            }
        }
        let possessive = strip_possessive(word).len() != word.len();
        let word_end = s + strip_possessive(word).len();
        match run.as_mut() {
            Some(r) if r.words >= max => {
                r.continues = true;
                break;
            }
            Some(r) => {
                r.end = word_end;
                if !is_initial {
                    r.words += 1;
                }
            }
            None => {
                run = Some(NameRun {
                    start: s,
                    end: word_end,
                    words: 1,
                    continues: false,
                })
            }
        }
        if possessive {
            break;
        }
        let mut next = e;
        if is_initial {
            next += 1;
        }
        if char_after(text, next) != Some(' ') {
            break;
        }
        cursor = next + 1;
    }
    run
}

/// Reads name words backward from `i` (up to 4, then it is a headline), trimming leading
/// stop words; `None` if a staff title or an institution word is part of the run.
fn name_before(text: &str, i: usize) -> Option<NameRun> {
    let head = text.get(..i)?;
    let mut cursor = head.trim_end_matches(' ').len();
    let mut starts: [usize; 6] = [0; 6];
    let mut count = 0usize;
    let mut end = None;
    while let Some((s, e)) = word_ending_at(text, cursor) {
        let word = text.get(s..e).unwrap_or("");
        let is_initial = end.is_some()
            && word.chars().count() == 1
            && word.chars().all(char::is_uppercase)
            && char_after(text, e) == Some('.');
        if !is_initial {
            if !is_name_word(word) {
                break;
            }
            if in_list(STAFF_TITLE, word) || in_list(INSTITUTION, word) {
                return None;
            }
            if let Some(slot) = starts.get_mut(count) {
                *slot = s;
            }
            count += 1;
            if count > 4 {
                return None;
            }
        }
        end.get_or_insert(e);
        if char_before(text, s) != Some(' ') {
            break;
        }
        let before = text.get(..s)?.trim_end_matches(' ');
        cursor = before.len();
        if before.ends_with('.') {
            // "Q." is a middle initial, "Dr." a clinician, "Mrs." a patient title the title
            // detector reports; anything else is the end of the previous sentence.
            let Some((ts, te)) = word_ending_at(text, cursor - 1) else {
                break;
            };
            let abbrev = text.get(ts..te).unwrap_or("");
            if abbrev.chars().count() == 1 && abbrev.chars().all(char::is_uppercase) {
                cursor -= 1;
                continue;
            }
            if in_list(STAFF_TITLE, abbrev) {
                return None;
            }
            break;
        }
    }
    let end = end?;
    // starts[] is right-to-left; drop leading (leftmost) stop words.
    let mut taken = count.min(starts.len());
    while taken > 0 {
        let s = *starts.get(taken - 1)?;
        let (ws, we) = word_at(text, s)?;
        if in_list(STOP, text.get(ws..we).unwrap_or("")) {
            taken -= 1;
        } else {
            break;
        }
    }
    if taken == 0 {
        return None;
    }
    Some(NameRun {
        start: *starts.get(taken - 1)?,
        end,
        words: taken,
        continues: false,
    })
}

impl NameDetector {
    pub(crate) fn new() -> Result<NameDetector, regex::Error> {
        Ok(NameDetector {
            after_name: Regex::new(concat!(
                r"(?:,\s+who\s+)?(?-u:\b)(?:was|is|has\s+been|had\s+been|is\s+being|was\s+being)\s+(?:admitted|readmitted|diagnosed|discharged|treated|hospitali[sz]ed|born|transported|airlifted|rushed|intubated|pronounced|seen\s+(?:by|in|at)|tested|transferred|stabili[sz]ed|resuscitated|a\s+patient)(?-u:\b)",
                r"|(?-u:\b)(?:has\s+)?tested\s+(?:positive|negative)(?-u:\b)",
                r"|\s(?:died|passed\s+away|succumbed)(?-u:\b)",
                r"|(?:,\s+(?:a|an)\s+|\s+(?:was|is)\s+(?:a|an)\s+)[0-9]{1,3}[- ](?:year|month|week|day)s?[- ]old",
                r"|,\s+(?:aged?\s+)?[0-9]{1,3},",
                r"|\s\((?:age\s+)?[0-9]{1,3}\)",
                r"|,\s+(?:a\s+|the\s+)?(?:resident|patient)\s+(?:of|at|in|from)(?-u:\b)",
                r"|,\s+(?:the|our|a|your|their)\s+patient(?-u:\b)",
                r"|,\s+(?:the\s+)?(?:son|daughter|wife|husband|mother|father|child|grandson|granddaughter|widow)\s+of(?-u:\b)",
                r"|(?:,\s+|\s\()(?:DOB|MRN|date\s+of\s+birth)(?-u:\b)",
                r"|['’]s\s+(?:diagnosis|surgery|condition|recovery|procedure|test|tests|test\s+results|results|family|treatment|illness|death|cancer|transplant|prognosis|medical|symptoms|infection|case|body|funeral|remains|guardian|parents|caregiver|chart|records|room|bedside|mri|scan|biopsy|bloodwork)(?-u:\b)",
            ))?,
            given: GivenNames::new(),
        })
    }

    /// Names with no cue word in `start..end`, a stretch of text next to words about
    /// someone's care (see [`context`]).
    pub(crate) fn on_context(&self, text: &str, start: usize, end: usize, out: &mut Vec<RawHit>) {
        context::names_in(&self.given, text, start, end, out);
    }

    /// A case-sensitive title word ("Mr", "Mrs", "Ms", "Mx", "Miss", "Mister") at
    /// `start..end`: the name after it is a hit unless the person is staff.
    pub(crate) fn on_title(&self, text: &str, start: usize, end: usize, out: &mut Vec<RawHit>) {
        let title = text.get(start..end).unwrap_or("");
        if title == "Miss" {
            // "Don't Miss Out", "Not to Miss".
            let before = previous_word(text, start).unwrap_or("");
            if matches!(
                before.to_ascii_lowercase().as_str(),
                "t" | "not" | "never" | "to" | "dont" | "won"
            ) {
                return;
            }
        }
        let title_end = if char_after(text, end) == Some('.') {
            end + 1
        } else {
            end
        };
        let Some(run) = name_after(text, title_end, 3) else {
            return;
        };
        if run.start > title_end + 2 || is_staff_context(text, start, run.end) {
            return;
        }
        out.push(RawHit::new(PhiFamily::Name, start, run.end));
    }

    /// A word at `start..end` that may introduce a patient's name ("patient", "daughter
    /// of", "named"). `word` is the trigger in lower case.
    pub(crate) fn on_before_trigger(
        &self,
        text: &str,
        word: &[u8],
        start: usize,
        end: usize,
        out: &mut Vec<RawHit>,
    ) {
        let next = next_word(text, end).unwrap_or("");
        let (strong, phrase_end) = match word {
            b"patient" | b"decedent" | b"paciente" => (true, end),
            b"pt" if char_after(text, end) == Some('.') => (true, end + 1),
            b"son" | b"daughter" | b"wife" | b"husband" | b"mother" | b"father" | b"child"
            | b"grandson" | b"granddaughter" | b"grandmother" | b"grandfather" | b"brother"
            | b"sister" | b"parent" | b"widow" | b"widower" | b"family"
                if next.eq_ignore_ascii_case("of") =>
            {
                (true, word_end_after(text, end))
            }
            b"hijo" | b"hija" | b"esposa" | b"esposo" | b"madre" | b"padre" | b"nieto"
            | b"nieta" | b"hermano" | b"hermana" | b"viuda" | b"familia"
                if next.eq_ignore_ascii_case("de") =>
            {
                (true, word_end_after(text, end))
            }
            b"llamado" | b"llamada" => (false, end),
            b"senora" | b"senor" | b"senorita" | b"dona" => (true, end),
            b"name" if next.eq_ignore_ascii_case("is") => (true, word_end_after(text, end)),
            b"name" if char_after(text, end) == Some(':') => (true, end + 1),
            b"resident" | b"client" | b"victim" | b"infant" | b"newborn" | b"toddler"
            | b"named" => (false, end),
            b"identified" | b"known" if next.eq_ignore_ascii_case("as") => {
                (false, word_end_after(text, end))
            }
            _ => return,
        };
        // "patient's", "patients": possessive or plural, not a name introduction.
        if phrase_end == end && matches!(char_after(text, end), Some('\'' | '\u{2019}')) {
            return;
        }
        // A capitalised trigger mid-sentence, or a whole sentence in title case, is a
        // headline ("Meet Our Patient Advocates", "Resident Physicians Rally For Staffing").
        let capitalised = text
            .get(start..)
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase()));
        if capitalised && (!at_sentence_start(text, start) || in_title_case_sentence(text, start)) {
            return;
        }
        let Some(run) = name_after(text, phrase_end, 3) else {
            return;
        };
        if run.continues || (!strong && run.words < 2) {
            return;
        }
        if run.start > phrase_end + 3 || is_staff_context(text, run.start, run.end) {
            return;
        }
        out.push(RawHit::new(PhiFamily::Name, run.start, run.end));
    }

    /// Context that may follow a patient's name ("was admitted", ", a 45-year-old",
    /// "'s surgery"): the capitalised words before it are read as the name.
    pub(crate) fn on_after_trigger(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.after_name, text, win) {
            let Some(run) = name_before(text, m.start) else {
                continue;
            };
            if run.words < 2 {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Name, run.start, run.end));
        }
    }
}

/// The end of the word that follows `i` (after spaces).
fn word_end_after(text: &str, i: usize) -> usize {
    let rest = text.get(i..).unwrap_or("");
    let skipped = rest.len() - rest.trim_start_matches(' ').len();
    let word = rest.get(skipped..).unwrap_or("");
    let len = word
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(word.len());
    i + skipped + len
}

/// Whether the sentence around byte `i` is written in title case: at least four words, and
/// every word longer than three letters capitalised (a headline, not prose about a patient).
pub(super) fn in_title_case_sentence(text: &str, i: usize) -> bool {
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    let start = text
        .get(..i)
        .and_then(|h| h.rfind(is_end))
        .map_or(0, |j| j + 1);
    let end = text
        .get(i..)
        .and_then(|t| t.find(is_end))
        .map_or(text.len(), |j| i + j);
    let sentence = text.get(start..end).unwrap_or("");
    let mut words = 0;
    for word in sentence.split_whitespace() {
        let letters = word.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 {
            continue;
        }
        words += 1;
        if letters > 3 && !word.starts_with(|c: char| c.is_uppercase() || !c.is_alphabetic()) {
            return false;
        }
    }
    words >= 4
}

/// Whether byte `i` begins a sentence: text start, or after `.`, `!`, `?`, `:`, a quote or a newline.
pub(super) fn at_sentence_start(text: &str, i: usize) -> bool {
    let head = text
        .get(..i)
        .unwrap_or("")
        .trim_end_matches([' ', '\t', '"', '\u{201c}', '(']);
    head.is_empty() || head.ends_with(['.', '!', '?', ':', '\n', '\u{2014}', '-', '#'])
}

/// Whether the person named at `start..end` is staff: credentials or a staff role right
/// after ("Anna Reyes, MD", "Ms. Alvarez, our communications director"), or a quote
/// attribution before ("said Ms. Alvarez").
fn is_staff_context(text: &str, start: usize, end: usize) -> bool {
    if described_as_staff(text, end) {
        return true;
    }
    let before = previous_word(text, start).unwrap_or("");
    matches!(
        before.to_ascii_lowercase().as_str(),
        "said" | "says" | "to" | "thanks" | "by"
    ) && !contains_ci(window_after(text, end, 40), "patient")
}

/// Whether what follows a name ending at `end` describes a member of staff: a credential
/// ("Anna Reyes, MD") or an appositive naming a staff role ("Ms. Alvarez, our
/// communications director").
pub(super) fn described_as_staff(text: &str, end: usize) -> bool {
    let after = window_after(text, end, 64);
    let Some(rest) = after
        .strip_prefix(", ")
        .or_else(|| after.strip_prefix(" ("))
    else {
        return false;
    };
    let credential = rest.split([',', ' ', ')']).next().unwrap_or("");
    if in_list(CREDENTIALS, credential) {
        return true;
    }
    // Only an appositive describes the person ("Ms. Alvarez, our communications
    // director"); a clause that goes on with a verb ("..., asked the nurses") does not.
    let clause = rest.split([',', '.', ';', ')']).next().unwrap_or("");
    let first = clause.split(' ').next().unwrap_or("");
    let appositive = [
        "our", "the", "a", "an", "his", "her", "their", "its", "who", "nuestra", "nuestro", "la",
        "el", "una", "un",
    ]
    .iter()
    .any(|d| d.eq_ignore_ascii_case(first))
        || first.starts_with(char::is_uppercase);
    let mut described = clause.split(' ').take(6);
    appositive
        && !described
            .clone()
            .any(|w| starts_with_ci(w, "patient") || starts_with_ci(w, "paciente"))
        && described.any(|w| in_list(STAFF_ROLE, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted_lower_case_and_unique_for_binary_search() {
        for list in [
            STOP,
            INSTITUTION,
            STAFF_TITLE,
            STAFF_ROLE,
            CREDENTIALS,
            lists::NOT_SURNAME,
            lists::NAME_PARTICLES,
            lists::PLACE_BEFORE,
            lists::SPEAKER_BEFORE,
            lists::KNOWN_PLACES,
        ] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "unsorted or duplicate: {list:?}"
            );
            assert!(list.iter().all(|w| *w == w.to_lowercase()), "{list:?}");
        }
    }
}
