//! Licence and certificate numbers: a driver's licence, a professional licence, a birth
//! or death certificate, a passport, found after the label that names them. The licence
//! of a business (a restaurant's food licence) is public and passes.

use regex::Regex;

use super::detectors::{identifier_after, is_identifier, RawHit};
use super::family::PhiFamily;
use super::text::{find_in, in_sorted, previous_word, widen};

/// Words before "license" that make it a business's licence, which is public.
const BUSINESS: &[&str] = &[
    "building",
    "business",
    "clinic",
    "daycare",
    "establishment",
    "facility",
    "food",
    "hospital",
    "kitchen",
    "liquor",
    "operating",
    "restaurant",
    "retail",
    "software",
    "vendor",
];

/// The licence and certificate labels.
#[derive(Debug)]
pub(crate) struct LicenseDetector {
    label: Regex,
}

impl LicenseDetector {
    pub(crate) fn new() -> Result<LicenseDetector, regex::Error> {
        Ok(LicenseDetector {
            label: Regex::new(concat!(
                r"(?i)(?-u:\b)(?:",
                r"driver'?s?'?\s+licen[cs]e|(?-i:DL)|cdl|licen[cs]e|lic\.?",
                r"|(?:birth|death|marriage)\s+certificate|certificate|cert\.?",
                r"|passport|state\s+id",
                r"|licencia(?:\s+de\s+(?:conducir|manejo|manejar))?|permiso\s+de\s+conducir|carnet\s+de\s+conducir",
                r"|c[eé]dula(?:\s+profesional)?|matr[ií]cula\s+profesional",
                r"|(?:acta|certificado)\s+de\s+(?:nacimiento|defunci[oó]n|matrimonio)|pasaporte",
                r")(?:\s*(?:number|num|no\.?|\#|n[uú]mero|n\.?º))?(?:\s*[:#])?(?-u:\b)",
            ))?,
        })
    }

    /// A licence or certificate word at `start`.
    pub(crate) fn on_cue(&self, text: &str, start: usize, out: &mut Vec<RawHit>) {
        let back = start.saturating_sub(12);
        for m in find_in(&self.label, text, widen(text, back, start + 32)) {
            if m.end <= start || m.start > start {
                continue;
            }
            let label = m.text.to_ascii_lowercase();
            // "license plate" is a vehicle's; "certificates", "licenses": many people.
            if label.ends_with("licence") || label.ends_with("license") {
                let next = text.get(m.end..).unwrap_or("").trim_start();
                if next.to_ascii_lowercase().starts_with("plate") {
                    continue;
                }
            }
            // "Certificate of Need 24-017", "certificate of completion": not a person's.
            let of = text.get(m.end..).unwrap_or("").trim_start();
            if of.starts_with("of ") && !label.contains("birth") && !label.contains("death") {
                continue;
            }
            if previous_word(text, m.start).is_some_and(|w| in_sorted(BUSINESS, w)) {
                continue;
            }
            let Some((s, e)) = spaced_identifier_after(text, m.end) else {
                continue;
            };
            let token = text.get(s..e).unwrap_or("");
            if is_identifier(&token.replace(' ', ""), false) {
                out.push(RawHit::new(PhiFamily::LicenseNumber, s, e));
            }
        }
    }
}

/// The identifier after a label, taking in groups of digits that follow it one space
/// apart ("IL 445 120 773" -> "445 120 773").
fn spaced_identifier_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let (s, mut e) = identifier_after(text, from, 40)?;
    let bytes = text.as_bytes();
    loop {
        let group = bytes
            .get(e + 1..)
            .map_or(0, |t| t.iter().take_while(|b| b.is_ascii_digit()).count());
        let ends = !bytes
            .get(e + 1 + group)
            .is_some_and(u8::is_ascii_alphanumeric);
        if bytes.get(e) == Some(&b' ') && group >= 2 && ends {
            e += 1 + group;
        } else {
            break;
        }
    }
    Some((s, e))
}
