//! Witnesses: each signed checkpoint is also published where the application cannot
//! rewrite it, so a database writer who rewrites the log and its checkpoints table is
//! still caught by `tocsin audit verify --witness`.
//!
//! A witness gets the newest checkpoint of each committed transaction that signed one
//! (a later checkpoint covers everything an earlier one did). Publishing happens after
//! the commit and never fails it: a witness that cannot be reached is logged, and the
//! next checkpoint is published again. [`FileWitness`] appends to a file (on another
//! mount, made append-only with `chattr +a`, so this process can add but not rewrite);
//! the webhook witness lives with the HTTP client in the `tocsin` binary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::StoreError;

/// Somewhere each signed checkpoint is also published.
pub trait CheckpointWitness: Send + Sync + 'static {
    /// Publishes a checkpoint note just committed. Must return quickly (queue slow work);
    /// an error is logged by the store and does not undo the commit.
    fn publish(&self, note: &str) -> Result<(), String>;

    /// Waits until the notes queued so far are delivered or given up on (at close).
    fn flush(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// Appends each checkpoint note to a file, as signed, one after another (the format
/// [`tocsin_audit::read_witness`] reads).
#[derive(Debug)]
pub struct FileWitness {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl FileWitness {
    /// Opens (creating if needed) `path` for appending only.
    pub fn open(path: &Path) -> Result<FileWitness, StoreError> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(FileWitness {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }
}

impl CheckpointWitness for FileWitness {
    fn publish(&self, note: &str) -> Result<(), String> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write of the whole note: appends from several processes never interleave.
        file.write_all(note.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("appending to the witness file {}: {e}", self.path.display()))
    }
}
