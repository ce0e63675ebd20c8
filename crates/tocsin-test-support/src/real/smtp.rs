//! aiosmtpd (PyPI) on loopback, storing what it accepts in a Maildir: with or without
//! AUTH, with STARTTLS on a certificate the test made, refusing some recipients with 550.
//! Started by `real_servers/smtp_server.py`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Launch, RealServerError};
use crate::smtp::ReceivedMail;

/// How to start the server.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// Require AUTH with this user and password; `None`: offer no AUTH.
    pub credentials: Option<(String, String)>,
    /// Offer (and require) STARTTLS with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Refuse these recipients with 550 at RCPT TO.
    pub reject: Vec<String>,
}

/// A running aiosmtpd.
pub struct RealSmtp {
    launch: Launch,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RealSmtp {
    /// Starts aiosmtpd with `python3` (`TOCSIN_PYTHON` names another interpreter).
    pub fn start(options: &SmtpOptions) -> Result<Option<RealSmtp>, RealServerError> {
        let python = std::env::var("TOCSIN_PYTHON").unwrap_or_else(|_| "python3".into());
        let installed = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success());
        let missing = (!installed).then(|| PathBuf::from(format!("{python} -c 'import aiosmtpd'")));
        let mut command = Command::new(&python);
        command.arg(super::scripts_dir().join("smtp_server.py"));
        if let Some((user, password)) = &options.credentials {
            command
                .arg("--user")
                .arg(user)
                .arg("--password")
                .arg(password);
        }
        if let Some((cert, key)) = &options.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        for address in &options.reject {
            command.arg("--reject").arg(address);
        }
        let Some(launch) = Launch::start(
            "aiosmtpd",
            missing,
            "python3 -m pip install aiosmtpd",
            command,
            Duration::from_secs(30),
        )?
        else {
            return Ok(None);
        };
        let port = launch
            .ready
            .get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| RealServerError::Start {
                what: "aiosmtpd",
                why: "the ready line has no port".into(),
            })?;
        Ok(Some(RealSmtp { launch, port }))
    }

    /// Every stored message, oldest first, read into the fake server's message type for
    /// its header and body helpers (the Maildir holds `\n` line ends; SMTP had `\r\n`).
    pub fn stored(&self) -> Vec<ReceivedMail> {
        let new = self.launch.data_dir().join("data").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((modified, p))
            })
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|text| ReceivedMail {
                mail_from: String::new(),
                rcpt_to: Vec::new(),
                raw: text
                    .replace("\r\n", "\n")
                    .replace('\n', "\r\n")
                    .into_bytes(),
                accepted: true,
                auth_user: None,
            })
            .collect()
    }
}
