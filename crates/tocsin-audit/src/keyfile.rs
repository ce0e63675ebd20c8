//! The checkpoint signing key on disk: created once, mode 0600, never overwritten.
//!
//! The file holds one line in the signed-note signer-key form
//! `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`. A file that is readable by
//! others, malformed, or for another log name stops start-up with a plain error: a
//! silently regenerated key would make every earlier checkpoint unverifiable.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::checkpoint::{key_id, NoteSigner};

/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "audit-signing.key";

/// Why the signing key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading, creating or writing the file failed.
    #[error("audit signing key {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Group or others may read or write the file.
    #[error(
        "audit signing key {path}: its permissions are {mode:o}, which lets other users read it; \
         run `chmod 600 {path}` (and check who has seen it)"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
    },
    /// The file exists but is not a key in the expected form.
    #[error("audit signing key {path} is malformed ({reason}); it was left untouched")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key was made for another log origin than the one configured.
    #[error(
        "audit signing key {path} is for the log `{found}`, but the configured origin is \
         `{expected}`; set [audit] origin = \"{found}\" or move the key away deliberately"
    )]
    OtherOrigin {
        /// The key file.
        path: PathBuf,
        /// The name in the file.
        found: String,
        /// The configured origin.
        expected: String,
    },
}

/// Loads the signing key at `path`, or creates it (mode 0600) if there is no file.
pub fn load_or_create(path: &Path, origin: &str) -> Result<NoteSigner, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(_) => load(path, origin),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = random_seed().map_err(io)?;
            let signer = NoteSigner::new(origin, SigningKey::from_bytes(&seed));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            // create_new: if another process created it meanwhile, we fail rather than
            // overwrite, and the next start loads theirs.
            let mut file = options.open(path).map_err(io)?;
            file.write_all(signer_line(&signer).as_bytes())
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(signer)
        }
        Err(e) => Err(io(e)),
    }
}

/// Loads an existing key file, checking permissions, form and origin.
pub fn load(path: &Path, origin: &str) -> Result<NoteSigner, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(io)?;
    let malformed = |reason: &str| KeyFileError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let rest = text
        .trim_end_matches('\n')
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| malformed("it does not start with PRIVATE+KEY+"))?;
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected PRIVATE+KEY+name+keyid+base64"));
    };
    let raw = B64
        .decode(b64)
        .map_err(|_| malformed("the key is not base64"))?;
    let (Some(&1), Some(seed)) = (raw.first(), raw.get(1..)) else {
        return Err(malformed("not an ed25519 key"));
    };
    let seed = <[u8; 32]>::try_from(seed).map_err(|_| malformed("an ed25519 seed has 32 bytes"))?;
    let key = SigningKey::from_bytes(&seed);
    if hex::encode(key_id(name, &key.verifying_key())) != id_hex {
        return Err(malformed("the key ID does not match the key"));
    }
    if name != origin {
        return Err(KeyFileError::OtherOrigin {
            path: path.to_path_buf(),
            found: name.to_string(),
            expected: origin.to_string(),
        });
    }
    Ok(NoteSigner::new(name, key))
}

fn signer_line(signer: &NoteSigner) -> String {
    let verifier = signer.verifier();
    let mut raw = vec![1u8];
    raw.extend_from_slice(&signer.seed());
    let id = verifier
        .to_string()
        .split('+')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    format!("PRIVATE+KEY+{}+{}+{}\n", signer.name(), id, B64.encode(raw))
}

fn random_seed() -> std::io::Result<[u8; 32]> {
    use rand_core::{OsRng, RngCore as _};
    let mut seed = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_key_is_created_once_with_mode_0600_and_loaded_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE_NAME);
        let first = load_or_create(&path, "t.example/audit").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = load_or_create(&path, "t.example/audit").unwrap();
        assert_eq!(first.verifier(), second.verifier());
    }

    #[test]
    fn a_key_readable_by_others_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        load_or_create(&path, "o").unwrap();
        let before = std::fs::read(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, "o").unwrap_err();
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_malformed_key_file_is_refused_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        std::fs::write(&path, "garbage\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load_or_create(&path, "o").unwrap_err();
        assert!(matches!(err, KeyFileError::Malformed { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage\n");
    }

    #[test]
    fn a_key_for_another_origin_is_refused_with_both_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        load_or_create(&path, "first").unwrap();
        let err = load_or_create(&path, "second").unwrap_err().to_string();
        assert!(err.contains("`first`") && err.contains("`second`"), "{err}");
    }
}
