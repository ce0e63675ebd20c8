//! LinkedIn's "little" text format for a post's `commentary`: reserved characters
//! (`\ | { } @ [ ] ( ) < > # * _ ~`) must be backslash-escaped or LinkedIn cuts the
//! post at the first one. A `#tag` is written as the documented HashtagTemplate
//! (`{hashtag|#|tag}`) so it stays a clickable hashtag; inside links nothing is a tag.

/// The characters little reserves (LinkedIn's Posts API documentation, "Text").
pub const RESERVED: [char; 15] = [
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Plain text as little `commentary`: every reserved character escaped, except that a
/// `#` starting a word of letters and digits becomes `{hashtag|#|word}`. A tag with an
/// underscore, or a `#` inside a word or a link, is escaped as plain text.
pub fn little_text_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for piece in text.split_inclusive(char::is_whitespace) {
        if piece.starts_with("https://") || piece.starts_with("http://") {
            escape_into(&mut out, piece);
            continue;
        }
        let mut prev: Option<char> = None;
        let mut rest = piece;
        while let Some(c) = rest.chars().next() {
            let after = rest.get(c.len_utf8()..).unwrap_or_default();
            let starts_word = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
            if c == '#' && starts_word {
                let tag_len: usize = after
                    .chars()
                    .take_while(|t| t.is_alphanumeric() || *t == '_')
                    .map(char::len_utf8)
                    .sum();
                let tag = after.get(..tag_len).unwrap_or_default();
                if !tag.is_empty() && !tag.contains('_') {
                    out.push_str("{hashtag|#|");
                    out.push_str(tag);
                    out.push('}');
                    prev = tag.chars().last();
                    rest = after.get(tag_len..).unwrap_or_default();
                    continue;
                }
            }
            escape_into(&mut out, rest.get(..c.len_utf8()).unwrap_or_default());
            prev = Some(c);
            rest = after;
        }
    }
    out
}

#[cfg(test)]
mod little_tests {
    use super::*;

    #[test]
    fn every_reserved_character_is_escaped_with_a_backslash() {
        assert_eq!(
            little_text_escape(r"a\b|c{d}e@f[g]h(i)j<k>l*m_n~o"),
            r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\*m\_n\~o"
        );
        assert_eq!(
            little_text_escape("Clinic (Ward 3) open 9-5 <today>."),
            r"Clinic \(Ward 3\) open 9-5 \<today\>."
        );
        assert_eq!(
            little_text_escape("plain text, 100% safe!"),
            "plain text, 100% safe!"
        );
    }

    #[test]
    fn hashtags_become_hashtag_templates_and_other_hashes_are_escaped() {
        assert_eq!(
            little_text_escape("Get vaccinated #FluSeason now"),
            "Get vaccinated {hashtag|#|FluSeason} now"
        );
        assert_eq!(
            little_text_escape("#Sarampión: (info)"),
            r"{hashtag|#|Sarampión}: \(info\)"
        );
        assert_eq!(little_text_escape("Room #"), r"Room \#");
        assert_eq!(little_text_escape("C#"), r"C\#");
        assert_eq!(little_text_escape("#covid_19"), r"\#covid\_19");
        assert_eq!(little_text_escape("##tag"), r"\#{hashtag|#|tag}");
    }

    #[test]
    fn links_are_escaped_but_never_hold_hashtags() {
        assert_eq!(
            little_text_escape("See https://health.example.gov/a_b#top now"),
            r"See https://health.example.gov/a\_b\#top now"
        );
        assert_eq!(
            little_text_escape("https://x.gov/#alerts"),
            r"https://x.gov/\#alerts"
        );
    }

    #[test]
    fn whitespace_and_newlines_are_kept() {
        assert_eq!(little_text_escape("a\n\n#b\tc "), "a\n\n{hashtag|#|b}\tc ");
    }
}
