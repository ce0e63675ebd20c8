//! Medical device identifiers: the serial or lot number of one person's pacemaker, pump,
//! implant or CPAP. A recall notice lists serials and lots too, but as ranges and
//! plurals for everyone's devices; those, and numbers with no device word nearby, pass.

use regex::Regex;

use super::detectors::{identifier_after, is_identifier, RawHit};
use super::family::PhiFamily;
use super::text::{find_in, in_sorted, sentence_bounds, starts_with_ci, widen, window_after};

/// Words that make a sentence about a medical device (lower case, accents folded, sorted).
const DEVICE_WORDS: &[&str] = &[
    "audifono",
    "bipap",
    "bomba",
    "catheter",
    "cgm",
    "cochlear",
    "concentrador",
    "concentrator",
    "cpap",
    "defibrillator",
    "desfibrilador",
    "device",
    "dispositivo",
    "glucometer",
    "glucometro",
    "hearing",
    "icd",
    "implant",
    "implante",
    "implanted",
    "implants",
    "insulin",
    "insulina",
    "marcapasos",
    "monitor",
    "nebulizador",
    "nebulizer",
    "neurostimulator",
    "pacemaker",
    "port",
    "prosthesis",
    "prosthetic",
    "protesis",
    "pump",
    "shunt",
    "stent",
    "stimulator",
    "ventilador",
    "ventilator",
    "wheelchair",
];

/// Words that make a sentence a recall or a notice about many devices.
const NOTICE_WORDS: &[&str] = &[
    "affected",
    "affects",
    "afectadas",
    "afectados",
    "between",
    "check",
    "fda",
    "models",
    "range",
    "rango",
    "recall",
    "recalled",
    "recalls",
    "retirada",
    "retiro",
    "through",
    "verifique",
];

/// The serial and lot labels.
#[derive(Debug)]
pub(crate) struct DeviceDetector {
    cue: Regex,
}

impl DeviceDetector {
    pub(crate) fn new() -> Result<DeviceDetector, regex::Error> {
        Ok(DeviceDetector {
            cue: Regex::new(concat!(
                r"(?i)(?-u:\b)(?:serial(?:\s*(?:number|num|no\.?|\#))?|s/n|sn|lot(?:\s*(?:number|num|no\.?|\#))?|(?:n[uú]mero\s+de\s+)?(?:serie|lote)|udi)",
                r"(?:\s*[:#])?(?-u:\b)"
            ))?,
        })
    }

    /// A serial or lot word at `start`.
    pub(crate) fn on_cue(&self, text: &str, start: usize, out: &mut Vec<RawHit>) {
        for m in find_in(&self.cue, text, widen(text, start, start + 24)) {
            if m.start != start && !starts_with_ci(m.text, "n") {
                continue;
            }
            // "serial numbers", "lots", "números de serie": many devices.
            let plural = window_after(text, m.end, 1) == "s"
                || text.get(..m.start).is_some_and(|h| {
                    let h = h.trim_end();
                    h.ends_with("números de") || h.ends_with("numeros de") || h.ends_with("lotes")
                });
            if plural {
                continue;
            }
            let Some((s, e)) = identifier_after(text, m.end, 60) else {
                continue;
            };
            let token = text.get(s..e).unwrap_or("");
            if !is_identifier(token, false) || ranged(text, e) {
                continue;
            }
            let (ss, se) = sentence_bounds(text, start);
            let sentence = text.get(ss..se).unwrap_or("");
            let words = || {
                sentence
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
            };
            if words().any(|w| in_sorted(NOTICE_WORDS, w))
                || !words().any(|w| in_sorted(DEVICE_WORDS, w))
            {
                continue;
            }
            out.push(RawHit::new(PhiFamily::DeviceIdentifier, s, e));
        }
    }
}

/// Whether a range goes on after the identifier ending at `end` ("44A-10000 through ...").
fn ranged(text: &str, end: usize) -> bool {
    let after = window_after(text, end, 16).trim_start();
    [
        "through", "to ", "al ", "hasta", "-", "\u{2013}", "and ", "y ",
    ]
    .iter()
    .any(|p| starts_with_ci(after, p))
}
