//! Real platform servers on loopback for the connectors' tests: Synapse, the Bluesky PDS
//! and aiosmtpd, each started by a script in `real_servers/` that prints one JSON line.
//!
//! Fakes prove each failure path; only a real server proves that what Tocsin sends is what
//! that platform accepts. `.ci/run` installs them under [`cache_dir`]. A test asks for one
//! with [`Launch::start`] and skips, loudly, when it is not installed, unless
//! `TOCSIN_REAL_SERVERS=require` (CI) makes that a failure; `TOCSIN_REAL_SERVERS=skip`
//! skips them all.

pub mod pds;
pub mod smtp;
pub mod synapse;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Why a real server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RealServerError {
    /// It is not installed here (and `TOCSIN_REAL_SERVERS=require` says it must be).
    #[error("{what} is not installed: {missing} is absent; run .ci/run (or {install})")]
    NotInstalled {
        /// Which server.
        what: &'static str,
        /// The file that is missing.
        missing: PathBuf,
        /// How to install it.
        install: &'static str,
    },
    /// It could not be started.
    #[error("cannot start {what}: {why}")]
    Start {
        /// Which server.
        what: &'static str,
        /// What went wrong (the launcher's own words, its log's place).
        why: String,
    },
}

/// What `TOCSIN_REAL_SERVERS` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Use real servers where installed; skip (loudly) where not.
    WhereInstalled,
    /// Every real server must be installed and start (CI).
    Require,
    /// Skip every real-server test.
    Skip,
}

impl Policy {
    /// Read from `TOCSIN_REAL_SERVERS` (`require`, `skip`, anything else: where installed).
    pub fn from_env() -> Policy {
        match std::env::var("TOCSIN_REAL_SERVERS").as_deref() {
            Ok("require") => Policy::Require,
            Ok("skip") => Policy::Skip,
            _ => Policy::WhereInstalled,
        }
    }
}

/// Where `.ci/run` installs the servers: `TOCSIN_REAL_SERVERS_DIR`, else
/// `~/.cache/tocsin-test`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOCSIN_REAL_SERVERS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("tocsin-test")
}

/// The launcher scripts' directory.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("real_servers")
}

/// A real server's process: its launcher, fed nothing on standard input until dropped
/// (the launchers stop their server when their input closes, so a test process that
/// dies takes its servers with it).
pub struct Launch {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The JSON line the launcher printed once the server was ready.
    pub ready: Value,
    _data: tempfile::TempDir,
}

impl Launch {
    /// Runs `program args...` (with `DATA_DIR` appended, a fresh temporary directory) and
    /// waits up to `within` for its JSON line. `Ok(None)` (after a loud message) when
    /// `missing` names something not installed or the policy says skip; an error when it
    /// must run and cannot.
    pub fn start(
        what: &'static str,
        missing: Option<PathBuf>,
        install: &'static str,
        mut command: Command,
        within: Duration,
    ) -> Result<Option<Launch>, RealServerError> {
        let policy = Policy::from_env();
        if policy == Policy::Skip {
            eprintln!("\n*** SKIPPED: the real {what} tests (TOCSIN_REAL_SERVERS=skip) ***\n");
            return Ok(None);
        }
        if let Some(missing) = missing {
            let missing = RealServerError::NotInstalled {
                what,
                missing,
                install,
            };
            if policy == Policy::Require {
                return Err(missing);
            }
            eprintln!(
                "\n*** SKIPPED: the real {what} tests: {missing} ***\n*** (TOCSIN_REAL_SERVERS=require makes this a failure) ***\n"
            );
            return Ok(None);
        }
        let data = tempfile::tempdir().map_err(|e| RealServerError::Start {
            what,
            why: format!("no temporary directory: {e}"),
        })?;
        let log = data.path().join("launcher.log");
        let stderr = std::fs::File::create(&log).map_err(|e| RealServerError::Start {
            what,
            why: format!("cannot create {}: {e}", log.display()),
        })?;
        let mut child = command
            .arg(data.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| RealServerError::Start {
                what,
                why: format!("cannot run the launcher: {e}"),
            })?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(within).unwrap_or_default();
        let stdin = child.stdin.take();
        let mut launch = Launch {
            child,
            stdin,
            ready: Value::Null,
            _data: data,
        };
        match serde_json::from_str::<Value>(line.trim()) {
            Ok(ready) if ready.is_object() => {
                launch.ready = ready;
                Ok(Some(launch))
            }
            _ => {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = said
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                Err(RealServerError::Start {
                    what,
                    why: format!(
                        "no ready line within {}s (printed {:?}); its error output ends:\n{tail}",
                        within.as_secs(),
                        line.trim()
                    ),
                })
            }
        }
    }

    /// A string field of the ready line ("" when absent).
    pub fn field(&self, name: &str) -> String {
        self.ready
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// The launcher's data directory (the server's own files are under `data/`).
    pub fn data_dir(&self) -> &Path {
        self._data.path()
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        // Closing its input stops the launcher and its server; wait a little for that,
        // then make sure.
        self.stdin.take();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Some(path)` when `path` does not exist.
pub fn absent(path: &Path) -> Option<PathBuf> {
    (!path.exists()).then(|| path.to_path_buf())
}

/// Sends a signal to a process by its id with `kill(1)` (no unsafe code here).
pub fn signal(pid: u32, signal: &str) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "kill -{signal} {pid} failed"
        )))
    }
}
