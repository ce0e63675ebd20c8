//! Sign-in throttling, per user name and per client address, in memory.
//!
//! After a number of free failures each further failure blocks the key for a window that
//! doubles each time, up to a cap; failures older than `forget_after` are forgotten. A
//! success clears the name's record but not the address's, so an attacker cannot clear
//! their address by signing in to an account of their own between guesses. Time is passed
//! in, so tests move it by hand. Each node throttles on its own; the limits hold per node.

use chrono::{DateTime, Duration, Utc};
use dashmap::DashMap;
use std::net::IpAddr;

/// One key's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures allowed before the first block.
    pub free_failures: u32,
    /// The first block's length; each further failure doubles it.
    pub first_block: Duration,
    /// The longest block.
    pub max_block: Duration,
}

/// Throttling settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Per user name (as typed, case-folded).
    pub per_name: Limit,
    /// Per client address (looser: an office shares one).
    pub per_ip: Limit,
    /// Failures older than this are forgotten.
    pub forget_after: Duration,
    /// Records kept at most; past it, forgotten ones are pruned.
    pub max_records: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            per_name: Limit {
                free_failures: 5,
                first_block: Duration::seconds(30),
                max_block: Duration::minutes(15),
            },
            per_ip: Limit {
                free_failures: 20,
                first_block: Duration::seconds(30),
                max_block: Duration::minutes(15),
            },
            forget_after: Duration::hours(1),
            max_records: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: DateTime<Utc>,
    blocked_until: Option<DateTime<Utc>>,
}

/// Sign-in failures by name and by address.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    policy: ThrottlePolicy,
    by_name: DashMap<String, Record>,
    by_ip: DashMap<IpAddr, Record>,
}

fn remaining(record: Option<Record>, now: DateTime<Utc>) -> Option<Duration> {
    record
        .and_then(|r| r.blocked_until)
        .filter(|until| *until > now)
        .map(|until| until - now)
}

fn fail(record: &mut Record, limit: &Limit, forget_after: Duration, now: DateTime<Utc>) {
    if now - record.last_failure > forget_after {
        record.failures = 0;
    }
    record.failures = record.failures.saturating_add(1);
    record.last_failure = now;
    if record.failures >= limit.free_failures {
        let doublings = (record.failures - limit.free_failures).min(20);
        let block = limit
            .first_block
            .checked_mul(1_i32 << doublings)
            .unwrap_or(limit.max_block)
            .min(limit.max_block);
        record.blocked_until = Some(now + block);
    }
}

impl SignInThrottle {
    /// A throttle with these limits.
    pub fn new(policy: ThrottlePolicy) -> SignInThrottle {
        SignInThrottle {
            policy,
            by_name: DashMap::new(),
            by_ip: DashMap::new(),
        }
    }

    fn key(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// `Err(wait)` when the name or the address is blocked at `now`.
    pub fn check(&self, name: &str, ip: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        let by_name = remaining(self.by_name.get(&Self::key(name)).map(|r| *r), now);
        let by_ip = remaining(self.by_ip.get(&ip).map(|r| *r), now);
        match by_name.max(by_ip) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the name and the address.
    pub fn record_failure(&self, name: &str, ip: IpAddr, now: DateTime<Utc>) {
        if self.by_name.len() + self.by_ip.len() > self.policy.max_records {
            self.prune(now);
        }
        let fresh = Record {
            failures: 0,
            last_failure: now,
            blocked_until: None,
        };
        let p = self.policy;
        fail(
            &mut self.by_name.entry(Self::key(name)).or_insert(fresh),
            &p.per_name,
            p.forget_after,
            now,
        );
        fail(
            &mut self.by_ip.entry(ip).or_insert(fresh),
            &p.per_ip,
            p.forget_after,
            now,
        );
    }

    /// Clears the name's record after a successful sign-in.
    pub fn record_success(&self, name: &str) {
        self.by_name.remove(&Self::key(name));
    }

    /// Drops records whose failures are forgotten and whose block has ended.
    pub fn prune(&self, now: DateTime<Utc>) {
        let keep = |r: &Record| {
            now - r.last_failure <= self.policy.forget_after
                || r.blocked_until.is_some_and(|u| u > now)
        };
        self.by_name.retain(|_, r| keep(r));
        self.by_ip.retain(|_, r| keep(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn four_failures_are_free_and_the_fifth_blocks_the_name_for_thirty_seconds() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        for i in 0..4 {
            t.record_failure("ana", ip(i), t0());
            assert_eq!(t.check("ana", ip(9), t0()), Ok(()));
        }
        t.record_failure("ANA", ip(5), t0());
        assert_eq!(t.check("ana", ip(9), t0()), Err(Duration::seconds(30)));
        assert_eq!(t.check("ana", ip(9), t0() + Duration::seconds(30)), Ok(()));
        assert_eq!(t.check("bob", ip(5), t0()), Ok(()));
    }

    #[test]
    fn each_further_failure_doubles_the_block_up_to_fifteen_minutes() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        let mut now = t0();
        let mut blocks = Vec::new();
        for _ in 0..12 {
            t.record_failure("ana", ip(1), now);
            if let Err(wait) = t.check("ana", ip(2), now) {
                blocks.push(wait.num_seconds());
                now += wait;
            }
        }
        assert_eq!(blocks, vec![30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_success_clears_the_name_but_not_the_address() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        for i in 0..25 {
            t.record_failure(&format!("user{i}"), ip(1), t0());
        }
        t.record_failure("ana", ip(1), t0());
        t.record_success("ana");
        assert!(t.check("ana", ip(2), t0()).is_ok());
        assert!(
            t.check("ana", ip(1), t0()).is_err(),
            "the address stays blocked"
        );
    }

    #[test]
    fn failures_older_than_an_hour_are_forgotten_and_pruned() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        for _ in 0..4 {
            t.record_failure("ana", ip(1), t0());
        }
        let later = t0() + Duration::hours(2);
        t.record_failure("ana", ip(1), later);
        assert_eq!(t.check("ana", ip(1), later), Ok(()));
        t.prune(later + Duration::hours(2));
        assert!(t.by_name.is_empty() && t.by_ip.is_empty());
    }
}
