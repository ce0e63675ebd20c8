//! Fan-out through the front door: the real `tocsin serve` binary, set up and driven only
//! through what an operator and staff use (the CLI, the HTTP API, the panel's websocket),
//! sending one approved message to N Mastodon accounts on fake servers in another
//! process; beside it, in the same run, the floor: a plain concurrent HTTP client posting
//! the same N statuses to the same fakes, all at once and K at a time (the faster counts).
//!
//! ```sh
//! cargo bench -p tocsin --bench front_door -- [--accounts N] [--runs R] [--servers S]
//!     [--latency-ms L] [--setup-concurrency C] [--max-in-flight M] [--floor-at-a-time K]
//!     [--perf FILE]
//!     [--server-log FILE]
//! ```
//!
//! Setup: the fakes are the fan-out bench's fleet (`fanout/fleet.rs`), here started as
//! this binary again with `--fakes-child`: S fake Mastodon servers (40 by default, each
//! its own port, so each its own host for Tocsin's per-host limit), answering every
//! request after L ms (100). A fresh data directory with SQLite; a sealing key from
//! `tocsin users generate-key`; the boil-water playbook approved with `tocsin playbooks
//! approve`; an admin, a drafter and an approver added with `tocsin users add` and
//! enrolled at the link it prints (their own password and second factor), signing in with
//! TOTP codes computed from their enrolment URI. `tocsin serve` then runs with `[dispatch] max_in_flight` set from the
//! environment (`TOCSIN_DISPATCH__MAX_IN_FLIGHT`, default max(N, 4096)), and the admin
//! adds the N accounts one `POST /api/accounts` at a time (C in flight).
//!
//! Each run: the floors first (N `POST /api/v1/statuses` from one pooled client, as
//! Tocsin's connectors share one: all N at once, then at most K, 1,000 by default, in
//! flight; on 2 cores 10,000 connections opened at once are slower than waves, so the
//! faster of the two is the floor), then Tocsin: the drafter creates and
//! submits a draft, and the clock runs from the approver's `POST /api/drafts/{id}/approve`
//! until the panel's websocket has carried a `delivered` event for every account (each
//! published after its result's commit), checked afterwards against `GET
//! /api/messages/{id}` and the fakes' own count. `--test` (what `cargo bench -- --test`
//! passes) runs 20 accounts on 4 fakes at 10 ms once, and judges nothing. `--perf FILE`
//! records the server with `perf record` during the runs only (not the setup);
//! `--server-log FILE` keeps the server's log (its level from `TOCSIN_LOG__LEVEL`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../../tocsin-dispatch/benches/fanout/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use futures::{SinkExt as _, StreamExt as _};
use reqwest::cookie::CookieStore as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_domain::Platform;
use totp_rs::TOTP;

use fleet::{Endpoint, FleetHandle};

struct Args {
    accounts: usize,
    runs: usize,
    servers: usize,
    latency_ms: u64,
    setup_concurrency: usize,
    floor_at_a_time: usize,
    max_in_flight: Option<usize>,
    perf: Option<String>,
    server_log: Option<PathBuf>,
    test: bool,
    fakes_child: bool,
}

fn args() -> Args {
    let mut a = Args {
        accounts: 1000,
        runs: 5,
        servers: 40,
        latency_ms: 100,
        setup_concurrency: 8,
        floor_at_a_time: 1000,
        max_in_flight: None,
        perf: None,
        server_log: None,
        test: false,
        fakes_child: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let mut takes_value = true;
        match argv[i].as_str() {
            "--test" => {
                a.test = true;
                takes_value = false;
            }
            "--fakes-child" => {
                a.fakes_child = true;
                takes_value = false;
            }
            "--accounts" => a.accounts = value.parse().expect("--accounts N"),
            "--runs" => a.runs = value.parse().expect("--runs R"),
            "--servers" => a.servers = value.parse().expect("--servers S"),
            "--latency-ms" => a.latency_ms = value.parse().expect("--latency-ms L"),
            "--setup-concurrency" => {
                a.setup_concurrency = value.parse().expect("--setup-concurrency C");
            }
            "--floor-at-a-time" => a.floor_at_a_time = value.parse().expect("--floor-at-a-time K"),
            "--max-in-flight" => a.max_in_flight = Some(value.parse().expect("--max-in-flight M")),
            "--perf" => a.perf = Some(value),
            "--server-log" => a.server_log = Some(PathBuf::from(value)),
            // `--platforms` is what the fleet passes its child; only Mastodon here.
            _ => takes_value = argv[i] == "--platforms",
        }
        i += if takes_value { 2 } else { 1 };
    }
    if a.test {
        a.accounts = 20;
        a.runs = 1;
        a.servers = 4;
        a.latency_ms = 10;
    }
    a
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.fakes_child {
        rt.block_on(fleet::serve_child(
            &[Platform::Mastodon],
            args.servers,
            Duration::from_millis(args.latency_ms),
        ));
        return;
    }
    rt.block_on(run(args));
}

/// User plus system CPU seconds of a process so far (`/proc/<pid>/stat`).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average.
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The `tocsin` binary with this data directory's config and sealing key.
struct Cli {
    config: PathBuf,
    key: String,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("TOCSIN_SECRET_KEY", &self.key);
        c
    }

    /// Runs a command to the end, feeding it `stdin`; its standard output.
    fn run(&self, args: &[&str], stdin: &str) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "tocsin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Enrols a person at their one-time link, as they would at `#/enrol/<token>`: takes the
/// new second factor, chooses the password, proves it with a code. Returns the otpauth URI.
async fn enrol(data_dir: &Path, key: &str, token: &str, password: &str) -> String {
    use secrecy::ExposeSecret as _;
    use tocsin_app::people::{People, PeopleConfig, SealingKey};
    let store = tocsin_store::Store::open(tocsin_store::StoreOptions::new(
        "sqlite://tocsin.db",
        data_dir,
    ))
    .await
    .unwrap();
    let key = Arc::new(SealingKey::from_base64(key).unwrap());
    let people = People::new(store.clone(), key, PeopleConfig::default()).unwrap();
    let start = people.begin_enrolment(token).await.unwrap();
    let uri = start.totp.otpauth_uri.expose_secret().to_string();
    // The previous step's code: the bench's first sign-in uses the current one.
    let code = tocsin_app::people::totp::code_from_base32(
        start.totp.secret_base32.expose_secret(),
        chrono::Utc::now() - chrono::Duration::seconds(30),
    )
    .unwrap();
    people
        .complete_enrolment(token, password.to_string().into(), &code)
        .await
        .unwrap();
    store.close().await;
    uri
}

/// `tocsin serve`, stopped when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// One person signed in to the API, with their cookie and second factor.
struct Api {
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
    name: String,
    password: String,
    totp: TOTP,
    /// The last TOTP step used: each code works once.
    last_step: tokio::sync::Mutex<u64>,
}

impl Api {
    fn new(base: &str, name: &str, password: &str, otpauth_uri: &str) -> Api {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Api {
            http: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .build()
                .unwrap(),
            jar,
            base: base.to_string(),
            name: name.to_string(),
            password: password.to_string(),
            totp: TOTP::from_url(otpauth_uri).unwrap(),
            last_step: tokio::sync::Mutex::new(0),
        }
    }

    /// A code from a TOTP step not used before (waiting for the next step if needed).
    async fn fresh_code(&self) -> String {
        let mut last = self.last_step.lock().await;
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let step = now / self.totp.step;
            if step > *last {
                *last = step;
                return self.totp.generate(now);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn sign_in(&self) {
        let code = self.fresh_code().await;
        let body = json!({ "name": self.name, "password": self.password, "code": code });
        let (status, answer) = self
            .send(reqwest::Method::POST, "/api/session", Some(body))
            .await;
        assert!(
            status.is_success(),
            "{} cannot sign in: {answer}",
            self.name
        );
    }

    /// Opens the re-authentication window admin changes need.
    async fn reauthenticate(&self) {
        let code = self.fresh_code().await;
        let body = json!({ "password": self.password, "code": code });
        let (status, answer) = self
            .send(
                reqwest::Method::POST,
                "/api/session/reauthenticate",
                Some(body),
            )
            .await;
        assert!(status.is_success(), "re-authentication failed: {answer}");
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// A request that must succeed; its answer.
    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// The session cookie, for the websocket upgrade.
    fn cookie(&self) -> String {
        let url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .and_then(|c| c.to_str().ok().map(str::to_string))
            .unwrap_or_default()
    }
}

/// What the panel's websocket carried.
enum PanelEvent {
    /// A delivery reached a final state for the first time this run.
    Settled {
        message_id: i64,
        delivered: bool,
        error: Option<String>,
    },
    /// The server told the panel it missed events.
    Resync,
}

/// Opens the panel's websocket as `api`'s user and forwards delivery outcomes.
async fn open_panel(addr: &str, api: &Api) -> tokio::sync::mpsc::UnboundedReceiver<PanelEvent> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Cookie", api.cookie().parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut write, mut read) = socket.split();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = read.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let forwarded = match event["type"].as_str() {
                Some("delivery") => match event["state"].as_str() {
                    Some(state @ ("delivered" | "failed")) => tx.send(PanelEvent::Settled {
                        message_id: event["message_id"].as_i64().unwrap_or(-1),
                        delivered: state == "delivered",
                        error: event["error"].as_str().map(str::to_string),
                    }),
                    _ => Ok(()),
                },
                Some("resync") => tx.send(PanelEvent::Resync),
                _ => Ok(()),
            };
            if forwarded.is_err() {
                break;
            }
        }
        let _ = write.close().await;
    });
    rx
}

/// The floor: `accounts` statuses posted by one pooled client (configured as Tocsin's
/// connectors' client is), all at once or `at_a_time` at most in flight, each answer read
/// and parsed. Returns the time taken.
async fn floor(
    client: &reqwest::Client,
    endpoints: &[Endpoint],
    accounts: usize,
    text: &str,
    key: &str,
    at_a_time: Option<usize>,
) -> Duration {
    let gate = Arc::new(tokio::sync::Semaphore::new(
        at_a_time.unwrap_or(accounts).max(1),
    ));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let endpoint = &endpoints[i % endpoints.len()];
        let url = format!(
            "{}/api/v1/statuses",
            endpoint.settings["base_url"].as_str().unwrap()
        );
        let request = client
            .post(url)
            .bearer_auth(&endpoint.secret)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("Idempotency-Key", format!("{key}-{i}"))
            .json(&json!({ "status": text, "visibility": "public" }));
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await.unwrap();
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.bytes().await.unwrap();
            let status_json: Value = serde_json::from_slice(&body).unwrap();
            assert!(
                status.is_success() && status_json["id"].is_string(),
                "{status}"
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

/// The draft's values: every variable's example.
fn example_values(playbook: &Value) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for v in playbook["variables"].as_array().unwrap() {
        let example = match (&v["example"], &v["default"]) {
            (Value::String(s), _) | (Value::Null, Value::String(s)) => s.clone(),
            (Value::Number(n), _) | (Value::Null, Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        values.insert(v["name"].as_str().unwrap().to_string(), example);
    }
    values
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

async fn run(args: Args) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut fakes = FleetHandle::spawn("mastodon", args.servers, args.latency_ms)
        .await
        .unwrap();
    let endpoints = fakes.endpoints().to_vec();
    let fakes_pid = fakes.child_pid().map(|p| p.to_string()).unwrap();

    // A data directory, a sealing key, the playbook approved, three people.
    let dir = tempfile::tempdir().unwrap();
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let config = dir.path().join("tocsin.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nplaybooks_dir = {:?}\ntemplates_dir = {:?}\n\n[database]\nurl = \"sqlite://tocsin.db\"\n\n[log]\nlevel = \"warn\"\n\n[server]\nlisten = \"{addr}\"\n# The fake platforms run on loopback.\nallowed_private_hosts = [\"127.0.0.1\"]\n",
            dir.path().display().to_string(),
            repo.join("playbooks").display().to_string(),
            repo.join("templates").display().to_string(),
        ),
    )
    .unwrap();
    let mut cli = Cli {
        config,
        key: String::new(),
    };
    cli.key = cli.run(&["users", "generate-key"], "").trim().to_string();
    cli.run(
        &[
            "playbooks",
            "approve",
            "boil-water",
            "--by",
            "Dr. Rivera, Medical Director",
        ],
        "",
    );
    let mut people = BTreeMap::new();
    for (name, role) in [
        ("avery", "admin"),
        ("dana", "drafter"),
        ("alex", "approver"),
    ] {
        let password = format!("front door bench {name} 7d2f 9a41");
        let printed = cli.run(&["users", "add", name, "--role", role], "");
        let token = printed
            .lines()
            .find_map(|l| l.trim().split_once("/#/enrol/").map(|(_, t)| t.to_string()))
            .unwrap_or_else(|| panic!("no enrolment link in: {printed}"));
        let uri = enrol(dir.path(), &cli.key, &token, &password).await;
        people.insert(name, (password, uri));
    }

    // The server, as an operator sizes it for N accounts.
    let max_in_flight = args.max_in_flight.unwrap_or(args.accounts.max(4096));
    let log = args
        .server_log
        .clone()
        .unwrap_or_else(|| dir.path().join("serve.log"));
    std::fs::write(&log, "").unwrap();
    let append = |path: &Path| std::fs::OpenOptions::new().append(true).open(path).unwrap();
    let server = Server {
        child: cli
            .command(&["serve"])
            .env("TOCSIN_DISPATCH__MAX_IN_FLIGHT", max_in_flight.to_string())
            .stdin(Stdio::null())
            .stdout(append(&log))
            .stderr(append(&log))
            .spawn()
            .unwrap(),
        log,
    };
    let server_pid = server.child.id().to_string();
    let base = format!("http://{addr}");
    let probe = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = probe.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "tocsin serve was not ready within 60 s:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let api = |name: &str| {
        let (password, uri) = &people[name];
        Api::new(&base, name, password, uri)
    };
    let (admin, drafter, approver) = (api("avery"), api("dana"), api("alex"));
    admin.sign_in().await;
    drafter.sign_in().await;
    approver.sign_in().await;

    // N Mastodon accounts on the fakes, one POST /api/accounts each.
    let setup_started = Instant::now();
    let admin = Arc::new(admin);
    let added: Vec<i64> = futures::stream::iter(0..args.accounts)
        .map(|i| {
            let admin = admin.clone();
            let endpoint = endpoints[i % endpoints.len()].clone();
            async move {
                let body = json!({
                    "platform": "mastodon",
                    "handle": format!("@health{i}@{}", endpoint.host.trim_start_matches("http://")),
                    "display_name": format!("County health {i}"),
                    "settings": { "base_url": endpoint.settings["base_url"] },
                    "secret": endpoint.secret,
                    "groups": ["public"],
                });
                loop {
                    let (status, answer) = admin
                        .send(reqwest::Method::POST, "/api/accounts", Some(body.clone()))
                        .await;
                    if status.is_success() {
                        assert_eq!(answer["connected"], json!(true), "{answer}");
                        return answer["id"].as_i64().unwrap();
                    }
                    assert_eq!(
                        answer["error"]["code"],
                        json!("reauthentication_needed"),
                        "adding account {i}: {status} {answer}"
                    );
                    admin.reauthenticate().await;
                }
            }
        })
        .buffer_unordered(args.setup_concurrency.max(1))
        .collect()
        .await;
    let setup = setup_started.elapsed();
    assert_eq!(added.len(), args.accounts);
    println!(
        "front_door setup: {} Mastodon accounts added through POST /api/accounts ({} at a time) in {:.1} s, {:.0} per second",
        args.accounts,
        args.setup_concurrency,
        setup.as_secs_f64(),
        args.accounts as f64 / setup.as_secs_f64()
    );

    let playbook = drafter
        .ok(reqwest::Method::GET, "/api/playbooks/boil-water", None)
        .await;
    let step = playbook["steps"][0]["id"].as_str().unwrap().to_string();
    let values = example_values(&playbook);
    let mut panel = open_panel(&addr, &approver).await;
    // Tocsin's connectors share one client with these settings (`HttpClient::new`).
    let floor_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    let perf = args.perf.as_ref().map(|file| {
        let child = Command::new("perf")
            .args([
                "record",
                "-F",
                "499",
                "--call-graph",
                "dwarf",
                "-o",
                file,
                "-p",
                &server_pid,
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        child
    });
    let (mut floors, mut tocsins) = (Vec::new(), Vec::new());
    let (mut floors_all, mut floors_paced) = (Vec::new(), Vec::new());
    let (mut server_cpu, mut fakes_cpu, mut floor_cpu) = (0.0, 0.0, 0.0);
    let mut loads = Vec::new();
    for run in 0..args.runs {
        // A submitted draft, outside the clock.
        let draft = drafter
            .ok(
                reqwest::Method::POST,
                "/api/drafts",
                Some(json!({ "playbook": "boil-water", "step": step, "values": values, "exercise": false })),
            )
            .await;
        let draft_id = draft["id"].as_i64().unwrap();
        drafter
            .ok(
                reqwest::Method::POST,
                &format!("/api/drafts/{draft_id}/submit"),
                None,
            )
            .await;
        let draft = approver
            .ok(
                reqwest::Method::GET,
                &format!("/api/drafts/{draft_id}"),
                None,
            )
            .await;
        let hash = draft["hash"].as_str().unwrap().to_string();
        let text = draft["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["target"] == "mastodon" || v["platform"] == "mastodon")
            .and_then(|v| v["text"].as_str())
            .unwrap()
            .to_string();

        loads.push(load());
        let cpu = cpu_seconds("self");
        let all_at_once = floor(
            &floor_client,
            &endpoints,
            args.accounts,
            &text,
            &format!("floor-{run}"),
            None,
        )
        .await;
        floor_cpu += cpu_seconds("self") - cpu;
        let paced = floor(
            &floor_client,
            &endpoints,
            args.accounts,
            &text,
            &format!("paced-{run}"),
            Some(args.floor_at_a_time),
        )
        .await;
        // The floor is the faster way a plain client has of doing it.
        let floor_time = all_at_once.min(paced);
        floors_all.push(all_at_once);
        floors_paced.push(paced);
        floors.push(floor_time);

        let cpu = (cpu_seconds(&server_pid), cpu_seconds(&fakes_pid));
        let started = Instant::now();
        let approved = approver
            .ok(
                reqwest::Method::POST,
                &format!("/api/drafts/{draft_id}/approve"),
                Some(json!({ "reviewed_hash": hash })),
            )
            .await;
        let message_id = approved["message_id"].as_i64().unwrap();
        let answered = started.elapsed();
        let mut first_settled = None;
        let mut settled: BTreeMap<i64, usize> = BTreeMap::new();
        let mut resynced = false;
        while settled.get(&message_id).copied().unwrap_or(0) < args.accounts && !resynced {
            match tokio::time::timeout(Duration::from_secs(120), panel.recv()).await {
                Ok(Some(PanelEvent::Settled {
                    message_id: m,
                    delivered,
                    error,
                })) => {
                    assert!(delivered, "run {run}: a delivery failed: {error:?}");
                    *settled.entry(m).or_default() += 1;
                    first_settled.get_or_insert_with(|| started.elapsed());
                }
                Ok(Some(PanelEvent::Resync)) => resynced = true,
                Ok(None) => panic!("the panel's websocket closed"),
                Err(_) => panic!(
                    "run {run}: {} of {} delivered after 120 s:\n{}",
                    settled.get(&message_id).copied().unwrap_or(0),
                    args.accounts,
                    server.log_tail()
                ),
            }
        }
        let detail_path = format!("/api/messages/{message_id}");
        if resynced {
            // The panel fell behind: it reads the message over HTTP, as the panel does.
            eprintln!("run {run}: the panel was told to resync; polling the message");
            loop {
                let detail = approver.ok(reqwest::Method::GET, &detail_path, None).await;
                let delivered = detail["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| d["state"] == "delivered")
                    .count();
                if delivered == args.accounts {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let tocsin_time = started.elapsed();
        server_cpu += cpu_seconds(&server_pid) - cpu.0;
        fakes_cpu += cpu_seconds(&fakes_pid) - cpu.1;
        tocsins.push(tocsin_time);

        let detail = approver.ok(reqwest::Method::GET, &detail_path, None).await;
        let states: BTreeSet<&str> = detail["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["state"].as_str())
            .collect();
        assert_eq!(
            (
                detail["deliveries"].as_array().unwrap().len(),
                states.into_iter().collect::<Vec<_>>()
            ),
            (args.accounts, vec!["delivered"]),
            "run {run}: every account delivered once"
        );
        eprintln!(
            "run {run}: floor {:.3} s (all at once {:.3} s, {} at a time {:.3} s), Tocsin {:.3} s ({:.2}x; approval answered after {:.0} ms, first delivered at {:.0} ms), load {:.1}",
            floor_time.as_secs_f64(),
            all_at_once.as_secs_f64(),
            args.floor_at_a_time,
            paced.as_secs_f64(),
            tocsin_time.as_secs_f64(),
            tocsin_time.as_secs_f64() / floor_time.as_secs_f64(),
            answered.as_secs_f64() * 1e3,
            first_settled.unwrap_or_default().as_secs_f64() * 1e3,
            loads[run]
        );
    }
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    let posts = fakes.posts().await.unwrap();
    assert_eq!(
        posts,
        3 * args.accounts * args.runs,
        "one post per account per run, from each floor and from Tocsin"
    );

    let (floor_m, tocsin_m) = (median(&floors), median(&tocsins));
    let ratio = tocsin_m.as_secs_f64() / floor_m.as_secs_f64();
    let runs = args.runs.max(1) as f64;
    println!(
        "front_door floors: all at once median {:.3} s, {} at a time median {:.3} s",
        median(&floors_all).as_secs_f64(),
        args.floor_at_a_time,
        median(&floors_paced).as_secs_f64()
    );
    println!(
        "front_door accounts={} servers={} latency={}ms runs={} max_in_flight={}: floor median {:.3} s (min {:.3}), Tocsin median {:.3} s (min {:.3}), ratio {:.2}x; load {:.1}-{:.1}",
        args.accounts,
        endpoints.len(),
        args.latency_ms,
        args.runs,
        max_in_flight,
        floor_m.as_secs_f64(),
        floors.iter().min().unwrap().as_secs_f64(),
        tocsin_m.as_secs_f64(),
        tocsins.iter().min().unwrap().as_secs_f64(),
        ratio,
        loads.iter().copied().fold(f64::MAX, f64::min),
        loads.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "CPU per run: Tocsin's server {:.3} s, the fakes {:.3} s (during Tocsin's run); the floor client {:.3} s (all at once)",
        server_cpu / runs,
        fakes_cpu / runs,
        floor_cpu / runs
    );
    if !args.test {
        println!(
            "aim (Tocsin within 1.3x of the floor): {}",
            if ratio <= 1.3 { "met" } else { "NOT met" }
        );
    }
    drop(server);
}
