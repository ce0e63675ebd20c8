//! An oracle for the audit verifier, not just "no panic": build a valid log from arbitrary
//! events (with signed checkpoints, always one covering every entry), export it as JSONL,
//! check that the untouched export verifies, then tamper with it (flip or set bytes,
//! drop, duplicate or swap lines, truncate) and check what the verifier accepts.
//!
//! What is asserted is only what the design guarantees. An export may still verify after
//! tampering that changed nothing the chain commits to (the header, which is not signed;
//! upper-case hex digits in a hash; a dropped or repeated checkpoint; a checkpoint moved
//! between entries) or that dropped entries after the last checkpoint present. So:
//! whenever an export verifies, every entry in it is the original entry at that place
//! (the same canonical bytes and hashes) and none was added; with the final checkpoint
//! kept outside (`trusted`), an export that verifies holds exactly the original entries.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use tocsin_audit::export::read_jsonl;
use tocsin_audit::{verify_jsonl, AuditEvent, ChainHash, MemoryLog};

#[derive(Arbitrary, Debug)]
struct Event<'a> {
    actor: &'a str,
    action: &'a str,
    subjects: Vec<(&'a str, &'a str)>,
    outcome: Option<&'a str>,
    exercise: bool,
    payload: Option<&'a [u8]>,
    /// Microseconds after the entry before.
    after_micros: u32,
    /// Sign a checkpoint after this entry.
    checkpoint: bool,
}

#[derive(Arbitrary, Debug)]
enum Tamper {
    /// XOR one byte (position wrapping) with a non-zero mask.
    Flip { at: u32, mask: u8 },
    /// Overwrite one byte.
    Set { at: u32, byte: u8 },
    /// Remove a line.
    DropLine(u16),
    /// Insert a copy of one line before another.
    DuplicateLine { from: u16, to: u16 },
    /// Exchange two lines.
    SwapLines(u16, u16),
    /// Cut the file short.
    Truncate(u32),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    events: Vec<Event<'a>>,
    tampers: Vec<Tamper>,
}

const MAX_EVENTS: usize = 8;
const MAX_TAMPERS: usize = 4;

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn tamper(bytes: &mut Vec<u8>, t: &Tamper) {
    let index = |i: u32, len: usize| usize::try_from(i).unwrap_or(0) % len.max(1);
    match *t {
        Tamper::Flip { at, mask } => {
            let i = index(at, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b ^= mask.max(1);
            }
        }
        Tamper::Set { at, byte } => {
            let i = index(at, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b = byte;
            }
        }
        Tamper::Truncate(len) => {
            let keep = index(len, bytes.len());
            bytes.truncate(keep);
        }
        Tamper::DropLine(n) => {
            let mut l = lines(bytes);
            let i = usize::from(n) % l.len();
            l.remove(i);
            *bytes = l.join(&b'\n');
        }
        Tamper::DuplicateLine { from, to } => {
            let mut l = lines(bytes);
            let from = usize::from(from) % l.len();
            let to = usize::from(to) % (l.len() + 1);
            let copy = l.get(from).cloned().unwrap_or_default();
            l.insert(to, copy);
            *bytes = l.join(&b'\n');
        }
        Tamper::SwapLines(a, b) => {
            let mut l = lines(bytes);
            let (a, b) = (usize::from(a) % l.len(), usize::from(b) % l.len());
            l.swap(a, b);
            *bytes = l.join(&b'\n');
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let signer = tocsin_fuzz::audit_signer();
    let key = tocsin_fuzz::audit_verifier();

    // The original log and its export.
    let mut log = MemoryLog::new();
    let mut time = tocsin_fuzz::audit_epoch();
    for e in input.events.iter().take(MAX_EVENTS) {
        time += chrono::Duration::microseconds(i64::from(e.after_micros));
        let mut event = AuditEvent::new(e.actor, e.action).exercise(e.exercise);
        for (kind, id) in e.subjects.iter().take(3) {
            event = event.subject(*kind, *id);
        }
        if let Some(outcome) = e.outcome {
            event = event.outcome(outcome);
        }
        if let Some(payload) = e.payload {
            event = event.payload(payload);
        }
        log.append(time, event);
        if e.checkpoint {
            log.checkpoint(time, &signer);
        }
    }
    let final_note = log.checkpoint(time, &signer);
    let original = tocsin_fuzz::export_jsonl(&log, &signer);
    let n = log.entries.len();
    // (canonical bytes, previous hash, hash) of each original entry, by sequence number.
    let mut prev = ChainHash::GENESIS;
    let chain: Vec<(Vec<u8>, ChainHash, ChainHash)> = log
        .entries
        .iter()
        .map(|(entry, hash)| {
            let link = (entry.canonical_bytes(), prev, *hash);
            prev = *hash;
            link
        })
        .collect();

    // The untouched export verifies, with and without the trusted checkpoint.
    for trusted in [None, Some(final_note.as_str())] {
        match verify_jsonl(original.as_slice(), key, trusted) {
            Ok(report) => {
                assert_eq!(report.entries, n as u64);
                if n > 0 {
                    let expected = log.checkpoints.len() + usize::from(trusted.is_some());
                    assert_eq!(report.checkpoints, expected);
                }
                let full = report.full.as_ref().map(|f| f.signed_size);
                assert_eq!(full, Some(n as u64), "a full export, signed to the end");
            }
            Err(e) => panic!("an untouched export does not verify: {e}"),
        }
    }

    let mut tampered = original.clone();
    for t in input.tampers.iter().take(MAX_TAMPERS) {
        tamper(&mut tampered, t);
    }
    if tampered == original {
        return;
    }

    for trusted in [None, Some(final_note.as_str())] {
        let Ok(report) = verify_jsonl(tampered.as_slice(), key, trusted) else {
            continue;
        };
        // It verified: what it holds must be original entries, in their places.
        let parsed = match read_jsonl(tampered.as_slice()) {
            Ok(p) => p,
            Err(e) => panic!("verified, but does not read back: {e}"),
        };
        assert_eq!(report.entries, parsed.entries.len() as u64);
        assert!(parsed.entries.len() <= n, "entries were added");
        let mut seen = HashSet::new();
        for (i, (line, entry)) in parsed.entries.iter().enumerate() {
            let (entry, prev, hash) = match entry.to_entry() {
                Ok(t) => t,
                Err(e) => panic!("verified, but line {line} is unreadable: {e}"),
            };
            let Some((canonical, original_prev, original_hash)) =
                usize::try_from(entry.seq).ok().and_then(|s| chain.get(s))
            else {
                panic!("verified, but line {line} has seq {} of {n}", entry.seq);
            };
            assert_eq!(
                (
                    String::from_utf8_lossy(&entry.canonical_bytes()),
                    prev,
                    hash
                ),
                (
                    String::from_utf8_lossy(canonical),
                    *original_prev,
                    *original_hash
                ),
                "verified, but line {line} is not the original entry {}",
                entry.seq
            );
            assert!(
                seen.insert(entry.seq),
                "verified with entry {} twice",
                entry.seq
            );
            if !parsed.header.partial {
                assert_eq!(entry.seq, i as u64, "a full export verified out of order");
            }
        }
        if parsed.header.partial {
            continue;
        }
        // A full export: the original prefix, reaching every checkpoint it carries.
        let signed = report.full.as_ref().map_or(0, |f| f.signed_size);
        assert!(signed <= report.entries);
        if trusted.is_some() {
            assert_eq!(
                report.entries, n as u64,
                "verified against the final checkpoint with entries missing"
            );
        }
        if parsed.checkpoints.contains(&final_note) {
            assert_eq!(
                report.entries, n as u64,
                "verified with the final checkpoint in it and entries missing"
            );
        }
    }
});
