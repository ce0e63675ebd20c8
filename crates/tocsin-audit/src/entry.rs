//! Audit entries and their canonical bytes: the exact bytes the hash chain commits to.
//!
//! The canonical form is JSON with a fixed field order and a fixed time precision, so
//! the same entry always hashes the same on every node, backend and export. Payloads
//! (message text, anything that may carry PHI) never enter an entry: only their SHA-256.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// A SHA-256 value: an entry's chain hash or a checkpoint's head.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The predecessor of the first entry: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Lower-case hex, as stored and exported.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(ChainHash(out))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `SHA-256(prev || canonical)`: the link from one entry to the next.
pub fn chain_hash(prev: &ChainHash, canonical: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(prev.0);
    h.update(canonical);
    ChainHash(h.finalize().into())
}

/// The SHA-256 commitment to a payload, as lower-case hex.
pub fn payload_commitment(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// What happened, as the caller describes it; the log gives it a sequence number and a
/// time when it is appended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who did it: a user name, or `system` for the server's own actions.
    pub actor: String,
    /// What was done, e.g. `playbook.approve`, `delivery.attempt`.
    pub action: String,
    /// What it was done to, by kind: `playbook`, `draft`, `message`, `account`, `user`.
    pub subjects: BTreeMap<String, String>,
    /// How it ended, e.g. `ok`, `failed`, `refused`, when that is part of the event.
    pub outcome: Option<String>,
    /// Whether this happened in an exercise (drill).
    pub exercise: bool,
    /// SHA-256 (hex) of any payload the event concerns; the payload itself stays out.
    pub payload_sha256: Option<String>,
}

impl AuditEvent {
    /// An event with no subjects, outcome or payload.
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> AuditEvent {
        AuditEvent {
            actor: actor.into(),
            action: action.into(),
            ..AuditEvent::default()
        }
    }

    /// Adds a subject (`playbook`, `draft`, `message`, `account`, `user`, ...).
    pub fn subject(mut self, kind: impl Into<String>, id: impl Into<String>) -> AuditEvent {
        self.subjects.insert(kind.into(), id.into());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: impl Into<String>) -> AuditEvent {
        self.outcome = Some(outcome.into());
        self
    }

    /// Marks the event as part of an exercise.
    pub fn exercise(mut self, exercise: bool) -> AuditEvent {
        self.exercise = exercise;
        self
    }

    /// Commits to a payload by its SHA-256; the payload is not kept.
    pub fn payload(mut self, payload: &[u8]) -> AuditEvent {
        self.payload_sha256 = Some(payload_commitment(payload));
        self
    }
}

/// One entry of the log: an event with its place and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log, from 0 with no gaps.
    pub seq: u64,
    /// When it was appended, in UTC, kept to the microsecond.
    pub time: DateTime<Utc>,
    /// What happened.
    pub event: AuditEvent,
}

impl AuditEntry {
    /// An entry; the time is cut to whole microseconds (what every backend stores).
    pub fn new(seq: u64, time: DateTime<Utc>, event: AuditEvent) -> AuditEntry {
        AuditEntry {
            seq,
            time: truncate_to_micros(time),
            event,
        }
    }

    /// The time as it appears in the canonical bytes: RFC 3339, UTC, six decimals, `Z`.
    pub fn time_text(&self) -> String {
        format_time(&self.time)
    }

    /// The canonical bytes: JSON with the fields in a fixed order, no whitespace.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(192);
        self.write_canonical(&mut out);
        out
    }

    /// Appends the canonical bytes to `out` (lets the verifier reuse one buffer).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        let e = &self.event;
        out.extend_from_slice(b"{\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"time\":\"");
        out.extend_from_slice(format_time(&self.time).as_bytes());
        out.extend_from_slice(b"\",\"actor\":");
        write_json_string(out, &e.actor);
        out.extend_from_slice(b",\"action\":");
        write_json_string(out, &e.action);
        out.extend_from_slice(b",\"subjects\":{");
        for (i, (kind, id)) in e.subjects.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(out, kind);
            out.push(b':');
            write_json_string(out, id);
        }
        out.extend_from_slice(b"},\"outcome\":");
        write_optional(out, e.outcome.as_deref());
        out.extend_from_slice(b",\"exercise\":");
        out.extend_from_slice(if e.exercise { b"true" } else { b"false" });
        out.extend_from_slice(b",\"payload_sha256\":");
        write_optional(out, e.payload_sha256.as_deref());
        out.push(b'}');
    }
}

/// Formats a time the canonical way (RFC 3339, UTC, microseconds, `Z`).
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 time into UTC, cut to microseconds.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| truncate_to_micros(t.with_timezone(&Utc)))
}

fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = time.nanosecond();
    time.with_nanosecond(nanos - nanos % 1000).unwrap_or(time)
}

fn write_optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(v) => write_json_string(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_json_string(out: &mut Vec<u8>, value: &str) {
    // serde_json's escaping is canonical for our purposes: it escapes exactly `"`, `\`
    // and control characters, the same way every time. Writing into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> AuditEntry {
        let time = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        AuditEntry::new(
            7,
            time,
            AuditEvent::new("alice", "playbook.approve")
                .subject("playbook", "boil-water")
                .subject("account", "mastodon-main")
                .outcome("ok")
                .payload(b"Boil your water"),
        )
    }

    #[test]
    fn canonical_bytes_have_the_fixed_field_order_and_microsecond_time() {
        let text = String::from_utf8(sample().canonical_bytes()).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"seq\":7,\"time\":\"2026-03-01T12:00:00.123456Z\",\"actor\":\"alice\",\
                 \"action\":\"playbook.approve\",\"subjects\":{{\"account\":\"mastodon-main\",\
                 \"playbook\":\"boil-water\"}},\"outcome\":\"ok\",\"exercise\":false,\
                 \"payload_sha256\":\"{}\"}}",
                payload_commitment(b"Boil your water")
            )
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["seq"], 7);
    }

    #[test]
    fn the_payload_text_never_appears_in_the_canonical_bytes() {
        let text = String::from_utf8(sample().canonical_bytes()).unwrap();
        assert!(!text.contains("Boil your water"));
    }

    #[test]
    fn a_time_survives_formatting_and_parsing_unchanged() {
        let entry = sample();
        assert_eq!(parse_time(&entry.time_text()), Some(entry.time));
    }

    #[test]
    fn changing_any_field_changes_the_chain_hash() {
        let base = sample();
        let h = chain_hash(&ChainHash::GENESIS, &base.canonical_bytes());
        let mut other = base.clone();
        other.event.exercise = true;
        assert_ne!(h, chain_hash(&ChainHash::GENESIS, &other.canonical_bytes()));
        assert_ne!(h, chain_hash(&h, &base.canonical_bytes()));
    }

    #[test]
    fn quotes_and_control_characters_in_fields_are_escaped() {
        let mut e = sample();
        e.event.actor = "a\"b\n".into();
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert!(text.contains(r#""actor":"a\"b\n""#), "{text}");
    }
}
