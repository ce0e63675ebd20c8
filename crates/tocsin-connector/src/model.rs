//! What goes to a platform and what comes back: the post, the remote post's identity,
//! the rate-limit state a platform reported with its answer, and the publishing quota
//! a platform reports when asked.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One post to send to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingPost {
    /// Stable for a (message, account) pair: sent as the platform's idempotency key
    /// where it takes one, and used to find the post again when an outcome is unknown.
    pub idempotency_key: String,
    /// The text exactly as approved for this platform.
    pub text: String,
    /// The HTML part (email).
    pub html: Option<String>,
    /// A subject or title (email subject, CAP headline, Teams card title).
    pub title: Option<String>,
    /// The post this one replies to in the account's thread (live sessions, corrections).
    pub reply_to: Option<RemotePost>,
    /// The first post of the thread (Bluesky's reply root, email References).
    pub thread_root: Option<RemotePost>,
    /// An exercise (drill): connectors mark it where the platform can carry a marker.
    pub exercise: bool,
    /// Images to attach, in order (at most four), each with its approved description.
    /// Connectors for platforms that take no image send the text alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PostImage>,
    /// The BCP 47 tag of the text's language when it is not the playbook's primary
    /// language (the Spanish post of an account posting English and Spanish); connectors
    /// that tag a post's language (Mastodon `language`, Bluesky `langs`) use it before the
    /// account's own `language` setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Where a post sent as several parts (SMS recipients) keeps which went out.
    #[serde(skip)]
    pub ledger: crate::progress::Ledger,
}

impl OutgoingPost {
    /// A plain post with no thread.
    pub fn new(idempotency_key: impl Into<String>, text: impl Into<String>) -> Self {
        OutgoingPost {
            idempotency_key: idempotency_key.into(),
            text: text.into(),
            html: None,
            title: None,
            reply_to: None,
            thread_root: None,
            exercise: false,
            images: Vec::new(),
            language: None,
            ledger: crate::progress::Ledger::default(),
        }
    }
}

/// One image attached to a post: checked, stripped of metadata and stored by content
/// hash before it got here, and described by alt text that was reviewed with the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostImage {
    /// Lower-case hex SHA-256 of `bytes`: the name it is stored and reviewed under.
    pub sha256: String,
    /// The media type read from the content (`image/png`, `image/jpeg`, `image/webp`,
    /// `image/gif`), never from a file name.
    pub media_type: String,
    /// Pixel width and height, for platforms that want an aspect ratio.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// The description screen readers read: required, approved with the post.
    pub alt: String,
    /// The file itself, as stored.
    #[serde(skip)]
    pub bytes: bytes::Bytes,
    /// Where a platform that fetches images itself (Instagram) can get it while the
    /// delivery needs it: `[server] public_url` plus an unguessable path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A post as it exists on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePost {
    /// The platform's id (Mastodon status id, AT URI, Matrix event id, Message-ID, ...).
    pub id: String,
    /// A link people can open, where the platform has one.
    pub url: Option<String>,
    /// Anything else needed to reply to or delete it (Bluesky CID, Slack channel, ...).
    pub extra: Option<String>,
}

/// What a platform said about its rate limit alongside a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset_after: Option<Duration>,
}

impl RateLimitStatus {
    /// How long to hold further requests to this account: until the reset when nothing
    /// is left, otherwise not at all.
    pub fn pause(&self) -> Option<Duration> {
        match (self.remaining, self.reset_after) {
            (Some(0), Some(reset)) => Some(reset),
            _ => None,
        }
    }
}

/// How many posts an account may publish in a platform's window, as the platform
/// reports it when asked (Instagram's `content_publishing_limit`, Threads'
/// `threads_publishing_limit`), so that people can see it before they approve a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishingQuota {
    /// Posts published in the current window.
    pub used: u64,
    /// Posts the window allows.
    pub total: u64,
    /// How long the window is (it rolls: the oldest post leaves it first).
    pub window: Duration,
}

impl PublishingQuota {
    /// Posts left in the window.
    pub fn left(&self) -> u64 {
        self.total.saturating_sub(self.used)
    }

    /// As the shared layer reads rate limits. The window rolls, so no reset time is
    /// known: nothing left is a rate limit at the next post, not a timed pause.
    pub fn rate_limit_status(&self) -> RateLimitStatus {
        RateLimitStatus {
            remaining: Some(self.left()),
            reset_after: None,
        }
    }
}

/// A successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOutcome {
    /// The post as created.
    pub remote: RemotePost,
    /// Rate-limit state reported with the answer.
    pub rate_limit: Option<RateLimitStatus>,
}

impl PostOutcome {
    /// An outcome with no rate-limit information.
    pub fn new(remote: RemotePost) -> Self {
        PostOutcome {
            remote,
            rate_limit: None,
        }
    }
}
