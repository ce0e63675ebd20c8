//! The single pass over the text that makes `check` cheap: it walks the bytes once,
//! finds trigger points (digit runs, keywords looked up case-insensitively, `@`, `.`
//! before a top-level domain, `+` before a digit, title words) and asks only the
//! detectors those triggers can start to look, on small windows around them.

use super::detectors::{DateKeyword, Detectors, IdKeyword, RawHit};
use super::names::NameDetector;
use super::text::{char_after, char_before, next_word, starts_with_ci, widen};

const SSN: u32 = 1;
const MRN: u32 = 1 << 1;
const PLAN: u32 = 1 << 2;
const ACCOUNT: u32 = 1 << 3;
const DATE_LABEL: u32 = 1 << 4;
const DATE_BORN: u32 = 1 << 5;
const DATE_EVENT: u32 = 1 << 6;
const AGE_WORD: u32 = 1 << 7;
const URL: u32 = 1 << 8;
const PO_BOX: u32 = 1 << 9;
const NAME_BEFORE: u32 = 1 << 10;
const NAME_AFTER: u32 = 1 << 11;
/// A noun that follows a possessive name ("Jane Doe's surgery"); checked for the "'s".
const POSSESSED: u32 = 1 << 12;

/// Every trigger word, lower-case and sorted (binary-searched), with the detectors it can start.
const TRIGGERS: &[(&[u8], u32)] = &[
    (b"account", ACCOUNT),
    (b"acct", ACCOUNT),
    (b"admission", DATE_LABEL),
    (b"admit", DATE_LABEL),
    (b"admitted", DATE_EVENT | NAME_AFTER),
    (b"age", NAME_AFTER),
    (b"aged", NAME_AFTER),
    (b"airlifted", NAME_AFTER),
    (b"bcbs", PLAN),
    (b"bedside", POSSESSED),
    (b"beneficiary", PLAN),
    (b"biopsy", POSSESSED),
    (b"birth", DATE_LABEL),
    (b"birthdate", DATE_LABEL),
    (b"birthday", DATE_LABEL),
    (b"bloodwork", POSSESSED),
    (b"body", POSSESSED),
    (b"born", DATE_BORN | NAME_AFTER),
    (b"box", PO_BOX),
    (b"brother", NAME_BEFORE),
    (b"cancer", POSSESSED),
    (b"caregiver", POSSESSED),
    (b"case", POSSESSED),
    (b"centenarian", AGE_WORD),
    (b"chart", MRN | POSSESSED),
    (b"child", NAME_BEFORE | NAME_AFTER),
    (b"client", NAME_BEFORE),
    (b"condition", POSSESSED),
    (b"date", DATE_LABEL | NAME_AFTER),
    (b"daughter", NAME_BEFORE | NAME_AFTER),
    (b"death", DATE_LABEL | POSSESSED),
    (b"deceased", DATE_EVENT),
    (b"decedent", NAME_BEFORE),
    (b"diagnosed", NAME_AFTER),
    (b"diagnosis", POSSESSED),
    (b"died", DATE_EVENT | NAME_AFTER),
    (b"discharge", DATE_LABEL),
    (b"discharged", DATE_EVENT | NAME_AFTER),
    (b"dob", DATE_LABEL | NAME_AFTER),
    (b"dos", DATE_LABEL),
    (b"enrollee", PLAN),
    (b"expired", DATE_EVENT),
    (b"family", NAME_BEFORE),
    (b"father", NAME_BEFORE | NAME_AFTER),
    (b"ftp", URL),
    (b"funeral", POSSESSED),
    (b"granddaughter", NAME_BEFORE | NAME_AFTER),
    (b"grandfather", NAME_BEFORE),
    (b"grandmother", NAME_BEFORE),
    (b"grandson", NAME_BEFORE | NAME_AFTER),
    (b"group", PLAN),
    (b"guardian", POSSESSED),
    (b"hicn", PLAN),
    (b"hospital", MRN),
    (b"hospitalised", NAME_AFTER),
    (b"hospitalized", NAME_AFTER),
    (b"http", URL),
    (b"https", URL),
    (b"hundred", AGE_WORD),
    (b"husband", NAME_BEFORE | NAME_AFTER),
    (b"identified", NAME_BEFORE),
    (b"illness", POSSESSED),
    (b"infant", NAME_BEFORE),
    (b"infection", POSSESSED),
    (b"insurance", PLAN),
    (b"intubated", NAME_AFTER),
    (b"known", NAME_BEFORE),
    (b"mbi", PLAN),
    (b"med", MRN),
    (b"medicaid", PLAN),
    (b"medical", MRN),
    (b"medicare", PLAN),
    (b"member", PLAN),
    (b"mother", NAME_BEFORE | NAME_AFTER),
    (b"mr", MRN),
    (b"mri", POSSESSED),
    (b"mrn", MRN | NAME_AFTER),
    (b"name", NAME_BEFORE),
    (b"named", NAME_BEFORE),
    (b"newborn", NAME_BEFORE),
    (b"nineties", AGE_WORD),
    (b"ninety", AGE_WORD),
    (b"nonagenarian", AGE_WORD),
    (b"old", NAME_AFTER),
    (b"parent", NAME_BEFORE),
    (b"parents", POSSESSED),
    (b"passed", DATE_EVENT | NAME_AFTER),
    (b"patient", MRN | NAME_BEFORE | NAME_AFTER),
    (b"plan", PLAN),
    (b"policy", PLAN),
    (b"procedure", POSSESSED),
    (b"prognosis", POSSESSED),
    (b"pronounced", NAME_AFTER),
    (b"pt", NAME_BEFORE),
    (b"readmitted", DATE_EVENT | NAME_AFTER),
    (b"record", MRN),
    (b"records", POSSESSED),
    (b"recovery", POSSESSED),
    (b"remains", POSSESSED),
    (b"resident", NAME_BEFORE | NAME_AFTER),
    (b"results", POSSESSED),
    (b"resuscitated", NAME_AFTER),
    (b"room", POSSESSED),
    (b"rushed", NAME_AFTER),
    (b"scan", POSSESSED),
    (b"seen", NAME_AFTER),
    (b"service", DATE_LABEL),
    (b"sister", NAME_BEFORE),
    (b"soc", SSN),
    (b"social", SSN),
    (b"son", NAME_BEFORE | NAME_AFTER),
    (b"ss", SSN),
    (b"ssn", SSN),
    (b"stabilised", NAME_AFTER),
    (b"stabilized", NAME_AFTER),
    (b"subscriber", PLAN),
    (b"succumbed", NAME_AFTER),
    (b"supercentenarian", AGE_WORD),
    (b"surgery", POSSESSED),
    (b"symptoms", POSSESSED),
    (b"test", POSSESSED),
    (b"tested", NAME_AFTER),
    (b"tests", POSSESSED),
    (b"toddler", NAME_BEFORE),
    (b"transferred", NAME_AFTER),
    (b"transplant", POSSESSED),
    (b"transported", NAME_AFTER),
    (b"treated", NAME_AFTER),
    (b"treatment", POSSESSED),
    (b"victim", NAME_BEFORE),
    (b"widow", NAME_BEFORE | NAME_AFTER),
    (b"widower", NAME_BEFORE),
    (b"wife", NAME_BEFORE | NAME_AFTER),
    (b"www", URL),
];

/// A 4096-bit filter over [`TRIGGERS`], so most words are rejected without a search.
// Evaluated at compile time: an out-of-range index would fail the build, not panic, and
// `word_hash` is below 4096 by construction.
#[allow(clippy::indexing_slicing)]
const FILTER: [u64; 64] = {
    let mut bits = [0u64; 64];
    let mut rest = TRIGGERS;
    while let [(word, _), tail @ ..] = rest {
        let h = word_hash(word);
        bits[h / 64] |= 1 << (h % 64);
        rest = tail;
    }
    bits
};

const FNV_OFFSET: u32 = 0x811c_9dc5;

const fn fnv_step(h: u32, byte: u8) -> u32 {
    (h ^ byte as u32).wrapping_mul(0x0100_0193)
}

const fn fold(h: u32) -> usize {
    ((h ^ (h >> 16)) & 0xfff) as usize
}

/// FNV-1a of a lower-case word, folded into 0..4096.
const fn word_hash(word: &[u8]) -> usize {
    let mut h = FNV_OFFSET;
    let mut rest = word;
    while let [b, tail @ ..] = rest {
        h = fnv_step(h, *b);
        rest = tail;
    }
    fold(h)
}

fn in_filter(h: usize) -> bool {
    FILTER
        .get(h / 64)
        .is_some_and(|bits| bits & (1 << (h % 64)) != 0)
}

/// The detectors a lower-cased ASCII word can start.
fn triggers(word: &[u8]) -> u32 {
    TRIGGERS
        .binary_search_by(|(w, _)| (*w).cmp(word))
        .ok()
        .and_then(|i| TRIGGERS.get(i))
        .map_or(0, |(_, flags)| *flags)
}

/// Runs every built-in detector that a trigger in `text` calls for, appending to `out`.
pub(crate) fn scan(detectors: &Detectors, names: &NameDetector, text: &str, out: &mut Vec<RawHit>) {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut colons = 0usize;
    let mut double_colon = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = at(i);
        if b.is_ascii_digit() {
            let end = i + count_while(bytes.get(i..).unwrap_or(&[]), u8::is_ascii_digit);
            detectors.on_digits(text, i, end, out);
            on_digits_for_names(names, text, i, end, out);
            i = end;
            continue;
        }
        if b.is_ascii_alphabetic() {
            // Hash while scanning so most words cost one filter probe and nothing more.
            let mut hash = FNV_OFFSET;
            let mut end = i;
            while let Some(&c) = bytes.get(end) {
                if !c.is_ascii_alphabetic() {
                    break;
                }
                hash = fnv_step(hash, c | 0x20);
                end += 1;
            }
            // Letters glued to non-ASCII letters are part of a longer word ("Núñez"); an
            // emoji or a curly quote next to a word does not change the word.
            let glued = (at(end) >= 0x80 && char_after(text, end).is_some_and(char::is_alphabetic))
                || (i > 0
                    && at(i - 1) >= 0x80
                    && char_before(text, i).is_some_and(char::is_alphabetic));
            let title = b == b'M' && (2..=6).contains(&(end - i));
            if !glued && (title || (2..=16).contains(&(end - i)) && in_filter(fold(hash))) {
                on_word(detectors, names, text, i, end, out);
            }
            i = end;
            continue;
        }
        match b {
            b'@' if at(i + 1).is_ascii_alphanumeric() && i > 0 => detectors.on_at(text, i, out),
            b'.' if at(i + 1).is_ascii_alphabetic() => detectors.on_dot(text, i, out),
            b'+' if at(i + 1).is_ascii_digit() => detectors.on_plus(text, i, out),
            b':' => {
                colons += 1;
                double_colon |= i > 0 && at(i - 1) == b':';
            }
            _ => {}
        }
        i += 1;
    }
    if double_colon || colons >= 7 {
        detectors.scan_ipv6(text, out);
    }
}

fn count_while(bytes: &[u8], class: impl Fn(&u8) -> bool) -> usize {
    bytes.iter().position(|b| !class(b)).unwrap_or(bytes.len())
}

fn on_word(
    detectors: &Detectors,
    names: &NameDetector,
    text: &str,
    start: usize,
    end: usize,
    out: &mut Vec<RawHit>,
) {
    let Some(word) = text.as_bytes().get(start..end) else {
        return;
    };
    if word.first() == Some(&b'M')
        && matches!(word, b"Mr" | b"Mrs" | b"Ms" | b"Mx" | b"Miss" | b"Mister")
    {
        names.on_title(text, start, end, out);
    }
    if word.len() < 2 || word.len() > 16 {
        return;
    }
    let mut lower = [0u8; 16];
    let Some(buf) = lower.get_mut(..word.len()) else {
        return;
    };
    for (dst, src) in buf.iter_mut().zip(word) {
        *dst = src.to_ascii_lowercase();
    }
    let flags = triggers(buf);
    if flags == 0 {
        return;
    }
    // Identifiers and person dates all contain a digit soon after their keyword.
    let digit_follows = |span: usize| {
        text.as_bytes()
            .get(end..(end + span).min(text.len()))
            .is_some_and(|tail| tail.iter().any(u8::is_ascii_digit))
    };
    let flags = if digit_follows(96) {
        flags
    } else {
        flags & !(SSN | MRN | PLAN | ACCOUNT | DATE_LABEL | DATE_BORN | DATE_EVENT | PO_BOX)
    };
    let id_flags = if digit_follows(64) && id_keyword_complete(text, buf, end) {
        flags & (SSN | MRN | PLAN | ACCOUNT)
    } else {
        0
    };
    let id_window = widen(text, start, start + 40);
    for (flag, kind) in [
        (SSN, IdKeyword::Ssn),
        (MRN, IdKeyword::Mrn),
        (PLAN, IdKeyword::Plan),
        (ACCOUNT, IdKeyword::Account),
    ] {
        if id_flags & flag != 0 {
            detectors.on_keyword(text, kind, id_window, out);
        }
    }
    for (flag, kind) in [
        (DATE_LABEL, DateKeyword::Label),
        (DATE_BORN, DateKeyword::Born),
        (DATE_EVENT, DateKeyword::Event),
    ] {
        if flags & flag != 0 {
            detectors.on_date_keyword(text, kind, start, out);
        }
    }
    if flags & AGE_WORD != 0 {
        detectors.on_age_word(text, start, end, out);
    }
    if flags & URL != 0 {
        detectors.on_url_start(text, start, out);
    }
    if flags & PO_BOX != 0 {
        detectors.on_box(text, start, out);
    }
    if flags & NAME_BEFORE != 0 {
        names.on_before_trigger(text, buf, start, end, out);
    }
    let possessed = flags & POSSESSED != 0 && after_possessive(text, start);
    if (flags & NAME_AFTER != 0 || possessed) && capitalised_word_before(text, start) {
        names.on_after_trigger(text, widen(text, start.saturating_sub(28), end + 16), out);
    }
}

/// Whether a trigger word is followed by what makes it an identifier label: "patient"
/// alone is not one, "patient ID" is; "medical" needs "record", "social" needs "security".
/// Checked by hand so the keyword regexes only run on likely labels.
fn id_keyword_complete(text: &str, word: &[u8], end: usize) -> bool {
    let rest = text.get(end..).unwrap_or("");
    let after_space = rest.trim_start_matches(' ');
    let next = next_word(text, end).unwrap_or("");
    let qualifier = after_space.starts_with(['#', ':'])
        || [
            "id",
            "identifier",
            "number",
            "num",
            "no",
            "card",
            "i",
            "holder",
        ]
        .iter()
        .any(|q| q.eq_ignore_ascii_case(next));
    match word {
        b"ssn" | b"mrn" | b"medicare" | b"medicaid" | b"mbi" | b"hicn" | b"acct" => true,
        b"ss" | b"mr" => after_space.starts_with('#'),
        b"social" | b"soc" => starts_with_ci(next, "sec"),
        b"medical" | b"med" => starts_with_ci(next, "rec"),
        _ => qualifier,
    }
}

/// Whether a capitalised word starts within the 28 bytes before `start`: a name read
/// backwards from a trigger ends just before it ("Jane Doe, who has been admitted").
fn capitalised_word_before(text: &str, start: usize) -> bool {
    let bytes = text.as_bytes();
    let from = start.saturating_sub(28);
    bytes.get(from..start).is_some_and(|window| {
        window.iter().enumerate().any(|(k, b)| {
            let word_start = from + k == 0
                || bytes
                    .get(from + k - 1)
                    .is_some_and(|p| !p.is_ascii_alphanumeric());
            word_start && (b.is_ascii_uppercase() || *b >= 0x80)
        })
    })
}

/// Whether the word at `start` follows "'s " or "’s ".
fn after_possessive(text: &str, start: usize) -> bool {
    let head = text.get(..start).unwrap_or("");
    head.ends_with("'s ") || head.ends_with("\u{2019}s ")
}

/// ", 54," and "(54)" right after a name.
fn on_digits_for_names(
    names: &NameDetector,
    text: &str,
    start: usize,
    end: usize,
    out: &mut Vec<RawHit>,
) {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    if end - start > 3 || start < 2 {
        return;
    }
    let opens = (at(start - 1) == b' ' && at(start - 2) == b',') || at(start - 1) == b'(';
    if opens && matches!(at(end), b',' | b')') {
        names.on_after_trigger(text, widen(text, start - 2, end + 1), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_table_is_sorted_and_every_trigger_passes_the_filter() {
        assert!(TRIGGERS.windows(2).all(|w| w[0].0 < w[1].0));
        for (word, flags) in TRIGGERS {
            assert!(*flags != 0);
            assert!(
                in_filter(word_hash(word)),
                "{:?}",
                String::from_utf8_lossy(word)
            );
            assert_eq!(triggers(word), *flags);
        }
        assert_eq!(triggers(b"water"), 0);
    }
}
