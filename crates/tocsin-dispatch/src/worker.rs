//! The fan-out loop: claim, send concurrently, record in groups, publish events.
//!
//! One claim loop per node takes due rows in batches; each delivery runs in its own task
//! (bounded per platform host and overall), so one slow or failing platform never holds
//! up another. Results flow to a single recorder task that commits them in groups with
//! their audit entries, then publishes [`DeliveryEvent`]s. Nothing here retries in a loop:
//! a failed attempt is recorded with its next attempt time and claimed again when due, so
//! a crash at any point leaves the outbox saying exactly what is left to do.

use chrono::{DateTime, Utc};

use dashmap::DashMap;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tocsin_connector::breaker::{Admission, BreakerConfig, Breakers};
use tocsin_connector::retry::{RetryDecision, RetryPolicy};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, RemotePost};
use tocsin_store::outbox::{
    ClaimedDelivery, DeliveryResult, MessageForSending, MessageKind, Recorded, RecordedPost,
    ResultOutcome,
};
use tocsin_store::Store;
use tokio::sync::{broadcast, mpsc, Notify, Semaphore};

use crate::events::{DeliveryEvent, DeliveryEventKind};
use crate::routes::{AccountRoute, Routes};
use crate::stats::DispatchStats;
use tracing::Instrument as _;

/// The longest pause between claim rounds while the database does not answer.
const MAX_OUTAGE_BACKOFF: Duration = Duration::from_secs(5);
/// How long after a retry falls due the claim loop looks for it (so the database's clock
/// has passed it too), and how close two retries are to be claimed by one look.
const RETRY_WAKE_MARGIN: Duration = Duration::from_millis(5);

/// Fan-out settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// This node's name in leases and audit entries.
    pub node_id: String,
    /// How long a claim holds a delivery.
    pub lease: Duration,
    /// Rows claimed per batch.
    pub claim_batch: i64,
    /// Deliveries in flight on this node at most.
    pub max_in_flight: usize,
    /// Requests in flight to one platform host at most.
    pub per_host_concurrency: usize,
    /// How often to look for due work when nothing wakes the loop.
    pub poll_interval: Duration,
    /// Most results committed in one transaction.
    pub record_batch: usize,
    /// Backoff and attempts.
    pub retry: RetryPolicy,
    /// Circuit breakers.
    pub breaker: BreakerConfig,
    /// Longest rate-limit pause waited out in the task rather than rescheduled.
    pub max_inline_pause: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            node_id: "node-1".into(),
            lease: Duration::from_secs(60),
            claim_batch: 1000,
            max_in_flight: 4096,
            per_host_concurrency: 256,
            poll_interval: Duration::from_millis(500),
            record_batch: 1024,
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            max_inline_pause: Duration::from_secs(2),
        }
    }
}

struct Shared {
    store: Store,
    routes: Arc<Routes>,
    config: DispatchConfig,
    breakers: Breakers,
    hosts: DashMap<String, Arc<Semaphore>>,
    in_flight: Arc<Semaphore>,
    paused_until: DashMap<i64, tokio::time::Instant>,
    events: broadcast::Sender<DeliveryEvent>,
    wake: Arc<Notify>,
    /// When retries this node scheduled fall due: the claim loop looks again at each,
    /// rather than at the next poll.
    retry_wakes: Mutex<BTreeSet<tokio::time::Instant>>,
    results: mpsc::Sender<Record>,
    stats: DispatchStats,
}

/// What the recorder task receives.
enum Record {
    /// A result to commit and then publish, with the account's platform (for the counters).
    Result(DeliveryResult, DeliveryEventKind, &'static str),
    /// Commit everything before this, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The fan-out engine of one node. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("node", &self.shared.config.node_id)
            .finish_non_exhaustive()
    }
}

/// Why a delivery could not even be attempted.
fn failed(error: impl Into<String>) -> (ResultOutcome, DeliveryEventKind) {
    failed_for_good(error.into(), false)
}

/// A delivery given up on; `auth` when the platform refused the account's credentials.
fn failed_for_good(error: String, auth: bool) -> (ResultOutcome, DeliveryEventKind) {
    (
        ResultOutcome::Failed {
            error: error.clone(),
        },
        DeliveryEventKind::Failed { error, auth },
    )
}

impl Dispatcher {
    /// A dispatcher over `store`, sending through `routes`. Starts its recorder task, so
    /// it must be created inside a tokio runtime.
    pub fn new(store: Store, routes: Arc<Routes>, config: DispatchConfig) -> Dispatcher {
        let (events, _) = broadcast::channel(65_536);
        let (results_tx, results_rx) = mpsc::channel(config.record_batch.max(1) * 8);
        let shared = Arc::new(Shared {
            store,
            routes,
            breakers: Breakers::new(config.breaker),
            hosts: DashMap::new(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            paused_until: DashMap::new(),
            events,
            wake: Arc::new(Notify::new()),
            retry_wakes: Mutex::new(BTreeSet::new()),
            results: results_tx,
            stats: DispatchStats::default(),
            config,
        });
        tokio::spawn(record_loop(shared.clone(), results_rx));
        Dispatcher { shared }
    }

    /// Delivery events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.shared.events.subscribe()
    }

    /// Publishes an event (e.g. `Queued` when a message is approved).
    pub fn publish(&self, event: DeliveryEvent) {
        let _ = self.shared.events.send(event);
    }

    /// Wakes the claim loop (call after committing new outbox rows).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// This node's name (from [`DispatchConfig::node_id`]).
    pub fn node_id(&self) -> &str {
        &self.shared.config.node_id
    }

    /// What this dispatcher counted (results, latencies, database outages).
    pub fn stats(&self) -> &DispatchStats {
        &self.shared.stats
    }

    /// How many breakers are open.
    pub fn open_breakers(&self) -> usize {
        self.shared.breakers.open_count()
    }

    /// The account's breaker state (`closed`, `open`, `half_open`).
    pub fn breaker_state(&self, account_id: i64) -> &'static str {
        self.shared
            .breakers
            .for_account(&account_id.to_string())
            .state_name()
    }

    /// Runs the claim loop until `shutdown` completes. Deliveries in flight finish and
    /// are recorded before this returns; what was not claimed stays in the outbox.
    ///
    /// While the database does not answer, the node claims nothing: it tries again
    /// after a pause that doubles up to [`MAX_OUTAGE_BACKOFF`], reports the outage in
    /// [`DispatchStats::database_ok`] (readiness), and resumes at the first claim that
    /// succeeds. What it had claimed stays leased to it, so no other node sends it twice.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures: u32 = 0;
        loop {
            let looked_at = tokio::time::Instant::now();
            let claimed = loop {
                match self.dispatch_batch().await {
                    Ok(0) => break Ok(()),
                    Ok(_) => continue,
                    Err(e) => break Err(e),
                }
            };
            let claimed = match claimed {
                Ok(()) => self.fire_schedules().await.map(|_| ()),
                Err(e) => Err(e),
            };
            let pause = match claimed {
                Ok(()) => {
                    if self.shared.stats.set_database_ok(true) {
                        tracing::info!(
                            failed_rounds = failures,
                            "the database answers again; claiming resumed"
                        );
                    }
                    failures = 0;
                    None
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if self.shared.stats.set_database_ok(false) {
                        tracing::warn!(error = %e, "claiming deliveries failed; claiming paused until the database answers");
                    } else {
                        tracing::debug!(error = %e, failures, "claiming deliveries failed again");
                    }
                    let base = self
                        .shared
                        .config
                        .poll_interval
                        .max(Duration::from_millis(50));
                    Some(
                        base.saturating_mul(2u32.saturating_pow(failures.min(16)))
                            .min(MAX_OUTAGE_BACKOFF),
                    )
                }
            };
            match pause {
                // Backing off: new work cannot be committed either, so wakes can wait.
                Some(pause) => tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => {}
                },
                None => tokio::select! {
                    () = &mut shutdown => break,
                    () = self.shared.wake.notified() => {}
                    () = tokio::time::sleep_until(self.next_look(looked_at)) => {}
                },
            }
        }
        self.drain().await;
    }

    /// When the claim loop, idle since a round that began at `looked_at`, looks for due
    /// work again: after the poll interval, or as soon as a retry this node scheduled
    /// falls due, if sooner. Retries that were due when that round began were taken by it.
    fn next_look(&self, looked_at: tokio::time::Instant) -> tokio::time::Instant {
        let poll = tokio::time::Instant::now() + self.shared.config.poll_interval;
        let mut wakes = self
            .shared
            .retry_wakes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let later = wakes.split_off(&looked_at);
        *wakes = later;
        wakes.first().map_or(poll, |&first| first.min(poll))
    }

    /// Waits until every delivery this node started has been recorded.
    pub async fn drain(&self) {
        let all = u32::try_from(self.shared.config.max_in_flight.max(1)).unwrap_or(u32::MAX);
        if let Ok(permits) = self.shared.in_flight.acquire_many(all).await {
            drop(permits);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.shared.results.send(Record::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Fires due recurring schedules; returns how many messages were created.
    pub async fn fire_schedules(&self) -> Result<usize, tocsin_store::StoreError> {
        let mut tx = self.shared.store.begin().await?;
        let created = tx.fire_due_schedules(&self.shared.config.node_id).await?;
        tx.commit().await?;
        if !created.is_empty() {
            self.wake();
        }
        Ok(created.len())
    }

    /// Claims one batch of due deliveries and starts a task for each; returns how many
    /// were claimed (0 when nothing is due or the node is at its in-flight limit).
    pub async fn dispatch_batch(&self) -> Result<usize, tocsin_store::StoreError> {
        let s = &self.shared;
        let room = s
            .in_flight
            .available_permits()
            .min(usize::try_from(s.config.claim_batch).unwrap_or(1000));
        if room == 0 {
            return Ok(0);
        }
        let lease =
            chrono::Duration::from_std(s.config.lease).unwrap_or(chrono::Duration::seconds(60));
        let claim_started = std::time::Instant::now();
        let claimed = s
            .store
            .claim_due(&s.config.node_id, lease, room as i64)
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        tracing::debug!(
            claimed = claimed.len(),
            ms = claim_started.elapsed().as_secs_f64() * 1e3,
            "claimed deliveries"
        );
        let claimed_at = tokio::time::Instant::now();
        let mut messages: BTreeMap<i64, Option<Arc<MessageForSending>>> = BTreeMap::new();
        for d in &claimed {
            if let std::collections::btree_map::Entry::Vacant(slot) = messages.entry(d.message_id) {
                slot.insert(
                    s.store
                        .message_for_sending(d.message_id)
                        .await?
                        .map(Arc::new),
                );
            }
        }
        let count = claimed.len();
        for delivery in claimed {
            let _ = s.events.send(DeliveryEvent {
                message_id: delivery.message_id,
                account_id: delivery.account_id,
                kind: DeliveryEventKind::Sending {
                    attempt: delivery.attempt,
                },
            });
            let message = messages.get(&delivery.message_id).cloned().flatten();
            let Ok(permit) = s.in_flight.clone().acquire_owned().await else {
                break;
            };
            let shared = s.clone();
            // Every line logged while sending (here and in connectors) names the delivery.
            let span = tracing::info_span!(
                "delivery",
                message = delivery.message_id,
                account = delivery.account_id,
                attempt = delivery.attempt,
            );
            tokio::spawn(
                async move {
                    let route = shared.routes.get_or_resolve(delivery.account_id).await;
                    let platform = route
                        .as_ref()
                        .map_or("unknown", |r| r.connector.platform().as_str());
                    let (outcome, event) = match (message, route) {
                        (Some(m), Some(route)) => {
                            deliver(&shared, &delivery, &m, &route, claimed_at).await
                        }
                        (None, _) => {
                            failed(format!("message {} no longer exists", delivery.message_id))
                        }
                        (_, None) => failed(format!(
                            "account {} has no configured connector",
                            delivery.account_id
                        )),
                    };
                    tracing::debug!(outcome = event.name(), "delivery attempt finished");
                    let result = DeliveryResult {
                        message_id: delivery.message_id,
                        account_id: delivery.account_id,
                        fencing_token: delivery.fencing_token,
                        attempt: delivery.attempt,
                        outcome,
                    };
                    let _ = shared
                        .results
                        .send(Record::Result(result, event, platform))
                        .await;
                    drop(permit);
                }
                .instrument(span),
            );
        }
        Ok(count)
    }
}

/// Commits results in groups: whatever has arrived (up to `record_batch`) goes in one
/// transaction, so a thousand deliveries finishing together cost a handful of fsyncs.
async fn record_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<Record>) {
    let max = shared.config.record_batch.max(1);
    let mut batch: Vec<(DeliveryResult, DeliveryEventKind, &'static str)> = Vec::with_capacity(max);
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Record::Result(r, e, p) => batch.push((r, e, p)),
                Record::Flush(done) => flushes.push(done),
            }
            if batch.len() < max {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit(&shared, &mut batch).await;
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn commit(
    shared: &Shared,
    batch: &mut Vec<(DeliveryResult, DeliveryEventKind, &'static str)>,
) {
    let mut results = Vec::with_capacity(batch.len());
    let mut published = Vec::with_capacity(batch.len());
    for (result, event, platform) in batch.drain(..) {
        results.push(result);
        published.push((event, platform));
    }
    let started = std::time::Instant::now();
    let mut attempt = 0u32;
    let recorded = loop {
        match shared
            .store
            .record_results(&shared.config.node_id, &results)
            .await
        {
            Ok(r) => break Some(r),
            Err(e) => {
                attempt += 1;
                if attempt == 1 {
                    tracing::error!(error = %e, results = results.len(), "recording delivery results failed; holding them until the database answers");
                } else {
                    tracing::debug!(error = %e, attempt, "recording delivery results failed again");
                }
                // Held while the database is away (the node claims nothing meanwhile),
                // for as long as the leases run: recorded late, a result still counts as
                // long as no other node took the row over (fencing). Past that, the rows
                // are claimed again, and a post that may have gone out is looked up
                // before it is sent again where the platform has no idempotency.
                if started.elapsed() >= shared.config.lease {
                    tracing::error!(
                        results = results.len(),
                        "gave up recording delivery results; their rows will be claimed again"
                    );
                    break None;
                }
                let pause = Duration::from_millis(50)
                    .saturating_mul(2u32.saturating_pow(attempt.min(16)))
                    .min(Duration::from_secs(2));
                tokio::time::sleep(pause).await;
            }
        }
    };
    if attempt > 0 && recorded.is_some() {
        tracing::info!(
            results = results.len(),
            attempts = attempt + 1,
            "recorded delivery results held during a database outage"
        );
    }
    tracing::debug!(
        results = results.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "recorded results"
    );
    if let Some(recorded) = recorded {
        // Come back when each retry is due, not at the next poll.
        let (now, instant) = (shared.store.now(), tokio::time::Instant::now());
        let mut due: Vec<tokio::time::Instant> = results
            .iter()
            .filter_map(|r| match &r.outcome {
                ResultOutcome::Retry { at, .. } | ResultOutcome::Unknown { at, .. } => {
                    // A little after, so the database's clock has passed it too.
                    Some(instant + (*at - now).to_std().unwrap_or_default() + RETRY_WAKE_MARGIN)
                }
                _ => None,
            })
            .collect();
        if !due.is_empty() {
            due.sort_unstable();
            // Retries a few milliseconds apart are claimed by one look.
            due.dedup_by(|later, earlier| *later - *earlier < RETRY_WAKE_MARGIN);
            shared
                .retry_wakes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(due);
            shared.wake.notify_one();
        }
        for ((result, (event, platform)), status) in results.iter().zip(published).zip(recorded) {
            match status {
                Recorded::Yes => {
                    shared.stats.count_result(platform, event.name());
                    let _ = shared.events.send(DeliveryEvent {
                        message_id: result.message_id,
                        account_id: result.account_id,
                        kind: event,
                    });
                }
                Recorded::Stale => tracing::warn!(
                    message = result.message_id,
                    account = result.account_id,
                    "result dropped: the lease moved to another worker"
                ),
            }
        }
    }
}

fn remote(p: &RecordedPost) -> RemotePost {
    RemotePost {
        id: p.remote_id.clone(),
        url: p.remote_url.clone(),
        extra: p.remote_extra.clone(),
    }
}

fn recorded(p: &RemotePost) -> RecordedPost {
    RecordedPost {
        remote_id: p.id.clone(),
        remote_url: p.url.clone(),
        remote_extra: p.extra.clone(),
    }
}

fn delivered(p: &RemotePost) -> (ResultOutcome, DeliveryEventKind) {
    (
        ResultOutcome::Sent(recorded(p)),
        DeliveryEventKind::Delivered {
            remote_id: p.id.clone(),
            url: p.url.clone(),
        },
    )
}

/// What to do on one account for one message.
enum Action {
    Post(OutgoingPost),
    Delete(RemotePost),
}

async fn build_action(
    shared: &Shared,
    d: &ClaimedDelivery,
    m: &MessageForSending,
    connector: &dyn Connector,
) -> Result<Action, (ResultOutcome, DeliveryEventKind)> {
    let platform = connector.variant_platform().as_str();
    let mut post = OutgoingPost::new(d.idempotency_key.clone(), String::new());
    post.exercise = m.exercise;
    post.title = m.title.clone();
    let text = m.texts.get(platform).cloned();
    let target = match m.target_message_id {
        Some(t) => shared
            .store
            .recorded_post(t, d.account_id)
            .await
            .map_err(|e| failed(format!("reading the post to retract: {e}")))?,
        None => None,
    };
    match m.kind {
        MessageKind::Post => {
            post.text = text.ok_or_else(|| failed(format!("no approved text for {platform}")))?;
            if platform == "email" {
                post.html = m.texts.get("email_html").cloned();
            }
            if let Some(session) = m.session_id {
                let (root, parent) = shared
                    .store
                    .session_thread(session, m.id, d.account_id)
                    .await
                    .map_err(|e| failed(format!("reading the session thread: {e}")))?;
                post.thread_root = root.as_ref().map(remote);
                post.reply_to = parent.as_ref().map(remote);
            }
            Ok(Action::Post(post))
        }
        MessageKind::Delete if connector.can_delete() => match target {
            Some(t) => Ok(Action::Delete(remote(&t))),
            None => Err(failed(
                "the post to delete was never recorded on this account",
            )),
        },
        MessageKind::Delete | MessageKind::Correction => {
            let Some(target) = target else {
                return Err(failed(
                    "the post to correct was never recorded on this account",
                ));
            };
            post.text = text.ok_or_else(|| {
                failed(format!(
                    "{platform} cannot delete posts and no correction text was approved for it"
                ))
            })?;
            post.reply_to = Some(remote(&target));
            post.thread_root = Some(remote(&target));
            Ok(Action::Post(post))
        }
    }
}

async fn deliver(
    shared: &Shared,
    d: &ClaimedDelivery,
    m: &MessageForSending,
    route: &AccountRoute,
    claimed_at: tokio::time::Instant,
) -> (ResultOutcome, DeliveryEventKind) {
    let connector = route.connector.as_ref();
    if m.retracted && m.kind == MessageKind::Post {
        return (ResultOutcome::Cancelled, DeliveryEventKind::Cancelled);
    }
    let action = match build_action(shared, d, m, connector).await {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };

    // Wait out a short rate-limit pause; reschedule a long one.
    let account_key = d.account_id.to_string();
    if let Some(until) = shared.paused_until.get(&d.account_id).map(|u| *u) {
        let now = tokio::time::Instant::now();
        if until > now {
            let wait = until - now;
            if wait > shared.config.max_inline_pause {
                return retry_at(
                    shared,
                    wait,
                    "waiting for the platform's rate limit to reset".into(),
                );
            }
            tokio::time::sleep(wait).await;
        }
    }
    let breaker = shared.breakers.for_account(&account_key);
    if let Admission::Rejected { retry_in } = breaker.admit() {
        return retry_at(
            shared,
            retry_in,
            "circuit open: the platform failed repeatedly".into(),
        );
    }
    // Looked up before inserting: the entry API would copy the host name every time.
    let host = match shared.hosts.get(route.host.as_str()) {
        Some(semaphore) => semaphore.clone(),
        None => shared
            .hosts
            .entry(route.host.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(shared.config.per_host_concurrency.max(1))))
            .clone(),
    };
    let Ok(_host_permit) = host.acquire_owned().await else {
        return retry_at(shared, Duration::from_secs(1), "shutting down".into());
    };
    // A lease about to run out means another node may claim this row: don't send.
    if claimed_at.elapsed() > shared.config.lease / 2 {
        return retry_at(
            shared,
            Duration::ZERO,
            "lease nearly expired before sending".into(),
        );
    }

    let platform = connector.platform().as_str();
    let call_started = std::time::Instant::now();
    let result: Result<Option<RemotePost>, ConnectorError> = match &action {
        Action::Delete(target) => connector
            .delete(target)
            .await
            .map(|()| Some(target.clone())),
        Action::Post(post) => {
            if d.previous_state == "unknown" && !connector.idempotent() {
                match connector.lookup(post).await {
                    Ok(Some(found)) => {
                        breaker.record_success();
                        return delivered(&found);
                    }
                    Ok(None) => send(shared, d.account_id, connector, post).await,
                    Err(ConnectorError::Unsupported(_)) => {
                        return failed(
                            "the outcome of the last attempt is unknown and this platform cannot be checked: confirm by hand before sending again",
                        );
                    }
                    Err(e) => Err(ConnectorError::Unknown(format!("reconciling: {e}"))),
                }
            } else if d.previous_state == "sending" && !connector.idempotent() {
                // The previous owner's lease ran out (it crashed, or lost the database
                // before recording): it may have sent. Look first where the platform
                // can be asked; where it cannot, most such claims never reached it.
                match connector.lookup(post).await {
                    Ok(Some(found)) => {
                        breaker.record_success();
                        return delivered(&found);
                    }
                    Ok(None) | Err(ConnectorError::Unsupported(_)) => {
                        send(shared, d.account_id, connector, post).await
                    }
                    Err(e) => Err(ConnectorError::Unknown(format!("reconciling: {e}"))),
                }
            } else {
                send(shared, d.account_id, connector, post).await
            }
        }
    };
    shared
        .stats
        .observe_latency(platform, call_started.elapsed());
    match result {
        Ok(Some(post)) => {
            breaker.record_success();
            delivered(&post)
        }
        Ok(None) => failed("the platform returned no post"),
        Err(error) => {
            if error.counts_as_outage() {
                breaker.record_outage();
            } else {
                breaker.record_success();
            }
            let attempt = u32::try_from(d.attempt).unwrap_or(u32::MAX);
            let mut rng = rand::rngs::StdRng::from_entropy();
            let text = error.to_string();
            match shared
                .config
                .retry
                .decide(attempt, &error, connector.idempotent(), &mut rng)
            {
                RetryDecision::RetryAfter(wait) => {
                    if let ConnectorError::RateLimited { .. } = error {
                        shared
                            .paused_until
                            .insert(d.account_id, tokio::time::Instant::now() + wait);
                    }
                    retry_at(shared, wait, text)
                }
                RetryDecision::Reconcile => {
                    let wait = shared.config.retry.backoff(1, &mut rng);
                    let at =
                        shared.store.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    (
                        ResultOutcome::Unknown {
                            at,
                            error: text.clone(),
                        },
                        DeliveryEventKind::Unknown { error: text },
                    )
                }
                RetryDecision::GiveUp => {
                    failed_for_good(text, matches!(error, ConnectorError::Auth(_)))
                }
            }
        }
    }
}

async fn send(
    shared: &Shared,
    account_id: i64,
    connector: &dyn Connector,
    post: &OutgoingPost,
) -> Result<Option<RemotePost>, ConnectorError> {
    let outcome = connector.post(post).await?;
    if let Some(pause) = outcome.rate_limit.and_then(|r| r.pause()) {
        shared
            .paused_until
            .insert(account_id, tokio::time::Instant::now() + pause);
    }
    Ok(Some(outcome.remote))
}

fn retry_at(shared: &Shared, wait: Duration, error: String) -> (ResultOutcome, DeliveryEventKind) {
    let at: DateTime<Utc> =
        shared.store.now() + chrono::Duration::from_std(wait).unwrap_or_default();
    (
        ResultOutcome::Retry {
            at,
            error: error.clone(),
        },
        DeliveryEventKind::Retrying {
            next_attempt_at: at,
            error,
        },
    )
}
