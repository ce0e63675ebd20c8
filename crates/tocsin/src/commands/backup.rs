//! `tocsin backup --output FILE` and `tocsin restore FILE`: the contingency plan HIPAA
//! 164.308(a)(7) asks for, for the SQLite deployment.
//!
//! A backup is one tar file: `manifest.json` (release, schema version, the audit log's
//! size and head, the checkpoint public key, and each file's SHA-256), `tocsin.db` (a
//! consistent snapshot taken with `VACUUM INTO` while the server runs), the public key
//! (`audit-signing.pub`) and the newest signed checkpoint. It holds no secret key: the
//! audit signing key and the sealing key are kept apart from backups, so a stolen backup
//! can neither forge checkpoints nor open the platform tokens sealed inside it.
//!
//! A restore never overwrites a database, checks every file against the manifest, needs
//! the signing key that signed the backup's log, and verifies the restored log's whole
//! chain before it keeps anything.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use tocsin_audit::{AuditEvent, NoteVerifier, KEY_FILE_NAME};
use tocsin_store::{sqlite_path, Store, StoreOptions, KEPT_CHECKPOINT_FILE, SCHEMA_VERSION};

use crate::config::Config;
use crate::store::{block_on, open_store};

/// The backup format this release writes and reads.
pub const FORMAT: &str = "tocsin-backup/1";
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "tocsin.db";
const PUBLIC_KEY: &str = "audit-signing.pub";

/// What a backup holds, written first in the archive.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// [`FORMAT`].
    format: String,
    /// The release and git revision that took it.
    release: String,
    /// When it was taken (RFC 3339, UTC).
    created_at: String,
    /// The snapshot's schema version.
    schema_version: i64,
    /// Audit entries in the snapshot, all verified when it was taken.
    audit_entries: u64,
    /// The hash of the snapshot's last audit entry.
    audit_head: String,
    /// The key that verifies the snapshot's checkpoints.
    audit_public_key: String,
    /// Every other file in the archive.
    files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    bytes: u64,
    sha256: String,
}

/// `tocsin backup --output FILE`.
pub fn backup(config: &Config, output: &Path) -> Result<ExitCode> {
    if output.exists() {
        bail!(
            "{}: already exists; a backup never overwrites a file",
            output.display()
        );
    }
    let staging = tempfile::tempdir().context("creating a staging directory")?;
    let manifest = block_on(take_snapshot(config, staging.path()))??;
    write_archive(output, staging.path(), &manifest)?;
    let archive_sha = sha256_file(output)?;
    block_on(async {
        let store = open_store(config).await?;
        store
            .append_audit(
                AuditEvent::new("system", "backup.taken")
                    .subject("file", output.display().to_string())
                    .subject("sha256", archive_sha.clone())
                    .outcome(format!("{} audit entries", manifest.audit_entries)),
            )
            .await?;
        store.close().await;
        Ok::<_, anyhow::Error>(())
    })??;
    println!(
        "backup written to {}: schema version {}, {} audit entries (chain verified, head {}), \
         sha256 {archive_sha}",
        output.display(),
        manifest.schema_version,
        manifest.audit_entries,
        manifest.audit_head
    );
    println!(
        "keep {KEY_FILE_NAME} and the sealing key apart from it: the backup holds neither, \
         and a restore needs both"
    );
    Ok(ExitCode::SUCCESS)
}

/// Snapshots the live database into `staging` and verifies the snapshot's audit chain.
async fn take_snapshot(config: &Config, staging: &Path) -> Result<Manifest> {
    let store = open_store(config).await?;
    let db = staging.join(DATABASE);
    let snapshot = store.snapshot_into(&db).await;
    let public_key = store.public_key();
    let checkpoint = store.kept_checkpoint()?;
    store.close().await;
    snapshot?;

    // Verify the snapshot itself, not the live log it came from: open it as a store with
    // a copy of the signing key, then take the copy away again.
    let key_copy = staging.join(KEY_FILE_NAME);
    let key_path = config.data_dir.join(KEY_FILE_NAME);
    let key_bytes =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    crate::commands::write_private(&key_copy, &key_bytes)?;
    let verified = verify_database(config, &db, staging, checkpoint.as_deref()).await;
    std::fs::remove_file(&key_copy).with_context(|| format!("removing {}", key_copy.display()))?;
    let verified = verified?;

    std::fs::write(staging.join(PUBLIC_KEY), format!("{public_key}\n"))?;
    let mut names = vec![DATABASE, PUBLIC_KEY];
    if let Some(note) = &checkpoint {
        std::fs::write(staging.join(KEPT_CHECKPOINT_FILE), note)?;
        names.push(KEPT_CHECKPOINT_FILE);
    }
    let files = names
        .into_iter()
        .map(|name| {
            let path = staging.join(name);
            Ok(FileEntry {
                name: name.to_string(),
                bytes: std::fs::metadata(&path)?.len(),
                sha256: sha256_file(&path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Manifest {
        format: FORMAT.into(),
        release: crate::cli::VERSION.into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        schema_version: SCHEMA_VERSION,
        audit_entries: verified.entries,
        audit_head: verified.head.to_hex(),
        audit_public_key: public_key.to_string(),
        files,
    })
}

/// Opens the SQLite file `db` with the signing key in `key_dir` and verifies its whole
/// audit chain (against `trusted`, a checkpoint kept outside it, when given).
async fn verify_database(
    config: &Config,
    db: &Path,
    key_dir: &Path,
    trusted: Option<&str>,
) -> Result<tocsin_audit::VerifiedLog> {
    let mut options = StoreOptions::new(format!("sqlite://{}", db.display()), key_dir);
    options.audit.origin = config.audit.origin.clone();
    let store = Store::open(options)
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let result = store.audit().verify_live(trusted).await;
    store.close().await;
    match result? {
        Ok(verified) => Ok(verified),
        Err(broken) => bail!(
            "the audit log in {} does not verify: first bad entry {}: {}",
            db.display(),
            broken.seq,
            broken.problem
        ),
    }
}

fn write_archive(output: &Path, staging: &Path, manifest: &Manifest) -> Result<()> {
    let tmp = output.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut archive = tar::Builder::new(file);
    let manifest_json = serde_json::to_vec_pretty(manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest_json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    archive.append_data(&mut header, MANIFEST, manifest_json.as_slice())?;
    for entry in &manifest.files {
        let mut f = std::fs::File::open(staging.join(&entry.name))?;
        archive.append_file(&entry.name, &mut f)?;
    }
    let file = archive.into_inner()?;
    file.sync_all()?;
    std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// `tocsin restore FILE`.
pub fn restore(config: &Config, archive: &Path) -> Result<ExitCode> {
    let Some(target) = sqlite_path(&config.database.url, &config.data_dir) else {
        bail!(
            "the configured database is not SQLite: restore PostgreSQL from its pg_dump with \
             pg_restore or psql (see the README's \"Backup and restore\")"
        );
    };
    if std::fs::metadata(&target).is_ok_and(|m| m.len() > 0) {
        bail!(
            "refusing to overwrite the database at {}: restore never replaces a database. \
             Stop the server, move that file (and its -wal and -shm files) somewhere safe, \
             then run the restore again",
            target.display()
        );
    }
    let key_path = config.data_dir.join(KEY_FILE_NAME);
    if !key_path.exists() {
        bail!(
            "{} is missing: a restore needs the audit signing key that signed the backup's \
             log (a backup never holds it); copy it from where you keep it (mode 600), \
             then run the restore again",
            key_path.display()
        );
    }
    let signer = tocsin_audit::keyfile::load(&key_path, &config.audit.origin)?;

    std::fs::create_dir_all(&config.data_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(&config.data_dir)
        .context("creating a staging directory in the data directory")?;
    let manifest = unpack(archive, staging.path())?;
    let backup_key = NoteVerifier::parse(manifest.audit_public_key.trim())
        .map_err(|e| anyhow::anyhow!("{}: its public key: {e}", archive.display()))?;
    if backup_key != signer.verifier() {
        bail!(
            "{} holds the key {}, but the backup's log was signed by {}: copy the signing \
             key that belongs to this backup",
            key_path.display(),
            signer.verifier(),
            backup_key
        );
    }
    let checkpoint = std::fs::read_to_string(staging.path().join(KEPT_CHECKPOINT_FILE)).ok();

    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(staging.path().join(DATABASE), &target)
        .with_context(|| format!("moving the restored database to {}", target.display()))?;
    let verified = block_on(verify_database(
        config,
        &target,
        &config.data_dir,
        checkpoint.as_deref(),
    ))?;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
            }
            return Err(e.context("nothing was restored"));
        }
    };
    let kept = config.data_dir.join(KEPT_CHECKPOINT_FILE);
    if let (Some(note), false) = (&checkpoint, kept.exists()) {
        std::fs::write(&kept, note)?;
    }
    let installation = block_on(async {
        let store = open_store(config).await?;
        let installation = store.renew_installation_id("system").await?;
        store
            .append_audit(
                AuditEvent::new("system", "backup.restored")
                    .subject("file", archive.display().to_string())
                    .subject("taken", manifest.created_at.clone())
                    .outcome(format!("{} audit entries verified", verified.entries)),
            )
            .await?;
        store.close().await;
        Ok::<_, anyhow::Error>(installation)
    })??;
    println!(
        "restored {} (taken {} by {}, schema version {}) into {}: {} audit entries verified; \
         new installation id {installation}, so this copy never reuses the original's \
         idempotency keys",
        archive.display(),
        manifest.created_at,
        manifest.release,
        manifest.schema_version,
        target.display(),
        verified.entries
    );
    Ok(ExitCode::SUCCESS)
}

/// Unpacks `archive` into `staging`, checking every file against the manifest.
fn unpack(archive: &Path, staging: &Path) -> Result<Manifest> {
    let file =
        std::fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut entries = tar::Archive::new(file);
    let mut manifest: Option<Manifest> = None;
    let mut seen: Vec<FileEntry> = Vec::new();
    let bad = |what: String| anyhow::anyhow!("{}: not a Tocsin backup: {what}", archive.display());
    for entry in entries.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if name == MANIFEST {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
            let m: Manifest =
                serde_json::from_str(&text).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
            if m.format != FORMAT {
                bail!(
                    "{}: backup format {:?}; this release reads {FORMAT:?}",
                    archive.display(),
                    m.format
                );
            }
            manifest = Some(m);
            continue;
        }
        if ![DATABASE, PUBLIC_KEY, KEPT_CHECKPOINT_FILE].contains(&name.as_str()) {
            return Err(bad(format!("unexpected file {name:?}")));
        }
        let path = staging.join(&name);
        let mut out = HashingWriter {
            file: std::fs::File::create(&path)?,
            hasher: Sha256::new(),
            bytes: 0,
        };
        std::io::copy(&mut entry, &mut out).map_err(|e| bad(format!("{name}: {e}")))?;
        out.file.sync_all()?;
        let (bytes, hasher) = (out.bytes, out.hasher);
        seen.push(FileEntry {
            name,
            bytes,
            sha256: hex::encode(hasher.finalize()),
        });
    }
    let manifest = manifest.ok_or_else(|| bad(format!("no {MANIFEST}")))?;
    for listed in &manifest.files {
        match seen.iter().find(|s| s.name == listed.name) {
            None => return Err(bad(format!("{} is listed but missing", listed.name))),
            Some(s) if s.sha256 != listed.sha256 || s.bytes != listed.bytes => {
                return Err(bad(format!(
                    "{} does not match the manifest (sha256 {} where the manifest says {}): \
                     the file was damaged or changed",
                    listed.name, s.sha256, listed.sha256
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen
        .iter()
        .find(|s| !manifest.files.iter().any(|l| l.name == s.name))
    {
        return Err(bad(format!("{} is not in the manifest", extra.name)));
    }
    if !seen.iter().any(|s| s.name == DATABASE) {
        return Err(bad(format!("no {DATABASE}")));
    }
    Ok(manifest)
}

/// Writes to a file while hashing and counting what goes through.
struct HashingWriter {
    file: std::fs::File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.bytes += written.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
