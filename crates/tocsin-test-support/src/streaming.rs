//! Fake streaming endpoints for the hashtag monitor: Mastodon's `/api/v1/streaming`
//! websocket and Jetstream's `/subscribe`, each on `127.0.0.1:0`.
//!
//! The test pushes events through the handle; every open connection that asked for
//! them gets them (Mastodon: by `tag`; Jetstream: all, and on connect a replay of the
//! buffered events from `cursor` on, as Jetstream does). It records each connection
//! attempt's query and headers, counts open connections, and can refuse the next
//! upgrades with a status, drop every open connection, or go silent.
//!
//! The Mastodon fake answers `GET /api/v2/instance` with its own address as
//! `configuration.urls.streaming`; [`FakeStream::separate_instance`] starts an instance on
//! another port that names this one as its streaming host and, as mastodon.social does,
//! only redirects its own `/api/v1/streaming` there (a client that does not read the
//! instance's streaming URL is refused).
//!
//! The Mastodon fake also serves the public hashtag timeline
//! (`GET /api/v1/timelines/tag/{tag}?since_id=&limit=`): every status pushed for a tag is
//! on it (newest first) until deleted; polls are recorded and take the same refusals.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};

/// Which wire the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Mastodon,
    Jetstream,
}

/// One upgrade request as the fake received it.
#[derive(Debug, Clone)]
pub struct StreamConnection {
    /// The query string, without `?`.
    pub query: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// The status it was refused with, if it was.
    pub refused: Option<u16>,
}

impl StreamConnection {
    /// A query parameter's (decoded) value.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A frame for the open connections: `tag` limits it to Mastodon connections for that tag.
#[derive(Debug, Clone)]
enum Push {
    Frame { tag: Option<String>, text: String },
    DropAll,
}

#[derive(Debug, Default)]
struct Inner {
    connections: Vec<StreamConnection>,
    refusals: Vec<u16>,
    silent: bool,
    /// Jetstream's buffer: `(time_us, frame)`, replayed from `cursor` on.
    buffer: Vec<(u64, String)>,
    required_token: Option<String>,
    /// Mastodon's hashtag timelines: tag (lowercase) → statuses, oldest first.
    timelines: BTreeMap<String, Vec<Value>>,
    /// Timeline requests so far (`query` holds the tag as `tag=…` first).
    polls: Vec<StreamConnection>,
    /// Sent as `Retry-After` with every refusal.
    retry_after: Option<u64>,
}

#[derive(Debug)]
struct Shared {
    flavor: Flavor,
    inner: Mutex<Inner>,
    pushes: broadcast::Sender<Push>,
    open: watch::Sender<usize>,
    /// Timeline requests answered so far (refused ones included).
    polled: watch::Sender<usize>,
    heartbeat: Mutex<Option<Duration>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake streaming endpoint.
pub struct FakeStream {
    /// `http://127.0.0.1:PORT` (the instance URL for Mastodon, the base for Jetstream).
    pub base_url: String,
    /// The socket address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a fake Mastodon streaming endpoint (`GET /api/v1/streaming?stream=hashtag&tag=`).
pub async fn start_mastodon() -> std::io::Result<FakeStream> {
    FakeStream::start(Flavor::Mastodon).await
}

/// Starts a fake Jetstream (`GET /subscribe?wantedCollections=…&cursor=…`).
pub async fn start_jetstream() -> std::io::Result<FakeStream> {
    FakeStream::start(Flavor::Jetstream).await
}

impl FakeStream {
    async fn start(flavor: Flavor) -> std::io::Result<FakeStream> {
        let (pushes, _) = broadcast::channel(1024);
        let (open, _) = watch::channel(0);
        let (polled, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            flavor,
            inner: Mutex::new(Inner::default()),
            pushes,
            open,
            polled,
            heartbeat: Mutex::new(None),
        });
        let path = match flavor {
            Flavor::Mastodon => "/api/v1/streaming",
            Flavor::Jetstream => "/subscribe",
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let own = format!("ws://{addr}");
        let app = Router::new()
            .route(path, get(upgrade))
            .route("/api/v1/timelines/tag/{tag}", get(timeline))
            .route(
                "/api/v2/instance",
                get(move || async move { instance_answer(&own) }),
            )
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeStream {
            base_url: format!("http://{addr}"),
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// Starts a Mastodon instance on another port whose streaming host is this fake:
    /// its `/api/v2/instance` names `ws://` this address, its own `/api/v1/streaming`
    /// answers `301` there. Returns its base URL and the requests it got (paths with
    /// queries), kept until the runtime ends.
    pub async fn separate_instance(&self) -> std::io::Result<(String, Arc<Mutex<Vec<String>>>)> {
        let streaming = self.ws_url();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let redirect_to = streaming.clone();
        let app = Router::new()
            .route(
                "/api/v2/instance",
                get(move || async move { instance_answer(&streaming) }),
            )
            .route(
                "/api/v1/streaming",
                get(move |RawQuery(q): RawQuery| async move {
                    let to = format!("{redirect_to}/api/v1/streaming?{}", q.unwrap_or_default());
                    (
                        StatusCode::MOVED_PERMANENTLY,
                        [(axum::http::header::LOCATION, to)],
                    )
                }),
            )
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let record = record.clone();
                    async move {
                        let path = request
                            .uri()
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default();
                        record
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(path);
                        next.run(request).await
                    }
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((format!("http://{addr}"), seen))
    }

    /// `ws://127.0.0.1:PORT`, the Jetstream base URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Every upgrade request so far, refused ones included, in order.
    pub fn connections(&self) -> Vec<StreamConnection> {
        self.shared.lock().connections.clone()
    }

    /// How many upgrades were accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared
            .lock()
            .connections
            .iter()
            .filter(|c| c.refused.is_none())
            .count()
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        *self.shared.open.borrow()
    }

    /// Waits until `n` connections are open (false if `within` passes first).
    pub async fn wait_open(&self, n: usize, within: Duration) -> bool {
        let mut rx = self.shared.open.subscribe();
        tokio::time::timeout(within, rx.wait_for(|open| *open == n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Refuses the next `times` upgrades with `status`.
    pub fn refuse_next(&self, status: u16, times: usize) {
        self.shared
            .lock()
            .refusals
            .extend(std::iter::repeat_n(status, times));
    }

    /// Forgets the refusals not yet used.
    pub fn clear_refusals(&self) {
        self.shared.lock().refusals.clear();
    }

    /// Every timeline request so far, refused ones included, in order. `param("tag")`
    /// gives the tag from the path.
    pub fn polls(&self) -> Vec<StreamConnection> {
        self.shared.lock().polls.clone()
    }

    /// Waits until at least `n` timeline requests were answered (false if `within` passes
    /// first).
    pub async fn wait_polls(&self, n: usize, within: Duration) -> bool {
        let mut rx = self.shared.polled.subscribe();
        tokio::time::timeout(within, rx.wait_for(|polled| *polled >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Sends `Retry-After: {seconds}` with every refusal (none by default).
    pub fn set_retry_after(&self, seconds: Option<u64>) {
        self.shared.lock().retry_after = seconds;
    }

    /// Mastodon: puts `status` on the hashtag timeline of `tag` only, without streaming it.
    pub fn add_to_timeline(&self, tag: &str, status: &Value) {
        self.shared
            .lock()
            .timelines
            .entry(tag.to_lowercase())
            .or_default()
            .push(status.clone());
    }

    /// Refuses upgrades (401) without `Authorization: Bearer {token}`, as Mastodon 4.2+.
    pub fn require_token(&self, token: &str) {
        self.shared.lock().required_token = Some(token.to_string());
    }

    /// Drops every open connection without a close frame.
    pub fn drop_connections(&self) {
        let _ = self.shared.pushes.send(Push::DropAll);
    }

    /// While silent, pushed frames (and heartbeats) reach nobody; Jetstream still buffers.
    pub fn set_silent(&self, silent: bool) {
        self.shared.lock().silent = silent;
    }

    /// Sends a websocket ping this often on every open connection (none by default).
    pub fn set_heartbeat(&self, every: Option<Duration>) {
        *self
            .shared
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = every;
    }

    /// Sends a frame as it is (for malformed frames).
    pub fn push_raw(&self, text: &str) {
        self.send(None, None, text.to_string());
    }

    /// Mastodon: an `update` event carrying `status` to the connections for `tag`.
    pub fn push_status(&self, tag: &str, status: &Value) {
        self.add_to_timeline(tag, status);
        let frame = json!({
            "stream": ["hashtag", tag],
            "event": "update",
            "payload": status.to_string(),
        });
        self.send(Some(tag.to_lowercase()), None, frame.to_string());
    }

    /// Mastodon: a `delete` event for status `id` to the connections for `tag`.
    pub fn push_delete(&self, tag: &str, id: &str) {
        if let Some(timeline) = self.shared.lock().timelines.get_mut(&tag.to_lowercase()) {
            timeline.retain(|s| s.get("id").and_then(Value::as_str) != Some(id));
        }
        let frame = json!({"stream": ["hashtag", tag], "event": "delete", "payload": id});
        self.send(Some(tag.to_lowercase()), None, frame.to_string());
    }

    /// Jetstream: a new post by `did` with a tag facet for each of `tags`.
    pub fn push_post(&self, did: &str, rkey: &str, text: &str, tags: &[&str], time_us: u64) {
        let event = jetstream_post(did, rkey, text, tags, time_us);
        self.push_event(&event);
    }

    /// Jetstream: the deletion of post `rkey` by `did`.
    pub fn push_post_delete(&self, did: &str, rkey: &str, time_us: u64) {
        self.push_event(&json!({
            "did": did,
            "time_us": time_us,
            "kind": "commit",
            "commit": {
                "rev": format!("rev{time_us}"),
                "operation": "delete",
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
            },
        }));
    }

    /// Jetstream: any event (buffered for replay by its `time_us`).
    pub fn push_event(&self, event: &Value) {
        let time_us = event.get("time_us").and_then(Value::as_u64);
        self.send(None, time_us, event.to_string());
    }

    fn send(&self, tag: Option<String>, time_us: Option<u64>, text: String) {
        // Under the lock, so a connection being set up sees each event once: in its
        // replay snapshot or live, never both, never neither.
        let mut inner = self.shared.lock();
        if let Some(t) = time_us {
            inner.buffer.push((t, text.clone()));
        }
        if !inner.silent {
            let _ = self.shared.pushes.send(Push::Frame { tag, text });
        }
    }
}

/// A Jetstream commit event for a new post, with a tag facet for each tag (byte ranges
/// point at `#tag` in the text when it is there).
pub fn jetstream_post(did: &str, rkey: &str, text: &str, tags: &[&str], time_us: u64) -> Value {
    let facets: Vec<Value> = tags
        .iter()
        .map(|tag| {
            let needle = format!("#{tag}");
            let start = text.find(&needle).unwrap_or(0);
            json!({
                "index": {"byteStart": start, "byteEnd": start + needle.len()},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            })
        })
        .collect();
    json!({
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": format!("rev{time_us}"),
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": "2024-05-01T12:00:00.000Z",
                "langs": ["en"],
                "text": text,
                "facets": facets,
            },
            "cid": format!("bafyrei{rkey}"),
        },
    })
}

/// A Mastodon Status as the streaming API sends it, tagged with `tags`.
pub fn mastodon_status(id: &str, acct: &str, content_html: &str, tags: &[&str]) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|t| json!({"name": t, "url": format!("https://mastodon.example/tags/{t}")}))
        .collect();
    json!({
        "id": id,
        "created_at": "2024-05-01T12:00:00.000Z",
        "in_reply_to_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": format!("https://mastodon.example/users/{acct}/statuses/{id}"),
        "url": format!("https://mastodon.example/@{acct}/{id}"),
        "content": content_html,
        "reblog": null,
        "account": {
            "id": "1",
            "username": acct,
            "acct": acct,
            "display_name": format!("{acct} (display)"),
            "url": format!("https://mastodon.example/@{acct}"),
        },
        "media_attachments": [],
        "mentions": [],
        "tags": tags,
        "emojis": [],
    })
}

/// Mastodon ids: a longer one is newer, and of equal length the greater.
fn newer(a: &str, b: &str) -> bool {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b)).is_gt()
}

async fn timeline(
    State(shared): State<Arc<Shared>>,
    Path(tag): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let mut poll = StreamConnection {
        query: format!(
            "tag={}&{query}",
            url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
        ),
        headers,
        refused: None,
    };
    let since_id = poll.param("since_id");
    let limit: usize = poll
        .param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(40);
    let response = {
        let mut inner = shared.lock();
        let refusal = (!inner.refusals.is_empty()).then(|| inner.refusals.remove(0));
        let response = match refusal {
            Some(code) => {
                poll.refused = Some(code);
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, "{\"error\":\"refused by the fake\"}").into_response();
                if let Some(seconds) = inner.retry_after {
                    if let Ok(value) = seconds.to_string().parse() {
                        response
                            .headers_mut()
                            .insert(axum::http::header::RETRY_AFTER, value);
                    }
                }
                response
            }
            None => {
                let statuses: Vec<Value> = inner
                    .timelines
                    .get(&tag.to_lowercase())
                    .map(|all| {
                        all.iter()
                            .rev()
                            .filter(|s| {
                                let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
                                since_id.as_deref().is_none_or(|since| newer(id, since))
                            })
                            .take(limit)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                axum::Json(Value::Array(statuses)).into_response()
            }
        };
        inner.polls.push(poll);
        response
    };
    shared.polled.send_modify(|n| *n += 1);
    response
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let mut connection = StreamConnection {
        query: query.unwrap_or_default(),
        headers,
        refused: None,
    };
    let mut inner = shared.lock();
    let wrong_token = inner
        .required_token
        .as_ref()
        .is_some_and(|token| connection.header("authorization") != Some(format!("Bearer {token}")));
    let refusal = if inner.refusals.is_empty() {
        wrong_token.then_some(401)
    } else {
        Some(inner.refusals.remove(0))
    };
    if let Some(code) = refusal {
        connection.refused = Some(code);
        inner.connections.push(connection);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "{\"error\":\"refused by the fake\"}").into_response();
    }
    // Subscribed before the upgrade answer goes out, so nothing pushed after the client
    // sees the connection open is missed.
    let live = shared.pushes.subscribe();
    let tag = match shared.flavor {
        Flavor::Mastodon => connection.param("tag").map(|t| t.to_lowercase()),
        Flavor::Jetstream => None,
    };
    let replay: Vec<String> = match (shared.flavor, connection.param("cursor")) {
        (Flavor::Jetstream, Some(cursor)) => {
            let cursor: u64 = cursor.parse().unwrap_or(0);
            inner
                .buffer
                .iter()
                .filter(|(t, _)| *t >= cursor)
                .map(|(_, text)| text.clone())
                .collect()
        }
        _ => Vec::new(),
    };
    inner.connections.push(connection);
    drop(inner);
    shared.open.send_modify(|n| *n += 1);
    let shared_for_socket = shared.clone();
    ws.on_upgrade(move |socket| async move {
        serve(socket, &shared_for_socket, tag, replay, live).await;
        shared_for_socket
            .open
            .send_modify(|n| *n = n.saturating_sub(1));
    })
}

async fn serve(
    socket: WebSocket,
    shared: &Shared,
    tag: Option<String>,
    replay: Vec<String>,
    mut live: broadcast::Receiver<Push>,
) {
    let (mut sink, mut incoming) = socket.split();
    for text in replay {
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let heartbeat = *shared
        .heartbeat
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ticker = tokio::time::interval(heartbeat.unwrap_or(Duration::from_secs(3600)));
    ticker.tick().await;
    loop {
        tokio::select! {
            push = live.recv() => match push {
                Ok(Push::Frame { tag: for_tag, text }) => {
                    let wanted = match (&for_tag, &tag) {
                        (Some(for_tag), Some(tag)) => for_tag == tag,
                        _ => true,
                    };
                    if wanted && sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Ok(Push::DropAll) | Err(broadcast::error::RecvError::Closed) => return,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            _ = ticker.tick(), if heartbeat.is_some() => {
                if !shared.lock().silent
                    && sink.send(Message::Ping(Vec::new().into())).await.is_err()
                {
                    return;
                }
            }
            frame = incoming.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A Mastodon `/api/v2/instance` answer naming `streaming` as the streaming host.
fn instance_answer(streaming: &str) -> axum::Json<Value> {
    axum::Json(json!({
        "domain": "mastodon.example",
        "title": "Fake Mastodon",
        "version": "4.3.0",
        "configuration": {
            "urls": { "streaming": streaming },
            "statuses": { "max_characters": 500 },
        },
    }))
}
