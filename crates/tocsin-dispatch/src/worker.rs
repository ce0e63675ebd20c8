//! The fan-out loop: claim in batches, one task per delivery, record in groups.
//!
//! Each task runs the steps of one attempt ([`deliver`]) and hands its [`Outcome`] to the
//! recorder; a failed attempt is recorded with its next time and claimed again when due,
//! never retried in a loop here, so a crash leaves the outbox saying what is left to do.

use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tocsin_connector::breaker::BreakerConfig;
use tocsin_connector::retry::RetryPolicy;
use tocsin_connector::ConnectorError;
use tocsin_store::outbox::{ClaimedDelivery, MessageForSending, MessageKind};
use tocsin_store::Store;
use tokio::sync::{broadcast, mpsc, Notify, Semaphore};

use crate::admission::Gates;
use crate::decide::decide;
use crate::events::{DeliveryEvent, DeliveryEventKind};
use crate::languages;
use crate::outcome::Outcome;
use crate::reconcile::{confirm_by_hand, reconcile, Reconciled};
use crate::record::{record_loop, Attempted, Record};
use crate::routes::{AccountRoute, Routes};
use crate::send::{self, Action};
use crate::stats::DispatchStats;
use tracing::Instrument as _;

/// The longest pause between claim rounds while the database does not answer.
const MAX_OUTAGE_BACKOFF: Duration = Duration::from_secs(5);

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
    /// The roles whose holders may approve: a recurring repeat whose creator no longer
    /// holds one stops when it fires (the application's role table decides; see
    /// `tocsin_app::people::Role`).
    pub approving_roles: Vec<String>,
    /// Tocsin's public address (`[server] public_url`): a platform that fetches images
    /// itself (Instagram, Threads) is given `<public_url>/media/<token>` links, which the
    /// server answers while such a delivery is under way. `None`: no links are given.
    pub public_url: Option<String>,
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
            approving_roles: vec!["approver".into()],
            public_url: None,
        }
    }
}

/// What a node's claim loop, delivery tasks and recorder share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    routes: Arc<Routes>,
    pub(crate) config: DispatchConfig,
    gates: Gates,
    in_flight: Arc<Semaphore>,
    pub(crate) events: broadcast::Sender<DeliveryEvent>,
    pub(crate) wake: Arc<Notify>,
    /// When retries this node scheduled fall due: the claim loop looks again at each,
    /// rather than at the next poll.
    pub(crate) retry_wakes: Mutex<BTreeSet<tokio::time::Instant>>,
    results: mpsc::Sender<Record>,
    pub(crate) stats: DispatchStats,
    /// Claims this node holds and has not recorded yet, by (message, account), with
    /// their fencing tokens: their leases are renewed while they are in flight.
    pub(crate) held: Mutex<std::collections::HashMap<(i64, i64), i64>>,
}

impl Shared {
    /// Stops renewing a claim (its result was recorded, refused as stale, or given up).
    pub(crate) fn release(&self, message_id: i64, account_id: i64, fencing_token: i64) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.get(&(message_id, account_id)) == Some(&fencing_token) {
            held.remove(&(message_id, account_id));
        }
    }
}

/// The fan-out engine of one node. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

/// Deliveries of a just-approved message claimed in the approval's transaction
/// ([`Dispatcher::claim_placed`]), to start once it commits ([`Dispatcher::start`]).
#[derive(Debug, Default)]
#[must_use = "a claim not started waits for its lease to run out"]
pub struct Handoff(Vec<ClaimedDelivery>);

impl Handoff {
    /// How many deliveries were claimed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("node", &self.shared.config.node_id)
            .finish_non_exhaustive()
    }
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
            gates: Gates::new(
                config.breaker,
                config.per_host_concurrency,
                config.max_inline_pause,
                config.lease,
            ),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            events,
            wake: Arc::new(Notify::new()),
            retry_wakes: Mutex::new(BTreeSet::new()),
            results: results_tx,
            stats: DispatchStats::default(),
            held: Mutex::new(std::collections::HashMap::new()),
            config,
        });
        tokio::spawn(record_loop(shared.clone(), results_rx));
        tokio::spawn(renew_loop(Arc::downgrade(&shared)));
        Dispatcher { shared }
    }

    /// Extends the lease of every delivery this node claimed and has not recorded yet
    /// to a full lease from now; returns how many were extended. The dispatcher does
    /// this every third of a lease, so a send that takes long (a slow platform, a long
    /// rate-limit pause) is never taken over by another node while it runs: only a
    /// node that stopped lets its claims expire.
    pub async fn renew_leases(&self) -> Result<u64, tocsin_store::StoreError> {
        renew(&self.shared).await
    }

    /// Delivery events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.shared.events.subscribe()
    }

    /// Wakes the claim loop (call after committing new outbox rows).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Tells panels that `message_id`'s row for `account_id` waits in the outbox again
    /// (a failed delivery queued for another try), and wakes the claim loop.
    pub fn queued(&self, message_id: i64, account_id: i64) {
        let _ = self.shared.events.send(DeliveryEvent {
            message_id,
            account_id,
            kind: DeliveryEventKind::Queued,
        });
        self.wake();
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
        self.shared.gates.breakers().open_count()
    }

    /// The account's breaker state (`closed`, `open`, `half_open`).
    pub fn breaker_state(&self, account_id: i64) -> &'static str {
        self.shared
            .gates
            .breakers()
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

    /// Fires due recurring schedules (each checked again first, see
    /// `tocsin_store::schedules` `fire_due`); returns how many messages were created.
    pub async fn fire_schedules(&self) -> Result<usize, tocsin_store::StoreError> {
        let mut tx = self.shared.store.begin().await?;
        let created = tx
            .schedules()
            .fire_due(
                &self.shared.config.node_id,
                &self.shared.config.approving_roles,
            )
            .await?;
        tx.commit().await?;
        if !created.is_empty() {
            self.wake();
        }
        Ok(created.len())
    }

    /// How many deliveries one claim may take now: the node's free in-flight room, at
    /// most a claim batch.
    fn room(&self) -> usize {
        let s = &self.shared;
        s.in_flight
            .available_permits()
            .min(usize::try_from(s.config.claim_batch).unwrap_or(1000))
    }

    /// How long a claim holds a delivery, as the store takes it.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.shared.config.lease)
            .unwrap_or(chrono::Duration::seconds(60))
    }

    /// Claims one batch of due deliveries and starts a task for each; returns how many
    /// were claimed (0 when nothing is due or the node is at its in-flight limit).
    pub async fn dispatch_batch(&self) -> Result<usize, tocsin_store::StoreError> {
        let s = &self.shared;
        let room = self.room();
        if room == 0 {
            return Ok(0);
        }
        let claim_started = std::time::Instant::now();
        let claimed = s
            .store
            .outbox()
            .claim_due(&s.config.node_id, self.lease(), room as i64)
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        tracing::debug!(
            claimed = claimed.len(),
            ms = claim_started.elapsed().as_secs_f64() * 1e3,
            "claimed deliveries"
        );
        self.start_claimed(claimed).await
    }

    /// Claims a message just placed in `tx` (an approval's transaction) for this node, as
    /// much as its in-flight room takes, so that once `tx` commits [`Dispatcher::start`]
    /// sends at once, without waiting for the claim loop to find it; what does not fit is
    /// claimed as usual. Only for a message due now whose deliveries wait for nothing
    /// (see `tocsin_store` `claim_placed`). If `tx` does not commit, neither does the
    /// claim.
    pub async fn claim_placed(
        &self,
        tx: &mut tocsin_store::tx::Tx<'_>,
        message_id: i64,
        account_ids: &[i64],
    ) -> Result<Handoff, tocsin_store::StoreError> {
        let claimed = tx
            .outbox()
            .claim_placed(
                message_id,
                account_ids,
                &self.shared.config.node_id,
                self.lease(),
                self.room(),
            )
            .await?;
        Ok(Handoff(claimed))
    }

    /// Starts sending what [`Dispatcher::claim_placed`] claimed, once its transaction has
    /// committed; wakes the claim loop for the rest.
    pub async fn start(&self, handoff: Handoff) {
        let count = handoff.0.len();
        if count > 0 {
            if let Err(e) = self.start_claimed(handoff.0).await {
                // The leases run out and the rows are claimed again.
                tracing::error!(error = %e, deliveries = count, "could not start a claimed message");
            }
        }
        self.wake();
    }

    /// Starts a task for each claimed delivery; returns how many.
    async fn start_claimed(
        &self,
        claimed: Vec<ClaimedDelivery>,
    ) -> Result<usize, tocsin_store::StoreError> {
        let s = &self.shared;
        let claimed_at = tokio::time::Instant::now();
        let mut messages: BTreeMap<i64, Option<Arc<MessageForSending>>> = BTreeMap::new();
        for d in &claimed {
            if let std::collections::btree_map::Entry::Vacant(slot) = messages.entry(d.message_id) {
                slot.insert(
                    s.store
                        .outbox()
                        .message_for_sending(d.message_id)
                        .await?
                        .map(Arc::new),
                );
            }
        }
        let count = claimed.len();
        // One `fan_out` span per message whose deliveries this batch sends (its fan-out,
        // or a round of retries of it), each delivery's span its child: exported as
        // traces (`[telemetry] otlp_endpoint`), one trace shows a message going out to
        // every account. A parent stays open until its last delivery ends.
        let mut per_message: BTreeMap<i64, i64> = BTreeMap::new();
        for d in &claimed {
            *per_message.entry(d.message_id).or_default() += 1;
        }
        let fan_outs: BTreeMap<i64, tracing::Span> = per_message
            .into_iter()
            .map(|(message, deliveries)| {
                let span = tracing::info_span!("fan_out", message, deliveries);
                (message, span)
            })
            .collect();
        {
            let mut held = s
                .held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for d in &claimed {
                held.insert((d.message_id, d.account_id), d.fencing_token);
            }
        }
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
                s.release(
                    delivery.message_id,
                    delivery.account_id,
                    delivery.fencing_token,
                );
                continue;
            };
            let shared = s.clone();
            let fan_out = fan_outs
                .get(&delivery.message_id)
                .cloned()
                .unwrap_or_else(tracing::Span::current);
            // Every line logged while sending (here and in connectors) names the delivery.
            let span = tracing::info_span!(
                parent: &fan_out,
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
                    // A deletion where the platform deletes retracts the original's post.
                    let retracts = match (&message, &route) {
                        (Some(m), Some(r))
                            if m.kind == MessageKind::Delete && r.connector.can_delete() =>
                        {
                            m.target_message_id
                        }
                        _ => None,
                    };
                    let outcome = match (message, route) {
                        (Some(m), Some(route)) => {
                            deliver(&shared, &delivery, &m, &route, claimed_at).await
                        }
                        (None, _) => Outcome::failed(format!(
                            "message {} no longer exists",
                            delivery.message_id
                        )),
                        (_, None) => without_route(&shared, delivery.account_id).await,
                    };
                    tracing::debug!(
                        outcome = DeliveryEventKind::from(&outcome).name(),
                        "delivery attempt finished"
                    );
                    let attempted = Attempted {
                        message_id: delivery.message_id,
                        account_id: delivery.account_id,
                        fencing_token: delivery.fencing_token,
                        attempt: delivery.attempt,
                        outcome,
                        platform,
                        retracts,
                    };
                    let (m, a, t) = (
                        attempted.message_id,
                        attempted.account_id,
                        attempted.fencing_token,
                    );
                    if shared
                        .results
                        .send(Record::Attempted(attempted))
                        .await
                        .is_err()
                    {
                        shared.release(m, a, t);
                    }
                    drop(permit);
                }
                .instrument(span),
            );
        }
        Ok(count)
    }
}

/// Renews the held claims' leases every third of a lease while the dispatcher lives.
async fn renew_loop(shared: std::sync::Weak<Shared>) {
    let every = match shared.upgrade() {
        Some(s) => (s.config.lease / 3).max(Duration::from_millis(10)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(s) = shared.upgrade() else {
            return;
        };
        if let Err(e) = renew(&s).await {
            tracing::warn!(error = %e, "could not renew the leases of deliveries in flight");
        }
    }
}

async fn renew(s: &Shared) -> Result<u64, tocsin_store::StoreError> {
    let claims: Vec<(i64, i64, i64)> = s
        .held
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(&(m, a), &t)| (m, a, t))
        .collect();
    let lease = chrono::Duration::from_std(s.config.lease).unwrap_or(chrono::Duration::seconds(60));
    s.store
        .outbox()
        .renew_leases(&s.config.node_id, &claims, lease)
        .await
}

/// The outcome for an account this node has no route to: skipped when it was disabled
/// after the message was approved (the message keeps the accounts it was approved for),
/// failed otherwise.
async fn without_route(shared: &Shared, account_id: i64) -> Outcome {
    match shared.store.accounts().get(account_id).await {
        Ok(Some(a)) if a.status == tocsin_store::AccountStatus::Disabled => Outcome::Skipped(
            format!("account {account_id} was disabled after the message was approved: skipped"),
        ),
        _ => Outcome::failed(format!("account {account_id} has no configured connector")),
    }
}

/// One attempt on one claimed delivery, step by step: what to send, admission, reconcile
/// (look before sending again what may be there already), send, decide.
async fn deliver(
    shared: &Shared,
    d: &ClaimedDelivery,
    m: &MessageForSending,
    route: &AccountRoute,
    claimed_at: tokio::time::Instant,
) -> Outcome {
    let connector = route.connector.as_ref();
    if m.retracted && m.kind == MessageKind::Post {
        return Outcome::Cancelled;
    }
    // A scheduled or repeated send goes out long after its approval: the consent record
    // the approval cited must still cover it when it goes.
    if let (Some(problem), MessageKind::Post) = (&m.consent_problem, m.kind) {
        return Outcome::failed(format!("not sent: {problem}"));
    }
    let action = match send::action(
        &shared.store,
        d,
        m,
        route,
        shared.config.public_url.as_deref(),
    )
    .await
    {
        Ok(action) => action,
        Err(outcome) => return outcome,
    };
    let admitted = match shared
        .gates
        .admit(d.account_id, &route.host, claimed_at)
        .await
    {
        Ok(admitted) => admitted,
        Err(refused) => return Outcome::retry_in(shared.store.now(), refused.wait, refused.why),
    };

    let call_started = std::time::Instant::now();
    let result = match &action {
        Action::Delete(target, replies) => send::delete_all(connector, target, replies).await,
        Action::Post(post) => match reconcile_and_post(shared, d, connector, post).await {
            Ok(result) => result,
            Err(outcome) => return outcome,
        },
        Action::PostInLanguages(posts) => {
            match languages::post_in_languages(&shared.store, d, connector, posts, |first| {
                reconcile_and_post(shared, d, connector, first)
            })
            .await
            {
                Ok(result) => result,
                Err(outcome) => return outcome,
            }
        }
    };
    shared
        .stats
        .observe_latency(connector.platform().as_str(), call_started.elapsed());

    match result {
        Ok(sent) => {
            if let Some(pause) = sent.pause {
                shared.gates.pause(d.account_id, pause);
            }
            admitted.breaker.record_success();
            Outcome::Delivered(sent.remote)
        }
        Err(error) => {
            if error.counts_as_outage() {
                admitted.breaker.record_outage();
            } else {
                admitted.breaker.record_success();
            }
            let mut rng = rand::rngs::StdRng::from_entropy();
            let decided = decide(
                &error,
                d.attempt,
                connector.idempotent(),
                &shared.config.retry,
                shared.store.now(),
                &mut rng,
            );
            if let Some(pause) = decided.pause {
                shared.gates.pause(d.account_id, pause);
            }
            decided.outcome
        }
    }
}

/// Posts `post` unless what the last attempt may have left there says otherwise: the
/// platform's answer (a post found already there counts as sent), or the outcome to
/// record without sending (a person must check; the lookup failed for good).
async fn reconcile_and_post(
    shared: &Shared,
    d: &ClaimedDelivery,
    connector: &dyn tocsin_connector::Connector,
    post: &tocsin_connector::OutgoingPost,
) -> Result<Result<send::Sent, ConnectorError>, Outcome> {
    match reconcile(d.previous_state, connector, post).await {
        Reconciled::Send => Ok(send::post(connector, post).await),
        Reconciled::AlreadyThere(found) => Ok(Ok(send::Sent {
            remote: found,
            pause: None,
        })),
        Reconciled::AskAPerson => Err(Outcome::failed(
            if d.previous_state == tocsin_store::DeliveryState::Sending {
                "the node sending this stopped mid-send (its lease ran out) and this platform cannot be checked: confirm by hand before sending again"
            } else {
                "the outcome of the last attempt is unknown and this platform cannot be checked: confirm by hand before sending again"
            },
        )),
        Reconciled::LookupFailed(e) => {
            if let Some(why) = confirm_by_hand(&e, d.attempt, shared.config.retry.max_attempts) {
                return Err(Outcome::failed(why));
            }
            Ok(Err(ConnectorError::Unknown(format!("reconciling: {e}"))))
        }
    }
}
