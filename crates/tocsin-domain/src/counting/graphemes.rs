//! Counting extended grapheme clusters (what a reader sees as one character), fast.
//!
//! Characters that never join a neighbour (most alert text) count one each; only the text
//! from the first one that can join (a combining mark, a joiner, a variation selector, a
//! flag half, Hangul jamo, ...) is handed to `unicode-segmentation`.

use unicode_segmentation::UnicodeSegmentation;

/// Extended grapheme clusters in `s` (a CR LF pair is one), as `unicode-segmentation`
/// counts them.
pub(crate) fn grapheme_count(s: &str) -> usize {
    if s.is_ascii() {
        return s.len() - crlf_pairs(s);
    }
    let bytes = s.as_bytes();
    let mut chars = 0usize; // characters before byte `i`
    let mut prev: Option<usize> = None; // where the character before byte `i` starts
    let mut i = 0usize;
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        let run = rest.iter().position(|&b| b >= 0x80).unwrap_or(rest.len());
        if run > 0 {
            chars += run;
            i += run;
            prev = Some(i - 1);
            continue;
        }
        let Some(c) = s.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        if !is_standalone(c) {
            // Segment from the character before this one, which this one may join; keep a
            // CR LF pair on one side.
            let (mut split, mut head_chars) = prev.map_or((0, 0), |p| (p, chars - 1));
            if split > 0 && bytes.get(split) == Some(&b'\n') && bytes.get(split - 1) == Some(&b'\r')
            {
                split -= 1;
                head_chars -= 1;
            }
            let (head, tail) = (s.get(..split).unwrap_or(""), s.get(split..).unwrap_or(""));
            return head_chars - crlf_pairs(head) + tail.graphemes(true).count();
        }
        chars += 1;
        prev = Some(i);
        i += c.len_utf8();
    }
    chars - crlf_pairs(s)
}

fn crlf_pairs(s: &str) -> usize {
    if s.contains('\r') {
        s.matches("\r\n").count()
    } else {
        0
    }
}

/// Whether `c` always forms a cluster of its own with what precedes and follows it (CR LF
/// aside): it is not Extend, ZWJ, SpacingMark, Prepend, a regional indicator or Hangul
/// jamo, and no Indic conjunct can form around it. Conservative: blocks holding any such
/// character count as joining, which only costs speed.
fn is_standalone(c: char) -> bool {
    let u = u32::from(c);
    if u < 0x0300 {
        return true;
    }
    matches!(
        u,
        0x0000..=0x02FF
            | 0x0370..=0x0482
            | 0x048A..=0x052F
            | 0x1E00..=0x1FFF
            | 0x2000..=0x200B
            | 0x200E..=0x20CF
            | 0x2100..=0x2BFF
            | 0x2E00..=0x2E7F
            | 0x3000..=0x3029
            | 0x3030..=0x3098
            | 0x309B..=0x30FF
            | 0x3100..=0x312F
            | 0x3190..=0x9FFF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF01..=0xFF9D
            | 0x1F000..=0x1F1E5
            | 0x1F200..=0x1F3FA
            | 0x1F400..=0x1FAFF
            | 0x20000..=0x3FFFD
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ascii_character_is_a_grapheme_except_crlf() {
        assert_eq!(grapheme_count("a\r\nb"), 3);
        assert_eq!(grapheme_count("\r\r\n\n"), 3);
        assert_eq!(grapheme_count(""), 0);
    }

    #[test]
    fn standalone_text_is_counted_per_character() {
        let text = "Más información — gracias 🚰 中文 한국";
        assert_eq!(grapheme_count(text), 33);
        assert_eq!(grapheme_count(text), text.graphemes(true).count());
        assert_eq!(grapheme_count("é\r\n"), 2);
    }

    #[test]
    fn joining_sequences_are_one_grapheme_each() {
        assert_eq!(grapheme_count("e\u{301}"), 1);
        assert_eq!(grapheme_count("ab\u{1F1FA}\u{1F1F8}c"), 4);
        assert_eq!(
            grapheme_count("x \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}"),
            3
        );
        assert_eq!(grapheme_count("\u{2764}\u{FE0F}\u{2764}\u{FE0F}"), 2);
        assert_eq!(grapheme_count("\r\n\u{301}"), 2);
        assert_eq!(grapheme_count("a\r\n\u{301}"), 3);
    }

    #[test]
    fn the_fast_path_agrees_with_unicode_segmentation_on_mixed_scripts() {
        for s in [
            "नमस्ते दुनिया",
            "Привет, мир! ¿Qué tal? 👍🏽",
            "ﾊﾟﾝ 한국어 가",
            "שָׁלוֹם",
            "a\u{200D}b\u{200C}c",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}!",
        ] {
            assert_eq!(grapheme_count(s), s.graphemes(true).count(), "{s:?}");
        }
    }
}
