//! The hashtag monitor's supervisor: a background task of the server (started with it,
//! like the dispatcher) that keeps the streams it reads equal to what the open live
//! sessions want: each session's hashtag on each Mastodon instance of an enabled
//! Mastodon account (the streaming websocket, with that account's token) and of
//! `[monitor] mastodon_instances` (the public hashtag timeline, polled: Mastodon 4.2+
//! refuses streaming without a user token), and one Jetstream connection for all hashtags
//! when `[monitor] jetstream_url` is set. It re-evaluates when a session starts or ends on
//! this node ([`Monitor::wake`]), when a `live_session` frame comes through the hub (a
//! session started or ended on another node, debounced), and every minute.
//!
//! Every node of a cluster runs its own streams; what they hear is stored once
//! ([`intake`]). Stream states are per node, kept in memory ([`Monitor::statuses`]).
//! Layout: [`wanted`] works out the wanted set, [`intake`] takes in what was heard.

pub mod cap;
mod intake;
pub mod wanted;

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tocsin_monitor::timeline::{DEFAULT_POLL_EVERY, DEFAULT_POLL_TIMEOUT};
use tocsin_monitor::{
    Backoff, Heard, JetstreamStream, StreamHandle, StreamState, StreamStatus, TimelinePolling,
    DEFAULT_READ_TIMEOUT,
};
use tocsin_store::{AccountStatus, StoreError};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use url::Url;

use crate::events::{HubSignal, PanelEvent};
use crate::shutdown::Shutdown;
use crate::Tocsin;
use wanted::{instance_base, normalize_tag, Instance, StreamKey, Wanted};

/// What streams send before the intake catches up; beyond it a stream waits (its socket
/// buffers, then the platform drops it and it reconnects).
const HEARD_QUEUE: usize = 1024;
/// After a `live_session` frame, how long to wait for more before re-evaluating (a burst
/// of sessions, or the same one heard twice, costs one evaluation).
const HUB_DEBOUNCE: Duration = Duration::from_millis(250);

/// The default cap on posts stored per session a minute.
pub const DEFAULT_MAX_POSTS_PER_MINUTE: u32 = 120;

/// How the monitor runs (`[monitor]`).
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Whether to read streams at all.
    pub enabled: bool,
    /// Jetstream's base URL (`wss://jetstream2.us-east.bsky.network`); none: no Bluesky.
    pub jetstream_url: Option<Url>,
    /// Public Mastodon instances to listen on without a token, beyond those of accounts.
    pub mastodon_instances: Vec<Url>,
    /// Reconnect policy of every stream.
    pub backoff: Backoff,
    /// A stream silent this long is taken for dead.
    pub read_timeout: Duration,
    /// How often the wanted streams are worked out again without a signal.
    pub reevaluate_every: Duration,
    /// How often a public instance's hashtag timeline is polled (give or take a fifth).
    pub poll_every: Duration,
    /// Most posts heard stored per live session a minute (`[monitor]
    /// max_posts_per_minute`); the rest are dropped and counted in the log.
    pub max_posts_per_minute: u32,
}

impl Default for MonitorConfig {
    /// Off (the binary turns it on from `[monitor]`; tests point it at fakes).
    fn default() -> MonitorConfig {
        MonitorConfig {
            enabled: false,
            jetstream_url: None,
            mastodon_instances: Vec::new(),
            backoff: Backoff::default(),
            read_timeout: DEFAULT_READ_TIMEOUT,
            reevaluate_every: Duration::from_secs(60),
            poll_every: DEFAULT_POLL_EVERY,
            max_posts_per_minute: DEFAULT_MAX_POSTS_PER_MINUTE,
        }
    }
}

impl MonitorConfig {
    /// The configuration from `[monitor]`'s settings, the other fields at their defaults.
    /// An error names the setting and the address that is not usable.
    pub fn from_settings(
        enabled: bool,
        jetstream_url: &str,
        mastodon_instances: &[String],
    ) -> Result<MonitorConfig, String> {
        let jetstream_url = match jetstream_url.trim() {
            "" => None,
            text => {
                let url = Url::parse(text)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "ws" | "wss" | "http" | "https"))
                    .filter(|u| u.host_str().is_some())
                    .ok_or_else(|| {
                        format!(
                            "[monitor] jetstream_url `{text}` is not a ws:// or wss:// address \
                             (e.g. wss://jetstream2.us-east.bsky.network)"
                        )
                    })?;
                Some(url)
            }
        };
        let mut instances = Vec::new();
        for text in mastodon_instances {
            let url = instance_base(text).ok_or_else(|| {
                format!(
                    "[monitor] mastodon_instances: `{text}` is not an https:// address of a \
                     Mastodon instance (e.g. https://mastodon.social)"
                )
            })?;
            instances.push(url);
        }
        Ok(MonitorConfig {
            enabled,
            jetstream_url,
            mastodon_instances: instances,
            ..MonitorConfig::default()
        })
    }
}

/// One stream's state as the panel and `GET /api/monitor` show it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStatusView {
    /// The node reading it (every node reads its own).
    pub node: String,
    /// Its name, e.g. `mastodon mastodon.social #stvknee`.
    pub stream: String,
    /// What it is doing (`state`, and for `reconnecting` `attempt`, `retry_in` in
    /// milliseconds and `last_error`).
    #[serde(flatten)]
    pub state: StreamState,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// The monitor's shared state: configuration, the open sessions' hashtags the intake
/// matches posts against, and the running streams' states.
#[derive(Debug)]
pub struct Monitor {
    config: MonitorConfig,
    node: String,
    wake: Notify,
    /// Open sessions: id and hashtag (normalised), as of the last evaluation.
    sessions: RwLock<Vec<(i64, String)>>,
    /// The running streams' states by name.
    statuses: Mutex<BTreeMap<String, (StreamState, DateTime<Utc>)>>,
    /// What each session may still store this minute.
    pub(crate) cap: Mutex<cap::SessionCap>,
}

impl Monitor {
    /// The monitor of node `node`.
    pub fn new(config: MonitorConfig, node: &str) -> Monitor {
        Monitor {
            node: node.to_string(),
            wake: Notify::new(),
            sessions: RwLock::new(Vec::new()),
            statuses: Mutex::new(BTreeMap::new()),
            cap: Mutex::new(cap::SessionCap::new(config.max_posts_per_minute)),
            config,
        }
    }

    /// Whether it reads streams.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Whether Jetstream is configured.
    pub fn jetstream(&self) -> bool {
        self.config.jetstream_url.is_some()
    }

    /// Asks the supervisor to work out the wanted streams now (a session started or ended).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This node's streams and their states, by name.
    pub fn statuses(&self) -> Vec<StreamStatusView> {
        let statuses = self
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        statuses
            .iter()
            .map(|(stream, (state, since))| StreamStatusView {
                node: self.node.clone(),
                stream: stream.clone(),
                state: state.clone(),
                since: *since,
            })
            .collect()
    }

    fn status_view(&self, status: &StreamStatus) -> StreamStatusView {
        StreamStatusView {
            node: self.node.clone(),
            stream: status.stream.clone(),
            state: status.state.clone(),
            since: Utc::now(),
        }
    }

    /// Records a running stream's new state; `false` (nothing to show) for a stream that
    /// is no longer running, and for `stopped`, which the supervisor reports itself when it
    /// stops a stream.
    fn update_status(&self, status: &StreamStatus, now: DateTime<Utc>) -> bool {
        if status.state == StreamState::Stopped {
            return false;
        }
        let mut statuses = self
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match statuses.get_mut(&status.stream) {
            Some(entry) => {
                *entry = (status.state.clone(), now);
                true
            }
            None => false,
        }
    }

    fn set_status(&self, stream: &str, state: Option<StreamState>) {
        let mut statuses = self
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match state {
            Some(state) => statuses.insert(stream.to_string(), (state, Utc::now())),
            None => statuses.remove(stream),
        };
    }

    /// The open sessions whose hashtag is one of `tags` (normalised).
    fn sessions_for(&self, tags: &[String]) -> Vec<i64> {
        let sessions = self
            .sessions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions
            .iter()
            .filter(|(_, tag)| tags.contains(tag))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Starts the supervisor on `tasks` if the monitor is enabled; it stops its streams
/// (closing them cleanly) once `stop` fires.
pub(crate) fn start(tasks: &mut JoinSet<()>, app: &Tocsin, stop: Shutdown) {
    if app.0.monitor.enabled() {
        tasks.spawn(supervise(app.clone(), stop));
    }
}

/// The streams running now.
#[derive(Default)]
struct Running {
    mastodon: BTreeMap<StreamKey, (String, StreamHandle)>,
    jetstream: Option<(StreamHandle, watch::Sender<BTreeSet<String>>)>,
}

async fn supervise(app: Tocsin, mut stop: Shutdown) {
    let (tx, rx) = mpsc::channel::<Heard>(HEARD_QUEUE);
    let intake = tokio::spawn(intake::run(app.clone(), rx));
    let follower = tokio::spawn(follow_hub(app.clone()));
    let mut running = Running::default();
    let every = app
        .0
        .monitor
        .config
        .reevaluate_every
        .max(Duration::from_millis(50));
    loop {
        match evaluate(&app).await {
            Ok(wanted) => apply(&app, wanted, &mut running, &tx),
            // Keep what runs: the streams do not need the database to stay connected.
            Err(e) => {
                tracing::warn!(error = %e, "hashtag monitor: could not read the open sessions")
            }
        }
        tokio::select! {
            () = stop.wait() => break,
            _ = app.0.monitor.wake.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
    let mut closing = Vec::new();
    for (_, (name, handle)) in std::mem::take(&mut running.mastodon) {
        app.0.monitor.set_status(&name, None);
        closing.push(handle.stop_and_wait());
    }
    if let Some((handle, _)) = running.jetstream.take() {
        app.0
            .monitor
            .set_status(tocsin_monitor::jetstream::STREAM_NAME, None);
        closing.push(handle.stop_and_wait());
    }
    follower.abort();
    futures::future::join_all(closing).await;
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(5), intake).await;
}

/// Wakes the supervisor when a live session starts or ends anywhere: the relay brings other
/// nodes' `live_session` frames into this node's hub. A `resync` (the relay was away, or
/// the hub fell behind) may hide one, so it wakes it too. Ends with the supervisor.
async fn follow_hub(app: Tocsin) {
    let mut hub = app.0.hub.subscribe();
    loop {
        let wanted = match hub.recv().await {
            Ok(HubSignal::Frame(frame)) => sessions_changed(&frame),
            Ok(HubSignal::SessionEnded(_)) => false,
            Ok(HubSignal::Shutdown) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
        };
        if !wanted {
            continue;
        }
        tokio::time::sleep(HUB_DEBOUNCE).await;
        // What came meanwhile is covered by the evaluation this wake asks for.
        hub = hub.resubscribe();
        app.0.monitor.wake();
    }
}

/// Whether a hub frame may change the open sessions: `live_session`, or `resync`.
fn sessions_changed(frame: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Kind<'_>>(frame)
        .is_ok_and(|k| k.kind == "live_session" || k.kind == "resync")
}

/// Reads the open sessions and the Mastodon accounts, and works out the wanted streams.
async fn evaluate(app: &Tocsin) -> Result<Wanted, StoreError> {
    let store = &app.0.store;
    let open: Vec<(i64, String)> = store
        .live_sessions()
        .list()
        .await?
        .into_iter()
        .filter(|s| s.state == tocsin_store::live_sessions::LiveSessionState::Open)
        .map(|s| (s.id, normalize_tag(&s.hashtag)))
        .filter(|(_, tag)| !tag.is_empty())
        .collect();
    let tags: BTreeSet<String> = open.iter().map(|(_, t)| t.clone()).collect();
    *app.0
        .monitor
        .sessions
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = open;
    let mut instances = Vec::new();
    if !tags.is_empty() {
        instances = account_instances(app).await?;
        for url in &app.0.monitor.config.mastodon_instances {
            if let Some(url) = instance_base(url.as_str()) {
                instances.push(Instance { url, token: None });
            }
        }
    }
    Ok(wanted::wanted(&tags, &instances, app.0.monitor.jetstream()))
}

/// The instances of enabled Mastodon accounts, those with a working token first. A token
/// that does not open (or an account whose token the instance refused) is not sent: the
/// instance is asked as a public one.
async fn account_instances(app: &Tocsin) -> Result<Vec<Instance>, StoreError> {
    let mut with_token = Vec::new();
    let mut without = Vec::new();
    for record in app.0.store.accounts().records().await? {
        if record.platform != tocsin_domain::Platform::Mastodon || record.sandbox {
            continue;
        }
        if record.status == AccountStatus::Disabled {
            continue;
        }
        let Some(url) = record
            .settings
            .get("base_url")
            .and_then(serde_json::Value::as_str)
            .and_then(instance_base)
        else {
            continue;
        };
        let token = match (&record.secret_sealed, record.status) {
            (Some(sealed), AccountStatus::Connected) => {
                match app.0.vault.open_secret(&record, sealed) {
                    Ok(secret) => Some(
                        crate::oauth::TokenBundle::from_secret(&secret)
                            .map(|b| b.access_secret())
                            .unwrap_or(secret),
                    ),
                    Err(_) => {
                        tracing::warn!(
                            account = record.id,
                            "hashtag monitor: the account's token does not open; listening without it"
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        match token {
            Some(token) => with_token.push(Instance {
                url,
                token: Some(token),
            }),
            None => without.push(Instance { url, token: None }),
        }
    }
    with_token.extend(without);
    Ok(with_token)
}

/// Makes the running streams equal to the wanted ones: stops what is no longer wanted
/// first (a stream whose token changed is a new stream with the same name), then starts
/// what is missing, and hands Jetstream its new tag set.
fn apply(app: &Tocsin, wanted: Wanted, running: &mut Running, tx: &mpsc::Sender<Heard>) {
    let monitor = &app.0.monitor;
    let config = &monitor.config;
    // The roots the connectors trust: the system store and `[tls] extra_ca_files`.
    let roots = tocsin_monitor::ExtraRoots::new(app.0.config.tls.added_roots());
    let gone: Vec<StreamKey> = running
        .mastodon
        .keys()
        .filter(|k| !wanted.mastodon.contains_key(*k))
        .cloned()
        .collect();
    for key in gone {
        if let Some((name, handle)) = running.mastodon.remove(&key) {
            stopped(app, &name);
            handle.stop();
        }
    }
    for (key, stream) in wanted.mastodon {
        if running.mastodon.contains_key(&key) {
            continue;
        }
        let name = stream.stream_name();
        started(app, &name);
        // Without a token the websocket is refused (Mastodon 4.2+); the timeline is public.
        let handle = if stream.token.is_some() {
            tocsin_monitor::spawn_mastodon_with(
                stream,
                config.backoff,
                config.read_timeout,
                roots.clone(),
                tx.clone(),
            )
        } else {
            let polling = TimelinePolling {
                every: config.poll_every,
                timeout: DEFAULT_POLL_TIMEOUT.min(config.read_timeout),
                roots: roots.clone(),
            };
            tocsin_monitor::spawn_mastodon_timeline(stream, polling, config.backoff, tx.clone())
        };
        running.mastodon.insert(key, (name, handle));
    }
    match (wanted.jetstream_tags, &config.jetstream_url) {
        (Some(tags), Some(url)) => match &running.jetstream {
            Some((_, sender)) => {
                sender.send_if_modified(|current| {
                    let changed = *current != tags;
                    if changed {
                        *current = tags;
                    }
                    changed
                });
            }
            None => {
                let (sender, receiver) = watch::channel(tags);
                started(app, tocsin_monitor::jetstream::STREAM_NAME);
                let handle = tocsin_monitor::spawn_jetstream_with(
                    JetstreamStream {
                        url: url.clone(),
                        tags: receiver,
                    },
                    config.backoff,
                    config.read_timeout,
                    roots.clone(),
                    tx.clone(),
                );
                running.jetstream = Some((handle, sender));
            }
        },
        _ => {
            if let Some((handle, _)) = running.jetstream.take() {
                stopped(app, tocsin_monitor::jetstream::STREAM_NAME);
                handle.stop();
            }
        }
    }
}

fn started(app: &Tocsin, name: &str) {
    app.0
        .monitor
        .set_status(name, Some(StreamState::Connecting));
    announce(app, name, StreamState::Connecting);
}

fn stopped(app: &Tocsin, name: &str) {
    app.0.monitor.set_status(name, None);
    announce(app, name, StreamState::Stopped);
}

fn announce(app: &Tocsin, name: &str, state: StreamState) {
    let status = StreamStatus {
        stream: name.to_string(),
        state,
    };
    app.0.hub.publish(&PanelEvent::MonitorStatus {
        status: app.0.monitor.status_view(&status),
    });
}
