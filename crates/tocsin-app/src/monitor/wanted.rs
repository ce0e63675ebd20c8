//! Which streams the monitor should be reading, worked out from plain inputs (the open
//! sessions' hashtags, the Mastodon instances to ask with their tokens, whether Jetstream
//! is configured), so the supervisor only has to make the running set equal to it.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use tocsin_monitor::MastodonHashtagStream;
use url::Url;

/// One Mastodon instance to listen on, with the token to ask with (none: public).
#[derive(Clone)]
pub struct Instance {
    /// Its base URL (scheme, host and port only).
    pub url: Url,
    /// A user token of a connected account on it.
    pub token: Option<SecretString>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// What makes one Mastodon stream itself: a changed token is a new stream (the old one
/// may be failing with the revoked token).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamKey {
    /// The instance's base URL.
    pub instance: String,
    /// The hashtag, lowercase without `#`.
    pub tag: String,
    /// A short SHA-256 of the token, if one is sent (never the token).
    pub token: Option<String>,
}

/// The streams wanted now.
#[derive(Debug, Default)]
pub struct Wanted {
    /// One per instance × hashtag.
    pub mastodon: BTreeMap<StreamKey, MastodonHashtagStream>,
    /// The tags Jetstream should keep, if it should run at all.
    pub jetstream_tags: Option<BTreeSet<String>>,
}

/// A session hashtag as streams and posts carry it: without `#`, lowercase.
pub fn normalize_tag(tag: &str) -> String {
    tag.trim().trim_start_matches('#').to_lowercase()
}

/// An instance URL reduced to its origin (`https://host[:port]`); `None` if it has no
/// host or is not http(s).
pub fn instance_base(url: &str) -> Option<Url> {
    let parsed = Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    Url::parse(&parsed.origin().ascii_serialization()).ok()
}

fn fingerprint(token: &SecretString) -> String {
    let digest = Sha256::digest(token.expose_secret().as_bytes());
    hex::encode(digest.get(..6).unwrap_or_default())
}

/// The streams for these open sessions' hashtags on these instances (the first entry per
/// instance wins, so put the ones with tokens first), and Jetstream's tags when
/// `jetstream` is configured and any session is open.
pub fn wanted(tags: &BTreeSet<String>, instances: &[Instance], jetstream: bool) -> Wanted {
    let mut seen = BTreeSet::new();
    let mut out = Wanted::default();
    for instance in instances {
        if !seen.insert(instance.url.as_str().to_string()) {
            continue;
        }
        for tag in tags {
            let key = StreamKey {
                instance: instance.url.as_str().to_string(),
                tag: tag.clone(),
                token: instance.token.as_ref().map(fingerprint),
            };
            let stream = MastodonHashtagStream {
                instance_url: instance.url.clone(),
                token: instance
                    .token
                    .as_ref()
                    .map(|t| SecretString::from(t.expose_secret().to_owned())),
                tag: tag.clone(),
            };
            out.mastodon.insert(key, stream);
        }
    }
    if jetstream && !tags.is_empty() {
        out.jetstream_tags = Some(tags.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(url: &str, token: Option<&str>) -> Instance {
        Instance {
            url: instance_base(url).unwrap_or_else(|| panic!("{url}")),
            token: token.map(|t| SecretString::from(t.to_string())),
        }
    }

    #[test]
    fn every_instance_hears_every_open_hashtag_and_a_token_beats_a_public_entry() {
        let tags: BTreeSet<String> = ["stvknee", "boilwater"].map(String::from).into();
        let w = wanted(
            &tags,
            &[
                instance("https://a.example/some/path", Some("tok")),
                instance("https://b.example", None),
                instance("https://a.example", None),
            ],
            true,
        );
        assert_eq!(w.mastodon.len(), 4);
        let with_token = w.mastodon.keys().filter(|k| k.token.is_some()).count();
        assert_eq!(with_token, 2);
        assert!(w
            .mastodon
            .keys()
            .all(|k| k.instance == "https://a.example/" || k.instance == "https://b.example/"));
        assert_eq!(w.jetstream_tags, Some(tags));
    }

    #[test]
    fn no_open_session_wants_no_stream_and_jetstream_needs_its_url() {
        let none = wanted(
            &BTreeSet::new(),
            &[instance("https://a.example", None)],
            true,
        );
        assert!(none.mastodon.is_empty());
        assert_eq!(none.jetstream_tags, None);
        let tags: BTreeSet<String> = ["x"].map(String::from).into();
        assert_eq!(wanted(&tags, &[], false).jetstream_tags, None);
    }

    #[test]
    fn hashtags_and_instance_urls_are_normalised() {
        assert_eq!(normalize_tag(" #StvKnee"), "stvknee");
        assert_eq!(
            instance_base("http://127.0.0.1:4000/api").map(|u| u.to_string()),
            Some("http://127.0.0.1:4000/".to_string())
        );
        assert_eq!(instance_base("ftp://a.example"), None);
        assert_eq!(instance_base("not a url"), None);
    }

    #[test]
    fn a_token_is_never_in_the_key_or_the_debug_output() {
        let i = instance("https://a.example", Some("very-secret-token"));
        let tags: BTreeSet<String> = ["x"].map(String::from).into();
        let w = wanted(&tags, std::slice::from_ref(&i), false);
        let printed = format!("{:?} {:?}", w, i);
        assert!(!printed.contains("very-secret-token"), "{printed}");
    }
}
