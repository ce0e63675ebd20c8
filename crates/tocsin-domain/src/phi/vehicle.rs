//! Vehicle identifiers (Safe Harbor's vehicle identifiers and serial numbers, licence
//! plates among them): a 17-character VIN wherever it stands, since nothing else in an
//! alert has its shape, and a plate only after a word that names one ("plate", "tag
//! number", "placas", "matrícula"), since plates have no shape of their own.

use super::detectors::{identifier_after, RawHit};
use super::family::PhiFamily;
use super::text::{char_after, char_before, next_word, previous_word};

/// Words that may stand between a plate word and the plate ("plates read", "la matrícula
/// del coche de la paciente es").
const PLATE_GAP_LIMIT: usize = 48;

/// A VIN: 17 capitals and digits without I, O or Q, with letters and digits both.
fn is_vin(token: &str) -> bool {
    let letters = token.bytes().filter(u8::is_ascii_uppercase).count();
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    token.len() == 17
        && token.bytes().all(|b| {
            b.is_ascii_digit() || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'O' | b'Q'))
        })
        && letters >= 2
        && digits >= 5
}

/// A run of digits at `start..end`: a hit if it is the first digits of a VIN-shaped token.
pub(crate) fn on_digits(text: &str, start: usize, out: &mut Vec<RawHit>) {
    let bytes = text.as_bytes();
    // A VIN has letters, so a run of digits standing alone is not in one; this is the
    // common case, checked before walking the token.
    let digits = bytes
        .get(start..)
        .map_or(0, |t| t.iter().take_while(|b| b.is_ascii_digit()).count());
    let lettered = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_some_and(u8::is_ascii_uppercase)
    };
    if !lettered(start.checked_sub(1)) && !lettered(Some(start + digits)) {
        return;
    }
    let token_start = start
        - bytes.get(..start).map_or(0, |h| {
            h.iter()
                .rev()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count()
        });
    // Only the token's first run of digits looks, so a VIN is checked once.
    if bytes
        .get(token_start..start)
        .is_some_and(|h| h.iter().any(u8::is_ascii_digit))
    {
        return;
    }
    let token_end = start
        + bytes.get(start..).map_or(0, |t| {
            t.iter().take_while(|b| b.is_ascii_alphanumeric()).count()
        });
    let token = text.get(token_start..token_end).unwrap_or("");
    // Inside a URL or an e-mail address it is a path or a name, not a car.
    let inside_link = matches!(
        char_before(text, token_start),
        Some('/' | '=' | '@' | '.' | '-' | '_')
    ) || matches!(char_after(text, token_end), Some('/' | '@' | '-' | '_'));
    if is_vin(token) && !inside_link {
        out.push(RawHit::new(
            PhiFamily::VehicleIdentifier,
            token_start,
            token_end,
        ));
    }
}

/// A plate word (`word`: lower case, accents folded) at `start..end`: the plate after it.
pub(crate) fn on_cue(text: &str, start: usize, end: usize, word: &[u8], out: &mut Vec<RawHit>) {
    let next = next_word(text, end).unwrap_or("");
    match word {
        // "matrícula profesional" is a licence; "tag" is a plate only as "tag number" or
        // "license tag" (a hashtag is a tag too).
        b"matricula" if next.eq_ignore_ascii_case("profesional") => return,
        b"tag" | b"tags" => {
            let before = previous_word(text, start).unwrap_or("");
            let labelled = ["number", "no", "num"]
                .iter()
                .any(|w| w.eq_ignore_ascii_case(next))
                || text
                    .get(end..)
                    .is_some_and(|t| t.trim_start().starts_with(['#', ':']))
                || ["license", "licence"]
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(before));
            if !labelled {
                return;
            }
        }
        b"vin" => {
            if let Some((s, e)) = identifier_after(text, end, 24) {
                let token = text.get(s..e).unwrap_or("");
                if (11..=17).contains(&token.len())
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                {
                    out.push(RawHit::new(PhiFamily::VehicleIdentifier, s, e));
                }
            }
            return;
        }
        _ => {}
    }
    if let Some((s, e)) = plate_after(text, end) {
        out.push(RawHit::new(PhiFamily::VehicleIdentifier, s, e));
    }
}

/// The plate after a plate word: the first group of capitals and digits holding a digit
/// within [`PLATE_GAP_LIMIT`] bytes, with the groups around it ("ABC 1234", "4521 KLM",
/// "M 44 712"): 4 to 8 characters in all, and a letter or at least five digits.
fn plate_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let is_group = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let limit = (from + PLATE_GAP_LIMIT).min(bytes.len());
    let mut i = from;
    // Find the first group with a digit, not crossing a sentence end.
    let digit_group = loop {
        if i >= limit {
            return None;
        }
        let b = *bytes.get(i)?;
        if matches!(b, b'.' | b'!' | b'?' | b';' | b'\n')
            && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            return None;
        }
        let word_start = i == 0 || !bytes.get(i - 1).is_some_and(u8::is_ascii_alphanumeric);
        if word_start && is_group(b) {
            let len = bytes.get(i..)?.iter().take_while(|b| is_group(**b)).count();
            let group = bytes.get(i..i + len)?;
            let glued = bytes.get(i + len).is_some_and(u8::is_ascii_alphanumeric);
            if !glued && group.iter().any(u8::is_ascii_digit) {
                break i;
            }
            i += len.max(1);
            continue;
        }
        i += 1;
    };
    // Widen over neighbouring groups joined by one space or hyphen.
    let group_len = |at: usize| {
        bytes
            .get(at..)
            .map_or(0, |t| t.iter().take_while(|b| is_group(**b)).count())
    };
    let mut start = digit_group;
    let mut end = digit_group + group_len(digit_group);
    while end + 1 < bytes.len()
        && matches!(bytes.get(end), Some(b' ' | b'-'))
        && group_len(end + 1) > 0
        && !bytes
            .get(end + 1 + group_len(end + 1))
            .is_some_and(u8::is_ascii_alphabetic)
        && count(text, start, end + 1 + group_len(end + 1)) <= 8
    {
        end += 1 + group_len(end + 1);
    }
    while start >= 2 && matches!(bytes.get(start - 1), Some(b' ' | b'-')) {
        let prev_end = start - 1;
        let prev_len = bytes
            .get(..prev_end)
            .map_or(0, |h| h.iter().rev().take_while(|b| is_group(**b)).count());
        let prev_start = prev_end - prev_len;
        let word_start = prev_start == 0
            || !bytes
                .get(prev_start - 1)
                .is_some_and(u8::is_ascii_alphanumeric);
        if prev_len == 0 || !word_start || prev_len > 3 || count(text, prev_start, end) > 8 {
            break;
        }
        start = prev_start;
    }
    let plate = text.get(start..end)?;
    let alnum = count(text, start, end);
    let letters = plate.bytes().filter(u8::is_ascii_uppercase).count();
    let digits = plate.bytes().filter(u8::is_ascii_digit).count();
    ((4..=8).contains(&alnum) && (letters > 0 || digits >= 5)).then_some((start, end))
}

fn count(text: &str, start: usize, end: usize) -> usize {
    text.get(start..end)
        .map_or(0, |t| t.bytes().filter(u8::is_ascii_alphanumeric).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn a_vin_is_found_wherever_it_stands_between_words(
            vin in "[A-HJ-NPR-Z]{3}[0-9]{5}[A-HJ-NPR-Z0-9]{9}",
            before in "[a-z ]{0,20}",
            after in "[a-z ]{0,20}",
        ) {
            let text = format!("{before} {vin} {after}");
            let start = before.len() + 1;
            let first_digit = start + vin.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
            let mut out = Vec::new();
            on_digits(&text, first_digit, &mut out);
            proptest::prop_assert_eq!(out.len(), 1);
            proptest::prop_assert_eq!((out[0].start, out[0].end), (start, start + 17));
        }
    }

    #[test]
    fn a_vin_has_seventeen_capitals_and_digits_without_i_o_or_q() {
        assert!(is_vin("1HGCM82633A004352"));
        assert!(!is_vin("1HGCM82633A00435"));
        assert!(!is_vin("1HGCM82633A0O4352"));
        assert!(!is_vin("12345678901234567"));
    }

    #[test]
    fn a_plate_is_read_across_its_groups_after_the_plate_word() {
        let text = "plate ABC 1234 was seen";
        assert_eq!(plate_after(text, 5), Some((6, 14)));
        let text = "placas ABC-123-D.";
        assert_eq!(plate_after(text, 6), Some((7, 16)));
        assert_eq!(plate_after("plate readers on 2024 cars", 5), None);
    }
}
