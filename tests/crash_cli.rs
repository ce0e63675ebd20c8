//! `tocsin serve` killed with SIGKILL in the middle of a 500-account fan-out, then started
//! again on the same PostgreSQL database: every account ends with exactly one post at the
//! platform, every delivery is recorded `sent` once, and the audit chain verifies.
//!
//! The platform is a fake Mastodon in the test process (slow, so the kill lands while
//! sends are in flight); Mastodon takes an `Idempotency-Key`, so a claim the dead process
//! held is sent again after its lease runs out and the platform answers with the post it
//! already made. The server is the real binary, its output in files printed on failure.

use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_app::accounts::{AccountVault, CredentialCheck, NewPlatformAccount};
use tocsin_app::people::{totp, Caller, PasswordCost, People, PeopleConfig, Role, SealingKey};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_domain::library::Library;
use tocsin_domain::preapproval::PlaybookApproval;
use tocsin_domain::Platform;
use tocsin_store::{AuditFilter, DeliveryState, Store};
use tocsin_test_support::db::{test_settings, Backend, TestDb};
use tocsin_test_support::{mastodon, Method};

use crate::support::repo_root;

const OPERATOR: Caller<'static> = Caller::Operator("cli:test");
const ACCOUNTS: usize = 500;
/// How long the story waits for anything (a 2-core machine shared with compilers).
const PATIENCE: Duration = Duration::from_secs(180);

fn password_of(name: &str) -> String {
    format!("crash-pass-{name}-4b1e")
}

/// A `tocsin serve` child process with its config, stdout and stderr in a directory.
struct ServeProcess {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl ServeProcess {
    /// Starts `tocsin --config CONFIG serve --listen 127.0.0.1:0` and waits for its address.
    fn start(name: &str, dir: &Path, config: &Path, key: &str) -> (ServeProcess, String) {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TOCSIN_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .current_dir(dir)
            .env("TOCSIN_SECRET_KEY", key)
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut process = ServeProcess {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        };
        let deadline = Instant::now() + PATIENCE;
        let base = loop {
            let out = std::fs::read_to_string(&process.stdout).unwrap_or_default();
            if let Some(rest) = out.split("Tocsin is listening: open ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                break url.trim_end_matches('/').to_string();
            }
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("{name} exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "{name} never listened");
            std::thread::sleep(Duration::from_millis(50));
        };
        (process, base)
    }

    /// SIGKILL (`Child::kill` on Unix), and wait for it to be gone.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "{} was killed: {status}", self.name);
    }

    fn output(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            self.name,
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.output());
        }
    }
}

/// The repository's `tocsin.toml` with this test's paths, database and fan-out settings.
fn write_config(dir: &Path, db: &TestDb) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("tocsin.toml")).unwrap();
    let mut config: toml::Table = text.parse().unwrap();
    let path = |p: &Path| toml::Value::String(p.display().to_string());
    config.insert("data_dir".into(), path(db.dir.path()));
    config.insert("playbooks_dir".into(), path(&repo_root().join("playbooks")));
    config.insert("templates_dir".into(), path(&repo_root().join("templates")));
    let section = |config: &mut toml::Table, name: &str, pairs: Vec<(&str, toml::Value)>| {
        let table = config
            .entry(name.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap();
        for (k, v) in pairs {
            table.insert(k.to_string(), v);
        }
    };
    section(
        &mut config,
        "database",
        vec![("url", toml::Value::String(db.url.clone()))],
    );
    // The same audit settings as the test's own store: one chain, one origin.
    let audit = test_settings();
    section(
        &mut config,
        "audit",
        vec![
            ("origin", toml::Value::String(audit.origin)),
            (
                "checkpoint_every_entries",
                toml::Value::Integer(i64::try_from(audit.checkpoint_every_entries).unwrap()),
            ),
        ],
    );
    section(
        &mut config,
        "log",
        vec![("format", toml::Value::String("json".into()))],
    );
    // The fake platform listens on loopback, which Tocsin sends to only when listed.
    section(
        &mut config,
        "server",
        vec![(
            "allowed_private_hosts",
            toml::Value::Array(vec![toml::Value::String("127.0.0.1".into())]),
        )],
    );
    // A short lease, so the restarted server takes the dead one's claims over soon; 20
    // sends at a time, so the fan-out lasts seconds against a 150 ms platform.
    section(
        &mut config,
        "dispatch",
        vec![
            ("lease_seconds", toml::Value::Integer(4)),
            ("max_in_flight", toml::Value::Integer(20)),
        ],
    );
    let file = dir.join("tocsin.toml");
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    file
}

/// A JSON API client with a cookie jar.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn sign_in(base: &str, name: &str, secret: &str) -> Api {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let api = Api {
            http,
            base: base.to_string(),
        };
        let code = totp::code_from_base32(secret, chrono::Utc::now()).unwrap();
        api.post(
            "/api/session",
            json!({"name": name, "password": password_of(name), "code": code}),
        )
        .await;
        api
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// A boil-water alert drafted by `drafter` with its form's examples, submitted, and
/// approved by `approver`; returns the message id.
async fn publish(drafter: &Api, approver: &Api) -> i64 {
    let detail = drafter.get("/api/playbooks/boil-water").await;
    let values: serde_json::Map<String, Value> = detail["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let value = v["example"].as_str().or(v["default"].as_str())?;
            Some((v["name"].as_str().unwrap().to_string(), json!(value)))
        })
        .collect();
    let draft = drafter
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values, "exercise": false}),
        )
        .await;
    let id = draft["id"].as_i64().unwrap();
    let submitted = drafter
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await;
    let published = approver
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await;
    published["message_id"].as_i64().unwrap()
}

/// Every playbook approved as it is, two people with a second factor, and 500 Mastodon
/// accounts on the fake, each with its token sealed under `key`. Returns the TOTP secrets
/// of the drafter and the approver.
async fn prepare(store: &Store, key: &Arc<SealingKey>, base_url: &str) -> (String, String) {
    let library = Library::load(
        &repo_root().join("playbooks"),
        &repo_root().join("templates"),
    )
    .unwrap();
    for p in library.playbooks() {
        let hash = library.content_hash(&p.id).unwrap();
        store
            .playbooks()
            .record_approval(&PlaybookApproval {
                playbook_id: p.id.clone(),
                content_hash: hash,
                approved_by: "test reviewer".into(),
                approved_at: store.now(),
                note: None,
            })
            .await
            .unwrap();
    }
    let people = People::new(
        store.clone(),
        key.clone(),
        PeopleConfig {
            password_cost: PasswordCost::TESTS_ONLY,
            ..PeopleConfig::default()
        },
    )
    .unwrap();
    let mut secrets = Vec::new();
    for (name, role) in [("dana", Role::Drafter), ("alex", Role::Approver)] {
        let secret = tocsin_app::people::enrolment::add_and_enrol(
            &people,
            OPERATOR,
            name,
            role,
            password_of(name).into(),
        )
        .await
        .unwrap();
        secrets.push(secret.expose_secret().to_string());
    }
    let vault = AccountVault::new(key.clone(), Arc::new(SandboxLog::default()));
    for n in 0..ACCOUNTS {
        vault
            .add(
                store,
                "cli:test",
                &NewPlatformAccount {
                    platform: Platform::Mastodon,
                    handle: format!("@county{n}"),
                    display_name: format!("County {n}"),
                    settings: json!({"base_url": base_url}),
                    secret: Some(mastodon::TOKEN.into()),
                    groups: vec!["public".into()],
                },
                // 500 accounts on one slow fake: what is tested is the fan-out.
                CredentialCheck::Skip,
            )
            .await
            .unwrap();
    }
    let alex = secrets.pop().unwrap();
    let dana = secrets.pop().unwrap();
    (dana, alex)
}

fn count(states: &BTreeMap<i64, DeliveryState>, state: DeliveryState) -> usize {
    states.values().filter(|s| **s == state).count()
}

async fn states(store: &Store, message: i64) -> BTreeMap<i64, DeliveryState> {
    store
        .messages()
        .deliveries(message)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.account_id, d.state))
        .collect()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_500_account_fan_out_then_restart_posts_exactly_once_per_account() {
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let store = db.store.clone();
    let fake = mastodon::start().await.unwrap();
    fake.set_rate_limit_remaining(1_000_000);
    fake.faults()
        .plan(|p| p.latency = Duration::from_millis(150));
    let key = Arc::new(SealingKey::generate());
    let (dana_secret, alex_secret) = prepare(&store, &key, &fake.base_url).await;

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    let key_text = key.to_base64().expose_secret().to_string();
    let (mut first, base) = ServeProcess::start("first", dir.path(), &config, &key_text);
    let dana = Api::sign_in(&base, "dana", &dana_secret).await;
    let alex = Api::sign_in(&base, "alex", &alex_secret).await;
    let started = Instant::now();
    let message = publish(&dana, &alex).await;

    // Kill it once some deliveries are recorded and others are claimed and in flight.
    let mut at_kill = BTreeMap::new();
    wait_for("the fan-out to be under way", async || {
        at_kill = states(&store, message).await;
        count(&at_kill, DeliveryState::Sent) >= 40 && count(&at_kill, DeliveryState::Sending) > 0
    })
    .await;
    first.kill_9();
    let killed_at = started.elapsed();
    let after_kill = states(&store, message).await;
    assert_eq!(after_kill.len(), ACCOUNTS, "{}", first.output());
    let (sent_at_kill, held_at_kill) = (
        count(&after_kill, DeliveryState::Sent),
        count(&after_kill, DeliveryState::Sending),
    );
    assert!(
        sent_at_kill < ACCOUNTS && held_at_kill > 0,
        "the kill landed mid-fan-out: {sent_at_kill} sent, {held_at_kill} claimed"
    );
    let posts_at_kill = fake.statuses().len();

    let (second, _) = ServeProcess::start("second", dir.path(), &config, &key_text);
    let mut last = BTreeMap::new();
    wait_for("every delivery to be sent after the restart", async || {
        last = states(&store, message).await;
        count(&last, DeliveryState::Sent) == ACCOUNTS
    })
    .await;
    let settled_at = started.elapsed();

    // The platform: exactly one status per account (one per idempotency key), and the
    // keys are exactly the deliveries' keys.
    let deliveries = store.messages().deliveries(message).await.unwrap();
    let keys: BTreeSet<String> = deliveries
        .iter()
        .map(|d| d.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), ACCOUNTS);
    let statuses = fake.statuses();
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for s in &statuses {
        *per_key
            .entry(s.idempotency_key.clone().expect("sent with a key"))
            .or_default() += 1;
    }
    assert!(
        per_key.values().all(|n| *n == 1),
        "an account was posted to twice: {:?}",
        per_key.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert_eq!(
        per_key.keys().cloned().collect::<BTreeSet<_>>(),
        keys,
        "one status per delivery, none elsewhere"
    );
    assert!(deliveries.iter().all(|d| d.remote_id.is_some()));
    let posts_sent: Vec<String> = fake
        .faults()
        .requests_to(&Method::POST, "/api/v1/statuses")
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    let repeats = posts_sent.len() - BTreeSet::from_iter(&posts_sent).len();

    // The chain: one `sent` result per account, and it verifies end to end.
    let mut sent_by: BTreeMap<String, String> = BTreeMap::new();
    for e in store.audit().read(&AuditFilter::default()).await.unwrap() {
        let e = e.entry.event;
        if e.action == "delivery.result"
            && e.outcome.as_deref() == Some("sent")
            && e.subjects.get("message") == Some(&message.to_string())
        {
            let account = e.subjects["account"].clone();
            assert!(
                sent_by.insert(account.clone(), e.actor).is_none(),
                "account {account} recorded as sent twice"
            );
        }
    }
    assert_eq!(sent_by.len(), ACCOUNTS);
    match store.audit().verify_live(None).await.unwrap() {
        Ok(v) => assert!(v.entries > 1000, "{v:?}"),
        Err(b) => panic!("the audit chain does not verify: {b:?}"),
    }
    drop(second);
    let verify = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .current_dir(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && said.contains("verifies"),
        "tocsin audit verify: {said}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    eprintln!(
        "{ACCOUNTS} accounts: killed at {killed_at:?} with {sent_at_kill} recorded, \
         {held_at_kill} claimed and {posts_at_kill} posts at the platform; all sent at \
         {settled_at:?}; {repeats} claims sent again after the takeover, with the same Idempotency-Key"
    );
}
