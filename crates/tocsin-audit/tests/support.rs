//! Shared fixtures: a signer, a clock, and a log with checkpoints.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use tocsin_audit::{AuditEvent, MemoryLog, NoteSigner};

pub const ORIGIN: &str = "health.example.gov/audit";

pub fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32]))
}

pub fn other_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[10; 32]))
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap() + Duration::milliseconds(seconds * 1000 + 1)
}

pub fn event(i: u64) -> AuditEvent {
    AuditEvent::new(if i % 2 == 0 { "alice" } else { "bob" }, "delivery.attempt")
        .subject("message", format!("m{}", i / 3))
        .subject("account", format!("acct{}", i % 4))
        .outcome(if i % 5 == 0 { "failed" } else { "ok" })
        .payload(format!("body {i}").as_bytes())
}

/// 20 entries, checkpoints at sizes 5, 10 and 15.
pub fn log_with_checkpoints() -> MemoryLog {
    let s = signer();
    let mut log = MemoryLog::new();
    for i in 0..20u64 {
        log.append(at(i as i64), event(i));
        if (i + 1) % 5 == 0 && i + 1 < 20 {
            log.checkpoint(at(i as i64), &s);
        }
    }
    log
}
