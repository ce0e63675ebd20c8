//! Upgrading a database made by the previous release: `fixtures/schema-8/` holds a SQLite
//! data directory and a PostgreSQL dump written by release 0.1's own binary
//! (`scripts/make_release_fixture.sh`): drills with a retraction and a live session, a
//! draft taken through the HTTP workflow, sandbox and real accounts, signed checkpoints.
//! Opening it with this build migrates it forward; everything reads back typed, the audit
//! chain still verifies against its kept checkpoint, and the new constraints hold; on
//! PostgreSQL the text times are `timestamptz` columns (all but the audit chain's own).

use sqlx::Connection as _;
use std::path::{Path, PathBuf};
use tocsin_domain::playbook::{TextTarget, VariantTarget};
use tocsin_domain::Platform;
use tocsin_store::{Backend, DraftState, Store, StoreOptions};
use tocsin_test_support::db::postgres_base_url;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema-8")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = to.join("audit-signing.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// What every upgraded database must show, whichever backend.
async fn reads_back_typed_and_verifies(store: &Store) {
    // The chain the old release wrote verifies, its kept checkpoint included.
    let kept = store.kept_checkpoint().unwrap();
    assert!(kept.is_some(), "the fixture keeps a checkpoint");
    match store.audit().verify_live(kept.as_deref()).await.unwrap() {
        Ok(report) => assert!(report.entries > 50, "{report:?}"),
        Err(bad) => panic!("the upgraded chain does not verify: {bad:?}"),
    }
    // Sandbox accounts name what they stand for; the real one is a Telegram account.
    let accounts = store.accounts().records().await.unwrap();
    let x = accounts
        .iter()
        .find(|a| a.handle == "sandbox:x")
        .expect("the drill's X stand-in");
    assert_eq!(
        (x.platform, x.stands_for),
        (Platform::Sandbox, Some(Platform::X))
    );
    assert!(accounts
        .iter()
        .filter(|a| a.sandbox)
        .all(|a| a.stands_for.is_some_and(|p| p != Platform::Sandbox)));
    let telegram = accounts.iter().find(|a| !a.sandbox).unwrap();
    assert_eq!(
        (telegram.platform, telegram.stands_for),
        (Platform::Telegram, None)
    );
    // Drafts have their states, and the workflow's draft its headline and HTML email.
    let drafts = store.drafts().list(None, 100).await.unwrap();
    assert!(drafts.iter().any(|d| d.state == DraftState::Published));
    let published = drafts
        .iter()
        .find(|d| d.state == DraftState::Published)
        .unwrap();
    let draft = store.drafts().get(published.id).await.unwrap().unwrap();
    let targets: Vec<TextTarget> = draft.variants.iter().map(|v| v.target).collect();
    assert!(targets.contains(&TextTarget::Headline), "{targets:?}");
    assert!(targets.contains(&TextTarget::Variant(VariantTarget::EmailHtml)));
    assert!(targets.contains(&TextTarget::Variant(VariantTarget::Platform(Platform::Sms))));
    // Messages, their kinds and their deliveries' states read back, retraction included.
    let messages = store.messages().list(100).await.unwrap();
    assert!(messages.len() >= 4, "{}", messages.len());
    let retracted = messages
        .iter()
        .find(|m| m.retracted_at.is_some())
        .expect("the drill's retracted alert");
    let rows = store.messages().delivery_rows(retracted.id).await.unwrap();
    assert!(rows
        .iter()
        .all(|r| r.state == tocsin_store::DeliveryState::Retracted));
    let sessions = store.live_sessions().list().await.unwrap();
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_release_is_migrated_and_reads_back_typed() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("sqlite"), dir.path());
    let store = Store::open(StoreOptions::new("sqlite://tocsin.db", dir.path()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    reads_back_typed_and_verifies(&store).await;
    // A state the schema does not know is refused by the database itself.
    let path = dir.path().join("tocsin.db");
    store.close().await;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "UPDATE drafts SET state = 'approved' WHERE id = 1",
        "UPDATE deliveries SET state = 'done'",
        "UPDATE messages SET kind = 'tweet'",
        "UPDATE live_sessions SET state = 'paused'",
        "UPDATE accounts SET status = 'maybe'",
    ] {
        let err = sqlx::query(sql).execute(&mut c).await.unwrap_err();
        assert!(err.to_string().contains("not a"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_postgres_database_of_the_previous_release_is_migrated_and_reads_back_typed() {
    let base = postgres_base_url();
    let name = format!(
        "tocsin_upgrade_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("{base} names no database"),
    };
    let result = async {
        let dump = std::fs::read_to_string(fixture("postgres/dump.sql")).unwrap();
        let mut load = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(&dump).execute(&mut load).await.unwrap();
        load.close().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture("postgres"), dir.path());
        std::fs::remove_file(dir.path().join("dump.sql")).unwrap();
        let store = Store::open(StoreOptions::new(url.clone(), dir.path()))
            .await
            .unwrap();
        reads_back_typed_and_verifies(&store).await;
        store.close().await;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        for sql in [
            "UPDATE drafts SET state = 'approved' WHERE id = 1",
            "UPDATE deliveries SET state = 'done'",
            "UPDATE messages SET kind = 'tweet'",
            "UPDATE live_sessions SET state = 'paused'",
            "UPDATE accounts SET status = 'maybe'",
        ] {
            let err = sqlx::query(sql).execute(&mut c).await.unwrap_err();
            assert!(err.to_string().contains("check constraint"), "{sql}: {err}");
        }
        // Every time column the old release wrote as text is `timestamptz` now, but the
        // audit chain's own (its hash covers the exact text), and the times came across.
        let text_times: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type = 'text' \
             AND (column_name LIKE '%\\_at' OR column_name IN ('time', 'checkpoint_time', \
             'lease_until', 'not_before', 'blocked_until', 'last_failure', 'minute')) \
             ORDER BY 1, 2",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let text_times: Vec<(&str, &str)> = text_times
            .iter()
            .map(|(t, c)| (t.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            text_times,
            [
                ("audit_checkpoints", "time"),
                ("audit_entries", "time"),
                ("audit_head", "checkpoint_time")
            ]
        );
        let (all, before_now): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(CASE WHEN approved_at < now() THEN 1 END) FROM messages",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert!(all > 0);
        assert_eq!(before_now, all, "the old text times compare as times");
        c.close().await.unwrap();
    };
    // Drop the database whatever happened.
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
