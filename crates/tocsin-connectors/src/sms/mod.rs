//! SMS through Twilio: `POST {api}/2010-04-01/Accounts/{AccountSid}/Messages.json` (form
//! `To`, `From` or `MessagingServiceSid`, `Body`; HTTP basic auth), one message per listed
//! recipient. A post succeeds only when every recipient got theirs; a retry skips those
//! already sent under the same idempotency key: each recipient sent is recorded in the
//! post's ledger (the outbox, by a hash of the number) as it goes, so a claim taken over
//! after a crash resumes with the recipients not yet sent. Segments are counted and reported; an SMS
//! cannot be recalled.

pub mod config;
mod descriptor;

#[cfg(test)]
mod tests;

pub use descriptor::DESCRIPTOR;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tocsin_connector::http::{printable, redact_urls, HttpClient, Reply};
use tocsin_connector::rate_limit::retry_after;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::counting::{sms_info, SmsInfo};
use tocsin_domain::Platform;

use crate::account::AccountSpec;
pub use config::{masked, SmsConfig};

/// Longest body Twilio accepts, in characters (error 21617 beyond).
pub const MAX_BODY_CHARS: usize = 1600;
/// Put in front of an exercise (drill), so nobody mistakes it for a real alert.
pub const EXERCISE_PREFIX: &str = "[EXERCISE] ";
/// Idempotency keys whose sent recipients are remembered (so a retry skips them).
const REMEMBERED_KEYS: usize = 512;

/// One recipient's message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    to: String,
    sid: String,
}

/// One Twilio account sending to a list of recipients.
pub struct SmsConnector {
    http: HttpClient,
    config: SmsConfig,
    secret: SecretString,
    /// Recipients already sent, per idempotency key, most recent keys last.
    sent: Mutex<VecDeque<(String, Vec<Sent>)>>,
}

impl std::fmt::Debug for SmsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConnector")
            .field("account_sid", &self.config.account_sid)
            .field("recipients", &self.config.to.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Message {
    sid: String,
}

/// Twilio's error body: `{code, message, more_info, status}`.
#[derive(Debug, Deserialize)]
struct TwilioError {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// How a recipient is named in the ledger: the first 16 bytes of the SHA-256 of the
/// number, in hex (the number itself stays in the account's settings only).
fn part_of(to: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(to.trim().as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The body as sent: an exercise carries [`EXERCISE_PREFIX`].
pub fn sent_text(post: &OutgoingPost) -> String {
    if post.exercise {
        format!("{EXERCISE_PREFIX}{}", post.text)
    } else {
        post.text.clone()
    }
}

fn describe_segments(info: &SmsInfo) -> String {
    format!(
        "{} segment{} ({}, {} {})",
        info.segments,
        if info.segments == 1 { "" } else { "s" },
        info.encoding.label(),
        info.units,
        info.encoding.unit_label()
    )
}

/// Which failure decides the account's error: one that a retry may fix first.
fn rank(e: &ConnectorError) -> u8 {
    match e {
        ConnectorError::Unknown(_) => 0,
        ConnectorError::RateLimited { .. } => 1,
        ConnectorError::Transient(_) => 2,
        ConnectorError::Auth(_) => 3,
        ConnectorError::Config(_) => 4,
        ConnectorError::Permanent(_) | ConnectorError::Unsupported(_) => 5,
    }
}

/// The words inside an error.
fn reason(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Transient(r)
        | ConnectorError::Unknown(r)
        | ConnectorError::Permanent(r)
        | ConnectorError::Auth(r)
        | ConnectorError::Config(r)
        | ConnectorError::Unsupported(r)
        | ConnectorError::RateLimited { reason: r, .. } => r.clone(),
    }
}

fn with_reason(e: &ConnectorError, reason: String) -> ConnectorError {
    match e {
        ConnectorError::Transient(_) => ConnectorError::Transient(reason),
        ConnectorError::RateLimited { retry_after, .. } => ConnectorError::RateLimited {
            retry_after: *retry_after,
            reason,
        },
        ConnectorError::Unknown(_) => ConnectorError::Unknown(reason),
        ConnectorError::Permanent(_) => ConnectorError::Permanent(reason),
        ConnectorError::Auth(_) => ConnectorError::Auth(reason),
        ConnectorError::Config(_) => ConnectorError::Config(reason),
        ConnectorError::Unsupported(_) => ConnectorError::Unsupported(reason),
    }
}

impl SmsConnector {
    /// A connector for `config` authenticating with `secret` (the auth token, or the API
    /// key's secret when `api_key_sid` is set).
    pub fn new(http: HttpClient, config: SmsConfig, secret: SecretString) -> Self {
        SmsConnector {
            http,
            config,
            secret,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Builds the connector from an account: settings checked by [`SmsConfig`], the
    /// secret is the auth token (or API key secret).
    pub fn from_spec(spec: &AccountSpec, http: &HttpClient) -> Result<Self, ConnectorError> {
        let config = SmsConfig::from_settings(&spec.settings)?;
        let secret = spec.secret.clone().ok_or_else(|| {
            ConnectorError::Config(format!("SMS account {} has no Twilio auth token", spec.id))
        })?;
        Ok(SmsConnector::new(http.clone(), config, secret))
    }

    /// The account's settings.
    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    fn memory(&self) -> MutexGuard<'_, VecDeque<(String, Vec<Sent>)>> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn already_sent(&self, key: &str) -> Vec<Sent> {
        self.memory()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    fn remember(&self, key: &str, sent: Sent) {
        let mut memory = self.memory();
        if let Some((_, list)) = memory.iter_mut().find(|(k, _)| k == key) {
            list.push(sent);
            return;
        }
        if memory.len() >= REMEMBERED_KEYS {
            memory.pop_front();
        }
        memory.push_back((key.to_string(), vec![sent]));
    }

    fn authorized(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let user = self
            .config
            .api_key_sid
            .as_deref()
            .unwrap_or(&self.config.account_sid);
        self.http
            .request(
                method,
                &format!(
                    "{}/2010-04-01/Accounts/{}{path}",
                    self.config.api_url, self.config.account_sid
                ),
            )
            .basic_auth(user, Some(self.secret.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn send_one(&self, to: &str, body: &str) -> Result<String, ConnectorError> {
        let mut form = vec![("To", to), ("Body", body)];
        match (&self.config.from, &self.config.messaging_service_sid) {
            (_, Some(service)) => form.push(("MessagingServiceSid", service)),
            (Some(from), None) => form.push(("From", from)),
            (None, None) => {
                return Err(ConnectorError::Config(
                    "no sender: set from or messaging_service_sid".into(),
                ))
            }
        }
        let request = self.authorized(Method::POST, "/Messages.json").form(&form);
        let reply = self.http.send(request, true).await?;
        if !reply.status.is_success() {
            // Twilio's words may quote the number: keep only its last digits.
            let e = error_for(&reply);
            return Err(with_reason(&e, reason(&e).replace(to, &masked(to))));
        }
        let message: Message = reply.json()?;
        let ok = message.sid.len() <= 64 && message.sid.chars().all(|c| c.is_ascii_alphanumeric());
        if ok {
            Ok(message.sid)
        } else {
            Err(ConnectorError::Unknown(
                "Twilio answered with an odd message sid".into(),
            ))
        }
    }
}

#[async_trait]
impl Connector for SmsConnector {
    fn platform(&self) -> Platform {
        Platform::Sms
    }

    /// An SMS cannot be recalled: retraction sends a correction as a new SMS.
    fn can_delete(&self) -> bool {
        false
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        let body = sent_text(post);
        let info = sms_info(&body);
        let segments = describe_segments(&info);
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(ConnectorError::Permanent(format!(
                "the SMS has {chars} characters, {segments}; Twilio takes at most {MAX_BODY_CHARS}"
            )));
        }
        let key = post.idempotency_key.as_str();
        if let Some(ledger) = &post.ledger.0 {
            // Without knowing who was texted, texting again could double it: wait.
            let stored = ledger.sent_parts().await.map_err(|e| {
                ConnectorError::Transient(format!("reading which recipients were sent: {e}"))
            })?;
            let already = self.already_sent(key);
            for to in &self.config.to {
                let part = part_of(to);
                let found = stored.iter().find(|(p, _)| *p == part);
                if let Some((_, sid)) = found {
                    if !already.iter().any(|s| &s.to == to) {
                        self.remember(
                            key,
                            Sent {
                                to: to.clone(),
                                sid: sid.clone(),
                            },
                        );
                    }
                }
            }
        }
        let mut failures: Vec<(String, ConnectorError)> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        let mut stop = false;
        for to in &self.config.to {
            if self.already_sent(key).iter().any(|s| &s.to == to) {
                continue;
            }
            if stop {
                skipped.push(masked(to));
                continue;
            }
            match self.send_one(to, &body).await {
                Ok(sid) => {
                    if let Some(ledger) = &post.ledger.0 {
                        if let Err(e) = ledger.part_sent(&part_of(to), &sid).await {
                            tracing::warn!(recipient = %masked(to), error = %e, "could not record an SMS as sent; a retry after a crash may text this recipient again");
                        }
                    }
                    self.remember(
                        key,
                        Sent {
                            to: to.clone(),
                            sid,
                        },
                    );
                }
                Err(e) => {
                    // Every further request would meet the same refusal.
                    stop = matches!(
                        e,
                        ConnectorError::RateLimited { .. }
                            | ConnectorError::Auth(_)
                            | ConnectorError::Config(_)
                    );
                    failures.push((masked(to), e));
                }
            }
        }
        let sent = self.already_sent(key);
        let sent_list = sent
            .iter()
            .map(|s| format!("{} ({})", masked(&s.to), s.sid))
            .collect::<Vec<_>>()
            .join(", ");
        let worst = failures
            .iter()
            .map(|(_, e)| e)
            .min_by_key(|e| rank(e))
            .cloned();
        if let Some(worst) = worst {
            let failed = failures
                .iter()
                .map(|(to, e)| format!("{to}: {e}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut reason = format!(
                "SMS failed for {} of {} recipients ({failed})",
                failures.len() + skipped.len(),
                self.config.to.len()
            );
            if !skipped.is_empty() {
                reason.push_str(&format!("; not attempted: {}", skipped.join(", ")));
            }
            if !sent.is_empty() {
                reason.push_str(&format!("; already sent (skipped on retry): {sent_list}"));
            }
            reason.push_str(&format!("; each message is {segments}"));
            tracing::warn!(
                failed = failures.len(),
                sent = sent.len(),
                segments = info.segments,
                "SMS send incomplete"
            );
            return Err(with_reason(&worst, reason));
        }
        tracing::info!(
            recipients = sent.len(),
            segments_each = info.segments,
            segments_total = u64::from(info.segments) * sent.len() as u64,
            encoding = info.encoding.label(),
            "SMS sent"
        );
        let messages: Vec<Value> = sent
            .iter()
            .map(|s| json!({"to": masked(&s.to), "sid": s.sid}))
            .collect();
        let extra = json!({
            "segments": info.segments,
            "encoding": info.encoding.label(),
            "recipients": sent.len(),
            "messages": messages,
        });
        Ok(PostOutcome::new(RemotePost {
            id: sent
                .iter()
                .map(|s| s.sid.as_str())
                .collect::<Vec<_>>()
                .join(","),
            url: None,
            extra: Some(extra.to_string()),
        }))
    }

    async fn delete(&self, _remote: &RemotePost) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "an SMS cannot be recalled once sent; send a correction instead".into(),
        ))
    }

    /// Not offered: listing `Messages.json?To=...&DateSent>=...` cannot prove a message
    /// was *not* sent (`DateSent` filters by day and misses messages still queued, which
    /// have no `date_sent`; bodies may be redacted by the account's retention settings),
    /// and a false "not sent" would text every recipient twice.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Twilio's message list cannot prove an SMS was not sent (queued messages have no send date); check the Twilio console".into(),
        ))
    }

    /// `GET /2010-04-01/Accounts/{AccountSid}.json`: the credentials work and the
    /// account is active.
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        #[derive(Deserialize)]
        struct Account {
            status: String,
        }
        let reply = self
            .http
            .send(self.authorized(Method::GET, ".json"), false)
            .await?;
        if !reply.status.is_success() {
            return Err(error_for(&reply));
        }
        let account: Account = reply.json().map_err(|e| match e {
            ConnectorError::Unknown(why) => ConnectorError::Transient(why),
            other => other,
        })?;
        if account.status == "active" {
            Ok(())
        } else {
            Err(ConnectorError::Auth(format!(
                "the Twilio account is {}",
                printable(&account.status)
            )))
        }
    }
}

/// Twilio's error answers, classified by their code first, then the HTTP status.
fn error_for(reply: &Reply) -> ConnectorError {
    let parsed = serde_json::from_slice::<TwilioError>(&reply.body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let said = parsed
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map_or_else(
            || redact_urls(&reply.excerpt()),
            |t| printable(&redact_urls(t)),
        );
    let status = reply.status.as_u16();
    let what = match code {
        Some(c) => format!("Twilio HTTP {status} error {c}: {said}"),
        None => format!("Twilio HTTP {status}: {said}"),
    };
    match code {
        Some(20003) => ConnectorError::Auth(what),
        Some(20429) => ConnectorError::RateLimited {
            retry_after: retry_after(&reply.headers),
            reason: what,
        },
        // Unsubscribed (replied STOP), invalid or non-mobile number, region not enabled,
        // body too long: this recipient will never get this message.
        Some(21610 | 21211 | 21614 | 21408 | 21612 | 21606 | 21617) => {
            ConnectorError::Permanent(what)
        }
        _ => reply.status_error_saying(what),
    }
}
