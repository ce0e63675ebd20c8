//! Mastodon's status HTML to plain text: tags dropped, `<br>` to a newline, a paragraph
//! break to a blank line, entities decoded (by `html-escape`, not a table of our own).
//!
//! Mastodon sanitises `content` to a few tags (`p`, `br`, `a`, `span`), so a scanner that
//! drops everything between `<` and `>` is enough; `>` inside attributes arrives escaped.

/// The plain text of a status's `content`.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut paragraphs = 0usize;
    while let Some(open) = rest.find('<') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find('>') else {
            // An unterminated tag: nothing readable follows.
            rest = "";
            break;
        };
        let tag = after.get(..close).unwrap_or_default();
        match tag_name(tag).as_str() {
            "br" => out.push('\n'),
            "p" => {
                if paragraphs > 0 {
                    trim_trailing_spaces(&mut out);
                    out.push_str("\n\n");
                }
                paragraphs += 1;
            }
            _ => {}
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    html_escape::decode_html_entities(out.trim()).into_owned()
}

/// The lowercase element name of a tag's inside (`p class="x"` gives `p`, `/p` gives
/// `/p`, `br /` gives `br`).
fn tag_name(tag: &str) -> String {
    let tag = tag.trim_start();
    let (slash, tag) = match tag.strip_prefix('/') {
        Some(t) => ("/", t),
        None => ("", tag),
    };
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("{slash}{name}")
}

fn trim_trailing_spaces(s: &mut String) {
    while s.ends_with(' ') {
        s.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn paragraphs_become_blank_lines_and_br_a_newline() {
        assert_eq!(
            html_to_text("<p>First line<br />second line</p><p>Next paragraph</p>"),
            "First line\nsecond line\n\nNext paragraph"
        );
    }

    #[test]
    fn links_and_mentions_keep_their_text() {
        let html = r#"<p>Go <a href="https://mastodon.social/tags/stvknee" class="mention hashtag" rel="tag">#<span>stvknee</span></a> <span class="h-card"><a href="https://x.example/@dr" class="u-url mention">@<span>dr</span></a></span> <a href="https://example.org/a/long/path" rel="nofollow noopener"><span class="invisible">https://</span><span class="ellipsis">example.org/a/long</span><span class="invisible">/path</span></a></p>"#;
        assert_eq!(
            html_to_text(html),
            "Go #stvknee @dr https://example.org/a/long/path"
        );
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            html_to_text("<p>Q&amp;A: is 2 &lt; 3? &quot;yes&quot; &#39;ok&#39; &amp;lt;</p>"),
            "Q&A: is 2 < 3? \"yes\" 'ok' &lt;"
        );
    }

    #[test]
    fn unterminated_tags_and_plain_text_do_not_panic() {
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(html_to_text("cut <a href"), "cut");
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("<p>é ünïcödé 🦴</p>"), "é ünïcödé 🦴");
    }
}
