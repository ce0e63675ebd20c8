//! The URLs each stream connects to.

use std::collections::BTreeSet;
use tocsin_monitor::{ConfigError, JetstreamStream, MastodonHashtagStream, Source};
use tokio::sync::watch;
use url::Url;

fn mastodon(instance: &str, tag: &str) -> MastodonHashtagStream {
    MastodonHashtagStream {
        instance_url: Url::parse(instance).expect("url"),
        token: None,
        tag: tag.into(),
    }
}

#[test]
fn mastodon_streams_over_wss_with_the_tag_lowercased_and_without_hash() {
    let stream = mastodon("https://mastodon.social", "#StVKnee");
    assert_eq!(
        stream.streaming_url().expect("url").as_str(),
        "wss://mastodon.social/api/v1/streaming?stream=hashtag&tag=stvknee"
    );
    assert_eq!(stream.stream_name(), "mastodon mastodon.social #stvknee");
    assert_eq!(
        stream.source(),
        Source::Mastodon {
            instance: "mastodon.social".into()
        }
    );
    let local = mastodon("http://127.0.0.1:4000", "knee");
    assert_eq!(
        local.streaming_url().expect("url").as_str(),
        "ws://127.0.0.1:4000/api/v1/streaming?stream=hashtag&tag=knee"
    );
}

#[test]
fn a_bad_tag_or_scheme_is_a_config_error_naming_it() {
    assert_eq!(
        mastodon("https://mastodon.social", "# ").streaming_url(),
        Err(ConfigError::Tag("# ".into()))
    );
    let err = mastodon("ftp://mastodon.social", "knee")
        .streaming_url()
        .expect_err("ftp");
    assert!(err.to_string().contains("ftp"), "{err}");
}

#[test]
fn jetstream_subscribes_to_posts_and_resumes_with_a_cursor() {
    let (_tx, tags) = watch::channel(BTreeSet::new());
    let stream = JetstreamStream {
        url: Url::parse("wss://jetstream2.us-east.bsky.network").expect("url"),
        tags,
    };
    assert_eq!(
        stream.subscribe_url(None).expect("url").as_str(),
        "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post"
    );
    let already = JetstreamStream {
        url: Url::parse("wss://jetstream.example/subscribe").expect("url"),
        ..stream
    };
    assert_eq!(
        already.subscribe_url(Some(1_700_000_000_000_000)).expect("url").as_str(),
        "wss://jetstream.example/subscribe?wantedCollections=app.bsky.feed.post&cursor=1700000000000000"
    );
}
