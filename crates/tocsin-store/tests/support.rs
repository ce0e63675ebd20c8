//! The store's view of the shared test databases (`tocsin-test-support::db`): every story
//! gets a fresh SQLite file or PostgreSQL schema, a clock it moves by hand, and checkpoints
//! every 5 entries so the checkpoint paths are exercised.

use std::ops::Deref;
use std::sync::Arc;
use tocsin_store::{AuditSettings, Store, StoreOptions};
pub use tocsin_test_support::db::{Backend as Kind, TestClock};

/// Audit settings for the store's stories: a checkpoint every 5 entries.
pub fn settings() -> AuditSettings {
    AuditSettings {
        origin: "test.example.gov/audit".into(),
        checkpoint_every_entries: 5,
        checkpoint_every_seconds: 3600,
    }
}

/// A test database with its clock always at hand.
pub struct TestDb {
    db: tocsin_test_support::db::TestDb,
    pub clock: Arc<TestClock>,
    pub kind: Kind,
}

impl Deref for TestDb {
    type Target = tocsin_test_support::db::TestDb;

    fn deref(&self) -> &Self::Target {
        &self.db
    }
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        let clock = Self::test_clock();
        let db = tocsin_test_support::db::TestDb::open_with(kind, Some(clock.clone()), settings())
            .await
            .unwrap();
        TestDb { db, clock, kind }
    }

    /// A clock at 2026-06-01 09:00 UTC.
    pub fn test_clock() -> Arc<TestClock> {
        TestClock::at(tocsin_test_support::db::TestDb::epoch())
    }

    /// Opens the same database again, returning the error if it fails.
    pub async fn reopen_result(&self) -> Result<Store, tocsin_store::StoreError> {
        self.db.reopen().await
    }

    /// Another store on the same database and data directory: a restart, or a second node.
    pub async fn reopen(&self) -> Store {
        self.db.reopen().await.unwrap()
    }

    /// Runs raw SQL behind the store's back.
    pub async fn sql(&self, statement: &str) {
        self.db.sql(statement).await.unwrap();
    }
}

/// Opens a store directly (start-up tests use odd URLs and directories).
pub async fn open(
    url: &str,
    dir: &std::path::Path,
    settings: &AuditSettings,
    clock: Arc<TestClock>,
) -> Result<Store, tocsin_store::StoreError> {
    let mut options = StoreOptions::new(url, dir);
    options.audit = settings.clone();
    options.clock = clock;
    Store::open(options).await
}

/// Instantiates each listed `async fn name(db: &TestDb)` once per backend, as
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
