//! A fake Twilio Programmable Messaging API: `POST .../Messages.json` (form-encoded,
//! HTTP basic auth) and `GET /2010-04-01/Accounts/{AccountSid}.json`, answering with
//! Twilio's JSON (`201` and a Message resource, or `{code, message, more_info, status}`).
//! It keeps unsubscribed numbers (21610), refuses invalid ones (21211), and can be told
//! to rate-limit (20429) or to fail for one recipient.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The account's SID.
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// The account's auth token.
pub const AUTH_TOKEN: &str = "fake-twilio-auth-token-0123456789";
/// The sending number.
pub const FROM: &str = "+15005550006";
/// A Messaging Service SID the fake knows.
pub const MESSAGING_SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";

/// One message as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSms {
    /// Its SID.
    pub sid: String,
    /// `To`.
    pub to: String,
    /// `From`, if given.
    pub from: Option<String>,
    /// `MessagingServiceSid`, if given.
    pub messaging_service_sid: Option<String>,
    /// `Body`.
    pub body: String,
}

#[derive(Debug, Default)]
struct Inner {
    messages: Vec<FakeSms>,
    unsubscribed: Vec<String>,
    failing: HashMap<String, u16>,
    rate_limited: bool,
    suspended: bool,
}

/// The fake's platform state.
#[derive(Debug, Default)]
pub struct TwilioState {
    inner: Mutex<Inner>,
}

impl TwilioState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Twilio. Derefs to its [`FakeServer`].
pub struct FakeTwilio {
    server: FakeServer,
    state: Arc<TwilioState>,
}

impl Deref for FakeTwilio {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeTwilio {
    /// Every message created, oldest first.
    pub fn messages(&self) -> Vec<FakeSms> {
        self.state.lock().messages.clone()
    }

    /// This number replied STOP: sending to it is error 21610.
    pub fn unsubscribe(&self, number: &str) {
        self.state.lock().unsubscribed.push(number.to_string());
    }

    /// Requests for this recipient fail with `status` (e.g. 500) until cleared.
    pub fn fail_for(&self, number: &str, status: Option<u16>) {
        let mut inner = self.state.lock();
        match status {
            Some(s) => inner.failing.insert(number.to_string(), s),
            None => inner.failing.remove(number),
        };
    }

    /// The next message request is refused with 429 / 20429.
    pub fn rate_limit_next(&self) {
        self.state.lock().rate_limited = true;
    }

    /// Marks the account suspended (the health check reads its status).
    pub fn suspend(&self) {
        self.state.lock().suspended = true;
    }
}

/// Starts a fake Twilio on a loopback port.
pub async fn start() -> std::io::Result<FakeTwilio> {
    let state = Arc::new(TwilioState::default());
    let router = Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(create_message),
        )
        .route("/2010-04-01/Accounts/{file}", get(account))
        .with_state(state.clone());
    let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
    Ok(FakeTwilio { server, state })
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (
        status,
        Json(json!({
            "code": code, "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16(),
        })),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap, sid: &str) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    sid == ACCOUNT_SID && decoded.as_deref() == Some(&format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
}

fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && !d.starts_with('0') && d.chars().all(|c| c.is_ascii_digit())
    })
}

async fn create_message(
    State(state): State<Arc<TwilioState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers, &sid) {
        return unauthorized();
    }
    let mut inner = state.lock();
    if std::mem::take(&mut inner.rate_limited) {
        return error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
    }
    let to = form.get("To").cloned().unwrap_or_default();
    if let Some(status) = inner.failing.get(&to) {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, 20500, "An internal server error has occurred");
    }
    if !is_e164(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("Invalid 'To' Phone Number: {to}"),
        );
    }
    if inner.unsubscribed.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21610,
            "Attempt to send to unsubscribed recipient",
        );
    }
    let from = form.get("From").cloned();
    let service = form.get("MessagingServiceSid").cloned();
    match (&from, &service) {
        (Some(f), None) if f == FROM => {}
        (None, Some(s)) if s == MESSAGING_SERVICE_SID => {}
        (None, None) => return error(StatusCode::BAD_REQUEST, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"),
        _ => return error(StatusCode::BAD_REQUEST, 21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"),
    }
    let body = form.get("Body").cloned().unwrap_or_default();
    if body.chars().count() > 1600 {
        return error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit",
        );
    }
    let message = FakeSms {
        sid: format!("SM{:032x}", inner.messages.len() + 1),
        to,
        from,
        messaging_service_sid: service,
        body,
    };
    let answer: Value = json!({
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": message.body,
        "date_created": "Thu, 01 Jan 2026 00:00:00 +0000", "date_sent": null, "date_updated": "Thu, 01 Jan 2026 00:00:00 +0000",
        "direction": "outbound-api", "error_code": null, "error_message": null, "from": message.from,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0", "num_segments": if message.messaging_service_sid.is_some() { "0" } else { "1" },
        "price": null, "price_unit": "USD", "sid": message.sid,
        "status": if message.messaging_service_sid.is_some() { "accepted" } else { "queued" },
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}/Media.json", message.sid)},
        "to": message.to, "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}.json", message.sid),
    });
    inner.messages.push(message);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn account(
    State(state): State<Arc<TwilioState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let sid = file.strip_suffix(".json").unwrap_or_default();
    if !authorized(&headers, sid) {
        return unauthorized();
    }
    let status = if state.lock().suspended {
        "suspended"
    } else {
        "active"
    };
    Json(json!({
        "sid": ACCOUNT_SID, "friendly_name": "County Health (fake)", "status": status, "type": "Full",
        "date_created": "Thu, 01 Jan 2026 00:00:00 +0000", "owner_account_sid": ACCOUNT_SID,
    }))
    .into_response()
}
