//! The public conversation under a live session's hashtag, as the hashtag monitor heard
//! it: list it (`?questions=true` for the questions only), mark a post for an answer,
//! answered or neither; end the session (its streams stop); and this node's streams'
//! states. A post's text, author and link are outside data: they travel as JSON strings
//! and the panel shows them as text only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tocsin_store::{ConversationPost, QuestionState};

use crate::error::{AppError, AppResult};
use crate::events::PanelEvent;
use crate::monitor::StreamStatusView;
use crate::people::Permission;
use crate::sessions::session_or_404;
use crate::sessions::LiveSession;
use crate::Authed;
use crate::Tocsin;

/// Where a post was heard: `{"platform":"mastodon","instance":"host"}` or
/// `{"platform":"bluesky"}`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    platform: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

/// One post of a session's conversation.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationPostView {
    id: i64,
    session_id: i64,
    source: SourceView,
    remote_id: String,
    author_handle: String,
    author_name: String,
    text: String,
    url: Option<String>,
    posted_at: DateTime<Utc>,
    heard_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    /// `marked`, `answered` or null.
    question: Option<&'static str>,
    question_by: Option<String>,
    question_at: Option<DateTime<Utc>>,
}

impl From<&ConversationPost> for ConversationPostView {
    fn from(p: &ConversationPost) -> ConversationPostView {
        ConversationPostView {
            id: p.id,
            session_id: p.session_id,
            source: SourceView {
                platform: p.platform.as_str().to_string(),
                instance: p.source_instance.clone(),
            },
            remote_id: p.remote_id.clone(),
            author_handle: p.author_handle.clone(),
            author_name: p.author_name.clone(),
            text: p.text.clone(),
            url: p.url.clone(),
            posted_at: p.posted_at,
            heard_at: p.heard_at,
            deleted_at: p.deleted_at,
            question: p.question.map(QuestionState::as_str),
            question_by: p.question_by.clone(),
            question_at: p.question_at,
        }
    }
}

/// The most posts one request lists.
const MAX_LIMIT: i64 = 500;

/// `?questions=true&limit=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    #[serde(default)]
    questions: bool,
    limit: Option<i64>,
}

/// The public posts heard under a session's hashtag.
pub async fn list(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    q: ConversationQuery,
) -> AppResult<Vec<ConversationPostView>> {
    who.require(app, Permission::ViewDeliveries)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT} posts"),
        ));
    }
    session_or_404(app, id).await?;
    let posts = app
        .0
        .store
        .conversation()
        .posts(id, limit, q.questions)
        .await?;
    Ok(posts.iter().map(ConversationPostView::from).collect())
}

/// `{"state":"marked"|"answered"|"none"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuestion {
    state: String,
}

/// Marks a heard post as a question to answer, answered, or neither.
pub async fn set_question(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    post_id: i64,
    form: SetQuestion,
) -> AppResult<ConversationPostView> {
    who.require(app, Permission::EditDrafts)?;
    let state = match form.state.as_str() {
        "none" => None,
        other => Some(QuestionState::parse(other).ok_or_else(|| {
            AppError::invalid(
                "state",
                format!("`{other}` is not a question state (marked, answered or none)"),
            )
        })?),
    };
    session_or_404(app, id).await?;
    app.0
        .store
        .conversation()
        .set_question(who.user(), id, post_id, state)
        .await?;
    let post = app
        .0
        .store
        .conversation()
        .post(id, post_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no post {post_id} in live session {id}")))?;
    let view = ConversationPostView::from(&post);
    app.0
        .hub
        .publish(&PanelEvent::ConversationPost { post: view.clone() });
    Ok(view)
}

/// Ends a live session: its monitor streams stop on every node, its waiting drafts are
/// withdrawn and its posts scheduled for later are cancelled (see
/// [`tocsin_store::live_sessions::LiveSessionsTx::end`]); the panels hear each.
pub async fn end(app: &Tocsin, who: &Authed, id: i64) -> AppResult<LiveSession> {
    who.require(app, Permission::EditDrafts)?;
    let ended = app.0.store.live_sessions().end(who.user(), id).await?;
    app.0.monitor.wake();
    for draft in &ended.withdrawn_drafts {
        crate::drafts::announce_draft(app, *draft).await;
    }
    for message in &ended.cancelled_messages {
        crate::messages::announce_message(app, *message).await;
    }
    let row = session_or_404(app, id).await?;
    let session = LiveSession::from(&row);
    app.0.hub.publish(&PanelEvent::LiveSession {
        session: session.clone(),
    });
    Ok(session)
}

/// This node's hashtag monitor.
#[derive(Debug, Serialize)]
pub struct MonitorView {
    enabled: bool,
    jetstream: bool,
    streams: Vec<StreamStatusView>,
}

/// This node's hashtag monitor streams.
pub async fn monitor(app: &Tocsin, who: &Authed) -> AppResult<MonitorView> {
    who.require(app, Permission::ViewDeliveries)?;
    let m = &app.0.monitor;
    Ok(MonitorView {
        enabled: m.enabled(),
        jetstream: m.jetstream(),
        streams: m.statuses(),
    })
}
