//! Allocation-free helpers for looking around a match in UTF-8 text: the character
//! before or after an offset, bounded windows that never split a character, and the
//! whitespace-aligned [`Window`]s that detectors run their regexes on.

/// A byte range of the checked text that a detector's regex runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: usize,
    pub end: usize,
}

/// How far [`widen`] walks to find whitespace before giving up.
const WIDEN_LIMIT: usize = 256;

/// The range `from..to` clamped to the text and widened outward to whitespace (or the
/// text's ends), so a regex run on the window sees the same word boundaries as on the
/// whole text. Runs on windows around trigger points are what keep `check` cheap.
pub(crate) fn widen(text: &str, from: usize, to: usize) -> Window {
    let bytes = text.as_bytes();
    let mut start = from.min(text.len());
    let floor = start.saturating_sub(WIDEN_LIMIT);
    while start > floor && !bytes.get(start - 1).is_some_and(u8::is_ascii_whitespace) {
        start -= 1;
    }
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let mut end = to.clamp(start, text.len());
    let ceiling = end.saturating_add(WIDEN_LIMIT).min(text.len());
    while end < ceiling && !bytes.get(end).is_some_and(u8::is_ascii_whitespace) {
        end += 1;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Window {
        start,
        end: end.max(start),
    }
}

/// A regex match with offsets into the whole text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'t> {
    pub start: usize,
    pub end: usize,
    pub text: &'t str,
}

/// The regex's matches inside `win`, with offsets into the whole `text`.
pub(crate) fn find_in<'r, 't>(
    regex: &'r regex::Regex,
    text: &'t str,
    win: Window,
) -> impl Iterator<Item = Found<'t>> + 'r
where
    't: 'r,
{
    let slice = text.get(win.start..win.end).unwrap_or("");
    regex.find_iter(slice).map(move |m| Found {
        start: win.start + m.start(),
        end: win.start + m.end(),
        text: m.as_str(),
    })
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
    let trimmed = head.trim_end_matches([' ', ',', '(', '#']);
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

/// Whether `word`, lower-cased and with accents folded ([`fold`]), is in `sorted`, a
/// sorted list of lower-case ASCII words. Words longer than 24 bytes are in no list.
pub(crate) fn in_sorted(sorted: &[&str], word: &str) -> bool {
    let mut buf = [0u8; 24];
    let Some(folded) = fold(word, &mut buf) else {
        return false;
    };
    sorted
        .binary_search_by(|probe| compare(probe.as_bytes(), folded))
        .is_ok()
}

/// Byte-wise order of two short slices, compared in a loop: for words of a few bytes
/// this is cheaper than a call to `memcmp`.
fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// `word` in lower-case ASCII, with the accents of Latin letters folded ("Núñez" ->
/// "nunez", "Łukasz" -> "lukasz"), written into `buf`; `None` if it does not fit or
/// has a non-ASCII character with no ASCII letter to fold to.
pub(crate) fn fold<'b>(word: &str, buf: &'b mut [u8; 24]) -> Option<&'b [u8]> {
    let mut n = 0;
    for c in word.chars() {
        let b = if c.is_ascii() {
            c.to_ascii_lowercase() as u8
        } else {
            fold_char(c)?
        };
        *buf.get_mut(n)? = b;
        n += 1;
    }
    buf.get(..n)
}

/// The ASCII letter a Latin letter with a diacritic folds to, lower case.
pub(crate) fn fold_char(c: char) -> Option<u8> {
    let folded = match c.to_lowercase().next().unwrap_or(c) {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' | 'ă' => b'a',
        'ç' | 'ć' | 'č' => b'c',
        'ď' | 'đ' => b'd',
        'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ě' => b'e',
        'ğ' => b'g',
        'í' | 'ì' | 'î' | 'ï' | 'ı' => b'i',
        'ł' => b'l',
        'ñ' | 'ń' | 'ň' => b'n',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ő' => b'o',
        'ř' => b'r',
        'ś' | 'š' | 'ş' | 'ș' => b's',
        'ť' | 'ț' => b't',
        'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ű' => b'u',
        'ý' | 'ÿ' => b'y',
        'ź' | 'ż' | 'ž' => b'z',
        '\u{2019}' => b'\'',
        _ => return None,
    };
    Some(folded)
}

/// The bounds of the sentence around byte `i`: from just after the previous `.`, `!`,
/// `?`, `;` or newline that ends a sentence (not the dot of "Dr." or "J.") to the next
/// one, at most 300 bytes either way.
pub(crate) fn sentence_bounds(text: &str, i: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let at = |k: usize| bytes.get(k).copied().unwrap_or(b' ');
    let ends_sentence = |k: usize| match at(k) {
        b'!' | b'?' | b';' | b'\n' => true,
        b'.' => {
            let followed = at(k + 1).is_ascii_whitespace() || k + 1 >= bytes.len();
            followed && !is_abbreviation(previous_word(text, k).unwrap_or(""))
        }
        _ => false,
    };
    let floor = i.saturating_sub(300);
    let mut start = i.min(bytes.len());
    while start > floor && !ends_sentence(start - 1) {
        start -= 1;
    }
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let ceiling = i.saturating_add(300).min(bytes.len());
    let mut end = i.min(bytes.len());
    while end < ceiling && !ends_sentence(end) {
        end += 1;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (start, end.max(start))
}

/// Abbreviations whose dot does not end a sentence ("Dr.", "Mrs.", "St.", "Sra.", "J.").
fn is_abbreviation(word: &str) -> bool {
    word.chars().count() == 1
        || in_sorted(
            &[
                "apt", "av", "avda", "dr", "dra", "jr", "mr", "mrs", "ms", "mx", "no", "pt", "sr",
                "sra", "srta", "st", "ste", "vs",
            ],
            word,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_sentence_holds_its_offset_and_lies_on_char_boundaries(
            text in r"([A-Za-z]{1,6}|Dr\.|J\.|[ .!?;\n]|é|ñ|😊){0,40}",
            at in 0usize..200,
        ) {
            let i = at.min(text.len());
            let (start, end) = sentence_bounds(&text, i);
            prop_assert!(start <= end && end <= text.len());
            prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
            let i = (0..=i).rev().find(|k| text.is_char_boundary(*k)).unwrap_or(0);
            prop_assert!(start <= i && i <= end.max(start));
        }

        #[test]
        fn folding_gives_lower_case_ascii_or_nothing(word in r"\PC{0,30}") {
            let mut buf = [0u8; 24];
            if let Some(folded) = fold(&word, &mut buf) {
                prop_assert!(folded.iter().all(|b| b.is_ascii() && !b.is_ascii_uppercase()));
                prop_assert!(folded.len() == word.chars().count());
            }
        }
    }

    #[test]
    fn accents_fold_and_abbreviation_dots_do_not_end_a_sentence() {
        let mut buf = [0u8; 24];
        assert_eq!(fold("Núñez", &mut buf), Some(&b"nunez"[..]));
        let text = "Dr. Ana Brito is here. J. Okafor too.";
        assert_eq!(sentence_bounds(text, 5), (0, 21));
        assert_eq!(sentence_bounds(text, 25), (22, 36));
    }
}
