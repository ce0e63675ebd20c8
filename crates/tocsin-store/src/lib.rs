//! Tocsin's durable store: SQLite as the embedded default, PostgreSQL for several nodes,
//! one API over both (the backend follows the URL scheme, as in atuin).
//!
//! Every change goes through a [`Tx`]; each domain operation on it writes its audit
//! entry in the same transaction, so no state change commits without its line in the
//! chain. Appenders serialise on a one-row head table (`UPDATE ... RETURNING` takes the
//! row lock on PostgreSQL and the write lock on SQLite), so several nodes still build one
//! unbroken chain; checkpoints are signed in that transaction every N entries or T
//! seconds, and the newest is also kept in a file beside the database, so a database
//! rolled back to an old state is caught by the verifier.
//!
//! Layout: [`backend`] opens and migrates, [`tx`] holds transactions and the audit
//! append, [`records`] the row types and domain operations, [`outbox`] dispatch,
//! [`people`] sign-in, [`workflow`] the approval workflow, consent register and the
//! control panel's views, [`audit_log`] reads, verifies and exports the log,
//! [`accounts`] platform accounts with their sealed secrets, status and key rotation,
//! [`oauth`] accounts connected through OAuth 2 (authorisations under way, clients per
//! instance, token facts), [`notify`] messages between nodes (PostgreSQL `LISTEN` /
//! `NOTIFY`), [`conversation`] the public posts heard under a live session's hashtag.

pub mod accounts;
pub mod aggregates;
pub mod audit_log;
pub mod backend;
pub mod calendar;
pub mod consent;
pub mod conversation;
pub mod drafts;
pub mod enrolment;
mod error;
pub mod feed;
pub mod health;
pub mod images;
pub mod live_sessions;
pub mod messages;
pub mod notify;
pub mod oauth;
pub mod outbox;
pub mod people;
pub mod playbooks;
pub mod retention;
pub mod schedules;
pub mod sign_in_guard;
mod snapshot;
mod time;
pub mod tx;
pub mod variants;
pub mod witness;

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tocsin_audit::{NoteSigner, NoteVerifier};

pub use accounts::{Account, NewAccount};
pub use accounts::{AccountRecord, AccountStatus, Rotated, SealedKind, SealedValue};
pub use aggregates::*;
pub use audit_log::{AuditFilter, ExportFormat, StoredCheckpoint, StoredEntry};
pub use backend::{
    database_clock, schema_status, sqlite_path, Backend, PendingMigration, SchemaStatus,
    SCHEMA_VERSION,
};
pub use consent::{ConsentRecord, NewConsent};
pub use conversation::{ConversationPost, DeletedPost, NewConversationPost, QuestionState};
pub use drafts::{
    Draft, DraftListItem, DraftState, NewDraft, WorkflowDraft, DRAFT_STATE_CHANGES_REQUESTED,
    DRAFT_STATE_DRAFT,
};
pub use enrolment::EnrolmentLink;
pub use error::{redact as redact_url, StoreError};
pub use feed::FeedMessage;
pub use live_sessions::LiveSessionRow;
pub use messages::{Delivery, DeliveryRow, MessageSummary};
pub use outbox::{DeliveryState, MessageTargets, NewMessage};
pub use people::{NewUser, User};
pub use playbooks::PlaybookApproval;
pub use tx::{AuditAppend, Tx};
pub use variants::{RenderedVariant, StoredVariant};
pub use witness::{CheckpointWitness, FileWitness};

/// The file beside the database that keeps the newest checkpoint this node signed.
pub const KEPT_CHECKPOINT_FILE: &str = "audit-checkpoint.txt";

/// Where time comes from (tests pass a clock they can move).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// How often the audit log is checkpointed, and under which name (from `[audit]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The log's origin: the signed-note key name and checkpoint origin line.
    pub origin: String,
    /// Sign a checkpoint after this many new entries.
    pub checkpoint_every_entries: u64,
    /// Sign a checkpoint when this many seconds passed since the last, at the next entry.
    pub checkpoint_every_seconds: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            origin: "tocsin.local/audit".into(),
            checkpoint_every_entries: 1000,
            checkpoint_every_seconds: 300,
        }
    }
}

/// Everything needed to open a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` (relative to `data_dir`) or `postgres://...` (from `[database] url`).
    pub database_url: String,
    /// The data directory: SQLite file, signing key, kept checkpoint.
    pub data_dir: PathBuf,
    /// Checkpoint settings.
    pub audit: AuditSettings,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where each signed checkpoint is also published (`[audit] witness_file`,
    /// `witness_url`).
    pub witnesses: Vec<Arc<dyn CheckpointWitness>>,
}

impl StoreOptions {
    /// Options with the default audit settings and the system clock.
    pub fn new(database_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> StoreOptions {
        StoreOptions {
            database_url: database_url.into(),
            data_dir: data_dir.into(),
            audit: AuditSettings::default(),
            clock: Arc::new(SystemClock),
            witnesses: Vec::new(),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("database_url", &error::redact(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("audit", &self.audit)
            .field("witnesses", &self.witnesses.len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    pool: backend::Pool,
    signer: NoteSigner,
    settings: AuditSettings,
    clock: Arc<dyn Clock>,
    data_dir: PathBuf,
    witnesses: Vec<Arc<dyn CheckpointWitness>>,
    /// Audit entries committed through this handle (and its clones) since it opened.
    audit_appends: std::sync::atomic::AtomicU64,
    /// On SQLite, one write transaction at a time from this handle and its clones, in
    /// the order they asked (see [`Store::begin`]).
    sqlite_writer: Arc<tokio::sync::Semaphore>,
    /// This database's installation id (made once by migration 11).
    installation_id: String,
}

/// The durable store. Cheap to clone; clones share one pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database and the signing key, and migrates.
    pub async fn open(options: StoreOptions) -> Result<Store, StoreError> {
        let key_path = options.data_dir.join(tocsin_audit::KEY_FILE_NAME);
        let signer = tocsin_audit::load_or_create(&key_path, &options.audit.origin)?;
        let pool = backend::open(&options.database_url, &options.data_dir).await?;
        let installation_id = backend::installation_id(&pool).await?;
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                signer,
                settings: options.audit,
                clock: options.clock,
                data_dir: options.data_dir,
                witnesses: options.witnesses,
                audit_appends: std::sync::atomic::AtomicU64::new(0),
                sqlite_writer: Arc::new(tokio::sync::Semaphore::new(1)),
                installation_id,
            }),
        })
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            backend::Pool::Sqlite(_) => Backend::Sqlite,
            backend::Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// This database's installation id: 32 hex digits made once, when the database was
    /// created or upgraded to schema 11, and never changed. Idempotency keys carry it, so
    /// that two databases on one platform credential never share a key.
    pub fn installation_id(&self) -> &str {
        &self.inner.installation_id
    }

    /// The idempotency key of a delivery: `tocsin-{installation}-{message}-{account}`.
    pub fn idempotency_key(&self, message_id: i64, account_id: i64) -> String {
        format!(
            "tocsin-{}-{message_id}-{account_id}",
            self.inner.installation_id
        )
    }

    /// The public key that verifies this log's checkpoints.
    pub fn public_key(&self) -> NoteVerifier {
        self.inner.signer.verifier()
    }

    /// Audit entries this process committed through this store since it was opened
    /// (the metrics' `tocsin_audit_appends_total`; other nodes count their own).
    pub fn audit_appends(&self) -> u64 {
        self.inner
            .audit_appends
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The newest checkpoint this node kept outside the database, if any.
    pub fn kept_checkpoint(&self) -> Result<Option<String>, StoreError> {
        let path = self.inner.data_dir.join(KEPT_CHECKPOINT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Closes the pool (waits for connections to be returned), after the witnesses have
    /// taken the checkpoints queued for them.
    pub async fn close(&self) {
        for w in &self.inner.witnesses {
            w.flush().await;
        }
        match &self.inner.pool {
            backend::Pool::Sqlite(p) => {
                // Fold the WAL into the database file now: the checkpoint SQLite makes
                // when its last connection closes runs on sqlx's worker thread after
                // `close` returns, so the file alone could lag behind a clean shutdown.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await;
                p.close().await
            }
            backend::Pool::Postgres(p) => p.close().await,
        }
    }

    /// The writer's checkpoint interval (what the verifier bounds the unsigned tail by).
    pub fn checkpoint_interval(&self) -> tocsin_audit::CheckpointInterval {
        tocsin_audit::CheckpointInterval {
            entries: self.inner.settings.checkpoint_every_entries,
            seconds: self.inner.settings.checkpoint_every_seconds,
        }
    }

    /// Publishes a committed checkpoint to every witness (failures are logged).
    pub(crate) fn witness(&self, note: &str) {
        for w in &self.inner.witnesses {
            if let Err(e) = w.publish(note) {
                tracing::warn!(error = %e, "could not publish the audit checkpoint to a witness");
            }
        }
    }

    /// Writes `note` to the kept-checkpoint file if it covers more than the one there.
    fn keep_checkpoint(&self, note: &str, size: u64) -> Result<(), StoreError> {
        let path = self.inner.data_dir.join(KEPT_CHECKPOINT_FILE);
        if let Ok(Some(old)) = self.kept_checkpoint() {
            if tocsin_audit::checkpoint::parse_unverified(&old).is_ok_and(|c| c.size >= size) {
                return Ok(());
            }
        }
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        // Write-then-rename, so a crash leaves the old checkpoint or the new, never half.
        let tmp = path.with_extension("txt.tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(note.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}
