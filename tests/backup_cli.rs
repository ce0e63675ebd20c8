//! `tocsin backup` and `tocsin restore`: a backup taken while drills fan out restores
//! into a fresh data directory and verifies; a restore never overwrites a database, never
//! keeps a damaged backup, and needs the signing key; PostgreSQL's documented `pg_dump`
//! round trip verifies too.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::Workspace;

/// Copies the audit signing key (which a backup never holds) into `to`'s data directory.
fn copy_signing_key(from: &Workspace, to: &Workspace) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(to.path().join("data")).unwrap();
    let dest = to.path().join("data/audit-signing.key");
    std::fs::copy(from.path().join("data/audit-signing.key"), &dest).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The installation id `tocsin doctor` reports.
fn installation_of(ws: &Workspace) -> String {
    installation_with(ws, &[])
}

/// The installation id `tocsin doctor` reports with `env`.
fn installation_with(ws: &Workspace, env: &[(&str, &str)]) -> String {
    let out = ws.tocsin_env(&["doctor"], env).stdout();
    out.lines()
        .find_map(|l| l.strip_prefix("ok   installation: id "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no installation id in {out}"))
        .to_string()
}

/// Runs drills one after another against `ws` until `stop` holds.
fn drill_until(ws: &Workspace, stop: &std::sync::atomic::AtomicBool) -> usize {
    let mut drills = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        ws.tocsin(&["drill", "boil-water", "--retract", "--as", "lead"])
            .ok();
        drills += 1;
    }
    drills
}

#[test]
fn a_backup_taken_during_fan_out_restores_and_verifies() {
    let ws = Workspace::with_library();
    // A first drill creates the database and its key.
    ws.tocsin(&["drill", "boil-water", "--as", "lead"]).ok();
    let backups = tempfile::tempdir().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let outputs = std::thread::scope(|scope| {
        let drilling = scope.spawn(|| drill_until(&ws, &stop));
        let mut outputs = Vec::new();
        for i in 0..3 {
            let file = backups.path().join(format!("backup-{i}.tar"));
            let out = ws
                .tocsin(&["backup", "--output", file.to_str().unwrap()])
                .ok();
            outputs.push((file, out));
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(drilling.join().unwrap() >= 1);
        outputs
    });
    for (file, out) in &outputs {
        assert!(out.contains("chain verified"), "{out}");
        assert!(out.contains("the backup holds neither"), "{out}");
        let fresh = Workspace::with_library();
        copy_signing_key(&ws, &fresh);
        let restored = fresh.tocsin(&["restore", file.to_str().unwrap()]).ok();
        assert!(restored.contains("audit entries verified"), "{restored}");
        let verify = fresh.tocsin(&["audit", "verify"]).ok();
        assert!(verify.starts_with("OK"), "{verify}");
        let tail = fresh
            .tocsin(&["audit", "tail", "--no-follow", "-n", "2"])
            .ok();
        assert!(tail.contains("backup.restored"), "{tail}");
        assert!(tail.contains("installation.renew"), "{tail}");
        assert_ne!(
            installation_of(&fresh),
            installation_of(&ws),
            "a restored copy has an installation id of its own"
        );
    }
    let tail = ws
        .tocsin(&["audit", "tail", "--no-follow", "-n", "2000"])
        .ok();
    assert_eq!(tail.matches("backup.taken").count(), 3, "{tail}");
}

#[test]
fn a_restore_never_overwrites_a_database_and_needs_the_signing_key() {
    let ws = Workspace::with_library();
    ws.tocsin(&["drill", "boil-water", "--as", "lead"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tar");
    ws.tocsin(&["backup", "--output", file.to_str().unwrap()])
        .ok();

    let err = ws.tocsin(&["restore", file.to_str().unwrap()]).fails();
    assert!(err.contains("refusing to overwrite the database"), "{err}");
    let err = ws
        .tocsin(&["backup", "--output", file.to_str().unwrap()])
        .fails();
    assert!(err.contains("never overwrites"), "{err}");

    let fresh = Workspace::with_library();
    let err = fresh.tocsin(&["restore", file.to_str().unwrap()]).fails();
    assert!(err.contains("audit-signing.key is missing"), "{err}");
    assert!(!fresh.path().join("data/tocsin.db").exists());

    // Another installation's key is named as the wrong one.
    let other = Workspace::with_library();
    other.tocsin(&["drill", "boil-water", "--as", "lead"]).ok();
    copy_signing_key(&other, &fresh);
    let err = fresh.tocsin(&["restore", file.to_str().unwrap()]).fails();
    assert!(err.contains("was signed by"), "{err}");
    assert!(!fresh.path().join("data/tocsin.db").exists());
}

#[test]
fn a_damaged_backup_is_refused_and_nothing_is_kept() {
    let ws = Workspace::with_library();
    ws.tocsin(&["drill", "boil-water", "--as", "lead"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tar");
    ws.tocsin(&["backup", "--output", file.to_str().unwrap()])
        .ok();
    let mut bytes = std::fs::read(&file).unwrap();
    // Past the manifest's 512-byte header and body, inside the database's pages.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = dir.path().join("damaged.tar");
    std::fs::write(&damaged, bytes).unwrap();

    let fresh = Workspace::with_library();
    copy_signing_key(&ws, &fresh);
    let err = fresh
        .tocsin(&["restore", damaged.to_str().unwrap()])
        .fails();
    assert!(err.contains("does not match the manifest"), "{err}");
    assert!(!fresh.path().join("data/tocsin.db").exists());

    let err = fresh
        .tocsin(&["restore", dir.path().join("absent.tar").to_str().unwrap()])
        .fails();
    assert!(err.contains("absent.tar"), "{err}");
}

/// A database of its own on the test PostgreSQL, dropped at the end.
struct PgDatabase {
    url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create(tag: &str) -> PgDatabase {
        let admin = std::env::var("TOCSIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("tocsin_backup_{tag}_{}", std::process::id());
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("{admin} names no database"),
        };
        PgDatabase { url, admin, name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .expect("psql (the PostgreSQL client) runs");
    assert!(status.success(), "psql {sql}");
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn postgres_is_backed_up_with_pg_dump_and_restores_and_verifies() {
    let source = PgDatabase::create("source");
    let target = PgDatabase::create("target");
    let ws = Workspace::with_library();
    let with = |db: &PgDatabase, args: &[&str]| {
        ws.tocsin_env(args, &[("TOCSIN_DATABASE__URL", db.url.as_str())])
    };
    with(
        &source,
        &["drill", "boil-water", "--retract", "--as", "lead"],
    )
    .ok();
    let err = with(&source, &["backup", "--output", "x.tar"]).fails();
    assert!(err.contains("pg_dump"), "{err}");

    // As the README's "Backup and restore" says.
    let dump = ws.path().join("tocsin.pgdump");
    run(Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&source.url));
    run(Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname", &target.url])
        .arg(&dump));
    let verify = with(&target, &["audit", "verify"]).ok();
    assert!(verify.starts_with("OK"), "{verify}");
    assert!(Path::new(&dump).exists());

    // The copy keeps the original's installation id until it is renewed.
    let id = |db: &PgDatabase| installation_with(&ws, &[("TOCSIN_DATABASE__URL", db.url.as_str())]);
    let original = id(&source);
    assert_eq!(id(&target), original);
    let err = with(&target, &["installation", "renew"]).fails();
    assert!(
        err.contains("--yes") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(id(&target), original);
    let out = with(&target, &["installation", "renew", "--yes"]).ok();
    let renewed = id(&target);
    assert_ne!(renewed, original);
    assert!(out.contains(&original) && out.contains(&renewed), "{out}");
    assert_eq!(id(&source), original, "the original keeps its id");
    let verify = with(&target, &["audit", "verify"]).ok();
    assert!(verify.starts_with("OK"), "{verify}");
    let export = with(
        &target,
        &["audit", "export", "--action", "installation.renew"],
    )
    .ok();
    assert!(
        export.contains(&original) && export.contains(&renewed),
        "audited with both ids: {export}"
    );
}

#[test]
fn a_copied_sqlite_database_gets_a_new_installation_id_only_when_confirmed_and_audited() {
    let original = Workspace::with_library();
    original
        .tocsin(&["drill", "boil-water", "--retract", "--as", "lead"])
        .ok();
    let copy = Workspace::with_library();
    copy_signing_key(&original, &copy);
    // As an operator copying a stopped installation's files would.
    for file in ["tocsin.db", "tocsin.db-wal"] {
        let from = original.path().join("data").join(file);
        if from.exists() {
            std::fs::copy(from, copy.path().join("data").join(file)).unwrap();
        }
    }
    let id = installation_of(&original);
    assert_eq!(installation_of(&copy), id, "a copied file keeps the id");

    let err = copy.tocsin(&["installation", "renew"]).fails();
    assert!(err.contains(&id) && err.contains("--yes"), "{err}");
    assert_eq!(installation_of(&copy), id, "nothing changes unconfirmed");

    // A delivery still queued in the copy: its retries would carry another key.
    let requeued = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE deliveries SET state = 'pending' WHERE rowid = (SELECT min(rowid) FROM deliveries)\"); \
             c.commit()",
        ])
        .arg(copy.path().join("data/tocsin.db"))
        .status()
        .unwrap();
    assert!(requeued.success());
    let err = copy.tocsin(&["installation", "renew", "--yes"]).fails();
    assert!(
        err.contains("1 deliveries are queued or in flight") && err.contains("--despite-queue"),
        "{err}"
    );
    assert_eq!(installation_of(&copy), id, "nothing changes with a queue");

    copy.tocsin(&["installation", "renew", "--yes", "--despite-queue"])
        .ok();
    let renewed = installation_of(&copy);
    assert_ne!(renewed, id);
    assert_eq!(installation_of(&original), id);
    let verify = copy.tocsin(&["audit", "verify"]).ok();
    assert!(verify.starts_with("OK"), "{verify}");
    let export = copy
        .tocsin(&["audit", "export", "--action", "installation.renew"])
        .ok();
    assert!(
        export.contains("\"action\":\"installation.renew\"") && export.contains(&renewed),
        "{export}"
    );
}
