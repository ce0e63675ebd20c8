//! Writes the seed corpus of the `audit_verify` target: real JSONL exports of a small
//! log signed with the fuzz key, as `tocsin audit export` writes them (full, empty, and
//! filtered), and a lone signed checkpoint note. Run from `fuzz/`:
//! `cargo run --example audit_seeds` (stable is fine; it writes `corpus/audit_verify/`).

use std::collections::BTreeMap;
use std::path::Path;
use tocsin_audit::{ExportHeader, JsonlWriter, MemoryLog};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/audit_verify");
    std::fs::create_dir_all(&dir)?;
    let signer = tocsin_fuzz::audit_signer();
    let log = tocsin_fuzz::sample_audit_log();

    let full = tocsin_fuzz::export_jsonl(&log, &signer);
    std::fs::write(dir.join("seed-export-full.jsonl"), &full)?;
    let empty = tocsin_fuzz::export_jsonl(&MemoryLog::new(), &signer);
    std::fs::write(dir.join("seed-export-empty.jsonl"), &empty)?;

    // A filtered export (`--actor dana`): only dana's entries, marked partial.
    let header = ExportHeader {
        format: tocsin_audit::export::EXPORT_FORMAT.into(),
        origin: signer.name().to_string(),
        public_key: signer.verifier().to_string(),
        partial: true,
        filters: BTreeMap::from([("actor".to_string(), "dana".to_string())]),
        exported_at: "2026-07-15T00:00:00.000000Z".into(),
    };
    let mut w = JsonlWriter::start(Vec::new(), &header)?;
    let mut prev = tocsin_audit::ChainHash::GENESIS;
    for (entry, hash) in &log.entries {
        if entry.event.actor == "dana" {
            w.entry(entry, &prev, hash)?;
        }
        prev = *hash;
    }
    for note in &log.checkpoints {
        w.checkpoint(note)?;
    }
    std::fs::write(dir.join("seed-export-partial.jsonl"), w.finish()?)?;

    if let Some(note) = log.checkpoints.last() {
        std::fs::write(dir.join("seed-checkpoint.note"), note)?;
    }
    std::fs::write(
        dir.join("seed-public-key.txt"),
        signer.verifier().to_string(),
    )?;
    println!("wrote the audit_verify seeds to {}", dir.display());
    Ok(())
}
