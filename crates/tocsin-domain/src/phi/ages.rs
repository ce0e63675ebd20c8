//! Ages over 89 said without "years old": an ordinal birthday ("his 97th birthday"), a
//! verb of turning ("she turned 95"), and Spanish "años" ("una mujer de 92 años",
//! "cumplió 95 años"). Group ages ("mayores de 90 años", "people over 90") and an
//! institution's years ("100 años de servicio") pass.

use regex::Regex;

use super::detectors::RawHit;
use super::family::PhiFamily;
use super::text::{
    find_in, first_number, in_sorted, next_word, previous_word, starts_with_ci, window_after,
    Window,
};

/// Words after a number that make it something other than an age ("turned 95 degrees").
const NOT_AGE_AFTER: &[&str] = &[
    "cases", "degrees", "doses", "grados", "minutes", "mph", "patients", "people", "percent",
    "personas", "por", "years",
];

/// Words before "N años" that make it a group or a span of time, not one person's age.
const GROUP_BEFORE: &[&str] = &[
    "durante", "entre", "hace", "mas", "mayores", "menores", "por",
];

/// Words before "de N años" that make it a group ("personas de 90 años").
const GROUP_NOUNS: &[&str] = &[
    "adultos",
    "hombres",
    "mayores",
    "menores",
    "mujeres",
    "ninos",
    "pacientes",
    "personas",
    "residentes",
];

/// The compiled forms.
#[derive(Debug)]
pub(crate) struct AgeForms {
    ordinal: Regex,
    turned: Regex,
    anos: Regex,
}

impl AgeForms {
    pub(crate) fn new() -> Result<AgeForms, regex::Error> {
        Ok(AgeForms {
            ordinal: Regex::new(concat!(
                r"(?i)(?-u:\b)[0-9]{2,3}(?:st|nd|rd|th)\s+(?:birthday|bday|b-day)(?-u:\b)",
                r"|(?i)(?-u:\b)(?:su|sus)\s+[0-9]{2,3}\s+(?:cumplea[nñ]os|a[nñ]os)"
            ))?,
            turned: Regex::new(
                r"(?i)(?-u:\b)(?:turned|turns|turning|(?:she|he|who|patient|paciente)\s+(?:is|was|es)|(?:she|he)'s|celebrat(?:ed|es|ing))\s+[0-9]{2,3}(?-u:\b)",
            )?,
            anos: Regex::new(r"(?i)(?-u:\b)[0-9]{2,3}\s+a[nñ]os")?,
        })
    }

    /// The forms in `win`, which holds a number from 90 to 125.
    pub(crate) fn scan(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.ordinal, text, win) {
            if first_number(m.text).is_some_and(is_identifiable) {
                out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
            }
        }
        for m in find_in(&self.turned, text, win) {
            let after = next_word(text, m.end).unwrap_or("");
            let percent = window_after(text, m.end, 2)
                .trim_start()
                .starts_with(['%', '°', '+']);
            let age = m.text.rsplit(' ').next().and_then(first_number);
            if age.is_some_and(is_identifiable)
                && !percent
                && !in_sorted(NOT_AGE_AFTER, after)
                && !institution_subject(text, m.start)
            {
                out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
            }
        }
        for m in find_in(&self.anos, text, win) {
            if !first_number(m.text).is_some_and(is_identifiable)
                || spanish_group(text, m.start, m.end)
                || institution_subject(text, m.start)
            {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
        }
    }
}

/// Institutions that have birthdays too ("the hospital turned 100", "el hospital cumplió
/// 100 años").
const INSTITUTIONS: &[&str] = &[
    "center",
    "centro",
    "church",
    "city",
    "clinic",
    "clinica",
    "company",
    "department",
    "departamento",
    "hospital",
    "iglesia",
    "library",
    "organization",
    "program",
    "programa",
    "school",
    "society",
    "town",
    "university",
];

/// Whether an institution is the subject just before byte `start`.
fn institution_subject(text: &str, start: usize) -> bool {
    let before = super::text::window_before(text, start, 32);
    let cut = before.rfind(['.', '!', '?', ';']).map_or(0, |i| i + 1);
    before
        .get(cut..)
        .unwrap_or("")
        .split(|c: char| !c.is_alphabetic())
        .any(|w| in_sorted(INSTITUTIONS, w))
}

fn is_identifiable(age: u32) -> bool {
    (90..=125).contains(&age)
}

/// "mayores de 90 años", "personas de 95 años o más", "100 años de servicio", "hace 95
/// años": a group, a span or an institution's age.
pub(crate) fn spanish_group(text: &str, start: usize, end: usize) -> bool {
    let after = window_after(text, end, 24).trim_start();
    let tail = [
        "o más",
        "o mas",
        "y más",
        "y mas",
        "en adelante",
        "o mayores",
        "de servicio",
        "de historia",
        "de trayectoria",
        "de existencia",
        "de fundación",
        "de fundacion",
        "de antigüedad",
        "de experiencia",
        "de vida institucional",
        "+",
    ];
    if tail.iter().any(|t| starts_with_ci(after, t)) {
        return true;
    }
    let before = previous_word(text, start).unwrap_or("");
    let before_start = text
        .get(..start)
        .and_then(|h| h.trim_end().strip_suffix(before))
        .map_or(0, str::len);
    if before.eq_ignore_ascii_case("de") {
        // "una mujer de 92 años" is one person; "personas de 92 años", "mayores de 90
        // años", "más de 90 años" a group.
        let noun = previous_word(text, before_start).unwrap_or("");
        return in_sorted(GROUP_NOUNS, noun) || in_sorted(&["mas"], noun);
    }
    if before.eq_ignore_ascii_case("los") || before.eq_ignore_ascii_case("las") {
        // "a partir de los 90 años", "entre los 90 y los 95 años"; not "celebramos los 101 años".
        let prev = previous_word(text, before_start).unwrap_or("");
        return in_sorted(&["a", "de", "entre", "hasta", "partir"], prev);
    }
    in_sorted(GROUP_BEFORE, before)
}
