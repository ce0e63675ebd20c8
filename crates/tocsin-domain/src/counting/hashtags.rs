//! Finding hashtags the way the platforms link them (twitter-text's rules, simplified).
//!
//! A hashtag is `#` (or full-width `＃`) and a run of letters, combining marks, digits and
//! underscores with at least one letter; it may not follow a letter, digit, `_` or `&`,
//! may not run into another `#` or `://`, and is not a hashtag inside a URL.

use super::links;
use std::ops::Range;

/// Byte ranges of hashtags (#word, Unicode letters/digits/underscore, not all digits).
///
/// "Not all digits" is twitter-text's rule of at least one letter: `#1st` is a hashtag,
/// `#2024` and `#_1` are not. A `#fragment` inside a URL is not a hashtag.
pub fn find_hashtags(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if has_hash(text) {
        let urls = links::find_urls(text);
        for_each_hashtag(text, &urls, |r| out.push(r));
    }
    out
}

/// Whether `tag` (without its `#`) would be one whole hashtag when written `#tag` after
/// whitespace: body characters only, at least one of them a letter or mark.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    if tag.is_ascii() {
        let bytes = tag.as_bytes();
        return bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            && bytes.iter().any(u8::is_ascii_alphabetic);
    }
    !tag.is_empty()
        && tag.chars().all(is_body_char)
        && tag
            .chars()
            .any(|c| c.is_alphabetic() || is_combining_mark(c))
}

/// Calls `f` with every hashtag of `text` lying outside the `urls` ranges, jumping from
/// one `#` (or `＃`) to the next.
pub(crate) fn for_each_hashtag(text: &str, urls: &[Range<usize>], mut f: impl FnMut(Range<usize>)) {
    let wide = text.as_bytes().contains(&0xEF) && text.contains('＃');
    let mut from = 0;
    while let Some(hash) = next_hash(text, from, wide) {
        let body_start = hash
            + text
                .get(hash..)
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
        let prev = text.get(..hash).and_then(|s| s.chars().next_back());
        let end = if preceding_allows_hashtag(prev) {
            hashtag_end(text, body_start)
        } else {
            None
        };
        match end {
            Some(end) => {
                if !urls.iter().any(|u| u.start < end && hash < u.end) {
                    f(hash..end);
                }
                from = end;
            }
            None => from = body_start,
        }
    }
}

/// The byte offset of the next `#` (or, if the text has any, `＃`) at or after `from`.
fn next_hash(text: &str, from: usize, wide: bool) -> Option<usize> {
    let rest = text.get(from..)?;
    let found = if wide {
        rest.find(['#', '＃'])
    } else {
        rest.find('#')
    };
    found.map(|i| from + i)
}

fn has_hash(text: &str) -> bool {
    text.contains('#') || text.contains('＃')
}

fn preceding_allows_hashtag(prev: Option<char>) -> bool {
    !prev.is_some_and(|p| p == '&' || is_body_char(p))
}

/// Where the hashtag whose body starts at `body_start` ends, if it is one.
fn hashtag_end(text: &str, body_start: usize) -> Option<usize> {
    let rest = text.get(body_start..)?;
    let mut end = body_start;
    let mut has_letter = false;
    for c in rest.chars() {
        if !is_body_char(c) {
            break;
        }
        has_letter |= c.is_alphabetic() || is_combining_mark(c);
        end += c.len_utf8();
    }
    let after = text.get(end..)?;
    let runs_on = after.starts_with('#') || after.starts_with('＃') || after.starts_with("://");
    (has_letter && !runs_on).then_some(end)
}

/// Characters a hashtag's body may hold: letters, marks, digits, `_`, and the joiners and
/// middle dot twitter-text allows.
pub(crate) fn is_body_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == '_'
        || is_combining_mark(c)
        || matches!(c, '\u{200C}' | '\u{200D}' | '\u{00B7}')
}

/// Combining marks of the common scripts (Latin diacritics, Hebrew and Arabic points,
/// Indic and Thai vowel signs), which `char::is_alphanumeric` does not cover.
fn is_combining_mark(c: char) -> bool {
    let u = u32::from(c);
    if matches!(u, 0x0964 | 0x0965) {
        return false; // danda and double danda are punctuation
    }
    !c.is_alphanumeric()
        && matches!(
            u,
            0x0300..=0x036F
                | 0x0483..=0x0489
                | 0x0591..=0x05BD
                | 0x05BF
                | 0x05C1..=0x05C2
                | 0x05C4..=0x05C5
                | 0x05C7
                | 0x0610..=0x061A
                | 0x064B..=0x065F
                | 0x0670
                | 0x06D6..=0x06DC
                | 0x06DF..=0x06E4
                | 0x06E7..=0x06E8
                | 0x06EA..=0x06ED
                | 0x0900..=0x0DFF
                | 0x0E31
                | 0x0E34..=0x0E3A
                | 0x0E47..=0x0E4E
                | 0x0EB1
                | 0x0EB4..=0x0EBC
                | 0x0EC8..=0x0ECD
                | 0x1AB0..=0x1AFF
                | 0x1DC0..=0x1DFF
                | 0x20D0..=0x20DC
                | 0x302A..=0x302F
                | 0x3099..=0x309A
                | 0xFE20..=0xFE2F
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Vec<&str> {
        find_hashtags(text)
            .into_iter()
            .map(|r| text.get(r).unwrap())
            .collect()
    }

    #[test]
    fn hashtags_of_letters_digits_and_underscores_are_found() {
        assert_eq!(
            tags("Boil water #BoilWater #stvknee #heat_2024 now"),
            ["#BoilWater", "#stvknee", "#heat_2024"]
        );
        assert_eq!(
            tags("#1st #that1time #easyas123"),
            ["#1st", "#that1time", "#easyas123"]
        );
    }

    #[test]
    fn an_all_digit_or_letterless_tag_is_not_a_hashtag() {
        assert_eq!(tags("#12345 #_1 # alone"), Vec::<&str>::new());
    }

    #[test]
    fn non_latin_hashtags_keep_their_marks() {
        assert_eq!(tags("#ашок #트위터 #हिंदी"), ["#ашок", "#트위터", "#हिंदी"]);
        assert_eq!(tags("#café"), ["#café"]);
        assert_eq!(tags("#cafe\u{301} x"), ["#cafe\u{301}"]);
    }

    #[test]
    fn a_hash_inside_a_word_or_an_html_entity_is_not_a_hashtag() {
        assert_eq!(tags("abc#def &#39; 5#tag"), Vec::<&str>::new());
    }

    #[test]
    fn a_tag_running_into_another_hash_or_a_scheme_is_not_a_hashtag() {
        assert_eq!(tags("#foo#bar"), Vec::<&str>::new());
        assert_eq!(tags("#http://example.com"), Vec::<&str>::new());
    }

    #[test]
    fn a_url_fragment_is_not_a_hashtag() {
        assert_eq!(tags("https://cdc.gov/flu#symptoms #flu"), ["#flu"]);
    }

    #[test]
    fn full_width_hash_and_trailing_punctuation_are_handled() {
        assert_eq!(tags("＃熱中症 注意"), ["＃熱中症"]);
        assert_eq!(tags("(#heat)."), ["#heat"]);
    }

    #[test]
    fn a_keycap_emoji_is_not_a_hashtag() {
        assert_eq!(tags("#\u{FE0F}\u{20E3} one"), Vec::<&str>::new());
    }

    #[test]
    fn a_valid_tag_is_exactly_one_whole_hashtag_once_written() {
        for tag in [
            "flu", "2024", "a b", "é", "x\u{301}", "_", "a#b", "a.b", "\u{FE0F}", "中文", "a-b",
        ] {
            let text = format!(" #{tag}");
            let whole = matches!(find_hashtags(&text).as_slice(), [r] if *r == (1..text.len()));
            assert_eq!(is_valid_tag(tag), whole, "{tag:?}");
        }
    }

    #[test]
    fn a_tag_is_valid_only_if_it_forms_one_whole_hashtag() {
        assert!(is_valid_tag("BoilWater"));
        assert!(is_valid_tag("heat_2024"));
        assert!(!is_valid_tag("2024"));
        assert!(!is_valid_tag("two words"));
        assert!(!is_valid_tag("cdc.gov"));
        assert!(!is_valid_tag(""));
    }
}
