//! `tocsin accounts ...`: a platform account is connected with settings from the command
//! line or a file and a secret from standard input only; the platform's connector checks
//! both before anything is stored; the secret is stored sealed and never printed, logged
//! or audited. `tocsin serve` connects stored accounts at start and names one whose
//! secret does not open with its key; `rotate-key` re-seals every secret in one go.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{add_user, Workspace};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
pub(crate) const TOKEN: &str = "123456789:canary-cli-bot-token";

fn add_telegram(ws: &Workspace, env: &[(&str, &str)], handle: &str) -> String {
    add_telegram_in(ws, env, handle, &[]).ok()
}

/// Adds a Telegram account `handle` in `groups`, unchecked (its platform is "down").
pub(crate) fn add_telegram_in(
    ws: &Workspace,
    env: &[(&str, &str)],
    handle: &str,
    groups: &[&str],
) -> crate::support::Run {
    ws.write(
        "tg.toml",
        "chat_id = \"-1001234567890\"\nlink_preview = false\n",
    );
    ws.tocsin_input(
        &[
            "accounts",
            "add",
            "--platform",
            "telegram",
            "--handle",
            handle,
            "--name",
            "County Health on Telegram",
            "--settings-file",
            "tg.toml",
            "--setting",
            "api_url=http://127.0.0.1:9",
            "--secret-stdin",
            // Nothing answers on port 9: the platform is "down".
            "--skip-check",
        ]
        .iter()
        .copied()
        .chain(groups.iter().flat_map(|g| ["--group", *g]))
        .collect::<Vec<_>>(),
        env,
        &format!("{TOKEN}\n"),
    )
}

#[test]
fn an_account_is_tried_against_its_platform_first_and_skip_check_stores_it_unchecked() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let args = [
        "accounts",
        "add",
        "--platform",
        "telegram",
        "--handle",
        "@down",
        "--name",
        "Down",
        "--setting",
        "chat_id=-1001234567890",
        "--setting",
        "api_url=http://127.0.0.1:9",
        "--secret-stdin",
    ];
    let out = ws.tocsin_input(&args, &env, &format!("{TOKEN}\n")).fails();
    assert!(
        out.contains("Telegram did not accept the account, so nothing was stored"),
        "{out}"
    );
    assert!(out.contains("cannot connect"), "{out}");
    assert!(!out.contains("canary-cli-bot-token"), "{out}");
    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("no accounts yet"), "{list}");

    let out = add_telegram(&ws, &env, "@down");
    assert!(out.contains("listed as unchecked"), "{out}");
    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(
        list.contains("unchecked (added with --skip-check)"),
        "{list}"
    );
    // Trying it again while the platform is still down keeps the mark.
    let out = ws.tocsin_env(&["accounts", "check", "1"], &env).fails();
    assert!(
        out.contains("Telegram did not accept the stored account"),
        "{out}"
    );
    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("unchecked"), "{list}");
}

#[test]
fn an_account_on_an_internal_address_is_refused_at_add_naming_the_host_unless_listed() {
    let ws = Workspace::with_library();
    // Nothing listed: loopback is refused, even with the check skipped.
    let env = [
        ("TOCSIN_SECRET_KEY", KEY),
        ("TOCSIN_SERVER__ALLOWED_PRIVATE_HOSTS", "[]"),
    ];
    let out = add_telegram_in(&ws, &env, "@internal", &[]).fails();
    assert!(out.contains("127.0.0.1"), "{out}");
    assert!(out.contains("loopback"), "{out}");
    assert!(out.contains("allowed_private_hosts"), "{out}");
    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("no accounts yet"), "{list}");
    // A name that resolves to loopback is refused the same way.
    let args = [
        "accounts",
        "add",
        "--platform",
        "telegram",
        "--handle",
        "@named",
        "--name",
        "Named",
        "--setting",
        "chat_id=-1001234567890",
        "--setting",
        "api_url=http://localhost:9",
        "--secret-stdin",
        "--skip-check",
    ];
    let out = ws.tocsin_input(&args, &env, &format!("{TOKEN}\n")).fails();
    assert!(out.contains("localhost resolves to"), "{out}");

    // Listed, it is stored (the check skipped: nothing answers on port 9).
    let listed = [("TOCSIN_SECRET_KEY", KEY)];
    add_telegram(&ws, &listed, "@internal");
}

/// Every byte the data directory holds, as text (lossy): database, WAL, key files.
fn data_dir_bytes(ws: &Workspace) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(ws.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
    out
}

#[test]
fn an_account_is_added_with_its_secret_from_stdin_and_the_secret_never_shows() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let out = add_telegram(&ws, &env, "@county_health");
    assert!(
        out.contains("added account 1: telegram @county_health"),
        "{out}"
    );
    assert!(out.contains("secret sealed"), "{out}");

    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("@county_health"), "{list}");
    assert!(list.contains("connected"), "{list}");
    assert!(list.contains("stored, opens"), "{list}");
    // Without the key the list still works; it cannot say whether the secret opens.
    let list = ws.tocsin(&["accounts", "list"]).ok();
    assert!(list.contains("stored") && !list.contains("opens"), "{list}");

    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(export.contains("\"action\":\"account.add\""), "{export}");
    for text in [&out, &list, &export, &data_dir_bytes(&ws)] {
        assert!(!text.contains("canary-cli-bot-token"), "{text}");
    }
    // A new token replaces the old one, from standard input only.
    let out = ws
        .tocsin_env(&["accounts", "replace-secret", "1"], &env)
        .fails();
    assert!(out.contains("--secret-stdin"), "{out}");
    let out = ws
        .tocsin_input(
            &["accounts", "replace-secret", "1", "--secret-stdin"],
            &env,
            "not-a-bot-token\n",
        )
        .fails();
    assert!(
        out.contains("bot token") && !out.contains("not-a-bot-token"),
        "{out}"
    );
    // The new secret is tried against the platform first: down here, so it is refused...
    let out = ws
        .tocsin_input(
            &["accounts", "replace-secret", "1", "--secret-stdin"],
            &env,
            "123456789:canary-cli-new-token\n",
        )
        .fails();
    assert!(out.contains("did not accept"), "{out}");
    assert!(!out.contains("canary-cli-new-token"), "{out}");
    // ...unless the check is skipped: then it is stored, and the account unchecked.
    let out = ws
        .tocsin_input(
            &[
                "accounts",
                "replace-secret",
                "1",
                "--secret-stdin",
                "--skip-check",
            ],
            &env,
            "123456789:canary-cli-new-token\n",
        )
        .ok();
    assert!(out.contains("secret replaced and sealed"), "{out}");
    assert!(out.contains("listed as unchecked"), "{out}");
    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("stored, opens"), "{list}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(export.contains("account.secret_replace"), "{export}");
    for text in [&out, &list, &export, &data_dir_bytes(&ws)] {
        assert!(!text.contains("canary-cli-new-token"), "{text}");
    }

    let platforms = ws.tocsin(&["accounts", "platforms"]).ok();
    assert!(
        platforms.contains("telegram (Telegram): secret: bot token"),
        "{platforms}"
    );
    assert!(platforms.contains("chat_id"), "{platforms}");
}

#[test]
fn groups_are_given_at_add_changed_with_set_groups_and_listed() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let out = add_telegram_in(&ws, &env, "@county_health", &["public", "residents-sms"]).ok();
    assert!(out.contains("groups: public,residents-sms"), "{out}");
    let list = ws.tocsin(&["accounts", "list"]).ok();
    let row = list.lines().find(|l| l.contains("@county_health")).unwrap();
    assert!(row.contains("public,residents-sms"), "{list}");
    assert!(list.lines().next().unwrap().contains("groups"), "{list}");

    let out = ws
        .tocsin(&["accounts", "set-groups", "1", "staff", "eoc"])
        .ok();
    assert!(out.contains("groups: eoc,staff"), "{out}");
    let list = ws.tocsin(&["accounts", "list"]).ok();
    assert!(
        list.contains("eoc,staff") && !list.contains("residents-sms"),
        "{list}"
    );
    let out = ws.tocsin(&["accounts", "set-groups", "1"]).ok();
    assert!(out.contains("groups: -"), "{out}");

    // Bad names are refused before anything is stored, naming the name.
    let out = ws
        .tocsin(&["accounts", "set-groups", "1", "Staff Room"])
        .fails();
    assert!(
        out.contains("`Staff Room`") && out.contains("lowercase"),
        "{out}"
    );
    let out = add_telegram_in(&ws, &env, "@other", &["Bad_Name"]).fails();
    assert!(
        out.contains("--group") && out.contains("`Bad_Name`"),
        "{out}"
    );
    let out = ws
        .tocsin(&["accounts", "set-groups", "42", "staff"])
        .fails();
    assert!(out.contains("account 42"), "{out}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(export.contains("\"action\":\"account.groups\""), "{export}");

    // Languages: set, listed, refused by name when bad, audited.
    let out = ws
        .tocsin(&["accounts", "set-languages", "1", "en", "es", "--together"])
        .ok();
    assert!(
        out.contains("now posts en, es") && out.contains("one post"),
        "{out}"
    );
    let json = ws.tocsin(&["accounts", "list", "--json"]).ok();
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        listed[0]["languages"],
        serde_json::json!(["en", "es"]),
        "{json}"
    );
    assert_eq!(listed[0]["language_posts"], "together", "{json}");
    let out = ws
        .tocsin(&["accounts", "set-languages", "1", "en", "sp_MX"])
        .fails();
    assert!(out.contains("`sp_MX`"), "{out}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(
        export.contains("\"action\":\"account.languages\""),
        "{export}"
    );
}

#[test]
fn secrets_come_only_from_stdin_and_a_refused_account_stores_nothing() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let base = [
        "accounts",
        "add",
        "--platform",
        "telegram",
        "--handle",
        "@h",
        "--name",
        "H",
        "--setting",
        "chat_id=-100123",
    ];
    let out = ws.tocsin_env(&base, &env).fails();
    assert!(out.contains("--secret-stdin"), "{out}");
    let mut with_flag = base.to_vec();
    with_flag.extend(["--secret", TOKEN]);
    let out = ws.tocsin_env(&with_flag, &env).fails();
    assert!(out.contains("--secret"), "there is no such flag: {out}");

    let mut bad = base.to_vec();
    bad.extend(["--setting", "chat_id=not a chat", "--secret-stdin"]);
    let out = ws.tocsin_input(&bad, &env, TOKEN).fails();
    assert!(out.contains("chat_id"), "{out}");
    let mut typo = base.to_vec();
    typo.extend(["--setting", "chatid=1", "--secret-stdin"]);
    let out = ws.tocsin_input(&typo, &env, TOKEN).fails();
    assert!(out.contains("chatid"), "{out}");
    let mut cap = base.to_vec();
    cap[3] = "cap";
    cap.push("--secret-stdin");
    let out = ws.tocsin_input(&cap, &env, TOKEN).fails();
    assert!(out.contains("telegram"), "lists the platforms: {out}");
    let mut empty = base.to_vec();
    empty.push("--secret-stdin");
    let out = ws.tocsin_input(&empty, &env, "\n").fails();
    assert!(out.contains("no secret"), "{out}");

    let list = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(list.contains("no accounts yet"), "{list}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(!export.contains("account.add"), "{export}");
    assert!(!export.contains("canary"), "{export}");
}

#[test]
fn rotate_key_reseals_account_and_second_factor_secrets_and_says_what_to_change() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    add_telegram(&ws, &env, "@a");
    add_user(&ws, KEY, "dana", "drafter", "correct horse battery 42");

    let out = ws.tocsin_env(&["accounts", "rotate-key"], &env).fails();
    assert!(out.contains("TOCSIN_NEW_SECRET_KEY"), "{out}");
    let out = ws
        .tocsin_env(
            &["accounts", "rotate-key"],
            &[("TOCSIN_SECRET_KEY", KEY), ("TOCSIN_NEW_SECRET_KEY", KEY)],
        )
        .fails();
    assert!(out.contains("key in use"), "{out}");

    let out = ws
        .tocsin_env(
            &["accounts", "rotate-key"],
            &[
                ("TOCSIN_SECRET_KEY", KEY),
                ("TOCSIN_NEW_SECRET_KEY", NEW_KEY),
            ],
        )
        .ok();
    assert!(
        out.contains("Re-sealed 1 account secrets and 1 second-factor secrets"),
        "{out}"
    );
    assert!(out.contains("set TOCSIN_SECRET_KEY to"), "{out}");
    assert!(
        !out.contains(NEW_KEY) && !out.contains(KEY),
        "no key printed: {out}"
    );

    let old = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(old.contains("DOES NOT OPEN"), "{old}");
    let new = ws
        .tocsin_env(&["accounts", "list"], &[("TOCSIN_SECRET_KEY", NEW_KEY)])
        .ok();
    assert!(new.contains("stored, opens"), "{new}");
    // The old key can no longer rotate anything: nothing opens under it.
    let out = ws
        .tocsin_env(
            &["accounts", "rotate-key"],
            &[
                ("TOCSIN_SECRET_KEY", KEY),
                ("TOCSIN_NEW_SECRET_KEY", NEW_KEY),
            ],
        )
        .fails();
    assert!(out.contains("does not open"), "{out}");

    // And from a key file, mode 600.
    ws.write("next.key", KEY);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            ws.path().join("next.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let out = ws
        .tocsin_env(
            &["accounts", "rotate-key", "--new-key-file", "next.key"],
            &[("TOCSIN_SECRET_KEY", NEW_KEY)],
        )
        .ok();
    assert!(out.contains("the content of next.key"), "{out}");
    let back = ws.tocsin_env(&["accounts", "list"], &env).ok();
    assert!(back.contains("stored, opens"), "{back}");

    let out = ws.tocsin(&["accounts", "disable", "1"]).ok();
    assert!(out.contains("account 1 is disabled"), "{out}");
    assert!(ws
        .tocsin(&["accounts", "disable", "1"])
        .fails()
        .contains("disabled"));
    let list = ws.tocsin(&["accounts", "list"]).ok();
    assert!(list.contains("disabled"), "{list}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert_eq!(export.matches("secrets.rotate_key").count(), 2, "{export}");
    assert!(export.contains("account.disable"), "{export}");
}

/// Starts `tocsin serve` on a free port, reads its output until it listens, stops it.
fn serve_output(ws: &Workspace, key: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
    cmd.current_dir(ws.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("TOCSIN_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TOCSIN_SECRET_KEY", key);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = String::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if line.contains("is listening") {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let finished = child.wait_with_output().unwrap();
    out.push_str(&String::from_utf8_lossy(&finished.stderr));
    out
}

#[test]
fn serve_connects_stored_accounts_and_names_one_whose_secret_does_not_open() {
    let ws = Workspace::with_library();
    add_telegram(&ws, &[("TOCSIN_SECRET_KEY", KEY)], "@a");

    let out = serve_output(&ws, KEY);
    assert!(
        out.contains("Accounts: 1 connected, 0 not connected"),
        "{out}"
    );
    assert!(out.contains("is listening"), "{out}");

    let out = serve_output(&ws, NEW_KEY);
    assert!(
        out.contains("account 1 (telegram @a) is not connected: the stored secret does not open"),
        "{out}"
    );
    assert!(
        out.contains("Accounts: 0 connected, 1 not connected"),
        "{out}"
    );
    assert!(!out.contains("canary"), "{out}");
}

/// A webhook subscriber behind a private certificate authority, as `accounts add`
/// meets it: refused for good with the reason until `[tls] extra_ca_files` names the CA.
#[test]
fn a_private_ca_is_trusted_once_tls_extra_ca_files_names_it() {
    use tocsin_test_support::tls::{serve_https, PrivateCa, Validity};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["localhost"], Validity::Current).unwrap();
    let addr = runtime.block_on(serve_https(&leaf)).unwrap();
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let url = format!("url=https://localhost:{}/hooks/alerts", addr.port());
    let args = [
        "accounts",
        "add",
        "--platform",
        "webhook",
        "--handle",
        "partner-hook",
        "--name",
        "Partner hook",
        "--setting",
        &url,
        "--secret-stdin",
    ];
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
    let out = ws.tocsin_input(&args, &env, secret).fails();
    assert!(
        out.contains("certificate was refused")
            && out.contains("unknown certificate authority")
            && out.contains("refused:"),
        "a permanent refusal with its reason: {out}"
    );

    // The setting, given here in the environment (`[tls] extra_ca_files` in the file).
    let ca_files = format!("[{:?}]", ca.ca_file.display().to_string());
    let with_ca = [
        ("TOCSIN_SECRET_KEY", KEY),
        ("TOCSIN_TLS__EXTRA_CA_FILES", ca_files.as_str()),
    ];
    let out = ws.tocsin_input(&args, &with_ca, secret).ok();
    assert!(
        out.contains("added account 1: webhook partner-hook"),
        "{out}"
    );

    let missing = [
        ("TOCSIN_SECRET_KEY", KEY),
        ("TOCSIN_TLS__EXTRA_CA_FILES", "[\"missing-ca.pem\"]"),
    ];
    let out = ws.tocsin_input(&args, &missing, secret).fails();
    assert!(
        out.contains("[tls] extra_ca_files") && out.contains("missing-ca.pem"),
        "{out}"
    );
}
