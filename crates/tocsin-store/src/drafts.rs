//! Drafts and their moves through the approval workflow: created (free-standing or in a
//! live session), edited, moved from state to state by compare-and-set, linked to the
//! message their approval made. Every change writes its audit entry in its transaction.

use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;
pub use tocsin_domain::approval::DraftState;

use crate::aggregates::*;
use crate::time::{opt_time, DbTime};
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, live_sessions::*, messages::*, outbox::*, people::*, schedules::*,
    variants::*,
};

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

/// A stored draft state.
fn draft_state_col(text: &str) -> Result<DraftState, StoreError> {
    crate::time::enum_col("draft state", text, DraftState::parse)
}

/// The state a draft is created in, and the one an edit returns it to.
pub const DRAFT_STATE_DRAFT: DraftState = DraftState::Draft;

/// The state of a draft an approver sent back with a reason; its drafter may edit it.
pub const DRAFT_STATE_CHANGES_REQUESTED: DraftState = DraftState::ChangesRequested;

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
    pub state: DraftState,
    /// The live session it posts into, if any.
    pub session_id: Option<i64>,
    /// The reason given when changes were last requested.
    pub note: Option<String>,
    /// The message its approval created.
    pub message_id: Option<i64>,
    /// The message it corrects, for a correction: its approval posts it as a reply where
    /// that message's post still stands.
    pub corrects_message_id: Option<i64>,
    /// The sent message it follows up ("Send an update"): its approval threads it under
    /// that message's posts.
    pub follows_up_message_id: Option<i64>,
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
    pub state: DraftState,
    /// The live session it posts into, if any.
    pub session_id: Option<i64>,
    /// The message its approval created.
    pub message_id: Option<i64>,
}

/// `id, playbook_id, step_id, content_hash, variables_json, created_by, created_at,
/// updated_at, exercise, state, session_id, note, message_id, corrects_message_id,
/// follows_up_message_id` of a draft.
type DraftRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    DbTime,
    Option<DbTime>,
    bool,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// `id, playbook_id, step_id, created_by, created_at, updated_at, exercise, state,
/// session_id, message_id` of a listed draft.
type DraftListRow = (
    i64,
    String,
    String,
    String,
    DbTime,
    Option<DbTime>,
    bool,
    String,
    Option<i64>,
    Option<i64>,
);

impl DraftsTx<'_, '_> {
    /// Creates a draft with its rendered variants (audited as `draft.create`).
    pub async fn insert(&mut self, draft: &NewDraft) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO drafts (playbook_id, step_id, content_hash, variables_json, created_by, created_at, exercise) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&draft.playbook_id)
            .bind(&draft.step_id)
            .bind(&draft.content_hash)
            .bind(&draft.variables_json)
            .bind(&draft.created_by)
            .bind(now)
            .bind(draft.exercise)
            .fetch_one(&mut *c)
            .await?
        });
        self.tx
            .insert_variants(Some(id), None, &draft.variants, &now)
            .await?;
        self.tx
            .append_audit(
                AuditEvent::new(draft.created_by.as_str(), "draft.create")
                    .subject("draft", id.to_string())
                    .subject("playbook", draft.playbook_id.as_str())
                    .exercise(draft.exercise)
                    .payload(&variants_commitment(&draft.variants)),
            )
            .await?;
        Ok(id)
    }

    /// A draft's state, read in this transaction (`None`: no such draft).
    pub async fn state(&mut self, id: i64) -> Result<Option<DraftState>, StoreError> {
        let text: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar("SELECT state FROM drafts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        });
        text.as_deref().map(draft_state_col).transpose()
    }

    /// Why a draft is not in the state an operation needs: not found, or in which state.
    async fn draft_conflict(
        &mut self,
        id: i64,
        expected: DraftState,
    ) -> Result<StoreError, StoreError> {
        Ok(match self.state(id).await? {
            None => StoreError::Conflict(format!("draft {id} not found")),
            Some(state) => StoreError::Conflict(format!(
                "draft {id} is {}, not {}",
                state.as_str(),
                expected.as_str()
            )),
        })
    }

    /// Creates a draft (see [`Tx::create_draft`], audited as `draft.create`) in state
    /// `draft`, posting into live session `session_id` if given. A session must exist, be
    /// open, and be of the draft's playbook and exercise flag ([`StoreError::Conflict`]
    /// otherwise).
    pub async fn create(
        &mut self,
        draft: &NewDraft,
        session_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        if let Some(s) = session_id {
            let row: Option<(String, bool, String)> = on_tx!(self.tx, c => {
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
        let id = self.insert(draft).await?;
        on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE drafts SET state = $1, session_id = $2, updated_at = created_at WHERE id = $3",
            )
            .bind(DRAFT_STATE_DRAFT.as_str())
            .bind(session_id)
            .bind(id)
            .execute(&mut *c)
            .await?;
        });
        Ok(id)
    }

    /// Makes draft `id` a correction of message `message_id` (set once, at creation).
    pub async fn set_corrects(&mut self, id: i64, message_id: i64) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE drafts SET corrects_message_id = $1 WHERE id = $2")
                .bind(message_id)
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Makes draft `id` a follow-up of message `message_id` (set once, at creation): its
    /// approval threads it under that message's posts.
    pub async fn set_follows_up(&mut self, id: i64, message_id: i64) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE drafts SET follows_up_message_id = $1 WHERE id = $2")
                .bind(message_id)
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Replaces a draft's values, content hash and rendered texts, and puts it back in
    /// state `draft` (any approval in flight is void: the texts' hash changed). Only a
    /// draft in `draft` or `changes_requested` can be edited ([`StoreError::Conflict`]
    /// naming its state otherwise). Audited as `draft.edit`, committing to the new texts.
    pub async fn edit(
        &mut self,
        id: i64,
        actor: &str,
        content_hash: &str,
        variables_json: &str,
        variants: &[RenderedVariant],
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let row: Option<(String, bool)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "UPDATE drafts SET content_hash = $1, variables_json = $2, state = $3, updated_at = $4 \
                 WHERE id = $5 AND state IN ($3, $6) RETURNING playbook_id, exercise",
            )
            .bind(content_hash)
            .bind(variables_json)
            .bind(DRAFT_STATE_DRAFT.as_str())
            .bind(now)
            .bind(id)
            .bind(DRAFT_STATE_CHANGES_REQUESTED.as_str())
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((playbook, exercise)) = row else {
            return Err(StoreError::Conflict(match self.state(id).await? {
                None => format!("draft {id} not found"),
                Some(state) => format!(
                    "draft {id} is {}; only a draft in {} or {} can be edited",
                    state.as_str(),
                    DRAFT_STATE_DRAFT.as_str(),
                    DRAFT_STATE_CHANGES_REQUESTED.as_str()
                ),
            }));
        };
        on_tx!(self.tx, c => {
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
        self.tx
            .insert_variants(Some(id), None, variants, &now)
            .await?;
        self.tx
            .append_audit(
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
    pub async fn move_state(
        &mut self,
        id: i64,
        from: DraftState,
        to: DraftState,
        note: Option<&str>,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let changed = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE drafts SET state = $1, updated_at = $2, note = COALESCE($3, note) \
                 WHERE id = $4 AND state = $5",
            )
            .bind(to.as_str())
            .bind(now)
            .bind(note)
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(self.draft_conflict(id, from).await?);
        }
        self.tx.append_audit(event).await?;
        Ok(())
    }

    /// Records which message a draft's approval created. The message must be of this
    /// draft, and a draft leads to one message ([`StoreError::Conflict`] otherwise; linking
    /// the same message again is a no-op). Not audited on its own: the `message.approve`
    /// entry written with the message names the draft.
    pub async fn link_message(&mut self, id: i64, message_id: i64) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let changed = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE drafts SET message_id = $1, updated_at = $2 \
                 WHERE id = $3 AND (message_id IS NULL OR message_id = $1) \
                 AND EXISTS (SELECT 1 FROM messages WHERE id = $1 AND draft_id = $3)",
            )
            .bind(message_id)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 1 {
            return Ok(());
        }
        let linked: Option<Option<i64>> = on_tx!(self.tx, c => {
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
}

impl Drafts<'_> {
    /// Creates a draft in its own transaction.
    pub async fn insert(self, draft: &NewDraft) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.drafts().insert(draft).await?)
    }

    /// A draft with its variants.
    pub async fn draft(self, id: i64) -> Result<Option<Draft>, StoreError> {
        let row: Option<(i64, String, String, String, String, DbTime, bool)> = on_pool!(self.store, p => {
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
            created_at: at.get(),
            exercise,
            variants: self.store.variants("draft_id", id).await?,
        }))
    }

    /// [`Tx::create_workflow_draft`] in its own transaction.
    pub async fn create(
        self,
        draft: &NewDraft,
        session_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.drafts().create(draft, session_id).await?)
    }

    /// [`Tx::edit_draft`] in its own transaction.
    pub async fn edit(
        self,
        id: i64,
        actor: &str,
        content_hash: &str,
        variables_json: &str,
        variants: &[RenderedVariant],
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.drafts().edit(id, actor, content_hash, variables_json, variants).await?)
    }

    /// [`Tx::move_draft`] in its own transaction.
    pub async fn move_state(
        self,
        id: i64,
        from: DraftState,
        to: DraftState,
        note: Option<&str>,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.drafts().move_state(id, from, to, note, event).await?)
    }

    /// A draft with its workflow state and its texts.
    pub async fn get(self, id: i64) -> Result<Option<WorkflowDraft>, StoreError> {
        let row: Option<DraftRow> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT id, playbook_id, step_id, content_hash, variables_json, created_by, created_at, \
                 updated_at, exercise, state, session_id, note, message_id, corrects_message_id, \
                 follows_up_message_id FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        let Some(r) = row else {
            return Ok(None);
        };
        let created_at = r.6.get();
        Ok(Some(WorkflowDraft {
            id: r.0,
            playbook_id: r.1,
            step_id: r.2,
            content_hash: r.3,
            variables_json: r.4,
            created_by: r.5,
            created_at,
            updated_at: opt_time(r.7).unwrap_or(created_at),
            exercise: r.8,
            state: draft_state_col(&r.9)?,
            session_id: r.10,
            note: r.11,
            message_id: r.12,
            corrects_message_id: r.13,
            follows_up_message_id: r.14,
            variants: self.store.variants("draft_id", id).await?,
        }))
    }

    /// Up to `limit` drafts, newest first, only those in `state` if given.
    pub async fn list(
        self,
        state: Option<DraftState>,
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
        let rows: Vec<DraftListRow> = on_pool!(self.store, p => {
            let mut q = sqlx::query_as(&sql).bind(limit.max(0));
            if let Some(s) = state {
                q = q.bind(s.as_str());
            }
            q.fetch_all(p).await?
        });
        rows.into_iter()
            .map(|r| {
                let created_at = r.4.get();
                Ok(DraftListItem {
                    id: r.0,
                    playbook_id: r.1,
                    step_id: r.2,
                    created_by: r.3,
                    updated_at: opt_time(r.5).unwrap_or(created_at),
                    exercise: r.6,
                    state: draft_state_col(&r.7)?,
                    session_id: r.8,
                    message_id: r.9,
                })
            })
            .collect()
    }
}
