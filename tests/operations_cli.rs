//! Operations from the command line: `tocsin migrate` on a database from the previous
//! release, on a new one, and on one from a newer release.

use crate::support::{repo_root, Workspace};

/// The SQLite database release 0.1 made (schema version 8), copied into the workspace's
/// data directory with its audit signing key.
fn workspace_with_release_0_1_database() -> Workspace {
    let ws = Workspace::with_library();
    let fixture = repo_root().join("crates/tocsin-store/tests/fixtures/schema-8/sqlite");
    std::fs::create_dir_all(ws.path().join("data")).unwrap();
    for file in ["tocsin.db", "audit-signing.key"] {
        std::fs::copy(fixture.join(file), ws.path().join("data").join(file)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        ws.path().join("data/audit-signing.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    ws
}

#[test]
fn migrate_dry_run_lists_what_an_upgrade_applies_and_changes_nothing() {
    let ws = workspace_with_release_0_1_database();
    let db = ws.path().join("data/tocsin.db");
    let before = std::fs::read(&db).unwrap();

    let out = ws.tocsin(&["migrate", "--dry-run"]).ok();
    assert!(out.contains("schema version 8: would apply"), "{out}");
    assert!(out.contains("0009 one_schedule_model"), "{out}");
    assert!(out.contains("0010 typed_rows"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a dry run wrote to the database"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ws.tocsin(&["migrate", "--dry-run", "--json"]).ok()).unwrap();
    assert_eq!(json["found"], 8);
    assert_eq!(json["applied"], false);
    let versions: Vec<i64> = json["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.first(), Some(&9));
    assert_eq!(
        versions.last().copied(),
        json["known"].as_i64(),
        "the last pending migration is the newest this release knows"
    );

    let out = ws.tocsin(&["migrate"]).ok();
    assert!(out.contains("schema version 8: applied"), "{out}");
    let out = ws.tocsin(&["migrate", "--dry-run"]).ok();
    assert!(out.contains("up to date"), "{out}");
    // The upgraded database still verifies.
    ws.tocsin(&["audit", "verify"]).ok();
}

#[test]
fn migrate_dry_run_on_a_new_database_does_not_create_it() {
    let ws = Workspace::with_library();
    let out = ws.tocsin(&["migrate", "--dry-run"]).ok();
    assert!(out.contains("a new database: would apply"), "{out}");
    assert!(out.contains("0001 initial"), "{out}");
    assert!(
        !ws.path().join("data/tocsin.db").exists(),
        "a dry run created the database"
    );
}

#[test]
fn a_database_from_a_newer_release_is_refused_with_the_versions() {
    let ws = workspace_with_release_0_1_database();
    ws.tocsin(&["migrate"]).ok();
    let db = ws.path().join("data/tocsin.db");
    assert!(
        mark_as_written_by_a_newer_release(&db),
        "could not mark the database as newer"
    );
    for args in [&["migrate", "--dry-run"][..], &["audit", "verify"][..]] {
        let err = ws.tocsin(args).fails();
        assert!(err.contains("newer"), "{args:?}: {err}");
        assert!(err.contains("999"), "{args:?}: {err}");
    }
}

/// Records a migration no release has (version 999), through Python's sqlite3 module.
fn mark_as_written_by_a_newer_release(db: &std::path::Path) -> bool {
    let sql = "INSERT INTO _sqlx_migrations (version, description, installed_on, success, \
               checksum, execution_time) VALUES (999, 'from the future', CURRENT_TIMESTAMP, 1, \
               x'00', 0)";
    std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
        ])
        .arg(db)
        .arg(sql)
        .status()
        .is_ok_and(|s| s.success())
}
