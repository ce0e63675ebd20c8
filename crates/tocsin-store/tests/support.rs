//! Test databases for both backends, a movable clock, and the macro that instantiates
//! each story once per backend.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::Connection as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tocsin_store::{AuditSettings, Clock, Store, StoreOptions};

/// The PostgreSQL the tests use (override with TOCSIN_TEST_POSTGRES_URL).
pub fn postgres_base_url() -> String {
    std::env::var("TOCSIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One test's database: a fresh SQLite file or a fresh PostgreSQL schema.
pub struct TestDb {
    pub kind: Kind,
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub clock: Arc<TestClock>,
    pub settings: AuditSettings,
    schema: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn settings() -> AuditSettings {
    AuditSettings {
        origin: "test.example.gov/audit".into(),
        checkpoint_every_entries: 5,
        checkpoint_every_seconds: 3600,
    }
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        Self::with_settings(kind, settings()).await
    }

    pub async fn with_settings(kind: Kind, settings: AuditSettings) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let (url, schema) = match kind {
            Kind::Sqlite => ("sqlite://tocsin.db".to_string(), None),
            Kind::Postgres => {
                let base = postgres_base_url();
                let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {base} is unreachable ({e}). These tests need it: start it with \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         (or set TOCSIN_TEST_POSTGRES_URL)"
                    )
                });
                let schema = format!(
                    "tocsin_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    Utc::now().timestamp_micros()
                );
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                (
                    format!("{base}?options[search_path]={schema}"),
                    Some(schema),
                )
            }
        };
        let clock = Self::test_clock();
        let store = open(&url, dir.path(), &settings, clock.clone())
            .await
            .unwrap();
        TestDb {
            kind,
            store,
            dir,
            url,
            clock,
            settings,
            schema,
        }
    }

    /// A clock at 2026-06-01 09:00 UTC.
    pub fn test_clock() -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(
            Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap(),
        )))
    }

    /// Opens the same database again, returning the error if it fails.
    pub async fn reopen_result(&self) -> Result<Store, tocsin_store::StoreError> {
        open(
            &self.url,
            self.dir.path(),
            &self.settings,
            self.clock.clone(),
        )
        .await
    }

    /// Another store on the same database and data directory: a restart, or a second node.
    pub async fn reopen(&self) -> Store {
        open(
            &self.url,
            self.dir.path(),
            &self.settings,
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    /// Runs raw SQL on the database behind the store's back (the tamperer's view).
    pub async fn sql(&self, statement: &str) {
        match self.kind {
            Kind::Sqlite => {
                let path = self.dir.path().join("tocsin.db");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(statement).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}

pub async fn open(
    url: &str,
    dir: &std::path::Path,
    settings: &AuditSettings,
    clock: Arc<TestClock>,
) -> Result<Store, tocsin_store::StoreError> {
    Store::open(StoreOptions {
        database_url: url.to_string(),
        data_dir: dir.to_path_buf(),
        audit: settings.clone(),
        clock,
    })
    .await
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Runs even when the test panicked, so no schema is left behind.
        if let Some(schema) = self.schema.take() {
            let base = postgres_base_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
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

/// Instantiates each listed `async fn name(db: TestDb)` once per backend, as
/// `on_sqlite::name` and `on_postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::support::TestDb::new($crate::support::Kind::Sqlite).await;
                    super::$name(&db).await;
                    db.store.close().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::support::TestDb::new($crate::support::Kind::Postgres).await;
                    super::$name(&db).await;
                    db.store.close().await;
                }
            )*
        }
    };
}
