//! A fake SMTP submission server: enough of RFC 5321 for a real client, over loopback.
//!
//! 220 greeting, EHLO/HELO, optional AUTH PLAIN and LOGIN, MAIL FROM, RCPT TO, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT. It records each message's raw bytes, and can be told
//! (one-shot [`SmtpFault`]s) to answer any stage with a 4xx or 5xx code, or to take a
//! message and then drop the connection or never answer, as a real server sometimes does.
//! As aiosmtpd and real submission servers do, it refuses unknown mailboxes with 550 at
//! `RCPT TO` ([`SmtpState::reject_recipient`]) while taking the others, and a client that
//! sends `AUTH` to a server offering none gets 503.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Longest command line accepted.
const MAX_COMMAND: u64 = 4096;
/// Longest line inside DATA (RFC 5321 says 1000; be lenient, but bounded).
const MAX_DATA_LINE: u64 = 64 * 1024;
/// Largest message accepted.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Where in a session a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStage {
    /// Instead of the 220 greeting.
    Greeting,
    /// The answer to EHLO/HELO.
    Ehlo,
    /// The answer to AUTH.
    Auth,
    /// The answer to MAIL FROM.
    MailFrom,
    /// The answer to RCPT TO.
    RcptTo,
    /// The answer to the DATA command (before the message is sent).
    Data,
    /// The final answer, after the message's terminating dot.
    EndOfData,
}

/// One scripted misbehaviour, used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpFault {
    /// Answer `stage` with this code (421 also closes the connection, as servers do).
    Reply {
        /// When.
        stage: SmtpStage,
        /// The reply code: 421/450/451/452 transient, 530/535/550/552/553/554 permanent.
        code: u16,
    },
    /// Receive the whole message (it counts as accepted: the server has it), then close
    /// the connection without the final answer.
    DropAfterData,
    /// Receive the whole message, then never answer (the client's timeout decides).
    SilentAfterData,
}

impl SmtpFault {
    fn stage(&self) -> SmtpStage {
        match self {
            SmtpFault::Reply { stage, .. } => *stage,
            SmtpFault::DropAfterData | SmtpFault::SilentAfterData => SmtpStage::EndOfData,
        }
    }
}

/// A message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The MAIL FROM address.
    pub mail_from: String,
    /// The RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// The message, dot-unstuffed, without the terminating dot line.
    pub raw: Vec<u8>,
    /// Whether the server took responsibility for it (answered 250, or would have).
    pub accepted: bool,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The raw message as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// The header section, unfolded: `(name, value)` in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.to_string()));
            }
        }
        headers
            .into_iter()
            .map(|(n, v)| (n, v.trim().to_string()))
            .collect()
    }

    /// The first header with this name (case-insensitive), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Everything after the header section.
    pub fn body(&self) -> String {
        let text = self.text();
        text.split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default()
    }
}

/// What the server was told to do and what it received.
#[derive(Debug, Default)]
pub struct SmtpState {
    faults: Mutex<VecDeque<SmtpFault>>,
    mail: Mutex<Vec<ReceivedMail>>,
    commands: Mutex<Vec<String>>,
    credentials: Option<(String, String)>,
    sessions: AtomicUsize,
    latency: Mutex<Duration>,
    rejected: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SmtpState {
    /// Queues a fault; it applies once, the next time its stage is reached.
    pub fn push_fault(&self, fault: SmtpFault) {
        lock(&self.faults).push_back(fault);
    }

    /// Every message received (accepted or not), in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.mail).clone()
    }

    /// The messages the server took responsibility for.
    pub fn accepted(&self) -> Vec<ReceivedMail> {
        self.messages().into_iter().filter(|m| m.accepted).collect()
    }

    /// Every command line received (AUTH arguments masked), in order.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.commands).clone()
    }

    /// Waits this long before accepting each message (after its data arrived), as a
    /// distant or busy server would; benchmarks use it.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// Refuses this recipient with `550 5.1.1` at `RCPT TO` from now on (an unknown
    /// mailbox); the others in the same transaction are still taken.
    pub fn reject_recipient(&self, address: &str) {
        lock(&self.rejected).push(address.to_ascii_lowercase());
    }

    /// How many connections were opened.
    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    fn take_fault(&self, stage: SmtpStage) -> Option<SmtpFault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| f.stage() == stage)?;
        faults.remove(index)
    }
}

/// A running fake SMTP server on `127.0.0.1`, stopped when dropped.
pub struct FakeSmtp {
    /// Its address.
    pub addr: SocketAddr,
    /// Faults and recordings.
    pub state: Arc<SmtpState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeSmtp {
    /// A server that needs no authentication.
    pub async fn start() -> std::io::Result<FakeSmtp> {
        Self::serve(SmtpState::default()).await
    }

    /// A server that advertises AUTH PLAIN LOGIN and accepts only this user and password
    /// (MAIL before authenticating is refused with 530).
    pub async fn with_credentials(user: &str, password: &str) -> std::io::Result<FakeSmtp> {
        Self::serve(SmtpState {
            credentials: Some((user.to_string(), password.to_string())),
            ..SmtpState::default()
        })
        .await
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    async fn serve(state: SmtpState) -> std::io::Result<FakeSmtp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(state);
        let (tx, mut rx) = oneshot::channel::<()>();
        let accepting = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = accepting.clone();
                        tokio::spawn(async move {
                            let _ = session(stream, state).await;
                        });
                    }
                }
            }
        });
        Ok(FakeSmtp {
            addr,
            state,
            shutdown: Some(tx),
        })
    }
}

fn reply_text(code: u16) -> &'static str {
    match code {
        421 => "4.3.2 Service not available, closing transmission channel",
        450 => "4.2.1 Mailbox busy, try again later",
        451 => "4.3.0 Local error in processing, try again later",
        452 => "4.3.1 Insufficient system storage",
        530 => "5.7.0 Authentication required",
        535 => "5.7.8 Authentication credentials invalid",
        550 => "5.1.1 Mailbox unavailable",
        552 => "5.3.4 Message too big",
        553 => "5.1.3 Mailbox name not allowed",
        554 => "5.7.1 Transaction failed",
        _ => "Scripted reply",
    }
}

async fn say(out: &mut OwnedWriteHalf, code: u16, text: &str) -> std::io::Result<()> {
    out.write_all(format!("{code} {text}\r\n").as_bytes())
        .await?;
    out.flush().await
}

/// A line, CRLF included; `None` at end of stream; an error if longer than `max`.
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    max: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(max)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(Some(line))
}

fn trim_crlf(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

/// The address between `<` and `>` in `MAIL FROM:<a@b> ...` or `RCPT TO:<a@b>`.
fn angle_address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line
        .get(start..)
        .and_then(|rest| rest.find('>'))
        .map_or(line.len(), |i| start + i);
    line.get(start..end).unwrap_or_default().to_string()
}

fn decode64(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

struct Session {
    state: Arc<SmtpState>,
    reader: BufReader<OwnedReadHalf>,
    out: OwnedWriteHalf,
    authenticated_as: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// What to do after a command.
enum Next {
    Continue,
    Close,
}

async fn session(stream: TcpStream, state: Arc<SmtpState>) -> std::io::Result<()> {
    state.sessions.fetch_add(1, Ordering::SeqCst);
    let (read, out) = stream.into_split();
    let mut s = Session {
        state,
        reader: BufReader::new(read),
        out,
        authenticated_as: None,
        mail_from: None,
        rcpt_to: Vec::new(),
    };
    if let Some(SmtpFault::Reply { code, .. }) = s.state.take_fault(SmtpStage::Greeting) {
        say(&mut s.out, code, reply_text(code)).await?;
        return Ok(());
    }
    say(&mut s.out, 220, "fake.smtp.test ESMTP Tocsin test server").await?;
    loop {
        let Some(line) = read_line(&mut s.reader, MAX_COMMAND).await? else {
            return Ok(());
        };
        let line = trim_crlf(&line);
        match s.command(&line).await? {
            Next::Continue => {}
            Next::Close => return Ok(()),
        }
    }
}

impl Session {
    /// Answers with a scripted fault for `stage` if one is queued: `Some(next)` then.
    async fn scripted(&mut self, stage: SmtpStage) -> std::io::Result<Option<Next>> {
        match self.state.take_fault(stage) {
            Some(SmtpFault::Reply { code, .. }) => {
                say(&mut self.out, code, reply_text(code)).await?;
                Ok(Some(if code == 421 {
                    Next::Close
                } else {
                    Next::Continue
                }))
            }
            Some(other) => {
                // Not a fault for this stage's answer; put it back.
                self.state.push_fault(other);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn command(&mut self, line: &str) -> std::io::Result<Next> {
        let upper = line.to_ascii_uppercase();
        let verb = upper
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let recorded = if verb == "AUTH" {
            format!(
                "AUTH {} ***",
                upper.split_whitespace().nth(1).unwrap_or_default()
            )
        } else {
            line.to_string()
        };
        lock(&self.state.commands).push(recorded);
        match verb.as_str() {
            "EHLO" | "HELO" => {
                if let Some(next) = self.scripted(SmtpStage::Ehlo).await? {
                    return Ok(next);
                }
                let mut lines = vec![
                    "250-fake.smtp.test greets you".to_string(),
                    "250-8BITMIME".into(),
                ];
                if self.state.credentials.is_some() {
                    lines.push("250-AUTH PLAIN LOGIN".into());
                }
                lines.push("250 SIZE 16777216".into());
                self.out
                    .write_all(format!("{}\r\n", lines.join("\r\n")).as_bytes())
                    .await?;
                self.out.flush().await?;
                Ok(Next::Continue)
            }
            "AUTH" => self.auth(line).await,
            "MAIL" => {
                if let Some(next) = self.scripted(SmtpStage::MailFrom).await? {
                    return Ok(next);
                }
                if self.state.credentials.is_some() && self.authenticated_as.is_none() {
                    say(&mut self.out, 530, reply_text(530)).await?;
                    return Ok(Next::Continue);
                }
                self.mail_from = Some(angle_address(line));
                self.rcpt_to.clear();
                say(&mut self.out, 250, "2.1.0 OK").await?;
                Ok(Next::Continue)
            }
            "RCPT" => {
                if self.mail_from.is_none() {
                    say(&mut self.out, 503, "5.5.1 Bad sequence of commands").await?;
                    return Ok(Next::Continue);
                }
                if let Some(next) = self.scripted(SmtpStage::RcptTo).await? {
                    return Ok(next);
                }
                let address = angle_address(line);
                if lock(&self.state.rejected).contains(&address.to_ascii_lowercase()) {
                    say(
                        &mut self.out,
                        550,
                        &format!("5.1.1 <{address}>: Recipient address rejected: User unknown"),
                    )
                    .await?;
                    return Ok(Next::Continue);
                }
                self.rcpt_to.push(address);
                say(&mut self.out, 250, "2.1.5 OK").await?;
                Ok(Next::Continue)
            }
            "DATA" => self.data().await,
            "RSET" => {
                self.mail_from = None;
                self.rcpt_to.clear();
                say(&mut self.out, 250, "2.0.0 OK").await?;
                Ok(Next::Continue)
            }
            "NOOP" => {
                say(&mut self.out, 250, "2.0.0 OK").await?;
                Ok(Next::Continue)
            }
            "QUIT" => {
                say(&mut self.out, 221, "2.0.0 Bye").await?;
                Ok(Next::Close)
            }
            "STARTTLS" => {
                say(&mut self.out, 454, "4.7.0 TLS not available").await?;
                Ok(Next::Continue)
            }
            _ => {
                say(&mut self.out, 502, "5.5.2 Command not recognized").await?;
                Ok(Next::Continue)
            }
        }
    }

    /// Reads one base64 line answering a 334 challenge.
    async fn challenge(&mut self, prompt: &str) -> std::io::Result<Option<String>> {
        say(&mut self.out, 334, prompt).await?;
        Ok(read_line(&mut self.reader, MAX_COMMAND)
            .await?
            .and_then(|l| decode64(&trim_crlf(&l))))
    }

    async fn auth(&mut self, line: &str) -> std::io::Result<Next> {
        let Some((user, password)) = self.state.credentials.clone() else {
            say(&mut self.out, 503, "5.5.1 AUTH not available").await?;
            return Ok(Next::Continue);
        };
        if let Some(next) = self.scripted(SmtpStage::Auth).await? {
            return Ok(next);
        }
        let mut words = line.split_whitespace().skip(1);
        let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
        let initial = words.next().map(str::to_string);
        let given: Option<(String, String)> = match mechanism.as_str() {
            "PLAIN" => {
                let decoded = match initial {
                    Some(i) => decode64(&i),
                    None => self.challenge("").await?,
                };
                decoded.and_then(|d| {
                    let mut parts = d.split('\0').skip(1);
                    Some((parts.next()?.to_string(), parts.next()?.to_string()))
                })
            }
            "LOGIN" => {
                let name = match initial {
                    Some(i) => decode64(&i),
                    None => self.challenge("VXNlcm5hbWU6").await?,
                };
                let pass = self.challenge("UGFzc3dvcmQ6").await?;
                name.zip(pass)
            }
            _ => {
                say(&mut self.out, 504, "5.5.4 Unrecognized authentication type").await?;
                return Ok(Next::Continue);
            }
        };
        if given.as_ref() == Some(&(user.clone(), password)) {
            self.authenticated_as = Some(user);
            say(&mut self.out, 235, "2.7.0 Authentication successful").await?;
        } else {
            say(&mut self.out, 535, reply_text(535)).await?;
        }
        Ok(Next::Continue)
    }

    async fn data(&mut self) -> std::io::Result<Next> {
        if self.mail_from.is_none() || self.rcpt_to.is_empty() {
            say(&mut self.out, 503, "5.5.1 Bad sequence of commands").await?;
            return Ok(Next::Continue);
        }
        if let Some(next) = self.scripted(SmtpStage::Data).await? {
            return Ok(next);
        }
        say(
            &mut self.out,
            354,
            "Start mail input; end with <CRLF>.<CRLF>",
        )
        .await?;
        let mut raw = Vec::new();
        loop {
            let Some(line) = read_line(&mut self.reader, MAX_DATA_LINE).await? else {
                return Ok(Next::Close);
            };
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            // Dot-unstuffing: a leading dot was doubled by the client.
            let line = line.strip_prefix(b".").unwrap_or(&line);
            if raw.len() + line.len() > MAX_MESSAGE {
                say(&mut self.out, 552, reply_text(552)).await?;
                return Ok(Next::Close);
            }
            raw.extend_from_slice(line);
        }
        // The terminating CRLF before the dot belongs to the protocol, not the message.
        if raw.ends_with(b"\r\n") {
            raw.truncate(raw.len() - 2);
        }
        let mut mail = ReceivedMail {
            mail_from: self.mail_from.take().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            raw,
            accepted: true,
            auth_user: self.authenticated_as.clone(),
        };
        match self.state.take_fault(SmtpStage::EndOfData) {
            Some(SmtpFault::Reply { code, .. }) => {
                mail.accepted = false;
                lock(&self.state.mail).push(mail);
                say(&mut self.out, code, reply_text(code)).await?;
                Ok(if code == 421 {
                    Next::Close
                } else {
                    Next::Continue
                })
            }
            Some(SmtpFault::DropAfterData) => {
                lock(&self.state.mail).push(mail);
                Ok(Next::Close)
            }
            Some(SmtpFault::SilentAfterData) => {
                lock(&self.state.mail).push(mail);
                // Hold the connection open, answering nothing, until the client leaves.
                let mut sink = Vec::new();
                let _ = (&mut self.reader)
                    .take(MAX_MESSAGE as u64)
                    .read_to_end(&mut sink)
                    .await;
                Ok(Next::Close)
            }
            None => {
                let latency = *lock(&self.state.latency);
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                let n = {
                    let mut all = lock(&self.state.mail);
                    all.push(mail);
                    all.len()
                };
                say(&mut self.out, 250, &format!("2.0.0 OK: queued as {n}")).await?;
                Ok(Next::Continue)
            }
        }
    }
}
