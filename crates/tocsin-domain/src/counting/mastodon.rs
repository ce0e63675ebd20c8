//! Mastodon's status length (`StatusLengthValidator`): grapheme clusters after rewriting.
//!
//! Every `http(s)://` URL counts as 23 characters (bare domains count as written), and a
//! remote mention `@user@domain` counts as `@user`; the rest counts one per grapheme
//! cluster (Ruby's `each_grapheme_cluster`), so an emoji or a flag counts 1.

use super::graphemes::grapheme_count;
use super::links;
use super::twitter::URL_LENGTH;
use std::ops::Range;

/// Mastodon's length of `text`, given the URLs found in it.
pub(crate) fn mastodon_length(text: &str, urls: &[Range<usize>]) -> usize {
    let mut total = 0;
    let mut pos = 0;
    let skip = |total: &mut usize, pos: &mut usize, cut: Range<usize>, counts_as: usize| {
        *total += grapheme_count(text.get(*pos..cut.start).unwrap_or(""));
        *total += counts_as;
        *pos = cut.end;
    };

    let mut scheme_urls = urls
        .iter()
        .filter(|r| links::has_scheme(text, r))
        .peekable();
    let mut mentions = MentionDomains::new(text);
    let mut next_mention = mentions.next();
    loop {
        // Take the entity that starts first; drop mention domains overlapping a URL.
        match (scheme_urls.peek(), next_mention.clone()) {
            (Some(url), Some(m)) if m.start < url.end && url.start < m.end => {
                next_mention = mentions.next();
            }
            (Some(url), Some(m)) if m.start < url.start => {
                skip(&mut total, &mut pos, m, 0);
                next_mention = mentions.next();
            }
            (Some(url), _) => {
                let url = (*url).clone();
                scheme_urls.next();
                skip(&mut total, &mut pos, url, URL_LENGTH);
            }
            (None, Some(m)) => {
                skip(&mut total, &mut pos, m, 0);
                next_mention = mentions.next();
            }
            (None, None) => break,
        }
    }
    total + grapheme_count(text.get(pos..).unwrap_or(""))
}

/// The `@domain` parts of remote mentions, per Mastodon's `Account::MENTION_RE`:
/// `(?<![=/[:word:]])@([a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?)(?:@[[:word:].-]+[[:word:]]+)?`.
struct MentionDomains<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> MentionDomains<'a> {
    fn new(text: &'a str) -> Self {
        let pos = if text.contains('@') { 0 } else { text.len() };
        MentionDomains { text, pos }
    }
}

impl Iterator for MentionDomains<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        while let Some(at) = self.text.get(self.pos..)?.find('@') {
            let at = self.pos + at;
            self.pos = at + 1;
            let prev = self.text.get(..at).and_then(|s| s.chars().next_back());
            if prev.is_some_and(|p| p == '=' || p == '/' || is_word(p)) {
                continue;
            }
            let user_end = at + 1 + username_len(self.text.get(at + 1..)?);
            if user_end == at + 1 {
                continue;
            }
            self.pos = user_end;
            let rest = self.text.get(user_end..)?;
            if let Some(domain) = rest.strip_prefix('@') {
                let len = domain_len(domain);
                if len > 0 {
                    self.pos = user_end + 1 + len;
                    return Some(user_end..self.pos);
                }
            }
        }
        self.pos = self.text.len();
        None
    }
}

/// Ruby's `[[:word:]]`: letters, marks, digits and connector punctuation (approximated).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Bytes of `[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?` at the start of `s` (case-insensitive).
fn username_len(s: &str) -> usize {
    let run = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    let run = s.get(..run).unwrap_or("");
    if !run.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return 0;
    }
    run.trim_end_matches(['.', '-']).len()
}

/// Bytes of `[[:word:].-]+[[:word:]]+` at the start of `s` (at least two characters).
fn domain_len(s: &str) -> usize {
    let run: usize = s
        .chars()
        .take_while(|&c| is_word(c) || c == '.' || c == '-')
        .map(char::len_utf8)
        .sum();
    let trimmed = s.get(..run).unwrap_or("").trim_end_matches(['.', '-']);
    if trimmed.chars().nth(1).is_some() {
        trimmed.len()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(text: &str) -> usize {
        mastodon_length(text, &links::find_urls(text))
    }

    #[test]
    fn a_remote_mention_counts_only_the_username() {
        assert_eq!(length("@health@mastodon.social"), "@health".len());
        assert_eq!(
            length("cc @alerts@health.example.gov."),
            "cc @alerts.".len()
        );
        assert_eq!(length("@local"), 6);
    }

    #[test]
    fn an_email_address_or_a_url_path_is_not_a_mention() {
        assert_eq!(length("mail info@cdc.example"), 21);
        assert_eq!(length("a=@b@example.org"), 16);
    }

    #[test]
    fn a_url_with_a_scheme_counts_23_but_a_bare_domain_counts_as_written() {
        assert_eq!(
            length("https://www.cdc.gov/measles/exposure-notice.html"),
            23
        );
        assert_eq!(length("see cdc.gov"), 11);
        assert_eq!(length("a https://x.gov/@user@host.org b"), 2 + 23 + 2);
    }

    #[test]
    fn emoji_flags_and_combining_accents_count_one_each() {
        assert_eq!(length("\u{1F1FA}\u{1F1F8}"), 1);
        assert_eq!(
            length("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"),
            1
        );
        assert_eq!(length("e\u{301}"), 1);
        assert_eq!(length("\u{1F637}!"), 2);
    }

    #[test]
    fn mentions_and_urls_together_are_each_rewritten() {
        let text = "@ops@example.social see https://example.gov/a/very/long/path and @me";
        assert_eq!(length(text), "@ops see ".len() + 23 + " and @me".len());
    }
}
