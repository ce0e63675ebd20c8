//! Email over SMTP submission (lettre's async client): one sender, a list of recipients.
//!
//! Plain text, plus an HTML alternative when the post has one; a `Message-ID` derived
//! from the idempotency key, and `In-Reply-To`/`References` for thread updates. Each SMTP
//! step is classified on its own: a failure before DATA is sent is safe to retry, a lost
//! answer after the final dot is `Unknown` (the message may have been delivered).

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::{Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::Error as SmtpError;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::time::Duration;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::{CheckedEmailConfig, EmailConfig, TlsMode};

/// Longest subject taken from the first line of the text (titles are used whole).
const SUBJECT_FROM_TEXT_CHARS: usize = 150;
/// Marks a drill in the subject line.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";

/// The `Message-ID` for an idempotency key: `<uuid@tocsin>`, the UUID (version 8) made
/// from the key's SHA-256, so every re-send of the same post carries the same id.
pub fn message_id(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut bytes = [0u8; 16];
    for (b, d) in bytes.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    let uuid = uuid::Builder::from_custom_bytes(bytes).into_uuid();
    format!("<{}@tocsin>", uuid.hyphenated())
}

/// Text fit for one header line: control characters (line breaks included) become
/// spaces, runs of spaces collapse.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The subject: the title, or the text's first non-empty line (cut at 150 characters),
/// with `[EXERCISE] ` in front of a drill.
pub fn subject(post: &OutgoingPost) -> String {
    let base = match post
        .title
        .as_deref()
        .map(one_line)
        .filter(|t| !t.is_empty())
    {
        Some(title) => title,
        None => {
            let first = post
                .text
                .lines()
                .map(one_line)
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            if first.chars().count() > SUBJECT_FROM_TEXT_CHARS {
                let cut: String = first.chars().take(SUBJECT_FROM_TEXT_CHARS - 1).collect();
                format!("{}…", cut.trim_end())
            } else {
                first
            }
        }
    };
    if post.exercise {
        format!("{EXERCISE_PREFIX}{base}")
    } else {
        base
    }
}

/// A message id in its `<...>` form, whatever form it was stored in.
fn angle(id: &str) -> String {
    let bare: String = one_line(id).replace(' ', "");
    let bare = bare.trim_start_matches('<').trim_end_matches('>');
    format!("<{bare}>")
}

/// Builds the message for `post`: From, To, Subject, Message-ID, Date, and for thread
/// updates In-Reply-To (the previous post) and References (the thread's first post,
/// then the previous one); `text/plain`, or `multipart/alternative` with the HTML.
pub fn build_message(
    config: &CheckedEmailConfig,
    post: &OutgoingPost,
) -> Result<Message, ConnectorError> {
    let mut builder = Message::builder()
        .from(config.from.clone())
        .subject(subject(post))
        .message_id(Some(message_id(&post.idempotency_key)));
    for to in &config.to {
        builder = builder.to(to.clone());
    }
    let parent = post
        .reply_to
        .as_ref()
        .or(post.thread_root.as_ref())
        .map(|p| angle(&p.id));
    let root = post
        .thread_root
        .as_ref()
        .or(post.reply_to.as_ref())
        .map(|r| angle(&r.id));
    if let Some(parent) = &parent {
        builder = builder.in_reply_to(parent.clone());
    }
    let mut references: Vec<String> = root.into_iter().collect();
    if let Some(parent) = parent {
        if !references.contains(&parent) {
            references.push(parent);
        }
    }
    if !references.is_empty() {
        builder = builder.references(references.join(" "));
    }
    let built = match &post.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            post.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(post.text.clone())),
    };
    built.map_err(|e| ConnectorError::Permanent(format!("cannot build the message: {e}")))
}

/// An SMTP error's text, safe for a record: printable, at most 300 characters. lettre's
/// texts hold the server's reply and the I/O error, never the credentials.
fn describe(e: &SmtpError) -> String {
    let text: String = e
        .to_string()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    text.trim().to_string()
}

/// Reply codes that mean the credentials were refused or authentication is needed:
/// 530 authentication required, 534 mechanism too weak, 535 invalid credentials,
/// 538 encryption required for the mechanism.
fn is_auth_code(code: u16) -> bool {
    matches!(code, 530 | 534 | 535 | 538)
}

/// A failure before the message was sent: nothing was delivered, so a 4xx or a broken
/// connection is worth retrying.
fn before_data_error(step: &str, e: &SmtpError) -> ConnectorError {
    let what = format!("{step}: {}", describe(e));
    if let Some(code) = e.status().map(u16::from) {
        return match code {
            400..=499 => ConnectorError::Transient(what),
            c if is_auth_code(c) => ConnectorError::Auth(what),
            _ => ConnectorError::Permanent(what),
        };
    }
    if e.is_client() {
        // lettre refusing locally: no common AUTH mechanism, no STARTTLS, ...
        return ConnectorError::Config(what);
    }
    ConnectorError::Transient(what)
}

/// Runs one SMTP step before DATA within `limit`.
async fn before_data<T>(
    limit: Duration,
    step: &str,
    exchange: impl Future<Output = Result<T, SmtpError>>,
) -> Result<T, ConnectorError> {
    match tokio::time::timeout(limit, exchange).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(before_data_error(step, &e)),
        Err(_) => Err(ConnectorError::Transient(format!(
            "{step}: no answer within {}s",
            limit.as_secs()
        ))),
    }
}

/// Closes a connection after a failure: QUIT if the server still answers (bounded, as
/// a silent server would otherwise hold us), then the socket is dropped.
async fn abandon(mut conn: AsyncSmtpConnection, limit: Duration) {
    let _ = tokio::time::timeout(limit.min(Duration::from_secs(5)), conn.abort()).await;
}

/// One email destination.
pub struct EmailConnector {
    config: CheckedEmailConfig,
    password: Option<SecretString>,
}

impl std::fmt::Debug for EmailConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConnector")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("tls", &self.config.tls)
            .finish_non_exhaustive()
    }
}

impl EmailConnector {
    /// A connector for `config`; `password` is required when a user name is set.
    pub fn new(
        config: CheckedEmailConfig,
        password: Option<SecretString>,
    ) -> Result<Self, ConnectorError> {
        if config.username.is_some() && password.is_none() {
            return Err(ConnectorError::Config(
                "username is set but the account has no SMTP password".into(),
            ));
        }
        if config.username.is_none() && password.is_some() {
            return Err(ConnectorError::Config(
                "the account has an SMTP password but no username".into(),
            ));
        }
        Ok(EmailConnector { config, password })
    }

    /// Builds the connector from an account: settings checked by [`EmailConfig`], the
    /// secret is the SMTP password.
    pub fn from_spec(spec: &AccountSpec) -> Result<Self, ConnectorError> {
        EmailConnector::new(
            EmailConfig::from_settings(&spec.settings)?,
            spec.secret.clone(),
        )
    }

    /// The checked settings.
    pub fn config(&self) -> &CheckedEmailConfig {
        &self.config
    }

    fn tls_parameters(&self) -> Result<TlsParameters, ConnectorError> {
        TlsParameters::new(self.config.host.clone())
            .map_err(|e| ConnectorError::Config(format!("cannot set up TLS: {}", describe(&e))))
    }

    /// Connects, secures the connection as configured, and authenticates.
    async fn open(&self) -> Result<AsyncSmtpConnection, ConnectorError> {
        let limit = self.config.timeout;
        let hello = ClientId::default();
        let implicit = match self.config.tls {
            TlsMode::Implicit => Some(self.tls_parameters()?),
            TlsMode::Starttls | TlsMode::None => None,
        };
        let server = (self.config.host.as_str(), self.config.port);
        let mut conn = before_data(
            limit,
            "connecting",
            AsyncSmtpConnection::connect_tokio1(server, Some(limit), &hello, implicit, None),
        )
        .await?;
        if self.config.tls == TlsMode::Starttls {
            if !conn.can_starttls() {
                abandon(conn, limit).await;
                return Err(ConnectorError::Config(
                    "the SMTP server does not offer STARTTLS (wrong port, or the offer was stripped on the way)".into(),
                ));
            }
            let parameters = self.tls_parameters()?;
            before_data(limit, "STARTTLS", conn.starttls(parameters, &hello)).await?;
        }
        if let (Some(user), Some(password)) = (&self.config.username, &self.password) {
            let credentials = Credentials::new(user.clone(), password.expose_secret().to_string());
            before_data(
                limit,
                "AUTH",
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            )
            .await?;
        }
        Ok(conn)
    }

    /// MAIL FROM, RCPT TO for each recipient, DATA, the message. Until DATA is accepted
    /// nothing can have been delivered; after the message is sent, only an explicit
    /// refusal from the server is certain.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<(), ConnectorError> {
        let limit = self.config.timeout;
        let mut parameters = Vec::new();
        let non_ascii_address = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(ConnectorError::Permanent(
                    "an address is not ASCII and the server does not offer SMTPUTF8".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(ConnectorError::Permanent(
                    "the message is not ASCII and the server does not offer 8BITMIME".into(),
                ));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        before_data(
            limit,
            "MAIL FROM",
            conn.command(Mail::new(envelope.from().cloned(), parameters)),
        )
        .await?;
        for recipient in envelope.to() {
            let step = format!("RCPT TO <{recipient}>");
            before_data(
                limit,
                &step,
                conn.command(Rcpt::new(recipient.clone(), Vec::new())),
            )
            .await?;
        }
        before_data(limit, "DATA", conn.command(Data)).await?;
        match tokio::time::timeout(limit, conn.message(bytes)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(match e.status().map(u16::from) {
                Some(code @ 400..=499) => ConnectorError::Transient(format!(
                    "the server refused the message after receiving it (SMTP {code}): {}",
                    describe(&e)
                )),
                Some(code) => ConnectorError::Permanent(format!(
                    "the server refused the message after receiving it (SMTP {code}): {}",
                    describe(&e)
                )),
                None => ConnectorError::Unknown(format!(
                    "the message was sent but the server's answer was lost ({}); it may have been delivered",
                    describe(&e)
                )),
            }),
            Err(_) => Err(ConnectorError::Unknown(format!(
                "the message was sent but the server did not confirm it within {}s; it may have been delivered",
                limit.as_secs()
            ))),
        }
    }
}

#[async_trait]
impl Connector for EmailConnector {
    fn platform(&self) -> Platform {
        Platform::Email
    }

    /// The same Message-ID goes with every re-send, but mailboxes are not bound to drop
    /// a duplicate: an unknown outcome needs a human, not a blind re-send.
    fn idempotent(&self) -> bool {
        false
    }

    /// Sent mail cannot be recalled: retraction sends a correction instead.
    fn can_delete(&self) -> bool {
        false
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let message = build_message(&self.config, post)?;
        let bytes = message.formatted();
        let mut conn = self.open().await?;
        let result = self
            .transaction(&mut conn, message.envelope(), &bytes)
            .await;
        match &result {
            Ok(()) => {
                // The message is accepted; a failing QUIT changes nothing.
                let _ = tokio::time::timeout(self.config.timeout, conn.quit()).await;
            }
            Err(_) => abandon(conn, self.config.timeout).await,
        }
        result?;
        Ok(PostOutcome::new(RemotePost {
            id: message_id(&post.idempotency_key),
            url: None,
            extra: None,
        }))
    }

    async fn delete(&self, _remote: &RemotePost) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "sent email cannot be recalled; send a correction instead".into(),
        ))
    }

    /// There is no mailbox to search: an email's fate cannot be looked up.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "email cannot be looked up after sending; ask a person to check a recipient's mailbox"
                .into(),
        ))
    }

    /// Connects, secures, authenticates, sends NOOP and QUIT.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        let mut conn = self.open().await?;
        let limit = self.config.timeout;
        let alive = tokio::time::timeout(limit, conn.test_connected())
            .await
            .unwrap_or(false);
        let _ = tokio::time::timeout(limit, conn.quit()).await;
        if alive {
            Ok(())
        } else {
            Err(ConnectorError::Transient(
                "the SMTP server did not answer NOOP".into(),
            ))
        }
    }
}
