//! Whether a claimed delivery may be sent now: the gates it passes before the platform
//! is called. A platform's rate-limit pause, the account's circuit breaker, the host's
//! concurrency limit and the claim's lease each can turn it away; turned away, it is
//! rescheduled rather than failed, so nothing is lost and the platform is spared.

use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::breaker::{Admission, BreakerConfig, Breakers, CircuitBreaker};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The gates of one node, shared by every delivery it sends.
pub(crate) struct Gates {
    breakers: Breakers,
    hosts: DashMap<String, Arc<Semaphore>>,
    paused_until: DashMap<i64, Instant>,
    per_host: usize,
    max_inline_pause: Duration,
    lease: Duration,
}

/// Let through: the account's breaker (to report how the call went) and the host's
/// permit (held until the call is done).
pub(crate) struct Admitted {
    /// The account's breaker.
    pub breaker: Arc<CircuitBreaker>,
    _host: OwnedSemaphorePermit,
}

/// Turned away: try again after `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// How long until it may be tried again.
    pub wait: Duration,
    /// Why, in words.
    pub why: &'static str,
}

impl Gates {
    /// Gates with these limits: `per_host` requests in flight to one host, rate-limit
    /// pauses up to `max_inline_pause` waited out, sends refused in the second half of a
    /// `lease`.
    pub(crate) fn new(
        breaker: BreakerConfig,
        per_host: usize,
        max_inline_pause: Duration,
        lease: Duration,
    ) -> Gates {
        Gates {
            breakers: Breakers::new(breaker),
            hosts: DashMap::new(),
            paused_until: DashMap::new(),
            per_host: per_host.max(1),
            max_inline_pause,
            lease,
        }
    }

    /// The per-account breakers.
    pub(crate) fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// Holds the account's sends for `pause` (the platform's rate limit said so).
    pub(crate) fn pause(&self, account_id: i64, pause: Duration) {
        self.paused_until.insert(account_id, Instant::now() + pause);
    }

    /// Passes a delivery claimed at `claimed_at` to `account_id` on `host` through the
    /// gates, in order: a short rate-limit pause is waited out (a long one refuses), the
    /// breaker must admit it, the host must have room (waited for), and the claim's lease
    /// must still have half its time left, so no other node can have taken it over by
    /// the time the platform answers.
    pub(crate) async fn admit(
        &self,
        account_id: i64,
        host: &str,
        claimed_at: Instant,
    ) -> Result<Admitted, Refused> {
        if let Some(until) = self.paused_until.get(&account_id).map(|u| *u) {
            let now = Instant::now();
            if until > now {
                let wait = until - now;
                if wait > self.max_inline_pause {
                    return Err(Refused {
                        wait,
                        why: "waiting for the platform's rate limit to reset",
                    });
                }
                tokio::time::sleep(wait).await;
            }
        }
        let breaker = self.breakers.for_account(&account_id.to_string());
        if let Admission::Rejected { retry_in } = breaker.admit() {
            return Err(Refused {
                wait: retry_in,
                why: "circuit open: the platform failed repeatedly",
            });
        }
        let Ok(host) = self.host(host).acquire_owned().await else {
            return Err(Refused {
                wait: Duration::from_secs(1),
                why: "shutting down",
            });
        };
        if claimed_at.elapsed() > self.lease / 2 {
            return Err(Refused {
                wait: Duration::ZERO,
                why: "lease nearly expired before sending",
            });
        }
        Ok(Admitted {
            breaker,
            _host: host,
        })
    }

    /// The host's semaphore, looked up before inserting: the entry API would copy the
    /// host name on every delivery.
    fn host(&self, host: &str) -> Arc<Semaphore> {
        match self.hosts.get(host) {
            Some(semaphore) => semaphore.clone(),
            None => self
                .hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates() -> Gates {
        Gates::new(
            BreakerConfig {
                failure_threshold: 2,
                open_for: Duration::from_secs(30),
            },
            1,
            Duration::from_secs(2),
            Duration::from_secs(60),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_rate_limit_pause_is_waited_out_and_a_long_one_refuses() {
        let g = gates();
        g.pause(7, Duration::from_secs(1));
        let before = Instant::now();
        assert!(g.admit(7, "h", Instant::now()).await.is_ok());
        assert!(Instant::now() - before >= Duration::from_secs(1));

        g.pause(7, Duration::from_secs(10));
        let refused = g.admit(7, "h", Instant::now()).await.err();
        assert_eq!(
            refused.map(|r| r.why),
            Some("waiting for the platform's rate limit to reset")
        );
        assert!(
            g.admit(8, "h", Instant::now()).await.is_ok(),
            "another account is not held"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_refuses_until_it_may_probe() {
        let g = gates();
        let breaker = g.breakers().for_account("7");
        breaker.record_outage();
        breaker.record_outage();
        let refused = g.admit(7, "h", Instant::now()).await.err();
        assert_eq!(
            refused.map(|r| r.why),
            Some("circuit open: the platform failed repeatedly")
        );
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(g.admit(7, "h", Instant::now()).await.is_ok(), "the probe");
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_at_its_limit_holds_the_next_send_until_one_finishes() {
        let g = Arc::new(gates());
        let first = g.admit(1, "h", Instant::now()).await;
        assert!(first.is_ok());
        let waiting = tokio::spawn({
            let g = g.clone();
            async move { g.admit(2, "h", Instant::now()).await.is_ok() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the host has one slot, taken");
        assert!(g.admit(3, "other", Instant::now()).await.is_ok());
        drop(first);
        assert!(waiting.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_past_half_its_lease_is_not_sent() {
        let g = gates();
        let claimed_at = Instant::now();
        tokio::time::advance(Duration::from_secs(31)).await;
        let refused = g.admit(7, "h", claimed_at).await.err();
        assert_eq!(
            refused,
            Some(Refused {
                wait: Duration::ZERO,
                why: "lease nearly expired before sending"
            })
        );
    }
}
