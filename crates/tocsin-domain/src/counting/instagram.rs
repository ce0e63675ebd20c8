//! Instagram's caption caps besides its length: hashtags and @-mentions.
//!
//! Meta's IG User Media reference (`POST /{ig-user-id}/media`, `caption`): "Maximum 2200
//! characters, 30 hashtags, and 20 @ tags." An @-mention is `@` and an Instagram user
//! name (letters, digits, `.` and `_`, at most 30), not after a letter, digit, `.` or `_`
//! (so an e-mail address is no mention), and not inside a URL.

use std::ops::Range;

/// Longest caption, in characters.
pub(crate) const MAX_CHARACTERS: usize = 2200;
/// Most hashtags in a caption.
pub(crate) const MAX_HASHTAGS: usize = 30;
/// Most @-mentions in a caption.
pub(crate) const MAX_MENTIONS: usize = 20;
/// Longest Instagram user name.
const MAX_USERNAME: usize = 30;

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_'
}

/// How many @-mentions `text` holds outside the `urls` ranges.
pub(crate) fn count_mentions(text: &str, urls: &[Range<usize>]) -> usize {
    let bytes = text.as_bytes();
    let mut count = 0;
    for (at, _) in text.match_indices('@') {
        let follows_name = at
            .checked_sub(1)
            .and_then(|i| bytes.get(i))
            .is_some_and(|b| is_name_byte(*b));
        if follows_name || urls.iter().any(|u| u.start <= at && at < u.end) {
            continue;
        }
        let name = bytes
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| is_name_byte(**b))
            .count();
        if (1..=MAX_USERNAME).contains(&name) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counting::find_urls;

    fn mentions(text: &str) -> usize {
        count_mentions(text, &find_urls(text))
    }

    #[test]
    fn a_mention_is_an_at_sign_and_a_user_name() {
        assert_eq!(mentions("Thanks @countyhealth and @cdc_gov."), 2);
        assert_eq!(mentions("@first at the start"), 1);
    }

    #[test]
    fn an_email_address_a_lone_at_sign_and_a_url_hold_no_mention() {
        assert_eq!(mentions("Write to help@county.gov"), 0);
        assert_eq!(mentions("Meet @ 5pm"), 0);
        assert_eq!(mentions("See https://example.org/@someone for more"), 0);
    }
}
