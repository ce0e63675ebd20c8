//! The event hub: what every open panel hears. Delivery events from the dispatcher and
//! workflow events from the API are serialised once and fanned out to every socket over
//! one bounded broadcast ring, so a slow socket costs nothing but its own lag: when it
//! falls more than the ring's size behind it is told to resync instead of queueing
//! without bound. With several nodes on one PostgreSQL, what this node publishes also goes
//! to the others and theirs comes in here ([`crate::relay`]).

use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tocsin_dispatch::DeliveryEvent;
use tokio::sync::broadcast;

use crate::conversation::ConversationPostView;
use crate::monitor::StreamStatusView;
use crate::relay::Outbox;
use crate::sessions::LiveSession;
use crate::views::{DraftSummary, MessageView};

/// An event for panels.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PanelEvent {
    /// A delivery changed.
    Delivery(DeliveryEvent),
    /// A draft was created or moved.
    Draft {
        /// Its summary now.
        draft: DraftSummary,
    },
    /// A message was approved, retracted or reviewed.
    Message {
        /// Its summary now.
        message: MessageView,
    },
    /// A post of a live session's public conversation was heard, marked, answered or
    /// deleted: the panel shows it as it is now.
    ConversationPost {
        /// The post now.
        post: ConversationPostView,
    },
    /// A hashtag monitor stream of some node changed state.
    MonitorStatus {
        /// Its state now.
        status: StreamStatusView,
    },
    /// A live session started or ended.
    LiveSession {
        /// The session now.
        session: LiveSession,
    },
    /// Events were lost (the hub fell behind the dispatcher): refetch.
    Resync {
        /// Why.
        reason: &'static str,
    },
}

/// What travels on the hub's ring.
#[derive(Debug, Clone)]
pub enum HubSignal {
    /// A JSON frame for every panel.
    Frame(Arc<str>),
    /// The session with this id digest ended: its sockets close with 1008.
    SessionEnded(Arc<str>),
    /// The server is stopping: every socket closes with 1001.
    Shutdown,
}

/// The hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<HubSignal>,
    sockets: Arc<AtomicUsize>,
    /// Where what is published here also goes to other nodes (PostgreSQL only).
    outbox: Arc<OnceLock<Outbox>>,
}

impl Hub {
    /// A hub whose ring holds `capacity` signals.
    pub fn new(capacity: usize) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Hub {
            tx,
            sockets: Arc::new(AtomicUsize::new(0)),
            outbox: Arc::new(OnceLock::new()),
        }
    }

    /// Sends an event to every panel.
    pub fn publish(&self, event: &PanelEvent) {
        match serde_json::to_string(event) {
            Ok(json) => {
                let frame: Arc<str> = json.into();
                if let Some(outbox) = self.outbox.get() {
                    outbox.frame(frame.clone());
                }
                let _ = self.tx.send(HubSignal::Frame(frame));
            }
            Err(e) => tracing::error!(error = %e, "an event could not be serialised"),
        }
    }

    /// Ends the sockets of a session (sign-out).
    pub fn end_session(&self, digest: &str) {
        let digest: Arc<str> = digest.into();
        if let Some(outbox) = self.outbox.get() {
            outbox.session_ended(digest.clone());
        }
        let _ = self.tx.send(HubSignal::SessionEnded(digest));
    }

    /// Sends what other nodes published to this node's panels only.
    pub(crate) fn deliver_local(&self, signal: HubSignal) {
        let _ = self.tx.send(signal);
    }

    /// Sends what is published here to other nodes too, from now on.
    pub(crate) fn attach_outbox(&self, outbox: Outbox) {
        let _ = self.outbox.set(outbox);
    }

    /// Closes every socket (server shutdown).
    pub fn shut_down(&self) {
        let _ = self.tx.send(HubSignal::Shutdown);
    }

    /// A receiver for one socket.
    pub fn subscribe(&self) -> broadcast::Receiver<HubSignal> {
        self.tx.subscribe()
    }

    /// Open sockets now.
    pub fn sockets(&self) -> usize {
        self.sockets.load(Ordering::Relaxed)
    }

    /// Counts a socket while the guard lives.
    pub fn socket_guard(&self) -> SocketGuard {
        self.sockets.fetch_add(1, Ordering::Relaxed);
        SocketGuard(self.sockets.clone())
    }

    /// Relays the dispatcher's delivery events to panels until the dispatcher is gone or
    /// `stop` turns true (one of the application's services).
    pub(crate) async fn relay_deliveries(
        self,
        mut events: broadcast::Receiver<DeliveryEvent>,
        mut stop: crate::shutdown::Shutdown,
    ) {
        loop {
            let event = tokio::select! {
                () = stop.wait() => break,
                event = events.recv() => event,
            };
            match event {
                Ok(mut event) => {
                    if let tocsin_dispatch::DeliveryEventKind::Delivered { url, .. } =
                        &mut event.kind
                    {
                        *url = crate::views::shown_link(url.as_deref());
                    }
                    self.publish(&PanelEvent::Delivery(event))
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "panel relay fell behind the dispatcher");
                    self.publish(&PanelEvent::Resync {
                        reason: "events were missed",
                    });
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

/// Keeps a socket counted.
#[derive(Debug)]
pub struct SocketGuard(Arc<AtomicUsize>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
