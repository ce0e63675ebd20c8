//! Idle server memory: starts the real `tocsin serve` binary (built with this bench's
//! profile) on a fresh SQLite data directory with the repository's playbooks, waits for
//! `/readyz`, lets it idle, and reads its `VmRSS` and `VmHWM` from `/proc/<pid>/status`;
//! then opens N idle control-panel websockets (each with a session of its own, written
//! the way sign-in writes it) and reads them again.
//!
//! ```sh
//! cargo bench -p tocsin --bench idle_memory -- [--idle-secs S] [--panels N]
//! ```
//!
//! `--test` (what `cargo bench -- --test` passes) idles one second with 5 panels.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use secrecy::{ExposeSecret as _, SecretString};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_app::people::session::cookie_name;
use tocsin_app::people::{Caller, PasswordCost, People, PeopleConfig, Role, SealingKey, SessionId};
use tocsin_store::people::NewSession;
use tocsin_store::{Store, StoreOptions};

struct Args {
    idle_secs: u64,
    panels: usize,
}

fn args() -> Args {
    let mut a = Args {
        idle_secs: 5,
        panels: 100,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--test" => {
                a.idle_secs = 1;
                a.panels = 5;
            }
            "--idle-secs" => {
                a.idle_secs = value.parse().expect("--idle-secs S");
                i += 1;
            }
            "--panels" => {
                a.panels = value.parse().expect("--panels N");
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    a
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One HTTP/1.1 request's status line, or `None` if the server did not answer.
fn get_status(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines().next().map(str::to_string)
}

/// Opens a websocket to `/ws` with this session cookie and reads the upgrade answer and
/// the first frame (the `hello`); the socket stays open while it is held.
fn open_panel(addr: SocketAddr, cookie: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Cookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The 101 answer, then at least one byte of the first frame.
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed a panel's socket");
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_string();
            assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
            if seen.len() > end + 4 {
                break;
            }
        }
    }
    s
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let args = args();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let key = SealingKey::generate();
    let key_text: SecretString = key.to_base64();

    // Sessions for the panels, written before the server starts (one viewer).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cookies: Vec<String> = rt.block_on(async {
        let store = Store::open(StoreOptions::new("sqlite://tocsin.db", dir.path()))
            .await
            .unwrap();
        let config = PeopleConfig {
            password_cost: PasswordCost::TESTS_ONLY,
            ..PeopleConfig::default()
        };
        let policy = config.sessions;
        let people = People::new(store.clone(), Arc::new(key), config).unwrap();
        tocsin_app::people::enrolment::add_and_enrol(
            &people,
            Caller::Operator("cli:idle-memory-bench"),
            "panel-viewer",
            Role::Viewer,
            SecretString::from("idle-memory-bench-viewer-7d2f".to_string()),
        )
        .await
        .unwrap();
        let user = store
            .people()
            .record("panel-viewer")
            .await
            .unwrap()
            .unwrap()
            .id;
        let now = store.now();
        let mut tx = store.begin().await.unwrap();
        let mut cookies = Vec::with_capacity(args.panels);
        for _ in 0..args.panels {
            let id = SessionId::generate();
            tx.people()
                .insert_session(&NewSession {
                    id_sha256: id.digest(),
                    user_id: user,
                    created_at: now,
                    expires_at: now + policy.absolute_timeout,
                    client_ip: Some("127.0.0.1".into()),
                })
                .await
                .unwrap();
            cookies.push(format!("{}={}", cookie_name(false), id.expose()));
        }
        tx.commit().await.unwrap();
        store.close().await;
        cookies
    });

    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = dir.path().join("tocsin.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nplaybooks_dir = {:?}\ntemplates_dir = {:?}\n\n[database]\nurl = \"sqlite://tocsin.db\"\n\n[log]\nlevel = \"warn\"\n\n[server]\nlisten = \"{addr}\"\n",
            dir.path().display().to_string(),
            repo.join("playbooks").display().to_string(),
            repo.join("templates").display().to_string(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["--config", &config.display().to_string(), "serve"])
            .env("TOCSIN_SECRET_KEY", key_text.expose_secret())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    while get_status(addr, "/readyz").as_deref() != Some("HTTP/1.1 200 OK") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "tocsin serve was not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ready_after = started.elapsed();
    let (ready_rss, _) = memory(pid);
    std::thread::sleep(Duration::from_secs(args.idle_secs));
    let (idle_rss, idle_hwm) = memory(pid);
    let panels: Vec<TcpStream> = cookies.iter().map(|c| open_panel(addr, c)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let (panels_rss, panels_hwm) = memory(pid);
    println!(
        "idle_memory: ready in {:.2} s; at ready VmRSS {}; after {} s idle VmRSS {} (VmHWM {}); \
         with {} idle panels VmRSS {} (VmHWM {}), {:.1} KiB per panel",
        ready_after.as_secs_f64(),
        mib(ready_rss),
        args.idle_secs,
        mib(idle_rss),
        mib(idle_hwm),
        panels.len(),
        mib(panels_rss),
        mib(panels_hwm),
        panels_rss.saturating_sub(idle_rss) as f64 / panels.len().max(1) as f64
    );
    drop(panels);
    drop(server);
}
