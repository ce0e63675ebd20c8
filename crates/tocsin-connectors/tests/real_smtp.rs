//! The email connector against a real SMTP server: aiosmtpd (PyPI), started on loopback
//! by `real_servers/smtp_server.py`, requiring AUTH and storing what it accepts in a
//! Maildir. The fake SMTP server in tocsin-test-support proves each failure path; this
//! proves that what Tocsin sends is what a real implementation accepts and stores.
//!
//! Needs `python3` with `aiosmtpd` (`python3 -m pip install aiosmtpd`; `.ci/run` installs
//! it). `TOCSIN_PYTHON` names another interpreter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use secrecy::SecretString;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost};
use tocsin_connectors::email::{message_id, EmailConfig, EmailConnector};
use tocsin_test_support::smtp::ReceivedMail;

const USER: &str = "alerts";
const PASSWORD: &str = "canary-real-smtp-password-4711";

/// A running aiosmtpd; stopped (stdin closed, then killed) on drop.
struct RealSmtp {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl RealSmtp {
    fn start() -> RealSmtp {
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("mail");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_servers/smtp_server.py");
        let python = std::env::var("TOCSIN_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&maildir)
            .arg(USER)
            .arg(PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the port line");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "aiosmtpd did not start (printed {line:?}); install it with \
                 `{python} -m pip install aiosmtpd` (.ci/run does)"
            )
        });
        let stdin = child.stdin.take();
        RealSmtp {
            child,
            stdin,
            port,
            maildir,
            _dir: dir,
        }
    }

    fn connector(&self, password: &str) -> EmailConnector {
        let settings = json!({
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "tls": "none",
            "username": USER,
            "from": "City Health <alerts@health.example>",
            "to": ["residents@lists.example", "Press Desk <press@health.example>"],
        });
        let config = EmailConfig::from_settings(&settings).expect("valid settings");
        EmailConnector::new(config, Some(SecretString::from(password.to_string())))
            .expect("connector")
    }

    /// Every stored message, oldest first (Maildir file names start with the time), read
    /// into the fake server's message type for its header and body helpers (the Maildir
    /// holds `\n` line ends; SMTP had `\r\n`).
    fn stored(&self) -> Vec<ReceivedMail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort_by_key(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .expect("mtime")
        });
        files
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("read stored mail");
                ReceivedMail {
                    mail_from: String::new(),
                    rcpt_to: Vec::new(),
                    raw: text
                        .replace("\r\n", "\n")
                        .replace('\n', "\r\n")
                        .into_bytes(),
                    accepted: true,
                    auth_user: None,
                }
            })
            .collect()
    }
}

impl Drop for RealSmtp {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_real_smtp_server_accepts_and_stores_posts_and_thread_updates_after_auth() {
    let smtp = RealSmtp::start();
    let email = smtp.connector(PASSWORD);
    email.healthcheck().await.expect("healthcheck");

    let mut first = OutgoingPost::new(
        "msg-1:acct-1",
        "Boil water before drinking.\nUntil further notice.",
    );
    first.html = Some("<p><b>Boil water</b> before drinking.</p>".into());
    let root = email.post(&first).await.expect("first post").remote;
    assert_eq!(root.id, message_id("msg-1:acct-1"));
    let mut update = OutgoingPost::new("msg-2:acct-1", "Update: the notice is lifted.");
    update.reply_to = Some(root.clone());
    update.thread_root = Some(root.clone());
    update.exercise = true;
    email.post(&update).await.expect("update");

    let stored = smtp.stored();
    assert_eq!(stored.len(), 2, "both messages stored");
    let (a, b) = (&stored[0], &stored[1]);
    assert_eq!(
        a.header("X-MailFrom").as_deref(),
        Some("alerts@health.example")
    );
    assert_eq!(
        a.header("X-RcptTo").as_deref(),
        Some("residents@lists.example, press@health.example")
    );
    assert_eq!(
        a.header("Subject").as_deref(),
        Some("Boil water before drinking.")
    );
    assert_eq!(a.header("Message-ID"), Some(root.id.clone()));
    let content_type = a.header("Content-Type").expect("content type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert!(a.body().contains("Until further notice."), "{}", a.body());
    assert!(
        a.body()
            .contains("<p><b>Boil water</b> before drinking.</p>"),
        "{}",
        a.body()
    );
    assert_eq!(
        b.header("Subject").as_deref(),
        Some("[EXERCISE] Update: the notice is lifted.")
    );
    assert_eq!(b.header("In-Reply-To"), Some(root.id.clone()));
    assert_eq!(b.header("References"), Some(root.id.clone()));
}

#[tokio::test]
async fn a_real_smtp_server_refusing_the_password_is_an_auth_failure_that_hides_it() {
    let smtp = RealSmtp::start();
    let wrong = smtp.connector("canary-wrong-password");
    let err = wrong
        .post(&OutgoingPost::new("k1", "text"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("535")),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("canary"),
        "{err}"
    );
    assert!(smtp.stored().is_empty(), "nothing was stored");
}
