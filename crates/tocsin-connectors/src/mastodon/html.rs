//! Turning a Mastodon status's HTML `content` back into the text that was posted.
//!
//! Mastodon answers with rendered HTML (`<p>`, `<br />`, links split into invisible
//! spans), not the submitted text, so reconciliation compares after undoing that:
//! paragraphs and line breaks become newlines, tags go, entities are decoded.

/// The plain text of a status's HTML `content`.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut paragraphs = 0usize;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(rest.get(..lt).unwrap_or_default()));
        let after = rest.get(lt..).unwrap_or_default();
        let Some(gt) = after.find('>') else {
            // A lone '<' is text (Mastodon escapes it, but be lenient).
            out.push_str(&decode_entities(after));
            rest = "";
            break;
        };
        let tag = after.get(1..gt).unwrap_or_default().trim();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "br" => out.push('\n'),
            "p" if !tag.starts_with('/') => {
                if paragraphs > 0 {
                    out.push_str("\n\n");
                }
                paragraphs += 1;
            }
            _ => {}
        }
        rest = after.get(gt + 1..).unwrap_or_default();
    }
    out.push_str(&decode_entities(rest));
    out
}

/// Decodes the named entities Mastodon emits and numeric references.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp..).unwrap_or_default();
        let decoded = after
            .get(1..)
            .and_then(|s| s.find(';').filter(|&semi| semi <= 10).map(|semi| (s, semi)))
            .and_then(|(s, semi)| decode_entity(s.get(..semi)?).map(|c| (c, semi + 2)));
        match decoded {
            Some((c, consumed)) => {
                out.push(c);
                rest = after.get(consumed..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Whitespace-insensitive comparison: Mastodon may turn `\r\n` into `<br />`, and
/// trims the text, so runs of whitespace are compared as one space.
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// Whether a status's displayed text is the posted text: the same words, or the same
/// once mentions are cut to `@user` (Mastodon shows `@user@domain` as `@user` when it
/// resolves the account).
pub(crate) fn displays_as(shown: &str, posted: &str) -> bool {
    same_text(shown, posted)
        || same_text(
            &without_mention_domains(shown),
            &without_mention_domains(posted),
        )
}

/// `@user@domain.example` becomes `@user`; a sentence's final dot stays.
fn without_mention_domains(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        out.push(c);
        let starts_mention = c == '@' && !previous.is_some_and(|p| p.is_alphanumeric() || p == '_');
        previous = Some(c);
        if !starts_mention {
            continue;
        }
        while let Some(&(_, u)) = chars.peek() {
            if !(u.is_ascii_alphanumeric() || u == '_') {
                break;
            }
            out.push(u);
            previous = Some(u);
            chars.next();
        }
        if chars.peek().is_some_and(|&(_, d)| d == '@') {
            chars.next();
            let mut domain = String::new();
            while let Some(&(_, d)) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || d == '.' || d == '-') {
                    break;
                }
                domain.push(d);
                chars.next();
            }
            if domain.ends_with('.') {
                out.push('.');
            }
            previous = domain.chars().last();
        }
    }
    out
}

#[cfg(test)]
mod html_tests {
    use super::*;

    #[test]
    fn mastodon_markup_is_undone() {
        let html = "<p>Boil water &amp; wait.<br />See <a href=\"https://health.example/boil\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span><span class=\"\">health.example/boil</span><span class=\"invisible\"></span></a></p><p>It&#39;s &lt;urgent&gt; <a href=\"https://x/tags/water\" class=\"mention hashtag\" rel=\"tag\">#<span>water</span></a></p>";
        assert_eq!(
            html_to_text(html),
            "Boil water & wait.\nSee https://health.example/boil\n\nIt's <urgent> #water"
        );
    }

    #[test]
    fn broken_markup_and_unknown_entities_do_not_panic() {
        assert_eq!(
            html_to_text("a < b &bogus; &#xZZ; &"),
            "a < b &bogus; &#xZZ; &"
        );
        assert_eq!(html_to_text("<p>caf&#233; &#x1F6B0;</p>"), "café 🚰");
        assert!(same_text(" one\r\n two ", "one two"));
    }

    #[test]
    fn a_mention_shown_without_its_domain_still_matches() {
        let shown = html_to_text("<p>Ask <span class=\"h-card\"><a href=\"https://other.example/@nurse\" class=\"u-url mention\">@<span>nurse</span></a></span>.</p>");
        assert_eq!(shown, "Ask @nurse.");
        assert!(displays_as(&shown, "Ask @nurse@other.example."));
        assert!(displays_as("Mail a@b.org", "Mail a@b.org"));
        assert!(!displays_as(&shown, "Ask @doctor@other.example."));
    }
}
