//! Sent messages as people read them: summaries with counts by delivery state, the
//! delivery grid, the variants that went out, the break-glass review queue; and the two
//! changes people make to a sent message, a compliance review and a retried delivery.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use std::collections::BTreeMap;
use tocsin_audit::AuditEvent;

use tocsin_domain::Platform;

use crate::aggregates::*;
use crate::time::{enum_col, opt_time, platform_col, DbTime};
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, outbox::*, people::*, schedules::*,
    variants::*,
};

/// One outbox row: a message to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// The platform's id for the post.
    pub remote_id: Option<String>,
    /// The post's URL.
    pub remote_url: Option<String>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// Idempotency key: derived from (message, account).
    pub idempotency_key: String,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// Until when.
    pub lease_until: Option<DateTime<Utc>>,
    /// Raised at every claim; a result must present the current value.
    pub fencing_token: i64,
}

/// Message ids per grouped count query (one parameter each, far below both limits).
const IDS_PER_COUNT_QUERY: usize = 500;

/// An approved message as listed, with its deliveries counted by state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// Row id.
    pub id: i64,
    /// The draft approved (for retractions and repeats: the original's draft).
    pub draft_id: i64,
    /// The draft's playbook.
    pub playbook_id: Option<String>,
    /// The draft's step.
    pub step_id: Option<String>,
    /// `post`, `delete` or `correction`.
    pub kind: MessageKind,
    /// The headline.
    pub title: Option<String>,
    /// Who approved it.
    pub approved_by: String,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// Whether one person published it through break-glass.
    pub break_glass: bool,
    /// When it was retracted, if it was.
    pub retracted_at: Option<DateTime<Utc>>,
    /// For deletions and corrections: the message they act on.
    pub target_message_id: Option<i64>,
    /// The live session it belongs to, if any.
    pub session_id: Option<i64>,
    /// Its deliveries by state name (`sent`, `failed`, ...); states with none are absent.
    pub counts: BTreeMap<String, i64>,
    /// Who reviewed the break-glass publish.
    pub review_by: Option<String>,
    /// When.
    pub review_at: Option<DateTime<Utc>>,
    /// The reviewer's finding.
    pub review_finding: Option<String>,
}

/// One delivery with the account it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// The account's handle.
    pub handle: String,
    /// The account's display name.
    pub display_name: String,
    /// The account's platform.
    pub platform: Platform,
    /// Whether the account is a sandbox.
    pub sandbox: bool,
    /// The platform a sandbox account stands in for.
    pub stands_for: Option<Platform>,
    /// The delivery's state.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// The post's URL, once sent.
    pub remote_url: Option<String>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// When it will be tried next, if it waits.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A message's columns for [`MessageSummary`], in [`SUMMARY_COLUMNS`] order.
type SummaryRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    DbTime,
    bool,
    bool,
    Option<DbTime>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<DbTime>,
    Option<String>,
);

const SUMMARY_COLUMNS: &str = "m.id, m.draft_id, d.playbook_id, d.step_id, m.kind, m.title, \
                               m.approved_by, m.approved_at, m.exercise, m.break_glass, \
                               m.retracted_at, m.target_message_id, m.session_id, m.review_by, \
                               m.review_at, m.review_finding";

/// `message_id, account_id, handle, display_name, platform, sandbox, state, attempts,
/// remote_url, last_error, next_attempt_at, stands_for` of a delivery with its account.
type DeliveryRowTuple = (
    i64,
    i64,
    String,
    String,
    String,
    bool,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<DbTime>,
    Option<String>,
);

/// Which messages to summarise.
pub(crate) enum Which {
    One(i64),
    Newest(i64),
    AwaitingReview,
    Session(i64),
}

impl MessagesTx<'_, '_> {
    /// Records the compliance review of a break-glass message ([`StoreError::Conflict`] if
    /// the message is unknown, was not published through break-glass, or was reviewed
    /// already), audited as `message.review` with a commitment to the finding.
    pub async fn review(
        &mut self,
        actor: &str,
        message_id: i64,
        finding: &str,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let row: Option<(bool, i64)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "UPDATE messages SET review_by = $1, review_at = $2, review_finding = $3 \
                 WHERE id = $4 AND break_glass = $5 AND review_at IS NULL \
                 RETURNING exercise, draft_id",
            )
            .bind(actor)
            .bind(now)
            .bind(finding)
            .bind(message_id)
            .bind(true)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((exercise, draft_id)) = row else {
            let found: Option<(bool, Option<String>)> = on_tx!(self.tx, c => {
                sqlx::query_as("SELECT break_glass, review_by FROM messages WHERE id = $1")
                    .bind(message_id)
                    .fetch_optional(&mut *c)
                    .await?
            });
            return Err(StoreError::Conflict(match found {
                None => format!("message {message_id} not found"),
                Some((false, _)) => {
                    format!("message {message_id} was not published through break-glass")
                }
                Some((true, by)) => format!(
                    "message {message_id} was already reviewed by {}",
                    by.as_deref().unwrap_or("someone")
                ),
            }));
        };
        let playbook: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar("SELECT playbook_id FROM drafts WHERE id = $1")
                .bind(draft_id)
                .fetch_optional(&mut *c)
                .await?
        });
        let mut event = AuditEvent::new(actor, "message.review")
            .subject("message", message_id.to_string())
            .outcome("reviewed")
            .exercise(exercise)
            .payload(finding.as_bytes());
        if let Some(p) = playbook {
            event = event.subject("playbook", p);
        }
        self.tx.append_audit(event).await?;
        Ok(())
    }

    /// Queues a failed delivery again: back to `pending`, due now, lease cleared, attempts
    /// kept. [`StoreError::Conflict`] if there is no such delivery, it is not `failed`, or
    /// its message was retracted. Audited as `delivery.retry`.
    pub async fn retry_delivery(
        &mut self,
        actor: &str,
        message_id: i64,
        account_id: i64,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let row: Option<(String, Option<DbTime>, bool)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT d.state, m.retracted_at, m.exercise FROM deliveries d \
                 JOIN messages m ON m.id = d.message_id \
                 WHERE d.message_id = $1 AND d.account_id = $2",
            )
            .bind(message_id)
            .bind(account_id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((state, retracted, exercise)) = row else {
            return Err(StoreError::Conflict(format!(
                "no delivery of message {message_id} to account {account_id}"
            )));
        };
        if retracted.is_some() {
            return Err(StoreError::Conflict(format!(
                "message {message_id} was retracted"
            )));
        }
        let changed = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $1 \
                 WHERE message_id = $2 AND account_id = $3 AND state = 'failed'",
            )
            .bind(now)
            .bind(message_id)
            .bind(account_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "the delivery of message {message_id} to account {account_id} is {state}, not failed"
            )));
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "delivery.retry")
                    .subject("message", message_id.to_string())
                    .subject("account", account_id.to_string())
                    .outcome("pending")
                    .exercise(exercise),
            )
            .await?;
        Ok(())
    }
}

impl Messages<'_> {
    /// The messages acting on message `id` (its retraction, its corrections), with their
    /// drafts, oldest first.
    pub async fn acting_on(self, id: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT id, draft_id FROM messages WHERE target_message_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(p)
            .await?
        }))
    }

    /// Who message `id` was approved for (`None`: no such message, or one from before
    /// audiences, which went to every account). A retraction or repeat answers for its
    /// original.
    pub async fn targets(self, id: i64) -> Result<Option<MessageTargets>, StoreError> {
        let json: Option<Option<String>> = on_pool!(self.store, p => {
            sqlx::query_scalar(
                "SELECT COALESCE(m.targets_json, o.targets_json) FROM messages m \
                 LEFT JOIN messages o ON o.id = m.target_message_id WHERE m.id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        MessageTargets::parse(json.flatten().as_deref())
    }

    /// A message's variants.
    pub async fn variants(self, message_id: i64) -> Result<Vec<StoredVariant>, StoreError> {
        self.store.variants("message_id", message_id).await
    }

    /// A message's deliveries, by account.
    pub async fn deliveries(self, message_id: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = on_pool!(self.store, p => {
            let rows = sqlx::query(
                "SELECT message_id, account_id, state, attempts, remote_id, remote_url, last_error, \
                 idempotency_key, lease_owner, lease_until, fencing_token FROM deliveries \
                 WHERE message_id = $1 ORDER BY account_id",
            )
            .bind(message_id)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push((
                    r.try_get::<i64, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<String, _>(2)?,
                    r.try_get::<i64, _>(3)?,
                    r.try_get::<Option<String>, _>(4)?,
                    r.try_get::<Option<String>, _>(5)?,
                    r.try_get::<Option<String>, _>(6)?,
                    r.try_get::<String, _>(7)?,
                    r.try_get::<Option<String>, _>(8)?,
                    r.try_get::<Option<DbTime>, _>(9)?,
                    r.try_get::<i64, _>(10)?,
                ));
            }
            out
        });
        rows.into_iter()
            .map(|r| {
                Ok(Delivery {
                    message_id: r.0,
                    account_id: r.1,
                    state: enum_col("delivery state", &r.2, DeliveryState::parse)?,
                    attempts: r.3,
                    remote_id: r.4,
                    remote_url: r.5,
                    last_error: r.6,
                    idempotency_key: r.7,
                    lease_owner: r.8,
                    lease_until: opt_time(r.9),
                    fencing_token: r.10,
                })
            })
            .collect()
    }

    /// [`Tx::review_message`] in its own transaction.
    pub async fn review(
        self,
        actor: &str,
        message_id: i64,
        finding: &str,
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.messages().review(actor, message_id, finding).await?)
    }

    /// [`Tx::retry_delivery`] in its own transaction.
    pub async fn retry_delivery(
        self,
        actor: &str,
        message_id: i64,
        account_id: i64,
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.messages().retry_delivery(actor, message_id, account_id).await?)
    }

    /// A message's summary.
    pub async fn summary(self, id: i64) -> Result<Option<MessageSummary>, StoreError> {
        Ok(self.summaries(Which::One(id)).await?.pop())
    }

    /// Up to `limit` messages, newest first.
    pub async fn list(self, limit: i64) -> Result<Vec<MessageSummary>, StoreError> {
        self.summaries(Which::Newest(limit.max(0))).await
    }

    /// Break-glass messages not yet reviewed, oldest first (the longest waiting on top).
    pub async fn break_glass_queue(self) -> Result<Vec<MessageSummary>, StoreError> {
        self.summaries(Which::AwaitingReview).await
    }

    /// Message summaries, their delivery counts read in grouped queries (one per
    /// [`IDS_PER_COUNT_QUERY`] messages, not one per message).
    pub(crate) async fn summaries(self, which: Which) -> Result<Vec<MessageSummary>, StoreError> {
        let (tail, arg) = match which {
            Which::One(id) => ("WHERE m.id = $1", Some(id)),
            Which::Newest(limit) => ("ORDER BY m.id DESC LIMIT $1", Some(limit)),
            Which::AwaitingReview => (
                "WHERE m.break_glass AND m.review_at IS NULL ORDER BY m.id",
                None,
            ),
            Which::Session(id) => (
                "WHERE m.session_id = $1 ORDER BY m.session_seq, m.id",
                Some(id),
            ),
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM messages m LEFT JOIN drafts d ON d.id = m.draft_id {tail}"
        );
        let rows: Vec<SummaryRow> = on_pool!(self.store, p => {
            let mut q = sqlx::query_as(&sql);
            if let Some(a) = arg {
                q = q.bind(a);
            }
            q.fetch_all(p).await?
        });
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut counts = self.delivery_counts(&ids).await?;
        rows.into_iter()
            .map(|r| {
                Ok(MessageSummary {
                    id: r.0,
                    draft_id: r.1,
                    playbook_id: r.2,
                    step_id: r.3,
                    kind: enum_col("message kind", &r.4, MessageKind::parse)?,
                    title: r.5,
                    approved_by: r.6,
                    approved_at: r.7.get(),
                    exercise: r.8,
                    break_glass: r.9,
                    retracted_at: opt_time(r.10),
                    target_message_id: r.11,
                    session_id: r.12,
                    counts: counts.remove(&r.0).unwrap_or_default(),
                    review_by: r.13,
                    review_at: opt_time(r.14),
                    review_finding: r.15,
                })
            })
            .collect()
    }

    /// Deliveries per message and state, for these messages.
    async fn delivery_counts(
        self,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, BTreeMap<String, i64>>, StoreError> {
        let mut out: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
        let backend = self.store.backend();
        for chunk in ids.chunks(IDS_PER_COUNT_QUERY) {
            // Positional `?` on SQLite: sqlx looks `$n` names up one by one.
            let params: Vec<String> = (1..=chunk.len())
                .map(|n| match backend {
                    Backend::Sqlite => "?".to_string(),
                    Backend::Postgres => format!("${n}"),
                })
                .collect();
            let sql = format!(
                "SELECT message_id, state, COUNT(*) FROM deliveries WHERE message_id IN ({}) \
                 GROUP BY message_id, state",
                params.join(", ")
            );
            let rows: Vec<(i64, String, i64)> = on_pool!(self.store, p => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(p).await?
            });
            for (message, state, n) in rows {
                out.entry(message).or_default().insert(state, n);
            }
        }
        Ok(out)
    }

    /// A message's deliveries with their accounts, by account id.
    pub async fn delivery_rows(self, message_id: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows: Vec<DeliveryRowTuple> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT d.message_id, d.account_id, a.handle, a.display_name, a.platform, a.sandbox, \
                 d.state, d.attempts, d.remote_url, d.last_error, d.next_attempt_at, a.stands_for \
                 FROM deliveries d JOIN accounts a ON a.id = d.account_id \
                 WHERE d.message_id = $1 ORDER BY d.account_id",
            )
            .bind(message_id)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(DeliveryRow {
                    message_id: r.0,
                    account_id: r.1,
                    handle: r.2,
                    display_name: r.3,
                    platform: platform_col(&r.4)?,
                    sandbox: r.5,
                    stands_for: r.11.as_deref().map(platform_col).transpose()?,
                    state: enum_col("delivery state", &r.6, DeliveryState::parse)?,
                    attempts: r.7,
                    remote_url: r.8,
                    last_error: r.9,
                    next_attempt_at: opt_time(r.10),
                })
            })
            .collect()
    }
}
