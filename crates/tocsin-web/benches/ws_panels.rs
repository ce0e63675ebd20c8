//! Websocket load tool: N authenticated control panels on one server, delivery events
//! published through the server's hub, and two figures: the latency from publish to
//! receipt at every panel (p50, p99, max over all panel × event receipts) and the server's
//! memory per open socket.
//!
//! The server runs in a child process (this binary again, with `--serve`): a whole
//! [`Harness`] over a fresh SQLite store, one viewer user, and one session per panel
//! written the way sign-in writes it. The child prints its address and the session
//! cookies, then publishes one `delivered` event for every `publish <n>` line it reads on
//! stdin, with the publish time (nanoseconds since the UNIX epoch, same host clock) in
//! `remote_id`. The parent opens the panels (tokio-tungstenite with the cookie), waits
//! for every `hello`, reads the child's `VmRSS` before and after, publishes, and counts.
//! Both processes share the machine's cores, so the panels' own CPU counts against the
//! server's latency.
//!
//! ```sh
//! cargo bench -p tocsin-web --bench ws_panels -- [--panels N] [--events E] [--rate R]
//!     [--sessions S] [--connect-concurrency C]
//! ```
//!
//! `--sessions S` spreads the panels over S sessions (default: one each). Each process
//! holds one descriptor per socket (the two ends are in different processes): the tool
//! raises its soft open-file limit to the hard one and stops, saying so, if that is still
//! under N + 64 (`ulimit -n` shows it; 20,000 here).
//!
//! `--test` (what `cargo bench -- --test` passes) runs a smoke round of 50 panels and 10
//! events. Exits non-zero if a panel failed to open, or missed an event without being
//! told to resync.

use anyhow::{anyhow, bail, Context as _, Result};
use futures::StreamExt as _;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tocsin_app::people::session::cookie_name;
use tocsin_app::people::{Caller, PasswordCost, Role, SealingKey, SessionId};
use tocsin_app::PanelEvent;
use tocsin_dispatch::{DeliveryEvent, DeliveryEventKind};
use tocsin_store::people::NewSession;
use tocsin_store::AuditSettings;
use tocsin_test_support::db::{Backend, TestDb};
use tocsin_web::server::harness::{Harness, HarnessOptions};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "usage: ws_panels [--panels N] [--events E] [--rate PER_SECOND] \
                     [--sessions S] [--connect-concurrency C] [--test]";

/// The panels' read buffer (the server's frames are a few hundred bytes).
const PANEL_READ_BUFFER: usize = 4 * 1024;

/// A latency slot no receipt filled.
const MISSING: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Args {
    panels: usize,
    events: usize,
    rate: f64,
    /// Sessions to spread the panels over (0: one per panel).
    sessions: usize,
    connect_concurrency: usize,
    serve: bool,
    /// `--test`: a smoke run, whose figures say nothing about the aims.
    smoke: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        panels: 10_000,
        events: 100,
        rate: 10.0,
        sessions: 0,
        connect_concurrency: 200,
        serve: false,
        smoke: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = |name: &str| {
            argv.next()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--panels" => a.panels = value("--panels")?.parse().context("--panels N")?,
            "--events" => a.events = value("--events")?.parse().context("--events E")?,
            "--rate" => a.rate = value("--rate")?.parse().context("--rate PER_SECOND")?,
            "--sessions" => a.sessions = value("--sessions")?.parse().context("--sessions S")?,
            "--connect-concurrency" => {
                a.connect_concurrency = value("--connect-concurrency")?
                    .parse()
                    .context("--connect-concurrency C")?;
            }
            "--test" => {
                a.panels = 50;
                a.events = 10;
                a.rate = 100.0;
                a.smoke = true;
            }
            "--serve" => a.serve = true,
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--help" | "-h" => bail!("{USAGE}"),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if a.panels == 0
        || a.events == 0
        || a.rate.is_nan()
        || a.rate <= 0.0
        || a.connect_concurrency == 0
    {
        bail!("--panels, --events, --rate and --connect-concurrency must be positive");
    }
    if a.sessions == 0 || a.sessions > a.panels {
        a.sessions = a.panels;
    }
    Ok(a)
}

fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let outcome = parse_args().and_then(|args| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        if args.serve {
            rt.block_on(serve(args.sessions)).map(|()| true)
        } else {
            rt.block_on(drive(&args))
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ws_panels: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Raises the soft limit on open files to the hard one and checks `needed` fit.
fn raise_fd_limit(needed: u64) -> Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.is_some_and(|soft| soft < hard) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        )
        .context("raising the open-file limit to its hard limit")?;
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if soft < needed {
        bail!(
            "this needs about {needed} open files per process (one per socket plus some), \
             but the limit is {soft} (hard limit {hard}): raise it (`ulimit -n {needed}` \
             as root or in /etc/security/limits.conf) or open fewer panels"
        );
    }
    Ok(soft)
}

// ---------------------------------------------------------------------------------------
// The server side (`--serve`), in the child process.

async fn serve(sessions: usize) -> Result<()> {
    raise_fd_limit(sessions as u64 + 64).ok();
    let db = TestDb::with_settings(Backend::Sqlite, AuditSettings::default())
        .await
        .context("creating the SQLite store")?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = HarnessOptions::for_repository(&repo);
    options.sandbox_accounts.clear();
    options.approve_playbooks = false;
    options.people.password_cost = PasswordCost::TESTS_ONLY;
    let session_policy = options.people.sessions;
    let harness = Harness::start(db.store.clone(), Arc::new(SealingKey::generate()), options)
        .await
        .context("starting the server")?;
    tocsin_app::people::enrolment::add_and_enrol(
        &harness.people,
        Caller::Operator("cli:ws-panels-bench"),
        "panel-viewer",
        Role::Viewer,
        SecretString::from("ws-panels-bench-viewer-5c1e8a".to_string()),
    )
    .await
    .context("adding the viewer")?;
    let user_id = harness
        .app
        .store()
        .people()
        .record("panel-viewer")
        .await
        .context("reading the viewer")?
        .context("the viewer is missing")?
        .id;
    // What a successful sign-in writes (minus the TOTP step and its audit entry).
    let store = harness.app.store();
    let mut cookies = Vec::with_capacity(sessions);
    let mut left = sessions;
    while left > 0 {
        let batch = left.min(1000);
        let now = store.now();
        let mut tx = store.begin().await.context("inserting sessions")?;
        for _ in 0..batch {
            let id = SessionId::generate();
            tx.people()
                .insert_session(&NewSession {
                    id_sha256: id.digest(),
                    user_id,
                    created_at: now,
                    expires_at: now + session_policy.absolute_timeout,
                    client_ip: Some("127.0.0.1".into()),
                })
                .await
                .context("inserting a session")?;
            cookies.push(id.expose().to_string());
        }
        tx.commit().await.context("committing sessions")?;
        left -= batch;
    }
    let name = cookie_name(false);
    {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for c in &cookies {
            std::io::Write::write_fmt(&mut out, format_args!("cookie {name}={c}\n"))?;
        }
        std::io::Write::write_fmt(&mut out, format_args!("ready {}\n", harness.addr))?;
        std::io::Write::flush(&mut out)?;
    }
    drop(cookies);

    let hub = harness.app.hub().clone();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("publish"), Some(n)) => {
                let message_id: i64 = n.parse().context("publish <n>")?;
                let sent = now_nanos();
                hub.publish(&PanelEvent::Delivery(DeliveryEvent {
                    message_id,
                    account_id: 1,
                    kind: DeliveryEventKind::Delivered {
                        remote_id: sent.to_string(),
                        url: None,
                    },
                }));
            }
            (Some("sockets"), _) => println!("sockets {}", hub.sockets()),
            (Some("quit"), _) => break,
            _ => bail!("the server read a line it does not understand: {line:?}"),
        }
    }
    harness.stop().await.context("stopping the server")?;
    drop(db);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The panels' side (the parent process).

/// A frame as far as the panels look at it.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    message_id: Option<i64>,
    #[serde(borrow)]
    remote_id: Option<&'a str>,
}

/// Counters every panel task moves.
#[derive(Default)]
struct Progress {
    settled: AtomicUsize,
    failed: AtomicUsize,
    receipts: AtomicU64,
}

/// What one panel saw.
struct PanelOutcome {
    /// Whether it opened and said hello.
    opened: bool,
    /// Latency in µs per event number ([`MISSING`] if it never came).
    latencies: Vec<u32>,
    resyncs: u32,
    duplicates: u32,
    unexpected: u32,
    error: Option<String>,
}

async fn panel(
    url: String,
    cookie: Arc<str>,
    events: usize,
    gate: Arc<Semaphore>,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> PanelOutcome {
    let mut out = PanelOutcome {
        opened: false,
        latencies: vec![MISSING; events],
        resyncs: 0,
        duplicates: 0,
        unexpected: 0,
        error: None,
    };
    let opened = {
        let _permit = gate.acquire().await;
        open_panel(&url, &cookie).await
    };
    let mut ws = match opened {
        Ok(ws) => {
            out.opened = true;
            progress.settled.fetch_add(1, Ordering::Relaxed);
            ws
        }
        Err(e) => {
            out.error = Some(format!("{e:#}"));
            progress.failed.fetch_add(1, Ordering::Relaxed);
            progress.settled.fetch_add(1, Ordering::Relaxed);
            return out;
        }
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let received = now_nanos();
                    let Ok(frame) = serde_json::from_str::<Frame<'_>>(text.as_str()) else {
                        out.unexpected += 1;
                        continue;
                    };
                    match (frame.kind, frame.message_id, frame.remote_id) {
                        ("delivery", Some(n), Some(sent)) => {
                            let slot = usize::try_from(n).ok().and_then(|n| out.latencies.get_mut(n));
                            let sent: u128 = sent.parse().unwrap_or(received);
                            let micros = u32::try_from(received.saturating_sub(sent) / 1000)
                                .unwrap_or(MISSING - 1);
                            match slot {
                                Some(slot) if *slot == MISSING => {
                                    *slot = micros;
                                    progress.receipts.fetch_add(1, Ordering::Relaxed);
                                }
                                Some(_) => out.duplicates += 1,
                                None => out.unexpected += 1,
                            }
                        }
                        ("resync", _, _) => out.resyncs += 1,
                        _ => out.unexpected += 1,
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    out.error = Some(format!("the server closed the socket: {frame:?}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    out.error = Some(format!("read failed: {e}"));
                    break;
                }
                None => {
                    out.error = Some("the socket ended".into());
                    break;
                }
            }
        }
    }
    out
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens one panel and waits for its `hello`.
async fn open_panel(url: &str, cookie: &str) -> Result<Socket> {
    let mut request = url.into_client_request().context("websocket request")?;
    request
        .headers_mut()
        .insert(header::COOKIE, HeaderValue::from_str(cookie)?);
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(60),
        // tungstenite zero-fills its whole read buffer (128 KiB by default) before every
        // read: a small one keeps the panels' CPU off the server's cores.
        tokio_tungstenite::connect_async_with_config(
            request,
            Some(WebSocketConfig::default().read_buffer_size(PANEL_READ_BUFFER)),
            true,
        ),
    )
    .await
    .context("opening timed out after 60 s")?
    .context("opening the websocket")?;
    let first = tokio::time::timeout(Duration::from_secs(60), ws.next())
        .await
        .context("no hello within 60 s")?;
    match first {
        Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"hello""#) => Ok(ws),
        other => {
            let _ = ws.close(None).await;
            bail!("expected hello, got {other:?}")
        }
    }
}

/// The child server and its pipes.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    pid: u32,
}

impl Server {
    async fn send(&mut self, line: &str) -> Result<()> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .context("writing to the server")?;
        self.stdin.flush().await.context("writing to the server")
    }

    async fn read_line(&mut self) -> Result<String> {
        self.stdout
            .next_line()
            .await
            .context("reading the server's output")?
            .ok_or_else(|| anyhow!("the server exited (see its stderr above)"))
    }

    async fn sockets(&mut self) -> Result<usize> {
        self.send("sockets").await?;
        let line = self.read_line().await?;
        line.strip_prefix("sockets ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow!("unexpected answer from the server: {line:?}"))
    }
}

async fn start_server(sessions: usize) -> Result<(Server, String, Vec<Arc<str>>)> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut child = Command::new(exe)
        .arg("--serve")
        .arg("--sessions")
        .arg(sessions.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server process")?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("the server process has no id"))?;
    let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin pipe"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout pipe"))?;
    let mut server = Server {
        child,
        stdin,
        stdout: BufReader::new(stdout).lines(),
        pid,
    };
    let mut cookies = Vec::with_capacity(sessions);
    loop {
        let line = server.read_line().await?;
        if let Some(cookie) = line.strip_prefix("cookie ") {
            cookies.push(Arc::from(cookie));
        } else if let Some(addr) = line.strip_prefix("ready ") {
            let url = format!("ws://{addr}/ws");
            return Ok((server, url, cookies));
        } else {
            bail!("unexpected line from the server: {line:?}");
        }
    }
}

/// `VmRSS` of a process, in bytes.
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// User + system CPU time of a process.
fn cpu_time(pid: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let after_name = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("odd /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("odd /proc/{pid}/stat"))
    };
    // Fields 14 and 15 of stat(5), counted from the state (field 3).
    let total = ticks(11)? + ticks(12)?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_secs_f64(total as f64 / hz as f64))
}

/// The 1-minute load average, to tell a busy machine's figures from an idle one's.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn ms(micros: Option<u32>) -> String {
    match micros {
        Some(us) => format!("{:.1} ms", f64::from(us) / 1000.0),
        None => "-".into(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn drive(args: &Args) -> Result<bool> {
    let limit = raise_fd_limit(args.panels as u64 + 64)?;
    println!(
        "ws_panels: {} panels over {} sessions, {} events at {}/s (open-file limit {limit})",
        args.panels, args.sessions, args.events, args.rate
    );
    let (mut server, url, cookies) = start_server(args.sessions).await?;
    if cookies.len() != args.sessions {
        bail!(
            "the server made {} sessions, not {}",
            cookies.len(),
            args.sessions
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = rss_bytes(server.pid)?;

    // Open every panel.
    let progress = Arc::new(Progress::default());
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(args.panels);
    for i in 0..args.panels {
        let cookie = cookies
            .get(i % cookies.len())
            .cloned()
            .ok_or_else(|| anyhow!("no session cookie"))?;
        tasks.push(tokio::spawn(panel(
            url.clone(),
            cookie,
            args.events,
            gate.clone(),
            progress.clone(),
            stop_rx.clone(),
        )));
    }
    drop(cookies);
    while progress.settled.load(Ordering::Relaxed) < args.panels {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_time = opening.elapsed();
    let failed = progress.failed.load(Ordering::Relaxed);
    let open = args.panels - failed;
    // Let the server finish what opening started (first session checks, buffers).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_sockets = server.sockets().await?;
    let rss_open = rss_bytes(server.pid)?;
    println!(
        "opened {open} of {} panels in {:.1} s; the server counts {server_sockets} sockets",
        args.panels,
        open_time.as_secs_f64()
    );

    // Publish.
    let load_before = load_average();
    let server_cpu_before = cpu_time(&server.pid.to_string())?;
    let own_cpu_before = cpu_time("self")?;
    let publishing = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0..args.events {
        tick.tick().await;
        server.send(&format!("publish {n}")).await?;
    }
    let publish_time = publishing.elapsed();
    let expected = (open * args.events) as u64;
    // Wait for every receipt, or until none has come for 10 s (lost, or resynced).
    let mut seen = progress.receipts.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    while seen < expected && last_progress.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now_seen = progress.receipts.load(Ordering::Relaxed);
        if now_seen > seen {
            seen = now_seen;
            last_progress = Instant::now();
        }
    }
    let drained = last_progress.saturating_duration_since(publishing);
    let server_cpu = cpu_time(&server.pid.to_string())?.saturating_sub(server_cpu_before);
    let own_cpu = cpu_time("self")?.saturating_sub(own_cpu_before);
    let load_after = load_average();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_bytes(server.pid)?;

    // Collect.
    let _ = stop_tx.send(true);
    let mut latencies = Vec::with_capacity(open * args.events);
    let mut slowest_per_event = vec![0u32; args.events];
    let (mut missed, mut missed_unexplained, mut resyncs, mut duplicates, mut unexpected) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut errors: Vec<String> = Vec::new();
    let mut ended_early = 0usize;
    for task in tasks {
        let outcome = task.await.context("a panel task failed")?;
        if !outcome.opened {
            if errors.len() < 5 {
                errors.extend(outcome.error);
            }
            continue;
        }
        if let Some(e) = &outcome.error {
            ended_early += 1;
            if errors.len() < 5 {
                errors.push(e.clone());
            }
        }
        resyncs += u64::from(outcome.resyncs);
        duplicates += u64::from(outcome.duplicates);
        unexpected += u64::from(outcome.unexpected);
        let mut panel_missed = 0u64;
        for (slot, &l) in slowest_per_event.iter_mut().zip(&outcome.latencies) {
            if l == MISSING {
                panel_missed += 1;
            } else {
                latencies.push(l);
                *slot = (*slot).max(l);
            }
        }
        missed += panel_missed;
        if outcome.resyncs == 0 {
            missed_unexplained += panel_missed;
        }
    }
    server.send("quit").await?;
    match tokio::time::timeout(Duration::from_secs(30), server.child.wait()).await {
        Ok(status) => {
            let status = status.context("waiting for the server")?;
            if !status.success() {
                eprintln!("the server process ended with {status}");
            }
        }
        Err(_) => {
            eprintln!("the server did not stop within 30 s; killing it");
            server.child.kill().await.ok();
        }
    }

    latencies.sort_unstable();
    slowest_per_event.sort_unstable();
    let p50 = percentile(&latencies, 50.0);
    let p99 = percentile(&latencies, 99.0);
    let per_socket = rss_open.saturating_sub(rss_idle) as f64 / open.max(1) as f64;
    let per_socket_after = rss_after.saturating_sub(rss_idle) as f64 / open.max(1) as f64;
    let receipts = latencies.len() as u64;
    let deliveries = (open * args.events) as f64;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| panels open | {open} / {} (server counts {server_sockets}), opened in {:.1} s |",
        args.panels,
        open_time.as_secs_f64()
    );
    println!(
        "| events | {} published in {:.1} s; last receipt at {:.1} s |",
        args.events,
        publish_time.as_secs_f64(),
        drained.as_secs_f64()
    );
    println!(
        "| receipts | {receipts} / {expected} (missed {missed}, of which without a resync {missed_unexplained}) |"
    );
    println!("| resyncs seen | {resyncs} |");
    println!("| latency p50 | {} |", ms(p50));
    println!("| latency p99 | {} |", ms(p99));
    println!("| latency p99.9 | {} |", ms(percentile(&latencies, 99.9)));
    println!("| latency max | {} |", ms(latencies.last().copied()));
    println!(
        "| last panel reached, per event: median / max | {} / {} |",
        ms(percentile(&slowest_per_event, 50.0)),
        ms(slowest_per_event.last().copied())
    );
    println!(
        "| server RSS idle / {open} open / after events | {} / {} / {} |",
        mib(rss_idle),
        mib(rss_open),
        mib(rss_after)
    );
    println!(
        "| server memory per open socket | {:.1} KiB ({:.1} KiB after the events) |",
        per_socket / 1024.0,
        per_socket_after / 1024.0
    );
    println!(
        "| CPU while publishing: server / panels | {:.2} s / {:.2} s ({:.1} / {:.1} µs per delivery) |",
        server_cpu.as_secs_f64(),
        own_cpu.as_secs_f64(),
        server_cpu.as_secs_f64() * 1e6 / deliveries.max(1.0),
        own_cpu.as_secs_f64() * 1e6 / deliveries.max(1.0)
    );
    println!("| machine load (1-minute average) before / after publishing | {load_before} / {load_after} |");
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    if args.smoke {
        println!("| aims | not judged: a smoke run (--test), a few panels, maybe a debug build |");
    } else {
        println!(
            "| aims | p99 under 100 ms: {}; under 40 KiB per socket: {} |",
            met(p99.is_some_and(|p| p < 100_000)),
            met(per_socket < 40.0 * 1024.0)
        );
    }
    if duplicates + unexpected > 0 {
        println!("| other frames | {duplicates} duplicates, {unexpected} unexpected |");
    }
    for e in &errors {
        eprintln!("a panel failed: {e}");
    }
    let ok = failed == 0 && missed_unexplained == 0 && ended_early == 0 && server_sockets == open;
    if !ok {
        eprintln!(
            "ws_panels: FAILED: {failed} panels did not open, {ended_early} ended early, \
             {missed_unexplained} receipts missing without a resync"
        );
    }
    Ok(ok)
}
