//! Scheduled sends for the calendar: the approved posts waiting for their time in a
//! window, and cancelling one before it goes (its deliveries still waiting are
//! cancelled, audited as `message.cancel`). Recurring repeats are in [`crate::schedules`].

use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::time::DbTime;
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;

/// An approved post that waits for its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSend {
    /// The message.
    pub message_id: i64,
    /// The draft approved.
    pub draft_id: i64,
    /// The draft's playbook.
    pub playbook_id: Option<String>,
    /// The draft's step.
    pub step_id: Option<String>,
    /// Its headline.
    pub title: Option<String>,
    /// When it goes out.
    pub send_at: DateTime<Utc>,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// The live session it belongs to.
    pub session_id: Option<i64>,
    /// Deliveries still waiting for the time.
    pub waiting: i64,
    /// Deliveries cancelled.
    pub cancelled: i64,
}

/// `id, draft_id, playbook_id, step_id, title, not_before, exercise, session_id,
/// waiting, cancelled` of a scheduled post.
type ScheduledRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    DbTime,
    bool,
    Option<i64>,
    i64,
    i64,
);

impl Messages<'_> {
    /// The posts approved to go out at a time in `[from, to)`, soonest first, whether
    /// still waiting, cancelled or already gone.
    pub async fn scheduled_between(
        self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScheduledSend>, StoreError> {
        let rows: Vec<ScheduledRow> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT m.id, m.draft_id, d.playbook_id, d.step_id, m.title, m.not_before, \
                 m.exercise, m.session_id, \
                 (SELECT COUNT(*) FROM deliveries x WHERE x.message_id = m.id AND x.state = 'pending'), \
                 (SELECT COUNT(*) FROM deliveries x WHERE x.message_id = m.id AND x.state = 'cancelled') \
                 FROM messages m LEFT JOIN drafts d ON d.id = m.draft_id \
                 WHERE m.kind = 'post' AND m.not_before IS NOT NULL \
                 AND m.not_before >= $1 AND m.not_before < $2 ORDER BY m.not_before, m.id",
            )
            .bind(DbTime(from))
            .bind(DbTime(to))
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| ScheduledSend {
                message_id: r.0,
                draft_id: r.1,
                playbook_id: r.2,
                step_id: r.3,
                title: r.4,
                send_at: r.5.get(),
                exercise: r.6,
                session_id: r.7,
                waiting: r.8,
                cancelled: r.9,
            })
            .collect())
    }

    /// [`MessagesTx::cancel_scheduled`] in its own transaction.
    pub async fn cancel_scheduled(self, actor: &str, message_id: i64) -> Result<u64, StoreError> {
        one_tx!(self.store, tx => tx.messages().cancel_scheduled(actor, message_id).await?)
    }
}

impl MessagesTx<'_, '_> {
    /// Cancels a post approved for later before its time: every delivery of it still
    /// waiting is cancelled; returns how many. Audited as `message.cancel`.
    /// [`StoreError::NotFound`] for no such message; [`StoreError::Conflict`] for one
    /// that is not a scheduled post, whose time has come, or with nothing left waiting.
    pub async fn cancel_scheduled(
        &mut self,
        actor: &str,
        message_id: i64,
    ) -> Result<u64, StoreError> {
        let now = self.tx.now();
        let row: Option<(String, Option<DbTime>, bool)> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT kind, not_before, exercise FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some((kind, not_before, exercise)) = row else {
            return Err(StoreError::NotFound(format!("message {message_id}")));
        };
        match not_before.map(|t| t.get()) {
            _ if kind != "post" => {
                return Err(StoreError::Conflict(format!(
                    "message {message_id} is a {kind}, not a post approved for later"
                )))
            }
            None => {
                return Err(StoreError::Conflict(format!(
                    "message {message_id} was sent at once, not scheduled: retract it instead"
                )))
            }
            Some(at) if at <= now => {
                return Err(StoreError::Conflict(format!(
                "message {message_id} was due at {at}: it is going out or gone; retract it instead"
            )))
            }
            Some(_) => {}
        }
        let cancelled = cancel_waiting(self.tx, message_id).await?;
        if cancelled == 0 {
            return Err(StoreError::Conflict(format!(
                "message {message_id} has nothing left waiting to cancel"
            )));
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "message.cancel")
                    .subject("message", message_id.to_string())
                    .outcome(format!("{cancelled} scheduled deliveries cancelled"))
                    .exercise(exercise),
            )
            .await?;
        Ok(cancelled)
    }
}

/// Cancels the deliveries of `message_id` still waiting (`pending`); returns how many.
pub(crate) async fn cancel_waiting(tx: &mut Tx<'_>, message_id: i64) -> Result<u64, StoreError> {
    let now = DbTime(tx.now());
    Ok(on_tx!(tx, c => {
        sqlx::query(
            "UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL, \
             updated_at = $1 WHERE message_id = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(message_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    }))
}
