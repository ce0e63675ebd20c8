//! Jetstream: filtering the firehose by hashtag, deletes, resuming from the cursor, and
//! changing the watched tags live.

use crate::{connected, fast_backoff, next, next_event, next_post, until_state};
use serde_json::json;
use std::collections::BTreeSet;
use tocsin_monitor::{spawn_jetstream, Heard, JetstreamStream, Source, StreamHandle, StreamState};
use tocsin_test_support::streaming::{self, jetstream_post, FakeStream};
use tokio::sync::{mpsc, watch};
use url::Url;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn tags(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|t| t.to_string()).collect()
}

async fn start(
    watched: &[&str],
) -> (
    FakeStream,
    watch::Sender<BTreeSet<String>>,
    mpsc::Receiver<Heard>,
    StreamHandle,
) {
    let fake = streaming::start_jetstream().await.expect("fake");
    let (tags_tx, tags_rx) = watch::channel(tags(watched));
    let (tx, mut rx) = mpsc::channel(64);
    let handle = spawn_jetstream(
        JetstreamStream {
            url: Url::parse(&fake.ws_url()).expect("url"),
            tags: tags_rx,
        },
        fast_backoff(),
        tx,
    );
    connected(&mut rx).await;
    (fake, tags_tx, rx, handle)
}

#[tokio::test]
async fn a_post_with_a_tag_facet_is_heard_whatever_its_case() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    fake.push_post(DID, "3kabc", "Watching #StVKnee live", &["StVKnee"], 1_000);
    let post = next_post(&mut rx).await;
    assert_eq!(post.source, Source::Bluesky);
    assert_eq!(
        post.remote_id,
        format!("at://{DID}/app.bsky.feed.post/3kabc")
    );
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://bsky.app/profile/{DID}/post/3kabc").as_str())
    );
    assert_eq!(post.tags, vec!["stvknee"]);
    assert_eq!(post.text, "Watching #StVKnee live");
    assert_eq!(post.author_handle, DID);
    assert_eq!(post.posted_at.to_rfc3339(), "2024-05-01T12:00:00+00:00");
    let connection = &fake.connections()[0];
    assert_eq!(
        connection.param("wantedCollections").as_deref(),
        Some("app.bsky.feed.post")
    );
    assert_eq!(connection.param("cursor"), None);
}

#[tokio::test]
async fn the_record_tags_field_counts_as_hashtags() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    let mut event = jetstream_post(DID, "3ktags", "no facets here", &[], 2_000);
    event["commit"]["record"]["tags"] = json!(["STVKNEE"]);
    fake.push_event(&event);
    assert_eq!(next_post(&mut rx).await.tags, vec!["stvknee"]);
}

#[tokio::test]
async fn other_collections_operations_kinds_and_tags_are_ignored() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    let mut like = jetstream_post(DID, "l1", "x", &["stvknee"], 10);
    like["commit"]["collection"] = json!("app.bsky.feed.like");
    fake.push_event(&like);
    let mut update = jetstream_post(DID, "u1", "edited #stvknee", &["stvknee"], 11);
    update["commit"]["operation"] = json!("update");
    fake.push_event(&update);
    fake.push_event(&json!({"did": DID, "time_us": 12, "kind": "identity",
        "identity": {"did": DID, "handle": "a.bsky.social", "seq": 1, "time": "2024-05-01T12:00:00Z"}}));
    fake.push_event(&json!({"did": DID, "time_us": 13, "kind": "account",
        "account": {"active": true, "did": DID, "seq": 2, "time": "2024-05-01T12:00:00Z"}}));
    fake.push_post(DID, "o1", "other #stvkneecap", &["stvkneecap"], 14);
    fake.push_post(DID, "n1", "no tags, mentions stvknee in text", &[], 15);
    fake.push_post_delete(DID, "never-heard", 16);
    fake.push_post(DID, "good", "#stvknee", &["stvknee"], 17);
    match next(&mut rx).await {
        Heard::Post(post) => assert!(post.remote_id.ends_with("/good"), "{post:?}"),
        other => panic!("expected the tagged post, heard {other:?}"),
    }
}

#[tokio::test]
async fn malformed_events_are_skipped_and_the_stream_goes_on() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    fake.push_raw("{");
    fake.push_raw(r#"{"did":"did:plc:x","time_us":5,"kind":"commit"}"#);
    let mut broken = jetstream_post(DID, "b1", "#stvknee", &["stvknee"], 6);
    broken["commit"]["record"]["facets"] = json!("facet#tag but not a list");
    fake.push_event(&broken);
    fake.push_post(DID, "ok", "#stvknee", &["stvknee"], 7);
    match next(&mut rx).await {
        Heard::Post(post) => assert!(post.remote_id.ends_with("/ok"), "{post:?}"),
        other => panic!("expected the good post, heard {other:?}"),
    }
    assert_eq!(fake.accepted(), 1);
}

#[tokio::test]
async fn deleting_a_heard_post_is_reported_once() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    fake.push_post(DID, "d1", "#stvknee", &["stvknee"], 100);
    let post = next_post(&mut rx).await;
    fake.push_post_delete(DID, "other", 101);
    fake.push_post_delete(DID, "d1", 102);
    fake.push_post_delete(DID, "d1", 103);
    fake.push_post(DID, "d2", "#stvknee", &["stvknee"], 104);
    assert_eq!(
        next_event(&mut rx).await,
        Heard::Deleted {
            source: Source::Bluesky,
            remote_id: post.remote_id
        }
    );
    assert!(next_post(&mut rx).await.remote_id.ends_with("/d2"));
}

#[tokio::test]
async fn a_reconnect_resumes_from_the_cursor_and_hears_each_post_once() {
    let (fake, _tags, mut rx, _handle) = start(&["stvknee"]).await;
    fake.push_post(DID, "p1", "#stvknee one", &["stvknee"], 10_000_000);
    assert!(next_post(&mut rx).await.remote_id.ends_with("/p1"));

    fake.refuse_next(503, 1_000);
    fake.drop_connections();
    until_state(&mut rx, |s| matches!(s, StreamState::Reconnecting { .. })).await;
    // Sent while no connection can be open.
    fake.push_post(DID, "p2", "#stvknee two", &["stvknee"], 11_000_000);
    fake.clear_refusals();
    connected(&mut rx).await;
    fake.push_post(DID, "p3", "#stvknee three", &["stvknee"], 12_000_000);

    assert!(next_post(&mut rx).await.remote_id.ends_with("/p2"));
    assert!(next_post(&mut rx).await.remote_id.ends_with("/p3"));
    let resumed = fake
        .connections()
        .into_iter()
        .rfind(|c| c.refused.is_none())
        .expect("a second connection");
    assert_eq!(resumed.param("cursor").as_deref(), Some("5000000"));
}

#[tokio::test]
async fn changing_the_watched_tags_applies_without_reconnecting() {
    let (fake, tags_tx, mut rx, _handle) = start(&["stvknee"]).await;
    fake.push_post(DID, "early", "#bypass", &["bypass"], 1);
    fake.push_post(DID, "marker", "#stvknee", &["stvknee"], 2);
    assert!(next_post(&mut rx).await.remote_id.ends_with("/marker"));

    tags_tx.send(tags(&["Bypass"])).expect("watched");
    fake.push_post(DID, "old", "#stvknee", &["stvknee"], 3);
    fake.push_post(DID, "late", "#bypass", &["bypass"], 4);
    match next(&mut rx).await {
        Heard::Post(post) => assert!(post.remote_id.ends_with("/late"), "{post:?}"),
        other => panic!("expected the newly watched post, heard {other:?}"),
    }
    assert_eq!(fake.accepted(), 1);
}
