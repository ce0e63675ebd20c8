//! What the store holds, and the operations that change it, each with its audit entry.
//!
//! Every write here is a method on [`Tx`] that records its own audit event in the same
//! transaction; the `Store` methods of the same name are one-operation transactions.
//! Rendered texts go to `rendered_bodies` and only their SHA-256 into the chain, so the
//! retention purge can delete texts without touching the log.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use std::collections::BTreeMap;
use tocsin_audit::entry::{format_time, parse_time};
use tocsin_audit::{payload_commitment, AuditEvent};

use crate::tx::{cacheable_chunks, on_pool, on_tx, Tx};
use crate::{Backend, Store, StoreError};

/// Outbox rows per multi-row INSERT at approval (4 parameters each); a power of two, see
/// [`cacheable_chunks`].
const DELIVERY_ROWS_PER_INSERT: usize = 256;

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Sign-in name, unique.
    pub name: String,
    /// `viewer`, `drafter`, `approver`, `compliance` or `admin`.
    pub role: String,
    /// The argon2id hash (never the password).
    pub password_hash: String,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The argon2id hash.
    pub password_hash: String,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// A platform account to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Platform name, e.g. `mastodon`.
    pub platform: String,
    /// The account on that platform, e.g. `@health@example.social`.
    pub handle: String,
    /// How people call it in the control panel.
    pub display_name: String,
    /// Whether it is a sandbox destination (exercises send only to these).
    pub sandbox: bool,
}

/// A stored platform account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Sandbox destination.
    pub sandbox: bool,
}

/// A playbook pre-approval: who approved which content, when (the domain's type).
pub use tocsin_domain::preapproval::PlaybookApproval;

/// One platform's rendered text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedVariant {
    /// Platform name.
    pub platform: String,
    /// The text as it will be posted.
    pub body: String,
}

/// A stored variant; its body is `None` once retention purged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariant {
    /// Platform name.
    pub platform: String,
    /// SHA-256 of the body (kept forever, like the audit entry committing to it).
    pub body_sha256: String,
    /// The text, until purged.
    pub body: Option<String>,
}

/// A draft to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDraft {
    /// The playbook.
    pub playbook_id: String,
    /// The playbook step.
    pub step_id: String,
    /// The playbook's content hash the draft was rendered from.
    pub content_hash: String,
    /// The variable values as JSON (may hold PHI: stays out of the chain).
    pub variables_json: String,
    /// Who drafted it.
    pub created_by: String,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// The rendered texts.
    pub variants: Vec<RenderedVariant>,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Row id.
    pub id: i64,
    /// The playbook.
    pub playbook_id: String,
    /// The step.
    pub step_id: String,
    /// Content hash rendered from.
    pub content_hash: String,
    /// Who drafted it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Exercise flag.
    pub exercise: bool,
    /// The rendered texts.
    pub variants: Vec<StoredVariant>,
}

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
            _ => return None,
        })
    }
}

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

fn time_col(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(format!("bad time `{text}`").into()))
    })
}

pub(crate) fn variants_commitment(variants: &[RenderedVariant]) -> Vec<u8> {
    let map: BTreeMap<&str, String> = variants
        .iter()
        .map(|v| (v.platform.as_str(), payload_commitment(v.body.as_bytes())))
        .collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

impl Tx<'_> {
    /// Adds a user (audited as `user.add`).
    pub async fn add_user(&mut self, actor: &str, user: &NewUser) -> Result<i64, StoreError> {
        let now = format_time(&self.now());
        let id: i64 = on_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&user.name)
            .bind(&user.role)
            .bind(&user.password_hash)
            .bind(&now)
            .fetch_one(&mut *c)
            .await?
        });
        self.append_audit(
            AuditEvent::new(actor, "user.add")
                .subject("user", user.name.as_str())
                .outcome(user.role.as_str()),
        )
        .await?;
        Ok(id)
    }

    /// Adds a platform account (audited as `account.add`).
    pub async fn add_account(
        &mut self,
        actor: &str,
        account: &NewAccount,
    ) -> Result<i64, StoreError> {
        let now = format_time(&self.now());
        let id: i64 = on_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO accounts (platform, handle, display_name, sandbox, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&account.platform)
            .bind(&account.handle)
            .bind(&account.display_name)
            .bind(account.sandbox)
            .bind(&now)
            .fetch_one(&mut *c)
            .await?
        });
        self.append_audit(
            AuditEvent::new(actor, "account.add")
                .subject("account", id.to_string())
                .subject("platform", account.platform.as_str()),
        )
        .await?;
        Ok(id)
    }

    /// Records a playbook pre-approval (audited as `playbook.approve`).
    pub async fn record_playbook_approval(
        &mut self,
        approval: &PlaybookApproval,
    ) -> Result<i64, StoreError> {
        let at = format_time(&approval.approved_at);
        let id: i64 = on_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO playbook_approvals (playbook_id, content_hash, approved_by, approved_at, note) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&approval.playbook_id)
            .bind(&approval.content_hash)
            .bind(&approval.approved_by)
            .bind(&at)
            .bind(&approval.note)
            .fetch_one(&mut *c)
            .await?
        });
        let mut event = AuditEvent::new(approval.approved_by.as_str(), "playbook.approve")
            .subject("playbook", approval.playbook_id.as_str())
            .subject("content", approval.content_hash.as_str())
            .outcome("approved");
        if let Some(note) = &approval.note {
            event = event.payload(note.as_bytes());
        }
        self.append_audit(event).await?;
        Ok(id)
    }

    /// Creates a draft with its rendered variants (audited as `draft.create`).
    pub async fn create_draft(&mut self, draft: &NewDraft) -> Result<i64, StoreError> {
        let now = format_time(&self.now());
        let id: i64 = on_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO drafts (playbook_id, step_id, content_hash, variables_json, created_by, created_at, exercise) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&draft.playbook_id)
            .bind(&draft.step_id)
            .bind(&draft.content_hash)
            .bind(&draft.variables_json)
            .bind(&draft.created_by)
            .bind(&now)
            .bind(draft.exercise)
            .fetch_one(&mut *c)
            .await?
        });
        self.insert_variants(Some(id), None, &draft.variants, &now)
            .await?;
        self.append_audit(
            AuditEvent::new(draft.created_by.as_str(), "draft.create")
                .subject("draft", id.to_string())
                .subject("playbook", draft.playbook_id.as_str())
                .exercise(draft.exercise)
                .payload(&variants_commitment(&draft.variants)),
        )
        .await?;
        Ok(id)
    }

    /// Creates an approved message, its variants and one pending delivery per account,
    /// all in this transaction (the outbox), audited as `message.approve`.
    pub async fn create_message(&mut self, message: &NewMessage) -> Result<i64, StoreError> {
        let now = format_time(&self.now());
        let (id, playbook): (i64, Option<String>) = on_tx!(self, c => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (draft_id, approved_by, approved_at, exercise, break_glass) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(message.draft_id)
            .bind(&message.approved_by)
            .bind(&now)
            .bind(message.exercise)
            .bind(message.break_glass)
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
        self.insert_variants(None, Some(id), &message.variants, &now)
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
        self.append_audit(event).await?;
        Ok(id)
    }

    /// One pending delivery of `message_id` per account (the outbox), a few hundred rows
    /// per statement: one statement per row cost a round trip to the database each, which
    /// at 10,000 accounts was most of an approval's time.
    async fn insert_deliveries(
        &mut self,
        message_id: i64,
        account_ids: &[i64],
        now: &str,
    ) -> Result<(), StoreError> {
        let backend = self.store.backend();
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
            on_tx!(self, c => {
                let mut q = sqlx::query(&sql);
                for account in chunk {
                    q = q
                        .bind(message_id)
                        .bind(*account)
                        .bind(format!("tocsin-{message_id}-{account}"))
                        .bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    pub(crate) async fn insert_variants(
        &mut self,
        draft: Option<i64>,
        message: Option<i64>,
        variants: &[RenderedVariant],
        now: &str,
    ) -> Result<(), StoreError> {
        on_tx!(self, c => {
            for v in variants {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO rendered_variants (draft_id, message_id, platform, body_sha256, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(draft)
                .bind(message)
                .bind(&v.platform)
                .bind(payload_commitment(v.body.as_bytes()))
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
                sqlx::query("INSERT INTO rendered_bodies (variant_id, body) VALUES ($1, $2)")
                    .bind(id)
                    .bind(&v.body)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }

    /// Deletes rendered bodies older than `retention` (hashes and the audit log stay),
    /// audited as `retention.purge`. Returns how many bodies were deleted.
    pub async fn purge_bodies(&mut self, retention: Duration) -> Result<u64, StoreError> {
        let cutoff = format_time(&(self.now() - retention));
        let purged = on_tx!(self, c => {
            sqlx::query(
                "DELETE FROM rendered_bodies WHERE variant_id IN \
                 (SELECT id FROM rendered_variants WHERE created_at < $1)",
            )
            .bind(&cutoff)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        self.append_audit(
            AuditEvent::new("system", "retention.purge")
                .subject("before", cutoff)
                .outcome(format!("{purged} bodies purged")),
        )
        .await?;
        Ok(purged)
    }
}

macro_rules! one_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut $tx = $store.begin().await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

impl Store {
    /// Adds a user in its own transaction.
    pub async fn add_user(&self, actor: &str, user: &NewUser) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.add_user(actor, user).await?)
    }

    /// Adds an account in its own transaction.
    pub async fn add_account(&self, actor: &str, account: &NewAccount) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.add_account(actor, account).await?)
    }

    /// Records a playbook approval in its own transaction.
    pub async fn record_playbook_approval(
        &self,
        approval: &PlaybookApproval,
    ) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.record_playbook_approval(approval).await?)
    }

    /// Creates a draft in its own transaction.
    pub async fn create_draft(&self, draft: &NewDraft) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.create_draft(draft).await?)
    }

    /// Creates a message and its deliveries in one transaction.
    pub async fn create_message(&self, message: &NewMessage) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.create_message(message).await?)
    }

    /// Purges old bodies in its own transaction.
    pub async fn purge_bodies(&self, retention: Duration) -> Result<u64, StoreError> {
        one_tx!(self, tx => tx.purge_bodies(retention).await?)
    }

    /// Every approval of a playbook, oldest first.
    pub async fn playbook_approvals(
        &self,
        playbook_id: &str,
    ) -> Result<Vec<PlaybookApproval>, StoreError> {
        let rows: Vec<(String, String, String, String, Option<String>)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT playbook_id, content_hash, approved_by, approved_at, note FROM playbook_approvals \
                 WHERE playbook_id = $1 ORDER BY id",
            )
            .bind(playbook_id)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(playbook_id, content_hash, approved_by, at, note)| {
                Ok(PlaybookApproval {
                    playbook_id,
                    content_hash,
                    approved_by,
                    approved_at: time_col(&at)?,
                    note,
                })
            })
            .collect()
    }

    /// A user by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, String, String, String)> = on_pool!(self, p => {
            sqlx::query_as("SELECT id, name, role, password_hash, created_at FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
        });
        row.map(|(id, name, role, password_hash, at)| {
            Ok(User {
                id,
                name,
                role,
                password_hash,
                created_at: time_col(&at)?,
            })
        })
        .transpose()
    }

    /// Every account, by id.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<(i64, String, String, String, bool)> = on_pool!(self, p => {
            sqlx::query_as("SELECT id, platform, handle, display_name, sandbox FROM accounts ORDER BY id")
                .fetch_all(p)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, platform, handle, display_name, sandbox)| Account {
                id,
                platform,
                handle,
                display_name,
                sandbox,
            })
            .collect())
    }

    /// A draft with its variants.
    pub async fn draft(&self, id: i64) -> Result<Option<Draft>, StoreError> {
        let row: Option<(i64, String, String, String, String, String, bool)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, playbook_id, step_id, content_hash, created_by, created_at, exercise FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        let Some((id, playbook_id, step_id, content_hash, created_by, at, exercise)) = row else {
            return Ok(None);
        };
        Ok(Some(Draft {
            id,
            playbook_id,
            step_id,
            content_hash,
            created_by,
            created_at: time_col(&at)?,
            exercise,
            variants: self.variants("draft_id", id).await?,
        }))
    }

    /// A message's variants.
    pub async fn message_variants(
        &self,
        message_id: i64,
    ) -> Result<Vec<StoredVariant>, StoreError> {
        self.variants("message_id", message_id).await
    }

    pub(crate) async fn variants(
        &self,
        column: &'static str,
        id: i64,
    ) -> Result<Vec<StoredVariant>, StoreError> {
        let sql = format!(
            "SELECT v.platform, v.body_sha256, b.body FROM rendered_variants v \
             LEFT JOIN rendered_bodies b ON b.variant_id = v.id WHERE v.{column} = $1 ORDER BY v.id"
        );
        let rows: Vec<(String, String, Option<String>)> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(id).fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|(platform, body_sha256, body)| StoredVariant {
                platform,
                body_sha256,
                body,
            })
            .collect())
    }

    /// A message's deliveries, by account.
    pub async fn deliveries(&self, message_id: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = on_pool!(self, p => {
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
                    r.try_get::<Option<String>, _>(9)?,
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
                    state: DeliveryState::parse(&r.2)
                        .ok_or_else(|| StoreError::NotFound(format!("delivery state `{}`", r.2)))?,
                    attempts: r.3,
                    remote_id: r.4,
                    remote_url: r.5,
                    last_error: r.6,
                    idempotency_key: r.7,
                    lease_owner: r.8,
                    lease_until: r.9.as_deref().map(time_col).transpose()?,
                    fencing_token: r.10,
                })
            })
            .collect()
    }
}
