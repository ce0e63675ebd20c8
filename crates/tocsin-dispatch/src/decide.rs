//! What a failed call means for the delivery: again later, look it up, or stop.
//!
//! The shared [`RetryPolicy`] says whether to retry and when (full-jitter backoff, the
//! platform's `Retry-After`); here that becomes an [`Outcome`] with a time on the
//! database's clock, and a rate-limit answer also holds the account's other sends. Pure:
//! the caller applies the pause.

use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;
use tocsin_connector::retry::{RetryDecision, RetryPolicy};
use tocsin_connector::ConnectorError;

use crate::outcome::Outcome;

/// A failed attempt's outcome, and how long to hold the account's sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decided {
    /// What the attempt came to.
    pub outcome: Outcome,
    /// The platform rate-limited the account: hold its sends this long.
    pub pause: Option<Duration>,
}

/// Decides after attempt number `attempt` failed with `error` at `now`, on a platform
/// that is `idempotent` or not: a rate limit is obeyed (and pauses the account), other
/// transient failures back off with jitter, a lost answer on a platform without
/// idempotency is reconciled before any resend, and permanent, credential and exhausted
/// failures stop (saying whether the credentials were refused).
pub(crate) fn decide(
    error: &ConnectorError,
    attempt: i64,
    idempotent: bool,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Decided {
    let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
    let text = error.to_string();
    match policy.decide(attempt, error, idempotent, rng) {
        RetryDecision::RetryAfter(wait) => Decided {
            outcome: Outcome::retry_in(now, wait, text),
            pause: matches!(error, ConnectorError::RateLimited { .. }).then_some(wait),
        },
        RetryDecision::Reconcile => {
            let wait = policy.backoff(1, rng);
            Decided {
                outcome: Outcome::Unknown {
                    at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
                    error: text,
                },
                pause: None,
            }
        }
        RetryDecision::GiveUp => Decided {
            outcome: Outcome::Failed {
                error: text,
                auth: matches!(error, ConnectorError::Auth(_)),
            },
            pause: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_attempts: 5,
            max_retry_after: Duration::from_secs(600),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn decided(error: ConnectorError, attempt: i64, idempotent: bool) -> Decided {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        decide(&error, attempt, idempotent, &policy(), now(), &mut rng)
    }

    #[test]
    fn a_platform_outage_is_retried_after_a_jittered_backoff_without_holding_the_account() {
        let d = decided(ConnectorError::Transient("HTTP 503".into()), 3, true);
        let Outcome::Retry { at, error } = &d.outcome else {
            panic!("{d:?}");
        };
        assert!(*at >= now() && *at <= now() + chrono::Duration::milliseconds(400));
        assert_eq!(error, "temporary failure: HTTP 503");
        assert_eq!(d.pause, None);
    }

    #[test]
    fn a_rate_limit_is_obeyed_and_holds_the_account_s_other_sends() {
        let d = decided(
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
                reason: "HTTP 429".into(),
            },
            1,
            true,
        );
        let pause = d.pause.unwrap();
        assert!(pause >= Duration::from_secs(30) && pause <= Duration::from_millis(30_250));
        assert_eq!(
            d.outcome.due_again(),
            Some(now() + chrono::Duration::from_std(pause).unwrap())
        );
    }

    #[test]
    fn a_lost_answer_is_reconciled_where_the_platform_has_no_idempotency_key() {
        let lost = || ConnectorError::Unknown("timed out".into());
        assert!(matches!(
            decided(lost(), 1, false).outcome,
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            decided(lost(), 1, true).outcome,
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn refused_credentials_and_refused_posts_stop_at_once_and_say_which() {
        let auth = decided(ConnectorError::Auth("HTTP 401".into()), 1, true);
        assert_eq!(
            auth.outcome,
            Outcome::Failed {
                error: "authentication failed: HTTP 401".into(),
                auth: true
            }
        );
        let refused = decided(ConnectorError::Permanent("HTTP 422".into()), 1, true);
        assert_eq!(
            refused.outcome,
            Outcome::Failed {
                error: "refused: HTTP 422".into(),
                auth: false
            }
        );
    }

    #[test]
    fn the_last_allowed_attempt_failing_stops() {
        let d = decided(ConnectorError::Transient("HTTP 503".into()), 5, true);
        assert!(matches!(d.outcome, Outcome::Failed { auth: false, .. }));
    }
}
