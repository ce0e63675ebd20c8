//! Signed checkpoints: the log's size, head hash and time, as a C2SP signed note.
//!
//! The body follows c2sp.org/tlog-checkpoint (origin, size, base64 head, then one
//! extension line `time <RFC 3339>`); the signature follows c2sp.org/signed-note: a
//! blank line, then `— <key name> base64(key ID || ed25519 signature)`. The head here
//! is the hash-chain head, not a Merkle root: our verifier replays the whole chain.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::entry::{format_time, parse_time, ChainHash};

/// The signed-note signature type byte for ed25519.
const ED25519_TYPE: u8 = 0x01;
/// The em dash that starts a signature line (U+2014) and its space.
const SIG_PREFIX: &str = "\u{2014} ";

/// What a checkpoint states about the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name (the key name too).
    pub origin: String,
    /// How many entries the log had (entries `0..size`).
    pub size: u64,
    /// The chain hash of entry `size - 1`.
    pub head: ChainHash,
    /// When it was signed.
    pub time: DateTime<Utc>,
}

impl Checkpoint {
    /// The note body, each line ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            B64.encode(self.head.0),
            format_time(&self.time)
        )
    }

    /// Signs the body and returns the whole signed note text.
    pub fn sign(&self, key: &NoteSigner) -> String {
        let body = self.body();
        let sig = key.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key.key_id);
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n{SIG_PREFIX}{} {}\n", key.name, B64.encode(blob))
    }
}

/// Why a signed checkpoint was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a signed note with a checkpoint body.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature line is by the expected key.
    #[error("no signature by the audit key `{0}` (signed by another key, or unsigned)")]
    NoSignatureByKey(String),
    /// The signature line is by the key, but the signature does not hold.
    #[error("the signature by `{0}` does not match the checkpoint's text")]
    BadSignature(String),
}

/// Parses a signed note and checks its signature with `verify_strict`.
pub fn open_checkpoint(note: &str, key: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
    let malformed = |m: &str| CheckpointError::Malformed(m.to_string());
    let split = note
        .find("\n\n")
        .ok_or_else(|| malformed("no blank line between text and signatures"))?;
    let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
    let checkpoint = parse_body(body)?;
    let mut by_key = false;
    for line in sigs.lines() {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| malformed("a signature line does not start with an em dash"))?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("a signature line has no signature"))?;
        let blob = B64
            .decode(blob)
            .map_err(|_| malformed("a signature is not base64"))?;
        if name != key.name || blob.len() != 68 || blob.get(..4) != Some(&key.key_id[..]) {
            continue;
        }
        by_key = true;
        let sig = blob
            .get(4..)
            .and_then(|s| Signature::from_slice(s).ok())
            .ok_or_else(|| malformed("a signature has the wrong length"))?;
        if key.key.verify_strict(body.as_bytes(), &sig).is_ok() {
            return Ok(checkpoint);
        }
    }
    if by_key {
        Err(CheckpointError::BadSignature(key.name.clone()))
    } else {
        Err(CheckpointError::NoSignatureByKey(key.name.clone()))
    }
}

/// Reads a checkpoint body without checking any signature (for display only).
pub fn parse_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
    let end = note.find("\n\n").map_or(note.len(), |i| i + 1);
    parse_body(&note[..end])
}

fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
    let malformed = |m: &str| CheckpointError::Malformed(m.to_string());
    let mut lines = body.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| malformed("no origin line"))?;
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or_else(|| malformed("the size line is not a number"))?;
    let head = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| malformed("the head line is not a base64 SHA-256"))?;
    let time = lines
        .next()
        .and_then(|l| l.strip_prefix("time "))
        .and_then(parse_time)
        .ok_or_else(|| malformed("no `time` line"))?;
    Ok(Checkpoint {
        origin: origin.to_string(),
        size,
        head: ChainHash(head),
        time,
    })
}

/// The signed-note key ID: the first four bytes of SHA-256(name || 0x0A || 0x01 || key).
pub fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(public.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let [a, b, c, e, ..] = d;
    [a, b, c, e]
}

/// A key that signs notes under a name.
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl NoteSigner {
    /// A signer from an ed25519 key and the key name (the log's origin).
    pub fn new(name: impl Into<String>, key: SigningKey) -> NoteSigner {
        let name = name.into();
        let key_id = key_id(&name, &key.verifying_key());
        NoteSigner { name, key_id, key }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The secret seed (for writing the key file).
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "NoteSigner({})", self.name)
    }
}

/// A public key that verifies notes, written as `<name>+<hex key ID>+<base64(0x01 || key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The key name (the log's origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses the verifier-key text form, checking that its key ID matches.
    pub fn parse(text: &str) -> Result<NoteVerifier, CheckpointError> {
        let bad = |m: &str| CheckpointError::Malformed(format!("public key: {m}"));
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected `name+keyid+base64`"));
        };
        let mut id = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut id).map_err(|_| bad("the key ID is not 8 hex digits"))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| bad("the key is not base64"))?;
        let (Some(&ED25519_TYPE), Some(bytes)) = (raw.first(), raw.get(1..)) else {
            return Err(bad("not an ed25519 key"));
        };
        let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| bad("an ed25519 key has 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid ed25519 point"))?;
        if key_id(name, &key) != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(NoteVerifier {
            name: name.to_string(),
            key_id: id,
            key,
        })
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(raw)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn signer(seed: u8, name: &str) -> NoteSigner {
        NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32]))
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.gov/audit".into(),
            size: 42,
            head: ChainHash([7; 32]),
            time: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn a_signed_checkpoint_has_the_signed_note_layout_and_opens_with_its_key() {
        let s = signer(1, "example.gov/audit");
        let note = checkpoint().sign(&s);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "example.gov/audit");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[3], "time 2026-01-02T03:04:05.000000Z");
        assert_eq!(lines[4], "");
        assert!(lines[5].starts_with("\u{2014} example.gov/audit "));
        assert!(note.ends_with('\n'));
        assert_eq!(open_checkpoint(&note, &s.verifier()).unwrap(), checkpoint());
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_is_refused() {
        let note = checkpoint().sign(&signer(2, "example.gov/audit"));
        let err = open_checkpoint(&note, &signer(1, "example.gov/audit").verifier()).unwrap_err();
        assert!(matches!(err, CheckpointError::NoSignatureByKey(_)), "{err}");
    }

    #[test]
    fn an_edited_checkpoint_body_fails_its_signature() {
        let s = signer(1, "example.gov/audit");
        let note = checkpoint().sign(&s).replacen("\n42\n", "\n43\n", 1);
        let err = open_checkpoint(&note, &s.verifier()).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::BadSignature("example.gov/audit".into())
        );
    }

    #[test]
    fn the_public_key_text_round_trips_and_a_wrong_key_id_is_refused() {
        let v = signer(3, "example.gov/audit").verifier();
        let text = v.to_string();
        assert_eq!(NoteVerifier::parse(&text).unwrap(), v);
        let tampered = text.replacen("example.gov/audit", "other.gov/audit", 1);
        assert!(NoteVerifier::parse(&tampered).is_err());
    }

    #[test]
    fn the_key_id_follows_the_signed_note_rule() {
        let v = signer(4, "n").verifier();
        let mut h = Sha256::new();
        h.update(b"n\n\x01");
        h.update(v.key.as_bytes());
        assert_eq!(v.key_id[..], h.finalize()[..4]);
    }
}
