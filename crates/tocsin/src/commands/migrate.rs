//! `tocsin migrate [--dry-run]`: bring the database's schema up to this release, or say
//! what doing so would change without touching anything.
//!
//! Every command that opens the store migrates it first, so this command exists for the
//! upgrade runbook: read what an upgrade will do (`--dry-run`), take a backup, then apply
//! it on one node before the others restart on the new release.

use anyhow::{bail, Result};
use serde::Serialize;
use std::process::ExitCode;
use tocsin_store::{schema_status, SchemaStatus};

use crate::config::Config;
use crate::store::{block_on, open_store};

/// What `tocsin migrate` found and did, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report<'a> {
    /// The schema version found before (`null`: a new database).
    found: Option<i64>,
    /// The newest version this release knows.
    known: i64,
    /// The migrations that apply (or applied), oldest first.
    pending: Vec<PendingJson<'a>>,
    /// Whether they were applied (`false` for `--dry-run`).
    applied: bool,
}

#[derive(Debug, Serialize)]
struct PendingJson<'a> {
    version: i64,
    name: &'a str,
    summary: &'a str,
}

/// Runs `tocsin migrate`.
pub fn run(config: &Config, dry_run: bool, json: bool) -> Result<ExitCode> {
    let status = block_on(schema_status(&config.database.url, &config.data_dir))??;
    if status.too_new() {
        bail!(
            "the database is at schema version {}, newer than this release knows ({}): it was \
             written by a newer Tocsin; run that release (or newer) against it",
            status.found.unwrap_or_default(),
            status.known
        );
    }
    let applied = !dry_run && !status.pending.is_empty();
    if applied {
        block_on(async {
            let store = open_store(config).await?;
            store.close().await;
            Ok::<_, anyhow::Error>(())
        })??;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(&status, applied))?
        );
    } else {
        print!("{}", in_words(&status, dry_run));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(status: &SchemaStatus, applied: bool) -> Report<'_> {
    Report {
        found: status.found,
        known: status.known,
        pending: status
            .pending
            .iter()
            .map(|m| PendingJson {
                version: m.version,
                name: m.name,
                summary: &m.summary,
            })
            .collect(),
        applied,
    }
}

fn in_words(status: &SchemaStatus, dry_run: bool) -> String {
    let mut out = String::new();
    let from = status.found.map_or_else(
        || "a new database".to_string(),
        |v| format!("schema version {v}"),
    );
    if status.pending.is_empty() {
        out.push_str(&format!(
            "{from}: up to date with this release (schema version {}); nothing to do\n",
            status.known
        ));
        return out;
    }
    let verb = if dry_run { "would apply" } else { "applied" };
    out.push_str(&format!(
        "{from}: {verb} {} migration(s) to reach schema version {}:\n",
        status.pending.len(),
        status.known
    ));
    for m in &status.pending {
        out.push_str(&format!("  {:04} {}: {}\n", m.version, m.name, m.summary));
    }
    if dry_run {
        out.push_str("nothing was changed (run without --dry-run to apply; back up first)\n");
    }
    out
}
