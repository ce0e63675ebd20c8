//! Tocsin's tamper-evident audit log, as pure code: canonical entries, the SHA-256 hash
//! chain, ed25519-signed checkpoints in the C2SP signed-note format, the verifier, and
//! the JSONL/CSV export.
//!
//! Storage lives in `tocsin-store`, which appends entries with [`chain_hash`] in the
//! same transaction as the change they record; everything here works on values, so the
//! verifier is the same for the live database, an export, and the tests.

pub mod checkpoint;
pub mod entry;
pub mod export;
pub mod keyfile;
pub mod memory;
pub mod verify;
pub mod witness;

pub use checkpoint::{open_checkpoint, Checkpoint, CheckpointError, NoteSigner, NoteVerifier};
pub use entry::{chain_hash, payload_commitment, AuditEntry, AuditEvent, ChainHash};
pub use export::{
    verify_jsonl, verify_jsonl_with, CsvWriter, ExportError, ExportHeader, ExportReport,
    JsonlWriter,
};
pub use keyfile::{load_or_create, KeyFileError, KEY_FILE_NAME};
pub use memory::MemoryLog;
pub use verify::{verify_log, ChainBreak, ChainVerifier, CheckpointInterval, Problem, VerifiedLog};
pub use witness::{read_witness, WitnessError};
