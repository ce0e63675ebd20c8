//! Standard Webhooks signatures (symmetric, `v1`): how Tocsin signs and how a subscriber
//! checks.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`; the signature is
//! `v1,` and the base64 of its HMAC-SHA256 under the secret's bytes (`whsec_` + base64).
//! Receivers compare in constant time and refuse timestamps more than 5 minutes away.

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The prefix of a Standard Webhooks signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// How far a delivery's timestamp may be from the receiver's clock (either way) before
/// it is refused as a replay: 5 minutes, as the specification recommends.
pub const SIGNATURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a delivery's signature was not accepted. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A `webhook-*` header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A `webhook-*` header is not readable (not text, or the timestamp is not a number).
    #[error("unreadable header {0}")]
    InvalidHeader(&'static str),
    /// The secret is not `whsec_` followed by base64 of at least one byte.
    #[error("the signing secret is not whsec_ followed by base64")]
    InvalidSecret,
    /// The timestamp is too far from now: a replay, or a badly wrong clock.
    #[error("timestamp outside the allowed window")]
    StaleTimestamp,
    /// No `v1` signature in the header matches the body.
    #[error("no signature matches")]
    NoMatch,
}

/// The key bytes of a `whsec_<base64>` secret (the prefix is optional, as in the
/// reference libraries).
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::InvalidSecret)?;
    if key.is_empty() {
        return Err(SignatureError::InvalidSecret);
    }
    Ok(key)
}

fn keyed(
    key: &[u8],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Hmac<Sha256>, SignatureError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SignatureError::InvalidSecret)?;
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `webhook-signature` value for a delivery: `v1,<base64 HMAC-SHA256>`.
pub fn sign(
    key: &[u8],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let tag = keyed(key, webhook_id, timestamp, body)?
        .finalize()
        .into_bytes();
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    ))
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, SignatureError> {
    headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?
        .to_str()
        .map_err(|_| SignatureError::InvalidHeader(name))
}

/// Checks a delivery as a subscriber should: the three `webhook-*` headers are present,
/// the timestamp is within `tolerance` of `now` (use [`SIGNATURE_TOLERANCE`]), and one of
/// the space-separated `v1,<base64>` signatures is the HMAC of `id.timestamp.body` under
/// `secret` (`whsec_<base64>`), compared in constant time. `body` must be the raw bytes
/// as received, before any JSON parsing. Subscribers should also drop a `webhook-id`
/// they have already processed: Tocsin repeats the same id when it retries.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use reqwest::header::{HeaderMap, HeaderValue};
/// use tocsin_connectors::webhook::signature::{sign, decode_secret};
/// use tocsin_connectors::webhook::{verify_signature, SignatureError, SIGNATURE_TOLERANCE};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// let body = br#"{"type":"message.published","data":{"id":"m1:a","text":"Boil water"}}"#;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", HeaderValue::from_static("m1:a"));
/// headers.insert("webhook-timestamp", HeaderValue::from_static("1700000000"));
/// let signature = sign(&decode_secret(secret)?, "m1:a", 1_700_000_000, body)?;
/// headers.insert("webhook-signature", HeaderValue::from_str(&signature)?);
///
/// // A subscriber checks the raw body before parsing it...
/// verify_signature(secret, &headers, body, now, SIGNATURE_TOLERANCE)?;
/// // ...and a changed body, or the same delivery replayed an hour later, is refused.
/// let changed = br#"{"type":"message.published","data":{"id":"m1:a","text":"All clear"}}"#;
/// assert_eq!(
///     verify_signature(secret, &headers, changed, now, SIGNATURE_TOLERANCE),
///     Err(SignatureError::NoMatch)
/// );
/// let later = now + Duration::from_secs(3600);
/// assert_eq!(
///     verify_signature(secret, &headers, body, later, SIGNATURE_TOLERANCE),
///     Err(SignatureError::StaleTimestamp)
/// );
/// # Ok(())
/// # }
/// ```
pub fn verify_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let webhook_id = header(headers, "webhook-id")?;
    let timestamp: i64 = header(headers, "webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| SignatureError::InvalidHeader("webhook-timestamp"))?;
    let signatures = header(headers, "webhook-signature")?;
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let window = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now_secs.saturating_sub(timestamp).unsigned_abs() > window.unsigned_abs() {
        return Err(SignatureError::StaleTimestamp);
    }
    let key = decode_secret(secret)?;
    let expected = keyed(&key, webhook_id, timestamp, body)?;
    let matches = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| base64::engine::general_purpose::STANDARD.decode(sig).ok())
        .any(|sig| expected.clone().verify_slice(&sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod signature_tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// The test vector of the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert(
            "webhook-timestamp",
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    fn at(ts: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(ts as u64)
    }

    #[test]
    fn signing_matches_the_reference_libraries_test_vector() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(
            sign(&key, ID, TS, BODY).unwrap(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn a_good_signature_verifies_among_several_and_a_tampered_body_does_not() {
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let several = format!("v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q= {good} v2,whatever");
        let h = headers(ID, TS, &several);
        assert_eq!(
            verify_signature(SECRET, &h, BODY, at(TS + 10), SIGNATURE_TOLERANCE),
            Ok(())
        );
        let tampered = br#"{"email":"evil@example.com","username":"test_user"}"#;
        assert_eq!(
            verify_signature(SECRET, &h, tampered, at(TS), SIGNATURE_TOLERANCE),
            Err(SignatureError::NoMatch)
        );
        let other_id = headers("msg_other", TS, good);
        assert_eq!(
            verify_signature(SECRET, &other_id, BODY, at(TS), SIGNATURE_TOLERANCE),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(
                "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                &h,
                BODY,
                at(TS),
                SIGNATURE_TOLERANCE
            ),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused_as_replays() {
        let h = headers(ID, TS, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        assert_eq!(
            verify_signature(SECRET, &h, BODY, at(TS + 301), SIGNATURE_TOLERANCE),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            verify_signature(SECRET, &h, BODY, at(TS - 301), SIGNATURE_TOLERANCE),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            verify_signature(SECRET, &h, BODY, at(TS + 300), SIGNATURE_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn missing_headers_and_bad_secrets_are_named_without_the_secret() {
        let mut h = headers(ID, TS, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        h.remove("webhook-timestamp");
        assert_eq!(
            verify_signature(SECRET, &h, BODY, at(TS), SIGNATURE_TOLERANCE),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        let h = headers(ID, TS, "v1,x");
        let err = verify_signature("whsec_not base64!", &h, BODY, at(TS), SIGNATURE_TOLERANCE)
            .unwrap_err();
        assert_eq!(err, SignatureError::InvalidSecret);
        assert!(!err.to_string().contains("not base64!"));
    }
}
