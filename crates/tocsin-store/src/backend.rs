//! Choosing and opening a backend from the URL, and bringing its schema up to date.
//!
//! `sqlite://PATH` (relative paths live in the data directory) opens the embedded
//! database in WAL mode with `synchronous = FULL`, checks it is a sound SQLite file, and
//! never recreates a damaged one; `postgres://` connects to a shared server. Migrations
//! are embedded per backend; a database already past this binary's newest migration is
//! refused before anything is written.

use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::borrow::Cow;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr as _;
use std::time::Duration;

use crate::error::{redact, StoreError};

/// The two connection pools, one of which is in use.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// The embedded database.
    Sqlite(SqlitePool),
    /// A shared PostgreSQL.
    Postgres(PgPool),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file in the data directory.
    Sqlite,
    /// PostgreSQL, shared by several nodes.
    Postgres,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "dispatch",
        include_str!("../migrations/sqlite/0002_dispatch.sql"),
    ),
    (
        3,
        "people",
        include_str!("../migrations/sqlite/0003_people.sql"),
    ),
    (
        4,
        "workflow",
        include_str!("../migrations/sqlite/0004_workflow.sql"),
    ),
    (
        5,
        "account_secrets",
        include_str!("../migrations/sqlite/0005_account_secrets.sql"),
    ),
    (
        6,
        "oauth",
        include_str!("../migrations/sqlite/0006_oauth.sql"),
    ),
    (
        7,
        "conversation",
        include_str!("../migrations/sqlite/0007_conversation.sql"),
    ),
    (
        8,
        "account_changes",
        include_str!("../migrations/sqlite/0008_account_changes.sql"),
    ),
    (
        9,
        "one_schedule_model",
        include_str!("../migrations/sqlite/0009_one_schedule_model.sql"),
    ),
    (
        10,
        "typed_rows",
        include_str!("../migrations/sqlite/0010_typed_rows.sql"),
    ),
    (
        11,
        "platforms",
        include_str!("../migrations/sqlite/0011_platforms.sql"),
    ),
    (
        12,
        "people_enrolment",
        include_str!("../migrations/sqlite/0012_people_enrolment.sql"),
    ),
    (
        13,
        "audit_append_only",
        include_str!("../migrations/sqlite/0013_audit_append_only.sql"),
    ),
    (
        14,
        "workflow_guards",
        include_str!("../migrations/sqlite/0014_workflow_guards.sql"),
    ),
    (
        15,
        "audiences",
        include_str!("../migrations/sqlite/0015_audiences.sql"),
    ),
    (
        16,
        "follow_ups",
        include_str!("../migrations/sqlite/0016_follow_ups.sql"),
    ),
    (
        17,
        "typed_times",
        include_str!("../migrations/sqlite/0017_typed_times.sql"),
    ),
    (
        18,
        "session_values",
        include_str!("../migrations/sqlite/0018_session_values.sql"),
    ),
    (
        19,
        "wea_texts",
        include_str!("../migrations/sqlite/0019_wea_texts.sql"),
    ),
    (
        20,
        "images",
        include_str!("../migrations/sqlite/0020_images.sql"),
    ),
    (
        21,
        "language_texts",
        include_str!("../migrations/sqlite/0021_language_texts.sql"),
    ),
    (
        22,
        "account_languages",
        include_str!("../migrations/sqlite/0022_account_languages.sql"),
    ),
    (
        23,
        "image_links",
        include_str!("../migrations/sqlite/0023_image_links.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "dispatch",
        include_str!("../migrations/postgres/0002_dispatch.sql"),
    ),
    (
        3,
        "people",
        include_str!("../migrations/postgres/0003_people.sql"),
    ),
    (
        4,
        "workflow",
        include_str!("../migrations/postgres/0004_workflow.sql"),
    ),
    (
        5,
        "account_secrets",
        include_str!("../migrations/postgres/0005_account_secrets.sql"),
    ),
    (
        6,
        "oauth",
        include_str!("../migrations/postgres/0006_oauth.sql"),
    ),
    (
        7,
        "conversation",
        include_str!("../migrations/postgres/0007_conversation.sql"),
    ),
    (
        8,
        "account_changes",
        include_str!("../migrations/postgres/0008_account_changes.sql"),
    ),
    (
        9,
        "one_schedule_model",
        include_str!("../migrations/postgres/0009_one_schedule_model.sql"),
    ),
    (
        10,
        "typed_rows",
        include_str!("../migrations/postgres/0010_typed_rows.sql"),
    ),
    (
        11,
        "platforms",
        include_str!("../migrations/postgres/0011_platforms.sql"),
    ),
    (
        12,
        "people_enrolment",
        include_str!("../migrations/postgres/0012_people_enrolment.sql"),
    ),
    (
        13,
        "audit_append_only",
        include_str!("../migrations/postgres/0013_audit_append_only.sql"),
    ),
    (
        14,
        "workflow_guards",
        include_str!("../migrations/postgres/0014_workflow_guards.sql"),
    ),
    (
        15,
        "audiences",
        include_str!("../migrations/postgres/0015_audiences.sql"),
    ),
    (
        16,
        "follow_ups",
        include_str!("../migrations/postgres/0016_follow_ups.sql"),
    ),
    (
        17,
        "typed_times",
        include_str!("../migrations/postgres/0017_typed_times.sql"),
    ),
    (
        18,
        "session_values",
        include_str!("../migrations/postgres/0018_session_values.sql"),
    ),
    (
        19,
        "wea_texts",
        include_str!("../migrations/postgres/0019_wea_texts.sql"),
    ),
    (
        20,
        "images",
        include_str!("../migrations/postgres/0020_images.sql"),
    ),
    (
        21,
        "language_texts",
        include_str!("../migrations/postgres/0021_language_texts.sql"),
    ),
    (
        22,
        "account_languages",
        include_str!("../migrations/postgres/0022_account_languages.sql"),
    ),
    (
        23,
        "image_links",
        include_str!("../migrations/postgres/0023_image_links.sql"),
    ),
];

/// How long an SQLite writer waits for the write lock before giving up.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 23;

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

type Resolved = Result<Vec<Migration>, sqlx::error::BoxDynError>;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Resolved> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Where an SQLite URL points: relative paths are inside the data directory.
pub fn sqlite_path(url: &str, data_dir: &Path) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    let path = PathBuf::from(rest);
    Some(if path.is_absolute() {
        path
    } else {
        data_dir.join(path)
    })
}

/// Opens the database the URL names and applies migrations.
pub(crate) async fn open(url: &str, data_dir: &Path) -> Result<Pool, StoreError> {
    if let Some(path) = sqlite_path(url, data_dir) {
        let pool = open_sqlite(&path).await?;
        let pool = Pool::Sqlite(pool);
        migrate(&pool, Some(&path)).await?;
        Ok(pool)
    } else if is_postgres(url) {
        let pool = Pool::Postgres(connect_postgres(url, 8).await?);
        migrate(&pool, None).await?;
        Ok(pool)
    } else {
        Err(unknown_scheme(url))
    }
}

/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The error for a URL that is neither SQLite nor PostgreSQL.
fn unknown_scheme(url: &str) -> StoreError {
    StoreError::BadUrl {
        url: redact(url),
        reason: "the scheme must be sqlite:// (embedded) or postgres:// (several nodes)".into(),
    }
}

/// A pool of up to `connections` to the PostgreSQL database at `url` (not migrated).
async fn connect_postgres(url: &str, connections: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: redact(url),
        reason: e.to_string(),
    })?;
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Unreachable {
            url: redact(url),
            source,
        })
}

async fn open_sqlite(path: &Path) -> Result<SqlitePool, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let existed = match std::fs::metadata(path) {
        Ok(m) => m.len() > 0,
        Err(_) => false,
    };
    if existed {
        check_sqlite_header(path).map_err(corrupt)?;
    } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk (WAL fsynced) before it returns; the audit log's
        // promise "no state change without its entry" rests on this.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        // Checkpoint the WAL into the database every ~40 MB rather than every 4 MB: each
        // checkpoint fsyncs the database file, and audit bursts write a lot. Commits are
        // still fsynced to the WAL (synchronous = FULL), so durability is unchanged.
        .pragma("wal_autocheckpoint", "10000");
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| sqlite_open_error(path, e))?;
    if existed {
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA quick_check")
            .fetch_all(&pool)
            .await
            .map_err(|e| sqlite_open_error(path, e))?;
        let problems: Vec<String> = rows
            .into_iter()
            .map(|(r,)| r)
            .filter(|r| r != "ok")
            .collect();
        if !problems.is_empty() {
            pool.close().await;
            return Err(corrupt(problems.join("; ")));
        }
    }
    Ok(pool)
}

/// A damaged file: a non-empty file that does not start with SQLite's magic string, or
/// whose length is not a whole number of pages.
fn check_sqlite_header(path: &Path) -> Result<(), String> {
    use std::io::Read as _;
    let mut header = [0u8; 100];
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    file.read_exact(&mut header)
        .map_err(|_| "the file is shorter than an SQLite header".to_string())?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err("the file does not start with the SQLite header".into());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536,
        n => u64::from(n),
    };
    if page_size < 512 || len % page_size != 0 {
        return Err(format!(
            "the file is {len} bytes, not a whole number of {page_size}-byte pages"
        ));
    }
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    if pages > 0 && len < pages * page_size {
        return Err(format!(
            "the header says {pages} pages but the file holds {}",
            len / page_size
        ));
    }
    Ok(())
}

fn sqlite_open_error(path: &Path, e: sqlx::Error) -> StoreError {
    let code = match &e {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i64>().ok()),
        _ => None,
    };
    // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), with any extended code.
    // SQLITE_IOERR_SHORT_READ (522): the file ends before a page it should hold.
    match code.map(|c| if c == 522 { 11 } else { c & 0xff }) {
        Some(11) | Some(26) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        _ => StoreError::Database(e),
    }
}

/// The installation id migration 11 made for this database.
pub(crate) async fn installation_id(pool: &Pool) -> Result<String, StoreError> {
    const SQL: &str = "SELECT installation_id FROM installation WHERE id = 1";
    Ok(match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
        Pool::Postgres(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
    })
}

/// A migration this binary would apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMigration {
    /// Its schema version.
    pub version: i64,
    /// Its short name (`typed_rows`).
    pub name: &'static str,
    /// What it changes, in words: the comment at the head of its SQL file.
    pub summary: String,
}

/// Where a database's schema stands against this binary, read without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The database's schema version (`None`: a new, empty database).
    pub found: Option<i64>,
    /// The newest version this binary knows ([`SCHEMA_VERSION`]).
    pub known: i64,
    /// The migrations opening it would apply, oldest first (empty when up to date, and
    /// when the database is newer than this binary: see `found`).
    pub pending: Vec<PendingMigration>,
}

impl SchemaStatus {
    /// Whether the database was written by a newer release (this binary refuses it).
    pub fn too_new(&self) -> bool {
        self.found.is_some_and(|f| f > self.known)
    }
}

/// The first paragraph of the comment at the head of a migration's SQL, in one line.
fn summary_of(sql: &str) -> String {
    sql.lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.trim_start_matches('-').trim())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the schema status of the database at `url` without migrating it or, for a SQLite
/// file that does not exist, creating it.
pub async fn schema_status(url: &str, data_dir: &Path) -> Result<SchemaStatus, StoreError> {
    let (found, migrations) = if let Some(path) = sqlite_path(url, data_dir) {
        let exists = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
        let found = if exists {
            let pool = open_sqlite(&path).await?;
            let found = schema_version(&Pool::Sqlite(pool.clone()), Some(&path)).await;
            pool.close().await;
            found?
        } else {
            None
        };
        (found, SQLITE_MIGRATIONS)
    } else if is_postgres(url) {
        let pool = connect_postgres(url, 1).await?;
        let found = schema_version(&Pool::Postgres(pool.clone()), None).await;
        pool.close().await;
        (found?, POSTGRES_MIGRATIONS)
    } else {
        return Err(unknown_scheme(url));
    };
    let pending = migrations
        .iter()
        .filter(|(v, _, _)| found.is_none_or(|f| *v > f))
        .map(|(version, name, sql)| PendingMigration {
            version: *version,
            name,
            summary: summary_of(sql),
        })
        .collect();
    Ok(SchemaStatus {
        found,
        known: SCHEMA_VERSION,
        pending,
    })
}

/// The database server's clock, for `tocsin doctor`: PostgreSQL's `now()`; `None` for
/// SQLite, which runs on this machine's clock.
pub async fn database_clock(url: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    if !is_postgres(url) {
        return Ok(None);
    }
    let pool = connect_postgres(url, 1).await?;
    let text: Result<String, sqlx::Error> = sqlx::query_scalar(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .fetch_one(&pool)
    .await;
    pool.close().await;
    let text = text?;
    Ok(DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|t| t.with_timezone(&Utc)))
}

/// The highest migration applied to the database (`None`: never migrated).
pub(crate) async fn schema_version(
    pool: &Pool,
    path: Option<&Path>,
) -> Result<Option<i64>, StoreError> {
    match pool {
        Pool::Sqlite(p) => {
            let exists: Option<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(p)
            .await
            .map_err(|e| match path {
                Some(path) => sqlite_open_error(path, e),
                None => StoreError::Database(e),
            })?;
            match exists {
                Some(_) => Ok(sqlx::query_scalar(
                    "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                )
                .fetch_one(p)
                .await?),
                None => Ok(None),
            }
        }
        Pool::Postgres(p) => {
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(p)
                    .await?;
            if exists {
                Ok(
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(p)
                        .await?,
                )
            } else {
                Ok(None)
            }
        }
    }
}

async fn migrate(pool: &Pool, path: Option<&Path>) -> Result<(), StoreError> {
    let found = schema_version(pool, path).await?;
    let migrations = match pool {
        Pool::Sqlite(_) => SQLITE_MIGRATIONS,
        Pool::Postgres(_) => POSTGRES_MIGRATIONS,
    };
    if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if let Pool::Postgres(p) = pool {
        // With a separate owner (README, "PostgreSQL roles") the application's role may
        // not create tables, and sqlx's migrator creates its own table first even when
        // there is nothing to apply: leave an up-to-date schema alone.
        let may_create: bool = sqlx::query_scalar(
            "SELECT COALESCE(has_schema_privilege(current_schema(), 'CREATE'), FALSE)",
        )
        .fetch_one(p)
        .await?;
        if !may_create {
            return match found {
                Some(SCHEMA_VERSION) => Ok(()),
                other => Err(StoreError::NeedsOwner {
                    found: other.unwrap_or(0),
                    known: SCHEMA_VERSION,
                }),
            };
        }
    }
    let migrator = Migrator::new(Embedded(migrations)).await?;
    match pool {
        Pool::Sqlite(p) => migrator.run(p).await?,
        Pool::Postgres(p) => migrator.run(p).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_sqlite_path_is_inside_the_data_directory_and_an_absolute_one_is_kept() {
        let data = Path::new("/var/lib/tocsin");
        assert_eq!(
            sqlite_path("sqlite://tocsin.db", data),
            Some(data.join("tocsin.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///srv/t.db", data),
            Some(PathBuf::from("/srv/t.db"))
        );
        assert_eq!(sqlite_path("postgres://x/y", data), None);
    }

    /// Rows of both schedule models, written at schema version 8.
    const SCHEDULES_AT_VERSION_8: &[&str] = &[
        "INSERT INTO drafts (id, playbook_id, step_id, content_hash, variables_json, created_by, created_at, exercise) \
         VALUES (1, 'boil-water', 'alert', 'sha256:x', '{}', 'dana', '2026-06-01T09:00:00Z', FALSE)",
        "INSERT INTO messages (id, draft_id, approved_by, approved_at, exercise, break_glass) \
         VALUES (1, 1, 'alex', '2026-06-01T09:00:00Z', FALSE, FALSE)",
        "INSERT INTO schedules (id, draft_id, run_at, recurrence, created_by, state) \
         VALUES (1, 1, '2026-06-01T10:00:00Z', NULL, 'dana', 'scheduled')",
        "INSERT INTO schedules (id, draft_id, run_at, recurrence, created_by, state, message_id, every_seconds, until_at, fired) \
         VALUES (2, 1, '2026-06-01T11:00:00Z', 'every 7200s', 'alex', 'scheduled', 1, 7200, NULL, 3)",
    ];

    /// What `schedules` holds after version 9, in the columns of its one model.
    const SCHEDULES_AFTER: &str =
        "SELECT id, message_id, run_at, every_seconds, until_at, fired, created_by, state FROM schedules ORDER BY id";

    type ScheduleRow = (
        i64,
        i64,
        crate::time::DbTime,
        i64,
        Option<crate::time::DbTime>,
        i64,
        String,
        String,
    );

    fn recurring_repeat_kept() -> Vec<ScheduleRow> {
        vec![(
            2,
            1,
            crate::time::DbTime(tocsin_audit::entry::parse_time("2026-06-01T11:00:00Z").unwrap()),
            7200,
            None,
            3,
            "alex".into(),
            "scheduled".into(),
        )]
    }

    #[tokio::test]
    async fn version_9_keeps_recurring_repeats_and_drops_the_first_schedule_model_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_sqlite(&dir.path().join("t.db")).await.unwrap();
        let at_8 = SQLITE_MIGRATIONS.get(..8).unwrap();
        Migrator::new(Embedded(at_8))
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        for statement in SCHEDULES_AT_VERSION_8 {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        migrate(&Pool::Sqlite(pool.clone()), None).await.unwrap();
        let rows: Vec<ScheduleRow> = sqlx::query_as(SCHEDULES_AFTER)
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, recurring_repeat_kept());
        let columns: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM pragma_table_info('schedules') ORDER BY cid")
                .fetch_all(&pool)
                .await
                .unwrap();
        let columns: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            columns,
            [
                "id",
                "message_id",
                "run_at",
                "every_seconds",
                "until_at",
                "fired",
                "created_by",
                "state",
                "stop_reason"
            ]
        );
        let refused = sqlx::query(
            "INSERT INTO schedules (message_id, run_at, every_seconds, created_by, state) \
             VALUES (NULL, 'x', 60, 'dana', 'scheduled')",
        )
        .execute(&pool)
        .await;
        assert!(refused.is_err(), "a schedule repeats a message");
    }

    #[tokio::test]
    async fn version_9_keeps_recurring_repeats_and_drops_the_first_schedule_model_on_postgres() {
        use sqlx::Connection as _;
        let base = std::env::var("TOCSIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!(
            "tocsin_t_migrate_{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros()
        );
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let options =
            PgConnectOptions::from_str(&format!("{base}?options[search_path]={schema}")).unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        let at_8 = POSTGRES_MIGRATIONS.get(..8).unwrap();
        Migrator::new(Embedded(at_8))
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        for statement in SCHEDULES_AT_VERSION_8 {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        migrate(&Pool::Postgres(pool.clone()), None).await.unwrap();
        let rows: Vec<ScheduleRow> = sqlx::query_as(SCHEDULES_AFTER)
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, recurring_repeat_kept());
        let columns: Vec<(String,)> = sqlx::query_as(
            "SELECT column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'schedules' ORDER BY column_name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let columns: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            columns,
            [
                "created_by",
                "every_seconds",
                "fired",
                "id",
                "message_id",
                "run_at",
                "state",
                "stop_reason",
                "until_at"
            ]
        );
        pool.close().await;
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    #[test]
    fn the_embedded_migrations_end_at_the_schema_version() {
        assert_eq!(SQLITE_MIGRATIONS.last().map(|m| m.0), Some(SCHEMA_VERSION));
        assert_eq!(
            POSTGRES_MIGRATIONS.last().map(|m| m.0),
            Some(SCHEMA_VERSION)
        );
    }
}
