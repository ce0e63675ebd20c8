//! An email destination's settings: the submission server, how to secure the connection,
//! the sender and the recipients.
//!
//! Unknown fields are refused. The SMTP password is the account's secret and never
//! appears here. Unencrypted SMTP is accepted only to a loopback relay.

use lettre::message::Mailbox;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use tocsin_connector::ConnectorError;

use crate::endpoint::is_loopback_host;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (submission, port 587).
    Starttls,
    /// TLS from the first byte (submissions, port 465).
    Implicit,
    /// No encryption: only for a relay on this machine (`localhost`, `127.0.0.1`, `::1`).
    None,
}

/// Settings of one email destination (`AccountSpec::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The submission server's host name (checked against its TLS certificate).
    pub smtp_host: String,
    /// Its port: usually 587 with `starttls`, 465 with `implicit`.
    pub smtp_port: u16,
    /// `starttls`, `implicit`, or `none` (loopback only).
    pub tls: TlsMode,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// The recipients (at least one); every one must be accepted or nothing is sent.
    pub to: Vec<String>,
    /// The SMTP user name, when the server wants authentication (the password is the
    /// account's secret).
    #[serde(default)]
    pub username: Option<String>,
    /// Seconds allowed for connecting and for each SMTP exchange; 30 when not set.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// The settings, checked and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEmailConfig {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub tls: TlsMode,
    /// The sender.
    pub from: Mailbox,
    /// The recipients.
    pub to: Vec<Mailbox>,
    /// SMTP user name.
    pub username: Option<String>,
    /// Time allowed for each step.
    pub timeout: Duration,
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, ConnectorError> {
    text.trim().parse::<Mailbox>().map_err(|e| {
        ConnectorError::Config(format!("{field}: {text:?} is not an email address ({e})"))
    })
}

impl EmailConfig {
    /// Reads and checks the settings.
    pub fn from_settings(settings: &Value) -> Result<CheckedEmailConfig, ConnectorError> {
        let config: EmailConfig = serde_json::from_value(settings.clone())
            .map_err(|e| ConnectorError::Config(format!("email settings: {e}")))?;
        config.check()
    }

    /// Checks the settings: addresses parse, at least one recipient, a host name without
    /// spaces or a scheme, a port, `none` only for a loopback host, a timeout from 1 s to
    /// 10 min.
    pub fn check(&self) -> Result<CheckedEmailConfig, ConnectorError> {
        let host = self.smtp_host.trim();
        if host.is_empty() || host.contains(['/', ' ', '@']) || host.contains("://") {
            return Err(ConnectorError::Config(
                "smtp_host: give a host name such as smtp.example.org, without scheme or path"
                    .into(),
            ));
        }
        if self.smtp_port == 0 {
            return Err(ConnectorError::Config("smtp_port: 0 is not a port".into()));
        }
        if self.tls == TlsMode::None && !is_loopback_host(host) {
            return Err(ConnectorError::Config(
                "tls: \"none\" is allowed only for a relay on this machine (localhost); use starttls or implicit".into(),
            ));
        }
        if self.to.is_empty() {
            return Err(ConnectorError::Config(
                "to: give at least one recipient".into(),
            ));
        }
        let timeout = Duration::from_secs(self.timeout_secs.unwrap_or(30));
        if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(600) {
            return Err(ConnectorError::Config(
                "timeout_secs: between 1 and 600".into(),
            ));
        }
        Ok(CheckedEmailConfig {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: self.smtp_port,
            tls: self.tls,
            from: mailbox("from", &self.from)?,
            to: self
                .to
                .iter()
                .map(|t| mailbox("to", t))
                .collect::<Result<_, _>>()?,
            username: self.username.clone().filter(|u| !u.is_empty()),
            timeout,
        })
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::json;

    fn settings(tls: &str, host: &str) -> Value {
        json!({
            "smtp_host": host, "smtp_port": 587, "tls": tls,
            "from": "City Health <alerts@health.example>",
            "to": ["residents@lists.example", "Press <press@health.example>"],
            "username": "alerts"
        })
    }

    #[test]
    fn a_starttls_submission_server_with_two_recipients_is_accepted() {
        let c = EmailConfig::from_settings(&settings("starttls", "smtp.example.org")).unwrap();
        assert_eq!(c.tls, TlsMode::Starttls);
        assert_eq!(c.to.len(), 2);
        assert_eq!(c.from.email.to_string(), "alerts@health.example");
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    #[test]
    fn plain_smtp_is_refused_unless_the_relay_is_local() {
        assert!(matches!(
            EmailConfig::from_settings(&settings("none", "smtp.example.org")),
            Err(ConnectorError::Config(_))
        ));
        assert!(EmailConfig::from_settings(&settings("none", "127.0.0.1")).is_ok());
        assert!(EmailConfig::from_settings(&settings("none", "localhost")).is_ok());
    }

    #[test]
    fn bad_addresses_unknown_fields_and_empty_recipient_lists_are_refused() {
        let mut s = settings("implicit", "smtp.example.org");
        s["to"] = json!(["not an address"]);
        assert!(matches!(
            EmailConfig::from_settings(&s),
            Err(ConnectorError::Config(_))
        ));
        let mut s = settings("implicit", "smtp.example.org");
        s["to"] = json!([]);
        assert!(EmailConfig::from_settings(&s).is_err());
        let mut s = settings("implicit", "smtp.example.org");
        s["password"] = json!("hunter2");
        assert!(EmailConfig::from_settings(&s).is_err());
        let mut s = settings("tls13", "smtp.example.org");
        s["tls"] = json!("tls13");
        assert!(EmailConfig::from_settings(&s).is_err());
        assert!(
            EmailConfig::from_settings(&settings("starttls", "smtps://smtp.example.org")).is_err()
        );
    }
}
