//! The public conversation under a live session's hashtag, as the hashtag monitor heard
//! it: list it (`?questions=true` for the questions only), mark a post for an answer,
//! answered or neither; end the session (its streams stop); and this node's streams'
//! states. A post's text, author and link are outside data: they travel as JSON strings
//! and the panel shows them as text only.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tocsin_store::{ConversationPost, QuestionState};

use super::auth::Authed;
use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::events::ServerEvent;
use super::monitor::StreamStatusView;
use super::sessions::LiveSession;
use super::App;
use crate::people::Permission;

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
                platform: p.platform.clone(),
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

async fn session_or_404(app: &App, id: i64) -> ApiResult<tocsin_store::LiveSessionRow> {
    app.0
        .store
        .live_session(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no live session {id}")))
}

/// `GET /api/sessions/{id}/conversation`.
pub async fn list(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<i64>,
    Query(q): Query<ConversationQuery>,
) -> ApiResult<Json<Vec<ConversationPostView>>> {
    who.require(&app, Permission::ViewDeliveries)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT} posts"),
        ));
    }
    session_or_404(&app, id).await?;
    let posts = app.0.store.conversation(id, limit, q.questions).await?;
    Ok(Json(posts.iter().map(ConversationPostView::from).collect()))
}

/// `{"state":"marked"|"answered"|"none"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuestion {
    state: String,
}

/// `POST /api/sessions/{id}/conversation/{post_id}/question`.
pub async fn set_question(
    State(app): State<App>,
    who: Authed,
    Path((id, post_id)): Path<(i64, i64)>,
    Json(form): Json<SetQuestion>,
) -> ApiResult<Json<ConversationPostView>> {
    who.require(&app, Permission::EditDrafts)?;
    let state = match form.state.as_str() {
        "none" => None,
        other => Some(QuestionState::parse(other).ok_or_else(|| {
            ApiError::invalid(
                "state",
                format!("`{other}` is not a question state (marked, answered or none)"),
            )
        })?),
    };
    session_or_404(&app, id).await?;
    app.0
        .store
        .set_question(who.user(), id, post_id, state)
        .await?;
    let post = app
        .0
        .store
        .conversation_post(id, post_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no post {post_id} in live session {id}")))?;
    let view = ConversationPostView::from(&post);
    app.0
        .hub
        .publish(&ServerEvent::ConversationPost { post: view.clone() });
    Ok(Json(view))
}

/// `POST /api/sessions/{id}/end`.
pub async fn end(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<LiveSession>> {
    who.require(&app, Permission::EditDrafts)?;
    app.0.store.end_session(who.user(), id).await?;
    app.0.monitor.wake();
    let row = session_or_404(&app, id).await?;
    let session = LiveSession::from(&row);
    app.0.hub.publish(&ServerEvent::LiveSession {
        session: session.clone(),
    });
    Ok(Json(session))
}

/// This node's hashtag monitor.
#[derive(Debug, Serialize)]
pub struct MonitorView {
    enabled: bool,
    jetstream: bool,
    streams: Vec<StreamStatusView>,
}

/// `GET /api/monitor`.
pub async fn monitor(State(app): State<App>, who: Authed) -> ApiResult<Json<MonitorView>> {
    who.require(&app, Permission::ViewDeliveries)?;
    let m = &app.0.monitor;
    Ok(Json(MonitorView {
        enabled: m.enabled(),
        jetstream: m.jetstream(),
        streams: m.statuses(),
    }))
}
