//! Counting extended grapheme clusters (what a reader sees as one character), fast.
//!
//! Most alert text is made of characters that never join a neighbour into one cluster;
//! those are counted one each, and only text from the first character that can join
//! (a combining mark, a joiner, a variation selector, a flag half, Hangul jamo, ...)
//! onwards is handed to `unicode-segmentation`.

use unicode_segmentation::UnicodeSegmentation;

/// Extended grapheme clusters in `s` (a CR LF pair is one), as `unicode-segmentation`
/// counts them.
pub(crate) fn grapheme_count(s: &str) -> usize {
    if s.is_ascii() {
        return s.len() - crlf_pairs(s);
    }
    let mut prev_start = 0; // byte offset of the character before the current one
    for (i, c) in s.char_indices() {
        if !is_standalone(c) {
            // Segment from the character before this one, which this one may join.
            let mut split = prev_start.min(i);
            let head = s.get(..split).unwrap_or("");
            if head.ends_with('\r') && s.get(split..).is_some_and(|r| r.starts_with('\n')) {
                split -= 1;
            }
            let (head, tail) = (s.get(..split).unwrap_or(""), s.get(split..).unwrap_or(""));
            return head.chars().count() - crlf_pairs(head) + tail.graphemes(true).count();
        }
        prev_start = i;
    }
    s.chars().count() - crlf_pairs(s)
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
    matches!(
        u32::from(c),
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
