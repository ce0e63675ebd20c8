//! Scripted misbehaviour: what a fake server does instead of (or after) answering.

use std::collections::VecDeque;
use std::time::Duration;

/// One scripted fault, used once by the next matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` seconds, if given) without acting.
    Status {
        /// HTTP status.
        code: u16,
        /// `Retry-After` header, in seconds.
        retry_after: Option<u64>,
        /// Body to send.
        body: String,
    },
    /// Act on the request (the post is created), then drop the connection before the
    /// answer's body arrives.
    DropAfterAccept,
    /// Answer 200 with a body that is not what the API returns.
    Malformed,
    /// Wait this long before answering (on top of the configured latency).
    Slow(Duration),
}

impl Fault {
    /// 429 with a `Retry-After` of `seconds`.
    pub fn rate_limited(seconds: u64) -> Fault {
        Fault::Status {
            code: 429,
            retry_after: Some(seconds),
            body: "{\"error\":\"Too many requests\"}".into(),
        }
    }

    /// A 503 with no advice.
    pub fn unavailable() -> Fault {
        Fault::Status {
            code: 503,
            retry_after: None,
            body: "{\"error\":\"Service unavailable\"}".into(),
        }
    }
}

/// The behaviour of a fake server: a latency for every request, a queue of one-shot
/// faults for write requests, and whether the token is rejected.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Added to every answer.
    pub latency: Duration,
    /// Faults applied, one each, to the next write requests (POST, PUT, DELETE).
    pub next_writes: VecDeque<Fault>,
    /// Answer every request with 401 (as for a revoked token).
    pub reject_token: bool,
}
