//! The reconnecting reader shared by both streams: connect, report `Connected`, read
//! frames until the connection dies (error, close, or no frame for the read timeout),
//! report `Reconnecting` and wait a jittered backoff, again until stopped.
//!
//! What differs per platform (the upgrade request, how a refusal reads, what a frame
//! means) is a [`Feed`]. The task ends when the handle is stopped or dropped, or when the
//! receiving side of the channel is gone.

use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::Connector;

use crate::trust::ExtraRoots;
use crate::{Backoff, Heard, StreamState, StreamStatus};

/// A stream is taken for dead when no frame (not even a ping) arrived for this long.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a clean stop waits for the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// One platform's side of a stream.
pub(crate) trait Feed: Send + 'static {
    /// The stream's stable name.
    fn name(&self) -> &str;
    /// The upgrade request for the next connection; an error says what is misconfigured.
    fn request(&mut self) -> Result<Request, String>;
    /// The panel's words for an upgrade refused with this HTTP status.
    fn refused(&self, status: u16) -> String;
    /// Turns one text frame into what to report (malformed frames are logged and skipped).
    fn on_text(&mut self, text: &str, out: &mut Vec<Heard>);
    /// Reads what the next upgrade request needs, before each connection (Mastodon: the
    /// instance's streaming host). Nothing by default.
    fn prepare(&mut self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A running stream. Dropping it aborts the task at once; [`StreamHandle::stop`] closes
/// the connection cleanly and reports [`StreamState::Stopped`] first.
#[derive(Debug)]
pub struct StreamHandle {
    task: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl StreamHandle {
    /// A handle on `task`, which ends once `stop` turns true.
    pub(crate) fn new(task: JoinHandle<()>, stop: watch::Sender<bool>) -> StreamHandle {
        StreamHandle {
            task: Some(task),
            stop,
        }
    }

    /// Closes the connection cleanly, reports `Stopped`, and ends the task (in the
    /// background; use [`StreamHandle::stop_and_wait`] to wait for it).
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        // Detached rather than aborted: the task finishes its close on its own.
        drop(self.task.take());
    }

    /// Like [`StreamHandle::stop`], returning once the task has ended.
    pub async fn stop_and_wait(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Whether the task has ended (stopped, or its receiver is gone).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts `feed` on its own task.
pub(crate) fn spawn<F: Feed>(
    feed: F,
    backoff: Backoff,
    read_timeout: Duration,
    roots: ExtraRoots,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    let (stop, stop_rx) = watch::channel(false);
    let runner = Runner {
        out: Outlet::new(feed.name().to_string(), tx, stop_rx),
        feed,
        backoff,
        read_timeout,
        roots,
    };
    StreamHandle {
        task: Some(tokio::spawn(runner.run())),
        stop,
    }
}

/// How a wait or a connection ended.
pub(crate) enum Flow {
    /// Stop was asked for.
    Stop,
    /// Nobody is listening any more.
    ReceiverGone,
}

/// Where one stream task's news goes (its name on every status), and how it hears that
/// it should stop: shared by the websocket streams here and the timeline poller.
pub(crate) struct Outlet {
    name: String,
    tx: mpsc::Sender<Heard>,
    stop: watch::Receiver<bool>,
}

impl Outlet {
    pub(crate) fn new(
        name: String,
        tx: mpsc::Sender<Heard>,
        stop: watch::Receiver<bool>,
    ) -> Outlet {
        Outlet { name, tx, stop }
    }

    /// The stream's state, as a status under its name.
    pub(crate) async fn status(&self, state: StreamState) -> Result<(), Flow> {
        let status = StreamStatus {
            stream: self.name.clone(),
            state,
        };
        self.send(Heard::Status(status)).await
    }

    pub(crate) async fn send(&self, heard: Heard) -> Result<(), Flow> {
        match self.wait_value(self.tx.send(heard)).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Flow::ReceiverGone),
        }
    }

    /// Runs `fut` unless stop is asked for or the receiver goes away first.
    pub(crate) async fn wait_value<T>(
        &self,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, Flow> {
        let mut stop = self.stop.clone();
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => Err(Flow::Stop),
            () = self.tx.closed() => Err(Flow::ReceiverGone),
            value = fut => Ok(value),
        }
    }

    /// Ends the task's news: a stop asked for is reported as `Stopped` (within
    /// [`CLOSE_GRACE`]); a receiver gone hears nothing.
    pub(crate) async fn finish(self, flow: Flow) {
        if let Flow::Stop = flow {
            let stopped = Heard::Status(StreamStatus {
                stream: self.name,
                state: StreamState::Stopped,
            });
            let _ = tokio::time::timeout(CLOSE_GRACE, self.tx.send(stopped)).await;
        }
    }
}

struct Runner<F> {
    feed: F,
    backoff: Backoff,
    read_timeout: Duration,
    roots: ExtraRoots,
    out: Outlet,
}

impl<F: Feed> Runner<F> {
    async fn run(mut self) {
        let connector = self.roots.ws_connector(self.feed.name());
        let mut attempt: u32 = 0;
        if let Err(flow) = self.status(StreamState::Connecting).await {
            return self.finish(flow).await;
        }
        loop {
            let error = match self.connect(&connector).await {
                Err(flow) => return self.finish(flow).await,
                Ok(Err(error)) => error,
                Ok(Ok(mut socket)) => {
                    if let Err(flow) = self.status(StreamState::Connected).await {
                        let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(None)).await;
                        return self.finish(flow).await;
                    }
                    let since = Instant::now();
                    let ended = self.read(&mut socket).await;
                    if since.elapsed() >= self.backoff.stable_after {
                        attempt = 0;
                    }
                    match ended {
                        Ok(error) => error,
                        Err(flow) => {
                            let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(None)).await;
                            return self.finish(flow).await;
                        }
                    }
                }
            };
            attempt = attempt.saturating_add(1);
            let retry_in = self.backoff.delay(attempt);
            tracing::info!(stream = %self.feed.name(), attempt, ?retry_in, "stream dropped: {error}");
            let reconnecting = StreamState::Reconnecting {
                attempt,
                retry_in,
                last_error: error,
            };
            if let Err(flow) = self.status(reconnecting).await {
                return self.finish(flow).await;
            }
            if let Some(flow) = self.wait(tokio::time::sleep(retry_in)).await {
                return self.finish(flow).await;
            }
        }
    }

    /// One connection attempt: the socket, or why it failed in words for the panel.
    async fn connect(&mut self, connector: &Connector) -> Result<Result<Socket, String>, Flow> {
        let prepared = tokio::time::timeout(self.read_timeout, self.feed.prepare());
        // A feed that could not prepare connects with what it had.
        let _ = self.out.wait_value(prepared).await?;
        let request = match self.feed.request() {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let attempt = tokio::time::timeout(
            self.read_timeout,
            tokio_tungstenite::connect_async_tls_with_config(
                request,
                None,
                false,
                Some(connector.clone()),
            ),
        );
        Ok(match self.wait_value(attempt).await? {
            Err(_) => Err(format!(
                "connecting took longer than {} s",
                self.read_timeout.as_secs_f32()
            )),
            Ok(Err(WsError::Http(response))) => Err(self.feed.refused(response.status().as_u16())),
            Ok(Err(e)) => Err(describe_connect_error(&e)),
            Ok(Ok((socket, _response))) => Ok(socket),
        })
    }

    /// Reads until the connection dies (the error, for the panel) or the task should end.
    async fn read(&mut self, socket: &mut Socket) -> Result<String, Flow> {
        let mut out = Vec::new();
        loop {
            let next = tokio::time::timeout(self.read_timeout, socket.next());
            let frame = match self.wait_value(next).await? {
                Err(_) => {
                    return Ok(format!(
                        "no frame for {} s; took the connection for dead",
                        self.read_timeout.as_secs_f32()
                    ))
                }
                Ok(None) => return Ok("the server ended the connection".into()),
                Ok(Some(Err(e))) => return Ok(describe_read_error(&e)),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Text(text) => {
                    self.feed.on_text(text.as_str(), &mut out);
                    for heard in out.drain(..) {
                        self.send(heard).await?;
                    }
                }
                Message::Close(frame) => {
                    return Ok(match frame {
                        Some(f) if !f.reason.is_empty() => {
                            format!("the server closed the stream ({}: {})", f.code, f.reason)
                        }
                        Some(f) => format!("the server closed the stream ({})", f.code),
                        None => "the server closed the stream".into(),
                    })
                }
                Message::Binary(bytes) => tracing::warn!(
                    stream = %self.feed.name(),
                    "skipped a binary frame of {} bytes; the stream speaks text JSON",
                    bytes.len()
                ),
                // Pings are answered by tungstenite; any frame shows the peer is alive.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    async fn status(&mut self, state: StreamState) -> Result<(), Flow> {
        self.out.status(state).await
    }

    async fn send(&mut self, heard: Heard) -> Result<(), Flow> {
        self.out.send(heard).await
    }

    async fn wait_value<T>(
        &mut self,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, Flow> {
        self.out.wait_value(fut).await
    }

    /// Like [`Runner::wait_value`] for a future whose output is not needed.
    async fn wait<T>(&mut self, fut: impl std::future::Future<Output = T>) -> Option<Flow> {
        self.wait_value(fut).await.err()
    }

    async fn finish(self, flow: Flow) {
        self.out.finish(flow).await;
        tracing::debug!(stream = %self.feed.name(), "stream task ended");
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn describe_read_error(e: &WsError) -> String {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => "the connection closed".into(),
        WsError::Protocol(p) => format!("the connection broke: {p}"),
        WsError::Io(io) => format!("the connection failed: {io}"),
        other => format!("reading failed: {other}"),
    }
}

fn describe_connect_error(e: &WsError) -> String {
    match e {
        WsError::Io(io) => format!("could not connect: {io}"),
        WsError::Tls(tls) => format!("TLS failed: {tls}"),
        WsError::Url(url) => format!("bad stream URL: {url}"),
        other => format!("the websocket upgrade failed: {other}"),
    }
}
