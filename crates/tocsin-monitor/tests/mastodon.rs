//! Mastodon's hashtag stream: frames, the token, and recovering connections.

use crate::{connected, fast_backoff, next, next_event, next_post, next_state, until_state};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use tocsin_monitor::mastodon::{parse_frame, FrameError};
use tocsin_monitor::{
    spawn_mastodon, spawn_mastodon_with, ExtraRoots, Heard, MastodonHashtagStream, Source,
    StreamState,
};
use tocsin_test_support::streaming::{self, mastodon_status, FakeStream};
use tokio::sync::mpsc;
use url::Url;

const TOKEN: &str = "very-secret-user-token";

fn source() -> Source {
    Source::Mastodon {
        instance: "mastodon.social".into(),
    }
}

fn update(status: &serde_json::Value) -> String {
    json!({"stream": ["hashtag", "stvknee"], "event": "update", "payload": status.to_string()})
        .to_string()
}

fn stream_for(fake: &FakeStream, token: Option<&str>) -> MastodonHashtagStream {
    MastodonHashtagStream {
        instance_url: Url::parse(&fake.base_url).expect("url"),
        token: token.map(|t| SecretString::from(t.to_string())),
        tag: "#StVKnee".into(),
    }
}

#[test]
fn an_update_becomes_a_post_in_plain_text() {
    let status = mastodon_status(
        "1101",
        "nurse@health.example",
        "<p>Incision at 09:12 <a href=\"https://m.example/tags/stvknee\" class=\"mention hashtag\" rel=\"tag\">#<span>StVKnee</span></a><br />Q&amp;A &lt;later&gt;</p><p>Thanks!</p>",
        &["StVKnee", "Ortho"],
    );
    let heard = parse_frame(&update(&status), "stvknee", &source()).expect("frame");
    let Some(Heard::Post(post)) = heard else {
        panic!("expected a post, got {heard:?}");
    };
    assert_eq!(post.remote_id, "1101");
    assert_eq!(
        post.text,
        "Incision at 09:12 #StVKnee\nQ&A <later>\n\nThanks!"
    );
    assert_eq!(post.tags, vec!["stvknee", "ortho"]);
    assert_eq!(post.author_handle, "nurse@health.example");
    assert_eq!(post.author_name, "nurse@health.example (display)");
    assert_eq!(
        post.url.as_deref(),
        Some("https://mastodon.example/@nurse@health.example/1101")
    );
    assert_eq!(post.posted_at.to_rfc3339(), "2024-05-01T12:00:00+00:00");
    assert_eq!(post.source, source());
}

#[test]
fn a_reblog_is_skipped() {
    let mut status = mastodon_status("1102", "booster", "<p>RT</p>", &["stvknee"]);
    status["reblog"] = mastodon_status("1000", "original", "<p>orig</p>", &["stvknee"]);
    assert_eq!(
        parse_frame(&update(&status), "stvknee", &source()),
        Ok(None)
    );
}

#[test]
fn a_status_without_the_tag_is_ignored() {
    let status = mastodon_status("1103", "someone", "<p>other</p>", &["stvkneecap"]);
    assert_eq!(
        parse_frame(&update(&status), "stvknee", &source()),
        Ok(None)
    );
}

#[test]
fn an_empty_display_name_falls_back_to_the_handle_and_url_to_uri() {
    let mut status = mastodon_status("1104", "anon", "<p>hi</p>", &["stvknee"]);
    status["account"]["display_name"] = json!("");
    status["url"] = json!(null);
    let Ok(Some(Heard::Post(post))) = parse_frame(&update(&status), "stvknee", &source()) else {
        panic!("expected a post");
    };
    assert_eq!(post.author_name, "anon");
    assert_eq!(
        post.url.as_deref(),
        Some("https://mastodon.example/users/anon/statuses/1104")
    );
}

#[test]
fn a_delete_names_the_status_and_other_events_are_ignored() {
    let delete = json!({"stream": ["hashtag", "stvknee"], "event": "delete", "payload": "1101"});
    assert_eq!(
        parse_frame(&delete.to_string(), "stvknee", &source()),
        Ok(Some(Heard::Deleted {
            source: source(),
            remote_id: "1101".into()
        }))
    );
    for event in ["notification", "status.update", "filters_changed"] {
        let frame = json!({"stream": ["hashtag"], "event": event, "payload": "{}"});
        assert_eq!(
            parse_frame(&frame.to_string(), "stvknee", &source()),
            Ok(None)
        );
    }
}

#[test]
fn malformed_frames_say_what_is_wrong() {
    assert!(matches!(
        parse_frame("not json", "stvknee", &source()),
        Err(FrameError::Envelope(_))
    ));
    assert_eq!(
        parse_frame(r#"{"error":"Missing access token"}"#, "stvknee", &source()),
        Err(FrameError::Server("Missing access token".into()))
    );
    assert_eq!(
        parse_frame(r#"{"event":"update"}"#, "stvknee", &source()),
        Err(FrameError::NoPayload("update".into()))
    );
    let bad = json!({"event": "update", "payload": "{\"id\": 5}"}).to_string();
    assert!(matches!(
        parse_frame(&bad, "stvknee", &source()),
        Err(FrameError::Status(_))
    ));
}

#[tokio::test]
async fn a_tagged_status_is_heard_live_and_the_token_goes_as_bearer() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.require_token(TOKEN);
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream_for(&fake, Some(TOKEN)), fast_backoff(), tx);
    assert_eq!(next_state(&mut rx).await, StreamState::Connecting);
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);

    fake.push_status(
        "stvknee",
        &mastodon_status("7", "dr", "<p>Closing now</p>", &["stvknee"]),
    );
    let post = next_post(&mut rx).await;
    assert_eq!(post.text, "Closing now");
    fake.push_delete("stvknee", "7");
    assert_eq!(
        next_event(&mut rx).await,
        Heard::Deleted {
            source: Source::Mastodon {
                instance: fake.addr.to_string()
            },
            remote_id: "7".into()
        }
    );

    let connection = &fake.connections()[0];
    assert_eq!(
        connection.header("authorization").as_deref(),
        Some("Bearer very-secret-user-token")
    );
    assert_eq!(connection.param("stream").as_deref(), Some("hashtag"));
    assert_eq!(connection.param("tag").as_deref(), Some("stvknee"));
    assert!(
        !connection.query.contains(TOKEN),
        "token leaked into the URL"
    );
}

#[tokio::test]
async fn the_token_never_shows_in_debug_output_or_statuses() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.refuse_next(401, 1);
    let stream = stream_for(&fake, Some(TOKEN));
    assert!(!format!("{stream:?}").contains(TOKEN));
    assert!(!format!("{:?}", stream.clone()).contains(TOKEN));
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream, fast_backoff(), tx);
    let mut seen = Vec::new();
    loop {
        let heard = next(&mut rx).await;
        seen.push(format!(
            "{heard:?} {}",
            serde_json::to_string(&heard).expect("json")
        ));
        if heard
            == Heard::Status(tocsin_monitor::StreamStatus {
                stream: format!("mastodon {} #stvknee", fake.addr),
                state: StreamState::Connected,
            })
        {
            break;
        }
    }
    assert!(seen.iter().all(|s| !s.contains(TOKEN)), "{seen:?}");
}

#[tokio::test]
async fn a_refused_upgrade_is_reported_and_retried_until_connected() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.refuse_next(401, 2);
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream_for(&fake, Some(TOKEN)), fast_backoff(), tx);
    assert_eq!(next_state(&mut rx).await, StreamState::Connecting);
    for expected_attempt in 1..=2 {
        match next_state(&mut rx).await {
            StreamState::Reconnecting {
                attempt,
                retry_in,
                last_error,
            } => {
                assert_eq!(attempt, expected_attempt);
                assert_eq!(last_error, "instance refused the token (401)");
                assert!(retry_in <= fast_backoff().max);
            }
            other => panic!("expected reconnecting, got {other:?}"),
        }
    }
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
    assert_eq!(fake.connections().len(), 3);
    assert_eq!(fake.accepted(), 1);
}

#[tokio::test]
async fn an_unavailable_instance_is_reported_with_its_status() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.refuse_next(503, 1);
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    let state = until_state(&mut rx, |s| matches!(s, StreamState::Reconnecting { .. })).await;
    assert!(
        matches!(&state, StreamState::Reconnecting { last_error, .. } if last_error.contains("503")),
        "{state:?}"
    );
    connected(&mut rx).await;
}

#[tokio::test]
async fn a_dropped_connection_reconnects_and_later_statuses_are_heard() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    connected(&mut rx).await;
    fake.drop_connections();
    let state = next_state(&mut rx).await;
    assert!(
        matches!(state, StreamState::Reconnecting { attempt: 1, .. }),
        "{state:?}"
    );
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
    fake.push_status(
        "STVKNEE",
        &mastodon_status("8", "dr", "<p>after</p>", &["stvknee"]),
    );
    assert_eq!(next_post(&mut rx).await.remote_id, "8");
    assert_eq!(fake.accepted(), 2);
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_the_next_good_frame_is_delivered() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    connected(&mut rx).await;
    fake.push_raw("not json at all");
    fake.push_raw(r#"{"event":"update","payload":"{broken"}"#);
    fake.push_raw(r#"{"event":"update"}"#);
    fake.push_status(
        "stvknee",
        &mastodon_status("9", "dr", "<p>good</p>", &["stvknee"]),
    );
    // Not a status change in between: the connection survived the bad frames.
    match next(&mut rx).await {
        Heard::Post(post) => assert_eq!(post.remote_id, "9"),
        other => panic!("expected the good post, heard {other:?}"),
    }
    assert_eq!(fake.accepted(), 1);
}

#[tokio::test]
async fn a_silent_connection_is_taken_for_dead_and_reopened() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.set_silent(true);
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_with(
        stream_for(&fake, None),
        fast_backoff(),
        Duration::from_millis(300),
        ExtraRoots::default(),
        tx,
    );
    connected(&mut rx).await;
    let state = next_state(&mut rx).await;
    assert!(
        matches!(&state, StreamState::Reconnecting { last_error, .. } if last_error.contains("no frame")),
        "{state:?}"
    );
    fake.set_silent(false);
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_connection_open() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.set_heartbeat(Some(Duration::from_millis(50)));
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_with(
        stream_for(&fake, None),
        fast_backoff(),
        Duration::from_millis(400),
        ExtraRoots::default(),
        tx,
    );
    connected(&mut rx).await;
    // Well past the read timeout, then a status: heard on the first connection.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    fake.push_status(
        "stvknee",
        &mastodon_status("10", "dr", "<p>x</p>", &["stvknee"]),
    );
    match next(&mut rx).await {
        Heard::Post(post) => assert_eq!(post.remote_id, "10"),
        other => panic!("expected the post on the same connection, heard {other:?}"),
    }
    assert_eq!(fake.accepted(), 1);
}

#[tokio::test]
async fn dropping_the_handle_closes_the_connection() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    connected(&mut rx).await;
    assert!(fake.wait_open(1, crate::PATIENCE).await);
    drop(handle);
    assert!(
        fake.wait_open(0, crate::PATIENCE).await,
        "the fake still sees a connection"
    );
}

#[tokio::test]
async fn stop_reports_stopped_and_closes_the_connection() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    connected(&mut rx).await;
    handle.stop();
    assert_eq!(next_state(&mut rx).await, StreamState::Stopped);
    assert!(rx.recv().await.is_none(), "nothing follows Stopped");
    assert!(fake.wait_open(0, crate::PATIENCE).await);
}

#[tokio::test]
async fn dropping_the_receiver_ends_the_stream() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_mastodon(stream_for(&fake, None), fast_backoff(), tx);
    connected(&mut rx).await;
    drop(rx);
    assert!(fake.wait_open(0, crate::PATIENCE).await);
    tokio::time::timeout(crate::PATIENCE, async {
        while !handle.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the task did not end");
}

#[tokio::test]
async fn the_stream_connects_to_the_streaming_host_the_instance_names() {
    let streaming = streaming::start_mastodon().await.unwrap();
    let (instance_url, seen) = streaming.separate_instance().await.unwrap();
    let stream = MastodonHashtagStream {
        instance_url: Url::parse(&instance_url).unwrap(),
        token: Some(SecretString::from(TOKEN.to_string())),
        tag: "#StVKnee".into(),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let handle = spawn_mastodon(stream, fast_backoff(), tx);
    tokio::time::timeout(Duration::from_secs(20), connected(&mut rx))
        .await
        .expect("the stream connects within 20 s");
    assert!(
        streaming.wait_open(1, Duration::from_secs(10)).await,
        "connected on the streaming host"
    );
    let upgrade = &streaming.connections()[0];
    assert_eq!(upgrade.param("tag").as_deref(), Some("stvknee"));
    assert_eq!(
        upgrade.header("authorization").as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked, vec!["/api/v2/instance".to_string()], "{asked:?}");
    handle.stop_and_wait().await;
}
