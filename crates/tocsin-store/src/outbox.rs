//! The dispatch side of the outbox: claiming due deliveries in batches with leases and
//! fencing tokens, recording results in group commits, retracting, live-session threads
//! and recurring schedules.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL (several nodes never claim the same
//! row) and the single write lock on SQLite. A result is recorded only if it presents the
//! delivery's current fencing token, so a worker whose lease expired cannot overwrite the
//! new owner's result. Every state change writes its audit entry in the same transaction.

use serde::{Deserialize, Serialize};

use crate::aggregates::*;
use crate::time::DbTime;
use crate::tx::{cacheable_chunks, on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, people::*, schedules::*,
    variants::*,
};
use chrono::{DateTime, Duration, Utc};
use sqlx::Row as _;
use std::collections::BTreeMap;
use tocsin_audit::AuditEvent;
use tocsin_domain::playbook::TextTarget;

/// Outbox rows per multi-row INSERT at approval (4 parameters each); a power of two, see
/// [`cacheable_chunks`].
const DELIVERY_ROWS_PER_INSERT: usize = 256;

/// An approved message to create with its outbox rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The draft approved.
    pub draft_id: i64,
    /// The approver.
    pub approved_by: String,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// Whether one person published it through break-glass.
    pub break_glass: bool,
    /// The texts approved, per platform.
    pub variants: Vec<RenderedVariant>,
    /// The accounts to deliver to.
    pub account_ids: Vec<i64>,
    /// Who it was approved for (`None`: every account, as before audiences; a repeat or
    /// a retraction, which follow their original).
    pub targets: Option<MessageTargets>,
}

/// Who a message was approved for: the target set as chosen and how many accounts per
/// platform it reached. Stored with the message (`messages.targets_json`) and named in
/// its approval's audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTargets {
    /// The groups and accounts chosen.
    pub spec: tocsin_domain::audience::TargetSpec,
    /// Accounts per platform (the platform whose text they get).
    pub per_platform: BTreeMap<tocsin_domain::Platform, usize>,
}

impl MessageTargets {
    /// `public,staff`, or `everyone`, or `none` (accounts chosen one by one).
    pub fn groups_text(&self) -> String {
        if self.spec.everyone {
            "everyone".into()
        } else if self.spec.groups.is_empty() {
            "none".into()
        } else {
            self.spec.groups.join(",")
        }
    }

    /// `mastodon:2,sms:1`.
    pub fn counts_text(&self) -> String {
        self.per_platform
            .iter()
            .map(|(p, n)| format!("{}:{n}", p.as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored JSON (`None` for a message from before audiences).
    pub fn parse(json: Option<&str>) -> Result<Option<MessageTargets>, StoreError> {
        json.map(|j| {
            serde_json::from_str(j).map_err(|e| {
                StoreError::Database(sqlx::Error::Decode(
                    format!("messages.targets_json: {e}").into(),
                ))
            })
        })
        .transpose()
    }
}

/// The state of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent.
    Pending,
    /// Claimed by a worker.
    Sending,
    /// Posted; remote id recorded.
    Sent,
    /// Failed and will be retried.
    RetryWait,
    /// Failed for good.
    Failed,
    /// Sent, but the answer was lost: reconcile before retrying.
    Unknown,
    /// Removed from the platform.
    Retracted,
    /// Never sent: the message was retracted first.
    Cancelled,
    /// Never sent: the account was disabled after the message was approved (the message
    /// keeps the accounts it was approved for; none is swapped in).
    Skipped,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::RetryWait => "retry_wait",
            DeliveryState::Failed => "failed",
            DeliveryState::Unknown => "unknown",
            DeliveryState::Retracted => "retracted",
            DeliveryState::Cancelled => "cancelled",
            DeliveryState::Skipped => "skipped",
        }
    }

    /// Whether nothing more will happen to the delivery (sent, failed, retracted or
    /// cancelled). [`crate::outbox`] waits on the same set in SQL.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            DeliveryState::Sent
                | DeliveryState::Failed
                | DeliveryState::Retracted
                | DeliveryState::Cancelled
                | DeliveryState::Skipped
        )
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<DeliveryState> {
        Some(match text {
            "pending" => DeliveryState::Pending,
            "sending" => DeliveryState::Sending,
            "sent" => DeliveryState::Sent,
            "retry_wait" => DeliveryState::RetryWait,
            "failed" => DeliveryState::Failed,
            "unknown" => DeliveryState::Unknown,
            "retracted" => DeliveryState::Retracted,
            "cancelled" => DeliveryState::Cancelled,
            "skipped" => DeliveryState::Skipped,
            _ => return None,
        })
    }
}

/// The settled delivery states as an SQL list (see [`crate::DeliveryState::is_settled`]): a
/// live-session post or a retraction waits until the row it follows is one of these.
const SETTLED_SQL: &str = "('sent', 'failed', 'cancelled', 'retracted', 'skipped')";

/// What a message does on each account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A new post (or a reply in a live session's thread).
    Post,
    /// Delete an earlier message's post (a correction is posted where the platform
    /// cannot delete).
    Delete,
    /// Post a correction as a reply to an earlier message's post.
    Correction,
}

impl MessageKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Post => "post",
            MessageKind::Delete => "delete",
            MessageKind::Correction => "correction",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<MessageKind> {
        match text {
            "post" => Some(MessageKind::Post),
            "delete" => Some(MessageKind::Delete),
            "correction" => Some(MessageKind::Correction),
            _ => None,
        }
    }
}

/// Where a new message goes beyond [`NewMessage`]: what it is, its thread, its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Post, delete or correction.
    pub kind: MessageKind,
    /// For deletes and corrections: the message they act on.
    pub target_message_id: Option<i64>,
    /// For live sessions: the session; its posts thread per account in order.
    pub session_id: Option<i64>,
    /// For a follow-up of a sent message (outside a live session): that message; each
    /// account's post replies to its nearest post of the chain still standing.
    pub follows_up: Option<i64>,
    /// The headline (email subject, CAP headline).
    pub title: Option<String>,
    /// Not to be sent before this time (scheduled sends).
    pub not_before: Option<DateTime<Utc>>,
    /// The consent record an override cited: checked again as each delivery goes out
    /// (and at each firing of a repeat), so a withdrawn or lapsed consent stops it.
    pub consent_ref: Option<String>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            kind: MessageKind::Post,
            target_message_id: None,
            session_id: None,
            follows_up: None,
            title: None,
            not_before: None,
            consent_ref: None,
        }
    }
}

/// How far back a follow-up's thread is looked for: updates of updates, each replying
/// to the last; far more than any real incident makes.
pub const FOLLOW_UP_DEPTH: i64 = 64;

/// A delivery a worker now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// Present this when recording the result.
    pub fencing_token: i64,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    /// Stable for (message, account).
    pub idempotency_key: String,
    /// The state before this claim: [`DeliveryState::Unknown`] means reconcile before
    /// sending; [`DeliveryState::Sending`] means the claim was taken over from an expired
    /// lease (its previous owner may have sent).
    pub previous_state: DeliveryState,
    /// A remote post recorded by an earlier attempt, if any.
    pub remote_id: Option<String>,
}

/// What a message needs for sending, read once per batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageForSending {
    /// The message.
    pub id: i64,
    /// Post, delete or correction.
    pub kind: MessageKind,
    /// The message acted on, for deletes and corrections.
    pub target_message_id: Option<i64>,
    /// Live session, if any.
    pub session_id: Option<i64>,
    /// The sent message it follows up, if any (outside live sessions).
    pub follows_up: Option<i64>,
    /// Headline.
    pub title: Option<String>,
    /// Exercise flag.
    pub exercise: bool,
    /// Whether it was retracted.
    pub retracted: bool,
    /// Text per target (a platform's variant, the HTML email part, the headline); purged
    /// bodies are absent.
    pub texts: BTreeMap<TextTarget, String>,
    /// Why the consent record its approval cited no longer covers it (withdrawn, expired,
    /// out of scope, gone), read when the batch is claimed: nothing is sent then.
    pub consent_problem: Option<String>,
    /// Its images, in order, with their approved descriptions.
    pub images: Vec<crate::images::ImageForSending>,
}

/// A post already on a platform, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPost {
    /// Remote id.
    pub remote_id: String,
    /// URL.
    pub remote_url: Option<String>,
    /// Extra handle (Bluesky CID, ...).
    pub remote_extra: Option<String>,
}

/// A worker's result for one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResult {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// The token from the claim.
    pub fencing_token: i64,
    /// The attempt's number (from the claim).
    pub attempt: i64,
    /// What happened.
    pub outcome: ResultOutcome,
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Posted (or deleted, for a delete): the remote post.
    Sent(RecordedPost),
    /// Failed; try again at this time.
    Retry {
        /// Next attempt time.
        at: DateTime<Utc>,
        /// Why, in words.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// Why, in words.
        error: String,
    },
    /// Sent but the outcome is unknown: reconcile at this time.
    Unknown {
        /// When to reconcile.
        at: DateTime<Utc>,
        /// Why, in words.
        error: String,
    },
    /// Not sent: the message was retracted first.
    Cancelled,
    /// Not sent: the account was disabled after approval.
    Skipped {
        /// Why, in words.
        reason: String,
    },
}

impl ResultOutcome {
    /// The delivery's state once this outcome is recorded.
    fn state(&self) -> DeliveryState {
        match self {
            ResultOutcome::Sent(_) => DeliveryState::Sent,
            ResultOutcome::Retry { .. } => DeliveryState::RetryWait,
            ResultOutcome::Failed { .. } => DeliveryState::Failed,
            ResultOutcome::Unknown { .. } => DeliveryState::Unknown,
            ResultOutcome::Cancelled => DeliveryState::Cancelled,
            ResultOutcome::Skipped { .. } => DeliveryState::Skipped,
        }
    }
}

/// Whether a result was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written, with its audit entry.
    Yes,
    /// Refused: the lease moved on to another worker.
    Stale,
}

/// How to retract a message everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetractMode {
    /// Delete where the platform can; post the correction where it cannot.
    Delete,
    /// Post the correction as a reply everywhere.
    Correct,
}

/// A retraction to place (see [`OutboxTx::retract_message`]).
#[derive(Debug, Clone)]
pub struct Retraction<'a> {
    /// Delete (with a notice where a platform cannot) or correct.
    pub mode: RetractMode,
    /// The draft the retraction message comes from: a correction's own approved draft;
    /// `None` for the original's (a deletion).
    pub draft_id: Option<i64>,
    /// The headline (the notice's or the correction's email subject).
    pub title: Option<String>,
    /// Text per target: the withdrawal notice for platforms that cannot delete, or the
    /// correction.
    pub variants: &'a [RenderedVariant],
    /// Accounts whose platform cannot delete a post (they get the notice).
    pub cannot_delete: &'a std::collections::BTreeSet<i64>,
    /// Published by one approver in an emergency (a correction through break-glass).
    pub break_glass: bool,
    /// Why (committed in the audit entry).
    pub reason: &'a str,
}

/// No account: [`Retraction::delete`]'s `cannot_delete`.
static NO_ACCOUNTS: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();

impl<'a> Retraction<'a> {
    /// A deletion everywhere, for `reason`, with no notice text (every account's
    /// platform can delete).
    pub fn delete(reason: &'a str) -> Retraction<'a> {
        Retraction {
            mode: RetractMode::Delete,
            draft_id: None,
            title: None,
            variants: &[],
            cannot_delete: &NO_ACCOUNTS,
            break_glass: false,
            reason,
        }
    }
}

/// What a retraction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetractSummary {
    /// The message carrying the deletions or corrections.
    pub retraction_message_id: i64,
    /// Deliveries not yet sent, now cancelled.
    pub cancelled: u64,
    /// Accounts whose post will be deleted, noticed or corrected.
    pub targeted: u64,
    /// Of those, the accounts that get the withdrawal notice instead of a deletion.
    pub notices: u64,
}

/// Rows per multi-row result UPDATE at most (9 parameters each, well under both databases'
/// limits); a power of two, see [`crate::tx::cacheable_chunks`].
const RESULT_ROWS_PER_UPDATE: usize = 256;

/// One result as the columns it writes.
struct ResultRow {
    message_id: i64,
    account_id: i64,
    fencing_token: i64,
    state: DeliveryState,
    remote_id: Option<String>,
    remote_url: Option<String>,
    remote_extra: Option<String>,
    error: Option<String>,
    next: Option<DbTime>,
}

impl From<&DeliveryResult> for ResultRow {
    fn from(r: &DeliveryResult) -> Self {
        let (remote_id, remote_url, remote_extra, error, next) = match &r.outcome {
            ResultOutcome::Sent(p) => (
                Some(p.remote_id.clone()),
                p.remote_url.clone(),
                p.remote_extra.clone(),
                None,
                None,
            ),
            ResultOutcome::Retry { at, error } | ResultOutcome::Unknown { at, error } => {
                (None, None, None, Some(error.clone()), Some(DbTime(*at)))
            }
            ResultOutcome::Failed { error } => (None, None, None, Some(error.clone()), None),
            ResultOutcome::Cancelled => (None, None, None, None, None),
            ResultOutcome::Skipped { reason } => (None, None, None, Some(reason.clone()), None),
        };
        ResultRow {
            message_id: r.message_id,
            account_id: r.account_id,
            fencing_token: r.fencing_token,
            state: r.outcome.state(),
            remote_id,
            remote_url,
            remote_extra,
            error,
            next,
        }
    }
}

/// `kind, target_message_id, session_id, title, exercise, retracted_at,
/// follows_up_message_id` of a message.
type MessageRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    bool,
    Option<DbTime>,
    Option<i64>,
);

/// The state a claim took a delivery from (`claimed_from`, set by the claim itself).
fn claimed_from(text: Option<String>) -> Result<DeliveryState, StoreError> {
    let text = text.unwrap_or_default();
    DeliveryState::parse(&text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(
            format!("a claimed delivery came from the unknown state `{text}`").into(),
        ))
    })
}

impl OutboxTx<'_, '_> {
    /// Records that one part of a delivery sent as several messages (an SMS recipient)
    /// went out as `remote_id`; recording it again changes nothing.
    pub async fn record_part(
        &mut self,
        message_id: i64,
        account_id: i64,
        part: &str,
        remote_id: &str,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO delivery_parts (message_id, account_id, part, remote_id, sent_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id, account_id, part) DO NOTHING",
            )
            .bind(message_id)
            .bind(account_id)
            .bind(part)
            .bind(remote_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Creates an approved message, its variants and one pending delivery per account,
    /// all in this transaction (the outbox), audited as `message.approve`.
    pub async fn create_message(&mut self, message: &NewMessage) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let targets_json = message
            .targets
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Conflict(format!("message targets: {e}")))?;
        let (id, playbook): (i64, Option<String>) = on_tx!(self.tx, c => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (draft_id, approved_by, approved_at, exercise, break_glass, \
                 targets_json) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(message.draft_id)
            .bind(&message.approved_by)
            .bind(now)
            .bind(message.exercise)
            .bind(message.break_glass)
            .bind(&targets_json)
            .fetch_one(&mut *c)
            .await?;
            let playbook: Option<String> = sqlx::query_scalar("SELECT playbook_id FROM drafts WHERE id = $1")
                .bind(message.draft_id)
                .fetch_optional(&mut *c)
                .await?;
            (id, playbook)
        });
        self.insert_deliveries(id, &message.account_ids, &now)
            .await?;
        self.tx
            .insert_variants(None, Some(id), &message.variants, &now)
            .await?;
        let mut event = AuditEvent::new(message.approved_by.as_str(), "message.approve")
            .subject("message", id.to_string())
            .subject("draft", message.draft_id.to_string())
            .outcome(if message.break_glass {
                "break_glass"
            } else {
                "approved"
            })
            .exercise(message.exercise)
            .payload(&variants_commitment(&message.variants));
        if let Some(p) = playbook {
            event = event.subject("playbook", p);
        }
        if let Some(t) = &message.targets {
            event = event
                .subject("groups", t.groups_text())
                .subject("targets", t.counts_text());
        }
        self.tx.append_audit(event).await?;
        Ok(id)
    }

    /// One pending delivery of `message_id` per account (the outbox), a few hundred rows
    /// per statement: one statement per row cost a round trip to the database each, which
    /// at 10,000 accounts was most of an approval's time.
    async fn insert_deliveries(
        &mut self,
        message_id: i64,
        account_ids: &[i64],
        now: &DbTime,
    ) -> Result<(), StoreError> {
        let backend = self.tx.store.backend();
        for chunk in cacheable_chunks(account_ids, DELIVERY_ROWS_PER_INSERT) {
            let values = (0..chunk.len())
                .map(|i| match backend {
                    // Positional `?` on SQLite: sqlx looks `$n` names up one by one.
                    Backend::Sqlite => "(?, ?, 'pending', 0, ?, 0, ?)".to_string(),
                    Backend::Postgres => {
                        let b = i * 4;
                        format!(
                            "(${}, ${}, 'pending', 0, ${}, 0, ${})",
                            b + 1,
                            b + 2,
                            b + 3,
                            b + 4
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO deliveries (message_id, account_id, state, attempts, idempotency_key, \
                 fencing_token, updated_at) VALUES {values}"
            );
            on_tx!(self.tx, c => {
                let mut q = sqlx::query(&sql);
                for account in chunk {
                    q = q
                        .bind(message_id)
                        .bind(*account)
                        .bind(self.tx.store.idempotency_key(message_id, *account))
                        .bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Creates an approved message with its outbox rows (see [`Tx::create_message`]) and
    /// places it: kind, target, live-session thread position, headline, earliest send
    /// time. One transaction, one audit trail.
    pub async fn place_message(
        &mut self,
        message: &NewMessage,
        placement: &Placement,
    ) -> Result<i64, StoreError> {
        let id = self.create_message(message).await?;
        let not_before = placement.not_before.map(DbTime);
        let session = placement.session_id;
        on_tx!(self.tx, c => {
            if let Some(s) = session {
                // Take the session's row lock so concurrent posts get distinct numbers.
                sqlx::query("UPDATE live_sessions SET state = state WHERE id = $1")
                    .bind(s)
                    .execute(&mut *c)
                    .await?;
            }
            let seq: Option<i64> = match session {
                Some(s) => Some(
                    sqlx::query_scalar::<_, Option<i64>>(
                        "SELECT MAX(session_seq) FROM messages WHERE session_id = $1",
                    )
                    .bind(s)
                    .fetch_one(&mut *c)
                    .await?
                    .unwrap_or(0)
                        + 1,
                ),
                None => None,
            };
            sqlx::query(
                "UPDATE messages SET kind = $1, target_message_id = $2, session_id = $3, \
                 session_seq = $4, title = $5, not_before = $6, consent_ref = $7, \
                 follows_up_message_id = $8 WHERE id = $9",
            )
            .bind(placement.kind.as_str())
            .bind(placement.target_message_id)
            .bind(session)
            .bind(seq)
            .bind(&placement.title)
            .bind(not_before)
            .bind(&placement.consent_ref)
            .bind(placement.follows_up)
            .bind(id)
            .execute(&mut *c)
            .await?;
            if not_before.is_some() {
                sqlx::query("UPDATE deliveries SET next_attempt_at = $1 WHERE message_id = $2")
                    .bind(not_before)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(id)
    }

    /// Claims up to `limit` due deliveries for `owner` until the lease runs out: pending
    /// or waiting ones whose time has come, unknown ones to reconcile, and ones whose
    /// previous owner's lease expired. A live-session post waits until the account's
    /// previous post in the session is settled; a deletion or correction waits until the
    /// account's delivery of its target is. Each claim is audited.
    pub async fn claim_due(
        &mut self,
        owner: &str,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = self.tx.now();
        let (now_text, until) = (DbTime(now), DbTime(now + lease_for));
        let lock = match self.tx.store.backend() {
            Backend::Postgres => "FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE deliveries SET claimed_from = state, state = 'sending', lease_owner = $1, \
             lease_until = $2, fencing_token = fencing_token + 1, attempts = attempts + 1, \
             updated_at = $3 \
             WHERE (message_id, account_id) IN ( \
               SELECT d.message_id, d.account_id FROM deliveries d JOIN messages m ON m.id = d.message_id \
               WHERE ((d.state IN ('pending', 'retry_wait', 'unknown') \
                       AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= $3)) \
                      OR (d.state = 'sending' AND d.lease_until < $3)) \
               AND NOT EXISTS (SELECT 1 FROM messages pm JOIN deliveries pd ON pd.message_id = pm.id \
                   WHERE m.session_id IS NOT NULL AND pm.session_id = m.session_id \
                   AND pm.session_seq < m.session_seq AND pd.account_id = d.account_id \
                   AND pd.state NOT IN {SETTLED_SQL}) \
               AND NOT EXISTS (SELECT 1 FROM deliveries td \
                   WHERE m.target_message_id IS NOT NULL AND td.message_id = m.target_message_id \
                   AND td.account_id = d.account_id \
                   AND td.state NOT IN {SETTLED_SQL}) \
               ORDER BY d.message_id, d.account_id LIMIT $4 {lock}) \
             RETURNING message_id, account_id, fencing_token, attempts, idempotency_key, \
             claimed_from, remote_id"
        );
        let claimed: Vec<ClaimedDelivery> = on_tx!(self.tx, c => {
            let rows = sqlx::query(&sql)
                .bind(owner)
                .bind(until)
                .bind(now_text)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(ClaimedDelivery {
                    message_id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    fencing_token: r.try_get(2)?,
                    attempt: r.try_get(3)?,
                    idempotency_key: r.try_get(4)?,
                    previous_state: claimed_from(r.try_get::<Option<String>, _>(5)?)?,
                    remote_id: r.try_get(6)?,
                });
            }
            out
        });
        self.audit_claims(owner, &claimed).await?;
        Ok(claimed)
    }

    /// Claims a message placed in this transaction (to `account_ids`) for `owner`, at
    /// once: up to `limit` of its deliveries, in account order, leased until `lease_for`
    /// from now, audited as
    /// [`OutboxTx::claim_due`] audits a claim. The approving node hands them straight to
    /// its dispatcher once the approval commits, instead of finding them with its next
    /// claim. Only for a message due now whose deliveries wait for nothing else: not a
    /// live-session post (ordered after the session's earlier posts), not a deletion or
    /// correction (after their target), not one sent later; the caller checks. The rest,
    /// beyond `limit`, is claimed as usual, by any node.
    pub async fn claim_placed(
        &mut self,
        message_id: i64,
        account_ids: &[i64],
        owner: &str,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut accounts: Vec<i64> = account_ids.to_vec();
        accounts.sort_unstable();
        accounts.dedup();
        accounts.truncate(limit);
        let Some(&last) = accounts.last() else {
            return Ok(Vec::new());
        };
        let now = self.tx.now();
        let (now_text, until) = (DbTime(now), DbTime(now + lease_for));
        // Placed in this transaction, so every row is pending with token 0 and no attempt:
        // what a claim would return is known, and is not sent back row by row.
        let affected = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE deliveries SET claimed_from = state, state = 'sending', lease_owner = $1, \
                 lease_until = $2, fencing_token = fencing_token + 1, attempts = attempts + 1, \
                 updated_at = $3 \
                 WHERE message_id = $4 AND account_id <= $5 AND state = 'pending' \
                 AND fencing_token = 0 AND attempts = 0 AND next_attempt_at IS NULL",
            )
            .bind(owner)
            .bind(until)
            .bind(now_text)
            .bind(message_id)
            .bind(last)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if usize::try_from(affected).ok() != Some(accounts.len()) {
            return Err(StoreError::Conflict(format!(
                "message {message_id}: {affected} of its {} deliveries could be claimed at approval; only a message placed in the same transaction can be",
                accounts.len()
            )));
        }
        let claimed: Vec<ClaimedDelivery> = accounts
            .into_iter()
            .map(|account_id| ClaimedDelivery {
                message_id,
                account_id,
                fencing_token: 1,
                attempt: 1,
                idempotency_key: self.tx.store.idempotency_key(message_id, account_id),
                previous_state: DeliveryState::Pending,
                remote_id: None,
            })
            .collect();
        self.audit_claims(owner, &claimed).await?;
        Ok(claimed)
    }

    /// One `delivery.claim` entry per message of a claim: which accounts, at which
    /// attempt (the result of each attempt gets its own entry per account when it is
    /// recorded).
    async fn audit_claims(
        &mut self,
        owner: &str,
        claimed: &[ClaimedDelivery],
    ) -> Result<(), StoreError> {
        let mut by_message: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for d in claimed {
            by_message.entry(d.message_id).or_default().push(format!(
                "{}:{}:{}",
                d.account_id,
                d.attempt,
                d.previous_state.as_str()
            ));
        }
        let mut events = Vec::with_capacity(by_message.len());
        for (message, accounts) in by_message {
            let exercise: bool = on_tx!(self.tx, c => {
                sqlx::query_scalar::<_, bool>("SELECT exercise FROM messages WHERE id = $1")
                    .bind(message)
                    .fetch_optional(&mut *c)
                    .await?
                    .unwrap_or(false)
            });
            events.push(
                AuditEvent::new(owner, "delivery.claim")
                    .subject("message", message.to_string())
                    .outcome(format!("{} deliveries claimed", accounts.len()))
                    .exercise(exercise)
                    .payload(accounts.join(",").as_bytes()),
            );
        }
        self.tx.append_audit_batch(events).await?;
        Ok(())
    }

    /// Records a batch of results in this transaction (a group commit), each only if its
    /// fencing token is still current. A post that lands after its message was retracted
    /// is queued for deletion at once.
    pub async fn record_results(
        &mut self,
        actor: &str,
        results: &[DeliveryResult],
    ) -> Result<Vec<Recorded>, StoreError> {
        let now = DbTime(self.tx.now());
        let mut recorded = Vec::with_capacity(results.len());
        let mut events = Vec::new();
        let mut late: Vec<(i64, i64)> = Vec::new();
        let mut kinds: BTreeMap<i64, (Option<MessageKind>, bool, bool)> = BTreeMap::new();
        for r in results {
            if kinds.contains_key(&r.message_id) {
                continue;
            }
            // FOR SHARE on PostgreSQL: a retraction committing at the same time (it
            // updates this row) waits, or we wait for it, so no late post is missed.
            let sql = match self.tx.store.backend() {
                Backend::Postgres => {
                    "SELECT kind, retracted_at, exercise FROM messages WHERE id = $1 FOR SHARE"
                }
                Backend::Sqlite => {
                    "SELECT kind, retracted_at, exercise FROM messages WHERE id = $1"
                }
            };
            let row: Option<(String, Option<DbTime>, bool)> = on_tx!(self.tx, c => {
                sqlx::query_as(sql)
                    .bind(r.message_id)
                    .fetch_optional(&mut *c)
                    .await?
            });
            if let Some((kind, retracted, exercise)) = row {
                kinds.insert(
                    r.message_id,
                    (MessageKind::parse(&kind), retracted.is_some(), exercise),
                );
            }
        }
        // Every row in a few multi-row UPDATEs (each statement costs a round trip to the
        // database thread): only rows whose fencing token still matches come back.
        let rows: Vec<ResultRow> = results.iter().map(ResultRow::from).collect();
        // (message, account, fencing token) of every row written.
        let mut updated: std::collections::BTreeSet<(i64, i64, i64)> =
            std::collections::BTreeSet::new();
        let backend = self.tx.store.backend();
        for chunk in crate::tx::cacheable_chunks(&rows, RESULT_ROWS_PER_UPDATE) {
            // Positional `?` on SQLite: sqlx looks `$n` names up one by one, which is
            // quadratic in the number of parameters.
            let p = |n: usize| match backend {
                Backend::Sqlite => "?".to_string(),
                Backend::Postgres => format!("${n}"),
            };
            let values = (0..chunk.len())
                .map(|i| {
                    let b = i * 9;
                    format!(
                        "(CAST({} AS BIGINT), CAST({} AS BIGINT), CAST({} AS BIGINT), CAST({} AS TEXT), \
                         CAST({} AS TEXT), CAST({} AS TEXT), CAST({} AS TEXT), CAST({} AS TEXT), CAST({} AS {time}))",
                        p(b + 1), p(b + 2), p(b + 3), p(b + 4), p(b + 5), p(b + 6), p(b + 7), p(b + 8), p(b + 9),
                        time = crate::time::sql_type(backend)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let now_param = p(chunk.len() * 9 + 1);
            let sql = format!(
                "WITH v (message_id, account_id, token, state, remote_id, remote_url, remote_extra, last_error, next_at) \
                 AS (VALUES {values}) \
                 UPDATE deliveries SET state = v.state, \
                 remote_id = COALESCE(v.remote_id, deliveries.remote_id), \
                 remote_url = COALESCE(v.remote_url, deliveries.remote_url), \
                 remote_extra = COALESCE(v.remote_extra, deliveries.remote_extra), \
                 last_error = v.last_error, next_attempt_at = v.next_at, lease_owner = NULL, \
                 lease_until = NULL, updated_at = {now_param} \
                 FROM v WHERE deliveries.message_id = v.message_id AND deliveries.account_id = v.account_id \
                 AND deliveries.fencing_token = v.token"
            );
            // Counted, not returned: every returned row is a hop from SQLite's thread, and
            // nearly always every row matches. Only when some did not are they looked up.
            let affected = on_tx!(self.tx, c => {
                let mut q = sqlx::query(&sql);
                for row in chunk {
                    q = q
                        .bind(row.message_id)
                        .bind(row.account_id)
                        .bind(row.fencing_token)
                        .bind(row.state.as_str())
                        .bind(row.remote_id.clone())
                        .bind(row.remote_url.clone())
                        .bind(row.remote_extra.clone())
                        .bind(row.error.clone())
                        .bind(row.next);
                }
                q.bind(now).execute(&mut *c).await?.rows_affected()
            });
            if usize::try_from(affected).is_ok_and(|n| n == chunk.len()) {
                updated.extend(
                    chunk
                        .iter()
                        .map(|r| (r.message_id, r.account_id, r.fencing_token)),
                );
            } else {
                updated.extend(self.holding_their_tokens(chunk).await?);
            }
        }
        for (r, row) in results.iter().zip(&rows) {
            if !updated.contains(&(r.message_id, r.account_id, r.fencing_token)) {
                recorded.push(Recorded::Stale);
                continue;
            }
            recorded.push(Recorded::Yes);
            let (kind, message_retracted, exercise) = kinds
                .get(&r.message_id)
                .copied()
                .unwrap_or((Some(MessageKind::Post), false, false));
            if row.state == DeliveryState::Sent
                && kind == Some(MessageKind::Post)
                && message_retracted
            {
                late.push((r.message_id, r.account_id));
            }
            if let (ResultOutcome::Sent(post), Some(MessageKind::Delete)) = (&r.outcome, kind) {
                // A deletion that removed the target's post marks that delivery retracted.
                on_tx!(self.tx, c => {
                    sqlx::query(
                        "UPDATE deliveries SET state = 'retracted', updated_at = $1 \
                         WHERE account_id = $2 AND remote_id = $3 AND state = 'sent' AND message_id = \
                         (SELECT target_message_id FROM messages WHERE id = $4)",
                    )
                    .bind(now)
                    .bind(r.account_id)
                    .bind(&post.remote_id)
                    .bind(r.message_id)
                    .execute(&mut *c)
                    .await?;
                });
            }
            let mut event = AuditEvent::new(actor, "delivery.result")
                .subject("message", r.message_id.to_string())
                .subject("account", r.account_id.to_string())
                .subject("attempt", r.attempt.to_string())
                .outcome(row.state.as_str())
                .exercise(exercise);
            if let Some(id) = &row.remote_id {
                event = event.subject("remote", id.as_str());
            }
            if let Some(url) = &row.remote_url {
                event = event.subject("remote_url", url.as_str());
            }
            if let Some(err) = &row.error {
                event = event.payload(err.as_bytes());
            }
            events.push(event);
        }
        self.tx.append_audit_batch(events).await?;
        for (message_id, account_id) in late {
            self.queue_late_retraction(actor, message_id, account_id, &now)
                .await?;
        }
        Ok(recorded)
    }

    /// Which of `rows` the deliveries' current fencing tokens match: after the result
    /// UPDATE, exactly the rows it wrote (a stale token never matches).
    async fn holding_their_tokens(
        &mut self,
        rows: &[ResultRow],
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let backend = self.tx.store.backend();
        let values = (0..rows.len())
            .map(|i| match backend {
                Backend::Sqlite => {
                    "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))".to_string()
                }
                Backend::Postgres => format!(
                    "(CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                    i * 3 + 1,
                    i * 3 + 2,
                    i * 3 + 3
                ),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH v (message_id, account_id, token) AS (VALUES {values}) \
             SELECT d.message_id, d.account_id, d.fencing_token FROM deliveries d JOIN v \
             ON d.message_id = v.message_id AND d.account_id = v.account_id AND d.fencing_token = v.token"
        );
        Ok(on_tx!(self.tx, c => {
            let mut q = sqlx::query_as::<_, (i64, i64, i64)>(&sql);
            for row in rows {
                q = q.bind(row.message_id).bind(row.account_id).bind(row.fencing_token);
            }
            q.fetch_all(&mut *c).await?
        }))
    }

    async fn queue_late_retraction(
        &mut self,
        actor: &str,
        message_id: i64,
        account_id: i64,
        now: &DbTime,
    ) -> Result<(), StoreError> {
        let retraction: Option<i64> = on_tx!(self.tx, c => {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE target_message_id = $1 AND kind IN ('delete', 'correction') \
                 ORDER BY id LIMIT 1",
            )
            .bind(message_id)
            .fetch_optional(&mut *c)
            .await?;
            if let Some(r) = id {
                sqlx::query(
                    "INSERT INTO deliveries (message_id, account_id, state, attempts, idempotency_key, \
                     fencing_token, updated_at) VALUES ($1, $2, 'pending', 0, $3, 0, $4) \
                     ON CONFLICT (message_id, account_id) DO NOTHING",
                )
                .bind(r)
                .bind(account_id)
                .bind(self.tx.store.idempotency_key(r, account_id))
                .bind(now)
                .execute(&mut *c)
                .await?;
            }
            id
        });
        if let Some(r) = retraction {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "delivery.queue_retraction")
                        .subject("message", r.to_string())
                        .subject("account", account_id.to_string())
                        .subject("target", message_id.to_string()),
                )
                .await?;
        }
        Ok(())
    }

    /// Retracts a message everywhere: deliveries not yet sent are cancelled, and a new
    /// message with its own outbox rows acts on every account that has the post.
    ///
    /// [`RetractMode::Delete`] deletes the post where the platform can, and where it
    /// cannot (the accounts in [`Retraction::cannot_delete`]) sends the withdrawal notice
    /// in [`Retraction::variants`] as a reply instead; a message is deleted once.
    /// [`RetractMode::Correct`] posts the correction as a reply on every account where the
    /// post still stands: after a deletion, those that got a notice, or whose deletion
    /// failed. Posts still in flight are handled when they land.
    pub async fn retract_message(
        &mut self,
        actor: &str,
        message_id: i64,
        retraction: &Retraction<'_>,
    ) -> Result<RetractSummary, StoreError> {
        let now = DbTime(self.tx.now());
        let row: Option<(i64, bool, String)> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT draft_id, exercise, kind FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some((draft_id, exercise, kind)) = row else {
            return Err(StoreError::NotFound(format!("message {message_id}")));
        };
        if kind != "post" {
            return Err(StoreError::Conflict(format!(
                "message {message_id} is itself a {kind}; retract the original"
            )));
        }
        let deletion: Option<i64> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "SELECT id FROM messages WHERE target_message_id = $1 AND kind = 'delete' ORDER BY id LIMIT 1",
            )
            .bind(message_id)
            .fetch_optional(&mut *c)
            .await?
        });
        if let (RetractMode::Delete, Some(earlier)) = (retraction.mode, deletion) {
            return Err(StoreError::Conflict(format!(
                "message {message_id} is already retracted (its deletion is message {earlier})"
            )));
        }
        let (cancelled, sent): (u64, Vec<i64>) = on_tx!(self.tx, c => {
            sqlx::query("UPDATE messages SET retracted_at = COALESCE(retracted_at, $1) WHERE id = $2")
                .bind(now)
                .bind(message_id)
                .execute(&mut *c)
                .await?;
            let cancelled = sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = $1 \
                 WHERE message_id = $2 AND state IN ('pending', 'retry_wait')",
            )
            .bind(now)
            .bind(message_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
            // Sent, or failed after one of its languages' posts went up (that post
            // stands on the platform and is retracted like any other).
            let sent: Vec<i64> = sqlx::query_scalar(
                "SELECT account_id FROM deliveries d WHERE message_id = $1 AND (state = 'sent' \
                 OR (state = 'failed' AND EXISTS (SELECT 1 FROM delivery_parts p \
                 WHERE p.message_id = d.message_id AND p.account_id = d.account_id \
                 AND p.part LIKE 'language:%'))) ORDER BY account_id",
            )
            .bind(message_id)
            .fetch_all(&mut *c)
            .await?;
            (cancelled, sent)
        });
        // After a deletion, a post stands where a notice went instead, or where the
        // deletion failed for good.
        let deleting: std::collections::BTreeSet<i64> = match deletion {
            Some(d) => on_tx!(self.tx, c => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT account_id FROM deliveries WHERE message_id = $1 AND state NOT IN ('failed', 'cancelled')",
                )
                .bind(d)
                .fetch_all(&mut *c)
                .await?
                .into_iter()
                .filter(|a| !retraction.cannot_delete.contains(a))
                .collect()
            }),
            None => std::collections::BTreeSet::new(),
        };
        let targets: Vec<i64> = sent.into_iter().filter(|a| !deleting.contains(a)).collect();
        if retraction.mode == RetractMode::Correct && targets.is_empty() {
            return Err(StoreError::Conflict(format!(
                "no account still has message {message_id}: there is nothing to correct"
            )));
        }
        let notices = targets
            .iter()
            .filter(|a| retraction.cannot_delete.contains(a))
            .count() as u64;
        let kind = match retraction.mode {
            RetractMode::Delete => MessageKind::Delete,
            RetractMode::Correct => MessageKind::Correction,
        };
        let placed = NewMessage {
            draft_id: retraction.draft_id.unwrap_or(draft_id),
            approved_by: actor.to_string(),
            exercise,
            break_glass: retraction.break_glass,
            variants: retraction.variants.to_vec(),
            account_ids: targets.clone(),
            targets: None,
        };
        let placement = Placement {
            kind,
            target_message_id: Some(message_id),
            title: retraction.title.clone(),
            ..Placement::default()
        };
        let retraction_message_id = self.place_message(&placed, &placement).await?;
        let outcome = match retraction.mode {
            RetractMode::Delete => format!(
                "delete {} accounts, notice to {notices}, {cancelled} unsent cancelled",
                targets.len() as u64 - notices
            ),
            RetractMode::Correct => format!(
                "correction {} accounts, {cancelled} unsent cancelled",
                targets.len()
            ),
        };
        self.tx
            .append_audit(
                AuditEvent::new(actor, "message.retract")
                    .subject("message", message_id.to_string())
                    .subject("retraction", retraction_message_id.to_string())
                    .outcome(outcome)
                    .exercise(exercise)
                    .payload(retraction.reason.as_bytes()),
            )
            .await?;
        Ok(RetractSummary {
            retraction_message_id,
            cancelled,
            targeted: targets.len() as u64,
            notices,
        })
    }
}

impl Outbox<'_> {
    /// Creates a message and its deliveries in one transaction.
    pub async fn create_message(self, message: &NewMessage) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.outbox().create_message(message).await?)
    }

    /// Extends the leases of deliveries `owner` still holds (each named by message,
    /// account and the fencing token of its claim) to `lease_for` from now, so a send in
    /// flight is not taken over while it runs. A claim another worker has taken since
    /// (its fencing token moved on) or already recorded is left alone. Returns how many
    /// leases were extended. Not audited: the claim was, and the result will be.
    pub async fn renew_leases(
        self,
        owner: &str,
        claims: &[(i64, i64, i64)],
        lease_for: Duration,
    ) -> Result<u64, StoreError> {
        if claims.is_empty() {
            return Ok(0);
        }
        let until = DbTime(self.store.now() + lease_for);
        let mut renewed = 0;
        let mut tx = self.store.begin().await?;
        // 3 parameters a claim, 2 more a statement: within SQLite's 999.
        for chunk in claims.chunks(300) {
            let mut sql = String::from(
                "UPDATE deliveries SET lease_until = $1 WHERE state = 'sending' AND lease_owner = $2 \
                 AND (message_id, account_id, fencing_token) IN (VALUES ",
            );
            for i in 0..chunk.len() {
                let p = 3 + i * 3;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${}, ${})", p, p + 1, p + 2));
            }
            sql.push(')');
            renewed += on_tx!(tx, c => {
                let mut q = sqlx::query(&sql).bind(until).bind(owner);
                for (message, account, token) in chunk {
                    q = q.bind(*message).bind(*account).bind(*token);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
        }
        tx.commit().await?;
        Ok(renewed)
    }

    /// Claims due deliveries in a transaction of its own.
    pub async fn claim_due(
        self,
        owner: &str,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut tx = self.store.begin().await?;
        let out = tx.outbox().claim_due(owner, lease_for, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Records results in a transaction of its own (one fsync for the batch).
    pub async fn record_results(
        self,
        actor: &str,
        results: &[DeliveryResult],
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut tx = self.store.begin().await?;
        let out = tx.outbox().record_results(actor, results).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// What a message needs for sending.
    pub async fn message_for_sending(
        self,
        message_id: i64,
    ) -> Result<Option<MessageForSending>, StoreError> {
        let row: Option<MessageRow> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT kind, target_message_id, session_id, title, exercise, retracted_at, \
                 follows_up_message_id FROM messages WHERE id = $1",
            )
            .bind(message_id)
            .fetch_optional(p)
            .await?
        });
        let Some((kind, target, session, title, exercise, retracted, follows_up)) = row else {
            return Ok(None);
        };
        let texts: BTreeMap<TextTarget, String> = self
            .store
            .messages()
            .variants(message_id)
            .await?
            .into_iter()
            .filter_map(|v| v.body.map(|b| (v.target, b)))
            .collect();
        let consent_problem = self.consent_problem(message_id, &texts).await?;
        let images = self.store.images().for_sending(message_id).await?;
        Ok(Some(MessageForSending {
            images,
            id: message_id,
            kind: crate::time::enum_col("message kind", &kind, MessageKind::parse)?,
            target_message_id: target,
            session_id: session,
            follows_up,
            title,
            exercise,
            retracted: retracted.is_some(),
            texts,
            consent_problem,
        }))
    }

    /// The parts of a delivery that went out (see [`OutboxTx::record_part`]), as
    /// (part, remote id), in the order recorded.
    pub async fn sent_parts(
        self,
        message_id: i64,
        account_id: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT part, remote_id FROM delivery_parts \
                 WHERE message_id = $1 AND account_id = $2 ORDER BY sent_at, part",
            )
            .bind(message_id)
            .bind(account_id)
            .fetch_all(p)
            .await?
        }))
    }

    /// Records one part of a delivery as sent, in its own transaction.
    pub async fn record_part(
        self,
        message_id: i64,
        account_id: i64,
        part: &str,
        remote_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.outbox()
            .record_part(message_id, account_id, part, remote_id)
            .await?;
        tx.commit().await
    }

    /// Why the consent record message `message_id`'s approval cited does not cover it now
    /// (`None`: it cited none, or the record still covers its playbook and channels).
    pub async fn consent_problem(
        self,
        message_id: i64,
        texts: &BTreeMap<TextTarget, String>,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>, String)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT m.consent_ref, d.playbook_id FROM messages m JOIN drafts d ON d.id = m.draft_id \
                 WHERE m.id = $1",
            )
            .bind(message_id)
            .fetch_optional(p)
            .await?
        });
        let Some((Some(reference), playbook)) = row else {
            return Ok(None);
        };
        let channels: Vec<&str> = texts
            .keys()
            .filter_map(|t| t.platform())
            .map(|p| p.as_str())
            .collect();
        Ok(match self.store.consents().get(&reference).await? {
            None => Some(format!("consent record {reference} is not in the register")),
            Some(record) => record.problem(&playbook, &channels, self.store.now()),
        })
    }

    /// The post an account has for a message, if recorded as sent.
    pub async fn recorded_post(
        self,
        message_id: i64,
        account_id: i64,
    ) -> Result<Option<RecordedPost>, StoreError> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT remote_id, remote_url, remote_extra FROM deliveries \
                 WHERE message_id = $1 AND account_id = $2 AND state IN ('sent', 'retracted')",
            )
            .bind(message_id)
            .bind(account_id)
            .fetch_optional(p)
            .await?
        });
        Ok(row.and_then(|(id, url, extra)| {
            id.map(|remote_id| RecordedPost {
                remote_id,
                remote_url: url,
                remote_extra: extra,
            })
        }))
    }

    /// Where account `account_id`'s post of follow-up `message_id` goes in its thread:
    /// (the thread's root, the post it replies to). Both are taken from the chain of
    /// messages it follows up (at most [`FOLLOW_UP_DEPTH`] back): the parent is the
    /// nearest message whose post on this account was sent and not deleted, the root the
    /// farthest. `(None, None)`: nothing of the chain stands there, so it posts alone.
    pub async fn follow_up_thread(
        self,
        message_id: i64,
        account_id: i64,
    ) -> Result<(Option<RecordedPost>, Option<RecordedPost>), StoreError> {
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "WITH RECURSIVE chain (id, depth) AS ( \
                   SELECT follows_up_message_id, 1 FROM messages \
                    WHERE id = $1 AND follows_up_message_id IS NOT NULL \
                   UNION ALL \
                   SELECT m.follows_up_message_id, c.depth + 1 FROM messages m \
                     JOIN chain c ON m.id = c.id \
                    WHERE m.follows_up_message_id IS NOT NULL AND c.depth < $3) \
                 SELECT d.remote_id, d.remote_url, d.remote_extra FROM chain c \
                   JOIN deliveries d ON d.message_id = c.id AND d.account_id = $2 \
                  WHERE d.state = 'sent' \
                    AND NOT EXISTS (SELECT 1 FROM messages r \
                                     WHERE r.target_message_id = c.id AND r.kind = 'delete') \
                  ORDER BY c.depth",
            )
            .bind(message_id)
            .bind(account_id)
            .bind(FOLLOW_UP_DEPTH)
            .fetch_all(p)
            .await?
        });
        let posts: Vec<RecordedPost> = rows
            .into_iter()
            .filter_map(|(id, url, extra)| {
                id.map(|remote_id| RecordedPost {
                    remote_id,
                    remote_url: url,
                    remote_extra: extra,
                })
            })
            .collect();
        Ok((posts.last().cloned(), posts.first().cloned()))
    }

    /// How many deliveries are waiting or in flight (the queue depth).
    pub async fn queue_depth(self) -> Result<i64, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'retry_wait', 'unknown', 'sending')",
            )
            .fetch_one(p)
            .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_list_of_settled_states_matches_the_enum() {
        let all = [
            DeliveryState::Pending,
            DeliveryState::Sending,
            DeliveryState::Sent,
            DeliveryState::RetryWait,
            DeliveryState::Failed,
            DeliveryState::Unknown,
            DeliveryState::Retracted,
            DeliveryState::Cancelled,
            DeliveryState::Skipped,
        ];
        for state in all {
            let listed = SETTLED_SQL.contains(&format!("'{}'", state.as_str()));
            assert_eq!(listed, state.is_settled(), "{state:?}");
        }
    }
}
