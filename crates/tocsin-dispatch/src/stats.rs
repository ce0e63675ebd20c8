//! What the dispatcher counts for operators: results recorded by platform and outcome,
//! how long each platform takes to answer a send, and whether the claim loop reaches
//! the database. Plain atomics behind small maps, read by the web layer's `/metrics`;
//! nothing here knows any exposition format.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the send-latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// One platform's send latencies: cumulative-ready bucket counts, sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or under each bound of [`LATENCY_BUCKETS`] (not cumulative).
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    /// Observations over the last bound.
    pub over: u64,
    /// Sum of all observations, in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        match LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            Some(i) => {
                if let Some(slot) = self.buckets.get_mut(i) {
                    *slot += 1;
                }
            }
            None => self.over += 1,
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Counters of one dispatcher. Cheap to read while the dispatcher runs.
#[derive(Debug)]
pub struct DispatchStats {
    results: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    claim_failures: AtomicU64,
    database_ok: AtomicBool,
}

impl Default for DispatchStats {
    fn default() -> Self {
        DispatchStats {
            results: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(BTreeMap::new()),
            claim_failures: AtomicU64::new(0),
            database_ok: AtomicBool::new(true),
        }
    }
}

impl DispatchStats {
    /// Counts one recorded result.
    pub(crate) fn count_result(&self, platform: &'static str, outcome: &'static str) {
        let mut map = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((platform, outcome)).or_insert(0) += 1;
    }

    /// Records how long one call to a platform took.
    pub(crate) fn observe_latency(&self, platform: &'static str, took: Duration) {
        let mut map = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(platform).or_default().observe(took.as_secs_f64());
    }

    /// Notes whether the last claim reached the database; true when this changed it.
    pub(crate) fn set_database_ok(&self, ok: bool) -> bool {
        if !ok {
            self.claim_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.database_ok.swap(ok, Ordering::Relaxed) != ok
    }

    /// Results recorded by this node since it started, by (platform, outcome). Outcomes
    /// are the delivery event states (`delivered`, `retrying`, `failed`, `unknown`,
    /// `cancelled`, ...).
    pub fn results(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        self.results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Send latencies by platform.
    pub fn latencies(&self) -> BTreeMap<&'static str, Histogram> {
        self.latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Claim rounds that failed because the database did not answer.
    pub fn claim_failures(&self) -> u64 {
        self.claim_failures.load(Ordering::Relaxed)
    }

    /// Whether the last claim round reached the database (false while it is away: the
    /// node then claims nothing and backs off until it answers again).
    pub fn database_ok(&self) -> bool {
        self.database_ok.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_first_bucket_that_holds_them() {
        let s = DispatchStats::default();
        s.observe_latency("mastodon", Duration::from_millis(50));
        s.observe_latency("mastodon", Duration::from_millis(51));
        s.observe_latency("mastodon", Duration::from_secs(60));
        let h = &s.latencies()["mastodon"];
        assert_eq!(h.count, 3);
        assert_eq!(h.buckets[3], 1, "50 ms is in the 0.05 bucket");
        assert_eq!(h.buckets[4], 1, "51 ms is in the 0.1 bucket");
        assert_eq!(h.over, 1);
        assert!((h.sum - 60.101).abs() < 1e-9);
    }

    #[test]
    fn a_database_outage_is_counted_and_its_end_noticed() {
        let s = DispatchStats::default();
        assert!(s.database_ok());
        assert!(s.set_database_ok(false));
        assert!(!s.set_database_ok(false));
        assert_eq!(s.claim_failures(), 2);
        assert!(s.set_database_ok(true));
        assert!(s.database_ok());
    }
}
