//! Secrets sealed at rest: XChaCha20-Poly1305 under a 32-byte key that lives in the
//! configuration or the environment, never in the database.
//!
//! A sealed value is `version (1) || nonce (24, random) || ciphertext+tag`. The caller
//! binds it to its row with associated data (the user id for TOTP secrets, the account id
//! for platform tokens), so a sealed value copied to another row does not open.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretBox, SecretSlice};
use std::path::Path;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The environment variable holding the sealing key (base64 of 32 bytes).
pub const KEY_ENV: &str = "TOCSIN_SECRET_KEY";

/// Why sealing or opening failed. Deliberately without detail: a wrong key, a wrong row
/// and a damaged value look the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key text is not base64 of exactly 32 bytes.
    #[error("the sealing key must be base64 of exactly 32 bytes (make one with `tocsin users generate-key`)")]
    BadKey,
    /// No key was configured.
    #[error("no sealing key: set {KEY_ENV} or [secrets] key_file")]
    NoKey,
    /// The key file could not be read, or others can read it.
    #[error("the sealing key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The value does not open under this key and associated data.
    #[error("a sealed secret did not open (wrong key, wrong owner, or damaged)")]
    Open,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
}

/// The key that seals secrets at rest. Never printed.
pub struct SealingKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    /// A key from its base64 text (standard alphabet, padding optional; surrounding
    /// whitespace ignored).
    pub fn from_base64(text: &str) -> Result<SealingKey, SealError> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| SealError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(SealingKey(SecretBox::new(Box::new(key))))
    }

    /// A fresh random key.
    pub fn generate() -> SealingKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SealingKey(SecretBox::new(Box::new(key)))
    }

    /// The key as base64, to store once in a key file or a secret manager.
    pub fn to_base64(&self) -> secrecy::SecretString {
        base64::engine::general_purpose::STANDARD
            .encode(self.0.expose_secret())
            .into()
    }

    /// The key from the environment value if set, else from the key file; a key file
    /// that group or others can read is refused.
    pub fn load(env_value: Option<&str>, key_file: Option<&Path>) -> Result<SealingKey, SealError> {
        if let Some(text) = env_value.filter(|t| !t.trim().is_empty()) {
            return SealingKey::from_base64(text);
        }
        let Some(path) = key_file else {
            return Err(SealError::NoKey);
        };
        let fail = |reason: String| SealError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path)
                .map_err(|e| fail(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(fail(format!(
                    "others can read it (mode {:o}); chmod 600 it",
                    mode & 0o777
                )));
            }
        }
        let text = secrecy::SecretString::from(
            std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?,
        );
        SealingKey::from_base64(text.expose_secret())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }

    /// Seals `plaintext`, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed with this key and the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretSlice<u8>, SealError> {
        let (version, rest) = sealed.split_first().ok_or(SealError::Open)?;
        if *version != VERSION || rest.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Open)?;
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
            .map_err(|_| SealError::Open)?;
        Ok(plain.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_associated_data() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"JBSWY3DPEHPK3PXP", b"user/7").unwrap();
        assert_eq!(
            key.open(&sealed, b"user/7").unwrap().expose_secret(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(!sealed.windows(8).any(|w| w == b"JBSWY3DP"));
    }

    #[test]
    fn a_sealed_value_refuses_to_open_under_another_key_another_owner_or_a_flipped_bit() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"secret", b"user/7").unwrap();
        assert_eq!(
            SealingKey::generate().open(&sealed, b"user/7").unwrap_err(),
            SealError::Open
        );
        assert_eq!(key.open(&sealed, b"user/8").unwrap_err(), SealError::Open);
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&flipped, b"user/7").unwrap_err(), SealError::Open);
        assert_eq!(
            key.open(&sealed[..10], b"user/7").unwrap_err(),
            SealError::Open
        );
        assert_eq!(key.open(&[], b"user/7").unwrap_err(), SealError::Open);
    }

    #[test]
    fn sealing_twice_gives_different_bytes_because_each_nonce_is_fresh() {
        let key = SealingKey::generate();
        assert_ne!(key.seal(b"x", b"a").unwrap(), key.seal(b"x", b"a").unwrap());
    }

    #[test]
    fn a_key_reads_from_base64_of_32_bytes_and_nothing_else() {
        let key = SealingKey::generate();
        let text = key.to_base64();
        let again = SealingKey::from_base64(&format!(" {}\n", text.expose_secret())).unwrap();
        let sealed = key.seal(b"x", b"a").unwrap();
        assert!(again.open(&sealed, b"a").is_ok());
        assert_eq!(
            SealingKey::from_base64("AAAA").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            SealingKey::from_base64("not base64!").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(format!("{again:?}"), "SealingKey([redacted])");
    }

    #[test]
    fn the_environment_wins_over_the_key_file_and_no_key_at_all_is_an_error() {
        let key = SealingKey::generate();
        let b64 = key.to_base64();
        assert!(
            SealingKey::load(Some(b64.expose_secret()), Some(Path::new("/nonexistent"))).is_ok()
        );
        assert_eq!(SealingKey::load(None, None).unwrap_err(), SealError::NoKey);
        assert_eq!(
            SealingKey::load(Some("  "), None).unwrap_err(),
            SealError::NoKey
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile_dir();
        let path = dir.join("key");
        std::fs::write(&path, SealingKey::generate().to_base64().expose_secret()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SealingKey::load(None, Some(&path)),
            Err(SealError::KeyFile { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SealingKey::load(None, Some(&path)).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tocsin-sealed-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
