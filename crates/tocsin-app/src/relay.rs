//! Panel events and account changes between nodes: with several nodes on one PostgreSQL,
//! what one node's hub publishes (delivery, draft and message events, sessions ending)
//! reaches the panels of every other node at once, over `LISTEN` / `NOTIFY`; so does
//! "account N changed" (secret replaced, disabled, OAuth tokens stored), on which every
//! other node re-reads account N and builds its route again or drops it.
//!
//! Each node sends what its hub publishes as notifications on the database's channel
//! (see [`tocsin_store::notify`]), many frames packed into one payload
//! (`<origin>\n<frame>\n<frame>...`, under PostgreSQL's 8000-byte limit; a frame too big
//! to fit goes as a `resync` instead), and listens on a connection of its own for the
//! others', which it hands to its own panels without serialising them again. Frames are
//! tagged with this node's origin (node id and a random instance number) so a node skips
//! its own. Losing the listening connection means events were missed: the listener
//! reconnects with backoff and then tells this node's panels to `resync`; a failed send
//! likewise sends a `resync` to the other nodes once sending works again. Account changes
//! travel as `@<id>` lines (the id only: secrets stay in the database); whenever a
//! `resync` is owed, every account is re-read instead (`@*`, one query), so a missed
//! change is still applied. On SQLite (one node) none of this runs.
//!
//! Also here: [`connect_accounts_on_demand`], so that a delivery to an account another
//! node added (after this one started) is sent rather than failed for want of a route.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tocsin_dispatch::Routes;
use tocsin_store::notify::MAX_PAYLOAD;
use tocsin_store::{Backend, Store, StoreError};
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinSet;

use crate::account_follow::Follower;
use crate::accounts::AccountVault;
use crate::events::{Hub, HubSignal, PanelEvent};
use crate::shutdown::Shutdown;
use crate::Tocsin;

/// Events waiting to be sent to other nodes at most; past that they are dropped and the
/// other nodes' panels told to resync.
const QUEUE: usize = 65_536;
/// Events gathered into one round of notifications at most.
const BATCH: usize = 4096;
/// How long one attempt to open the listening connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What goes to other nodes.
#[derive(Debug)]
enum Outgoing {
    /// A panel frame, already serialised.
    Frame(Arc<str>),
    /// A session ended (its id's digest): its sockets close everywhere.
    SessionEnded(Arc<str>),
    /// An account's stored state changed (its id): other nodes re-read it.
    AccountChanged(i64),
}

/// The hub's way out to other nodes. Cheap to clone; never blocks the publisher.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    overflowed: Arc<AtomicBool>,
}

impl Outbox {
    /// Queues a frame for other nodes.
    pub(crate) fn frame(&self, frame: Arc<str>) {
        self.push(Outgoing::Frame(frame));
    }

    /// Queues a session's end for other nodes.
    pub(crate) fn session_ended(&self, digest: Arc<str>) {
        self.push(Outgoing::SessionEnded(digest));
    }

    /// Queues an account's change for other nodes (an overflow makes them re-read all).
    pub(crate) fn account_changed(&self, id: i64) {
        self.push(Outgoing::AccountChanged(id));
    }

    fn push(&self, item: Outgoing) {
        if self.tx.try_send(item).is_err() {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

/// What the relay counts (for `/metrics`).
#[derive(Debug, Default)]
pub struct RelayState {
    connected: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
}

impl RelayState {
    /// Whether this node is listening to the others now.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Events sent to other nodes.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Events received from other nodes.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Times the listening connection was lost and opened again.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
}

/// Starts relaying the application's hub events to and from the other nodes on its
/// database, and the changes its vault makes to accounts, which the other nodes apply to
/// their routes as this node hands theirs to `follower`, on `tasks` until `stopped`
/// (PostgreSQL only; nothing on SQLite). Counts into the application's relay state.
pub(crate) fn start(
    tasks: &mut JoinSet<()>,
    stopped: &Shutdown,
    app: &Tocsin,
    follower: &Follower,
) {
    let (hub, store, vault) = (&app.0.hub, app.0.store.clone(), &app.0.vault);
    let (node_id, state) = (app.0.dispatcher.node_id(), app.0.relay.clone());
    if store.backend() != Backend::Postgres {
        return;
    }
    // The instance number tells two processes apart even if both were given one name.
    let origin = format!(
        "{}/{:016x}",
        node_id.replace(['\n', '\r'], " "),
        rand::random::<u64>()
    );
    let (tx, rx) = mpsc::channel(QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let outbox = Outbox {
        tx,
        overflowed: overflowed.clone(),
    };
    hub.attach_outbox(outbox.clone());
    vault.on_change(Arc::new(move |id| outbox.account_changed(id)));
    let follower = follower.clone();
    let channel = Arc::new(OnceCell::new());
    let sender = Sender {
        store: store.clone(),
        channel: channel.clone(),
        origin: origin.clone(),
        overflowed,
        state: state.clone(),
    };
    tasks.spawn(sender.run(rx, stopped.clone()));
    let receiver = Receiver {
        store,
        channel,
        origin,
        hub: hub.clone(),
        follower,
        state,
    };
    tasks.spawn(receiver.run(stopped.clone()));
}

/// Lets the dispatcher connect, on first use, an account this node has no route for: one
/// added on another node (or by `tocsin accounts add`) after this node started. Its
/// stored record is read and connected as at start; a disabled or unconnectable account
/// stays without a route.
pub(crate) fn connect_accounts_on_demand(
    routes: &Arc<Routes>,
    vault: &Arc<AccountVault>,
    store: Store,
) {
    let (weak_routes, weak_vault) = (Arc::downgrade(routes), Arc::downgrade(vault));
    routes.set_resolver(Arc::new(move |id| {
        let (routes, vault, store) = (weak_routes.clone(), weak_vault.clone(), store.clone());
        Box::pin(async move {
            let record = match store.accounts().get(id).await {
                Ok(Some(record)) => record,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(account = id, error = %e, "could not read an account to connect it");
                    return None;
                }
            };
            let (routes, vault) = (routes.upgrade()?, vault.upgrade()?);
            match vault.connect(&routes, &record) {
                Ok(()) => {
                    tracing::info!(account = id, "connected an account added since this node started");
                    routes.get(id)
                }
                Err(why) => {
                    tracing::warn!(account = id, reason = %why, "an account added since this node started did not connect");
                    None
                }
            }
        })
    }));
}

/// The database's channel, asked once.
async fn channel_of(store: &Store, cell: &OnceCell<String>) -> Result<String, StoreError> {
    cell.get_or_try_init(|| async {
        Ok::<_, StoreError>(
            store
                .notify_channel()
                .await?
                .unwrap_or_else(|| "tocsin_events".into()),
        )
    })
    .await
    .cloned()
}

/// A `resync` frame as one line.
fn resync_line(reason: &'static str) -> String {
    serde_json::to_string(&PanelEvent::Resync { reason })
        .unwrap_or_else(|_| "{\"type\":\"resync\",\"reason\":\"events were missed\"}".into())
}

/// Packs lines into payloads of at most [`MAX_PAYLOAD`] bytes, each starting with the
/// origin line. A line too long to fit in any payload becomes a `resync`.
fn pack(origin: &str, lines: Vec<String>) -> Vec<String> {
    let room = MAX_PAYLOAD.saturating_sub(origin.len() + 1);
    let mut out = Vec::new();
    let mut current = String::new();
    for line in lines {
        let line = if line.len() > room {
            resync_line("an event was too large to pass between nodes")
        } else {
            line
        };
        if !current.is_empty() && current.len() + 1 + line.len() > room {
            out.push(format!("{origin}\n{current}"));
            current.clear();
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(format!("{origin}\n{current}"));
    }
    out
}

/// One line of another node's payload.
#[derive(Debug)]
enum Incoming {
    /// For this node's panels.
    Panel(HubSignal),
    /// Re-read this account (`@<id>`).
    Account(i64),
    /// Re-read every account (`@*`): changes may have been missed.
    AllAccounts,
}

/// The line announcing account `id`'s change.
fn account_line(id: i64) -> String {
    format!("@{id}")
}

/// The line telling other nodes to re-read every account.
const ALL_ACCOUNTS_LINE: &str = "@*";

/// What a payload from another node carries, or nothing when it is this node's own.
fn unpack(origin: &str, payload: &str) -> Vec<Incoming> {
    let mut lines = payload.split('\n');
    match lines.next() {
        Some(from) if from != origin => {}
        _ => return Vec::new(),
    }
    lines
        .filter_map(|line| {
            if let Some(digest) = line.strip_prefix('!') {
                Some(Incoming::Panel(HubSignal::SessionEnded(digest.into())))
            } else if line.starts_with('{') {
                Some(Incoming::Panel(HubSignal::Frame(line.into())))
            } else if line == ALL_ACCOUNTS_LINE {
                Some(Incoming::AllAccounts)
            } else if let Some(id) = line.strip_prefix('@') {
                id.parse().ok().map(Incoming::Account)
            } else {
                None
            }
        })
        .collect()
}

/// Sends this node's events to the others.
struct Sender {
    store: Store,
    channel: Arc<OnceCell<String>>,
    origin: String,
    overflowed: Arc<AtomicBool>,
    state: Arc<RelayState>,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Outgoing>, mut stopped: Shutdown) {
        // Set when events could not be sent: the others' panels must refetch.
        let mut owed_resync = false;
        loop {
            let first = tokio::select! {
                () = stopped.wait() => break,
                item = rx.recv() => match item {
                    Some(item) => item,
                    None => break,
                },
            };
            let mut items = vec![first];
            while items.len() < BATCH {
                match rx.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            let mut lines = Vec::with_capacity(items.len() + 2);
            if self.overflowed.swap(false, Ordering::Relaxed) || owed_resync {
                lines.push(resync_line("events were missed between nodes"));
                // An account change may have been among what was missed.
                lines.push(ALL_ACCOUNTS_LINE.to_string());
            }
            let count = items.len() as u64;
            lines.extend(items.into_iter().map(|item| match item {
                Outgoing::Frame(frame) => frame.to_string(),
                Outgoing::SessionEnded(digest) => format!("!{digest}"),
                Outgoing::AccountChanged(id) => account_line(id),
            }));
            let payloads = pack(&self.origin, lines);
            let sent = match channel_of(&self.store, &self.channel).await {
                Ok(channel) => self.store.notify(&channel, &payloads).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => {
                    if owed_resync {
                        tracing::info!("sending panel events to other nodes works again");
                    }
                    owed_resync = false;
                    self.state.sent.fetch_add(count, Ordering::Relaxed);
                }
                Err(e) => {
                    if !owed_resync {
                        tracing::warn!(error = %e, events = count, "could not send panel events to other nodes; they will be told to resync");
                    }
                    owed_resync = true;
                    tokio::select! {
                        () = stopped.wait() => break,
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
            }
        }
    }
}

/// Hands the other nodes' events to this node's panels, and their account changes to
/// the [`Follower`].
struct Receiver {
    store: Store,
    channel: Arc<OnceCell<String>>,
    origin: String,
    hub: Hub,
    follower: Follower,
    state: Arc<RelayState>,
}

impl Receiver {
    async fn run(self, mut stopped: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        let mut tried = false;
        let mut failing = false;
        loop {
            let opened = tokio::select! {
                () = stopped.wait() => return,
                opened = self.open() => opened,
            };
            match opened {
                Ok(Some(mut listener)) => {
                    self.state.connected.store(true, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    if tried {
                        // Whatever the others sent while we were not listening is gone.
                        self.state.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("listening to other nodes again; panels told to resync, accounts re-read");
                        self.hub.deliver_local(HubSignal::Frame(
                            resync_line("the connection between nodes was lost").into(),
                        ));
                        self.follower.all();
                    }
                    tried = true;
                    failing = false;
                    loop {
                        let next = tokio::select! {
                            () = stopped.wait() => return,
                            next = listener.recv() => next,
                        };
                        match next {
                            Ok(Some(payload)) => {
                                for incoming in unpack(&self.origin, &payload) {
                                    match incoming {
                                        Incoming::Panel(signal) => {
                                            self.state.received.fetch_add(1, Ordering::Relaxed);
                                            self.hub.deliver_local(signal);
                                        }
                                        Incoming::Account(id) => self.follower.one(id),
                                        Incoming::AllAccounts => self.follower.all(),
                                    }
                                }
                            }
                            Ok(None) => {
                                tracing::warn!(
                                    "lost the connection listening to other nodes; reconnecting"
                                );
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "listening to other nodes failed; reconnecting");
                                break;
                            }
                        }
                    }
                    self.state.connected.store(false, Ordering::Relaxed);
                }
                Ok(None) => return,
                Err(e) => {
                    tried = true;
                    if !failing {
                        tracing::warn!(error = %e, "cannot listen to other nodes; trying again");
                    } else {
                        tracing::debug!(error = %e, "cannot listen to other nodes yet");
                    }
                    failing = true;
                    tokio::select! {
                        () = stopped.wait() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn open(&self) -> Result<Option<tocsin_store::notify::Listener>, StoreError> {
        let channel = channel_of(&self.store, &self.channel).await?;
        self.store.listen(&channel, CONNECT_TIMEOUT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(incoming: &[Incoming]) -> Vec<String> {
        incoming
            .iter()
            .map(|s| match s {
                Incoming::Panel(HubSignal::Frame(f)) => f.to_string(),
                Incoming::Panel(HubSignal::SessionEnded(d)) => format!("!{d}"),
                Incoming::Panel(HubSignal::Shutdown) => "shutdown".into(),
                Incoming::Account(id) => account_line(*id),
                Incoming::AllAccounts => ALL_ACCOUNTS_LINE.into(),
            })
            .collect()
    }

    #[test]
    fn frames_and_account_changes_are_packed_under_the_payload_limit_and_unpacked_in_order_by_other_nodes(
    ) {
        let lines: Vec<String> = (0..500)
            .map(|n| format!("{{\"type\":\"delivery\",\"message_id\":1,\"account_id\":{n}}}"))
            .chain([
                "!digest-1".to_string(),
                account_line(42),
                ALL_ACCOUNTS_LINE.into(),
            ])
            .collect();
        let payloads = pack("node-a/1", lines.clone());
        assert!(payloads.len() > 1, "{}", payloads.len());
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: Vec<String> = payloads
            .iter()
            .flat_map(|p| frames(&unpack("node-b/2", p)))
            .collect();
        assert_eq!(back, lines);
        // Its own payloads are skipped.
        assert!(payloads.iter().all(|p| unpack("node-a/1", p).is_empty()));
    }

    #[test]
    fn a_frame_too_large_to_pass_becomes_a_resync() {
        let big = format!("{{\"type\":\"message\",\"x\":\"{}\"}}", "a".repeat(9000));
        let payloads = pack("node-a/1", vec![big, "{\"n\":1}".into()]);
        let back = frames(&unpack("node-b/2", &payloads.concat()));
        assert_eq!(back.len(), 2);
        assert!(back[0].contains("\"type\":\"resync\""), "{}", back[0]);
        assert_eq!(back[1], "{\"n\":1}");
    }
}
