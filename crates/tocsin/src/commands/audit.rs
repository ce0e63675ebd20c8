//! `tocsin audit ...`: what compliance runs. `verify` checks the live log or an export
//! offline and names the first bad entry; `export` writes JSONL (verifiable offline) or
//! CSV with filters; `tail` follows new entries; `key` prints the checkpoint public key.
//!
//! Exit codes: 0 when everything holds, 1 when verification finds a problem, 2 for errors.

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tocsin_audit::export::ExportEntry;
use tocsin_audit::{ChainBreak, NoteVerifier, VerifiedLog};
use tocsin_store::{AuditFilter, Store};

use crate::config::Config;
use crate::store::open_store;

/// `tocsin audit ...`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every link of the hash chain and every checkpoint signature, in the live
    /// database or in an export file; name the first bad entry. Exit 0 only if all holds.
    Verify {
        /// Verify this JSONL export offline instead of the live database.
        #[arg(long, value_name = "EXPORT.jsonl")]
        file: Option<PathBuf>,
        /// The checkpoint public key (`name+keyid+base64`, as `tocsin audit key` prints
        /// it), or a file holding it. Required with --file; for the live database it
        /// defaults to the key in the data directory.
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
        /// A signed checkpoint kept elsewhere (default for the live database: the one
        /// kept in the data directory). A log shorter than it was truncated or rolled back.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The witness's copy of the checkpoints (`[audit] witness_file`, or the bodies a
        /// `witness_url` receiver kept): every one must match the log, and the log must
        /// reach the newest.
        #[arg(long, value_name = "FILE")]
        witness: Option<PathBuf>,
    },
    /// Export entries as JSON Lines (with hashes and checkpoints, verifiable offline) or CSV.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Which entries.
        #[command(flatten)]
        filter: FilterArgs,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the last entries, then follow new ones as they are appended.
    Tail {
        /// Which entries.
        #[command(flatten)]
        filter: FilterArgs,
        /// How many existing entries to show first.
        #[arg(long, short = 'n', default_value_t = 10)]
        lines: u64,
        /// Print the last entries and stop instead of following.
        #[arg(long)]
        no_follow: bool,
        /// How often to look for new entries, in milliseconds.
        #[arg(long, default_value_t = 1000, value_name = "MS")]
        interval_ms: u64,
        /// Print entries as JSON lines (the export's entry form) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key that verifies this log's checkpoints (creating the signing
    /// key in the data directory on first use).
    Key,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: header, entries with hashes, signed checkpoints.
    Jsonl,
    /// Comma-separated values, one row per entry.
    Csv,
}

/// Entry filters shared by `export` and `tail`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Entries at or after this time (RFC 3339, or a date meaning midnight UTC).
    #[arg(long, value_parser = parse_when)]
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339, or a date meaning midnight UTC).
    #[arg(long, value_parser = parse_when)]
    pub until: Option<DateTime<Utc>>,
    /// Entries by this user.
    #[arg(long)]
    pub actor: Option<String>,
    /// Entries concerning this playbook.
    #[arg(long)]
    pub playbook: Option<String>,
    /// Entries concerning this account (its id).
    #[arg(long)]
    pub account: Option<String>,
    /// Entries with this action, e.g. `playbook.approve`.
    #[arg(long)]
    pub action: Option<String>,
    /// Entries with this outcome, e.g. `failed`.
    #[arg(long)]
    pub outcome: Option<String>,
}

impl FilterArgs {
    fn to_filter(&self) -> AuditFilter {
        AuditFilter {
            since: self.since,
            until: self.until,
            actor: self.actor.clone(),
            playbook: self.playbook.clone(),
            account: self.account.clone(),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            after_seq: None,
            before_seq: None,
            newest_first: false,
            mentions: Vec::new(),
            limit: None,
        }
    }
}

fn parse_when(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!(
                "`{text}` is not an RFC 3339 time (2026-05-01T08:00:00Z) or a date (2026-05-01)"
            )
        })
}

/// Runs an audit command.
pub fn run(config: &Config, cmd: AuditCommand) -> Result<ExitCode> {
    if let AuditCommand::Key = cmd {
        let path = config.data_dir.join(tocsin_audit::KEY_FILE_NAME);
        let signer = tocsin_audit::load_or_create(&path, &config.audit.origin)?;
        println!("{}", signer.verifier());
        return Ok(ExitCode::SUCCESS);
    }
    if let AuditCommand::Verify {
        file: Some(file),
        public_key,
        checkpoint,
        witness,
    } = &cmd
    {
        let Some(key) = public_key else {
            bail!("verifying an export needs the public key: pass --public-key (from `tocsin audit key` on the server, obtained separately from the export)");
        };
        let mut outside = Vec::new();
        if let Some(p) = checkpoint {
            outside.push((
                "the checkpoint kept outside the log".to_string(),
                read_checkpoint(p)?,
            ));
        }
        if let Some(p) = witness {
            outside.extend(read_witness(p)?);
        }
        return verify_file(file, &read_key(key)?, &outside, interval(config));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = open_store(config).await?;
        let code = match cmd {
            AuditCommand::Verify {
                public_key,
                checkpoint,
                witness,
                ..
            } => {
                verify_live(
                    &store,
                    public_key.as_deref(),
                    checkpoint.as_deref(),
                    witness.as_deref(),
                )
                .await
            }
            AuditCommand::Export {
                format,
                filter,
                output,
            } => export(&store, format, &filter.to_filter(), output.as_deref()).await,
            AuditCommand::Tail {
                filter,
                lines,
                no_follow,
                interval_ms,
                json,
            } => {
                tail(
                    &store,
                    filter.to_filter(),
                    lines,
                    !no_follow,
                    interval_ms,
                    json,
                )
                .await
            }
            AuditCommand::Key => Ok(ExitCode::SUCCESS),
        };
        store.close().await;
        code
    })
}

/// A key given inline, or the name of a file holding it.
fn read_key(arg: &str) -> Result<NoteVerifier> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg)
            .with_context(|| format!("reading the public key file {arg}"))?
    } else {
        arg.to_string()
    };
    Ok(NoteVerifier::parse(text.trim())?)
}

/// The writer's checkpoint interval, from `[audit]`.
fn interval(config: &Config) -> tocsin_audit::CheckpointInterval {
    tocsin_audit::CheckpointInterval {
        entries: config.audit.checkpoint_every_entries,
        seconds: config.audit.checkpoint_every_seconds,
    }
}

/// The witness's checkpoints, each named by its place in the file.
fn read_witness(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the witness file {}", path.display()))?;
    let notes = tocsin_audit::read_witness(&text)
        .with_context(|| format!("the witness file {}", path.display()))?;
    if notes.is_empty() {
        bail!(
            "the witness file {} holds no checkpoint; a witness that took none cannot vouch for the log",
            path.display()
        );
    }
    Ok(notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("witness checkpoint #{}", i + 1), n))
        .collect())
}

fn read_checkpoint(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the checkpoint {}", path.display()))
}

fn print_failure(source: &str, b: &ChainBreak) -> ExitCode {
    println!("FAILED: {source} does not verify");
    println!("first bad entry: {}", b.seq);
    println!("problem: {}", b.problem);
    ExitCode::from(1)
}

fn print_success(source: &str, v: &VerifiedLog, trusted: bool) {
    println!(
        "OK: {source} verifies: {} entries, every link holds, {} checkpoint(s) signed by the audit key",
        v.entries, v.checkpoints
    );
    println!("chain head: {}", v.head);
    if v.unsigned_tail() > 0 {
        println!(
            "note: the last {} entries are linked but not yet covered by a signed checkpoint",
            v.unsigned_tail()
        );
    }
    if !trusted {
        println!("note: no checkpoint kept outside the log was given; a rollback of the whole log to an older state cannot be ruled out");
    }
}

async fn verify_live(
    store: &Store,
    key: Option<&str>,
    checkpoint: Option<&Path>,
    witness: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(key) = key {
        let key = read_key(key)?;
        if key != store.public_key() {
            println!(
                "FAILED: the given public key is not this log's key ({})",
                store.public_key()
            );
            return Ok(ExitCode::from(1));
        }
    }
    let trusted = match checkpoint {
        Some(p) => Some(read_checkpoint(p)?),
        None => store.kept_checkpoint()?,
    };
    let mut outside: Vec<(String, String)> = trusted
        .map(|n| ("the checkpoint kept outside the database".to_string(), n))
        .into_iter()
        .collect();
    if let Some(p) = witness {
        outside.extend(read_witness(p)?);
    }
    Ok(match store.audit().verify_live_with(&outside).await? {
        Ok(v) => {
            print_success("the live audit log", &v, !outside.is_empty());
            ExitCode::SUCCESS
        }
        Err(b) => print_failure("the live audit log", &b),
    })
}

fn verify_file(
    path: &Path,
    key: &NoteVerifier,
    outside: &[(String, String)],
    interval: tocsin_audit::CheckpointInterval,
) -> Result<ExitCode> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let source = path.display().to_string();
    match tocsin_audit::verify_jsonl_with(BufReader::new(file), key, outside, Some(interval)) {
        Ok(report) => {
            match &report.full {
                Some(v) => print_success(&source, v, !outside.is_empty()),
                None => {
                    println!(
                        "OK: {source} is a partial export (filters: {}); each of its {} entries matches its \
                         hashes, adjacent entries link, and {} checkpoint(s) are signed by the audit key",
                        describe(&report.header.filters),
                        report.entries,
                        report.checkpoints
                    );
                    println!("note: a partial export cannot show that no entries are missing between those it holds");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(tocsin_audit::ExportError::Broken(b)) => Ok(print_failure(&source, &b)),
        Err(tocsin_audit::ExportError::Line { line, message }) => {
            println!("FAILED: {source} is not a valid export");
            println!("line {line}: {message}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn describe(filters: &std::collections::BTreeMap<String, String>) -> String {
    filters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn export(
    store: &Store,
    format: ExportFormat,
    filter: &AuditFilter,
    output: Option<&Path>,
) -> Result<ExitCode> {
    let out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = match format {
        ExportFormat::Jsonl => store.audit().export_jsonl(filter, out).await?,
        ExportFormat::Csv => store.audit().export_csv(filter, out).await?,
    };
    if let Some(path) = output {
        eprintln!("exported {n} entries to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn tail(
    store: &Store,
    mut filter: AuditFilter,
    lines: u64,
    follow: bool,
    interval_ms: u64,
    json: bool,
) -> Result<ExitCode> {
    // Start `lines` entries back from the end (counting all entries, so with filters
    // the first screen may be shorter; following then shows every matching entry).
    let len = store.audit().entry_count().await?;
    filter.after_seq = len.checked_sub(lines.saturating_add(1));
    let mut stdout = std::io::stdout();
    loop {
        filter.limit = Some(1000);
        let page = store.audit().read(&filter).await?;
        for e in &page {
            if json {
                let line =
                    serde_json::to_string(&ExportEntry::new(&e.entry, &e.prev_hash, &e.hash))?;
                writeln!(stdout, "{line}")?;
            } else {
                let ev = &e.entry.event;
                let subjects: Vec<String> = ev
                    .subjects
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                writeln!(
                    stdout,
                    "{:>8}  {}  {:<16} {:<20} {}{}{}",
                    e.entry.seq,
                    e.entry.time_text(),
                    ev.actor,
                    ev.action,
                    subjects.join(" "),
                    ev.outcome
                        .as_deref()
                        .map(|o| format!("  -> {o}"))
                        .unwrap_or_default(),
                    if ev.exercise { "  [exercise]" } else { "" }
                )?;
            }
            filter.after_seq = Some(e.entry.seq);
        }
        stdout.flush()?;
        if page.len() as u64 == 1000 {
            continue;
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(interval_ms.max(50))).await;
    }
}
