//! How fast the verifier replays a log: one million entries with a checkpoint every
//! thousand, as `tocsin audit verify` does after reading them (target: about a second).

use chrono::{Duration, TimeZone, Utc};
use criterion::Criterion;
use ed25519_dalek::SigningKey;
use tocsin_audit::{verify_log, AuditEvent, MemoryLog, NoteSigner};

const ENTRIES: u64 = 1_000_000;

fn build() -> (MemoryLog, NoteSigner) {
    let signer = NoteSigner::new("bench.example.gov/audit", SigningKey::from_bytes(&[5; 32]));
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut log = MemoryLog::new();
    for i in 0..ENTRIES {
        let at = start + Duration::milliseconds(i as i64);
        log.append(
            at,
            AuditEvent::new("coordinator-7", "delivery.result")
                .subject("message", (i / 100).to_string())
                .subject("account", (i % 100).to_string())
                .subject("playbook", "boil-water")
                .outcome("sent")
                .payload(&i.to_le_bytes()),
        );
        if (i + 1) % 1000 == 0 {
            log.checkpoint(at, &signer);
        }
    }
    (log, signer)
}

fn verify_a_million(c: &mut Criterion) {
    let (log, signer) = build();
    let key = signer.verifier();
    let mut group = c.benchmark_group("audit_verify");
    group.sample_size(10);
    group.bench_function("1M entries, 1000 checkpoints", |b| {
        b.iter(|| {
            let ok = verify_log(&key, &log.entries, &log.checkpoints, None);
            assert!(ok.is_ok_and(|v| v.entries == ENTRIES));
        })
    });
    group.finish();
}

// Written out rather than with `criterion_group!`, whose generated function has no docs.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    verify_a_million(&mut c);
    c.final_summary();
}
