//! The PostgreSQL roles the README documents: an owner that migrates, and an
//! application role that appends to the audit log but can neither change a row nor
//! drop or disable the triggers that keep it append-only.

use sqlx::Connection as _;
use tocsin_audit::AuditEvent;
use tocsin_store::{Store, StoreError, StoreOptions};
use tocsin_test_support::db::postgres_base_url;

async fn run(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ())
}

fn url_as(role: &str, schema: &str) -> String {
    let base = postgres_base_url();
    let rest = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("postgres://{role}@{host}?options[search_path]={schema}")
}

async fn open(url: &str, dir: &std::path::Path) -> Result<Store, StoreError> {
    Store::open(StoreOptions::new(url, dir)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_appends_but_cannot_rewrite_or_unguard_the_log() {
    let tag = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let (owner, app, schema) = (
        format!("tocsin_owner_{tag}"),
        format!("tocsin_app_{tag}"),
        format!("tocsin_roles_{tag}"),
    );
    let mut admin = sqlx::PgConnection::connect(&postgres_base_url())
        .await
        .unwrap();
    run(
        &mut admin,
        &format!(
            "CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN; \
             CREATE SCHEMA {schema} AUTHORIZATION {owner}; \
             GRANT USAGE ON SCHEMA {schema} TO {app};"
        ),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Before the owner migrated, the application's role is told to get the owner.
    let err = open(&url_as(&app, &schema), dir.path()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NeedsOwner { found: 0, .. }),
        "{err}"
    );

    let as_owner = open(&url_as(&owner, &schema), dir.path()).await.unwrap();
    as_owner.close().await;
    run(
        &mut admin,
        &format!(
            "SET ROLE {owner}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}; \
             REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_entries, {schema}.audit_checkpoints FROM {app}; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}; RESET ROLE;"
        ),
    )
    .await
    .unwrap();

    let store = open(&url_as(&app, &schema), dir.path()).await.unwrap();
    for _ in 0..3 {
        store
            .append_audit(AuditEvent::new("alex", "session.sign_in"))
            .await
            .unwrap();
    }
    assert!(store.audit().verify_live(None).await.unwrap().is_ok());
    store.close().await;

    let mut as_app = sqlx::PgConnection::connect(&url_as(&app, &schema))
        .await
        .unwrap();
    for statement in [
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_checkpoints",
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
    ] {
        let err = run(&mut as_app, statement).await.unwrap_err().to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{statement}: {err}"
        );
    }
    as_app.close().await.unwrap();

    let _ = run(
        &mut admin,
        &format!(
            "DROP SCHEMA {schema} CASCADE; DROP OWNED BY {app}; DROP OWNED BY {owner}; \
             DROP ROLE {app}; DROP ROLE {owner};"
        ),
    )
    .await;
}
