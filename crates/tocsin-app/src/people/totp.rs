//! The TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps), through
//! totp-rs.
//!
//! A code is accepted for the current step or one step either side (clock drift), and only
//! when its step is above the last step accepted for that user: each code works once. The
//! caller stores the accepted step durably and atomically (see the store's
//! `advance_totp_step`), so a replay is refused across restarts and nodes too.

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// A TOTP setup could not be built (a bad secret or label).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the TOTP secret or label is not usable: {0}")]
pub struct TotpError(String);

/// What a new enrolment shows the user once: never stored in the clear, never logged.
pub struct TotpEnrolment {
    /// The secret in base32, to type into an authenticator app.
    pub secret_base32: SecretString,
    /// The `otpauth://totp/...` URI, for a QR code.
    pub otpauth_uri: SecretString,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// A fresh random secret.
pub fn new_secret() -> SecretSlice<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret.into()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<TOTP, TotpError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS as u64,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| TotpError(e.to_string()))
}

/// The enrolment to show for `secret` (issuer and account must not contain `:`).
pub fn enrolment(secret: &[u8], issuer: &str, account: &str) -> Result<TotpEnrolment, TotpError> {
    let t = totp(secret, issuer, account)?;
    Ok(TotpEnrolment {
        secret_base32: t.get_secret_base32().into(),
        otpauth_uri: t.get_url().into(),
    })
}

/// `uri` as a QR code in SVG, drawn on the server (the panel fetches nothing from
/// elsewhere): black modules on white with the quiet zone, at least 200 pixels wide.
pub fn qr_svg(uri: &str) -> Result<SecretString, TotpError> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| TotpError(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build()
        .into())
}

/// The time step `now` falls in.
pub fn step_at(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECONDS)
}

/// The code for `step` (for tests and for tools that show the expected code).
pub fn code_at_step(secret: &[u8], step: i64) -> Result<String, TotpError> {
    let t = totp(secret, "tocsin", "code")?;
    Ok(t.generate((step.max(0) * STEP_SECONDS) as u64))
}

/// The code for `now`, from a base32 secret as an enrolment shows it.
pub fn code_from_base32(secret_base32: &str, now: DateTime<Utc>) -> Result<String, TotpError> {
    let secret = Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|e| TotpError(format!("{e:?}")))?;
    code_at_step(&secret, step_at(now))
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not six digits.
    Malformed,
    /// Matches no step in the window.
    Wrong,
    /// Matches a step already used (or older than one used).
    Replayed,
}

/// The step `code` matches at `now` (±1 step), if it is newer than `last_step`. Every
/// step in the window is compared, in constant time, so timing says nothing of which.
pub fn accept(
    secret: &SecretSlice<u8>,
    code: &str,
    now: DateTime<Utc>,
    last_step: Option<i64>,
) -> Result<i64, CodeRefusal> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeRefusal::Malformed);
    }
    let current = step_at(now);
    let mut matched: Option<i64> = None;
    for step in [current - 1, current, current + 1] {
        let expected =
            code_at_step(secret.expose_secret(), step).map_err(|_| CodeRefusal::Wrong)?;
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            // The newest matching step wins; with 6 digits two steps rarely share a code.
            matched = Some(step);
        }
    }
    let step = matched.ok_or(CodeRefusal::Wrong)?;
    match last_step {
        Some(last) if step <= last => Err(CodeRefusal::Replayed),
        _ => Ok(step),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, SHA-1, last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at_step(secret, 59 / 30).unwrap(), "287082");
        assert_eq!(code_at_step(secret, 1111111109 / 30).unwrap(), "081804");
        assert_eq!(code_at_step(secret, 1234567890 / 30).unwrap(), "005924");
        assert_eq!(code_at_step(secret, 2000000000 / 30).unwrap(), "279037");
    }

    #[test]
    fn an_enrolment_gives_a_base32_secret_and_an_otpauth_uri_naming_issuer_and_user() {
        let secret = new_secret();
        let e = enrolment(secret.expose_secret(), "Tocsin", "ana").unwrap();
        let uri = e.otpauth_uri.expose_secret();
        assert!(uri.starts_with("otpauth://totp/Tocsin:ana?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", e.secret_base32.expose_secret())));
        assert!(uri.contains("issuer=Tocsin"));
        assert_eq!(format!("{e:?}"), "TotpEnrolment([redacted])");
        let code = code_from_base32(e.secret_base32.expose_secret(), at(1_800_000_000)).unwrap();
        assert_eq!(
            code,
            code_at_step(secret.expose_secret(), 1_800_000_000 / 30).unwrap()
        );
    }

    #[test]
    fn a_code_from_the_previous_current_or_next_step_is_accepted_and_others_are_not() {
        let secret: SecretSlice<u8> = b"12345678901234567890".to_vec().into();
        let now = at(1_800_000_015);
        let step = step_at(now);
        for s in [step - 1, step, step + 1] {
            let code = code_at_step(secret.expose_secret(), s).unwrap();
            assert_eq!(accept(&secret, &code, now, None), Ok(s));
        }
        for s in [step - 2, step + 2] {
            let code = code_at_step(secret.expose_secret(), s).unwrap();
            assert_eq!(accept(&secret, &code, now, None), Err(CodeRefusal::Wrong));
        }
    }

    #[test]
    fn a_code_whose_step_is_not_after_the_last_accepted_one_is_a_replay() {
        let secret: SecretSlice<u8> = b"12345678901234567890".to_vec().into();
        let now = at(1_800_000_015);
        let step = step_at(now);
        let code = code_at_step(secret.expose_secret(), step).unwrap();
        assert_eq!(
            accept(&secret, &code, now, Some(step)),
            Err(CodeRefusal::Replayed)
        );
        assert_eq!(
            accept(&secret, &code, now, Some(step + 1)),
            Err(CodeRefusal::Replayed)
        );
        assert_eq!(accept(&secret, &code, now, Some(step - 1)), Ok(step));
    }

    #[test]
    fn anything_but_six_digits_is_malformed() {
        let secret: SecretSlice<u8> = b"12345678901234567890".to_vec().into();
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "123 456"] {
            assert_eq!(
                accept(&secret, bad, at(0), None),
                Err(CodeRefusal::Malformed),
                "{bad}"
            );
        }
    }
}
