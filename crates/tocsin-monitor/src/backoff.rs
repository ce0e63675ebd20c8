//! When to try again: capped exponential backoff with full jitter (a random wait between
//! zero and the cap), so many monitors restarting together do not reconnect in step.

use rand::Rng;
use std::time::Duration;

/// The reconnect policy of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub initial: Duration,
    /// No wait is ever longer than this.
    pub max: Duration,
    /// A connection that stayed up this long counts as healthy: the next failure starts
    /// again from `initial`.
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The longest wait before retry number `attempt` (1 for the first retry):
    /// `initial * 2^(attempt-1)`, capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// A random wait for retry number `attempt`, between zero and [`Backoff::ceiling`].
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        if ceiling.is_zero() {
            return ceiling;
        }
        ceiling.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_initial_and_stops_at_max() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(6), Duration::from_secs(32));
        assert_eq!(b.ceiling(7), Duration::from_secs(60));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn every_delay_lies_between_zero_and_the_ceiling() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            stable_after: Duration::from_secs(1),
        };
        for attempt in 1..40 {
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(
                    d <= b.ceiling(attempt),
                    "{d:?} over {:?}",
                    b.ceiling(attempt)
                );
                assert!(d <= b.max);
            }
        }
    }

    #[test]
    fn delays_are_spread_rather_than_all_at_the_ceiling() {
        let b = Backoff::default();
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(10)).collect();
        assert!(delays.iter().any(|d| *d < Duration::from_secs(30)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(30)));
    }

    #[test]
    fn a_zero_backoff_never_waits() {
        let b = Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            stable_after: Duration::ZERO,
        };
        assert_eq!(b.delay(5), Duration::ZERO);
    }
}
