//! Transactions, and the audit append that every change makes inside one.
//!
//! The append reserves sequence numbers by updating the one-row `audit_head` table first:
//! on PostgreSQL the row lock makes concurrent appenders (on any node) wait their turn,
//! on SQLite the transaction starts `IMMEDIATE`, holding the single write lock. The hash
//! is computed from the head read under that lock, so the chain has exactly one order.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row as _, Sqlite, Transaction};
use tocsin_audit::{chain_hash, AuditEntry, AuditEvent, ChainHash, Checkpoint};

use crate::{Store, StoreError};

/// Runs `$body` with `$c` bound to the transaction's connection, for either backend.
/// The body is written once and compiled per backend, so the same SQL (with `$n`
/// placeholders, which both accept) serves both.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::tx::TxInner::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::tx::TxInner::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// As [`on_tx`], on the store's pool (reads outside a transaction).
macro_rules! on_pool {
    ($store:expr, $c:ident => $body:expr) => {
        match &$store.inner.pool {
            $crate::backend::Pool::Sqlite(p) => {
                let $c = p;
                $body
            }
            $crate::backend::Pool::Postgres(p) => {
                let $c = p;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` in a transaction of its own on `$store`, committing it.
macro_rules! one_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut $tx = $store.begin().await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}
pub(crate) use one_tx;

/// Rows per multi-row insert at most: 11 parameters each stays far below SQLite's 32766
/// and PostgreSQL's 65535 parameter limits. A power of two (see [`cacheable_chunks`]).
const ROWS_PER_INSERT: usize = 256;

/// Splits `rows` into chunks of `max` rows, then the rest into descending powers of two
/// (`max` is one too), so a multi-row statement comes in a handful of sizes: each size's
/// text is prepared once per connection and then found in the statement cache. Chunks of
/// whatever size arrived made every batch a new statement, and parsing thousands of
/// parameters cost more than running it.
pub(crate) fn cacheable_chunks<T>(rows: &[T], max: usize) -> Vec<&[T]> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let n = if rest.len() >= max {
            max
        } else {
            // The largest power of two not above what is left.
            1usize << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        out.push(chunk);
        rest = tail;
    }
    out
}

pub(crate) enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// One database transaction. Dropping it without [`Tx::commit`] rolls everything back,
/// audit entries included.
pub struct Tx<'s> {
    pub(crate) store: &'s Store,
    pub(crate) inner: TxInner,
    /// On SQLite, this process's turn to write (see [`Store::begin`]), held until the
    /// transaction ends.
    writer: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The newest checkpoint signed in this transaction, kept on disk after commit.
    signed: Option<(String, u64)>,
    /// Audit entries appended in this transaction (counted once it commits).
    appended: u64,
}

/// Where an appended entry landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAppend {
    /// Its sequence number.
    pub seq: u64,
    /// Its chain hash.
    pub hash: ChainHash,
}

struct Head {
    next_seq: u64,
    head: ChainHash,
    checkpoint_size: u64,
    checkpoint_time: Option<DateTime<Utc>>,
}

impl Store {
    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx<'_>, StoreError> {
        let (inner, writer) = match &self.inner.pool {
            crate::backend::Pool::Sqlite(p) => {
                // Writers in this process take turns here, in order, and each starts the
                // moment the one before it ends. Left to SQLite's lock, a writer that
                // found it taken slept in its busy handler (1 ms growing to 100 ms) and
                // woke long after: a claim queued behind a group commit of results waited
                // up to 0.7 s. Past SQLite's own busy timeout, go on to its lock anyway.
                let writer = tokio::time::timeout(
                    crate::backend::SQLITE_BUSY_TIMEOUT,
                    self.inner.sqlite_writer.clone().acquire_owned(),
                )
                .await
                .ok()
                .and_then(Result::ok);
                // IMMEDIATE: take the write lock now, so a read-then-write transaction can
                // never fail half-way with SQLITE_BUSY when another writer got there first.
                let tx = p.begin_with("BEGIN IMMEDIATE").await?;
                (TxInner::Sqlite(tx), writer)
            }
            crate::backend::Pool::Postgres(p) => (TxInner::Postgres(p.begin().await?), None),
        };
        Ok(Tx {
            store: self,
            inner,
            writer,
            signed: None,
            appended: 0,
        })
    }

    /// Appends one event in a transaction of its own.
    pub async fn append_audit(&self, event: AuditEvent) -> Result<AuditAppend, StoreError> {
        let mut tx = self.begin().await?;
        let at = tx.append_audit(event).await?;
        tx.commit().await?;
        Ok(at)
    }

    /// Signs a checkpoint of the log as it is now (if it grew since the last one).
    pub async fn checkpoint_now(&self) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        let note = tx.checkpoint_now().await?;
        tx.commit().await?;
        Ok(note)
    }

    /// The store's clock (tests move it).
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }
}

impl<'s> Tx<'s> {
    /// Commits; then keeps any checkpoint signed here in the file beside the database.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        drop(self.writer);
        self.store
            .inner
            .audit_appends
            .fetch_add(self.appended, std::sync::atomic::Ordering::Relaxed);
        if let Some((note, size)) = &self.signed {
            if let Err(e) = self.store.keep_checkpoint(note, *size) {
                // The change is committed and the checkpoint is in the database; only the
                // outside copy is missing, and the next checkpoint will write it again.
                tracing::warn!(error = %e, "could not keep the audit checkpoint outside the database");
            }
            self.store.witness(note);
        }
        Ok(())
    }

    /// Rolls back everything done in this transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// The store's clock, read once per operation.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.store.now()
    }

    /// Appends an audit entry in this transaction.
    pub async fn append_audit(&mut self, event: AuditEvent) -> Result<AuditAppend, StoreError> {
        let mut at = self.append_audit_batch(vec![event]).await?;
        at.pop()
            .ok_or_else(|| StoreError::AuditHead("an append of one entry returned none".into()))
    }

    /// How many audit entries of `action` name every one of these subjects (kind, id),
    /// read in this transaction. After an append here (which holds the log's head until
    /// commit), no other transaction's entry can appear unseen between the count and the
    /// commit: a claim written to the log, counted, and rolled back when it is not the
    /// only one, is taken by one node alone. Subject ids are matched exactly (as JSON
    /// strings); they must not hold `%` or `_`.
    pub async fn audit_count_with(
        &mut self,
        action: &str,
        subjects: &[(&str, &str)],
    ) -> Result<u64, StoreError> {
        let mut sql = String::from("SELECT COUNT(*) FROM audit_entries WHERE action = $1");
        let mut patterns = Vec::with_capacity(subjects.len());
        for (i, (kind, id)) in subjects.iter().enumerate() {
            patterns.push(crate::audit_log::subject_pattern(kind, id)?);
            sql.push_str(&format!(" AND subjects LIKE ${}", i + 2));
        }
        let n: i64 = on_tx!(self, c => {
            let mut q = sqlx::query_scalar(&sql).bind(action);
            for p in &patterns {
                q = q.bind(p.as_str());
            }
            q.fetch_one(&mut *c).await?
        });
        Ok(n.max(0) as u64)
    }

    /// Appends several audit entries in this transaction, taking the head lock once and
    /// writing the rows in multi-row inserts.
    pub async fn append_audit_batch(
        &mut self,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<AuditAppend>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let count = events.len() as u64;
        let mut head = self.reserve(count).await?;
        let now = self.now();
        let settings = self.store.inner.settings.clone();
        let mut checkpoint_time = head.checkpoint_time.unwrap_or(now);
        let mut checkpoint_size = head.checkpoint_size;
        let mut rows = Vec::with_capacity(events.len());
        let mut due = Vec::new();
        for event in events {
            let entry = AuditEntry::new(head.next_seq, now, event);
            let hash = chain_hash(&head.head, &entry.canonical_bytes());
            head.next_seq += 1;
            head.head = hash;
            let size = head.next_seq;
            let by_count = size - checkpoint_size >= settings.checkpoint_every_entries.max(1);
            let by_time =
                (now - checkpoint_time).num_seconds() >= settings.checkpoint_every_seconds as i64;
            if by_count || by_time {
                let time = now.max(checkpoint_time);
                due.push((size, hash, time));
                checkpoint_size = size;
                checkpoint_time = time;
            }
            rows.push((entry, hash));
        }
        for chunk in cacheable_chunks(&rows, ROWS_PER_INSERT) {
            self.insert_entries(chunk).await?;
        }
        for (size, hash, time) in due {
            self.sign_checkpoint(size, hash, time).await?;
        }
        let out = rows
            .iter()
            .map(|(entry, hash)| AuditAppend {
                seq: entry.seq,
                hash: *hash,
            })
            .collect();
        let (next, head_hex, cp_time) = (
            head.next_seq as i64,
            head.head.to_hex(),
            tocsin_audit::entry::format_time(&checkpoint_time),
        );
        let updated = on_tx!(self, c => {
            sqlx::query(
                "UPDATE audit_head SET head = $1, checkpoint_size = $2, checkpoint_time = $3 \
                 WHERE id = 1 AND next_seq = $4",
            )
            .bind(&head_hex)
            .bind(checkpoint_size as i64)
            .bind(&cp_time)
            .bind(next)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if updated != 1 {
            // Cannot happen while the row lock is held; refuse rather than fork the chain.
            return Err(StoreError::AuditHead(
                "the head moved during an append; nothing was written".into(),
            ));
        }
        self.appended += count;
        Ok(out)
    }

    /// Signs a checkpoint of the chain as it stands in this transaction, unless the last
    /// checkpoint already covers it.
    pub async fn checkpoint_now(&mut self) -> Result<Option<String>, StoreError> {
        let head = self.reserve(0).await?;
        if head.next_seq == 0 || head.next_seq == head.checkpoint_size {
            return Ok(None);
        }
        let now = self.now();
        let time = head.checkpoint_time.map_or(now, |t| now.max(t));
        let note = self.sign_checkpoint(head.next_seq, head.head, time).await?;
        let time = tocsin_audit::entry::format_time(&time);
        on_tx!(self, c => {
            sqlx::query("UPDATE audit_head SET checkpoint_size = $1, checkpoint_time = $2 WHERE id = 1")
                .bind(head.next_seq as i64)
                .bind(&time)
                .execute(&mut *c)
                .await?;
        });
        Ok(Some(note))
    }

    /// Takes the head row's lock and moves `next_seq` on by `count`; returns the head as
    /// it was before.
    async fn reserve(&mut self, count: u64) -> Result<Head, StoreError> {
        let row = on_tx!(self, c => {
            let row = sqlx::query(
                "UPDATE audit_head SET next_seq = next_seq + $1 WHERE id = 1 \
                 RETURNING next_seq, head, checkpoint_size, checkpoint_time",
            )
            .bind(count as i64)
            .fetch_one(&mut *c)
            .await?;
            (
                row.try_get::<i64, _>(0)?,
                row.try_get::<String, _>(1)?,
                row.try_get::<i64, _>(2)?,
                row.try_get::<Option<String>, _>(3)?,
            )
        });
        let (next, head, checkpoint_size, checkpoint_time) = row;
        let head = ChainHash::from_hex(&head)
            .ok_or_else(|| StoreError::AuditHead(format!("head `{head}`")))?;
        let checkpoint_time = match checkpoint_time {
            Some(t) => Some(
                tocsin_audit::entry::parse_time(&t)
                    .ok_or_else(|| StoreError::AuditHead(format!("checkpoint time `{t}`")))?,
            ),
            None => None,
        };
        Ok(Head {
            next_seq: (next as u64).saturating_sub(count),
            head,
            checkpoint_size: checkpoint_size as u64,
            checkpoint_time,
        })
    }

    async fn insert_entries(&mut self, rows: &[(AuditEntry, ChainHash)]) -> Result<(), StoreError> {
        let mut prepared = Vec::with_capacity(rows.len());
        for (entry, hash) in rows {
            let subjects = serde_json::to_string(&entry.event.subjects)
                .map_err(|err| StoreError::AuditHead(err.to_string()))?;
            prepared.push((entry, entry.time_text(), subjects, hash.to_hex()));
        }
        let mut sql = String::from(
            "INSERT INTO audit_entries (seq, time, actor, action, subjects, outcome, exercise, \
             payload_sha256, playbook, account, hash) VALUES ",
        );
        for i in 0..prepared.len() {
            let b = i * 11;
            if i > 0 {
                sql.push_str(", ");
            }
            // Positional `?` on SQLite: sqlx resolves `$n` names one by one, which is
            // quadratic in the number of parameters of a multi-row insert.
            let params: Vec<String> = match self.store.backend() {
                crate::Backend::Sqlite => vec!["?".to_string(); 11],
                crate::Backend::Postgres => (1..=11).map(|k| format!("${}", b + k)).collect(),
            };
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        on_tx!(self, c => {
            let mut q = sqlx::query(&sql);
            for (entry, time, subjects, hash) in &prepared {
                let e = &entry.event;
                q = q
                    .bind(entry.seq as i64)
                    .bind(time.as_str())
                    .bind(e.actor.as_str())
                    .bind(e.action.as_str())
                    .bind(subjects.as_str())
                    .bind(e.outcome.as_deref())
                    .bind(e.exercise)
                    .bind(e.payload_sha256.as_deref())
                    .bind(e.subjects.get("playbook").map(String::as_str))
                    .bind(e.subjects.get("account").map(String::as_str))
                    .bind(hash.as_str());
            }
            q.execute(&mut *c).await?;
        });
        Ok(())
    }

    async fn sign_checkpoint(
        &mut self,
        size: u64,
        head: ChainHash,
        time: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let signer = &self.store.inner.signer;
        let note = Checkpoint {
            origin: signer.name().to_string(),
            size,
            head,
            time,
        }
        .sign(signer);
        let (head_hex, time_text) = (head.to_hex(), tocsin_audit::entry::format_time(&time));
        on_tx!(self, c => {
            sqlx::query("INSERT INTO audit_checkpoints (size, head, time, note) VALUES ($1, $2, $3, $4)")
                .bind(size as i64)
                .bind(&head_hex)
                .bind(&time_text)
                .bind(&note)
                .execute(&mut *c)
                .await?;
        });
        self.signed = Some((note.clone(), size));
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use super::cacheable_chunks;

    #[test]
    fn rows_are_split_into_the_maximum_then_descending_powers_of_two() {
        let rows: Vec<u32> = (0..700).collect();
        let sizes: Vec<usize> = cacheable_chunks(&rows, 256)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, vec![256, 256, 128, 32, 16, 8, 4]);
        let flat: Vec<u32> = cacheable_chunks(&rows, 256).concat();
        assert_eq!(flat, rows, "every row once, in order");
        assert!(cacheable_chunks::<u32>(&[], 256).is_empty());
        assert_eq!(cacheable_chunks(&[1, 2, 3], 256).len(), 2);
    }
}
