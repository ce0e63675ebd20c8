//! Scripted misbehaviour: what a fake server does instead of (or after) answering.
//!
//! Faults are one-shot: queued for the next write request, or for the next request to a
//! route (`push_fault_at`), so a test can fault the very request that makes a post (a
//! Threads publish, a Bluesky `createRecord`) and not the session or container before it.

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
    /// Answer with this status, these headers and this body without acting: a platform's
    /// own dialect of a refusal (a 429 with `x-rate-limit-reset`, Telegram's
    /// `parameters.retry_after`, ...).
    Answer {
        /// HTTP status.
        code: u16,
        /// Headers, in order.
        headers: Vec<(String, String)>,
        /// Body to send.
        body: String,
    },
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

    /// An answer with this status and body (JSON), without acting; add headers with
    /// [`Fault::with_header`].
    pub fn answer(code: u16, body: impl Into<String>) -> Fault {
        Fault::Answer {
            code,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// The same answer with one more header (for [`Fault::Answer`] and [`Fault::Status`];
    /// other faults are returned as they are).
    pub fn with_header(self, name: &str, value: impl Into<String>) -> Fault {
        match self {
            Fault::Answer {
                code,
                mut headers,
                body,
            } => {
                headers.push((name.to_string(), value.into()));
                Fault::Answer {
                    code,
                    headers,
                    body,
                }
            }
            Fault::Status {
                code,
                retry_after,
                body,
            } => Fault::Answer {
                code,
                headers: retry_after
                    .map(|s| ("retry-after".to_string(), s.to_string()))
                    .into_iter()
                    .chain([(name.to_string(), value.into())])
                    .collect(),
                body,
            },
            other => other,
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
/// faults for write requests, faults for the next request to a route, and whether the
/// token is rejected.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Added to every answer.
    pub latency: Duration,
    /// Faults applied, one each, to the next write requests (POST, PUT, DELETE).
    pub next_writes: VecDeque<Fault>,
    /// Faults applied, one each, to the next request (any method) whose path and query
    /// contain the text; these go before `next_writes`.
    pub at: VecDeque<(String, Fault)>,
    /// Answer every request with 401 (as for a revoked token).
    pub reject_token: bool,
    /// Answer every request with this status and body instead: a platform's own
    /// refusal of a revoked secret (Slack's `200 invalid_auth`, Graph's code 190).
    pub reject_with: Option<(u16, String)>,
}
