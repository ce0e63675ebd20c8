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
        for (k, _) in std::env::vars() {
            if k.starts_with("TOCSIN_") {
                cmd.env_remove(k);
            }
        }
        Run(cmd.output().unwrap())
    }

    /// As [`Workspace::tocsin`], with extra environment variables.
    pub fn tocsin_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.current_dir(self.path())
            .args(args)
            .envs(env.iter().copied());
        Run(cmd.output().unwrap())
    }
}

impl Workspace {
    /// Runs `tocsin ARGS` with extra environment and `input` on standard input.
    pub fn tocsin_input(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Run {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
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
