//! A real PostgreSQL restart under a running fan-out: a private cluster (`initdb` in a
//! temporary directory, on a free port) serves one node while 500 slow accounts are sent
//! to; `pg_ctl restart -m fast` drops every connection mid-way. The node must report
//! not-ready and ready again, and finish with exactly one post per account, every
//! delivery recorded once, and an audit chain that verifies.
//!
//! As root, `initdb` and `pg_ctl` run as the `postgres` user (PostgreSQL refuses root).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tocsin_app::people::{Role, SealingKey};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_store::{DeliveryState, Store, StoreOptions};
use tocsin_test_support::db::test_settings;
use tocsin_web::server::harness::Harness;

use crate::server_nodes::{
    all_sent, enrol, node_options, one_post_each, publish, ready, senders, sign_in, stand_ins,
    states, Waiting,
};

/// A PostgreSQL cluster of this test's own, stopped when dropped.
struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The directory of the PostgreSQL server programs (`pg_ctl` resolved through its links,
/// so `initdb` and `postgres` sit beside it), or `None` when they are not installed.
fn postgres_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let pg_ctl = dir.join("pg_ctl");
        if let Ok(real) = std::fs::canonicalize(&pg_ctl) {
            let bin = real.parent()?.to_path_buf();
            if bin.join("initdb").is_file() && bin.join("postgres").is_file() {
                return Some(bin);
            }
        }
    }
    None
}

impl PgCluster {
    fn start() -> Option<PgCluster> {
        let Some(bin) = postgres_bin() else {
            eprintln!(
                "SKIPPED: no PostgreSQL server programs (pg_ctl, initdb, postgres) on PATH; \
                 install postgresql to run this test"
            );
            return None;
        };
        let as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(
                chown.success(),
                "chown of the cluster directory to postgres"
            );
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cluster = PgCluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        let options = cluster.options();
        let log = cluster.dir.path().join("postgres.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &cluster.data(),
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "start",
            ],
        );
        Some(cluster)
    }

    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        )
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program, args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// `pg_ctl stop -m fast`: every session ended, the server down.
    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// `pg_ctl start` with the options it was first started with (the log named again, or
    /// the new server would keep this call's output pipe open).
    fn start_again(&self) {
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &self.options(),
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command(
                "pg_ctl",
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            )
            .output();
    }
}

async fn open_store(url: &str, dir: &Path) -> Store {
    let mut options = StoreOptions::new(url, dir);
    options.audit = test_settings();
    Store::open(options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_during_fan_out_is_survived_without_loss_or_duplicates() {
    let Some(cluster) = PgCluster::start().map(Arc::new) else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let store = open_store(&cluster.url(), data_dir.path()).await;
    let log = Arc::new(SandboxLog::default());
    // The lease outlasts the restart: results of sends in flight are held and recorded
    // by this node when the database is back.
    let mut options = node_options("node-a", &log, Duration::from_secs(60));
    options.sandbox_accounts = stand_ins(500);
    options.sandbox_latency = Duration::from_millis(150);
    let node = Harness::start(store.clone(), Arc::new(SealingKey::generate()), options)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    assert_eq!(ready(&http, &node.url()).await.0, 200);

    let dana = enrol(&node.people, "dana", Role::Drafter).await;
    let alex = enrol(&node.people, "alex", Role::Approver).await;
    let dana = sign_in(&node.url(), "dana", &dana).await;
    let alex = sign_in(&node.url(), "alex", &alex).await;

    // Readiness, watched all along.
    let saw_not_ready = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (saw, url, http) = (saw_not_ready.clone(), node.url(), http.clone());
        tokio::spawn(async move {
            loop {
                let r = http.get(format!("{url}/readyz")).send().await;
                if r.map_or(true, |r| r.status() == 503) {
                    saw.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let message = publish(&dana, &alex).await;
    let waiting = Waiting::new("the fan-out to be under way");
    while log.posts().len() < 60 {
        waiting.tick().await;
    }
    let before = states(&store, message).await;
    let sent_before = before
        .values()
        .filter(|s| **s == DeliveryState::Sent)
        .count();
    // The restart: stopped (fast: every session cut), the node seen not ready while the
    // database is down, then started again.
    let restart = std::time::Instant::now();
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    let waiting = Waiting::new("/readyz to say 503 while the database is down");
    while !saw_not_ready.load(Ordering::SeqCst) {
        waiting.tick().await;
    }
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    let restarted_in = restart.elapsed();
    let posts_at_restart = log.posts().len();
    assert!(
        posts_at_restart < 500,
        "the restart landed mid-fan-out: {posts_at_restart} posts already"
    );

    let waiting = Waiting::new("/readyz to say 200 after the restart");
    while ready(&http, &node.url()).await.0 != 200 {
        waiting.tick().await;
    }
    let ready_after = restart.elapsed();
    let waiting = Waiting::new("every delivery to settle");
    while !all_sent(&store, message).await {
        waiting.tick().await;
    }
    watcher.abort();
    assert!(
        saw_not_ready.load(Ordering::SeqCst),
        "/readyz never said 503 while the database restarted"
    );

    let repeats = one_post_each(&log, &node.accounts);
    assert_eq!(states(&store, message).await.len(), 500);
    assert_eq!(senders(&store, message).await.len(), 500);
    match store.audit().verify_live(None).await.unwrap() {
        Ok(v) => assert!(v.entries > 1000, "{v:?}"),
        Err(b) => panic!("the audit chain does not verify: {b:?}"),
    }
    eprintln!(
        "PostgreSQL restarted ({restarted_in:?}) with {sent_before} of 500 recorded and \
         {posts_at_restart} posts made; ready again {ready_after:?} after; every account \
         exactly one post ({repeats} idempotent repeats)"
    );
    node.stop().await.unwrap();
    store.close().await;
    drop(cluster);
}
