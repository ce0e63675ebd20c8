//! Reading the audit log back: filtered pages, checkpoints, live verification, exports.
//!
//! Reads page by sequence number, so verifying or exporting a log of millions of entries
//! holds one page in memory. Exports pin the log's size first and include only the
//! checkpoints within it, so an export taken while nodes keep appending still verifies.

use crate::aggregates::*;
use crate::tx::on_pool;
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};
use chrono::{DateTime, Utc};
use sqlx::Row as _;
use std::collections::BTreeMap;
use std::io::Write;
use tocsin_audit::entry::{format_time, parse_time};
use tocsin_audit::export::{CsvWriter, ExportHeader, JsonlWriter, EXPORT_FORMAT};
use tocsin_audit::{AuditEntry, AuditEvent, ChainBreak, ChainHash, ChainVerifier, VerifiedLog};

/// Which entries to read; every field left `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// By this actor.
    pub actor: Option<String>,
    /// Concerning this playbook.
    pub playbook: Option<String>,
    /// Concerning this account.
    pub account: Option<String>,
    /// This action.
    pub action: Option<String>,
    /// With this outcome.
    pub outcome: Option<String>,
    /// With a sequence number above this (for paging and tailing).
    pub after_seq: Option<u64>,
    /// With a sequence number below this (paging back from the newest).
    pub before_seq: Option<u64>,
    /// Newest first (the viewer's order); exports and verification keep the chain's.
    pub newest_first: bool,
    /// Naming any of these subjects (kind, id), e.g. `("message", "5")`: one message's
    /// story. Empty: no such condition.
    pub mentions: Vec<(String, String)>,
    /// At most this many.
    pub limit: Option<u64>,
}

impl AuditFilter {
    /// Whether any content filter is set (paging fields do not count).
    pub fn is_partial(&self) -> bool {
        !self.describe().is_empty()
    }

    /// The content filters by name, for an export header.
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("since", self.since.as_ref().map(format_time));
        put("until", self.until.as_ref().map(format_time));
        put("actor", self.actor.clone());
        put("playbook", self.playbook.clone());
        put("account", self.account.clone());
        put("action", self.action.clone());
        put("outcome", self.outcome.clone());
        if !self.mentions.is_empty() {
            let named: Vec<String> = self
                .mentions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            m.insert("mentions".to_string(), named.join(" or "));
        }
        m
    }
}

/// An entry as stored, with its hash and the hash before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The entry.
    pub entry: AuditEntry,
    /// The previous entry's hash (zeros for the first; as stored, for exports).
    pub prev_hash: ChainHash,
    /// Its recorded hash.
    pub hash: ChainHash,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Entries covered.
    pub size: u64,
    /// When signed.
    pub time: String,
    /// The signed note.
    pub note: String,
}

struct RawRow {
    seq: i64,
    time: String,
    actor: String,
    action: String,
    subjects: String,
    outcome: Option<String>,
    exercise: bool,
    payload_sha256: Option<String>,
    playbook: Option<String>,
    account: Option<String>,
    hash: String,
    prev_hash: Option<String>,
}

/// What a stored row means, or why it cannot mean anything.
fn decode(row: RawRow) -> Result<(AuditEntry, ChainHash, Option<ChainHash>), String> {
    let time =
        parse_time(&row.time).ok_or_else(|| format!("time `{}` is not RFC 3339", row.time))?;
    let subjects: BTreeMap<String, String> = serde_json::from_str(&row.subjects)
        .map_err(|_| "`subjects` is not a JSON object of strings".to_string())?;
    if subjects.get("playbook") != row.playbook.as_ref()
        || subjects.get("account") != row.account.as_ref()
    {
        return Err(
            "the playbook/account filter columns disagree with the entry's subjects".into(),
        );
    }
    let hash = ChainHash::from_hex(&row.hash).ok_or("`hash` is not 64 hex digits")?;
    let prev = match &row.prev_hash {
        Some(p) => Some(ChainHash::from_hex(p).ok_or("the previous `hash` is not 64 hex digits")?),
        None => None,
    };
    let seq = u64::try_from(row.seq).map_err(|_| "negative sequence number".to_string())?;
    let entry = AuditEntry {
        seq,
        time,
        event: AuditEvent {
            actor: row.actor,
            action: row.action,
            subjects,
            outcome: row.outcome,
            exercise: row.exercise,
            payload_sha256: row.payload_sha256,
        },
    };
    Ok((entry, hash, prev))
}

/// One row as SQLite's `json_array` packs it.
type Packed = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    serde_json::Value,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn unpack(p: Packed) -> Result<RawRow, String> {
    // SQLite stores booleans as 0/1; anything else is not a value this binary wrote.
    let exercise = match &p.6 {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) if n.as_i64() == Some(0) => false,
        serde_json::Value::Number(n) if n.as_i64() == Some(1) => true,
        other => return Err(format!("`exercise` holds {other}, not a boolean")),
    };
    Ok(RawRow {
        seq: p.0,
        time: p.1,
        actor: p.2,
        action: p.3,
        subjects: p.4,
        outcome: p.5,
        exercise,
        payload_sha256: p.7,
        playbook: p.8,
        account: p.9,
        hash: p.10,
        prev_hash: None,
    })
}

enum Param {
    Text(String),
    Int(i64),
}

const PAGE: u64 = 5000;

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON lines with hashes and checkpoints: verifiable offline.
    Jsonl,
    /// A spreadsheet of the entries.
    Csv,
}

/// A `Write` into a buffer that the streaming export drains after each page.
#[derive(Debug, Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut b) => b.extend_from_slice(bytes),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(bytes),
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a streaming export's pages go.
struct PageSink {
    buffer: SharedBuffer,
    chunks: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
}

impl PageSink {
    /// Sends what was written since the last call (nothing when nothing was).
    async fn send_written(&self) -> Result<(), StoreError> {
        let bytes = self.buffer.take();
        if bytes.is_empty() {
            return Ok(());
        }
        self.chunks
            .send(Ok(bytes))
            .await
            .map_err(|_| StoreError::Io {
                path: "export".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the export's reader went away",
                ),
            })
    }
}

/// A `LIKE` pattern matching an entry whose subjects name `kind` = `id`. Subjects are
/// stored as a JSON object of strings, so `"kind":"id"` (quotes included, JSON-escaped)
/// matches that subject exactly, and not `"id0"`.
pub(crate) fn subject_pattern(kind: &str, id: &str) -> Result<String, StoreError> {
    let pair = serde_json::to_string(&[kind, id])
        .map_err(|e| StoreError::AuditHead(format!("subject filter: {e}")))?;
    // `["kind","id"]` to `"kind":"id"`, as the subjects map is stored.
    let pair = pair
        .trim_start_matches('[')
        .trim_end_matches(']')
        .replacen("\",\"", "\":\"", 1);
    Ok(format!("%{pair}%"))
}

/// The actors and actions that occur among the newest audit entries: the choices the
/// audit viewer's filters offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFacets {
    /// Actors, sorted.
    pub actors: Vec<String>,
    /// Actions, sorted.
    pub actions: Vec<String>,
}

impl Audit<'_> {
    /// The distinct actors and actions of the newest `recent` entries (bounded, so a long
    /// log is not scanned whole for a filter's choices).
    pub async fn facets(self, recent: i64) -> Result<AuditFacets, StoreError> {
        let (actors, actions): (Vec<String>, Vec<String>) = on_pool!(self.store, p => {
            let actors = sqlx::query_scalar(
                "SELECT DISTINCT actor FROM (SELECT actor FROM audit_entries ORDER BY seq DESC LIMIT $1) r \
                 ORDER BY actor",
            )
            .bind(recent)
            .fetch_all(p)
            .await?;
            let actions = sqlx::query_scalar(
                "SELECT DISTINCT action FROM (SELECT action FROM audit_entries ORDER BY seq DESC LIMIT $1) r \
                 ORDER BY action",
            )
            .bind(recent)
            .fetch_all(p)
            .await?;
            (actors, actions)
        });
        Ok(AuditFacets { actors, actions })
    }

    /// The number of entries in the log (the next sequence number).
    pub async fn entry_count(self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT next_seq FROM audit_head WHERE id = 1").fetch_one(p).await?
        });
        Ok(n.max(0) as u64)
    }

    /// Entries matching `filter`, by sequence number, with their hashes. Unreadable rows
    /// are an error here; [`Store::verify_live`] names them.
    pub async fn read(self, filter: &AuditFilter) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = self.raw_page(filter, true).await?;
        rows.into_iter()
            .map(|r| {
                let seq = r.seq;
                let (entry, hash, prev) = decode(r)
                    .map_err(|e| StoreError::AuditHead(format!("audit entry {seq}: {e}")))?;
                Ok(StoredEntry {
                    prev_hash: prev.unwrap_or(ChainHash::GENESIS),
                    entry,
                    hash,
                })
            })
            .collect()
    }

    async fn raw_page(
        self,
        filter: &AuditFilter,
        with_prev: bool,
    ) -> Result<Vec<RawRow>, StoreError> {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut add = |cond: &str, p: Param| {
            params.push(p);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        };
        if let Some(t) = &filter.since {
            add("e.time >= ?", Param::Text(format_time(t)));
        }
        if let Some(t) = &filter.until {
            add("e.time < ?", Param::Text(format_time(t)));
        }
        for (col, v) in [
            ("actor", &filter.actor),
            ("playbook", &filter.playbook),
            ("account", &filter.account),
            ("action", &filter.action),
            ("outcome", &filter.outcome),
        ] {
            if let Some(v) = v {
                add(&format!("e.{col} = ?"), Param::Text(v.clone()));
            }
        }
        if let Some(s) = filter.after_seq {
            add("e.seq > ?", Param::Int(s as i64));
        }
        if let Some(s) = filter.before_seq {
            add("e.seq < ?", Param::Int(s as i64));
        }
        if !filter.mentions.is_empty() {
            let mut any = Vec::new();
            for (kind, id) in &filter.mentions {
                params.push(Param::Text(subject_pattern(kind, id)?));
                any.push(format!("e.subjects LIKE ${}", params.len()));
            }
            conds.push(format!("({})", any.join(" OR ")));
        }
        let mut sql = String::from(
            "SELECT e.seq, e.time, e.actor, e.action, e.subjects, e.outcome, e.exercise, e.payload_sha256, \
             e.playbook, e.account, e.hash, ",
        );
        sql.push_str(if with_prev {
            "p.hash FROM audit_entries e LEFT JOIN audit_entries p ON p.seq = e.seq - 1"
        } else {
            "NULL FROM audit_entries e"
        });
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(if filter.newest_first {
            " ORDER BY e.seq DESC"
        } else {
            " ORDER BY e.seq"
        });
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let rows = on_pool!(self.store, p => {
            let mut q = sqlx::query(&sql);
            for param in &params {
                q = match param {
                    Param::Text(s) => q.bind(s.as_str()),
                    Param::Int(i) => q.bind(*i),
                };
            }
            let rows = q.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(RawRow {
                    seq: r.try_get(0)?,
                    time: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    subjects: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                    exercise: r.try_get(6)?,
                    payload_sha256: r.try_get(7)?,
                    playbook: r.try_get(8)?,
                    account: r.try_get(9)?,
                    hash: r.try_get(10)?,
                    prev_hash: if with_prev { r.try_get(11)? } else { None },
                });
            }
            out
        });
        Ok(rows)
    }

    /// A page of SQLite rows for verification, packed by SQLite into one JSON array of
    /// arrays: sqlx's SQLite driver pays per row and per column (each row crosses a
    /// thread), so one value per page reads several times faster than 5000 rows of 11.
    async fn packed_page(
        self,
        after_seq: Option<u64>,
        limit: u64,
    ) -> Result<Vec<Result<RawRow, String>>, StoreError> {
        let after = after_seq.map_or(-1, |s| s as i64);
        let text: Option<String> = on_pool!(self.store, p => {
            sqlx::query_scalar(
                "SELECT json_group_array(json_array(seq, time, actor, action, subjects, outcome, \
                 exercise, payload_sha256, playbook, account, hash) ORDER BY seq) FROM \
                 (SELECT * FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2)",
            )
            .bind(after)
            .bind(limit as i64)
            .fetch_one(p)
            .await?
        });
        let text = text.unwrap_or_else(|| "[]".into());
        if let Ok(rows) = serde_json::from_str::<Vec<Packed>>(&text) {
            return Ok(rows.into_iter().map(unpack).collect());
        }
        // Some row holds a value of the wrong type (SQLite allows it): find it, so the
        // verifier names it as unreadable.
        let values: Vec<serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| StoreError::AuditHead(format!("a page of the log is unreadable: {e}")))?;
        let mut rows = Vec::with_capacity(values.len());
        for value in values {
            match serde_json::from_value::<Packed>(value) {
                Ok(p) => rows.push(unpack(p)),
                Err(e) => {
                    rows.push(Err(format!(
                        "a column holds a value of the wrong type ({e})"
                    )));
                    break;
                }
            }
        }
        Ok(rows)
    }

    /// Every stored checkpoint, in the order written.
    pub async fn checkpoints(self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows: Vec<(i64, String, String)> = on_pool!(self.store, p => {
            sqlx::query_as("SELECT size, time, note FROM audit_checkpoints ORDER BY id").fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|(size, time, note)| StoredCheckpoint {
                size: size.max(0) as u64,
                time,
                note,
            })
            .collect())
    }

    /// Checks that this store's signing key signed the log's newest checkpoint, so a
    /// server never starts signing checkpoints that the log's own key cannot verify (a
    /// second node started without the shared `audit-signing.key`, or a lost key
    /// silently replaced by a new one). A log without checkpoints passes.
    pub async fn check_signing_key(self) -> Result<(), StoreError> {
        let newest: Option<(String,)> = on_pool!(self.store, p => {
            sqlx::query_as("SELECT note FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(p)
                .await?
        });
        let Some((note,)) = newest else {
            return Ok(());
        };
        let key = self.store.public_key();
        match tocsin_audit::checkpoint::open_checkpoint(&note, &key) {
            Ok(_) => Ok(()),
            Err(e) => {
                let path = self.store.data_dir().join(tocsin_audit::KEY_FILE_NAME);
                Err(StoreError::Conflict(format!(
                    "{}: this key ({key}) did not sign the audit log's newest checkpoint ({e}). \
                     Every node must sign with the same key: copy audit-signing.key from a node \
                     that writes this log into {} (mode 600); see \"Running several nodes\"",
                    path.display(),
                    self.store.data_dir().display()
                )))
            }
        }
    }

    /// Verifies the whole live log: every link, every checkpoint, and `trusted` (the
    /// checkpoint kept outside the database, see [`Store::kept_checkpoint`]).
    pub async fn verify_live(
        self,
        trusted: Option<&str>,
    ) -> Result<Result<VerifiedLog, ChainBreak>, StoreError> {
        let outside: Vec<(String, String)> = trusted
            .map(|n| {
                (
                    "the checkpoint kept outside the database".to_string(),
                    n.to_string(),
                )
            })
            .into_iter()
            .collect();
        self.verify_live_with(&outside).await
    }

    /// As [`Audit::verify_live`], against any number of checkpoints kept outside the
    /// database (the kept file, a witness's copies), each named for reports. An unsigned
    /// tail longer than this store's checkpoint interval fails too.
    pub async fn verify_live_with(
        self,
        outside: &[(String, String)],
    ) -> Result<Result<VerifiedLog, ChainBreak>, StoreError> {
        let notes: Vec<String> = self
            .checkpoints()
            .await?
            .into_iter()
            .map(|c| c.note)
            .collect();
        let mut v = ChainVerifier::with_outside(&self.store.public_key(), &notes, outside)
            .require_coverage(self.store.checkpoint_interval());
        let page = |after_seq: Option<u64>| {
            let store = self.store.clone();
            // Fetch the next page while this one is verified: reading and hashing
            // overlap, so a long log verifies in about the time of the slower of the two.
            tokio::spawn(async move {
                let filter = AuditFilter {
                    after_seq,
                    limit: Some(PAGE),
                    ..AuditFilter::default()
                };
                match store.backend() {
                    // SQLite pages come packed into one value (see `packed_page`);
                    // PostgreSQL streams binary rows cheaply as they are.
                    crate::Backend::Sqlite => {
                        store.audit().packed_page(filter.after_seq, PAGE).await
                    }
                    crate::Backend::Postgres => Ok(store
                        .audit()
                        .raw_page(&filter, false)
                        .await?
                        .into_iter()
                        .map(Ok)
                        .collect()),
                }
            })
        };
        let mut next = Some(page(None));
        while let Some(handle) = next.take() {
            let rows = handle
                .await
                .map_err(|e| StoreError::AuditHead(format!("reading the log: {e}")))??;
            if let Some(Ok(last)) = rows.last() {
                next = Some(page(Some(last.seq.max(0) as u64)));
            }
            for row in rows {
                let (entry, hash) = match row.and_then(decode) {
                    Ok((entry, hash, _)) => (entry, hash),
                    Err(reason) => return Ok(Err(v.unreadable(reason))),
                };
                if let Err(b) = v.push(&entry, &hash) {
                    return Ok(Err(b));
                }
            }
        }
        Ok(v.finish())
    }

    fn export_header(self, filter: &AuditFilter) -> ExportHeader {
        let key = self.store.public_key();
        ExportHeader {
            format: EXPORT_FORMAT.into(),
            origin: key.name().to_string(),
            public_key: key.to_string(),
            partial: filter.is_partial(),
            filters: filter.describe(),
            exported_at: format_time(&self.store.now()),
        }
    }

    /// Calls `each` for every entry matching `filter` that existed when the export
    /// started, page by page (after each page, `pages` gets what was written);
    /// returns the log size pinned.
    async fn each_entry(
        self,
        filter: &AuditFilter,
        pages: Option<&PageSink>,
        mut each: impl FnMut(&StoredEntry) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let size = self.entry_count().await?;
        let mut page = AuditFilter {
            limit: Some(PAGE),
            ..filter.clone()
        };
        'pages: loop {
            let rows = self.read(&page).await?;
            let Some(last) = rows.last().map(|r| r.entry.seq) else {
                break;
            };
            for row in &rows {
                if row.entry.seq >= size {
                    break 'pages;
                }
                each(row)?;
            }
            if let Some(sink) = pages {
                sink.send_written().await?;
            }
            page.after_seq = Some(last);
        }
        Ok(size)
    }

    /// Writes a JSONL export (header, entries with hashes, checkpoints within the
    /// exported size). Returns the number of entries written.
    pub async fn export_jsonl<W: Write>(
        self,
        filter: &AuditFilter,
        out: W,
    ) -> Result<u64, StoreError> {
        self.write_jsonl(filter, out, None).await
    }

    /// Writes a CSV export of the matching entries. Returns the number written.
    pub async fn export_csv<W: Write>(
        self,
        filter: &AuditFilter,
        out: W,
    ) -> Result<u64, StoreError> {
        self.write_csv(filter, out, None).await
    }

    /// Streams an export to `chunks` as it is written, a page of entries at a time, so
    /// a large log is never held in memory whole. Stops with an error when the
    /// receiver is gone; a failure part-way is sent as the last chunk, so whoever
    /// serves the stream can cut the transfer off instead of ending it as if complete.
    pub async fn stream_export(
        self,
        filter: &AuditFilter,
        format: ExportFormat,
        chunks: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    ) -> Result<u64, StoreError> {
        let sink = PageSink {
            buffer: SharedBuffer::default(),
            chunks: chunks.clone(),
        };
        let written = match format {
            ExportFormat::Jsonl => {
                self.write_jsonl(filter, sink.buffer.clone(), Some(&sink))
                    .await
            }
            ExportFormat::Csv => {
                self.write_csv(filter, sink.buffer.clone(), Some(&sink))
                    .await
            }
        };
        match written {
            Ok(count) => {
                sink.send_written().await?;
                Ok(count)
            }
            Err(e) => {
                let _ = chunks
                    .send(Err(std::io::Error::other(format!(
                        "the export failed part-way: {e}"
                    ))))
                    .await;
                Err(e)
            }
        }
    }

    async fn write_jsonl<W: Write>(
        self,
        filter: &AuditFilter,
        out: W,
        pages: Option<&PageSink>,
    ) -> Result<u64, StoreError> {
        let io = |source| StoreError::Io {
            path: "export".into(),
            source,
        };
        let mut w = JsonlWriter::start(out, &self.export_header(filter)).map_err(io)?;
        let mut count = 0;
        let size = self
            .each_entry(filter, pages, |e| {
                count += 1;
                w.entry(&e.entry, &e.prev_hash, &e.hash).map_err(io)
            })
            .await?;
        for c in self.checkpoints().await? {
            if c.size <= size {
                w.checkpoint(&c.note).map_err(io)?;
            }
        }
        w.finish().map_err(io)?;
        Ok(count)
    }

    async fn write_csv<W: Write>(
        self,
        filter: &AuditFilter,
        out: W,
        pages: Option<&PageSink>,
    ) -> Result<u64, StoreError> {
        let csv_err = |e: csv::Error| StoreError::Io {
            path: "export".into(),
            source: std::io::Error::other(e.to_string()),
        };
        let mut w = CsvWriter::start(out).map_err(csv_err)?;
        let mut count = 0;
        self.each_entry(filter, pages, |e| {
            count += 1;
            w.entry(&e.entry, &e.prev_hash, &e.hash).map_err(csv_err)
        })
        .await?;
        w.finish().map_err(csv_err)?;
        Ok(count)
    }
}
