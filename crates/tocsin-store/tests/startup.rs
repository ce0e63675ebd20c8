//! Bad start-up conditions: a corrupt or truncated SQLite file, a database from a newer
//! schema, a key file others can read, an unreachable PostgreSQL, an unknown scheme.
//! Each is a clear error and nothing is overwritten.

use crate::support::{open, settings, Kind, TestClock, TestDb};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use tocsin_audit::AuditEvent;
use tocsin_store::StoreError;

fn clock() -> Arc<TestClock> {
    TestDb::test_clock()
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.db");
    std::fs::write(
        &path,
        b"this is a spreadsheet, not a database\n".repeat(200),
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = open("sqlite://tocsin.db", dir.path(), &settings(), clock())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("was not modified"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn a_truncated_database_is_refused_and_left_untouched() {
    let db = TestDb::new(Kind::Sqlite).await;
    for i in 0..300 {
        db.store
            .append_audit(AuditEvent::new("alex", "x").subject("n", format!("{i:0>200}")))
            .await
            .unwrap();
    }
    db.store.close().await;
    let path = db.dir.path().join("tocsin.db");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 8 * 4096, "the fixture should span many pages");
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let before = std::fs::read(&path).unwrap();
    let err = db.reopen_result().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

async fn a_database_from_a_newer_schema_is_refused(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.store.close().await;
    let newer = tocsin_store::SCHEMA_VERSION + 1;
    let insert = match kind {
        Kind::Sqlite => format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({newer}, 'from a newer tocsin', 1, x'00', 0)"
        ),
        Kind::Postgres => format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({newer}, 'from a newer tocsin', true, '\\x00'::bytea, 0)"
        ),
    };
    db.sql(&insert).await;
    let err = db.reopen_result().await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == newer && known == newer - 1),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn an_sqlite_database_from_a_newer_schema_is_refused() {
    a_database_from_a_newer_schema_is_refused(Kind::Sqlite).await;
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_schema_is_refused() {
    a_database_from_a_newer_schema_is_refused(Kind::Postgres).await;
}

#[tokio::test]
async fn a_signing_key_readable_by_others_stops_start_up() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.store.close().await;
    let key = db.dir.path().join(tocsin_audit::KEY_FILE_NAME);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = db.reopen_result().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Key(tocsin_audit::KeyFileError::Permissions { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error_with_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = open(
        "postgres://postgres:hunter2@127.0.0.1:1/test",
        dir.path(),
        &settings(),
        clock(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("pg_ctlcluster"), "{text}");
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}

#[tokio::test]
async fn an_unknown_database_scheme_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = open("mysql://x/y", dir.path(), &settings(), clock())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err}");
}

#[tokio::test]
async fn a_node_whose_signing_key_did_not_sign_the_log_is_refused_naming_the_key_file() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.store.audit().check_signing_key().await.unwrap();
    for i in 0..6 {
        db.store
            .append_audit(tocsin_audit::AuditEvent::new("alex", "x").subject("n", i.to_string()))
            .await
            .unwrap();
    }
    db.store.audit().check_signing_key().await.unwrap();
    db.store.close().await;
    // The key file is lost and a new one made: checkpoints it signs would not verify
    // with the log's key.
    let key = db.dir.path().join(tocsin_audit::KEY_FILE_NAME);
    std::fs::remove_file(&key).unwrap();
    let store = db.reopen().await;
    let err = store
        .audit()
        .check_signing_key()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(err.contains("did not sign"), "{err}");
    assert!(err.contains("Running several nodes"), "{err}");
    store.close().await;
}
