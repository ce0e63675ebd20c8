//! A fake Slack Web API: `chat.postMessage`, `chat.delete`, `chat.getPermalink`,
//! `conversations.history`, `conversations.replies` and `auth.test`, answering as Slack
//! does: HTTP 200 with `{"ok": false, "error": "..."}` for almost every failure, 429 with
//! `Retry-After` when rate limited. As Slack does, it takes the text as markup: the
//! client must escape `&`, `<` and `>`; whatever it left unescaped is read as Slack would
//! read it (`<!channel>` pings the channel) and recorded in [`FakeMessage::unescaped`].
//! Bare links are wrapped (`<url>`) the way Slack stores them, so reconciliation is tested
//! against Slack's formatting. It never escapes on the client's behalf.
//!
//! Files take the external upload flow, as Slack documents it: `files.*` methods take
//! form fields, not JSON (`invalid_arguments` otherwise); `files.getUploadURLExternal`
//! needs `filename` and `length` and keeps `alt_txt`; the upload URL it answers takes
//! exactly `length` bytes (and no bearer token is needed there); `files.completeUploadExternal`
//! takes `files` as a JSON array of `{id}` of uploaded files; `files.delete` deletes one.
//! A message's `image` blocks must name a completed file in `slack_file.id` and carry an
//! `alt_text` (at most 2,000 characters); a `section`'s text is at most 3,000.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{FakeServer, FakeState};

/// The bot token the fake accepts.
pub const TOKEN: &str = "xoxb-0000000000-fake-slack-bot-token";
/// The channel the bot is in.
pub const CHANNEL: &str = "C0TOCSIN01";
/// The bot's id (`bot_id` on its messages).
pub const BOT_ID: &str = "B0TOCSIN01";

/// One message as the fake stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    /// Its `ts`.
    pub ts: String,
    /// The text exactly as posted.
    pub posted: String,
    /// The text as Slack stores and returns it (as posted, bare links wrapped).
    pub stored: String,
    /// What Slack would read as markup in the posted text because the client did not
    /// escape it: `<...>` control sequences other than links, and stray `&`, `<`, `>`.
    pub unescaped: Vec<String>,
    /// Whether the text pings everyone (`<!channel>`, `<!here>`, `<!everyone>`).
    pub pings: bool,
    /// `thread_ts` of a reply.
    pub thread_ts: Option<String>,
    /// The bot that posted it (`None` for a person).
    pub bot_id: Option<String>,
    /// The `unfurl_links` it was posted with.
    pub unfurl_links: Option<bool>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// Its `image` blocks: (file id, `alt_text`).
    pub images: Vec<(String, String)>,
}

/// One file of the external upload flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFile {
    /// `F…` id.
    pub id: String,
    /// `filename` as given.
    pub filename: String,
    /// `length` as announced.
    pub length: usize,
    /// `alt_txt` as given.
    pub alt_txt: Option<String>,
    /// The bytes uploaded (`None` before the upload).
    pub bytes: Option<axum::body::Bytes>,
    /// Whether `files.completeUploadExternal` completed it.
    pub completed: bool,
    /// Whether `files.delete` deleted it.
    pub deleted: bool,
}

#[derive(Debug)]
struct Inner {
    files: Vec<FakeFile>,
    token: String,
    messages: Vec<FakeMessage>,
    next: u64,
    member: bool,
    history_scope: bool,
    rate_limited: Option<u64>,
    next_error: Option<String>,
    permalinks_broken: bool,
}

/// The fake's platform state.
#[derive(Debug)]
pub struct SlackState {
    inner: Mutex<Inner>,
}

impl SlackState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Slack. Derefs to its [`FakeServer`].
pub struct FakeSlack {
    server: FakeServer,
    state: Arc<SlackState>,
}

impl Deref for FakeSlack {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeSlack {
    /// Every message, deleted ones included, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().messages.clone()
    }

    /// Every file of the upload flow, oldest first.
    pub fn files(&self) -> Vec<FakeFile> {
        self.state.lock().files.clone()
    }

    /// Accepts only this token from now on (as after the app was reinstalled).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// Whether the bot is in the channel (`not_in_channel` otherwise).
    pub fn set_member(&self, member: bool) {
        self.state.lock().member = member;
    }

    /// Whether the token has the history scope (`missing_scope` otherwise).
    pub fn set_history_scope(&self, granted: bool) {
        self.state.lock().history_scope = granted;
    }

    /// Answers the next API call 429 with `Retry-After: secs`.
    pub fn rate_limit(&self, secs: u64) {
        self.state.lock().rate_limited = Some(secs);
    }

    /// Answers the next API call HTTP 200 `{"ok": false, "error": error}`, having acted
    /// on it first when it is a post (Slack's `fatal_error` may have posted).
    pub fn fail_next(&self, error: &str) {
        self.state.lock().next_error = Some(error.to_string());
    }

    /// Makes `chat.getPermalink` answer `internal_error` (while posting still works).
    pub fn break_permalinks(&self) {
        self.state.lock().permalinks_broken = true;
    }

    /// A message from a person (not the bot) in the channel.
    pub fn add_user_message(&self, text: &str) {
        let mut inner = self.state.lock();
        let ts = next_ts(&mut inner);
        inner.messages.push(FakeMessage {
            ts,
            posted: text.to_string(),
            stored: store(text),
            unescaped: unescaped(text),
            pings: pings(text),
            thread_ts: None,
            bot_id: None,
            unfurl_links: None,
            deleted: false,
            images: Vec::new(),
        });
    }
}

/// Starts a fake Slack on a loopback port.
pub async fn start() -> std::io::Result<FakeSlack> {
    let state = Arc::new(SlackState {
        inner: Mutex::new(Inner {
            token: TOKEN.to_string(),
            files: Vec::new(),
            messages: Vec::new(),
            next: 100,
            member: true,
            history_scope: true,
            rate_limited: None,
            next_error: None,
            permalinks_broken: false,
        }),
    });
    let router = Router::new()
        .route("/api/{method}", any(api))
        .route("/upload/v1/{id}", axum::routing::post(upload))
        .with_state(state.clone());
    let server = FakeServer::start(router, Arc::new(FakeState::default())).await?;
    Ok(FakeSlack { server, state })
}

fn next_ts(inner: &mut Inner) -> String {
    inner.next += 1;
    format!("1700000000.{:06}", inner.next)
}

/// Slack's storage of message text: as posted (escaping is the client's job), bare
/// links wrapped as `<url>`.
fn store(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.starts_with("https://") || word.starts_with("http://") {
                format!("<{word}>")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What Slack would take as markup in `text`: each `<...>` that is not a link, and each
/// `&` that does not start `&amp;`, `&lt;` or `&gt;`, each `<` without its `>` and each
/// `>` outside a sequence.
fn unescaped(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['<', '>', '&']) {
        let (_, from) = rest.split_at(i);
        if from.starts_with('<') {
            match from.find('>') {
                Some(end) => {
                    let sequence = from.get(..=end).unwrap_or_default();
                    let inner = sequence.trim_start_matches('<');
                    if !(inner.starts_with("http://")
                        || inner.starts_with("https://")
                        || inner.starts_with("mailto:"))
                    {
                        found.push(sequence.to_string());
                    }
                    rest = from.get(end + 1..).unwrap_or_default();
                    continue;
                }
                None => found.push("<".into()),
            }
        } else if from.starts_with('>') {
            found.push(">".into());
        } else if !["&amp;", "&lt;", "&gt;"]
            .iter()
            .any(|e| from.starts_with(e))
        {
            found.push("&".into());
        }
        rest = from.get(1..).unwrap_or_default();
    }
    found
}

/// Whether `text` holds a special mention Slack would ping the channel with.
fn pings(text: &str) -> bool {
    ["<!channel", "<!here", "<!everyone"]
        .iter()
        .any(|m| text.contains(m))
}

fn fail(error: &str) -> Response {
    Json(json!({"ok": false, "error": error})).into_response()
}

fn message_json(m: &FakeMessage) -> Value {
    let mut v = json!({"type": "message", "ts": m.ts, "text": m.stored});
    if let Some(object) = v.as_object_mut() {
        match &m.bot_id {
            Some(b) => {
                object.insert("bot_id".into(), json!(b));
                object.insert("subtype".into(), json!("bot_message"));
            }
            None => {
                object.insert("user".into(), json!("U0PERSON01"));
            }
        }
        if let Some(t) = &m.thread_ts {
            object.insert("thread_ts".into(), json!(t));
        }
    }
    v
}

async fn api(
    State(state): State<Arc<SlackState>>,
    Path(method): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    if let Some(secs) = inner.rate_limited.take() {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert("retry-after", v);
        }
        return response;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_none() {
        return fail("not_authed");
    }
    if bearer != Some(inner.token.as_str()) {
        return fail("invalid_auth");
    }
    if method.starts_with("files.") {
        return files_method(&mut inner, &method, &headers, &body);
    }
    let mut params: HashMap<String, Value> =
        query.into_iter().map(|(k, v)| (k, json!(v))).collect();
    if !body.is_empty() {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => params.extend(map),
            _ => return fail("invalid_json"),
        }
    }
    let text_of = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let channel_ok = text_of("channel").as_deref() == Some(CHANNEL);
    let scripted = inner.next_error.take();
    match method.as_str() {
        "auth.test" => Json(json!({
            "ok": true, "url": "https://tocsin-fake.slack.com/", "team": "County Health",
            "user": "tocsin", "team_id": "T0TOCSIN01", "user_id": "U0TOCSIN01", "bot_id": BOT_ID,
            "is_enterprise_install": false,
        }))
        .into_response(),
        "chat.postMessage" => {
            if !channel_ok {
                return fail("channel_not_found");
            }
            if !inner.member {
                return fail("not_in_channel");
            }
            let text = text_of("text").unwrap_or_default();
            if text.is_empty() {
                return fail("no_text");
            }
            let images = match params.get("blocks") {
                None => Vec::new(),
                Some(blocks) => match check_blocks(&inner.files, blocks) {
                    Ok(images) => images,
                    Err(why) => return fail(&why),
                },
            };
            if text.chars().count() > 40_000 {
                return fail("msg_too_long");
            }
            let thread_ts = text_of("thread_ts");
            if let Some(t) = &thread_ts {
                if !inner.messages.iter().any(|m| &m.ts == t && !m.deleted) {
                    return fail("thread_not_found");
                }
            }
            let ts = next_ts(&mut inner);
            let message = FakeMessage {
                ts: ts.clone(),
                posted: text.clone(),
                stored: store(&text),
                unescaped: unescaped(&text),
                pings: pings(&text),
                thread_ts,
                bot_id: Some(BOT_ID.to_string()),
                unfurl_links: params.get("unfurl_links").and_then(Value::as_bool),
                deleted: false,
                images,
            };
            let answer = json!({"ok": true, "channel": CHANNEL, "ts": ts, "message": message_json(&message)});
            inner.messages.push(message);
            match scripted {
                Some(error) => fail(&error),
                None => Json(answer).into_response(),
            }
        }
        "chat.getPermalink" => {
            if inner.permalinks_broken {
                return fail("internal_error");
            }
            if !channel_ok {
                return fail("channel_not_found");
            }
            let ts = text_of("message_ts").unwrap_or_default();
            match inner.messages.iter().find(|m| m.ts == ts && !m.deleted) {
                Some(m) => {
                    let mut link = format!(
                        "https://tocsin-fake.slack.com/archives/{CHANNEL}/p{}",
                        ts.replace('.', "")
                    );
                    if let Some(t) = &m.thread_ts {
                        link.push_str(&format!("?thread_ts={t}&cid={CHANNEL}"));
                    }
                    Json(json!({"ok": true, "channel": CHANNEL, "permalink": link})).into_response()
                }
                None => fail("message_not_found"),
            }
        }
        "chat.delete" => {
            if let Some(error) = scripted {
                return fail(&error);
            }
            if !channel_ok {
                return fail("channel_not_found");
            }
            let ts = text_of("ts").unwrap_or_default();
            match inner.messages.iter_mut().find(|m| m.ts == ts && !m.deleted) {
                Some(m) if m.bot_id.is_none() => fail("cant_delete_message"),
                Some(m) => {
                    m.deleted = true;
                    Json(json!({"ok": true, "channel": CHANNEL, "ts": ts})).into_response()
                }
                None => fail("message_not_found"),
            }
        }
        "conversations.history" | "conversations.replies" => {
            if !inner.history_scope {
                return Json(json!({"ok": false, "error": "missing_scope", "needed": "channels:history", "provided": "chat:write"})).into_response();
            }
            if !channel_ok {
                return fail("channel_not_found");
            }
            let limit = text_of("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(100)
                .clamp(1, 999);
            let start = text_of("cursor")
                .and_then(|c| {
                    c.strip_prefix("next:")
                        .and_then(|n| n.parse::<usize>().ok())
                })
                .unwrap_or(0);
            let listed: Vec<&FakeMessage> = if method == "conversations.history" {
                // Newest first; thread replies stay in their thread.
                inner
                    .messages
                    .iter()
                    .rev()
                    .filter(|m| !m.deleted && m.thread_ts.is_none())
                    .collect()
            } else {
                let Some(root) = text_of("ts") else {
                    return fail("thread_not_found");
                };
                inner
                    .messages
                    .iter()
                    .filter(|m| {
                        !m.deleted
                            && (m.ts == root || m.thread_ts.as_deref() == Some(root.as_str()))
                    })
                    .collect()
            };
            let page: Vec<Value> = listed
                .iter()
                .skip(start)
                .take(limit)
                .map(|m| message_json(m))
                .collect();
            let more = listed.len() > start + limit;
            let next = if more {
                format!("next:{}", start + limit)
            } else {
                String::new()
            };
            Json(json!({"ok": true, "messages": page, "has_more": more, "response_metadata": {"next_cursor": next}})).into_response()
        }
        _ => fail("unknown_method"),
    }
}

/// Checks a message's blocks; the image blocks' (file id, alt text).
fn check_blocks(files: &[FakeFile], blocks: &Value) -> Result<Vec<(String, String)>, String> {
    let blocks = blocks.as_array().ok_or("invalid_blocks_format")?;
    if blocks.len() > 50 {
        return Err("invalid_blocks".into());
    }
    let mut images = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("section") => {
                let text = block
                    .pointer("/text/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if text.is_empty() || text.chars().count() > 3000 {
                    return Err("invalid_blocks".into());
                }
            }
            Some("image") => {
                let alt = block
                    .get("alt_text")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if alt.is_empty() || alt.chars().count() > 2000 {
                    return Err("invalid_blocks".into());
                }
                let id = block
                    .pointer("/slack_file/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !files
                    .iter()
                    .any(|f| f.id == id && f.completed && !f.deleted)
                {
                    return Err("invalid_blocks".into());
                }
                images.push((id.to_string(), alt.to_string()));
            }
            _ => return Err("invalid_blocks".into()),
        }
    }
    Ok(images)
}

/// The `files.*` methods, which take form fields.
fn files_method(inner: &mut Inner, method: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return fail("invalid_arguments");
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    match method {
        "files.getUploadURLExternal" => {
            let (Some(filename), Some(length)) = (
                params.get("filename").filter(|f| !f.is_empty()),
                params.get("length").and_then(|l| l.parse::<usize>().ok()),
            ) else {
                return fail("invalid_arguments");
            };
            if length == 0 {
                return fail("invalid_arguments");
            }
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("127.0.0.1");
            let id = format!("F0TOCSIN{:04}", inner.files.len() + 1);
            inner.files.push(FakeFile {
                id: id.clone(),
                filename: filename.clone(),
                length,
                alt_txt: params.get("alt_txt").cloned(),
                bytes: None,
                completed: false,
                deleted: false,
            });
            Json(json!({"ok": true, "upload_url": format!("http://{host}/upload/v1/{id}"), "file_id": id}))
                .into_response()
        }
        "files.completeUploadExternal" => {
            let Some(Ok(Value::Array(list))) = params
                .get("files")
                .map(|f| serde_json::from_str::<Value>(f))
            else {
                return fail("invalid_arguments");
            };
            let ids: Vec<String> = list
                .iter()
                .filter_map(|f| f.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            if ids.is_empty() || ids.len() != list.len() {
                return fail("invalid_arguments");
            }
            for id in &ids {
                if !inner
                    .files
                    .iter()
                    .any(|f| &f.id == id && f.bytes.is_some() && !f.deleted)
                {
                    return fail("file_not_found");
                }
            }
            let mut done = Vec::new();
            for f in inner.files.iter_mut().filter(|f| ids.contains(&f.id)) {
                f.completed = true;
                done.push(json!({"id": f.id, "title": f.filename}));
            }
            Json(json!({"ok": true, "files": done})).into_response()
        }
        "files.delete" => match inner
            .files
            .iter_mut()
            .find(|f| Some(&f.id) == params.get("file") && !f.deleted)
        {
            Some(f) => {
                f.deleted = true;
                Json(json!({"ok": true})).into_response()
            }
            None => fail("file_not_found"),
        },
        _ => fail("unknown_method"),
    }
}

/// The pre-signed upload URL: exactly the announced number of bytes.
async fn upload(
    State(state): State<Arc<SlackState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = state.lock();
    let Some(file) = inner.files.iter_mut().find(|f| f.id == id && !f.deleted) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    if body.len() != file.length {
        return (
            StatusCode::BAD_REQUEST,
            "the upload is not the announced length",
        )
            .into_response();
    }
    file.bytes = Some(body.clone());
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_markup_is_flagged_as_slack_would_read_it() {
        assert_eq!(
            unescaped("ages <5 & up <!channel> <https://a.example|a> &amp; &lt;b&gt;"),
            vec!["<5 & up <!channel>".to_string()]
        );
        assert_eq!(
            unescaped("a > b & c"),
            vec![">".to_string(), "&".to_string()]
        );
        assert_eq!(
            unescaped("<@U1> <https://x.example>"),
            vec!["<@U1>".to_string()]
        );
        assert!(unescaped("plain &amp; &lt;5&gt;").is_empty());
        assert!(pings("<!here> now") && !pings("&lt;!here&gt;"));
    }
}
