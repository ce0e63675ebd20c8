//! Exports: JSON Lines that verify offline, and CSV for spreadsheets.
//!
//! A JSONL export is a header line (format, origin, public key, whether it is partial
//! and with which filters), one line per entry with its previous and own hash, and the
//! signed checkpoints as lines of their own. A full export verifies exactly like the
//! live log; a filtered (partial) one proves each entry it holds against its own hashes
//! and links the entries that are adjacent. Any line that is not valid JSON of the
//! expected shape fails with its line number.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::checkpoint::{open_checkpoint, NoteVerifier};
use crate::entry::{chain_hash, format_time, parse_time, AuditEntry, AuditEvent, ChainHash};
use crate::verify::{ChainBreak, ChainVerifier, CheckpointInterval, Problem, VerifiedLog};

/// The `format` value of the header line.
pub const EXPORT_FORMAT: &str = "tocsin-audit-export/1";

/// One line of a JSONL export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExportLine {
    /// The first line.
    Header(ExportHeader),
    /// An entry with its hashes.
    Entry(ExportEntry),
    /// A signed checkpoint note.
    Checkpoint {
        /// The signed note text.
        note: String,
    },
}

/// The header line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The checkpoint key in verifier-key form (informational: verify with a key you
    /// obtained separately).
    pub public_key: String,
    /// Whether filters left entries out (then only the entries present are proven).
    pub partial: bool,
    /// The filters used, by name.
    pub filters: BTreeMap<String, String>,
    /// When the export was made (RFC 3339).
    pub exported_at: String,
}

/// An entry line: the entry's fields plus its chain hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportEntry {
    /// Sequence number.
    pub seq: u64,
    /// Time in the canonical form.
    pub time: String,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Subjects by kind.
    pub subjects: BTreeMap<String, String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Exercise flag.
    pub exercise: bool,
    /// Payload commitment.
    pub payload_sha256: Option<String>,
    /// The hash of the entry before (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

impl ExportEntry {
    /// The line for an entry.
    pub fn new(entry: &AuditEntry, prev: &ChainHash, hash: &ChainHash) -> ExportEntry {
        let e = &entry.event;
        ExportEntry {
            seq: entry.seq,
            time: format_time(&entry.time),
            actor: e.actor.clone(),
            action: e.action.clone(),
            subjects: e.subjects.clone(),
            outcome: e.outcome.clone(),
            exercise: e.exercise,
            payload_sha256: e.payload_sha256.clone(),
            prev_hash: prev.to_hex(),
            hash: hash.to_hex(),
        }
    }

    /// The entry and hashes back, or what is malformed.
    pub fn to_entry(&self) -> Result<(AuditEntry, ChainHash, ChainHash), String> {
        let time = parse_time(&self.time).ok_or("`time` is not an RFC 3339 time")?;
        let prev =
            ChainHash::from_hex(&self.prev_hash).ok_or("`prev_hash` is not 64 hex digits")?;
        let hash = ChainHash::from_hex(&self.hash).ok_or("`hash` is not 64 hex digits")?;
        let entry = AuditEntry {
            seq: self.seq,
            time,
            event: AuditEvent {
                actor: self.actor.clone(),
                action: self.action.clone(),
                subjects: self.subjects.clone(),
                outcome: self.outcome.clone(),
                exercise: self.exercise,
                payload_sha256: self.payload_sha256.clone(),
            },
        };
        Ok((entry, prev, hash))
    }
}

/// Writes a JSONL export line by line.
pub struct JsonlWriter<W: Write> {
    out: W,
}

impl<W: Write> JsonlWriter<W> {
    /// Starts an export with its header line.
    pub fn start(mut out: W, header: &ExportHeader) -> std::io::Result<JsonlWriter<W>> {
        write_line(&mut out, &ExportLine::Header(header.clone()))?;
        Ok(JsonlWriter { out })
    }

    /// Writes an entry with its previous and own hash.
    pub fn entry(
        &mut self,
        entry: &AuditEntry,
        prev: &ChainHash,
        hash: &ChainHash,
    ) -> std::io::Result<()> {
        write_line(
            &mut self.out,
            &ExportLine::Entry(ExportEntry::new(entry, prev, hash)),
        )
    }

    /// Writes a signed checkpoint.
    pub fn checkpoint(&mut self, note: &str) -> std::io::Result<()> {
        write_line(
            &mut self.out,
            &ExportLine::Checkpoint {
                note: note.to_string(),
            },
        )
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_line<W: Write>(out: &mut W, line: &ExportLine) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// Writes entries as CSV with a header row (subjects as `kind=id` joined by `;`).
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// Starts a CSV export with its header row.
    pub fn start(out: W) -> Result<CsvWriter<W>, csv::Error> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record([
            "seq",
            "time",
            "actor",
            "action",
            "subjects",
            "outcome",
            "exercise",
            "payload_sha256",
            "prev_hash",
            "hash",
        ])?;
        Ok(CsvWriter { out })
    }

    /// Writes one entry with its previous and own hash.
    pub fn entry(
        &mut self,
        entry: &AuditEntry,
        prev: &ChainHash,
        hash: &ChainHash,
    ) -> Result<(), csv::Error> {
        let e = &entry.event;
        let subjects: Vec<String> = e.subjects.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.out.write_record([
            entry.seq.to_string(),
            format_time(&entry.time),
            e.actor.clone(),
            e.action.clone(),
            subjects.join(";"),
            e.outcome.clone().unwrap_or_default(),
            e.exercise.to_string(),
            e.payload_sha256.clone().unwrap_or_default(),
            prev.to_hex(),
            hash.to_hex(),
        ])
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.out
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// Why an export did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be read.
    #[error("reading the export: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not valid JSON of the export's shape.
    #[error("line {line}: {message}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The lines parse, but the log they carry does not hold.
    #[error("{0}")]
    Broken(#[from] ChainBreak),
}

/// What a verified export established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The header.
    pub header: ExportHeader,
    /// Entries proven.
    pub entries: u64,
    /// Checkpoints whose signatures held (and whose heads matched where checkable).
    pub checkpoints: usize,
    /// For a full export, the log-level result.
    pub full: Option<VerifiedLog>,
}

/// A JSONL export read back, not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedExport {
    /// The header line.
    pub header: ExportHeader,
    /// Entry lines with their line numbers.
    pub entries: Vec<(usize, ExportEntry)>,
    /// Checkpoint notes in file order.
    pub checkpoints: Vec<String>,
}

/// Reads a JSONL export: header, entries (with line numbers) and checkpoint notes.
pub fn read_jsonl<R: BufRead>(input: R) -> Result<ParsedExport, ExportError> {
    let mut header = None;
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let number = i + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| ExportError::Line {
                line: number,
                message: format!("not valid JSON ({e})"),
            })?;
        let parsed: ExportLine = serde_json::from_value(value).map_err(|e| ExportError::Line {
            line: number,
            message: format!("valid JSON, but not an export line ({e})"),
        })?;
        match parsed {
            ExportLine::Header(h) if header.is_none() && number == 1 => {
                if h.format != EXPORT_FORMAT {
                    return Err(ExportError::Line {
                        line: number,
                        message: format!(
                            "unknown export format `{}` (expected {EXPORT_FORMAT})",
                            h.format
                        ),
                    });
                }
                header = Some(h);
            }
            ExportLine::Header(_) => {
                return Err(ExportError::Line {
                    line: number,
                    message: "a header line may only be the first line".into(),
                })
            }
            _ if header.is_none() => {
                return Err(ExportError::Line {
                    line: number,
                    message: "the first line must be the export header".into(),
                })
            }
            ExportLine::Entry(e) => entries.push((number, e)),
            ExportLine::Checkpoint { note } => checkpoints.push(note),
        }
    }
    let header = header.ok_or(ExportError::Line {
        line: 1,
        message: "the export is empty (no header line)".into(),
    })?;
    Ok(ParsedExport {
        header,
        entries,
        checkpoints,
    })
}

/// Verifies a JSONL export with a public key obtained separately (not the header's),
/// and optionally the latest checkpoint kept elsewhere.
pub fn verify_jsonl<R: BufRead>(
    input: R,
    key: &NoteVerifier,
    trusted: Option<&str>,
) -> Result<ExportReport, ExportError> {
    let outside: Vec<(String, String)> = trusted
        .map(|n| {
            (
                "the checkpoint kept outside the log".to_string(),
                n.to_string(),
            )
        })
        .into_iter()
        .collect();
    verify_jsonl_with(input, key, &outside, None)
}

/// As [`verify_jsonl`], with checkpoints kept outside the log (each named for reports:
/// the kept file, a witness's copies) and, for a full export, the writer's checkpoint
/// interval: an unsigned tail longer than it fails (see [`crate::verify`]).
pub fn verify_jsonl_with<R: BufRead>(
    input: R,
    key: &NoteVerifier,
    outside: &[(String, String)],
    interval: Option<CheckpointInterval>,
) -> Result<ExportReport, ExportError> {
    let ParsedExport {
        header,
        entries,
        checkpoints,
    } = read_jsonl(input)?;
    let mut parsed = Vec::with_capacity(entries.len());
    for (line, e) in &entries {
        let (entry, prev, hash) = e.to_entry().map_err(|message| ExportError::Line {
            line: *line,
            message,
        })?;
        parsed.push((entry, prev, hash));
    }
    if header.partial {
        let (entries_ok, checkpoints_ok) = verify_partial(key, &parsed, &checkpoints)?;
        return Ok(ExportReport {
            header,
            entries: entries_ok,
            checkpoints: checkpoints_ok,
            full: None,
        });
    }
    let mut v = ChainVerifier::with_outside(key, &checkpoints, outside);
    if let Some(interval) = interval {
        v = v.require_coverage(interval);
    }
    for (entry, prev, hash) in &parsed {
        v.push_linked(entry, Some(prev), hash)?;
    }
    let log = v.finish()?;
    Ok(ExportReport {
        header,
        entries: log.entries,
        checkpoints: log.checkpoints,
        full: Some(log),
    })
}

/// Checks a filtered export: each entry against its own hashes, adjacent entries linked,
/// sequence numbers increasing, checkpoints signed, and heads matched where present.
fn verify_partial(
    key: &NoteVerifier,
    entries: &[(AuditEntry, ChainHash, ChainHash)],
    checkpoints: &[String],
) -> Result<(u64, usize), ChainBreak> {
    let mut last: Option<(u64, ChainHash)> = None;
    let mut buf = Vec::with_capacity(256);
    let mut hashes = std::collections::HashMap::new();
    for (entry, prev, hash) in entries {
        let seq = entry.seq;
        if let Some((last_seq, last_hash)) = last {
            if seq <= last_seq {
                return Err(ChainBreak {
                    seq,
                    problem: Problem::OutOfOrder { found: seq },
                });
            }
            if seq == last_seq + 1 && *prev != last_hash {
                return Err(ChainBreak {
                    seq,
                    problem: Problem::PrevMismatch,
                });
            }
        } else if seq == 0 && *prev != ChainHash::GENESIS {
            return Err(ChainBreak {
                seq,
                problem: Problem::PrevMismatch,
            });
        }
        buf.clear();
        entry.write_canonical(&mut buf);
        if chain_hash(prev, &buf) != *hash {
            return Err(ChainBreak {
                seq,
                problem: Problem::HashMismatch,
            });
        }
        hashes.insert(seq, *hash);
        last = Some((seq, *hash));
    }
    let mut ok = 0;
    for (i, note) in checkpoints.iter().enumerate() {
        let index = i + 1;
        let c = open_checkpoint(note, key).map_err(|e| ChainBreak {
            seq: 0,
            problem: Problem::CheckpointInvalid {
                index,
                size: crate::checkpoint::parse_unverified(note).map_or(0, |c| c.size),
                reason: e.to_string(),
            },
        })?;
        if let Some(h) = c.size.checked_sub(1).and_then(|s| hashes.get(&s)) {
            if *h != c.head {
                return Err(ChainBreak {
                    seq: c.size - 1,
                    problem: Problem::CheckpointHead {
                        which: format!("checkpoint #{index}"),
                        size: c.size,
                    },
                });
            }
        }
        ok += 1;
    }
    Ok((entries.len() as u64, ok))
}
