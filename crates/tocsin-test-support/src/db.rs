//! Test databases on both backends: a fresh SQLite file in a temporary directory, or a
//! fresh schema in the PostgreSQL at 127.0.0.1:5432 (dropped afterwards, even on panic),
//! with a clock the test moves by hand.
//!
//! An unreachable PostgreSQL is a test failure saying how to start it, never a skip.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::Connection as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tocsin_store::{AuditSettings, Clock, Store, StoreError, StoreOptions};

/// The PostgreSQL the tests use (override with `TOCSIN_TEST_POSTGRES_URL`).
pub fn postgres_base_url() -> String {
    std::env::var("TOCSIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A clock the test moves by hand, or that follows real time from a start.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    /// A clock at `start`.
    pub fn at(start: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL schema.
    Postgres,
}

/// One test's database.
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// The open store.
    pub store: Store,
    /// The data directory (SQLite file, signing key).
    pub dir: tempfile::TempDir,
    /// The database URL.
    pub url: String,
    /// The store's clock, when the test asked for a movable one.
    pub clock: Option<Arc<TestClock>>,
    settings: AuditSettings,
    schema: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Audit settings for tests: a checkpoint every 100 entries.
pub fn test_settings() -> AuditSettings {
    AuditSettings {
        origin: "test.example.gov/audit".into(),
        checkpoint_every_entries: 100,
        checkpoint_every_seconds: 3600,
    }
}

impl TestDb {
    /// A fresh database on `backend` with the system clock.
    pub async fn new(backend: Backend) -> Result<TestDb, StoreError> {
        Self::open_with(backend, None, test_settings()).await
    }

    /// A fresh database whose store reads time from a movable clock.
    pub async fn with_clock(backend: Backend, start: DateTime<Utc>) -> Result<TestDb, StoreError> {
        Self::open_with(backend, Some(TestClock::at(start)), test_settings()).await
    }

    /// A fresh database with these audit settings (benchmarks use the production defaults).
    pub async fn with_settings(
        backend: Backend,
        settings: AuditSettings,
    ) -> Result<TestDb, StoreError> {
        Self::open_with(backend, None, settings).await
    }

    /// A fresh database with these audit settings and, if given, a movable clock.
    pub async fn open_with(
        backend: Backend,
        clock: Option<Arc<TestClock>>,
        settings: AuditSettings,
    ) -> Result<TestDb, StoreError> {
        let dir = tempfile::tempdir().map_err(|source| StoreError::Io {
            path: "tempdir".into(),
            source,
        })?;
        let (url, schema) = match backend {
            Backend::Sqlite => ("sqlite://tocsin.db".to_string(), None),
            Backend::Postgres => {
                let base = postgres_base_url();
                let schema = format!(
                    "tocsin_t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    Utc::now().timestamp_micros()
                );
                let mut conn = sqlx::PgConnection::connect(&base).await.map_err(|source| {
                    StoreError::Unreachable {
                        url: base.clone(),
                        source,
                    }
                })?;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                (
                    format!("{base}?options[search_path]={schema}"),
                    Some(schema),
                )
            }
        };
        let store = open(&url, dir.path(), &settings, clock.clone()).await?;
        Ok(TestDb {
            backend,
            store,
            dir,
            url,
            clock,
            settings,
            schema,
        })
    }

    /// Another store on the same database: a restart, or a second node.
    pub async fn reopen(&self) -> Result<Store, StoreError> {
        open(
            &self.url,
            self.dir.path(),
            &self.settings,
            self.clock.clone(),
        )
        .await
    }

    /// Runs raw SQL on the database behind the store's back (the tamperer's view).
    pub async fn sql(&self, statement: &str) -> Result<(), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.dir.path().join("tocsin.db");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await?;
                sqlx::query(statement).execute(&mut c).await?;
                c.close().await
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                sqlx::query(statement).execute(&mut c).await?;
                c.close().await
            }
        }
    }

    /// Removes the triggers that keep the audit log append-only, as the database's
    /// owner (or anyone who can write the SQLite file) can: the tamper suite's start.
    pub async fn lift_audit_guards(&self) -> Result<(), sqlx::Error> {
        let statements: &[&str] = match self.backend {
            Backend::Sqlite => &[
                "DROP TRIGGER audit_entries_no_update",
                "DROP TRIGGER audit_entries_no_delete",
                "DROP TRIGGER audit_checkpoints_no_update",
                "DROP TRIGGER audit_checkpoints_no_delete",
            ],
            Backend::Postgres => &[
                "ALTER TABLE audit_entries DISABLE TRIGGER USER",
                "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
            ],
        };
        for s in statements {
            self.sql(s).await?;
        }
        Ok(())
    }

    /// A start time that tests share: 2026-06-01 09:00 UTC.
    pub fn epoch() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
            .single()
            .unwrap_or_else(Utc::now)
    }
}

async fn open(
    url: &str,
    dir: &std::path::Path,
    settings: &AuditSettings,
    clock: Option<Arc<TestClock>>,
) -> Result<Store, StoreError> {
    let mut options = StoreOptions::new(url, dir);
    options.audit = settings.clone();
    if let Some(c) = clock {
        options.clock = c;
    }
    Store::open(options).await
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Runs even when the test panicked, so no schema is left behind.
        if let Some(schema) = self.schema.take() {
            let base = postgres_base_url();
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&base).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&mut c)
                            .await;
                        let _ = c.close().await;
                    }
                });
            })
            .join();
        }
    }
}
