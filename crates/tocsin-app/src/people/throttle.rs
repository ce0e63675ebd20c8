//! Sign-in throttling, in the database (every node counts against the same rows), per
//! (account, address) and per address.
//!
//! After a number of free failures each further failure blocks the key for a window that
//! doubles each time, up to a cap; failures older than `forget_after` are forgotten. A
//! blocked account is blocked only from the addresses that failed on it: the person can
//! still sign in from their own desk while someone guesses from elsewhere, and a flood of
//! bad guesses cannot lock the team out. A success clears the (account, address) record
//! but not the address's, so an attacker cannot clear their address by signing in to an
//! account of their own between guesses. Keys are bounded: a name enters only as its
//! SHA-256 (so a 10 KB "name" costs 32 bytes), an IPv6 address as its /64 (one host
//! holds a whole /64); the table is kept under [`ThrottlePolicy::max_records`] rows.
//! The block arithmetic ([`fail`]) is pure; time is passed in, so tests move it by hand.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use tocsin_store::sign_in_guard::ThrottleRow;
use tocsin_store::{Store, StoreError};

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
    /// Per (account name as typed, case-folded; client address).
    pub per_account_address: Limit,
    /// Per client address (looser: an office shares one).
    pub per_ip: Limit,
    /// Failures older than this are forgotten.
    pub forget_after: Duration,
    /// Rows kept at most; past it, forgotten ones go first, then the oldest.
    pub max_records: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            per_account_address: Limit {
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

/// Counts one more failure on `record` at `now` under `limit`.
pub fn fail(
    record: Option<ThrottleRow>,
    limit: &Limit,
    forget_after: Duration,
    now: DateTime<Utc>,
) -> ThrottleRow {
    let mut record = record.unwrap_or(ThrottleRow {
        failures: 0,
        last_failure: now,
        blocked_until: None,
    });
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
    record
}

/// The address as a throttle counts it: IPv4 whole, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The two keys an attempt counts against: (account, address) and address.
pub fn keys(name: &str, ip: IpAddr) -> (String, String) {
    let folded = name.trim().to_lowercase();
    let digest = Sha256::digest(folded.as_bytes());
    let address = address_key(ip);
    (
        format!(
            "n:{}|{address}",
            hex::encode(digest.get(..16).unwrap_or(digest.as_slice()))
        ),
        format!("a:{address}"),
    )
}

/// Sign-in failures by (account, address) and by address, in the store.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    policy: ThrottlePolicy,
}

impl SignInThrottle {
    /// A throttle with these limits.
    pub fn new(policy: ThrottlePolicy) -> SignInThrottle {
        SignInThrottle { policy }
    }

    /// `Err(wait)` when the (name, address) or the address is blocked at `now`; `wait`
    /// is the true time until both allow an attempt.
    pub async fn check(
        &self,
        store: &Store,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Duration>, StoreError> {
        let (pair, address) = keys(name, ip);
        Ok(
            match store
                .people()
                .throttle_blocked_until(&[&pair, &address], now)
                .await?
            {
                Some(until) => Err(until - now),
                None => Ok(()),
            },
        )
    }

    /// Counts a failed attempt against the (name, address) and the address, in one
    /// transaction, and keeps the table under its cap.
    pub async fn record_failure(
        &self,
        store: &Store,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (pair, address) = keys(name, ip);
        let p = self.policy;
        let mut tx = store.begin().await?;
        for (key, limit) in [(&pair, &p.per_account_address), (&address, &p.per_ip)] {
            let row = tx.people().throttle_row(key).await?;
            let row = fail(row, limit, p.forget_after, now);
            tx.people().put_throttle_row(key, &row).await?;
        }
        tx.people()
            .trim_throttle(p.max_records, now - p.forget_after, now)
            .await?;
        tx.commit().await
    }

    /// Clears the (name, address) record after a successful sign-in from there.
    pub async fn record_success(
        &self,
        store: &Store,
        name: &str,
        ip: IpAddr,
    ) -> Result<(), StoreError> {
        store.people().throttle_clear(&keys(name, ip).0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn four_failures_are_free_and_the_fifth_blocks_for_thirty_seconds() {
        let limit = ThrottlePolicy::default().per_account_address;
        let mut row = None;
        for _ in 0..4 {
            row = Some(fail(row, &limit, Duration::hours(1), t0()));
            assert_eq!(row.unwrap().blocked_until, None);
        }
        let row = fail(row, &limit, Duration::hours(1), t0());
        assert_eq!(row.blocked_until, Some(t0() + Duration::seconds(30)));
    }

    #[test]
    fn each_further_failure_doubles_the_block_up_to_fifteen_minutes() {
        let limit = ThrottlePolicy::default().per_account_address;
        let mut now = t0();
        let mut row = None;
        let mut blocks = Vec::new();
        for _ in 0..12 {
            let r = fail(row, &limit, Duration::hours(1), now);
            if let Some(until) = r.blocked_until {
                blocks.push((until - now).num_seconds());
                now = until;
            }
            row = Some(r);
        }
        assert_eq!(blocks, vec![30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn failures_older_than_an_hour_are_forgotten() {
        let limit = ThrottlePolicy::default().per_account_address;
        let mut row = None;
        for _ in 0..4 {
            row = Some(fail(row, &limit, Duration::hours(1), t0()));
        }
        let later = fail(row, &limit, Duration::hours(1), t0() + Duration::hours(2));
        assert_eq!((later.failures, later.blocked_until), (1, None));
    }

    #[test]
    fn keys_are_bounded_whatever_the_name_and_an_ipv6_host_counts_as_its_64() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let (pair, address) = keys(&"x".repeat(10_000), v4);
        assert!(pair.len() <= 2 + 32 + 1 + 45, "{pair}");
        assert_eq!(address, "a:192.0.2.7");
        assert_eq!(keys("Ana ", v4), keys("ana", v4));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
