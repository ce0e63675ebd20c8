//! Person names in patient context. Names have no shape, so this is a heuristic: a
//! capitalised name run next to a patient-context trigger ("patient X", "Mrs. X",
//! "X was admitted", "X, a 92-year-old"), minus clinicians ("Dr. X"), staff credits,
//! organisations, places, calendar words and headline capitalisation.

use regex::Regex;

use super::detectors::RawHit;
use super::family::PhiFamily;
use super::text::{char_after, char_before, contains_ci, previous_word, window_after};

/// Triggers after which a name follows. `strong` triggers name a patient outright, so a
/// single surname is enough; the others need First Last.
#[derive(Debug)]
pub(crate) struct NameDetector {
    /// Mr / Mrs / Ms / Mx / Miss: case-sensitive, so "MS" (the disease) is not a title.
    title: Regex,
    /// "patient", "decedent", "son of", "identified as", ...
    before_name: Regex,
    /// "was admitted", "tested positive", ", a 45-year-old", "'s surgery", ...
    after_name: Regex,
}

/// Words that are never the first word of a name: function words, calendar words and
/// the capitalised common nouns of headlines ("Patient Safety Week", "Patient Portal").
const STOP: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "but", "by", "can", "care", "do", "each", "every", "for", "from", "has", "have",
    "he", "her", "here", "his", "how", "i", "if", "in", "into", "is", "it", "its", "may",
    "more", "most", "must", "my", "new", "no", "not", "now", "of", "on", "one", "only", "or",
    "our", "out", "she", "should", "so", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "today", "tomorrow",
    "tonight", "two", "three", "four", "five", "under", "up", "us", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "yes",
    "yesterday", "you", "your", "please", "note", "update", "updates", "alert", "alerts",
    "advisory", "notice", "warning", "watch", "safety", "portal", "services", "service",
    "experience", "access", "advocate", "advocates", "advocacy", "education", "information",
    "info", "visitor", "visitors", "visiting", "rights", "privacy", "records", "record",
    "transport", "transportation", "parking", "entrance", "line", "hotline", "resources",
    "resource", "survey", "satisfaction", "story", "stories", "volume", "volumes", "count",
    "counts", "numbers", "number", "data", "flow", "beds", "bed", "room", "rooms", "family",
    "families", "support", "guide", "guidance", "guidelines", "form", "forms", "registration",
    "checklist", "zero", "first", "second", "third", "last", "next", "old", "local", "public",
    "community", "national", "emergency", "urgent", "immediate", "officials", "staff",
    "doctors", "nurses", "everyone", "nobody", "none", "someone", "anyone", "many", "several",
    "week", "month", "year", "day", "morning", "afternoon", "evening", "night", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "june", "july", "august", "september", "october", "november",
    "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "spring", "summer", "fall", "autumn", "winter", "covid", "flu", "measles",
    "hurricane", "storm", "tropical", "heat", "cold", "water", "supply", "air", "quality",
    "sample", "samples", "system", "plant", "main", "testing", "test", "tests", "vaccine",
    "vaccines", "vaccination", "clinic", "clinics", "unit", "units", "intake", "id", "name",
    "names", "status", "summary", "outcomes", "outcome", "wellness", "week's", "day's",
    "appointment", "appointments", "confidentiality", "feedback", "voices", "spotlight",
    "rooms", "zone", "area", "areas", "group", "groups", "list", "lists", "chart", "charts",
    "census", "load", "surge", "capacity", "wait", "times", "dies", "died", "said", "says",
    "thanks", "thank", "meet", "welcome", "congratulations", "happy", "join", "learn",
    "read", "see", "visit", "call", "get", "find", "stay", "keep", "boil", "shelter",
];

/// Words that make a capitalised run an organisation or a place, never a patient.
const INSTITUTION: &[&str] = &[
    "hospital", "hospitals", "clinic", "center", "centre", "department", "dept", "county",
    "health", "healthcare", "university", "college", "school", "schools", "church",
    "library", "institute", "foundation", "association", "society", "agency", "office",
    "services", "pharmacy", "laboratory", "lab", "labs", "medical", "memorial", "regional",
    "general", "inc", "llc", "corp", "company", "group", "network", "system", "systems",
    "board", "council", "committee", "district", "authority", "commission", "coalition",
    "alliance", "partners", "unit", "ward", "station", "shelter", "program", "team", "city",
    "state", "village", "township", "lake", "river", "beach", "pool", "harbor", "creek",
    "bay", "island", "heights", "avenue", "street", "road", "boulevard", "drive", "plaza",
    "square", "building", "tower", "hall", "airport", "terminal", "mall", "market", "zoo",
    "stadium", "field", "arena", "campus", "saint", "st", "children's", "childrens", "public",
    "department's", "hospital's", "county's", "city's", "water", "supply", "plant", "main",
    "system's", "reservoir", "authority's",
];

/// Titles of clinicians, staff and officials: a name after one of these is not a patient.
const STAFF_TITLE: &[&str] = &[
    "dr", "doctor", "nurse", "prof", "professor", "surgeon", "chaplain", "therapist",
    "commissioner", "director", "mayor", "governor", "senator", "officer", "chief",
    "superintendent", "alderman", "alderwoman", "rep", "representative", "secretary",
    "president", "chair", "captain", "sgt", "lt", "paramedic", "pharmacist", "coach", "judge",
    "rev", "reverend", "pastor", "father", "sister", "brother", "anesthesiologist",
    "cardiologist", "epidemiologist", "np", "rn", "pa", "md",
];

/// Roles in an appositive after a title ("Ms. Alvarez, our communications director") that
/// make the named person staff, not a patient.
const STAFF_ROLE: &[&str] = &[
    "director", "commissioner", "spokesperson", "spokeswoman", "spokesman", "manager",
    "coordinator", "officer", "president", "chair", "chief", "secretary", "nurse",
    "physician", "doctor", "surgeon", "epidemiologist", "volunteer", "administrator",
    "supervisor", "ceo", "cfo", "coo", "head of", "lead", "leader", "mayor", "alderman",
    "governor", "senator", "representative", "superintendent", "principal", "teacher",
    "pharmacist", "specialist", "educator", "liaison", "counsel", "attorney", "staff",
    "team", "organizer", "organiser", "founder", "chaplain", "therapist",
];

/// Credentials after a name that make it a clinician ("Anna Reyes, MD").
const CREDENTIALS: &[&str] = &[
    "md", "m.d.", "do", "rn", "np", "pa", "pa-c", "phd", "mph", "dnp", "bsn", "msn", "crna",
    "lpn", "facs", "dds", "pharmd",
];

fn in_list(list: &[&str], word: &str) -> bool {
    let word = strip_possessive(word);
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("\u{2019}s"))
        .unwrap_or(word)
}

/// A capitalised word with at least one lower-case letter ("Garcia", "O'Brien",
/// "McDonald", "Núñez"), not an acronym ("ICU", "COVID").
fn is_name_word(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else { return false };
    first.is_uppercase()
        && word.chars().count() >= 2
        && word.chars().any(char::is_lowercase)
        && word
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '\u{2019}' || c == '-')
}

/// The word starting at byte `i` (letters, apostrophes, inner hyphens).
fn word_at(text: &str, i: usize) -> Option<(usize, usize)> {
    let rest = text.get(i..)?;
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || *c == '\'' || *c == '\u{2019}' || *c == '-'))
        .map_or(rest.len(), |(j, _)| j);
    let word = rest.get(..end)?.trim_end_matches(['\'', '\u{2019}', '-']);
    (!word.is_empty()).then_some((i, i + word.len()))
}

/// The word ending at byte `i`.
fn word_ending_at(text: &str, i: usize) -> Option<(usize, usize)> {
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
    loop {
        let Some((s, e)) = word_at(text, cursor) else { break };
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
    loop {
        let Some((s, e)) = word_ending_at(text, cursor) else { break };
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
            let Some((ts, te)) = word_ending_at(text, cursor - 1) else { break };
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
            title: Regex::new(r"(?-u:\b)(?:Mr|Mrs|Ms|Mx|Miss|Mister)(?:\.|(?-u:\b))")?,
            before_name: Regex::new(concat!(
                r"(?i)(?-u:\b)(?:",
                r"(?P<strong>patient|pt\.|decedent|(?:son|daughter|wife|husband|mother|father|child|grandson|granddaughter|grandmother|grandfather|brother|sister|parent|widow|widower|family)\s+of|name\s+is|name:)",
                r"|(?P<weak>resident|client|victim|infant|newborn|toddler|identified\s+as|known\s+as|named)",
                r")(?-u:\b)?",
            ))?,
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
        })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<RawHit>) {
        self.scan_titles(text, out);
        self.scan_before_name(text, out);
        self.scan_after_name(text, out);
    }

    fn scan_titles(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.title.find_iter(text) {
            let title = m.as_str().trim_end_matches('.');
            if title == "Miss" {
                // "Don't Miss Out", "Not to Miss".
                let before = previous_word(text, m.start()).unwrap_or("");
                if matches!(before.to_ascii_lowercase().as_str(), "t" | "not" | "never" | "to" | "dont" | "won") {
                    continue;
                }
            }
            let Some(run) = name_after(text, m.end(), 3) else { continue };
            if run.start > m.end() + 2 || is_staff_context(text, m.start(), run.end) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Name, m.start(), run.end));
        }
    }

    fn scan_before_name(&self, text: &str, out: &mut Vec<RawHit>) {
        for caps in self.before_name.captures_iter(text) {
            let Some(m) = caps.get(0) else { continue };
            let strong = caps.name("strong").is_some();
            let trigger = m.as_str();
            // "patient's", "patients": possessive or plural, not a name introduction.
            if matches!(char_after(text, m.end()), Some('\'' | '\u{2019}' | 's')) && trigger.ends_with(char::is_alphabetic) {
                continue;
            }
            // A capitalised trigger mid-sentence, or a whole sentence in title case, is a
            // headline ("Meet Our Patient Advocates", "Resident Physicians Rally For Staffing").
            if trigger.starts_with(char::is_uppercase)
                && (!at_sentence_start(text, m.start()) || in_title_case_sentence(text, m.start()))
            {
                continue;
            }
            let Some(run) = name_after(text, m.end(), 3) else { continue };
            if run.continues || (!strong && run.words < 2) {
                continue;
            }
            if run.start > m.end() + 3 || is_staff_context(text, run.start, run.end) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Name, run.start, run.end));
        }
    }

    fn scan_after_name(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.after_name.find_iter(text) {
            let Some(run) = name_before(text, m.start()) else { continue };
            if run.words < 2 {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Name, run.start, run.end));
        }
    }
}

/// Whether the sentence around byte `i` is written in title case: at least four words, and
/// every word longer than three letters capitalised (a headline, not prose about a patient).
fn in_title_case_sentence(text: &str, i: usize) -> bool {
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    let start = text.get(..i).and_then(|h| h.rfind(is_end)).map_or(0, |j| j + 1);
    let end = text.get(i..).and_then(|t| t.find(is_end)).map_or(text.len(), |j| i + j);
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
fn at_sentence_start(text: &str, i: usize) -> bool {
    let head = text.get(..i).unwrap_or("").trim_end_matches([' ', '\t', '"', '\u{201c}', '(']);
    head.is_empty() || head.ends_with(['.', '!', '?', ':', '\n', '\u{2014}', '-', '#'])
}

/// Whether the person named at `start..end` is staff: credentials or a staff role right
/// after ("Anna Reyes, MD", "Ms. Alvarez, our communications director"), or a quote
/// attribution before ("said Ms. Alvarez").
fn is_staff_context(text: &str, start: usize, end: usize) -> bool {
    let after = window_after(text, end, 64);
    if let Some(rest) = after.strip_prefix(", ").or_else(|| after.strip_prefix(" (")) {
        let credential = rest
            .split(|c: char| c == ',' || c == ' ' || c == ')')
            .next()
            .unwrap_or("");
        if CREDENTIALS.iter().any(|c| c.eq_ignore_ascii_case(credential)) {
            return true;
        }
        // Only an appositive describes the person ("Ms. Alvarez, our communications
        // director"); a clause that goes on with a verb ("..., asked the nurses") does not.
        let clause = rest.split([',', '.', ';', ')']).next().unwrap_or("");
        let first = clause.split(' ').next().unwrap_or("");
        let appositive = matches!(
            first.to_ascii_lowercase().as_str(),
            "our" | "the" | "a" | "an" | "his" | "her" | "their" | "its" | "who"
        ) || first.starts_with(char::is_uppercase);
        let described: String = clause.split(' ').take(6).collect::<Vec<_>>().join(" ");
        if appositive
            && !contains_ci(&described, "patient")
            && STAFF_ROLE.iter().any(|role| contains_ci(&described, role))
        {
            return true;
        }
    }
    let before = previous_word(text, start).unwrap_or("");
    matches!(before.to_ascii_lowercase().as_str(), "said" | "says" | "to" | "thanks" | "by")
        && !contains_ci(window_after(text, end, 40), "patient")
}
