//! SMS encoding and segment counting (GSM 03.38 / 3GPP TS 23.038).
//!
//! Text entirely in the GSM-7 default alphabet costs a septet per character (two for the
//! extension table); anything else makes the whole message UCS-2, costed in UTF-16 units.
//! One segment holds 160 septets or 70 units; a split message 153 or 67 per segment.

use serde::Serialize;

/// Septets in a single-segment GSM-7 message.
const GSM7_SINGLE: usize = 160;
/// Septets per segment of a concatenated GSM-7 message (the UDH takes the rest).
const GSM7_MULTI: usize = 153;
/// UTF-16 units in a single-segment UCS-2 message.
const UCS2_SINGLE: usize = 70;
/// UTF-16 units per segment of a concatenated UCS-2 message.
const UCS2_MULTI: usize = 67;

/// How an SMS is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit default alphabet (with its extension table).
    Gsm7,
    /// UCS-2 (UTF-16 in practice): used as soon as one character is outside GSM-7.
    Ucs2,
}

impl SmsEncoding {
    /// A human name: "GSM-7" or "UCS-2".
    pub fn label(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "GSM-7",
            SmsEncoding::Ucs2 => "UCS-2",
        }
    }

    /// What [`SmsInfo::units`] counts in this encoding.
    pub fn unit_label(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "septets",
            SmsEncoding::Ucs2 => "UTF-16 units",
        }
    }
}

/// How an SMS text is encoded and how many segments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsInfo {
    /// The encoding the whole message is sent in.
    pub encoding: SmsEncoding,
    /// Septets (GSM-7, escape characters count 2) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Segments (billed messages) the text is split into; 0 for empty text.
    pub segments: u32,
    /// Units per segment for this message (160/153 or 70/67).
    pub per_segment: usize,
}

/// Encodes `text` for SMS: GSM-7 if every character is in the GSM-7 alphabet, else UCS-2;
/// segments are filled greedily without splitting a GSM-7 escape pair or a UTF-16
/// surrogate pair across two segments.
pub fn sms_info(text: &str) -> SmsInfo {
    if text.is_ascii() {
        return sms_info_ascii(text.as_bytes());
    }
    let mut septets = 0usize;
    let mut chars = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        chars += 1;
        match gsm7_cost(c) {
            Some(n) => septets += n,
            None => {
                gsm = false;
                break;
            }
        }
    }
    if gsm {
        let costs = text.chars().map(|c| gsm7_cost(c).unwrap_or(1));
        let (segments, per_segment) = segment_count(costs, septets, chars, GSM7_SINGLE, GSM7_MULTI);
        SmsInfo {
            encoding: SmsEncoding::Gsm7,
            units: septets,
            segments,
            per_segment,
        }
    } else {
        let (units, chars) = text
            .chars()
            .fold((0, 0), |(u, n), c| (u + c.len_utf16(), n + 1));
        let costs = text.chars().map(char::len_utf16);
        let (segments, per_segment) = segment_count(costs, units, chars, UCS2_SINGLE, UCS2_MULTI);
        SmsInfo {
            encoding: SmsEncoding::Ucs2,
            units,
            segments,
            per_segment,
        }
    }
}

/// [`sms_info`] for ASCII text, byte by byte through the table.
fn sms_info_ascii(bytes: &[u8]) -> SmsInfo {
    let cost = |b: u8| usize::from(BYTE_SEPTETS.get(usize::from(b)).copied().unwrap_or(0));
    let mut septets = 0usize;
    for &b in bytes {
        match cost(b) {
            0 => {
                // A tab or a backtick: the whole message is UCS-2, one unit per byte.
                let n = bytes.len();
                let (segments, per_segment) =
                    segment_count(bytes.iter().map(|_| 1), n, n, UCS2_SINGLE, UCS2_MULTI);
                return SmsInfo {
                    encoding: SmsEncoding::Ucs2,
                    units: bytes.len(),
                    segments,
                    per_segment,
                };
            }
            n => septets += n,
        }
    }
    let (segments, per_segment) = segment_count(
        bytes.iter().map(|&b| cost(b)),
        septets,
        bytes.len(),
        GSM7_SINGLE,
        GSM7_MULTI,
    );
    SmsInfo {
        encoding: SmsEncoding::Gsm7,
        units: septets,
        segments,
        per_segment,
    }
}

/// Segments for characters costing `costs` (total `total`), and the units per segment.
///
/// When every character costs one unit (`chars == total`), no pair can straddle a segment
/// boundary and the count is plain division.
fn segment_count(
    costs: impl Iterator<Item = usize>,
    total: usize,
    chars: usize,
    single: usize,
    multi: usize,
) -> (u32, usize) {
    if total == 0 {
        return (0, single);
    }
    if total <= single {
        return (1, single);
    }
    if chars == total {
        return (
            u32::try_from(total.div_ceil(multi)).unwrap_or(u32::MAX),
            multi,
        );
    }
    let mut segments = 1u32;
    let mut used = 0usize;
    for cost in costs {
        if used + cost > multi {
            segments = segments.saturating_add(1);
            used = 0;
        }
        used += cost;
    }
    (segments, multi)
}

/// [`gsm7_septets`] of every ASCII byte (0 = not in GSM-7; bytes above 127 are 0), so a
/// lookup by any `u8` is in bounds.
const BYTE_SEPTETS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0usize;
    while i < 128 {
        if let Some(n) = gsm7_septets(i as u8 as char) {
            // `i` < 128 < the table's length; `n` is 1 or 2.
            #[allow(clippy::indexing_slicing)]
            {
                table[i] = n as u8;
            }
        }
        i += 1;
    }
    table
};

/// [`gsm7_septets`], through the ASCII table when it can.
fn gsm7_cost(c: char) -> Option<usize> {
    if c.is_ascii() {
        BYTE_SEPTETS
            .get(c as usize)
            .copied()
            .filter(|&n| n > 0)
            .map(usize::from)
    } else {
        gsm7_septets(c)
    }
}

/// Septets `c` costs in GSM-7: 1 in the default alphabet, 2 in the extension table
/// (escape + character), `None` if it cannot be sent in GSM-7.
pub(crate) const fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        '@'
        | '£'
        | '$'
        | '¥'
        | 'è'
        | 'é'
        | 'ù'
        | 'ì'
        | 'ò'
        | 'Ç'
        | '\n'
        | 'Ø'
        | 'ø'
        | '\r'
        | 'Å'
        | 'å'
        | 'Δ'
        | '_'
        | 'Φ'
        | 'Γ'
        | 'Λ'
        | 'Ω'
        | 'Π'
        | 'Ψ'
        | 'Σ'
        | 'Θ'
        | 'Ξ'
        | 'Æ'
        | 'æ'
        | 'ß'
        | 'É'
        | ' '
        | '!'
        | '"'
        | '#'
        | '¤'
        | '%'
        | '&'
        | '\''
        | '('
        | ')'
        | '*'
        | '+'
        | ','
        | '-'
        | '.'
        | '/'
        | '0'..='9'
        | ':'
        | ';'
        | '<'
        | '='
        | '>'
        | '?'
        | '¡'
        | 'A'..='Z'
        | 'Ä'
        | 'Ö'
        | 'Ñ'
        | 'Ü'
        | '§'
        | '¿'
        | 'a'..='z'
        | 'ä'
        | 'ö'
        | 'ñ'
        | 'ü'
        | 'à' => Some(1),
        '\u{000C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Greedy segmentation with no shortcuts, straight from the rules.
    fn reference(text: &str) -> (SmsEncoding, usize, u32) {
        let gsm = text.chars().all(|c| gsm7_septets(c).is_some());
        let costs: Vec<usize> = if gsm {
            text.chars().filter_map(gsm7_septets).collect()
        } else {
            text.chars().map(char::len_utf16).collect()
        };
        let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
        let total: usize = costs.iter().sum();
        let segments = match total {
            0 => 0,
            t if t <= single => 1,
            _ => {
                let (mut segments, mut used) = (1, 0);
                for cost in costs {
                    if used + cost > multi {
                        segments += 1;
                        used = 0;
                    }
                    used += cost;
                }
                segments
            }
        };
        let encoding = if gsm {
            SmsEncoding::Gsm7
        } else {
            SmsEncoding::Ucs2
        };
        (encoding, total, segments)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn sms_info_matches_greedy_segmentation_from_the_rules(
            text in "[a-z €{}\\[\\]ж\t`\u{1F6B0}]{0,400}"
        ) {
            let info = sms_info(&text);
            prop_assert_eq!((info.encoding, info.units, info.segments), reference(&text));
        }
    }

    #[test]
    fn gsm7_text_of_160_characters_is_one_segment_and_161_is_two() {
        let info = sms_info(&"a".repeat(160));
        assert_eq!(
            (info.encoding, info.units, info.segments),
            (SmsEncoding::Gsm7, 160, 1)
        );
        assert_eq!(info.per_segment, 160);
        let info = sms_info(&"a".repeat(161));
        assert_eq!((info.units, info.segments, info.per_segment), (161, 2, 153));
    }

    #[test]
    fn gsm7_segments_hold_153_septets_once_split() {
        assert_eq!(sms_info(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_info(&"a".repeat(307)).segments, 3);
        assert_eq!(sms_info(&"a".repeat(459)).segments, 3);
        assert_eq!(sms_info(&"a".repeat(460)).segments, 4);
    }

    #[test]
    fn ucs2_text_of_70_units_is_one_segment_and_71_is_two() {
        let info = sms_info(&"ж".repeat(70));
        assert_eq!(
            (info.encoding, info.units, info.segments),
            (SmsEncoding::Ucs2, 70, 1)
        );
        let info = sms_info(&"ж".repeat(71));
        assert_eq!((info.units, info.segments, info.per_segment), (71, 2, 67));
        assert_eq!(sms_info(&"ж".repeat(134)).segments, 2);
        assert_eq!(sms_info(&"ж".repeat(135)).segments, 3);
    }

    #[test]
    fn extension_table_characters_cost_two_septets() {
        let info = sms_info("[a]{b}^\\~|\u{000C}");
        assert_eq!(info.encoding, SmsEncoding::Gsm7);
        assert_eq!(info.units, 2 * 9 + 2);
        assert_eq!(sms_info(&"{".repeat(80)).segments, 1);
        assert_eq!(sms_info(&"{".repeat(81)).segments, 2);
    }

    #[test]
    fn the_euro_sign_is_gsm7_but_costs_two_septets() {
        let info = sms_info("Fee: 5€");
        assert_eq!((info.encoding, info.units), (SmsEncoding::Gsm7, 8));
    }

    #[test]
    fn an_escape_pair_is_never_split_across_segments() {
        // 152 septets then an escape pair: the pair goes whole into the second segment.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        let info = sms_info(&text);
        assert_eq!(info.units, 306);
        assert_eq!(info.segments, 3, "152 | 2 + 151 | 1");
        let text = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(sms_info(&text).segments, 2, "153 | 153");
    }

    #[test]
    fn one_emoji_forces_the_whole_message_into_ucs2() {
        let text = format!("{} \u{1F6B0}", "a".repeat(60));
        let info = sms_info(&text);
        assert_eq!(info.encoding, SmsEncoding::Ucs2);
        assert_eq!(info.units, 63, "the emoji is a surrogate pair");
        assert_eq!(info.segments, 1);
        assert_eq!(sms_info(&"\u{1F6B0}".repeat(36)).segments, 2);
    }

    #[test]
    fn a_surrogate_pair_is_never_split_across_segments() {
        // 66 units then an emoji (2 units): the emoji starts the second segment.
        let text = format!("{}\u{1F6B0}{}", "ж".repeat(66), "ж".repeat(66));
        let info = sms_info(&text);
        assert_eq!(info.units, 134);
        assert_eq!(info.segments, 3, "66 | 2 + 65 | 1");
    }

    #[test]
    fn curly_quotes_tabs_and_backticks_are_not_gsm7() {
        for text in ["it’s", "a\tb", "`x`", "naïve"] {
            assert_eq!(sms_info(text).encoding, SmsEncoding::Ucs2, "{text:?}");
        }
        assert_eq!(
            sms_info("Ça coûte").encoding,
            SmsEncoding::Ucs2,
            "û is not GSM-7"
        );
        assert_eq!(
            sms_info("Ñandú Δ €").encoding,
            SmsEncoding::Ucs2,
            "ú is not GSM-7"
        );
        assert_eq!(sms_info("Ñ Δ € ß @ £").encoding, SmsEncoding::Gsm7);
    }

    #[test]
    fn the_ascii_table_agrees_with_the_full_alphabet() {
        for b in 0u8..128 {
            assert_eq!(gsm7_cost(b as char), gsm7_septets(b as char), "{b}");
        }
    }

    #[test]
    fn empty_text_is_zero_segments() {
        let info = sms_info("");
        assert_eq!(
            (info.encoding, info.units, info.segments),
            (SmsEncoding::Gsm7, 0, 0)
        );
    }
}
