//! The approval workflow around drafts, the consent register, the compliance review of
//! break-glass publishes, and the views the control panel reads (drafts, messages with
//! their delivery counts, deliveries with their accounts, live sessions).
//!
//! A draft's state is a compare-and-set ([`Tx::move_draft`]): two approvers acting on the
//! same submitted draft cannot both succeed, because the second finds it no longer in the
//! state it expected and its transaction (message and outbox rows included) rolls back.
//! The store does not decide which moves are allowed; the web layer does, and names the
//! state it expects. It only knows that a draft is edited in [`DRAFT_STATE_DRAFT`] or
//! [`DRAFT_STATE_CHANGES_REQUESTED`], and that an edit puts it back in the first.
//!
//! Every write records its audit entry in the same transaction. Text that may hold
//! protected health information (variable values, rendered texts, who consented, review
//! findings, reasons) goes into the chain only as a SHA-256 commitment.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tocsin_audit::entry::{format_time, parse_time};
use tocsin_audit::AuditEvent;

use crate::records::{variants_commitment, NewDraft, RenderedVariant, StoredVariant};
use crate::tx::{on_pool, on_tx, Tx};
use crate::{Backend, Store, StoreError};

/// The state a draft is created in, and the one an edit returns it to.
pub const DRAFT_STATE_DRAFT: &str = "draft";

/// The state of a draft an approver sent back with a reason; its drafter may edit it.
pub const DRAFT_STATE_CHANGES_REQUESTED: &str = "changes_requested";

/// Message ids per grouped count query (one parameter each, far below both limits).
const IDS_PER_COUNT_QUERY: usize = 500;

/// A draft with its place in the approval workflow.
#[derive(Clone, PartialEq, Eq)]
pub struct WorkflowDraft {
    /// Row id.
    pub id: i64,
    /// The playbook.
    pub playbook_id: String,
    /// The playbook step.
    pub step_id: String,
    /// The playbook's content hash the draft was rendered from.
    pub content_hash: String,
    /// The variable values as JSON (may hold PHI: kept out of the chain and of `Debug`).
    pub variables_json: String,
    /// Who drafted it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (its creation time if it never did).
    pub updated_at: DateTime<Utc>,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// Where it stands: `draft`, `submitted`, `changes_requested`, ... (see the module).
    pub state: String,
    /// The live session it posts into, if any.
    pub session_id: Option<i64>,
    /// The reason given when changes were last requested.
    pub note: Option<String>,
    /// The message its approval created.
    pub message_id: Option<i64>,
    /// The rendered texts (bodies `None` once retention purged them).
    pub variants: Vec<StoredVariant>,
}

impl std::fmt::Debug for WorkflowDraft {
    // The variable values may hold PHI: they stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowDraft")
            .field("id", &self.id)
            .field("playbook_id", &self.playbook_id)
            .field("step_id", &self.step_id)
            .field("content_hash", &self.content_hash)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("exercise", &self.exercise)
            .field("state", &self.state)
            .field("session_id", &self.session_id)
            .field("note", &self.note)
            .field("message_id", &self.message_id)
            .field("variants", &self.variants.len())
            .finish_non_exhaustive()
    }
}

/// A draft as listed (no values, no texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftListItem {
    /// Row id.
    pub id: i64,
    /// The playbook.
    pub playbook_id: String,
    /// The step.
    pub step_id: String,
    /// Who drafted it.
    pub created_by: String,
    /// When it last changed (its creation time if it never did).
    pub updated_at: DateTime<Utc>,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// Where it stands.
    pub state: String,
    /// The live session it posts into, if any.
    pub session_id: Option<i64>,
    /// The message its approval created.
    pub message_id: Option<i64>,
}

/// A consent to publish protected health information, to record.
#[derive(Clone, PartialEq, Eq)]
pub struct NewConsent {
    /// The register's reference, unique (named by an approval override).
    pub reference: String,
    /// Who consented (PHI: the chain holds only a commitment, `Debug` hides it).
    pub subject: String,
    /// The playbooks it covers; empty means any.
    pub scope_playbooks: Vec<String>,
    /// The channels (platform names) it covers; empty means any.
    pub scope_channels: Vec<String>,
    /// When it lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the signed form is kept.
    pub form_location: String,
}

impl std::fmt::Debug for NewConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConsent")
            .field("reference", &self.reference)
            .field("scope_playbooks", &self.scope_playbooks)
            .field("scope_channels", &self.scope_channels)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A recorded consent.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The register's reference.
    pub reference: String,
    /// Who consented (PHI: `Debug` hides it).
    pub subject: String,
    /// The playbooks it covers; empty means any.
    pub scope_playbooks: Vec<String>,
    /// The channels (platform names) it covers; empty means any.
    pub scope_channels: Vec<String>,
    /// When it lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the signed form is kept.
    pub form_location: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoke_reason: Option<String>,
}

impl std::fmt::Debug for ConsentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentRecord")
            .field("reference", &self.reference)
            .field("scope_playbooks", &self.scope_playbooks)
            .field("scope_channels", &self.scope_channels)
            .field("expires_at", &self.expires_at)
            .field("recorded_by", &self.recorded_by)
            .field("recorded_at", &self.recorded_at)
            .field("revoked_at", &self.revoked_at)
            .field("revoked_by", &self.revoked_by)
            .finish_non_exhaustive()
    }
}

impl ConsentRecord {
    /// `revoked`, `expired` (at or after `expires_at`) or `valid`, as of `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| now >= e) {
            "expired"
        } else {
            "valid"
        }
    }

    /// Whether its scope covers `playbook_id` and every one of `channels` (an empty scope
    /// list covers anything). Says nothing about revocation or expiry: see
    /// [`ConsentRecord::state_at`].
    pub fn covers(&self, playbook_id: &str, channels: &[&str]) -> bool {
        let playbook_ok = self.scope_playbooks.is_empty()
            || self.scope_playbooks.iter().any(|p| p == playbook_id);
        let channels_ok = self.scope_channels.is_empty()
            || channels
                .iter()
                .all(|c| self.scope_channels.iter().any(|s| s == c));
        playbook_ok && channels_ok
    }
}

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
    pub kind: String,
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

/// A live session as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSessionRow {
    /// Row id.
    pub id: i64,
    /// The playbook its posts come from.
    pub playbook_id: String,
    /// Its title.
    pub title: String,
    /// The hashtag its posts carry.
    pub hashtag: String,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// Who started it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// `open`, or `ended` once someone ended it ([`Tx::end_session`]).
    pub state: String,
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
    pub platform: String,
    /// Whether the account is a sandbox.
    pub sandbox: bool,
    /// The delivery's state name (see [`crate::DeliveryState`]).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The post's URL, once sent.
    pub remote_url: Option<String>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// When it will be tried next, if it waits.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A stored RFC 3339 time (a bad one is a decode error naming it).
pub(crate) fn time_col(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(format!("bad time `{text}`").into()))
    })
}

/// A stored optional time.
pub(crate) fn opt_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(time_col).transpose()
}

fn json_list(items: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Database(sqlx::Error::Encode(e.into())))
}

fn parse_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("bad scope list `{text}`: {e}").into(),
        ))
    })
}

/// The commitment the chain keeps for a consent: SHA-256 (taken by
/// [`AuditEvent::payload`]) of this canonical JSON of who consented and where the form is.
fn consent_commitment(record: &NewConsent) -> Vec<u8> {
    let map: BTreeMap<&str, &str> = [
        ("form_location", record.form_location.as_str()),
        ("subject", record.subject.as_str()),
    ]
    .into_iter()
    .collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

fn scope_text(items: &[String]) -> String {
    if items.is_empty() {
        "any".into()
    } else {
        items.join(",")
    }
}

/// `reference, subject, scope_playbooks, scope_channels, expires_at, form_location,
/// recorded_by, recorded_at, revoked_at, revoked_by, revoke_reason` of a consent.
type ConsentRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

const CONSENT_COLUMNS: &str = "reference, subject, scope_playbooks, scope_channels, expires_at, \
                               form_location, recorded_by, recorded_at, revoked_at, revoked_by, \
                               revoke_reason";

fn consent_from_row(row: ConsentRow) -> Result<ConsentRecord, StoreError> {
    let (reference, subject, playbooks, channels, expires, form, by, at, revoked, rby, reason) =
        row;
    Ok(ConsentRecord {
        reference,
        subject,
        scope_playbooks: parse_list(&playbooks)?,
        scope_channels: parse_list(&channels)?,
        expires_at: opt_time(expires)?,
        form_location: form,
        recorded_by: by,
        recorded_at: time_col(&at)?,
        revoked_at: opt_time(revoked)?,
        revoked_by: rby,
        revoke_reason: reason,
    })
}

/// `id, playbook_id, step_id, content_hash, variables_json, created_by, created_at,
/// updated_at, exercise, state, session_id, note, message_id` of a draft.
type DraftRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// `id, playbook_id, step_id, created_by, created_at, updated_at, exercise, state,
/// session_id, message_id` of a listed draft.
type DraftListRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    Option<i64>,
    Option<i64>,
);

/// A message's columns for [`MessageSummary`], in [`SUMMARY_COLUMNS`] order.
type SummaryRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    bool,
    bool,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const SUMMARY_COLUMNS: &str = "m.id, m.draft_id, d.playbook_id, d.step_id, m.kind, m.title, \
                               m.approved_by, m.approved_at, m.exercise, m.break_glass, \
                               m.retracted_at, m.target_message_id, m.session_id, m.review_by, \
                               m.review_at, m.review_finding";

/// `id, playbook_id, title, hashtag, exercise, created_by, created_at, state` of a session.
type SessionRow = (i64, String, String, String, bool, String, String, String);

const SESSION_COLUMNS: &str =
    "id, playbook_id, title, hashtag, exercise, created_by, created_at, state";

fn session_from_row(row: SessionRow) -> Result<LiveSessionRow, StoreError> {
    let (id, playbook_id, title, hashtag, exercise, created_by, at, state) = row;
    Ok(LiveSessionRow {
        id,
        playbook_id,
        title,
        hashtag,
        exercise,
        created_by,
        created_at: time_col(&at)?,
        state,
    })
}

/// `message_id, account_id, handle, display_name, platform, sandbox, state, attempts,
/// remote_url, last_error, next_attempt_at` of a delivery with its account.
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
    Option<String>,
);

/// Which messages to summarise.
enum Which {
    One(i64),
    Newest(i64),
    AwaitingReview,
    Session(i64),
}

impl Tx<'_> {
    /// A draft's state, read in this transaction (`None`: no such draft).
    pub async fn draft_state(&mut self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(on_tx!(self, c => {
            sqlx::query_scalar("SELECT state FROM drafts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        }))
    }

    /// A consent, read in this transaction. On PostgreSQL the row is locked for share, so
    /// a revocation racing an approval that relies on it waits for the approval to commit
    /// (or the approval waits and then sees it revoked).
    pub async fn consent(&mut self, reference: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let lock = match self.store.backend() {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        let sql =
            format!("SELECT {CONSENT_COLUMNS} FROM consent_records WHERE reference = $1{lock}");
        let row: Option<ConsentRow> = on_tx!(self, c => {
            sqlx::query_as(&sql).bind(reference).fetch_optional(&mut *c).await?
        });
        row.map(consent_from_row).transpose()
    }

    /// Why a draft is not in the state an operation needs: not found, or in which state.
    async fn draft_conflict(&mut self, id: i64, expected: &str) -> Result<StoreError, StoreError> {
        Ok(match self.draft_state(id).await? {
            None => StoreError::Conflict(format!("draft {id} not found")),
            Some(state) => StoreError::Conflict(format!("draft {id} is {state}, not {expected}")),
        })
    }

    /// Creates a draft (see [`Tx::create_draft`], audited as `draft.create`) in state
    /// `draft`, posting into live session `session_id` if given. A session must exist, be
    /// open, and be of the draft's playbook and exercise flag ([`StoreError::Conflict`]
    /// otherwise).
    pub async fn create_workflow_draft(
        &mut self,
        draft: &NewDraft,
        session_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        if let Some(s) = session_id {
            let row: Option<(String, bool, String)> = on_tx!(self, c => {
                sqlx::query_as("SELECT playbook_id, exercise, state FROM live_sessions WHERE id = $1")
                    .bind(s)
                    .fetch_optional(&mut *c)
                    .await?
            });
            let Some((playbook, exercise, state)) = row else {
                return Err(StoreError::Conflict(format!("live session {s} not found")));
            };
            if state != "open" {
                return Err(StoreError::Conflict(format!("live session {s} is {state}")));
            }
            if playbook != draft.playbook_id {
                return Err(StoreError::Conflict(format!(
                    "live session {s} is for playbook {playbook}, not {}",
                    draft.playbook_id
                )));
            }
            if exercise != draft.exercise {
                return Err(StoreError::Conflict(if exercise {
                    format!("live session {s} is an exercise and the draft is not")
                } else {
                    format!("the draft is an exercise and live session {s} is not")
                }));
            }
        }
        let id = self.create_draft(draft).await?;
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE drafts SET state = $1, session_id = $2, updated_at = created_at WHERE id = $3",
            )
            .bind(DRAFT_STATE_DRAFT)
            .bind(session_id)
            .bind(id)
            .execute(&mut *c)
            .await?;
        });
        Ok(id)
    }

    /// Replaces a draft's values, content hash and rendered texts, and puts it back in
    /// state `draft` (any approval in flight is void: the texts' hash changed). Only a
    /// draft in `draft` or `changes_requested` can be edited ([`StoreError::Conflict`]
    /// naming its state otherwise). Audited as `draft.edit`, committing to the new texts.
    pub async fn edit_draft(
        &mut self,
        id: i64,
        actor: &str,
        content_hash: &str,
        variables_json: &str,
        variants: &[RenderedVariant],
    ) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let row: Option<(String, bool)> = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE drafts SET content_hash = $1, variables_json = $2, state = $3, updated_at = $4 \
                 WHERE id = $5 AND state IN ($3, $6) RETURNING playbook_id, exercise",
            )
            .bind(content_hash)
            .bind(variables_json)
            .bind(DRAFT_STATE_DRAFT)
            .bind(&now)
            .bind(id)
            .bind(DRAFT_STATE_CHANGES_REQUESTED)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((playbook, exercise)) = row else {
            return Err(StoreError::Conflict(match self.draft_state(id).await? {
                None => format!("draft {id} not found"),
                Some(state) => format!(
                    "draft {id} is {state}; only a draft in {DRAFT_STATE_DRAFT} or \
                     {DRAFT_STATE_CHANGES_REQUESTED} can be edited"
                ),
            }));
        };
        on_tx!(self, c => {
            sqlx::query(
                "DELETE FROM rendered_bodies WHERE variant_id IN \
                 (SELECT id FROM rendered_variants WHERE draft_id = $1)",
            )
            .bind(id)
            .execute(&mut *c)
            .await?;
            sqlx::query("DELETE FROM rendered_variants WHERE draft_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        self.insert_variants(Some(id), None, variants, &now).await?;
        self.append_audit(
            AuditEvent::new(actor, "draft.edit")
                .subject("draft", id.to_string())
                .subject("playbook", playbook)
                .subject("content", content_hash)
                .exercise(exercise)
                .payload(&variants_commitment(variants)),
        )
        .await?;
        Ok(())
    }

    /// Moves a draft from state `from` to `to` if it is still in `from` (a compare-and-set:
    /// [`StoreError::Conflict`] `draft N is <state>, not <from>` otherwise, or `draft N not
    /// found`). Sets its change time, its note when `note` is given, and appends `event`
    /// (built by the caller, who knows why the draft moved) in this transaction.
    pub async fn move_draft(
        &mut self,
        id: i64,
        from: &str,
        to: &str,
        note: Option<&str>,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE drafts SET state = $1, updated_at = $2, note = COALESCE($3, note) \
                 WHERE id = $4 AND state = $5",
            )
            .bind(to)
            .bind(&now)
            .bind(note)
            .bind(id)
            .bind(from)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(self.draft_conflict(id, from).await?);
        }
        self.append_audit(event).await?;
        Ok(())
    }

    /// Records which message a draft's approval created. The message must be of this
    /// draft, and a draft leads to one message ([`StoreError::Conflict`] otherwise; linking
    /// the same message again is a no-op). Not audited on its own: the `message.approve`
    /// entry written with the message names the draft.
    pub async fn link_draft_message(&mut self, id: i64, message_id: i64) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE drafts SET message_id = $1, updated_at = $2 \
                 WHERE id = $3 AND (message_id IS NULL OR message_id = $1) \
                 AND EXISTS (SELECT 1 FROM messages WHERE id = $1 AND draft_id = $3)",
            )
            .bind(message_id)
            .bind(&now)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 1 {
            return Ok(());
        }
        let linked: Option<Option<i64>> = on_tx!(self, c => {
            sqlx::query_scalar("SELECT message_id FROM drafts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        });
        Err(StoreError::Conflict(match linked {
            None => format!("draft {id} not found"),
            Some(Some(other)) if other != message_id => {
                format!("draft {id} already led to message {other}")
            }
            Some(_) => format!("message {message_id} is not of draft {id}"),
        }))
    }

    /// Records a consent ([`StoreError::Conflict`] if the reference exists), audited as
    /// `consent.add` with subject `consent` = the reference and a commitment to who
    /// consented and where the form is (never the text itself).
    pub async fn add_consent(
        &mut self,
        actor: &str,
        record: &NewConsent,
    ) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let (playbooks, channels) = (
            json_list(&record.scope_playbooks)?,
            json_list(&record.scope_channels)?,
        );
        let expires = record.expires_at.as_ref().map(format_time);
        let inserted = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO consent_records (reference, subject, scope_playbooks, scope_channels, \
                 expires_at, form_location, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (reference) DO NOTHING",
            )
            .bind(&record.reference)
            .bind(&record.subject)
            .bind(&playbooks)
            .bind(&channels)
            .bind(&expires)
            .bind(&record.form_location)
            .bind(actor)
            .bind(&now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "consent {} already exists",
                record.reference
            )));
        }
        self.append_audit(
            AuditEvent::new(actor, "consent.add")
                .subject("consent", record.reference.as_str())
                .outcome(format!(
                    "playbooks {}; channels {}; expires {}",
                    scope_text(&record.scope_playbooks),
                    scope_text(&record.scope_channels),
                    expires.as_deref().unwrap_or("never")
                ))
                .payload(&consent_commitment(record)),
        )
        .await?;
        Ok(())
    }

    /// Revokes a consent ([`StoreError::Conflict`] if unknown or already revoked), audited
    /// as `consent.revoke` with a commitment to the reason.
    pub async fn revoke_consent(
        &mut self,
        actor: &str,
        reference: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE consent_records SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
                 WHERE reference = $4 AND revoked_at IS NULL",
            )
            .bind(&now)
            .bind(actor)
            .bind(reason)
            .bind(reference)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            let exists: Option<String> = on_tx!(self, c => {
                sqlx::query_scalar("SELECT reference FROM consent_records WHERE reference = $1")
                    .bind(reference)
                    .fetch_optional(&mut *c)
                    .await?
            });
            return Err(StoreError::Conflict(match exists {
                None => format!("consent {reference} not found"),
                Some(_) => format!("consent {reference} is already revoked"),
            }));
        }
        self.append_audit(
            AuditEvent::new(actor, "consent.revoke")
                .subject("consent", reference)
                .outcome("revoked")
                .payload(reason.as_bytes()),
        )
        .await?;
        Ok(())
    }

    /// Records the compliance review of a break-glass message ([`StoreError::Conflict`] if
    /// the message is unknown, was not published through break-glass, or was reviewed
    /// already), audited as `message.review` with a commitment to the finding.
    pub async fn review_message(
        &mut self,
        actor: &str,
        message_id: i64,
        finding: &str,
    ) -> Result<(), StoreError> {
        let now = format_time(&self.now());
        let row: Option<(bool, i64)> = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE messages SET review_by = $1, review_at = $2, review_finding = $3 \
                 WHERE id = $4 AND break_glass = $5 AND review_at IS NULL \
                 RETURNING exercise, draft_id",
            )
            .bind(actor)
            .bind(&now)
            .bind(finding)
            .bind(message_id)
            .bind(true)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((exercise, draft_id)) = row else {
            let found: Option<(bool, Option<String>)> = on_tx!(self, c => {
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
        let playbook: Option<String> = on_tx!(self, c => {
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
        self.append_audit(event).await?;
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
        let now = format_time(&self.now());
        let row: Option<(String, Option<String>, bool)> = on_tx!(self, c => {
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
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $1 \
                 WHERE message_id = $2 AND account_id = $3 AND state = 'failed'",
            )
            .bind(&now)
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
        self.append_audit(
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

macro_rules! one_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut $tx = $store.begin().await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

impl Store {
    /// [`Tx::create_workflow_draft`] in its own transaction.
    pub async fn create_workflow_draft(
        &self,
        draft: &NewDraft,
        session_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        one_tx!(self, tx => tx.create_workflow_draft(draft, session_id).await?)
    }

    /// [`Tx::edit_draft`] in its own transaction.
    pub async fn edit_draft(
        &self,
        id: i64,
        actor: &str,
        content_hash: &str,
        variables_json: &str,
        variants: &[RenderedVariant],
    ) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.edit_draft(id, actor, content_hash, variables_json, variants).await?)
    }

    /// [`Tx::move_draft`] in its own transaction.
    pub async fn move_draft(
        &self,
        id: i64,
        from: &str,
        to: &str,
        note: Option<&str>,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.move_draft(id, from, to, note, event).await?)
    }

    /// [`Tx::add_consent`] in its own transaction.
    pub async fn add_consent(&self, actor: &str, record: &NewConsent) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.add_consent(actor, record).await?)
    }

    /// [`Tx::revoke_consent`] in its own transaction.
    pub async fn revoke_consent(
        &self,
        actor: &str,
        reference: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.revoke_consent(actor, reference, reason).await?)
    }

    /// [`Tx::review_message`] in its own transaction.
    pub async fn review_message(
        &self,
        actor: &str,
        message_id: i64,
        finding: &str,
    ) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.review_message(actor, message_id, finding).await?)
    }

    /// [`Tx::retry_delivery`] in its own transaction.
    pub async fn retry_delivery(
        &self,
        actor: &str,
        message_id: i64,
        account_id: i64,
    ) -> Result<(), StoreError> {
        one_tx!(self, tx => tx.retry_delivery(actor, message_id, account_id).await?)
    }

    /// A draft with its workflow state and its texts.
    pub async fn workflow_draft(&self, id: i64) -> Result<Option<WorkflowDraft>, StoreError> {
        let row: Option<DraftRow> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, playbook_id, step_id, content_hash, variables_json, created_by, created_at, \
                 updated_at, exercise, state, session_id, note, message_id FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        let Some(r) = row else {
            return Ok(None);
        };
        let created_at = time_col(&r.6)?;
        Ok(Some(WorkflowDraft {
            id: r.0,
            playbook_id: r.1,
            step_id: r.2,
            content_hash: r.3,
            variables_json: r.4,
            created_by: r.5,
            created_at,
            updated_at: opt_time(r.7)?.unwrap_or(created_at),
            exercise: r.8,
            state: r.9,
            session_id: r.10,
            note: r.11,
            message_id: r.12,
            variants: self.variants("draft_id", id).await?,
        }))
    }

    /// Up to `limit` drafts, newest first, only those in `state` if given.
    pub async fn list_drafts(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DraftListItem>, StoreError> {
        let filter = if state.is_some() {
            "WHERE state = $2 "
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, playbook_id, step_id, created_by, created_at, updated_at, exercise, state, \
             session_id, message_id FROM drafts {filter}ORDER BY id DESC LIMIT $1"
        );
        let rows: Vec<DraftListRow> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&sql).bind(limit.max(0));
            if let Some(s) = state {
                q = q.bind(s);
            }
            q.fetch_all(p).await?
        });
        rows.into_iter()
            .map(|r| {
                let created_at = time_col(&r.4)?;
                Ok(DraftListItem {
                    id: r.0,
                    playbook_id: r.1,
                    step_id: r.2,
                    created_by: r.3,
                    updated_at: opt_time(r.5)?.unwrap_or(created_at),
                    exercise: r.6,
                    state: r.7,
                    session_id: r.8,
                    message_id: r.9,
                })
            })
            .collect()
    }

    /// A consent by reference.
    pub async fn consent(&self, reference: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_records WHERE reference = $1");
        let row: Option<ConsentRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(reference).fetch_optional(p).await?
        });
        row.map(consent_from_row).transpose()
    }

    /// Every consent, most recently recorded first.
    pub async fn consents(&self) -> Result<Vec<ConsentRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM consent_records ORDER BY recorded_at DESC, reference"
        );
        let rows: Vec<ConsentRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(consent_from_row).collect()
    }

    /// A message's summary.
    pub async fn message_summary(&self, id: i64) -> Result<Option<MessageSummary>, StoreError> {
        Ok(self.summaries(Which::One(id)).await?.pop())
    }

    /// Up to `limit` messages, newest first.
    pub async fn list_messages(&self, limit: i64) -> Result<Vec<MessageSummary>, StoreError> {
        self.summaries(Which::Newest(limit.max(0))).await
    }

    /// Break-glass messages not yet reviewed, oldest first (the longest waiting on top).
    pub async fn break_glass_queue(&self) -> Result<Vec<MessageSummary>, StoreError> {
        self.summaries(Which::AwaitingReview).await
    }

    /// A live session's messages in thread order.
    pub async fn session_messages(
        &self,
        session_id: i64,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        self.summaries(Which::Session(session_id)).await
    }

    /// Message summaries, their delivery counts read in grouped queries (one per
    /// [`IDS_PER_COUNT_QUERY`] messages, not one per message).
    async fn summaries(&self, which: Which) -> Result<Vec<MessageSummary>, StoreError> {
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
        let rows: Vec<SummaryRow> = on_pool!(self, p => {
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
                    kind: r.4,
                    title: r.5,
                    approved_by: r.6,
                    approved_at: time_col(&r.7)?,
                    exercise: r.8,
                    break_glass: r.9,
                    retracted_at: opt_time(r.10)?,
                    target_message_id: r.11,
                    session_id: r.12,
                    counts: counts.remove(&r.0).unwrap_or_default(),
                    review_by: r.13,
                    review_at: opt_time(r.14)?,
                    review_finding: r.15,
                })
            })
            .collect()
    }

    /// Deliveries per message and state, for these messages.
    async fn delivery_counts(
        &self,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, BTreeMap<String, i64>>, StoreError> {
        let mut out: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
        let backend = self.backend();
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
            let rows: Vec<(i64, String, i64)> = on_pool!(self, p => {
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
    pub async fn delivery_rows(&self, message_id: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows: Vec<DeliveryRowTuple> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT d.message_id, d.account_id, a.handle, a.display_name, a.platform, a.sandbox, \
                 d.state, d.attempts, d.remote_url, d.last_error, d.next_attempt_at \
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
                    platform: r.4,
                    sandbox: r.5,
                    state: r.6,
                    attempts: r.7,
                    remote_url: r.8,
                    last_error: r.9,
                    next_attempt_at: opt_time(r.10)?,
                })
            })
            .collect()
    }

    /// Every live session, newest first.
    pub async fn live_sessions(&self) -> Result<Vec<LiveSessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM live_sessions ORDER BY id DESC");
        let rows: Vec<SessionRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(session_from_row).collect()
    }

    /// A live session by id.
    pub async fn live_session(&self, id: i64) -> Result<Option<LiveSessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
        let row: Option<SessionRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(session_from_row).transpose()
    }
}
