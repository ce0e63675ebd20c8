//! The hashtag monitor's listeners: the public conversation under a live session's
//! hashtag, read live from Mastodon's streaming websocket (with a user token), Mastodon's
//! public hashtag timeline polled (without one), and Bluesky's Jetstream.
//!
//! Each stream runs on its own task ([`spawn_mastodon`], [`spawn_mastodon_timeline`],
//! [`spawn_jetstream`]) and sends
//! what it hears ([`Heard`]: posts as plain text, deletions, and its own connection state
//! for the panel) down an `mpsc` channel. A dropped or refused connection is retried with
//! capped, jittered [`Backoff`]; a connection that sends nothing for the read timeout is
//! taken for dead. Malformed frames are logged and skipped. Storing, de-duplicating
//! across restarts and showing are the consumer's job.
//!
//! Layout: `heard` (the types), `backoff`, `connection` (the reconnecting reader shared by
//! both), `mastodon` and `jetstream` (each platform's URL and frames), `timeline` (the
//! polled Mastodon timeline), `html_text`.

mod backoff;
mod connection;
mod heard;
mod html_text;
pub mod jetstream;
pub mod mastodon;
pub mod timeline;
pub mod trust;

use std::time::Duration;
use tokio::sync::mpsc;

pub use backoff::Backoff;
pub use connection::{StreamHandle, DEFAULT_READ_TIMEOUT};
pub use heard::{Heard, HeardPost, Source, StreamState, StreamStatus};
pub use html_text::html_to_text;
pub use jetstream::JetstreamStream;
pub use mastodon::MastodonHashtagStream;
pub use timeline::{spawn_mastodon_timeline, TimelinePolling};
pub use trust::ExtraRoots;

/// A stream's configuration cannot work; retrying will not help until it is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL's scheme is not http(s) or ws(s).
    #[error("{url}: scheme `{scheme}` is not http, https, ws or wss")]
    Scheme {
        /// The URL as given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The URL has no host.
    #[error("{0}: no host")]
    NoHost(String),
    /// The URL cannot be turned into a stream URL.
    #[error("{0}: not usable as a stream URL")]
    Url(String),
    /// The hashtag is empty or holds spaces.
    #[error("hashtag `{0}` is empty or holds spaces")]
    Tag(String),
}

/// Starts reading one Mastodon hashtag stream (read timeout [`DEFAULT_READ_TIMEOUT`]).
pub fn spawn_mastodon(
    stream: MastodonHashtagStream,
    backoff: Backoff,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    spawn_mastodon_with(
        stream,
        backoff,
        DEFAULT_READ_TIMEOUT,
        ExtraRoots::default(),
        tx,
    )
}

/// [`spawn_mastodon`] with a read timeout of its own, trusting `roots` too.
pub fn spawn_mastodon_with(
    stream: MastodonHashtagStream,
    backoff: Backoff,
    read_timeout: Duration,
    roots: ExtraRoots,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    connection::spawn(
        mastodon::MastodonFeed::new(stream, &roots),
        backoff,
        read_timeout,
        roots,
        tx,
    )
}

/// Starts reading Jetstream for the watched tags (read timeout [`DEFAULT_READ_TIMEOUT`]).
pub fn spawn_jetstream(
    stream: JetstreamStream,
    backoff: Backoff,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    spawn_jetstream_with(
        stream,
        backoff,
        DEFAULT_READ_TIMEOUT,
        ExtraRoots::default(),
        tx,
    )
}

/// [`spawn_jetstream`] with a read timeout of its own, trusting `roots` too.
pub fn spawn_jetstream_with(
    stream: JetstreamStream,
    backoff: Backoff,
    read_timeout: Duration,
    roots: ExtraRoots,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    connection::spawn(
        jetstream::JetstreamFeed::new(stream),
        backoff,
        read_timeout,
        roots,
        tx,
    )
}
