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

/// An upgrade across nodes: a newer release migrates the database while this release's
/// node runs on it. The node notices within `[server] schema_check_seconds`, stops as on
/// SIGTERM, says which release to start, and exits 75; a node of this release started
/// again refuses the database.
#[test]
fn a_running_node_stops_when_a_newer_release_migrates_its_database() {
    let ws = workspace_with_release_0_1_database();
    ws.tocsin(&["migrate"]).ok();
    // The sealing key release 0.1's fixture was made with (scripts/make_release_fixture.sh).
    let mut node = ws.serve(&[
        (
            "TOCSIN_SECRET_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("TOCSIN_SERVER__SCHEMA_CHECK_SECONDS", "1"),
    ]);
    let ready = reqwest::blocking::get(node.url("/readyz")).unwrap();
    assert_eq!(ready.status(), 200, "{}", node.output());
    assert_eq!(
        node.wait_exit(std::time::Duration::from_secs(3)),
        None,
        "the node stopped while its schema was current:\n{}",
        node.output()
    );

    let db = ws.path().join("data/tocsin.db");
    assert!(
        mark_as_written_by_a_newer_release(&db),
        "could not mark the database as newer"
    );
    let status = node
        .wait_exit(std::time::Duration::from_secs(60))
        .unwrap_or_else(|| {
            panic!(
                "the node kept running on a newer schema:\n{}",
                node.output()
            )
        });
    assert_eq!(status.code(), Some(75), "{}", node.output());
    let out = node.output();
    assert!(out.contains("upgraded to schema version 999"), "{out}");
    assert!(out.contains("Start the new release"), "{out}");

    let again = ws
        .tocsin_env(
            &["serve", "--listen", "127.0.0.1:0"],
            &[(
                "TOCSIN_SECRET_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            )],
        )
        .fails();
    assert!(again.contains("newer") && again.contains("999"), "{again}");
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

#[test]
fn doctor_names_a_broken_config_and_fails() {
    let ws = Workspace::with_library();
    ws.write("tocsin.toml", "[server]\nlisten = 8080\n");
    let run = ws.tocsin(&["doctor"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    assert!(out.contains("FAIL config:"), "{out}");
    assert!(out.contains("tocsin.toml"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ws.tocsin(&["doctor", "--json"]).stdout()).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["checks"][0]["check"], "config");
    assert_eq!(json["checks"][0]["status"], "fail");
}

#[test]
fn doctor_fails_on_a_signing_key_others_can_read() {
    let ws = workspace_with_release_0_1_database();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        ws.path().join("data/audit-signing.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let run = ws.tocsin(&["doctor"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    assert!(out.contains("FAIL audit key:"), "{out}");
    assert!(out.contains("chmod 600"), "{out}");
    assert!(
        out.contains("WARN schema: version 8"),
        "the old schema is named: {out}"
    );
}

/// A forwarding proxy for one request at a time: adds `X-Forwarded-For` and
/// `X-Forwarded-Proto` (as nginx's usual configuration does) and passes the answer back.
fn forwarding_proxy(backend: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let backend = backend.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match client.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&head);
            let Some((request_line, rest)) = text.split_once("\r\n") else {
                continue;
            };
            let rest: String = rest
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .collect::<Vec<_>>()
                .join("\r\n");
            let forwarded = format!(
                "{request_line}\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n{rest}"
            );
            let Ok(mut upstream) = std::net::TcpStream::connect(&backend) else {
                continue;
            };
            let _ = upstream.write_all(forwarded.as_bytes());
            let mut answer = Vec::new();
            let _ = upstream.read_to_end(&mut answer);
            let _ = client.write_all(&answer);
        }
    });
    format!("http://{addr}")
}

#[test]
fn doctor_checks_the_public_url_and_what_the_proxy_forwards() {
    let ws = Workspace::with_library();
    let key = ws.tocsin(&["users", "generate-key"]).ok();
    let key = key
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 44)
        .unwrap_or_else(|| panic!("no key in {key}"))
        .to_string();
    let served = ws.serve(&[("TOCSIN_SECRET_KEY", key.as_str())]);
    let proxy = forwarding_proxy(served.base.clone());

    // Straight to the server: no proxy in between, and the clocks agree.
    let run = ws.tocsin_env(
        &["doctor"],
        &[
            ("TOCSIN_SECRET_KEY", key.as_str()),
            ("TOCSIN_SERVER__PUBLIC_URL", served.base.as_str()),
        ],
    );
    let out = run.stdout();
    assert_eq!(run.code(), 0, "{out}\n{}", run.stderr());
    for line in [
        "ok   config:",
        "ok   database:",
        "ok   schema:",
        "ok   audit key:",
        "ok   sealing key: from TOCSIN_SECRET_KEY",
        "ok   public url:",
        "ok   proxy headers: no proxy in between",
        "ok   clock:",
        "ok   disk:",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }

    // Through a proxy whose address the server does not trust: every client would look
    // like the proxy.
    let run = ws.tocsin_env(
        &["doctor", "--json"],
        &[
            ("TOCSIN_SECRET_KEY", key.as_str()),
            ("TOCSIN_SERVER__PUBLIC_URL", proxy.as_str()),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let proxy_check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "proxy headers")
        .unwrap();
    assert_eq!(proxy_check["status"], "fail", "{json}");
    assert!(
        proxy_check["detail"]
            .as_str()
            .unwrap()
            .contains("trusted_proxies"),
        "{json}"
    );
}

/// The `[tls] extra_ca_files` setting for `files`, as the environment gives it.
fn extra_ca_files(files: &[&std::path::Path]) -> String {
    serde_json::to_string(
        &files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// The findings of `doctor --json` whose check is `name`.
fn findings<'a>(json: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == name)
        .collect()
}

#[test]
fn doctor_counts_the_trusted_roots_and_a_good_ca_file_passes_and_an_expired_one_is_named() {
    use tocsin_test_support::tls::{PrivateCa, Validity};
    let ws = Workspace::with_library();
    let mut ca = PrivateCa::new().unwrap();
    // A certificate that expired in 2021, given as a CA file.
    let expired = ca.issue(&["old-ca.example"], Validity::Expired).unwrap();
    let files = extra_ca_files(&[&ca.ca_file, &expired.cert_file]);
    let env = [("TOCSIN_TLS__EXTRA_CA_FILES", files.as_str())];

    let run = ws.tocsin_env(&["doctor", "--json"], &env);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let trust = findings(&json, "tls trust");
    assert_eq!(trust.len(), 1, "{json}");
    assert_eq!(trust[0]["status"], "ok");
    assert!(
        trust[0]["detail"]
            .as_str()
            .unwrap()
            .contains("2 extra CA file(s)"),
        "{json}"
    );
    assert!(
        json["tls"]["bundled_roots"].as_u64().unwrap() > 100,
        "{json}"
    );
    assert!(json["tls"]["system_roots"].is_u64(), "{json}");

    let files = findings(&json, "tls ca file");
    assert_eq!(files.len(), 2, "{json}");
    let good = files[0];
    assert_eq!(good["status"], "ok", "{good}");
    let detail = good["detail"].as_str().unwrap();
    assert!(
        detail.contains(&ca.ca_file.display().to_string()) && detail.contains("1 certificate(s)"),
        "{detail}"
    );
    assert_eq!(json["tls"]["extra_ca_files"][0]["certificates"], 1);
    assert!(json["tls"]["extra_ca_files"][0]["error"].is_null());
    assert_eq!(
        json["tls"]["extra_ca_files"][0]["expiring"],
        serde_json::json!([])
    );

    let old = files[1];
    assert_eq!(old["status"], "warn", "{old}");
    let detail = old["detail"].as_str().unwrap();
    assert!(
        detail.contains("CN=old-ca.example EXPIRED on 2021-01-01"),
        "{detail}"
    );
    let expiring = &json["tls"]["extra_ca_files"][1]["expiring"][0];
    assert_eq!(expiring["expired"], true, "{json}");
    assert!(expiring["not_after"]
        .as_str()
        .unwrap()
        .starts_with("2021-01-01"));
    // Warnings alone do not fail doctor: no check failed here.
    assert!(
        findings(&json, "tls ca file")
            .iter()
            .all(|f| f["status"] != "fail"),
        "{json}"
    );

    let text = ws.tocsin_env(&["doctor"], &env).stdout();
    assert!(text.contains("ok   tls trust:"), "{text}");
    assert!(text.contains("WARN tls ca file:"), "{text}");
}

#[test]
fn doctor_fails_on_a_ca_file_that_is_not_pem_or_is_missing_naming_the_path() {
    let ws = Workspace::with_library();
    ws.write("certs/garbage.pem", "this is not a certificate\n");
    let garbage = ws.path().join("certs/garbage.pem");
    let missing = ws.path().join("certs/missing.pem");
    let files = extra_ca_files(&[&garbage, &missing]);
    let env = [("TOCSIN_TLS__EXTRA_CA_FILES", files.as_str())];

    let run = ws.tocsin_env(&["doctor"], &env);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    let failed: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("FAIL tls ca file:"))
        .collect();
    assert_eq!(failed.len(), 2, "{out}");
    assert!(
        failed[0].contains(&garbage.display().to_string()) && failed[0].contains("no usable PEM"),
        "{out}"
    );
    assert!(
        failed[1].contains(&missing.display().to_string()) && failed[1].contains("cannot read"),
        "{out}"
    );

    let run = ws.tocsin_env(&["doctor", "--json"], &env);
    assert_eq!(run.code(), 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(json["ok"], false);
    let report = &json["tls"]["extra_ca_files"][0];
    assert_eq!(report["path"], garbage.display().to_string());
    assert!(report["error"].as_str().unwrap().contains("garbage.pem"));
    assert_eq!(report["certificates"], 0);
}
