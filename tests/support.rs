//! Test fixtures: a temporary workspace with the shipped playbooks, and a way to run
//! the real `tocsin` binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `playbooks/` and `templates/` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary directory holding a copy of the shipped library and a config file.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Workspace {
    /// A workspace with the shipped playbooks and templates.
    pub fn with_library() -> Self {
        let ws = Self::empty();
        std::fs::copy(
            repo_root().join("tocsin.toml"),
            ws.path().join("tocsin.toml"),
        )
        .unwrap();
        copy_dir(&repo_root().join("playbooks"), &ws.path().join("playbooks"));
        copy_dir(&repo_root().join("templates"), &ws.path().join("templates"));
        ws
    }

    /// A workspace with empty playbooks and templates directories.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("tocsin.toml"),
            "[phi]\nallowed_domains = [\"health.example.gov\"]\n",
        )
        .unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file under the workspace, creating directories.
    pub fn write(&self, rel: &str, body: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    /// Runs `tocsin ARGS` in the workspace with a clean TOCSIN_* environment.
    pub fn tocsin(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.current_dir(self.path()).args(args);
        clean_environment(&mut cmd);
        Run(cmd.output().unwrap())
    }

    /// As [`Workspace::tocsin`], with extra environment variables.
    pub fn tocsin_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.current_dir(self.path()).args(args);
        clean_environment(&mut cmd);
        cmd.envs(env.iter().copied());
        Run(cmd.output().unwrap())
    }
}

impl Workspace {
    /// Runs `tocsin ARGS` with extra environment and `input` on standard input.
    pub fn tocsin_input(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Run {
        use std::io::Write;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        clean_environment(&mut cmd);
        let mut child = cmd
            .current_dir(self.path())
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A command refused before it reads its input (a bad argument) may exit before
        // the write: a broken pipe then is the command's answer, not the test's failure.
        match child.stdin.take().unwrap().write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        Run(child.wait_with_output().unwrap())
    }
}

/// Leaves out the `TOCSIN_*` variables of the environment the tests run in (CI sets some
/// for the test suite itself), so each run sees only what its test gives it. The fake
/// platforms listen on loopback, which `accounts add` refuses unless `[server]
/// allowed_private_hosts` lists it: it is listed (a test may override it).
fn clean_environment(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("TOCSIN_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "TOCSIN_SERVER__ALLOWED_PRIVATE_HOSTS",
        r#"["127.0.0.1", "localhost", "::1"]"#,
    );
}

/// The result of running the binary.
pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure and returns stdout + stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert_ne!(
            self.code(),
            0,
            "expected failure; stdout:\n{}",
            self.stdout()
        );
        format!("{}{}", self.stdout(), self.stderr())
    }
}

/// A running `tocsin serve` (the real binary) in a workspace, with the environment the
/// test gives it; killed when dropped. Its output is kept in files, printed on request.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Workspace {
    /// Starts `tocsin serve --listen 127.0.0.1:0` with `env` (and a clean TOCSIN_*
    /// environment otherwise) and waits until it listens.
    pub fn serve(&self, env: &[(&str, &str)]) -> Served {
        use std::time::{Duration, Instant};
        let stdout = self.path().join("serve.stdout");
        let stderr = self.path().join("serve.stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TOCSIN_") {
                cmd.env_remove(k);
            }
        }
        // The fake platform servers listen on loopback, which Tocsin refuses to send
        // to unless `[server] allowed_private_hosts` lists it (a test may override).
        let child = cmd
            .current_dir(self.path())
            .env(
                "TOCSIN_SERVER__ALLOWED_PRIVATE_HOSTS",
                r#"["127.0.0.1", "localhost", "::1"]"#,
            )
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut served = Served {
            child,
            base: String::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = std::fs::read_to_string(&served.stdout).unwrap_or_default();
            if let Some(rest) = out.split("Tocsin is listening: open ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                served.base = url.trim_end_matches('/').to_string();
                return served;
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("tocsin serve exited ({status}):\n{}", served.output());
            }
            assert!(
                Instant::now() < deadline,
                "tocsin serve did not start:\n{}",
                served.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Served {
    /// What the server printed so far (stdout, then stderr).
    pub fn output(&self) -> String {
        format!(
            "{}\n{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits up to `limit` for the server to exit on its own; its status, or `None` if it
    /// is still running.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a person with the CLI, then enrols them through the printed link as they would
/// (their password, the second factor the link shows, a code from it); returns the
/// base32 secret of their second factor.
pub fn add_user(ws: &Workspace, key: &str, name: &str, role: &str, password: &str) -> String {
    let out = ws
        .tocsin_env(
            &["users", "add", name, "--role", role],
            &[("TOCSIN_SECRET_KEY", key)],
        )
        .ok();
    let token = enrolment_token(&out);
    enrol(ws, key, &token, password)
}

/// The token of the enrolment link in a command's output.
pub fn enrolment_token(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().split_once("/#/enrol/").map(|(_, t)| t.to_string()))
        .unwrap_or_else(|| panic!("no enrolment link in {out}"))
}

/// Completes the enrolment behind `token` on the workspace's database, as the person at
/// the link would (the code of the step before now, so the current one still signs in);
/// returns the new second factor's base32 secret.
pub fn enrol(ws: &Workspace, key: &str, token: &str, password: &str) -> String {
    use secrecy::ExposeSecret as _;
    use tocsin_app::people::{People, PeopleConfig, SealingKey};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = tocsin_store::Store::open(tocsin_store::StoreOptions::new(
            "sqlite://tocsin.db",
            ws.path().join("data"),
        ))
        .await
        .unwrap();
        let key = std::sync::Arc::new(SealingKey::from_base64(key).unwrap());
        let people = People::new(store.clone(), key, PeopleConfig::default()).unwrap();
        let start = people.begin_enrolment(token).await.unwrap();
        let secret = start.totp.secret_base32.expose_secret().to_string();
        let code = tocsin_app::people::totp::code_from_base32(
            &secret,
            chrono::Utc::now() - chrono::Duration::seconds(30),
        )
        .unwrap();
        people
            .complete_enrolment(token, password.to_string().into(), &code)
            .await
            .unwrap();
        store.close().await;
        secret
    })
}

/// Folds the refused sign-ins counted so far (this minute's too) into the workspace's
/// audit log, as the server does once each minute is over.
pub fn fold_refused_sign_ins(ws: &Workspace, key: &str) {
    use tocsin_app::people::{People, PeopleConfig, SealingKey};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = tocsin_store::Store::open(tocsin_store::StoreOptions::new(
            "sqlite://tocsin.db",
            ws.path().join("data"),
        ))
        .await
        .unwrap();
        let key = std::sync::Arc::new(SealingKey::from_base64(key).unwrap());
        let people = People::new(store.clone(), key, PeopleConfig::default()).unwrap();
        people
            .fold_refused_sign_ins(chrono::Utc::now() + chrono::Duration::minutes(1))
            .await
            .unwrap();
        store.close().await;
    });
}

/// The TOTP code of `secret` now.
pub fn code_now(secret: &str) -> String {
    tocsin_app::people::totp::code_from_base32(secret, chrono::Utc::now()).unwrap()
}
