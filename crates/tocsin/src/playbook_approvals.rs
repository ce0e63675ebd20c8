//! Where playbook pre-approvals are recorded until the durable store takes over: an
//! append-only JSON Lines file in the data directory.
//!
//! Each line is one [`PlaybookApproval`]; lines are only ever appended. A malformed line
//! is an error naming the line, never silently skipped: an approval register that drops
//! records would make "pre-approved" meaningless.

use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use tocsin_domain::preapproval::PlaybookApproval;

/// The register file inside a data directory.
pub fn register_path(data_dir: &Path) -> PathBuf {
    data_dir.join("playbook-approvals.jsonl")
}

/// Every recorded approval (none if the file does not exist yet).
pub fn read_all(data_dir: &Path) -> Result<Vec<PlaybookApproval>> {
    let path = register_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a playbook approval record", path.display(), i + 1))
        })
        .collect()
}

/// Appends one approval, flushed to disk before returning.
pub fn append(data_dir: &Path, approval: &PlaybookApproval) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = register_path(data_dir);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut line = serde_json::to_string(approval)?;
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
