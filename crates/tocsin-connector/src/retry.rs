//! The one retry policy: exponential backoff with full jitter, capped, obeying what the
//! platform asked for, and reconciling (never blindly re-posting) when an outcome is
//! unknown on a platform without idempotency keys.

use rand::Rng;
use std::time::Duration;

use crate::ConnectorError;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// The post may exist: look it up before doing anything else.
    Reconcile,
    /// Stop: the failure is permanent or attempts are used up.
    GiveUp,
}

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff ceiling of the first retry.
    pub initial: Duration,
    /// Largest backoff.
    pub max_delay: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Longest `Retry-After` obeyed; a platform asking for more is treated as down.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_attempts: 8,
            max_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the backoff after `attempt` failed attempts (1-based):
    /// `min(max_delay, initial * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.initial.saturating_mul(factor).min(self.max_delay)
    }

    /// Full jitter: a uniformly random delay in `[0, ceiling]`, so that many accounts
    /// failing together do not retry together.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.gen_range(0..=nanos))
    }

    /// What to do after `attempt` attempts (1-based) ended in `error`.
    pub fn decide(
        &self,
        attempt: u32,
        error: &ConnectorError,
        idempotent: bool,
        rng: &mut impl Rng,
    ) -> RetryDecision {
        match error {
            ConnectorError::Unknown(_) if !idempotent => RetryDecision::Reconcile,
            _ if error.is_permanent() => RetryDecision::GiveUp,
            _ if attempt >= self.max_attempts => RetryDecision::GiveUp,
            ConnectorError::RateLimited {
                retry_after: Some(wait),
                ..
            } => {
                if *wait > self.max_retry_after {
                    RetryDecision::GiveUp
                } else {
                    // Obey the platform, plus a little jitter so a crowd doesn't return at once.
                    let extra = self.backoff(1, rng).min(Duration::from_millis(250));
                    RetryDecision::RetryAfter(*wait + extra)
                }
            }
            _ => RetryDecision::RetryAfter(self.backoff(attempt, rng)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::mock::StepRng;
    use rand::SeedableRng;

    #[test]
    fn permanent_failures_are_never_retried() {
        let p = RetryPolicy::default();
        let mut rng = StepRng::new(0, 1);
        for e in [
            ConnectorError::Permanent("422".into()),
            ConnectorError::Auth("401".into()),
            ConnectorError::Config("no url".into()),
        ] {
            assert_eq!(p.decide(1, &e, true, &mut rng), RetryDecision::GiveUp);
        }
    }

    #[test]
    fn an_unknown_outcome_is_reconciled_unless_the_platform_is_idempotent() {
        let p = RetryPolicy::default();
        let mut rng = StepRng::new(0, 1);
        let e = ConnectorError::Unknown("timeout".into());
        assert_eq!(p.decide(1, &e, false, &mut rng), RetryDecision::Reconcile);
        assert!(matches!(
            p.decide(1, &e, true, &mut rng),
            RetryDecision::RetryAfter(_)
        ));
    }

    #[test]
    fn retry_after_is_obeyed_and_an_absurd_one_gives_up() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let e = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
            reason: String::new(),
        };
        match p.decide(1, &e, false, &mut rng) {
            RetryDecision::RetryAfter(d) => {
                assert!(d >= Duration::from_secs(5) && d <= Duration::from_millis(5250))
            }
            other => panic!("{other:?}"),
        }
        let e = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
            reason: String::new(),
        };
        assert_eq!(p.decide(1, &e, false, &mut rng), RetryDecision::GiveUp);
    }

    #[test]
    fn attempts_run_out() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut rng = StepRng::new(0, 1);
        let e = ConnectorError::Transient("503".into());
        assert!(matches!(
            p.decide(2, &e, false, &mut rng),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(p.decide(3, &e, false, &mut rng), RetryDecision::GiveUp);
    }

    proptest! {
        #[test]
        fn backoff_stays_within_its_growing_capped_ceiling(attempt in 1u32..200, seed: u64) {
            let p = RetryPolicy::default();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let d = p.backoff(attempt, &mut rng);
            prop_assert!(d <= p.ceiling(attempt));
            prop_assert!(p.ceiling(attempt) <= p.max_delay);
            prop_assert!(p.ceiling(attempt) <= p.ceiling(attempt + 1));
        }
    }
}
