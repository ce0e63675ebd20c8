//! The panel's websocket: authenticated from the session cookie before the upgrade,
//! `Origin` checked (by the router's guard), typed JSON frames both ways, every request
//! frame authorised by role through the same functions as the HTTP API.
//!
//! Limits: a frame over [`WsLimits::max_frame`] closes the socket with 1009; a
//! token bucket per connection answers `rate_limited` and closes with 1008 when the
//! client keeps on; a session that ends closes its sockets with 1008; a socket that falls
//! behind the hub's ring gets `resync` instead of unbounded memory.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

use super::auth::{authenticate, me_of};
use super::error::ApiError;
use super::WebState;
use tocsin_app::catalog::{preview_for, PreviewRequest};
use tocsin_app::drafts::{
    approve_draft, request_changes_to, submit_draft, ApproveInput, OverrideInput,
};
use tocsin_app::messages::{retract_message, RetractInput, RetractMode};
use tocsin_app::{Authed, HubSignal};

/// Close code: policy violation (session ended, flooding).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: message too big.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: going away (server stopping).
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// How long a client must keep within the rate before its strikes are forgiven.
const STRIKES_FORGIVEN_AFTER: Duration = Duration::from_secs(1);

/// Websocket limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest frame accepted; larger closes with 1009.
    pub max_frame: usize,
    /// Frames per second allowed on average.
    pub frames_per_second: u32,
    /// Burst allowance.
    pub burst: u32,
    /// Rate-limited frames tolerated before closing with 1008 (forgiven after a second
    /// without one).
    pub strikes: u32,
    /// How often an idle socket re-checks its session.
    pub session_check: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_frame: 64 * 1024,
            frames_per_second: 20,
            burst: 40,
            strikes: 20,
            session_check: Duration::from_secs(15),
        }
    }
}

/// A frame from the panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Keep-alive.
    Ping,
    /// Preview a playbook step.
    Preview {
        /// Echoed back.
        #[serde(rename = "ref")]
        reference: Option<String>,
        /// The playbook.
        playbook: String,
        /// The step.
        step: String,
        /// Raw values.
        #[serde(default)]
        values: BTreeMap<String, String>,
        /// Exercise.
        #[serde(default)]
        exercise: bool,
        /// The target set (the step's audience when left out).
        #[serde(default)]
        targets: Option<tocsin_domain::audience::TargetSpec>,
        /// A live session the post is for (its hashtag and fixed values apply).
        #[serde(default)]
        session_id: Option<i64>,
        /// The drafter's own text for platforms the step lets them rewrite.
        #[serde(default)]
        overrides: BTreeMap<String, String>,
        /// Its images, each an uploaded image's hash with its description.
        #[serde(default)]
        images: Vec<tocsin_app::images::DraftImage>,
    },
    /// Submit a draft.
    Submit {
        /// Echoed back.
        #[serde(rename = "ref")]
        reference: Option<String>,
        /// The draft.
        draft_id: i64,
    },
    /// Approve a draft.
    Approve {
        /// Echoed back.
        #[serde(rename = "ref")]
        reference: Option<String>,
        /// The draft.
        draft_id: i64,
        /// The hash of the text reviewed.
        reviewed_hash: String,
        /// Override of blocking problems.
        #[serde(default, rename = "override")]
        override_: Option<OverrideInput>,
        /// Confirms accounts outside the playbook's audience.
        #[serde(default)]
        confirm_targets: bool,
        /// Acknowledges a reading grade above the playbook's `reading_grade_max`.
        #[serde(default)]
        acknowledge_reading_grade: bool,
    },
    /// Send a draft back.
    RequestChanges {
        /// Echoed back.
        #[serde(rename = "ref")]
        reference: Option<String>,
        /// The draft.
        draft_id: i64,
        /// Why.
        reason: String,
    },
    /// Retract a message everywhere.
    Retract {
        /// Echoed back.
        #[serde(rename = "ref")]
        reference: Option<String>,
        /// The message.
        message_id: i64,
        /// `delete` or `correct`.
        mode: RetractMode,
        /// Why.
        reason: String,
        /// The correction's text.
        #[serde(default)]
        correction: Option<String>,
    },
}

impl ClientFrame {
    fn reference(&self) -> Option<&str> {
        match self {
            ClientFrame::Ping => None,
            ClientFrame::Preview { reference, .. }
            | ClientFrame::Submit { reference, .. }
            | ClientFrame::Approve { reference, .. }
            | ClientFrame::RequestChanges { reference, .. }
            | ClientFrame::Retract { reference, .. } => reference.as_deref(),
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Larger than the limit.
    #[error("frame of {0} bytes is over the limit")]
    TooBig(usize),
    /// Not a frame we know.
    #[error("{0}")]
    Malformed(String),
}

/// Decodes a panel's text frame. Never panics, whatever the input.
pub fn decode(text: &str, max_frame: usize) -> Result<ClientFrame, FrameError> {
    if text.len() > max_frame {
        return Err(FrameError::TooBig(text.len()));
    }
    serde_json::from_str::<ClientFrame>(text).map_err(|e| {
        let mut message = e.to_string();
        // serde's message quotes the input (an unknown variant or field), so byte 200 may
        // fall inside a character: cut at the character boundary before it.
        let mut end = message.len().min(200);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        FrameError::Malformed(format!(
            "not a frame this server understands ({message}); see the README's websocket protocol"
        ))
    })
}

/// A frame to the panel (besides hub events, which arrive serialised).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Reply<'a> {
    Hello {
        user: &'a str,
        role: &'a str,
        permissions: Vec<&'static str>,
        server_time: chrono::DateTime<chrono::Utc>,
    },
    Result {
        #[serde(rename = "ref")]
        reference: Option<&'a str>,
        body: serde_json::Value,
    },
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    },
    Resync {
        reason: &'a str,
    },
    SessionEnded {
        reason: &'a str,
    },
    Pong,
}

fn text(reply: &Reply<'_>) -> Message {
    match serde_json::to_string(reply) {
        Ok(s) => Message::Text(s.into()),
        Err(_) => Message::Text(Utf8Bytes::from_static(
            r#"{"type":"error","code":"internal","message":"reply could not be encoded"}"#,
        )),
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// `GET /ws`: upgrades a signed-in browser.
pub async fn upgrade(
    State(web): State<WebState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let who = match authenticate(&web, &headers).await {
        Ok(who) => who,
        Err(e) => return e.into_response(),
    };
    let limits = web.config.ws;
    // Frames a little over the limit are read so they can be refused with 1009;
    // anything far larger is cut off by the protocol layer. A small read buffer: the
    // default (128 KiB, zero-filled before each read) would make every open panel cost
    // about 137 KiB and a third of the server's CPU per event (BENCHMARKS.md).
    ws.read_buffer_size(4 * 1024)
        .max_message_size(limits.max_frame.saturating_mul(4))
        .max_frame_size(limits.max_frame.saturating_mul(4))
        .on_upgrade(move |socket| run(web, who, socket))
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(limits: &WsLimits) -> Bucket {
        Bucket {
            tokens: f64::from(limits.burst),
            rate: f64::from(limits.frames_per_second),
            burst: f64::from(limits.burst),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

enum Step {
    Continue,
    Close(u16, &'static str),
}

async fn run(web: WebState, who: Authed, mut socket: WebSocket) {
    let _guard = web.app.hub().socket_guard();
    let mut hub = web.app.hub().subscribe();
    let digest = who.id.digest();
    let limits = web.config.ws;
    let mut bucket = Bucket::new(&limits);
    let mut strikes = 0u32;
    let mut last_strike: Option<Instant> = None;
    let me = me_of(&web, &who.session);
    let hello = Reply::Hello {
        user: &me.user,
        role: me.role,
        permissions: me.permissions.clone(),
        server_time: web.app.store().now(),
    };
    if socket.send(text(&hello)).await.is_err() {
        return;
    }
    let mut check = tokio::time::interval(limits.session_check);
    check.tick().await;
    loop {
        let step = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    if bucket.take() {
                        // Strikes are forgiven only after a whole quiet period: a client
                        // that keeps over the rate gets a frame through now and then as
                        // the bucket refills, and must not be forgiven for that.
                        if last_strike.is_some_and(|at| at.elapsed() >= STRIKES_FORGIVEN_AFTER) {
                            strikes = 0;
                            last_strike = None;
                        }
                        handle_text(&web, &who, &mut socket, t.as_str(), &limits).await
                    } else {
                        strikes += 1;
                        last_strike = Some(Instant::now());
                        if strikes > limits.strikes {
                            Step::Close(CLOSE_POLICY, "too many messages")
                        } else {
                            let reply = Reply::Error {
                                reference: None,
                                code: "rate_limited",
                                message: "too many messages: slow down",
                                field: None,
                            };
                            send_or_stop(&mut socket, text(&reply)).await
                        }
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    if b.len() > limits.max_frame {
                        Step::Close(CLOSE_TOO_BIG, "message too big")
                    } else {
                        let reply = Reply::Error {
                            reference: None,
                            code: "bad_frame",
                            message: "frames are JSON text",
                            field: None,
                        };
                        send_or_stop(&mut socket, text(&reply)).await
                    }
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => Step::Continue,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read failed");
                    // An oversize frame beyond the read limit ends here too.
                    Step::Close(CLOSE_TOO_BIG, "message too big")
                }
            },
            signal = hub.recv() => match signal {
                Ok(HubSignal::Frame(json)) => {
                    match send_frames(&mut socket, &mut hub, json).await {
                        (Step::Continue, Some(after)) => on_signal(&mut socket, &digest, after).await,
                        (step, _) => step,
                    }
                }
                other => on_signal(&mut socket, &digest, other).await,
            },
            _ = check.tick() => session_still_valid(&web, &who, &mut socket).await,
        };
        if let Step::Close(code, reason) = step {
            let _ = socket.send(close(code, reason)).await;
            break;
        }
    }
}

/// Hub frames written in one go at most: a fan-out's thousand delivery events already
/// waiting leave in a few writes, not one write each.
const FRAMES_PER_WRITE: usize = 256;

/// Writes `first` and the frames already waiting behind it (up to [`FRAMES_PER_WRITE`])
/// with one flush; answers the step and the signal that ended the run, if it was not a
/// frame (to be handled next).
async fn send_frames(
    socket: &mut WebSocket,
    hub: &mut tokio::sync::broadcast::Receiver<HubSignal>,
    first: std::sync::Arc<str>,
) -> (Step, Option<Result<HubSignal, RecvError>>) {
    use futures::SinkExt as _;
    let mut next = Some(first);
    let mut after = None;
    let mut written = 0;
    while let Some(json) = next.take() {
        if socket
            .feed(Message::Text(Utf8Bytes::from(json.as_ref())))
            .await
            .is_err()
        {
            return (Step::Close(CLOSE_GOING_AWAY, "write failed"), None);
        }
        written += 1;
        if written >= FRAMES_PER_WRITE {
            break;
        }
        match hub.try_recv() {
            Ok(HubSignal::Frame(json)) => next = Some(json),
            Ok(other) => after = Some(Ok(other)),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                after = Some(Err(RecvError::Lagged(n)));
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Closed) => {
                after = Some(Err(RecvError::Closed));
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {}
        }
    }
    if socket.flush().await.is_err() {
        return (Step::Close(CLOSE_GOING_AWAY, "write failed"), None);
    }
    (Step::Continue, after)
}

/// What a hub signal other than a batch of frames does to this socket.
async fn on_signal(
    socket: &mut WebSocket,
    digest: &str,
    signal: Result<HubSignal, RecvError>,
) -> Step {
    match signal {
        Ok(HubSignal::Frame(json)) => {
            send_or_stop(socket, Message::Text(Utf8Bytes::from(json.as_ref()))).await
        }
        Ok(HubSignal::SessionEnded(d)) if *d == *digest => {
            let _ = socket
                .send(text(&Reply::SessionEnded {
                    reason: "signed out",
                }))
                .await;
            Step::Close(CLOSE_POLICY, "session ended")
        }
        Ok(HubSignal::SessionEnded(_)) => Step::Continue,
        Ok(HubSignal::Shutdown) | Err(RecvError::Closed) => {
            Step::Close(CLOSE_GOING_AWAY, "server stopping")
        }
        Err(RecvError::Lagged(_)) => {
            send_or_stop(
                socket,
                text(&Reply::Resync {
                    reason: "you fell behind",
                }),
            )
            .await
        }
    }
}

async fn send_or_stop(socket: &mut WebSocket, message: Message) -> Step {
    match socket.send(message).await {
        Ok(()) => Step::Continue,
        Err(_) => Step::Close(CLOSE_GOING_AWAY, "write failed"),
    }
}

/// The periodic check: looks at the session without counting as its use (an idle panel
/// must not keep a session alive past the idle timeout); when it has ended, the people
/// service ends it (deleted, audited) and says why.
async fn session_still_valid(web: &WebState, who: &Authed, socket: &mut WebSocket) -> Step {
    match web.app.store().people().session(&who.id.digest()).await {
        Ok(Some(record))
            if record.user_disabled_at.is_none()
                && tocsin_app::people::session::expiry(
                    record.expires_at,
                    record.last_seen_at,
                    web.app.store().now(),
                    &web.app.people().config().sessions,
                )
                .is_none() =>
        {
            return Step::Continue;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "session check failed; keeping the socket");
            return Step::Continue;
        }
    }
    match web.app.people().session(&who.id).await {
        // Used over HTTP since the look: still current.
        Ok(_) => Step::Continue,
        Err(tocsin_app::people::SessionError::Store(e)) => {
            tracing::warn!(error = %e, "session check failed; keeping the socket");
            Step::Continue
        }
        Err(e) => {
            let reason = e.to_string();
            let _ = socket
                .send(text(&Reply::SessionEnded { reason: &reason }))
                .await;
            Step::Close(CLOSE_POLICY, "session ended")
        }
    }
}

async fn handle_text(
    web: &WebState,
    who: &Authed,
    socket: &mut WebSocket,
    raw: &str,
    limits: &WsLimits,
) -> Step {
    let frame = match decode(raw, limits.max_frame) {
        Ok(f) => f,
        Err(FrameError::TooBig(_)) => return Step::Close(CLOSE_TOO_BIG, "message too big"),
        Err(FrameError::Malformed(message)) => {
            let reply = Reply::Error {
                reference: None,
                code: "bad_frame",
                message: &message,
                field: None,
            };
            return send_or_stop(socket, text(&reply)).await;
        }
    };
    if matches!(frame, ClientFrame::Ping) {
        return send_or_stop(socket, text(&Reply::Pong)).await;
    }
    // Every request is authorised against the session as it is now: a role changed or a
    // session ended since the socket opened counts.
    let current = match web.app.people().session(&who.id).await {
        Ok(session) => Authed {
            session,
            id: tocsin_app::people::SessionId::from_cookie_value(who.id.expose())
                .unwrap_or_else(tocsin_app::people::SessionId::generate),
        },
        Err(tocsin_app::people::SessionError::Store(e)) => {
            let e = ApiError::internal(&e);
            return send_error(socket, frame.reference(), &e).await;
        }
        Err(e) => {
            let reason = e.to_string();
            let _ = socket
                .send(text(&Reply::SessionEnded { reason: &reason }))
                .await;
            return Step::Close(CLOSE_POLICY, "session ended");
        }
    };
    let reference = frame.reference().map(str::to_string);
    let answer = answer(web, &current, frame).await;
    match answer {
        Ok(body) => {
            let reply = Reply::Result {
                reference: reference.as_deref(),
                body,
            };
            send_or_stop(socket, text(&reply)).await
        }
        Err(e) => send_error(socket, reference.as_deref(), &e).await,
    }
}

async fn send_error(socket: &mut WebSocket, reference: Option<&str>, e: &ApiError) -> Step {
    let reply = Reply::Error {
        reference,
        code: e.code,
        message: &e.message,
        field: e.field.as_deref(),
    };
    send_or_stop(socket, text(&reply)).await
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(&e))
}

async fn answer(
    web: &WebState,
    who: &Authed,
    frame: ClientFrame,
) -> Result<serde_json::Value, ApiError> {
    match frame {
        ClientFrame::Ping => Ok(serde_json::Value::Object(serde_json::Map::default())),
        ClientFrame::Preview {
            playbook,
            step,
            values,
            exercise,
            targets,
            session_id,
            overrides,
            images,
            ..
        } => {
            let request = PreviewRequest {
                step,
                values,
                exercise,
                targets,
                session_id,
                overrides,
                images,
            };
            to_value(&preview_for(&web.app, who, &playbook, &request).await?)
        }
        ClientFrame::Submit { draft_id, .. } => {
            to_value(&submit_draft(&web.app, who, draft_id).await?)
        }
        ClientFrame::Approve {
            draft_id,
            reviewed_hash,
            override_,
            confirm_targets,
            acknowledge_reading_grade,
            ..
        } => {
            let input = ApproveInput {
                reviewed_hash,
                override_,
                send_at: None,
                confirm_targets,
                acknowledge_reading_grade,
            };
            to_value(&approve_draft(&web.app, who, draft_id, input).await?)
        }
        ClientFrame::RequestChanges {
            draft_id, reason, ..
        } => to_value(&request_changes_to(&web.app, who, draft_id, &reason).await?),
        ClientFrame::Retract {
            message_id,
            mode,
            reason,
            correction,
            ..
        } => {
            let input = RetractInput {
                mode,
                reason,
                correction,
            };
            to_value(&retract_message(&web.app, who, message_id, input).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `ws_decode` fuzz target's harness: an unknown `type` of two-byte
    /// characters made the error message's byte 200 fall inside a character, and
    /// `String::truncate` panicked on the socket's task.
    #[test]
    fn an_error_quoting_multibyte_input_is_cut_at_a_character_boundary() {
        for pad in 0..4 {
            let frame = format!(
                r#"{{"type":"{}{}"}}"#,
                "x".repeat(pad),
                "\u{e9}".repeat(150)
            );
            let Err(FrameError::Malformed(message)) = decode(&frame, 64 * 1024) else {
                panic!("an unknown type must be refused");
            };
            assert!(
                message.contains("not a frame this server understands"),
                "{message}"
            );
            assert!(message.len() < 400, "{message}");
        }
    }

    #[test]
    fn the_documented_frames_decode() {
        for frame in [
            r#"{"type":"ping"}"#,
            r#"{"type":"submit","ref":"s1","draft_id":42}"#,
            r#"{"type":"retract","ref":"x1","message_id":7,"mode":"delete","reason":"wrong area"}"#,
        ] {
            assert!(decode(frame, 64 * 1024).is_ok(), "{frame}");
        }
        assert_eq!(
            decode(&" ".repeat(65 * 1024), 64 * 1024).err(),
            Some(FrameError::TooBig(65 * 1024))
        );
    }
}
