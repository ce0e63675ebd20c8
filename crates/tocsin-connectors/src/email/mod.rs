//! Email over SMTP submission (lettre's async client): one sender, a list of recipients.
//!
//! Plain text, plus an HTML alternative when the post has one (or has images: they go
//! inline, `multipart/related` beside the HTML, each shown by an `<img src="cid:…">`
//! whose `alt` is its description, and the plain part lists the descriptions); a `Message-ID` derived
//! from the idempotency key, and `In-Reply-To`/`References` for thread updates, whose
//! subject is `Re: ` and the thread's first subject so mail clients thread them. The
//! recipients are in the envelope only (a Bcc: nobody sees the list; `To:` is the
//! sender). A recipient the server refuses does not stop the others: the rest get the
//! message and the refused ones are reported in the remote post's `extra`. Each SMTP step
//! is classified on its own: a failure before DATA is sent is safe to retry, a lost answer
//! after the final dot is `Unknown` (the message may have been delivered). TLS trusts a
//! [`TlsTrust`] (the system store and bundled roots by default; a private CA through
//! [`EmailConnector::with_tls_trust`]); a refused certificate is permanent.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::{Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::Error as SmtpError;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::time::Duration;
use tocsin_connector::tls::{certificate_problem, TlsTrust};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::{CheckedEmailConfig, EmailConfig, TlsMode};

/// Longest subject taken from the first line of the text (titles are used whole).
const SUBJECT_FROM_TEXT_CHARS: usize = 150;
/// Marks a drill in the subject line.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";

/// The `Message-ID` for an idempotency key: `<uuid@domain>`, the UUID (version 8) made
/// from the key's SHA-256, so every re-send of the same post carries the same id; the
/// domain is the sender's (RFC 5322 wants a domain the sender may speak for on the right,
/// and the key carries the installation id, so two installations never collide).
pub fn message_id(idempotency_key: &str, domain: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut bytes = [0u8; 16];
    for (b, d) in bytes.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    let uuid = uuid::Builder::from_custom_bytes(bytes).into_uuid();
    format!("<{}@{domain}>", uuid.hyphenated())
}

/// Text fit for one header line: control characters (line breaks included) become
/// spaces, runs of spaces collapse.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What this connector keeps in [`RemotePost::extra`]: the subject (so that thread
/// updates can answer it) and the recipients the server refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentMail {
    /// The message's subject.
    pub subject: String,
    /// Recipients refused at `RCPT TO`, with the server's reply code; the others got it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecipient>,
}

/// One recipient the server refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefusedRecipient {
    /// The address.
    pub address: String,
    /// The SMTP reply code (5xx: for good; 4xx: for now).
    pub code: u16,
}

impl SentMail {
    /// Reads what [`EmailConnector::post`] stored in a remote post's `extra`.
    pub fn from_remote(remote: &RemotePost) -> Option<SentMail> {
        serde_json::from_str(remote.extra.as_deref()?).ok()
    }
}

/// The subject: for a thread update, `Re: ` and the subject of the thread's first post
/// (as stored with it), so that mail clients thread the updates; otherwise the title, or
/// the text's first non-empty line (cut at 150 characters), with `[EXERCISE] ` in front
/// of a drill.
pub fn subject(post: &OutgoingPost) -> String {
    let thread_subject = post
        .thread_root
        .as_ref()
        .or(post.reply_to.as_ref())
        .and_then(SentMail::from_remote)
        .map(|sent| one_line(&sent.subject))
        .filter(|s| !s.is_empty());
    if let Some(first) = thread_subject {
        let bare = first
            .strip_prefix("Re: ")
            .map(str::to_string)
            .unwrap_or(first);
        return format!("Re: {bare}");
    }
    own_subject(post)
}

fn own_subject(post: &OutgoingPost) -> String {
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

/// Builds the message for `post`: From, To (the sender: recipients are Bcc, so none
/// sees the others), Subject, Message-ID, Date, and for thread updates In-Reply-To (the
/// previous post) and References (the thread's first post, then the previous one);
/// `text/plain`, or `multipart/alternative` with the HTML. The envelope holds the
/// recipients; no header names them.
pub fn build_message(
    config: &CheckedEmailConfig,
    post: &OutgoingPost,
) -> Result<Message, ConnectorError> {
    let mut builder = Message::builder()
        .from(config.from.clone())
        .to(config.from.clone())
        .subject(subject(post))
        .message_id(Some(message_id(
            &post.idempotency_key,
            config.from.email.domain(),
        )));
    for to in &config.to {
        builder = builder.bcc(to.clone());
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
    let built = match (&post.html, post.images.is_empty()) {
        (_, false) => builder.multipart(with_images(post)?),
        (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(
            post.text.clone(),
            html.clone(),
        )),
        (None, true) => builder.singlepart(SinglePart::plain(post.text.clone())),
    };
    built.map_err(|e| ConnectorError::Permanent(format!("cannot build the message: {e}")))
}

/// `multipart/alternative`: the text with the images' descriptions, then
/// `multipart/related` holding the HTML (the post's own, or its text made HTML) with an
/// `<img>` per image and the images themselves, inline, each under its Content-ID.
fn with_images(post: &OutgoingPost) -> Result<MultiPart, ConnectorError> {
    use lettre::message::header::ContentType;
    use lettre::message::Attachment;
    let mut plain = post.text.clone();
    let mut html = post
        .html
        .clone()
        .unwrap_or_else(|| format!("<p>{}</p>", html_escape(&post.text).replace('\n', "<br>")));
    let mut related = Vec::with_capacity(post.images.len());
    for (i, image) in post.images.iter().enumerate() {
        let n = i + 1;
        plain.push_str(&format!("\n\n[Image {n}: {}]", image.alt));
        let cid = format!(
            "image{n}.{}@tocsin",
            image.sha256.chars().take(16).collect::<String>()
        );
        html.push_str(&format!(
            "<p><img src=\"cid:{cid}\" alt=\"{}\" width=\"{}\" height=\"{}\"></p>",
            html_escape(&image.alt),
            image.width,
            image.height
        ));
        let kind = ContentType::parse(&image.media_type).map_err(|e| {
            ConnectorError::Permanent(format!("image {n} has an unusable type: {e}"))
        })?;
        related.push(Attachment::new_inline(cid).body(image.bytes.to_vec(), kind));
    }
    let mut inner = MultiPart::related().singlepart(SinglePart::html(html));
    for part in related {
        inner = inner.singlepart(part);
    }
    Ok(MultiPart::alternative()
        .singlepart(SinglePart::plain(plain))
        .multipart(inner))
}

/// Text made safe inside HTML (and inside a quoted attribute).
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The envelope: from the sender to the configured recipients only (lettre's own would
/// add the `To:` sender).
fn envelope(config: &CheckedEmailConfig) -> Result<Envelope, ConnectorError> {
    Envelope::new(
        Some(config.from.email.clone()),
        config.to.iter().map(|m| m.email.clone()).collect(),
    )
    .map_err(|e| ConnectorError::Config(format!("cannot address the message: {e}")))
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
    if let Some(problem) = certificate_problem(e) {
        return ConnectorError::Permanent(format!("{step}: {problem}"));
    }
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
    trust: TlsTrust,
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
        Ok(EmailConnector {
            config,
            password,
            trust: TlsTrust::system(),
        })
    }

    /// The same connector trusting `trust` for TLS (e.g. the operator's private CA in
    /// `[tls] extra_ca_files`) instead of the system store and bundled roots alone.
    pub fn with_tls_trust(mut self, trust: TlsTrust) -> Self {
        self.trust = trust;
        self
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

    /// TLS for the server's host name: the bundled roots, and the trust's system store
    /// and extra CAs.
    fn tls_parameters(&self) -> Result<TlsParameters, ConnectorError> {
        let mut builder = TlsParameters::builder(self.config.host.clone())
            .certificate_store(CertificateStore::WebpkiRoots);
        for root in self.trust.added_roots() {
            builder = builder.add_root_certificate(Certificate::from_der(root.to_vec()).map_err(
                |e| ConnectorError::Config(format!("cannot use a trusted certificate: {e}")),
            )?);
        }
        builder
            .build_rustls()
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
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            if !mechanisms
                .iter()
                .any(|m| conn.server_info().supports_auth_mechanism(*m))
            {
                abandon(conn, limit).await;
                return Err(ConnectorError::Config(
                    "the account has SMTP credentials but the server offers no AUTH PLAIN or LOGIN (after STARTTLS, if used): check the port and tls mode, or remove the username if this relay needs none".into(),
                ));
            }
            let credentials = Credentials::new(user.clone(), password.expose_secret().to_string());
            before_data(limit, "AUTH", conn.auth(&mechanisms, &credentials)).await?;
        }
        Ok(conn)
    }

    /// MAIL FROM, RCPT TO for each recipient, DATA, the message. A recipient the server
    /// refuses is left out and reported (the others still get the message); if it
    /// refuses them all, nothing is sent. Until DATA is accepted nothing can have been
    /// delivered; after the message is sent, only an explicit refusal is certain.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<Vec<RefusedRecipient>, ConnectorError> {
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
        let mut refused = Vec::new();
        for recipient in envelope.to() {
            let step = format!("RCPT TO <{recipient}>");
            let answer = tokio::time::timeout(
                limit,
                conn.command(Rcpt::new(recipient.clone(), Vec::new())),
            )
            .await;
            match answer {
                Ok(Ok(_)) => {}
                // Refused this one (but not "closing the connection"): go on with the rest.
                Ok(Err(e)) if e.status().is_some_and(|c| u16::from(c) != 421) => {
                    refused.push(RefusedRecipient {
                        address: recipient.to_string(),
                        code: e.status().map(u16::from).unwrap_or_default(),
                    });
                }
                Ok(Err(e)) => return Err(before_data_error(&step, &e)),
                Err(_) => {
                    return Err(ConnectorError::Transient(format!(
                        "{step}: no answer within {}s",
                        limit.as_secs()
                    )))
                }
            }
        }
        if refused.len() == envelope.to().len() {
            let codes: Vec<String> = refused
                .iter()
                .map(|r| format!("{} ({})", r.address, r.code))
                .collect();
            let what = format!("the server refused every recipient: {}", codes.join(", "));
            return Err(if refused.iter().any(|r| (400..500).contains(&r.code)) {
                ConnectorError::Transient(what)
            } else {
                ConnectorError::Permanent(what)
            });
        }
        before_data(limit, "DATA", conn.command(Data)).await?;
        match tokio::time::timeout(limit, conn.message(bytes)).await {
            Ok(Ok(_)) => Ok(refused),
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
        let envelope = envelope(&self.config)?;
        let bytes = message.formatted();
        let mut conn = self.open().await?;
        let result = self.transaction(&mut conn, &envelope, &bytes).await;
        match &result {
            Ok(_) => {
                // The message is accepted; a failing QUIT changes nothing.
                let _ = tokio::time::timeout(self.config.timeout, conn.quit()).await;
            }
            Err(_) => abandon(conn, self.config.timeout).await,
        }
        let refused = result?;
        if !refused.is_empty() {
            // Counts only: the addresses go to the record, not to the log.
            tracing::warn!(
                refused = refused.len(),
                recipients = envelope.to().len(),
                "the SMTP server refused some recipients; the others got the message"
            );
        }
        let sent = SentMail {
            subject: subject(post),
            refused,
        };
        Ok(PostOutcome::new(RemotePost {
            id: message_id(&post.idempotency_key, self.config.from.email.domain()),
            url: None,
            extra: serde_json::to_string(&sent).ok(),
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
