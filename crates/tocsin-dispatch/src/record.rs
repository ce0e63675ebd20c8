//! The recorder: one task per node that commits attempts' outcomes in groups.
//!
//! Whatever has arrived (up to `record_batch`) goes into one transaction with its audit
//! entries, so a thousand deliveries finishing together cost a handful of fsyncs. Each
//! [`Outcome`] becomes the row's result for the commit and, once committed, the event
//! panels see; a result refused by fencing publishes nothing.

use std::sync::Arc;
use std::time::Duration;
use tocsin_store::outbox::{DeliveryResult, Recorded, ResultOutcome};
use tokio::sync::mpsc;

use crate::events::{DeliveryEvent, DeliveryEventKind};
use crate::outcome::Outcome;
use crate::worker::Shared;

/// How long after a retry falls due the claim loop looks for it (so the database's clock
/// has passed it too), and how close two retries are to be claimed by one look.
const RETRY_WAKE_MARGIN: Duration = Duration::from_millis(5);

/// One attempt's outcome, with what recording it needs.
pub(crate) struct Attempted {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// The claim's fencing token.
    pub fencing_token: i64,
    /// The attempt's number.
    pub attempt: i64,
    /// What it came to.
    pub outcome: Outcome,
    /// The account's platform (for the counters).
    pub platform: &'static str,
    /// For a deletion on a platform that deletes: the message whose post it removes
    /// (that delivery becomes `retracted` once this one is recorded as done).
    pub retracts: Option<i64>,
}

impl Attempted {
    fn result(&self) -> DeliveryResult {
        DeliveryResult {
            message_id: self.message_id,
            account_id: self.account_id,
            fencing_token: self.fencing_token,
            attempt: self.attempt,
            outcome: ResultOutcome::from(&self.outcome),
        }
    }
}

/// What the recorder task receives.
pub(crate) enum Record {
    /// An outcome to commit and then publish.
    Attempted(Attempted),
    /// Commit everything before this, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Commits outcomes in groups until every sender is gone.
pub(crate) async fn record_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<Record>) {
    let max = shared.config.record_batch.max(1);
    let mut batch: Vec<Attempted> = Vec::with_capacity(max);
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Record::Attempted(a) => batch.push(a),
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

/// Records `batch` in one transaction (held and tried again while the database is away,
/// for as long as the leases run), then publishes the events of what was recorded.
async fn commit(shared: &Shared, batch: &mut Vec<Attempted>) {
    let results: Vec<DeliveryResult> = batch.iter().map(Attempted::result).collect();
    let started = std::time::Instant::now();
    let mut attempt = 0u32;
    let recorded = loop {
        match shared
            .store
            .outbox()
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
    let Some(recorded) = recorded else {
        // Given up: let the leases run out, so the rows are claimed again.
        for a in batch.drain(..) {
            shared.release(a.message_id, a.account_id, a.fencing_token);
        }
        return;
    };
    // Come back when each retry is due, not at the next poll.
    let (now, instant) = (shared.store.now(), tokio::time::Instant::now());
    let mut due: Vec<tokio::time::Instant> = batch
        .iter()
        .filter_map(|a| a.outcome.due_again())
        // A little after, so the database's clock has passed it too.
        .map(|at| instant + (at - now).to_std().unwrap_or_default() + RETRY_WAKE_MARGIN)
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
    for (a, status) in batch.drain(..).zip(recorded) {
        shared.release(a.message_id, a.account_id, a.fencing_token);
        match status {
            Recorded::Yes => {
                log_failure(&a);
                let kind = DeliveryEventKind::from(&a.outcome);
                shared.stats.count_result(a.platform, kind.name());
                let _ = shared.events.send(DeliveryEvent {
                    message_id: a.message_id,
                    account_id: a.account_id,
                    kind,
                });
                // A deletion done: the original's row on this account is now retracted
                // (the store marked it in the same commit).
                if let (Some(original), Outcome::Delivered(_)) = (a.retracts, &a.outcome) {
                    let _ = shared.events.send(DeliveryEvent {
                        message_id: original,
                        account_id: a.account_id,
                        kind: DeliveryEventKind::Retracted,
                    });
                }
            }
            Recorded::Stale => tracing::warn!(
                message = a.message_id,
                account = a.account_id,
                "result dropped: the lease moved to another worker"
            ),
        }
    }
}

/// Puts a delivery given up on in the server log at the default level, once (when its
/// final result is recorded), with its message, account and platform. The error text is
/// what the row holds: connectors strip credentials from it (tokens in URLs, quoted
/// back in answers), so no secret reaches the log.
fn log_failure(a: &Attempted) {
    if let Outcome::Failed { error, auth } = &a.outcome {
        let problem = if *auth {
            "credentials"
        } else if error.contains("TLS certificate") {
            "certificate"
        } else {
            "delivery"
        };
        tracing::warn!(
            message_id = a.message_id,
            account = a.account_id,
            platform = a.platform,
            attempt = a.attempt,
            problem,
            error = %error,
            "delivery failed"
        );
    }
}
