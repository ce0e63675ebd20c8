//! The public conversation under a live session's hashtag, as the hashtag monitor heard
//! it, and the end of a live session.
//!
//! A heard post is stored once per session however often it is heard: several nodes,
//! several Mastodon instances and a stream replaying after a reconnect all insert the
//! same `(session, platform, remote id)`, and `ON CONFLICT DO NOTHING` lets only the first
//! through ([`Store::insert_conversation_post`] says which call that was). Hearing a post
//! is not audited (nobody did anything); marking it for an answer is, naming the session,
//! the post and its public URL, never its text.

use tocsin_domain::Platform;

use crate::aggregates::*;
use crate::time::{db, opt_time, DbTime};
use crate::tx::{on_pool, on_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};
use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

/// Where a post stands as a question to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuestionState {
    /// Someone marked it for an answer.
    Marked,
    /// It was answered.
    Answered,
}

impl QuestionState {
    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionState::Marked => "marked",
            QuestionState::Answered => "answered",
        }
    }

    /// The state a stored or typed name names.
    pub fn parse(text: &str) -> Option<QuestionState> {
        match text {
            "marked" => Some(QuestionState::Marked),
            "answered" => Some(QuestionState::Answered),
            _ => None,
        }
    }

    /// The audit action of moving a post to `state` (`None`: cleared).
    fn action(state: Option<QuestionState>) -> &'static str {
        match state {
            Some(QuestionState::Marked) => "conversation.question_marked",
            Some(QuestionState::Answered) => "conversation.question_answered",
            None => "conversation.question_cleared",
        }
    }
}

/// A heard post, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversationPost {
    /// `mastodon` or `bluesky`.
    pub platform: Platform,
    /// The Mastodon instance it was heard on; `None` for Bluesky.
    pub source_instance: Option<String>,
    /// Its id on its network, the same whichever instance or node heard it (the key that
    /// stores it once): a Mastodon status's canonical URL, a Bluesky `at://` URI.
    pub remote_id: String,
    /// Its id on the stream that heard it (what that stream's deletions name): a Mastodon
    /// status id on `source_instance`, a Bluesky `at://` URI.
    pub source_post_id: String,
    /// The author's handle.
    pub author_handle: String,
    /// The author's display name.
    pub author_name: String,
    /// The text (untrusted public text).
    pub text: String,
    /// Where to read it.
    pub url: Option<String>,
    /// When its author posted it.
    pub posted_at: DateTime<Utc>,
}

/// A stored post of a session's conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationPost {
    /// Row id.
    pub id: i64,
    /// The live session.
    pub session_id: i64,
    /// `mastodon` or `bluesky`.
    pub platform: Platform,
    /// The Mastodon instance it was first heard on; `None` for Bluesky.
    pub source_instance: Option<String>,
    /// Its id on its network (see [`NewConversationPost::remote_id`]).
    pub remote_id: String,
    /// Its id on the stream that heard it first.
    pub source_post_id: String,
    /// The author's handle.
    pub author_handle: String,
    /// The author's display name.
    pub author_name: String,
    /// The text (untrusted public text).
    pub text: String,
    /// Where to read it.
    pub url: Option<String>,
    /// When its author posted it.
    pub posted_at: DateTime<Utc>,
    /// When it was first heard.
    pub heard_at: DateTime<Utc>,
    /// When its author deleted it, if they did.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Where it stands as a question.
    pub question: Option<QuestionState>,
    /// Who last set that.
    pub question_by: Option<String>,
    /// When.
    pub question_at: Option<DateTime<Utc>>,
}

/// A post marked deleted: which session's conversation it was in, and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedPost {
    /// The live session.
    pub session_id: i64,
    /// The post's row id.
    pub post_id: i64,
}

const POST_COLUMNS: &str = "id, session_id, platform, source_instance, remote_id, \
                            source_post_id, author_handle, author_name, text, url, posted_at, \
                            heard_at, deleted_at, question, question_by, question_at";

/// The columns of [`POST_COLUMNS`], in order.
type PostRow = (
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    DbTime,
    DbTime,
    Option<DbTime>,
    Option<String>,
    Option<String>,
    Option<DbTime>,
);

fn post_from_row(row: PostRow) -> Result<ConversationPost, StoreError> {
    let (id, session_id, platform, source_instance, remote_id, source_post_id) =
        (row.0, row.1, row.2, row.3, row.4, row.5);
    let question = match row.13.as_deref() {
        None => None,
        Some(q) => Some(QuestionState::parse(q).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Decode(
                format!("conversation post {id}: bad question state `{q}`").into(),
            ))
        })?),
    };
    Ok(ConversationPost {
        id,
        session_id,
        platform: crate::time::platform_col(&platform)?,
        source_instance,
        remote_id,
        source_post_id,
        author_handle: row.6,
        author_name: row.7,
        text: row.8,
        url: row.9,
        posted_at: row.10.get(),
        heard_at: row.11.get(),
        deleted_at: opt_time(row.12),
        question,
        question_by: row.14,
        question_at: opt_time(row.15),
    })
}

impl ConversationTx<'_, '_> {
    /// Moves a post of a session's conversation to `state` (`None` clears it), audited as
    /// `conversation.question_marked`, `_answered` or `_cleared` with the session, the post
    /// and its URL. Setting the state it already has changes nothing and writes no entry.
    /// [`StoreError::NotFound`] if the session has no such post.
    pub async fn set_question(
        &mut self,
        actor: &str,
        session_id: i64,
        post_id: i64,
        state: Option<QuestionState>,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let found: Option<(Option<String>, Option<String>, String, bool)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT p.question, p.url, p.remote_id, s.exercise FROM conversation_posts p \
                 JOIN live_sessions s ON s.id = p.session_id WHERE p.id = $1 AND p.session_id = $2",
            )
            .bind(post_id)
            .bind(session_id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((current, url, remote_id, exercise)) = found else {
            return Err(StoreError::NotFound(format!(
                "post {post_id} in the conversation of live session {session_id}"
            )));
        };
        let wanted = state.map(QuestionState::as_str);
        if current.as_deref() == wanted {
            return Ok(());
        }
        on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE conversation_posts SET question = $1, question_by = $2, question_at = $3 \
                 WHERE id = $4",
            )
            .bind(wanted)
            .bind(actor)
            .bind(now)
            .bind(post_id)
            .execute(&mut *c)
            .await?;
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, QuestionState::action(state))
                    .subject("session", session_id.to_string())
                    .subject("conversation_post", post_id.to_string())
                    .outcome(url.unwrap_or(remote_id))
                    .exercise(exercise),
            )
            .await?;
        Ok(())
    }
}

impl Conversation<'_> {
    /// Stores a post heard under an open session's hashtag. `Some(id)` only when this call
    /// stored it: `None` when it was stored before (by this node or another) or the
    /// session is not open.
    pub async fn insert_post(
        self,
        session_id: i64,
        post: &NewConversationPost,
    ) -> Result<Option<i64>, StoreError> {
        let heard_at = DbTime(self.store.now());
        let posted_at = db(&post.posted_at);
        Ok(on_pool!(self.store, p => {
            sqlx::query_scalar(
                "INSERT INTO conversation_posts (session_id, platform, source_instance, remote_id, \
                 source_post_id, author_handle, author_name, text, url, posted_at, heard_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
                 WHERE EXISTS (SELECT 1 FROM live_sessions WHERE id = $1 AND state = 'open') \
                 ON CONFLICT (session_id, platform, remote_id) DO NOTHING RETURNING id",
            )
            .bind(session_id)
            .bind(post.platform.as_str())
            .bind(&post.source_instance)
            .bind(&post.remote_id)
            .bind(&post.source_post_id)
            .bind(&post.author_handle)
            .bind(&post.author_name)
            .bind(&post.text)
            .bind(&post.url)
            .bind(posted_at)
            .bind(heard_at)
            .fetch_optional(p)
            .await?
        }))
    }

    /// Marks every stored copy of a post deleted (its author deleted it), named as the
    /// stream that heard it names it: `source_instance` (`None` for Bluesky) and
    /// `source_post_id`. Returns the copies this call marked (none when they were marked
    /// before or never stored).
    pub async fn mark_deleted(
        self,
        platform: &str,
        source_instance: Option<&str>,
        source_post_id: &str,
    ) -> Result<Vec<DeletedPost>, StoreError> {
        let now = DbTime(self.store.now());
        let rows: Vec<(i64, i64)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "UPDATE conversation_posts SET deleted_at = $1 \
                 WHERE platform = $2 AND COALESCE(source_instance, '') = $3 \
                 AND source_post_id = $4 AND deleted_at IS NULL RETURNING session_id, id",
            )
            .bind(now)
            .bind(platform)
            .bind(source_instance.unwrap_or(""))
            .bind(source_post_id)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(session_id, post_id)| DeletedPost {
                session_id,
                post_id,
            })
            .collect())
    }

    /// A session's conversation, newest post first, at most `limit` posts; with
    /// `questions_only`, only posts marked for an answer or answered. Deleted posts are
    /// listed (with `deleted_at`).
    pub async fn posts(
        self,
        session_id: i64,
        limit: i64,
        questions_only: bool,
    ) -> Result<Vec<ConversationPost>, StoreError> {
        let filter = if questions_only {
            " AND question IS NOT NULL"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM conversation_posts WHERE session_id = $1{filter} \
             ORDER BY posted_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<PostRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql)
                .bind(session_id)
                .bind(limit.max(0))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(post_from_row).collect()
    }

    /// One post of a session's conversation.
    pub async fn post(
        self,
        session_id: i64,
        post_id: i64,
    ) -> Result<Option<ConversationPost>, StoreError> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM conversation_posts WHERE session_id = $1 AND id = $2"
        );
        let row: Option<PostRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql)
                .bind(session_id)
                .bind(post_id)
                .fetch_optional(p)
                .await?
        });
        row.map(post_from_row).transpose()
    }

    /// [`Tx::set_question`] in its own transaction.
    pub async fn set_question(
        self,
        actor: &str,
        session_id: i64,
        post_id: i64,
        state: Option<QuestionState>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.conversation()
            .set_question(actor, session_id, post_id, state)
            .await?;
        tx.commit().await
    }
}
