//! Threads' text length: characters, except that emoji count their UTF-8 bytes.
//!
//! Meta's Threads posts reference: "Text posts are limited to 500 characters. Emojis are
//! counted as the number of UTF-8 bytes." An emoji sequence counts all its bytes; any
//! other code point counts 1.

use super::emoji::{self, Piece};

/// Threads' limit for a text post.
pub(crate) const MAX_CHARACTERS: usize = 500;
/// Threads' topic tags: one per post.
pub(crate) const MAX_HASHTAGS: usize = 1;
/// Threads refuses posts with more than 5 unique links (`THREADS_API__LINK_LIMIT_EXCEEDED`).
pub(crate) const MAX_LINKS: usize = 5;

/// Threads' length of `text`.
pub(crate) fn threads_length(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    let mut total = 0;
    emoji::for_each_piece(text, |piece| {
        total += match piece {
            Piece::Ascii(n) | Piece::Sequence(n) => n,
            Piece::Char(c) if emoji::is_pictographic(c) => c.len_utf8(),
            Piece::Char(_) => 1,
        }
    });
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_counts_one_per_character_on_threads() {
        assert_eq!(threads_length("Boil water advisory"), 19);
        assert_eq!(threads_length("Café 中文"), 7);
    }

    #[test]
    fn an_emoji_counts_its_utf8_bytes_on_threads() {
        assert_eq!(threads_length("\u{1F6B0}"), 4);
        assert_eq!(threads_length("\u{26A0}\u{FE0F} Heat"), 6 + 5);
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(threads_length(family), family.len());
        assert_eq!(threads_length("\u{1F1FA}\u{1F1F8}"), 8);
    }
}
