//! A circuit breaker per account: after repeated outages stop calling the platform,
//! then let one probe through to see whether it is back.
//!
//! Time comes from `tokio::time::Instant`, so tests drive it with a paused clock.

use dashmap::DashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive outage failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a probe is allowed.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Allowed,
    /// Go ahead as the single probe of a half-open breaker.
    Probe,
    /// Don't call; ask again after this long.
    Rejected {
        /// Time until a probe may be tried.
        retry_in: Duration,
    },
}

impl Admission {
    /// Whether the call may be made.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Admission::Rejected { .. })
    }
}

/// One account's breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A poisoned lock only means another task panicked mid-update; the state is
        // still a valid enum value, so carry on with it.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Asks to make a call now.
    pub fn admit(&self) -> Admission {
        let now = Instant::now();
        self.with_state(|s| match *s {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now < until => Admission::Rejected {
                retry_in: until - now,
            },
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *s = State::HalfOpen { probing: true };
                Admission::Probe
            }
            State::HalfOpen { probing: true } => Admission::Rejected {
                retry_in: self.config.open_for / 4,
            },
        })
    }

    /// The call succeeded (or failed in a way that says the platform is up).
    pub fn record_success(&self) {
        self.with_state(|s| *s = State::Closed { failures: 0 });
    }

    /// The call failed in a way that suggests the platform is down.
    pub fn record_outage(&self) {
        let now = Instant::now();
        let threshold = self.config.failure_threshold.max(1);
        let open_for = self.config.open_for;
        self.with_state(|s| {
            *s = match *s {
                State::Closed { failures } if failures + 1 < threshold => State::Closed {
                    failures: failures + 1,
                },
                _ => State::Open {
                    until: now + open_for,
                },
            }
        });
    }

    /// `closed`, `open` or `half_open`, for the panel and metrics.
    pub fn state_name(&self) -> &'static str {
        self.with_state(|s| match s {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half_open",
        })
    }
}

/// The breakers of every account, created on first use.
#[derive(Debug, Default)]
pub struct Breakers {
    config: BreakerConfig,
    by_account: DashMap<String, Arc<CircuitBreaker>>,
}

impl Breakers {
    /// Breakers with these settings.
    pub fn new(config: BreakerConfig) -> Self {
        Breakers {
            config,
            by_account: DashMap::new(),
        }
    }

    /// The breaker of an account.
    pub fn for_account(&self, account: &str) -> Arc<CircuitBreaker> {
        // Looked up first: the entry API would copy the key on every call.
        if let Some(breaker) = self.by_account.get(account) {
            return breaker.clone();
        }
        self.by_account
            .entry(account.to_string())
            .or_insert_with(|| Arc::new(CircuitBreaker::new(self.config)))
            .clone()
    }

    /// How many breakers are open or half-open now.
    pub fn open_count(&self) -> usize {
        self.by_account
            .iter()
            .filter(|b| b.state_name() != "closed")
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn repeated_outages_open_the_breaker_then_one_probe_is_let_through() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
        });
        for _ in 0..2 {
            assert_eq!(b.admit(), Admission::Allowed);
            b.record_outage();
        }
        assert_eq!(b.state_name(), "closed");
        b.record_outage();
        assert_eq!(b.state_name(), "open");
        assert!(matches!(b.admit(), Admission::Rejected { .. }));

        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.admit(), Admission::Probe);
        assert!(
            matches!(b.admit(), Admission::Rejected { .. }),
            "only one probe at a time"
        );
        b.record_outage();
        assert_eq!(b.state_name(), "open", "a failed probe reopens");

        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.admit(), Admission::Probe);
        b.record_success();
        assert_eq!(b.state_name(), "closed");
        assert_eq!(b.admit(), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_failure_count() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(10),
        });
        b.record_outage();
        b.record_success();
        b.record_outage();
        assert_eq!(b.state_name(), "closed");
    }

    #[test]
    fn each_account_has_its_own_breaker() {
        let all = Breakers::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_secs(60),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            all.for_account("a").record_outage();
            assert_eq!(all.for_account("a").state_name(), "open");
            assert_eq!(all.for_account("b").state_name(), "closed");
            assert_eq!(all.open_count(), 1);
        });
    }
}
