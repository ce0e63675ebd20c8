//! The monitor's streams against fake Mastodon and Jetstream endpoints on loopback: what
//! is heard, what is skipped, and how connections recover.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod jetstream;
mod mastodon;
mod timeline;
mod tls;
mod urls;

use std::time::Duration;
use tocsin_monitor::{Backoff, Heard, HeardPost, StreamState};
use tokio::sync::mpsc;

/// Long enough for anything on loopback; only reached when a test is failing.
const PATIENCE: Duration = Duration::from_secs(10);

fn fast_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        stable_after: Duration::from_secs(30),
    }
}

async fn next(rx: &mut mpsc::Receiver<Heard>) -> Heard {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("nothing heard in time")
        .expect("the stream ended")
}

/// The next post or deletion, skipping status changes.
async fn next_event(rx: &mut mpsc::Receiver<Heard>) -> Heard {
    loop {
        match next(rx).await {
            Heard::Status(_) => continue,
            other => return other,
        }
    }
}

async fn next_post(rx: &mut mpsc::Receiver<Heard>) -> HeardPost {
    match next_event(rx).await {
        Heard::Post(post) => post,
        other => panic!("expected a post, heard {other:?}"),
    }
}

/// The next state change (failing on a post or deletion in between).
async fn next_state(rx: &mut mpsc::Receiver<Heard>) -> StreamState {
    match next(rx).await {
        Heard::Status(status) => status.state,
        other => panic!("expected a status change, heard {other:?}"),
    }
}

/// Skips state changes until `want` matches one.
async fn until_state(
    rx: &mut mpsc::Receiver<Heard>,
    want: impl Fn(&StreamState) -> bool,
) -> StreamState {
    loop {
        let state = next_state(rx).await;
        if want(&state) {
            return state;
        }
    }
}

async fn connected(rx: &mut mpsc::Receiver<Heard>) {
    until_state(rx, |s| *s == StreamState::Connected).await;
}
