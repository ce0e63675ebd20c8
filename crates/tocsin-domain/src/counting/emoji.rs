//! Emoji sequences, as X (twitter-text `emojiParsingEnabled`) and Threads count them.
//!
//! A sequence of two or more code points (a pictograph with its variation selector, skin
//! tone, tag characters or zero-width-joined pictographs; a flag; a keycap) is one unit.
//! A lone code point is left to the caller, which weighs it by its own platform's rule.

const ZWJ: char = '\u{200D}';
const VS15: char = '\u{FE0E}';
const VS16: char = '\u{FE0F}';
const KEYCAP: char = '\u{20E3}';

/// Whether `c` can stand as an emoji by itself: a deliberately broad superset of Unicode's
/// `Extended_Pictographic` (whole symbol and emoji blocks), which only ever makes counts
/// more cautious.
pub(crate) fn is_pictographic(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00A9
            | 0x00AE
            | 0x203C
            | 0x2049
            | 0x2122
            | 0x2139
            | 0x2194..=0x2199
            | 0x21A9..=0x21AA
            | 0x231A..=0x231B
            | 0x2328
            | 0x2388
            | 0x23CF
            | 0x23E9..=0x23F3
            | 0x23F8..=0x23FA
            | 0x24C2
            | 0x25AA..=0x25AB
            | 0x25B6
            | 0x25C0
            | 0x25FB..=0x25FE
            | 0x2600..=0x27BF
            | 0x2934..=0x2935
            | 0x2B05..=0x2B07
            | 0x2B1B..=0x2B1C
            | 0x2B50
            | 0x2B55
            | 0x3030
            | 0x303D
            | 0x3297
            | 0x3299
            | 0x1F000..=0x1FAFF
            | 0x1FC00..=0x1FFFD
    )
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

fn is_skin_tone(c: char) -> bool {
    matches!(u32::from(c), 0x1F3FB..=0x1F3FF)
}

fn is_tag(c: char) -> bool {
    matches!(u32::from(c), 0xE0020..=0xE007F)
}

/// The length in bytes of the emoji sequence of two or more code points at the start of
/// `s`, or `None` when `s` does not start with one.
///
/// A pictograph followed by VS15 (text presentation) is not an emoji sequence, as in
/// twitter-text's grammar; neither is a digit with VS16 but no keycap mark.
pub(crate) fn sequence_len(s: &str) -> Option<usize> {
    let mut rest = s.chars();
    let first = rest.next()?;
    let mut len = first.len_utf8();

    if is_regional_indicator(first) {
        return match rest.next() {
            Some(second) if is_regional_indicator(second) => Some(len + second.len_utf8()),
            _ => None,
        };
    }
    if matches!(first, '#' | '*' | '0'..='9') {
        let mut next = rest.next()?;
        if next == VS16 {
            len += VS16.len_utf8();
            next = rest.next()?;
        }
        return (next == KEYCAP).then_some(len + KEYCAP.len_utf8());
    }
    if !is_pictographic(first) || is_skin_tone(first) {
        return None;
    }

    let mut code_points = 1usize;
    loop {
        let mut ahead = rest.clone();
        match ahead.next() {
            Some(c) if c == VS16 || c == KEYCAP || is_skin_tone(c) || is_tag(c) => {
                len += c.len_utf8();
                code_points += 1;
                rest = ahead;
            }
            Some(ZWJ) => match ahead.next() {
                Some(c)
                    if is_pictographic(c)
                        && !is_regional_indicator(c)
                        && ahead.clone().next() != Some(VS15) =>
                {
                    len += ZWJ.len_utf8() + c.len_utf8();
                    code_points += 2;
                    rest = ahead;
                }
                _ => break,
            },
            _ => break,
        }
    }
    (code_points >= 2).then_some(len)
}

/// A piece of text as emoji-aware counting sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// This many bytes of ASCII holding no emoji sequence.
    Ascii(usize),
    /// An emoji sequence of this many bytes (see [`sequence_len`]).
    Sequence(usize),
    /// A single non-ASCII code point that is not part of a sequence (or an ASCII keycap
    /// base that turned out not to start one).
    Char(char),
}

/// Calls `f` with the pieces of `s` in order: runs of ASCII are passed whole, so text that
/// is mostly ASCII costs little more than finding its non-ASCII bytes.
pub(crate) fn for_each_piece(s: &str, mut f: impl FnMut(Piece)) {
    let bytes = s.as_bytes();
    let mut pos = 0;
    while let Some(rest_bytes) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        let run = rest_bytes
            .iter()
            .position(|&b| b >= 0x80)
            .unwrap_or(rest_bytes.len());
        // Hold back a keycap base (`#`, `*`, digit) right before non-ASCII: it may start
        // a keycap sequence.
        let held = run < rest_bytes.len()
            && run > 0
            && rest_bytes
                .get(run - 1)
                .is_some_and(|b| matches!(b, b'#' | b'*' | b'0'..=b'9'));
        let plain = run - usize::from(held);
        if plain > 0 {
            f(Piece::Ascii(plain));
            pos += plain;
            continue;
        }
        let Some(rest) = s.get(pos..) else {
            break;
        };
        if let Some(len) = sequence_len(rest) {
            f(Piece::Sequence(len));
            pos += len;
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        f(Piece::Char(c));
        pos += c.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_joined_with_zero_width_joiners_is_one_sequence() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        assert_eq!(sequence_len(family), Some(family.len()));
        assert_eq!(
            sequence_len(&format!("{family} and more")),
            Some(family.len())
        );
    }

    #[test]
    fn a_flag_is_two_regional_indicators_and_a_lone_one_is_not_a_sequence() {
        assert_eq!(sequence_len("\u{1F1FA}\u{1F1F8}"), Some(8));
        assert_eq!(sequence_len("\u{1F1FA}x"), None);
    }

    #[test]
    fn a_keycap_needs_the_combining_keycap_mark() {
        assert_eq!(sequence_len("1\u{FE0F}\u{20E3}"), Some(7));
        assert_eq!(sequence_len("#\u{20E3}"), Some(4));
        assert_eq!(sequence_len("1\u{FE0F}"), None);
        assert_eq!(sequence_len("12"), None);
    }

    #[test]
    fn skin_tones_and_emoji_presentation_bind_to_their_base() {
        assert_eq!(sequence_len("\u{1F44D}\u{1F3FD}"), Some(8));
        assert_eq!(sequence_len("\u{2764}\u{FE0F}"), Some(6));
        assert_eq!(sequence_len("\u{00A9}\u{FE0F}"), Some(5));
    }

    #[test]
    fn a_lone_pictograph_or_text_presentation_is_not_a_sequence() {
        assert_eq!(sequence_len("\u{1F637}"), None);
        assert_eq!(sequence_len("\u{2764}\u{FE0E}"), None);
        assert_eq!(sequence_len("a\u{0301}"), None);
        assert_eq!(sequence_len(""), None);
    }

    #[test]
    fn text_splits_into_ascii_runs_sequences_and_single_characters() {
        let mut pieces = Vec::new();
        for_each_piece("ab 1\u{FE0F}\u{20E3} é\u{1F1FA}\u{1F1F8}7é", |p| {
            pieces.push(p)
        });
        assert_eq!(
            pieces,
            [
                Piece::Ascii(3),
                Piece::Sequence(7),
                Piece::Ascii(1),
                Piece::Char('é'),
                Piece::Sequence(8),
                Piece::Char('7'),
                Piece::Char('é'),
            ]
        );
    }

    #[test]
    fn a_tag_sequence_flag_is_one_sequence() {
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(sequence_len(england), Some(england.len()));
    }
}
