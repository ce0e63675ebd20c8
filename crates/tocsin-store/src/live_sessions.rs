//! Live sessions (a procedure live-tweeted under a hashtag): started, read with their
//! posts and each account's reply chain, and ended.

use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::time::DbTime;
use crate::tx::{on_pool, on_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, messages::*, outbox::*, people::*, schedules::*,
    variants::*,
};

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
    pub state: LiveSessionState,
    /// Who every post of it goes to, chosen when it started (`None`: the playbook's
    /// audience, for sessions from before audiences).
    pub targets: Option<tocsin_domain::audience::TargetSpec>,
    /// The playbook's `[session] fixed` values as typed when it started (empty for
    /// sessions from before fixed values): every post of it takes them.
    pub values: std::collections::BTreeMap<String, String>,
}

/// Whether a live session takes posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveSessionState {
    /// Open: posts may be drafted, approved and sent into it.
    Open,
    /// Ended: no new post.
    Ended,
}

impl LiveSessionState {
    /// The stored name: `open` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveSessionState::Open => "open",
            LiveSessionState::Ended => "ended",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<LiveSessionState> {
        match text {
            "open" => Some(LiveSessionState::Open),
            "ended" => Some(LiveSessionState::Ended),
            _ => None,
        }
    }
}

/// `id, playbook_id, title, hashtag, exercise, created_by, created_at, state,
/// targets_json, values_json` of a session.
type SessionRow = (
    i64,
    String,
    String,
    String,
    bool,
    String,
    DbTime,
    String,
    Option<String>,
    String,
);

const SESSION_COLUMNS: &str = "id, playbook_id, title, hashtag, exercise, created_by, created_at, state, targets_json, values_json";

fn session_from_row(row: SessionRow) -> Result<LiveSessionRow, StoreError> {
    let (id, playbook_id, title, hashtag, exercise, created_by, at, state, targets, values) = row;
    let values = serde_json::from_str(&values).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("live session {id}: fixed values are not a JSON object of texts: {e}").into(),
        ))
    })?;
    let targets = targets
        .map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                StoreError::Database(sqlx::Error::Decode(
                    format!("live session {id}: targets are not a target set: {e}").into(),
                ))
            })
        })
        .transpose()?;
    Ok(LiveSessionRow {
        targets,
        values,
        id,
        playbook_id,
        title,
        hashtag,
        exercise,
        created_by,
        created_at: at.get(),
        state: crate::time::enum_col("live session state", &state, LiveSessionState::parse)?,
    })
}

/// A live session's column holding JSON chosen when it starts.
#[derive(Clone, Copy)]
enum JsonColumn {
    /// `targets_json`: who every post goes to.
    Targets,
    /// `values_json`: the values fixed for every post.
    Values,
}

/// Stores `value` as JSON in `column` of session `session_id`
/// ([`StoreError::NotFound`] if there is no such session).
async fn set_json(
    tx: &mut Tx<'_>,
    session_id: i64,
    column: JsonColumn,
    value: &impl serde::Serialize,
) -> Result<(), StoreError> {
    let (sql, what) = match column {
        JsonColumn::Targets => (
            "UPDATE live_sessions SET targets_json = $1 WHERE id = $2",
            "targets",
        ),
        JsonColumn::Values => (
            "UPDATE live_sessions SET values_json = $1 WHERE id = $2",
            "values",
        ),
    };
    let json = serde_json::to_string(value)
        .map_err(|e| StoreError::Conflict(format!("session {what}: {e}")))?;
    let done = on_tx!(tx, c => {
        sqlx::query(sql)
            .bind(&json)
            .bind(session_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if done == 0 {
        return Err(StoreError::NotFound(format!("live session {session_id}")));
    }
    Ok(())
}

impl LiveSessionsTx<'_, '_> {
    /// Starts a live session (live-tweeting a procedure), audited as `session.start`.
    pub async fn create(
        &mut self,
        actor: &str,
        playbook_id: &str,
        title: &str,
        hashtag: &str,
        exercise: bool,
    ) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO live_sessions (playbook_id, title, hashtag, created_by, created_at, exercise, state) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open') RETURNING id",
            )
            .bind(playbook_id)
            .bind(title)
            .bind(hashtag)
            .bind(actor)
            .bind(now)
            .bind(exercise)
            .fetch_one(&mut *c)
            .await?
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "session.start")
                    .subject("session", id.to_string())
                    .subject("playbook", playbook_id)
                    .exercise(exercise),
            )
            .await?;
        Ok(id)
    }

    /// Records the target set every post of session `session_id` goes to (chosen when it
    /// starts), audited as `session.targets` naming its groups.
    pub async fn set_targets(
        &mut self,
        actor: &str,
        session_id: i64,
        targets: &tocsin_domain::audience::TargetSpec,
    ) -> Result<(), StoreError> {
        set_json(self.tx, session_id, JsonColumn::Targets, targets).await?;
        let groups = if targets.everyone {
            "everyone".to_string()
        } else {
            targets.groups.join(",")
        };
        self.tx
            .append_audit(
                AuditEvent::new(actor, "session.targets")
                    .subject("session", session_id.to_string())
                    .subject("groups", groups)
                    .outcome("set"),
            )
            .await?;
        Ok(())
    }

    /// Records the values session `session_id` fixes for all its posts (the playbook's
    /// `[session] fixed` variables, as typed and already checked), audited as
    /// `session.values` naming the variables (not their values, which posts carry).
    pub async fn set_values(
        &mut self,
        actor: &str,
        session_id: i64,
        values: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        set_json(self.tx, session_id, JsonColumn::Values, values).await?;
        let names: Vec<&str> = values.keys().map(String::as_str).collect();
        self.tx
            .append_audit(
                AuditEvent::new(actor, "session.values")
                    .subject("session", session_id.to_string())
                    .subject("variables", names.join(","))
                    .outcome("set"),
            )
            .await?;
        Ok(())
    }

    /// Ends an open live session: its hashtag is no longer monitored, no new draft can
    /// post into it, every draft of it still waiting (`draft`, `submitted`,
    /// `changes_requested`) is withdrawn, and every post of it scheduled for later has its
    /// unsent deliveries cancelled (posts already going out finish). Audited as
    /// `session.end` (with the counts), one `draft.withdraw` per draft and one
    /// `message.cancel` per scheduled post. [`StoreError::NotFound`] if there is no such
    /// session, [`StoreError::Conflict`] if it has ended already.
    pub async fn end(&mut self, actor: &str, session_id: i64) -> Result<SessionEnded, StoreError> {
        let now = DbTime(self.tx.now());
        let ended: Option<(String, bool)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "UPDATE live_sessions SET state = 'ended', ended_at = $1, ended_by = $2 \
                 WHERE id = $3 AND state = 'open' RETURNING playbook_id, exercise",
            )
            .bind(now)
            .bind(actor)
            .bind(session_id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((playbook_id, exercise)) = ended else {
            let state: Option<(String, Option<DbTime>)> = on_tx!(self.tx, c => {
                sqlx::query_as("SELECT state, ended_at FROM live_sessions WHERE id = $1")
                    .bind(session_id)
                    .fetch_optional(&mut *c)
                    .await?
            });
            return Err(match state {
                None => StoreError::NotFound(format!("live session {session_id}")),
                Some((state, at)) => StoreError::Conflict(match at {
                    Some(at) if state == "ended" => {
                        format!("live session {session_id} already ended at {at}")
                    }
                    _ => format!("live session {session_id} is {state}, not open"),
                }),
            });
        };
        let withdrawn: Vec<i64> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "UPDATE drafts SET state = 'withdrawn', updated_at = $1, \
                 note = 'the live session ended' \
                 WHERE session_id = $2 AND state IN ('draft', 'submitted', 'changes_requested') \
                 RETURNING id",
            )
            .bind(now)
            .bind(session_id)
            .fetch_all(&mut *c)
            .await?
        });
        let scheduled: Vec<i64> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "SELECT id FROM messages WHERE session_id = $1 AND not_before > $2 \
                 AND EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id \
                             AND d.state = 'pending') ORDER BY id",
            )
            .bind(session_id)
            .bind(now)
            .fetch_all(&mut *c)
            .await?
        });
        let mut withdrawn = withdrawn;
        withdrawn.sort_unstable();
        for draft in &withdrawn {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "draft.withdraw")
                        .subject("draft", draft.to_string())
                        .subject("session", session_id.to_string())
                        .outcome("the live session ended")
                        .exercise(exercise),
                )
                .await?;
        }
        for message in &scheduled {
            let cancelled = crate::calendar::cancel_waiting(self.tx, *message).await?;
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "message.cancel")
                        .subject("message", message.to_string())
                        .subject("session", session_id.to_string())
                        .outcome(format!(
                            "the live session ended; {cancelled} scheduled deliveries cancelled"
                        ))
                        .exercise(exercise),
                )
                .await?;
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "session.end")
                    .subject("session", session_id.to_string())
                    .subject("playbook", playbook_id)
                    .outcome(format!(
                        "ended; {} waiting drafts withdrawn, {} scheduled posts cancelled",
                        withdrawn.len(),
                        scheduled.len()
                    ))
                    .exercise(exercise),
            )
            .await?;
        Ok(SessionEnded {
            withdrawn_drafts: withdrawn,
            cancelled_messages: scheduled,
        })
    }
}

/// What ending a live session stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionEnded {
    /// The drafts of it that were still waiting, now withdrawn.
    pub withdrawn_drafts: Vec<i64>,
    /// Its posts scheduled for later, whose deliveries were cancelled.
    pub cancelled_messages: Vec<i64>,
}

impl LiveSessions<'_> {
    /// A live session's messages in thread order.
    pub async fn messages(self, session_id: i64) -> Result<Vec<MessageSummary>, StoreError> {
        self.store
            .messages()
            .summaries(Which::Session(session_id))
            .await
    }

    /// Every live session, newest first.
    pub async fn list(self) -> Result<Vec<LiveSessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM live_sessions ORDER BY id DESC");
        let rows: Vec<SessionRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(session_from_row).collect()
    }

    /// A live session by id.
    pub async fn get(self, id: i64) -> Result<Option<LiveSessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
        let row: Option<SessionRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(session_from_row).transpose()
    }

    /// The thread an account has in a live session before `message_id`: its first post
    /// (the root) and its latest (the parent of the next reply), among the posts that
    /// still stand: a post whose message is being (or was) deleted is skipped, since
    /// X, Mastodon, Threads, Facebook and LinkedIn refuse a reply to a deleted post.
    pub async fn thread(
        self,
        session_id: i64,
        message_id: i64,
        account_id: i64,
    ) -> Result<(Option<RecordedPost>, Option<RecordedPost>), StoreError> {
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT d.remote_id, d.remote_url, d.remote_extra FROM deliveries d \
                 JOIN messages m ON m.id = d.message_id \
                 WHERE m.session_id = $1 AND d.account_id = $2 AND d.state = 'sent' AND m.kind = 'post' \
                 AND m.session_seq < (SELECT session_seq FROM messages WHERE id = $3) \
                 AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.target_message_id = m.id AND r.kind = 'delete') \
                 ORDER BY m.session_seq",
            )
            .bind(session_id)
            .bind(account_id)
            .bind(message_id)
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
        Ok((posts.first().cloned(), posts.last().cloned()))
    }

    /// [`Tx::end_session`] in its own transaction.
    pub async fn end(self, actor: &str, session_id: i64) -> Result<SessionEnded, StoreError> {
        let mut tx = self.store.begin().await?;
        let ended = tx.live_sessions().end(actor, session_id).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
