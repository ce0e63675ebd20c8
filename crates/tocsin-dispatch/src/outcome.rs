//! What one delivery attempt came to, said once.
//!
//! The steps of an attempt (admission, reconcile, send, decide) each end in an
//! [`Outcome`]; the recorder turns it into the outbox row's result and, after the commit,
//! into the event panels see. Both are conversions of the same value, so the row and the
//! event cannot disagree.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_store::outbox::{RecordedPost, ResultOutcome};

use crate::events::DeliveryEventKind;

/// What one attempt on one account came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// On the platform (posted, or deleted for a deletion): the remote post.
    Delivered(RemotePost),
    /// Not done; try again at `at`.
    Retry {
        /// When the delivery is due again.
        at: DateTime<Utc>,
        /// Why, in words.
        error: String,
    },
    /// Sent, but the platform's answer was lost: look it up at `at` before any resend.
    Unknown {
        /// When to reconcile.
        at: DateTime<Utc>,
        /// Why, in words.
        error: String,
    },
    /// Given up on for good.
    Failed {
        /// Why, in words.
        error: String,
        /// Whether the platform refused the account's credentials.
        auth: bool,
    },
    /// Not sent: the message was retracted first.
    Cancelled,
    /// Not sent: the account was disabled after the message was approved.
    Skipped(String),
}

impl Outcome {
    /// Given up on for a reason other than the account's credentials.
    pub(crate) fn failed(error: impl Into<String>) -> Outcome {
        Outcome::Failed {
            error: error.into(),
            auth: false,
        }
    }

    /// To be tried again `wait` after `now`.
    pub(crate) fn retry_in(
        now: DateTime<Utc>,
        wait: Duration,
        error: impl Into<String>,
    ) -> Outcome {
        Outcome::Retry {
            at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
            error: error.into(),
        }
    }

    /// When the delivery is due again, for outcomes that come back (retry, reconcile).
    pub(crate) fn due_again(&self) -> Option<DateTime<Utc>> {
        match self {
            Outcome::Retry { at, .. } | Outcome::Unknown { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// The result recorded on the outbox row.
impl From<&Outcome> for ResultOutcome {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Delivered(p) => ResultOutcome::Sent(RecordedPost {
                remote_id: p.id.clone(),
                remote_url: p.url.clone(),
                remote_extra: p.extra.clone(),
            }),
            Outcome::Retry { at, error } => ResultOutcome::Retry {
                at: *at,
                error: error.clone(),
            },
            Outcome::Unknown { at, error } => ResultOutcome::Unknown {
                at: *at,
                error: error.clone(),
            },
            Outcome::Failed { error, .. } => ResultOutcome::Failed {
                error: error.clone(),
            },
            Outcome::Cancelled => ResultOutcome::Cancelled,
            Outcome::Skipped(reason) => ResultOutcome::Skipped {
                reason: reason.clone(),
            },
        }
    }
}

/// The event published once the result is recorded.
impl From<&Outcome> for DeliveryEventKind {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Delivered(p) => DeliveryEventKind::Delivered {
                remote_id: p.id.clone(),
                url: p.url.clone(),
            },
            Outcome::Retry { at, error } => DeliveryEventKind::Retrying {
                next_attempt_at: *at,
                error: error.clone(),
            },
            Outcome::Unknown { error, .. } => DeliveryEventKind::Unknown {
                error: error.clone(),
            },
            Outcome::Failed { error, auth } => DeliveryEventKind::Failed {
                error: error.clone(),
                auth: *auth,
            },
            Outcome::Cancelled => DeliveryEventKind::Cancelled,
            Outcome::Skipped(reason) => DeliveryEventKind::Skipped {
                error: reason.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Outcome> {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        vec![
            Outcome::Delivered(RemotePost {
                id: "109".into(),
                url: Some("https://example.social/@health/109".into()),
                extra: Some("cid".into()),
            }),
            Outcome::Retry {
                at,
                error: "HTTP 503".into(),
            },
            Outcome::Unknown {
                at,
                error: "timed out".into(),
            },
            Outcome::Failed {
                error: "HTTP 401".into(),
                auth: true,
            },
            Outcome::failed("no approved text for sms"),
            Outcome::Cancelled,
            Outcome::Skipped("account 3 was disabled after approval".into()),
        ]
    }

    #[test]
    fn the_row_and_the_event_of_an_outcome_name_the_same_state() {
        for outcome in every_kind() {
            let row = ResultOutcome::from(&outcome);
            let event = DeliveryEventKind::from(&outcome);
            let row_state = match row {
                ResultOutcome::Sent(_) => "delivered",
                ResultOutcome::Retry { .. } => "retrying",
                ResultOutcome::Failed { .. } => "failed",
                ResultOutcome::Unknown { .. } => "unknown",
                ResultOutcome::Cancelled => "cancelled",
                ResultOutcome::Skipped { .. } => "skipped",
            };
            assert_eq!(row_state, event.name(), "{outcome:?}");
        }
    }

    #[test]
    fn a_delivered_outcome_records_the_remote_post_and_announces_its_link() {
        let outcome = &every_kind()[0];
        assert_eq!(
            ResultOutcome::from(outcome),
            ResultOutcome::Sent(RecordedPost {
                remote_id: "109".into(),
                remote_url: Some("https://example.social/@health/109".into()),
                remote_extra: Some("cid".into()),
            })
        );
        assert_eq!(
            DeliveryEventKind::from(outcome),
            DeliveryEventKind::Delivered {
                remote_id: "109".into(),
                url: Some("https://example.social/@health/109".into()),
            }
        );
    }

    #[test]
    fn retries_and_reconciliations_come_back_at_their_time_and_nothing_else_does() {
        let due: Vec<bool> = every_kind()
            .iter()
            .map(|o| o.due_again().is_some())
            .collect();
        assert_eq!(due, [false, true, true, false, false, false, false]);
    }
}
