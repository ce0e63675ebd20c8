//! Rich-text facets for a post: Bluesky shows links, hashtags and mentions only where
//! facets say.
//!
//! A facet marks a range of the text by UTF-8 **byte** offsets (`byteStart` inclusive,
//! `byteEnd` exclusive) and says what it is (`app.bsky.richtext.facet#link` with a full
//! `uri`, `#tag` with the tag without its `#`, `#mention` with a DID). Links come from the
//! same URL finder that counts the text; tags and mentions follow `@atproto/api`'s
//! `RichText.detectFacets`, so a post shows the tags and mentions the Bluesky app would
//! make of the same text (`#COVID-19` is the tag `COVID-19`; `#flu.` is `flu`). The PDS
//! checks none of this: a wrong range posts fine and links the wrong text.

use serde_json::{json, Value};
use std::ops::Range;
use tocsin_domain::counting::find_urls;

/// Longest tag, in UTF-16 code units as `detectFacets` counts (the lexicon caps it at 64
/// graphemes; code units are never fewer).
const MAX_TAG_UNITS: usize = 64;

/// The link and tag facets of `text`, in text order (mentions need the network: see
/// [`mentions`]).
pub(crate) fn facets(text: &str) -> Vec<Value> {
    let mut found: Vec<(usize, usize, Value)> = Vec::new();
    for range in find_urls(text) {
        let Some(shown) = text.get(range.clone()) else {
            continue;
        };
        found.push((range.start, range.end, link_feature(shown)));
    }
    for (range, tag) in tags(text) {
        if found
            .iter()
            .any(|(s, e, _)| range.start < *e && *s < range.end)
        {
            continue;
        }
        found.push((
            range.start,
            range.end,
            json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
        ));
    }
    found.sort_by_key(|(start, _, _)| *start);
    found
        .into_iter()
        .map(|(start, end, feature)| facet(start..end, feature))
        .collect()
}

/// One facet over `range` with one feature.
pub(crate) fn facet(range: Range<usize>, feature: Value) -> Value {
    json!({
        "index": {"byteStart": range.start, "byteEnd": range.end},
        "features": [feature],
    })
}

/// The byte range of each facet (`byteStart..byteEnd`), for merging.
pub(crate) fn range_of(facet: &Value) -> Range<usize> {
    let at = |key: &str| {
        facet
            .pointer(&format!("/index/{key}"))
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    at("byteStart")..at("byteEnd")
}

/// A link feature: the facet's `uri` must be complete, so a bare domain gets `https://`.
fn link_feature(shown: &str) -> Value {
    let lower = shown.get(..8).unwrap_or(shown).to_ascii_lowercase();
    let uri = if lower.starts_with("https://") || lower.starts_with("http://") {
        shown.to_string()
    } else {
        format!("https://{shown}")
    };
    json!({"$type": "app.bsky.richtext.facet#link", "uri": uri})
}

/// Characters that end a tag as whitespace does (soft hyphen, word joiner, zero-width
/// spaces and joiners, the enclosing keycap).
fn ends_tag(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{2060}'
                | '\u{200A}'
                | '\u{200B}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{20E2}'
        )
}

/// Unicode punctuation (general category P): ASCII's, Latin-1's, the general punctuation
/// block, CJK and full-width punctuation. (ASCII `$+<=>^`|~` are symbols, not punctuation.)
pub(crate) fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation()
            && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~');
    }
    matches!(c,
        '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
        | '\u{037E}' | '\u{0387}' | '\u{055A}'..='\u{055F}' | '\u{0589}' | '\u{058A}'
        | '\u{05BE}' | '\u{05C0}' | '\u{05C3}' | '\u{05C6}' | '\u{05F3}' | '\u{05F4}'
        | '\u{060C}' | '\u{060D}' | '\u{061B}' | '\u{061D}'..='\u{061F}' | '\u{066A}'..='\u{066D}'
        | '\u{06D4}' | '\u{0964}' | '\u{0965}' | '\u{0970}' | '\u{0E4F}' | '\u{0E5A}' | '\u{0E5B}'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{2043}' | '\u{2045}'..='\u{2051}'
        | '\u{2053}'..='\u{205E}' | '\u{207D}' | '\u{207E}' | '\u{208D}' | '\u{208E}'
        | '\u{2308}'..='\u{230B}' | '\u{2329}' | '\u{232A}' | '\u{2768}'..='\u{2775}'
        | '\u{27C5}' | '\u{27C6}' | '\u{27E6}'..='\u{27EF}' | '\u{2983}'..='\u{2998}'
        | '\u{29D8}'..='\u{29DB}' | '\u{29FC}' | '\u{29FD}' | '\u{2CF9}'..='\u{2CFC}'
        | '\u{2CFE}' | '\u{2CFF}' | '\u{2E00}'..='\u{2E2E}' | '\u{2E30}'..='\u{2E4F}'
        | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301F}'
        | '\u{3030}' | '\u{303D}' | '\u{30A0}' | '\u{30FB}' | '\u{FE10}'..='\u{FE19}'
        | '\u{FE30}'..='\u{FE52}' | '\u{FE54}'..='\u{FE61}' | '\u{FE63}' | '\u{FE68}'
        | '\u{FE6A}' | '\u{FE6B}' | '\u{FF01}'..='\u{FF03}' | '\u{FF05}'..='\u{FF0A}'
        | '\u{FF0C}'..='\u{FF0F}' | '\u{FF1A}' | '\u{FF1B}' | '\u{FF1F}' | '\u{FF20}'
        | '\u{FF3B}'..='\u{FF3D}' | '\u{FF3F}' | '\u{FF5B}' | '\u{FF5D}' | '\u{FF5F}'..='\u{FF65}'
    )
}

/// The hashtags of `text` as `detectFacets` finds them: `#` or `＃` at the start or after
/// whitespace, then everything up to whitespace, which must hold a character that is
/// not a digit or punctuation; trailing punctuation is not part of the tag; at most 64
/// UTF-16 units. Each with the byte range of `#tag` and the tag.
pub(crate) fn tags(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = matches!(c, '#' | '＃') && previous.is_none_or(char::is_whitespace);
        previous = Some(c);
        if !starts {
            continue;
        }
        let body_start = at + c.len_utf8();
        let rest = text.get(body_start..).unwrap_or_default();
        if rest.starts_with('\u{FE0F}') {
            continue;
        }
        let run_len = rest.find(ends_tag).unwrap_or(rest.len());
        let run = rest.get(..run_len).unwrap_or_default();
        let tag = run.trim_end_matches(is_punctuation);
        let has_letter = tag
            .chars()
            .any(|c| !c.is_ascii_digit() && !ends_tag(c) && !is_punctuation(c));
        if tag.is_empty() || !has_letter || tag.encode_utf16().count() > MAX_TAG_UNITS {
            continue;
        }
        out.push((at..body_start + tag.len(), tag.to_string()));
    }
    out
}

/// The `@handle` mentions of `text` as `detectFacets` finds them: `@` at the start, after
/// whitespace or `(`, then a domain-shaped handle (letters, digits, dots and hyphens, at
/// least two labels, the last of letters). Each with the byte range of `@handle` and the
/// handle, lower-cased. Which are real accounts only `resolveHandle` can say.
pub(crate) fn mentions(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@' && previous.is_none_or(|p| p.is_whitespace() || p == '(');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = text.get(at + 1..).unwrap_or_default();
        let run_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        // A handle ends on a letter or digit (`\b` in the official pattern).
        let handle = rest
            .get(..run_len)
            .unwrap_or_default()
            .trim_end_matches(['.', '-']);
        if !is_handle(handle) {
            continue;
        }
        out.push((at..at + 1 + handle.len(), handle.to_ascii_lowercase()));
    }
    out
}

fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    labels.len() >= 2
        && handle.len() <= 253
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod facet_rule_tests {
    use super::*;

    fn tag_names(text: &str) -> Vec<String> {
        tags(text).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn a_tag_runs_to_whitespace_without_its_trailing_punctuation() {
        assert_eq!(
            tag_names("Vaccines: #COVID-19, #flu. #H5N1! (#measles)"),
            ["COVID-19", "flu", "H5N1"],
            "a tag only starts after whitespace, so (#measles) is none"
        );
        let text = "Stay safe #Ça_va… ＃Gripe";
        let found = tags(text);
        assert_eq!(
            found.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            ["Ça_va", "Gripe"]
        );
        for (range, tag) in &found {
            let shown = text.get(range.clone()).unwrap();
            assert!(
                shown.ends_with(tag.as_str()) && shown.len() > tag.len(),
                "{shown}"
            );
        }
    }

    #[test]
    fn numbers_keycaps_and_overlong_runs_are_not_tags() {
        assert!(tag_names("Call #1 or #2024 or #️⃣ now").is_empty());
        let long = format!("#{}", "a".repeat(65));
        assert!(tag_names(&long).is_empty());
        assert_eq!(tag_names(&format!("#{}", "a".repeat(64))).len(), 1);
        assert_eq!(tag_names("a#b #ok"), ["ok"]);
    }

    #[test]
    fn mentions_are_domain_shaped_handles_after_space_or_a_parenthesis() {
        let text = "Thanks @CityHealth.bsky.social. (@friend.test) me@mail.org @nodot @1.5";
        let found = mentions(text);
        let handles: Vec<&str> = found.iter().map(|(_, h)| h.as_str()).collect();
        assert_eq!(handles, ["cityhealth.bsky.social", "friend.test"]);
        assert_eq!(
            text.get(found[0].0.clone()),
            Some("@CityHealth.bsky.social")
        );
    }
}
