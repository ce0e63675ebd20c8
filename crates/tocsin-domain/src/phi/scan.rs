//! The single pass over the text that makes `check` cheap: it walks the bytes once,
//! finds trigger points (digit runs, keywords looked up case-insensitively, `@`, `.`
//! before a top-level domain, `+` before a digit, title words) and asks only the
//! detectors those triggers can start to look, on small windows around them.

use super::detectors::{DateKeyword, Detectors, IdKeyword, RawHit};
use super::names::NameDetector;
use super::spanish::TRIGGERS_ES;
use super::text::{
    char_after, char_before, fold_char, next_word, previous_word, sentence_bounds, starts_with_ci,
    widen,
};

pub(crate) const SSN: u32 = 1;
pub(crate) const MRN: u32 = 1 << 1;
pub(crate) const PLAN: u32 = 1 << 2;
pub(crate) const ACCOUNT: u32 = 1 << 3;
const DATE_LABEL: u32 = 1 << 4;
const DATE_BORN: u32 = 1 << 5;
const DATE_EVENT: u32 = 1 << 6;
pub(crate) const AGE_WORD: u32 = 1 << 7;
const URL: u32 = 1 << 8;
pub(crate) const PO_BOX: u32 = 1 << 9;
pub(crate) const NAME_BEFORE: u32 = 1 << 10;
const NAME_AFTER: u32 = 1 << 11;
/// A noun that follows a possessive name ("Jane Doe's surgery"); checked for the "'s".
const POSSESSED: u32 = 1 << 12;
/// A word about someone's care ("surgery", "recovery", "cirugía"): names with no cue
/// word are looked for around it.
pub(crate) const CONTEXT: u32 = 1 << 13;
/// "plate", "placas", "VIN".
pub(crate) const VEHICLE: u32 = 1 << 14;
/// "serial", "lot", "lote".
pub(crate) const DEVICE: u32 = 1 << 15;
/// "license", "certificate", "licencia", "acta".
pub(crate) const LICENSE: u32 = 1 << 16;
/// "fingerprint", "retina", "DNA", "huellas".
pub(crate) const BIOMETRIC: u32 = 1 << 17;
/// "dot", "[at]", "gmail": an e-mail address written to dodge filters.
const EMAIL_OBF: u32 = 1 << 18;
/// "her surgery on ...": a date after a possessive and a care word.
const DATE_POSS: u32 = 1 << 19;
/// Spanish date labels and events ("fecha de nacimiento", "dado de alta el").
pub(crate) const DATE_ES: u32 = 1 << 20;
/// Spanish street words before the name ("calle", "avenida").
pub(crate) const STREET_ES: u32 = 1 << 21;

/// Every trigger word, lower-case and sorted (binary-searched), with the detectors it can start.
const TRIGGERS: &[(&[u8], u32)] = &[
    (b"accession", MRN),
    (b"account", ACCOUNT),
    (b"acct", ACCOUNT),
    (b"admission", DATE_LABEL),
    (b"admit", DATE_LABEL),
    (b"admitted", DATE_EVENT | NAME_AFTER | CONTEXT),
    (b"age", NAME_AFTER),
    (b"aged", NAME_AFTER),
    (b"airlifted", NAME_AFTER | CONTEXT),
    (b"ambulance", CONTEXT),
    (b"amputation", CONTEXT),
    (b"aol", EMAIL_OBF),
    (b"appendix", CONTEXT),
    (b"appointment", DATE_POSS),
    (b"at", EMAIL_OBF),
    (b"attack", CONTEXT),
    (b"bcbs", PLAN),
    (b"bedside", POSSESSED | CONTEXT),
    (b"beneficiary", PLAN),
    (b"billing", ACCOUNT),
    (b"biometric", BIOMETRIC),
    (b"biometrics", BIOMETRIC),
    (b"biopsy", POSSESSED | CONTEXT),
    (b"birth", DATE_LABEL),
    (b"birthdate", DATE_LABEL),
    (b"birthday", DATE_LABEL | CONTEXT),
    (b"bloodwork", POSSESSED),
    (b"body", POSSESSED),
    (b"born", DATE_BORN | NAME_AFTER),
    (b"box", PO_BOX),
    (b"brother", NAME_BEFORE),
    (b"burn", CONTEXT),
    (b"burns", CONTEXT),
    (b"bypass", CONTEXT),
    (b"cal", PLAN),
    (b"cancer", POSSESSED | CONTEXT),
    (b"caregiver", POSSESSED),
    (b"case", MRN | POSSESSED),
    (b"cdl", LICENSE),
    (b"centenarian", AGE_WORD),
    (b"cert", LICENSE),
    (b"certificate", LICENSE),
    (b"chart", MRN | POSSESSED),
    (b"chemo", CONTEXT),
    (b"chemotherapy", CONTEXT),
    (b"child", NAME_BEFORE | NAME_AFTER),
    (b"client", NAME_BEFORE),
    (b"coma", CONTEXT),
    (b"comcast", EMAIL_OBF),
    (b"condition", POSSESSED),
    (b"condolences", CONTEXT),
    (b"crash", CONTEXT),
    (b"critical", CONTEXT),
    (b"csn", MRN),
    (b"date", DATE_LABEL | NAME_AFTER),
    (b"daughter", NAME_BEFORE | NAME_AFTER),
    (b"death", DATE_LABEL | POSSESSED),
    (b"deceased", DATE_EVENT),
    (b"decedent", NAME_BEFORE),
    (b"diagnosed", NAME_AFTER | CONTEXT),
    (b"diagnosis", POSSESSED | CONTEXT),
    (b"dialysis", CONTEXT),
    (b"died", DATE_EVENT | NAME_AFTER | CONTEXT),
    (b"discharge", DATE_LABEL),
    (b"discharged", DATE_EVENT | NAME_AFTER | CONTEXT),
    (b"dl", LICENSE),
    (b"dna", BIOMETRIC),
    (b"dob", DATE_LABEL | NAME_AFTER),
    (b"dod", DATE_LABEL),
    (b"dos", DATE_LABEL),
    (b"dot", EMAIL_OBF),
    (b"encounter", MRN),
    (b"enrollee", PLAN),
    (b"expired", DATE_EVENT),
    (b"face", BIOMETRIC),
    (b"faceprint", BIOMETRIC),
    (b"facial", BIOMETRIC),
    (b"family", NAME_BEFORE | POSSESSED),
    (b"father", NAME_BEFORE | NAME_AFTER),
    (b"file", MRN),
    (b"fin", MRN),
    (b"finger", BIOMETRIC),
    (b"fingerprint", BIOMETRIC),
    (b"fingerprints", BIOMETRIC),
    (b"fracture", CONTEXT),
    (b"ftp", URL),
    (b"funeral", POSSESSED | CONTEXT),
    (b"gait", BIOMETRIC),
    (b"genetic", BIOMETRIC),
    (b"gmail", EMAIL_OBF),
    (b"granddaughter", NAME_BEFORE | NAME_AFTER),
    (b"grandfather", NAME_BEFORE),
    (b"grandmother", NAME_BEFORE),
    (b"grandson", NAME_BEFORE | NAME_AFTER),
    (b"group", PLAN),
    (b"guarantor", ACCOUNT),
    (b"guardian", POSSESSED),
    (b"heal", CONTEXT),
    (b"healing", CONTEXT),
    (b"heart", CONTEXT),
    (b"hicn", PLAN),
    (b"hip", CONTEXT),
    (b"hospice", CONTEXT),
    (b"hospital", MRN),
    (b"hospitalised", NAME_AFTER | CONTEXT),
    (b"hospitalized", NAME_AFTER | CONTEXT),
    (b"hotmail", EMAIL_OBF),
    (b"http", URL),
    (b"https", URL),
    (b"hundred", AGE_WORD),
    (b"husband", NAME_BEFORE | NAME_AFTER),
    (b"icloud", EMAIL_OBF),
    (b"icu", CONTEXT),
    (b"identified", NAME_BEFORE),
    (b"illness", POSSESSED | CONTEXT),
    (b"infant", NAME_BEFORE),
    (b"infection", POSSESSED | CONTEXT),
    (b"injured", CONTEXT),
    (b"insurance", PLAN),
    (b"intubated", NAME_AFTER | CONTEXT),
    (b"iris", BIOMETRIC),
    (b"knee", CONTEXT),
    (b"known", NAME_BEFORE),
    (b"leukemia", CONTEXT),
    (b"lic", LICENSE),
    (b"licence", LICENSE),
    (b"license", LICENSE),
    (b"lot", DEVICE),
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
    (b"newborn", NAME_BEFORE | CONTEXT),
    (b"nicu", CONTEXT),
    (b"nineties", AGE_WORD),
    (b"ninety", AGE_WORD),
    (b"nonagenarian", AGE_WORD),
    (b"old", NAME_AFTER),
    (b"operation", CONTEXT | DATE_POSS),
    (b"outlook", EMAIL_OBF),
    (b"overdose", CONTEXT),
    (b"palm", BIOMETRIC),
    (b"parent", NAME_BEFORE),
    (b"parents", POSSESSED),
    (b"passed", DATE_EVENT | NAME_AFTER | CONTEXT),
    (b"passing", CONTEXT),
    (b"passport", LICENSE),
    (b"patient", MRN | NAME_BEFORE | NAME_AFTER | CONTEXT),
    (b"plan", PLAN),
    (b"plate", VEHICLE),
    (b"plates", VEHICLE),
    (b"pneumonia", CONTEXT),
    (b"policy", PLAN),
    (b"positive", CONTEXT),
    (b"prayers", CONTEXT),
    (b"praying", CONTEXT),
    (b"procedure", POSSESSED | CONTEXT | DATE_POSS),
    (b"prognosis", POSSESSED),
    (b"pronounced", NAME_AFTER),
    (b"protonmail", EMAIL_OBF),
    (b"pt", NAME_BEFORE | CONTEXT),
    (b"radiation", CONTEXT),
    (b"readmitted", DATE_EVENT | NAME_AFTER),
    (b"record", MRN),
    (b"records", POSSESSED),
    (b"recover", CONTEXT),
    (b"recovered", CONTEXT),
    (b"recovering", CONTEXT),
    (b"recovers", CONTEXT),
    (b"recovery", POSSESSED | CONTEXT),
    (b"rehab", CONTEXT),
    (b"remains", POSSESSED),
    (b"remission", CONTEXT),
    (b"resident", NAME_BEFORE | NAME_AFTER),
    (b"results", POSSESSED),
    (b"resuscitated", NAME_AFTER),
    (b"retina", BIOMETRIC),
    (b"retinal", BIOMETRIC),
    (b"room", POSSESSED),
    (b"rushed", NAME_AFTER),
    (b"scan", POSSESSED),
    (b"seen", NAME_AFTER),
    (b"seizure", CONTEXT),
    (b"sepsis", CONTEXT),
    (b"serial", DEVICE),
    (b"service", DATE_LABEL),
    (b"sister", NAME_BEFORE),
    (b"sn", DEVICE),
    (b"soc", SSN),
    (b"social", SSN),
    (b"son", NAME_BEFORE | NAME_AFTER),
    (b"ss", SSN),
    (b"ssn", SSN),
    (b"stabilised", NAME_AFTER),
    (b"stabilized", NAME_AFTER),
    (b"stitches", CONTEXT),
    (b"stroke", CONTEXT),
    (b"subscriber", PLAN),
    (b"succumbed", NAME_AFTER),
    (b"supercentenarian", AGE_WORD),
    (b"surgery", DATE_LABEL | POSSESSED | CONTEXT | DATE_POSS),
    (b"symptoms", POSSESSED),
    (b"tag", VEHICLE),
    (b"tags", VEHICLE),
    (b"test", POSSESSED),
    (b"tested", NAME_AFTER),
    (b"tests", POSSESSED),
    (b"thumb", BIOMETRIC),
    (b"thumbprint", BIOMETRIC),
    (b"thumbprints", BIOMETRIC),
    (b"toddler", NAME_BEFORE),
    (b"transferred", NAME_AFTER),
    (b"transplant", POSSESSED | CONTEXT | DATE_POSS),
    (b"transported", NAME_AFTER),
    (b"treated", NAME_AFTER),
    (b"treatment", POSSESSED | CONTEXT),
    (b"tumor", CONTEXT),
    (b"tumour", CONTEXT),
    (b"udi", DEVICE),
    (b"ventilator", CONTEXT),
    (b"victim", NAME_BEFORE),
    (b"vin", VEHICLE),
    (b"visit", MRN),
    (b"voice", BIOMETRIC),
    (b"voiceprint", BIOMETRIC),
    (b"voiceprints", BIOMETRIC),
    (b"well", CONTEXT),
    (b"wheelchair", CONTEXT),
    (b"widow", NAME_BEFORE | NAME_AFTER),
    (b"widower", NAME_BEFORE),
    (b"wife", NAME_BEFORE | NAME_AFTER),
    (b"www", URL),
    (b"yahoo", EMAIL_OBF),
];

/// A 4096-bit filter over [`TRIGGERS`] and the Spanish ones, so most words are rejected
/// without a search.
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
    let mut rest = TRIGGERS_ES;
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

/// A word of at most 16 bytes as one number that sorts as the word does (big-endian,
/// zero-padded; no word has a zero byte), so a lookup compares integers, not slices.
// A const fn cannot use `get`; the index is checked against the length first.
#[allow(clippy::indexing_slicing)]
const fn pack(word: &[u8]) -> u128 {
    let mut key = 0u128;
    let mut i = 0;
    while i < 16 {
        let byte = if i < word.len() { word[i] } else { 0 };
        key = (key << 8) | byte as u128;
        i += 1;
    }
    key
}

/// The packed keys of a trigger table, in its order.
// Evaluated at compile time: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn keys<const N: usize>(table: &[(&[u8], u32)]) -> [u128; N] {
    let mut out = [0u128; N];
    let mut i = 0;
    while i < N {
        out[i] = pack(table[i].0);
        i += 1;
    }
    out
}

const KEYS: [u128; TRIGGERS.len()] = keys(TRIGGERS);
const KEYS_ES: [u128; TRIGGERS_ES.len()] = keys(TRIGGERS_ES);

/// The detectors a lower-cased, accent-folded word can start.
fn triggers(word: &[u8]) -> u32 {
    if word.len() > 16 {
        return 0;
    }
    let key = pack(word);
    let look = |keys: &[u128], table: &[(&[u8], u32)]| {
        keys.binary_search(&key)
            .ok()
            .and_then(|i| table.get(i))
            .map_or(0, |(_, flags)| *flags)
    };
    look(&KEYS, TRIGGERS) | look(&KEYS_ES, TRIGGERS_ES)
}

/// Whether a word is "patient" or "paciente" with one letter missing, doubled, changed or
/// two swapped ("pateint", "paitent", "pacinete"); "patent" and "patients" are words.
fn misspelt_patient(word: &[u8]) -> bool {
    if matches!(word, b"patent" | b"patents" | b"patients" | b"pacientes") {
        return false;
    }
    [&b"patient"[..], &b"paciente"[..]]
        .iter()
        .any(|target| *target != word && within_one_edit(word, target))
}

/// Optimal string alignment distance at most 1 (a swap of neighbours counts as one).
fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (
        a.get(prefix..).unwrap_or(&[]),
        b.get(prefix..).unwrap_or(&[]),
    );
    match (ra.len(), rb.len()) {
        (0, 0) => true,
        (la, lb) if la == lb => {
            ra.get(1..) == rb.get(1..)
                || (la >= 2
                    && ra.first() == rb.get(1)
                    && ra.get(1) == rb.first()
                    && ra.get(2..) == rb.get(2..))
        }
        (la, lb) if la + 1 == lb => rb.get(1..) == Some(ra),
        (la, lb) if lb + 1 == la => ra.get(1..) == Some(rb),
        _ => false,
    }
}

/// Where the scan has already looked for names with no cue word, so that a stretch with
/// several care words is read once.
#[derive(Default)]
struct ContextDone {
    until: usize,
}

/// Runs every built-in detector that a trigger in `text` calls for, appending to `out`.
pub(crate) fn scan(detectors: &Detectors, names: &NameDetector, text: &str, out: &mut Vec<RawHit>) {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut colons = 0usize;
    let mut double_colon = false;
    let mut context = ContextDone::default();
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
        let letter_start = b.is_ascii_alphabetic()
            || (b >= 0xc3
                && char_after(text, i)
                    .is_some_and(|c| c.is_alphabetic() && fold_char(c).is_some()));
        if letter_start {
            // Fold and hash while scanning so most words cost one filter probe and nothing
            // more; Latin letters with accents fold to ASCII ("teléfono" -> "telefono").
            let mut hash = FNV_OFFSET;
            let mut folded = [0u8; 16];
            let mut len = 0usize;
            let mut end = i;
            let mut foreign = false;
            while let Some(&byte) = bytes.get(end) {
                // ASCII letters by byte; anything else is decoded only when it comes.
                let (lower, width) = if byte.is_ascii_alphabetic() {
                    (byte | 0x20, 1)
                } else if byte < 0x80 {
                    break;
                } else {
                    match char_after(text, end) {
                        Some(c) if c.is_alphabetic() => match fold_char(c) {
                            Some(f) => (f, c.len_utf8()),
                            None => {
                                foreign = true;
                                (b'_', c.len_utf8())
                            }
                        },
                        _ => break,
                    }
                };
                hash = fnv_step(hash, lower);
                if let Some(slot) = folded.get_mut(len) {
                    *slot = lower;
                }
                len += 1;
                end += width;
            }
            // Letters glued to letters with no ASCII fold belong to a word in another
            // script; an emoji or a curly quote next to a word does not change the word.
            let glued = foreign
                || (i > 0
                    && at(i - 1) >= 0x80
                    && char_before(text, i).is_some_and(char::is_alphabetic));
            let title = matches!(b, b'M' | b'S' | b'D') && (2..=6).contains(&(end - i));
            let p_word = (b | 0x20) == b'p' && (6..=9).contains(&len);
            if !glued && (title || p_word || (2..=16).contains(&len) && in_filter(fold(hash))) {
                let word = folded.get(..len.min(16)).unwrap_or(&[]);
                if let Some(at_context) = on_word(detectors, names, text, i, end, word, out) {
                    if at_context >= context.until {
                        context.until = names_near(names, text, at_context, out);
                    }
                }
            }
            i = end;
            continue;
        }
        match b {
            b'@' if at(i + 1).is_ascii_alphanumeric() && i > 0 => detectors.on_at(text, i, out),
            b'.' if at(i + 1).is_ascii_alphabetic() => {
                // "D.O.B.": three one-letter words the word pass never sees.
                let dob = i >= 1
                    && (at(i - 1) | 0x20) == b'd'
                    && (i < 2 || !at(i - 2).is_ascii_alphanumeric())
                    && text
                        .get(i..i + 4)
                        .is_some_and(|t| t.eq_ignore_ascii_case(".o.b"));
                if dob {
                    detectors.on_date_keyword(text, DateKeyword::Label, i - 1, out);
                }
                detectors.on_dot(text, i, out);
            }
            b'+' if at(i + 1).is_ascii_digit() => detectors.on_plus(text, i, out),
            b'/' if (at(i + 1) | 0x20) == b'n'
                && i > 0
                && (at(i - 1) | 0x20) == b's'
                && !at(i + 2).is_ascii_alphanumeric() =>
            {
                detectors.device.on_cue(text, i - 1, out);
            }
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

/// Looks for names with no cue word in the sentence around byte `at` and the sentences
/// on either side; returns where that stretch ends.
fn names_near(names: &NameDetector, text: &str, at: usize, out: &mut Vec<RawHit>) -> usize {
    let (start, end) = sentence_bounds(text, at);
    let start = if start >= 2 {
        sentence_bounds(text, start - 2).0
    } else {
        start
    };
    let end = if end + 1 < text.len() {
        sentence_bounds(text, end + 1).1
    } else {
        end
    };
    names.on_context(text, start, end, out);
    end
}

fn count_while(bytes: &[u8], class: impl Fn(&u8) -> bool) -> usize {
    bytes.iter().position(|b| !class(b)).unwrap_or(bytes.len())
}

/// Runs the detectors the word at `start..end` (`word`: lower case, accents folded) can
/// start. Returns the word's offset if it is a care word, around which names with no
/// cue word are looked for.
fn on_word(
    detectors: &Detectors,
    names: &NameDetector,
    text: &str,
    start: usize,
    end: usize,
    word: &[u8],
    out: &mut Vec<RawHit>,
) -> Option<usize> {
    let raw = text.as_bytes().get(start..end)?;
    if matches!(
        raw,
        b"Mr" | b"Mrs" | b"Ms" | b"Mx" | b"Miss" | b"Mister" | b"Sr" | b"Sra" | b"Srta" | b"Don"
    ) || raw == "Doña".as_bytes()
    {
        names.on_title(text, start, end, out);
    }
    if word.len() < 2 || word.len() > 16 {
        return None;
    }
    let mut flags = triggers(word);
    let mut word = word;
    if flags == 0 && word.first() == Some(&b'p') && misspelt_patient(word) {
        flags = NAME_BEFORE | CONTEXT;
        word = b"patient";
    }
    if flags == 0 {
        return None;
    }
    // Identifiers and person dates all contain a digit soon after their keyword.
    let digit_follows = |span: usize| {
        text.as_bytes()
            .get(end..(end + span).min(text.len()))
            .is_some_and(|tail| tail.iter().any(u8::is_ascii_digit))
    };
    let numbered = SSN
        | MRN
        | PLAN
        | ACCOUNT
        | DATE_LABEL
        | DATE_BORN
        | DATE_EVENT
        | PO_BOX
        | VEHICLE
        | DEVICE
        | LICENSE
        | DATE_POSS
        | DATE_ES
        | STREET_ES;
    let flags = if digit_follows(96) {
        flags
    } else {
        flags & !numbered
    };
    let id_flags = if digit_follows(64) && id_keyword_complete(text, word, end) {
        flags & (SSN | MRN | PLAN | ACCOUNT)
    } else {
        0
    };
    // From a little before the word: "patient account", "billing acct".
    let id_window = widen(text, start.saturating_sub(12), start + 48);
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
        (DATE_POSS, DateKeyword::Possessive),
        (DATE_ES, DateKeyword::Spanish),
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
    if flags & STREET_ES != 0 {
        detectors.streets.on_spanish_street_word(text, start, out);
    }
    if flags & VEHICLE != 0 {
        super::vehicle::on_cue(text, start, end, word, out);
    }
    if flags & DEVICE != 0 && (word != b"sn" || raw == b"SN") {
        detectors.device.on_cue(text, start, out);
    }
    if flags & LICENSE != 0 && (word != b"dl" || raw == b"DL") {
        detectors.license.on_cue(text, start, out);
    }
    if flags & BIOMETRIC != 0 {
        detectors.biometric.on_cue(text, start, out);
    }
    if flags & EMAIL_OBF != 0 {
        let bracketed = word != b"at"
            || matches!(char_before(text, start), Some('[' | '(' | '{'))
            || next_word(text, end).is_some_and(|w| {
                [
                    "gmail",
                    "yahoo",
                    "hotmail",
                    "outlook",
                    "aol",
                    "icloud",
                    "protonmail",
                ]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(w))
            });
        if bracketed {
            detectors.on_obfuscated_email(text, start, out);
        }
    }
    if flags & NAME_BEFORE != 0 {
        names.on_before_trigger(text, word, start, end, out);
    }
    let possessed = flags & POSSESSED != 0 && after_possessive(text, start);
    if (flags & NAME_AFTER != 0 || possessed) && capitalised_word_before(text, start) {
        names.on_after_trigger(text, widen(text, start.saturating_sub(28), end + 16), out);
    }
    // "get well": the only sense of "well" that is about someone's care.
    let care = flags & CONTEXT != 0
        && (word != b"well"
            || previous_word(text, start).is_some_and(|w| w.eq_ignore_ascii_case("get")));
    care.then_some(start)
}

/// Whether a trigger word is followed by what makes it an identifier label: "patient"
/// alone is not one, "patient ID" is; "medical" needs "record", "social" needs "security".
/// Checked by hand so the keyword regexes only run on likely labels.
fn id_keyword_complete(text: &str, word: &[u8], end: usize) -> bool {
    let start_of = |_: &str, end: usize, word: &[u8]| end.saturating_sub(word.len());
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
            "file",
            "número",
            "numero",
            "núm",
        ]
        .iter()
        .any(|q| q.eq_ignore_ascii_case(next));
    match word {
        b"ssn" | b"mrn" | b"medicare" | b"medicaid" | b"mbi" | b"hicn" | b"acct" | b"encounter"
        | b"fin" | b"csn" | b"accession" | b"expediente" | b"afiliado" | b"afiliada"
        | b"poliza" | b"cuenta" | b"nss" => true,
        b"historia" => starts_with_ci(next, "cl"),
        b"seguro" => starts_with_ci(next, "social") || starts_with_ci(next, "m"),
        b"billing" | b"guarantor" => starts_with_ci(next, "acc"),
        b"account" => {
            qualifier
                || previous_word(text, end.saturating_sub(word.len())).is_some_and(|w| {
                    ["patient", "billing", "guarantor", "hospital"]
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(w))
                })
        }
        b"cal" => text.get(..start_of(text, end, word)).is_some_and(|h| {
            h.len() >= 5
                && h.get(h.len() - 5..)
                    .is_some_and(|t| t.eq_ignore_ascii_case("medi-"))
        }),
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

    proptest::proptest! {
        #[test]
        fn one_edit_is_symmetric_and_every_swap_or_drop_of_patient_is_caught(
            a in "[a-z]{0,10}",
            b in "[a-z]{0,10}",
            at in 0usize..7,
        ) {
            proptest::prop_assert_eq!(
                within_one_edit(a.as_bytes(), b.as_bytes()),
                within_one_edit(b.as_bytes(), a.as_bytes())
            );
            let mut swapped = b"patient".to_vec();
            swapped.swap(at.min(5), at.min(5) + 1);
            let mut dropped = b"patient".to_vec();
            dropped.remove(at);
            for word in [swapped, dropped] {
                if word != b"patent" && word != b"patient" {
                    proptest::prop_assert!(misspelt_patient(&word), "{:?}", String::from_utf8_lossy(&word));
                }
            }
        }
    }

    #[test]
    fn trigger_table_is_sorted_and_every_trigger_passes_the_filter() {
        assert!(TRIGGERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(TRIGGERS_ES.windows(2).all(|w| w[0].0 < w[1].0));
        for (word, flags) in TRIGGERS.iter().chain(TRIGGERS_ES) {
            assert!(*flags != 0);
            assert!(
                in_filter(word_hash(word)),
                "{:?}",
                String::from_utf8_lossy(word)
            );
            assert!(triggers(word) & *flags == *flags);
        }
        assert_eq!(triggers(b"water"), 0);
    }
}
