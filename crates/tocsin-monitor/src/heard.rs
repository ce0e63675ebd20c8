//! What the monitor hears: posts, deletions and the state of each stream, as plain data
//! the store and the panel consume. Nothing here does I/O.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// Where a post was heard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum Source {
    /// A Mastodon instance's hashtag stream.
    Mastodon {
        /// The instance's host (with `:port` when not the default), e.g. `mastodon.social`.
        instance: String,
    },
    /// Bluesky, through Jetstream.
    Bluesky,
}

/// One public post under a watched hashtag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeardPost {
    /// Where it was heard.
    pub source: Source,
    /// Mastodon: the status id (on that instance); Bluesky: the post's `at://` URI.
    pub remote_id: String,
    /// Its hashtags, lowercase, without `#`.
    pub tags: Vec<String>,
    /// Mastodon: the account's `acct`; Bluesky: the author's DID.
    pub author_handle: String,
    /// Mastodon: the display name; Bluesky carries no profile on Jetstream. Falls back to
    /// `author_handle` when empty, so it is never blank.
    pub author_name: String,
    /// Plain text: HTML stripped, line breaks kept, entities decoded.
    pub text: String,
    /// A link to the post on the web, when known.
    pub url: Option<String>,
    /// When the author posted it (as the post claims).
    pub posted_at: DateTime<Utc>,
}

/// One thing heard on a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Heard {
    /// A new post under a watched tag.
    Post(HeardPost),
    /// A post was deleted by its author. Bluesky deletes are only reported for posts this
    /// stream reported earlier in its life.
    Deleted {
        /// Where.
        source: Source,
        /// The deleted post's `remote_id`.
        remote_id: String,
    },
    /// A stream connected, dropped, or stopped.
    Status(StreamStatus),
}

/// The state of one stream, for the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamStatus {
    /// A stable name, e.g. `mastodon mastodon.social #stvknee` or `bluesky jetstream`.
    pub stream: String,
    /// What it is doing.
    pub state: StreamState,
}

/// What a stream is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StreamState {
    /// Opening the first connection.
    Connecting,
    /// Connected and reading.
    Connected,
    /// The connection failed or dropped; the next try is `retry_in` from now.
    Reconnecting {
        /// Tries since the last connection that stayed up (1 for the first retry).
        attempt: u32,
        /// How long until the next try.
        #[serde(with = "millis")]
        retry_in: Duration,
        /// Why the last connection failed, in words for the panel (never a token).
        last_error: String,
    },
    /// Stopped on request; no more events follow.
    Stopped,
}

/// Durations serialize as whole milliseconds (`retry_in: 1500`).
mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn source_and_state_serialize_for_the_panel() {
        let source = Source::Mastodon {
            instance: "mastodon.social".into(),
        };
        assert_eq!(
            serde_json::to_value(&source).ok(),
            Some(json!({"platform": "mastodon", "instance": "mastodon.social"}))
        );
        assert_eq!(
            serde_json::to_value(Source::Bluesky).ok(),
            Some(json!({"platform": "bluesky"}))
        );
        let state = StreamState::Reconnecting {
            attempt: 2,
            retry_in: Duration::from_millis(1500),
            last_error: "instance refused the token (401)".into(),
        };
        assert_eq!(
            serde_json::to_value(&state).ok(),
            Some(
                json!({"state": "reconnecting", "attempt": 2, "retry_in": 1500,
                        "last_error": "instance refused the token (401)"})
            )
        );
        assert_eq!(
            serde_json::to_value(StreamState::Connected).ok(),
            Some(json!({"state": "connected"}))
        );
    }
}
