//! Mastodon's public hashtag timeline, polled against the fake instance: each status heard
//! once, failures reported and recovered from, statuses without the tag left out.

use crate::{connected, fast_backoff, next, next_post, next_state, PATIENCE};
use secrecy::SecretString;
use std::time::Duration;
use tocsin_monitor::{
    spawn_mastodon_timeline, Heard, MastodonHashtagStream, StreamState, TimelinePolling,
};
use tocsin_test_support::streaming::{self, mastodon_status, FakeStream};
use tokio::sync::mpsc;
use url::Url;

fn quick() -> TimelinePolling {
    TimelinePolling {
        every: Duration::from_millis(40),
        timeout: Duration::from_secs(5),
        ..TimelinePolling::default()
    }
}

fn stream_for(fake: &FakeStream) -> MastodonHashtagStream {
    MastodonHashtagStream {
        instance_url: Url::parse(&fake.base_url).expect("url"),
        token: None,
        tag: "#StVKnee".into(),
    }
}

/// Nothing but state changes for the next `polls` polls.
async fn nothing_heard_for(fake: &FakeStream, rx: &mut mpsc::Receiver<Heard>, polls: usize) {
    let until = fake.polls().len() + polls;
    assert!(fake.wait_polls(until, PATIENCE).await);
    while let Ok(heard) = rx.try_recv() {
        assert!(matches!(heard, Heard::Status(_)), "heard {heard:?}");
    }
}

#[tokio::test]
async fn new_statuses_are_heard_once_across_polls_and_older_ones_not_at_all() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("100", "old", "<p>before</p>", &["stvknee"]),
    );
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_timeline(stream_for(&fake), quick(), fast_backoff(), tx);
    assert_eq!(next_state(&mut rx).await, StreamState::Connecting);
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
    nothing_heard_for(&fake, &mut rx, 2).await;

    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("101", "ann", "<p>Does it <b>hurt</b>?</p>", &["StvKnee"]),
    );
    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("102", "bob", "<p>Next</p>", &["stvknee"]),
    );
    let first = next_post(&mut rx).await;
    assert_eq!(first.remote_id, "101");
    assert_eq!(first.text, "Does it hurt?");
    assert_eq!(first.author_handle, "ann");
    assert_eq!(next_post(&mut rx).await.remote_id, "102");
    nothing_heard_for(&fake, &mut rx, 3).await;

    let polls = fake.polls();
    assert!(polls.iter().all(|p| p.refused.is_none()));
    assert_eq!(polls[0].param("tag").as_deref(), Some("stvknee"));
    assert_eq!(polls[0].param("limit").as_deref(), Some("40"));
    assert_eq!(polls[0].param("since_id"), None);
    assert_eq!(polls[1].param("since_id").as_deref(), Some("100"));
    assert_eq!(
        polls.last().and_then(|p| p.param("since_id")).as_deref(),
        Some("102")
    );
    assert!(polls.iter().all(|p| p.header("authorization").is_none()));
    assert_eq!(fake.accepted(), 0, "no websocket was opened");
}

#[tokio::test]
async fn a_failing_instance_is_reported_reconnecting_and_recovers_without_losing_statuses() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_timeline(stream_for(&fake), quick(), fast_backoff(), tx);
    connected(&mut rx).await;
    fake.refuse_next(503, 2);
    // Posted while the instance fails: heard once it answers again.
    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("7", "dr", "<p>during</p>", &["stvknee"]),
    );
    for expected in 1..=2 {
        match next(&mut rx).await {
            Heard::Status(status) => match status.state {
                StreamState::Reconnecting {
                    attempt,
                    retry_in,
                    last_error,
                } => {
                    assert_eq!(attempt, expected);
                    assert!(retry_in <= fast_backoff().max);
                    assert!(last_error.contains("503"), "{last_error}");
                }
                other => panic!("expected reconnecting, got {other:?}"),
            },
            other => panic!("expected reconnecting, got {other:?}"),
        }
    }
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
    assert_eq!(next_post(&mut rx).await.remote_id, "7");
}

#[tokio::test]
async fn rate_limiting_waits_as_long_as_retry_after_asks() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_timeline(stream_for(&fake), quick(), fast_backoff(), tx);
    connected(&mut rx).await;
    fake.set_retry_after(Some(1));
    fake.refuse_next(429, 1);
    match next_state(&mut rx).await {
        StreamState::Reconnecting {
            attempt: 1,
            retry_in,
            last_error,
        } => {
            assert!(retry_in >= Duration::from_secs(1), "{retry_in:?}");
            assert!(last_error.contains("429"), "{last_error}");
        }
        other => panic!("expected reconnecting, got {other:?}"),
    }
    let refused_at = tokio::time::Instant::now();
    assert_eq!(next_state(&mut rx).await, StreamState::Connected);
    assert!(refused_at.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn an_instance_that_wants_sign_in_says_so() {
    let fake = streaming::start_mastodon().await.expect("fake");
    fake.refuse_next(401, 1);
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_timeline(stream_for(&fake), quick(), fast_backoff(), tx);
    assert_eq!(next_state(&mut rx).await, StreamState::Connecting);
    let state = next_state(&mut rx).await;
    assert!(
        matches!(&state, StreamState::Reconnecting { last_error, .. } if last_error.contains("signed-in") && last_error.contains("401")),
        "{state:?}"
    );
    connected(&mut rx).await;
}

#[tokio::test]
async fn statuses_without_the_tag_and_reblogs_are_left_out_but_still_move_the_cursor() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_mastodon_timeline(stream_for(&fake), quick(), fast_backoff(), tx);
    connected(&mut rx).await;
    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("20", "x", "<p>other</p>", &["stvkneecap"]),
    );
    let mut reblog = mastodon_status("21", "booster", "<p>RT</p>", &["stvknee"]);
    reblog["reblog"] = mastodon_status("1", "orig", "<p>orig</p>", &["stvknee"]);
    fake.add_to_timeline("stvknee", &reblog);
    fake.add_to_timeline(
        "stvknee",
        &mastodon_status("22", "ann", "<p>mine</p>", &["stvknee"]),
    );
    assert_eq!(next_post(&mut rx).await.remote_id, "22");
    nothing_heard_for(&fake, &mut rx, 2).await;
    assert_eq!(
        fake.polls()
            .last()
            .and_then(|p| p.param("since_id"))
            .as_deref(),
        Some("22")
    );
}

#[tokio::test]
async fn a_token_goes_as_bearer_and_stop_reports_stopped() {
    let fake = streaming::start_mastodon().await.expect("fake");
    let mut stream = stream_for(&fake);
    stream.token = Some(SecretString::from("poll-token".to_string()));
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_mastodon_timeline(stream, quick(), fast_backoff(), tx);
    connected(&mut rx).await;
    assert_eq!(
        fake.polls()[0].header("authorization").as_deref(),
        Some("Bearer poll-token")
    );
    handle.stop();
    assert_eq!(
        crate::until_state(&mut rx, |s| *s == StreamState::Stopped).await,
        StreamState::Stopped
    );
    assert!(rx.recv().await.is_none(), "nothing follows Stopped");
}
