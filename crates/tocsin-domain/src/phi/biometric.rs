//! Biometric identifiers: a fingerprint, a retina or iris scan, a voiceprint, a DNA
//! profile or a face matched by recognition, when the text ties it to one person ("his
//! fingerprints", "the patient's voiceprint"). Policies ("we never use facial
//! recognition"), eye exams and a pathogen's DNA are not identifiers and pass.

use regex::Regex;

use super::detectors::RawHit;
use super::family::PhiFamily;
use super::text::{find_in, in_sorted, sentence_bounds, widen, window_after, window_before};

/// Words that tie a biometric to one person.
const PERSON: &[&str] = &[
    "baby",
    "daughter",
    "del",
    "her",
    "his",
    "husband",
    "man",
    "mr",
    "mrs",
    "ms",
    "paciente",
    "patient",
    "patient's",
    "sr",
    "sra",
    "son",
    "su",
    "sus",
    "their",
    "victim",
    "wife",
    "woman",
];

/// Possessives right before the term that give it an owner.
const OWNER: &[&str] = &["her", "his", "patient's", "su", "sus", "their"];

/// Words that make a sentence a policy, a service for many, a medical exam or about a
/// pathogen, not one person's identifier.
const NOT_AN_IDENTIFIER: &[&str] = &[
    "all",
    "bacteria",
    "brote",
    "cepa",
    "check-in",
    "don't",
    "everyone",
    "exam",
    "examen",
    "examenes",
    "exams",
    "free",
    "gratis",
    "gratuitos",
    "kiosk",
    "kiosks",
    "never",
    "no",
    "not",
    "nunca",
    "optional",
    "outbreak",
    "patients",
    "pacientes",
    "policy",
    "residents",
    "salmonella",
    "screening",
    "screenings",
    "sequencing",
    "staff",
    "strain",
    "todos",
    "virus",
    "volunteers",
];

/// The biometric terms.
#[derive(Debug)]
pub(crate) struct BiometricDetector {
    term: Regex,
}

impl BiometricDetector {
    pub(crate) fn new() -> Result<BiometricDetector, regex::Error> {
        Ok(BiometricDetector {
            term: Regex::new(concat!(
                r"(?i)(?-u:\b)(?:",
                r"finger\s?prints?|thumb\s?prints?|retinal?\s+(?:scan|image|print|pattern)s?|iris\s+(?:scan|image|pattern)s?",
                r"|voice\s?prints?|voice\s+(?:sample|recording|signature)s?|dna\s+(?:profile|sample|sequence|report)s?",
                r"|genetic\s+(?:profile|fingerprint)s?|facial\s+(?:recognition|scan|geometry|template|map)s?",
                r"|face\s+(?:scan|print|template|recognition)s?|faceprints?|palm\s?prints?|palm[- ]vein(?:\s+scans?)?",
                r"|hand\s+geometry|gait\s+(?:analysis|signature)|biometrics?(?:\s+(?:data|scan|template|record)s?)?",
                r"|huellas?\s+(?:digital(?:es)?|dactilar(?:es)?|de\s+voz)|escaneo\s+de\s+(?:retina|iris)",
                r"|reconocimiento\s+facial|perfil\s+(?:de\s+)?(?:adn|gen[eé]tico)|muestra\s+de\s+adn|datos\s+biom[eé]tricos",
                r")(?-u:\b)"
            ))?,
        })
    }

    /// A biometric word at `start`.
    pub(crate) fn on_cue(&self, text: &str, start: usize, out: &mut Vec<RawHit>) {
        let win = widen(text, start.saturating_sub(16), start + 32);
        for m in find_in(&self.term, text, win) {
            if m.end <= start {
                continue;
            }
            let (ss, se) = sentence_bounds(text, m.start);
            let sentence = text.get(ss..se).unwrap_or("");
            let words = || {
                sentence
                    .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
                    .filter(|w| !w.is_empty())
            };
            // "his fingerprints", "the patient's voiceprint", "del paciente": the person
            // owns it right there, and only a denial undoes that.
            let owner = window_before(text, m.start, 24)
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .filter(|w| !w.is_empty())
                .any(|w| in_sorted(OWNER, w))
                || window_after(text, m.end, 24)
                    .split(|c: char| !c.is_alphanumeric())
                    .take(4)
                    .any(|w| in_sorted(&["del", "paciente", "patient"], w));
            let denied = words().any(|w| in_sorted(&["never", "no", "not", "nunca"], w));
            if owner && !denied {
                out.push(RawHit::new(PhiFamily::Biometric, m.start, m.end));
                continue;
            }
            if words().any(|w| in_sorted(NOT_AN_IDENTIFIER, w)) {
                continue;
            }
            // Otherwise the person is named or pointed at elsewhere in the sentence: a
            // patient word, a title, or a capitalised name after "to" or "of".
            let tied = words().any(|w| in_sorted(PERSON, w))
                || sentence.contains(" of Mr")
                || sentence
                    .split(" to ")
                    .nth(1)
                    .is_some_and(|t| t.starts_with(char::is_uppercase));
            if tied {
                out.push(RawHit::new(PhiFamily::Biometric, m.start, m.end));
            }
        }
    }
}
