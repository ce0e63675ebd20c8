//! Rich-text facets for a post: Bluesky shows links and hashtags only where facets say.
//!
//! A facet marks a range of the text by UTF-8 **byte** offsets (`byteStart` inclusive,
//! `byteEnd` exclusive) and says what it is (`app.bsky.richtext.facet#link` with a full
//! `uri`, `#tag` with the tag without its `#`). Ranges come from the same URL and
//! hashtag finders that count the text, so what was measured is what is linked.

use serde_json::{json, Value};
use tocsin_domain::counting::{find_hashtags, find_urls};

/// Longest tag the lexicon accepts, in bytes (it also caps graphemes at 64).
const MAX_TAG_BYTES: usize = 640;
/// The lexicon's grapheme cap, applied to characters (never fewer than graphemes).
const MAX_TAG_CHARS: usize = 64;

/// The facets of `text`: one per link and per hashtag, in text order.
pub(crate) fn facets(text: &str) -> Vec<Value> {
    let mut found: Vec<(usize, usize, Value)> = Vec::new();
    for range in find_urls(text) {
        let Some(shown) = text.get(range.clone()) else {
            continue;
        };
        found.push((range.start, range.end, link_feature(shown)));
    }
    for range in find_hashtags(text) {
        let Some(shown) = text.get(range.clone()) else {
            continue;
        };
        let tag = shown.trim_start_matches(['#', '＃']);
        if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag.chars().count() > MAX_TAG_CHARS {
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
        .map(|(start, end, feature)| {
            json!({
                "index": {"byteStart": start, "byteEnd": end},
                "features": [feature],
            })
        })
        .collect()
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
