//! Allocation-free helpers for looking around a match in UTF-8 text: the character
//! before or after an offset, bounded windows that never split a character, and a
//! one-pass profile of which trigger characters a text contains at all.

/// Which cheap triggers occur in a text, so detectors that cannot match are skipped.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TextProfile {
    /// An ASCII digit occurs.
    pub digit: bool,
    /// An `@` occurs.
    pub at: bool,
    /// A `.` directly followed by an ASCII letter occurs (a domain shape).
    pub dot_letter: bool,
    /// A `+` occurs.
    pub plus: bool,
    /// Number of `:` characters.
    pub colons: usize,
    /// `::` occurs.
    pub double_colon: bool,
    /// An ASCII upper-case letter or any non-ASCII character occurs.
    pub upper_or_non_ascii: bool,
}

impl TextProfile {
    pub(crate) fn of(text: &str) -> TextProfile {
        let mut p = TextProfile::default();
        let mut prev = 0u8;
        for &b in text.as_bytes() {
            match b {
                b'0'..=b'9' => p.digit = true,
                b'@' => p.at = true,
                b'+' => p.plus = true,
                b':' => {
                    p.colons += 1;
                    if prev == b':' {
                        p.double_colon = true;
                    }
                }
                b'A'..=b'Z' => {
                    p.upper_or_non_ascii = true;
                    if prev == b'.' {
                        p.dot_letter = true;
                    }
                }
                b'a'..=b'z' => {
                    if prev == b'.' {
                        p.dot_letter = true;
                    }
                }
                0x80..=0xFF => p.upper_or_non_ascii = true,
                _ => {}
            }
            prev = b;
        }
        p
    }
}

/// The character ending just before byte offset `i`.
pub(crate) fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// The character starting at byte offset `i`.
pub(crate) fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// Up to `n` bytes of text ending at `i`, shortened so it starts on a character boundary.
pub(crate) fn window_before(text: &str, i: usize, n: usize) -> &str {
    let mut start = i.saturating_sub(n);
    while start < i && !text.is_char_boundary(start) {
        start += 1;
    }
    text.get(start..i).unwrap_or("")
}

/// Up to `n` bytes of text starting at `i`, shortened so it ends on a character boundary.
pub(crate) fn window_after(text: &str, i: usize, n: usize) -> &str {
    let mut end = i.saturating_add(n).min(text.len());
    while end > i && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(i..end).unwrap_or("")
}

/// Whether `hay` contains `needle` (which must be lower-case ASCII), ignoring ASCII case.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    h.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// Whether `hay` starts with `prefix` (lower-case ASCII), ignoring ASCII case.
pub(crate) fn starts_with_ci(hay: &str, prefix: &str) -> bool {
    hay.as_bytes()
        .get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Number of ASCII digits in `s`.
pub(crate) fn digit_count(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// The value of the first run of ASCII digits in `s` (saturating), if any.
pub(crate) fn first_number(s: &str) -> Option<u32> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let digits = s.get(start..)?;
    let mut value: u32 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
    }
    Some(value)
}

/// The value of the last run of ASCII digits in `s` (saturating), if any.
pub(crate) fn last_number(s: &str) -> Option<u32> {
    let end = s.rfind(|c: char| c.is_ascii_digit())? + 1;
    let head = s.get(..end)?;
    let start = head
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    first_number(head.get(start..)?)
}

/// The word (letters only) that ends at or just before `i`, skipping spaces and
/// punctuation other than sentence ends; `None` past a sentence end or the text start.
pub(crate) fn previous_word(text: &str, i: usize) -> Option<&str> {
    let head = text.get(..i)?;
    let trimmed = head.trim_end_matches(|c: char| c == ' ' || c == ',' || c == '(' || c == '#');
    let end = trimmed.len();
    let start = trimmed
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .last()
        .map(|(i, _)| i)?;
    trimmed.get(start..end)
}

/// The word (letters only) that starts at or just after `i`, skipping spaces.
pub(crate) fn next_word(text: &str, i: usize) -> Option<&str> {
    let tail = text.get(i..)?;
    let tail = tail.trim_start_matches([' ', '-']);
    let end = tail
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(tail.len(), |(i, _)| i);
    (end > 0).then(|| tail.get(..end)).flatten()
}
