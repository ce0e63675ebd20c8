//! An in-memory log: the reference for how appends and checkpoints fit together, used by
//! tests, benchmarks and tools that build a log without a database.

use chrono::{DateTime, Utc};

use crate::checkpoint::{Checkpoint, NoteSigner};
use crate::entry::{chain_hash, AuditEntry, AuditEvent, ChainHash};

/// Entries with their hashes, and signed checkpoints, in the order they were written.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    /// Entries in sequence order with their chain hashes.
    pub entries: Vec<(AuditEntry, ChainHash)>,
    /// Signed checkpoint notes, oldest first.
    pub checkpoints: Vec<String>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// The hash of the last entry (zeros when empty).
    pub fn head(&self) -> ChainHash {
        self.entries.last().map_or(ChainHash::GENESIS, |(_, h)| *h)
    }

    /// Appends an event at `time` and returns its hash.
    pub fn append(&mut self, time: DateTime<Utc>, event: AuditEvent) -> ChainHash {
        let entry = AuditEntry::new(self.entries.len() as u64, time, event);
        let hash = chain_hash(&self.head(), &entry.canonical_bytes());
        self.entries.push((entry, hash));
        hash
    }

    /// Signs a checkpoint of the log as it is now and keeps it.
    pub fn checkpoint(&mut self, time: DateTime<Utc>, signer: &NoteSigner) -> String {
        let note = Checkpoint {
            origin: signer.name().to_string(),
            size: self.entries.len() as u64,
            head: self.head(),
            time,
        }
        .sign(signer);
        self.checkpoints.push(note.clone());
        note
    }
}
