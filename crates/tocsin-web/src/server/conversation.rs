//! `/api/sessions/{id}/conversation`, `/api/sessions/{id}/end` and `/api/monitor`: the
//! public conversation under a live session's hashtag, from
//! [`tocsin_app::conversation`].

use axum::extract::State;
use tocsin_app::conversation::{
    self, ConversationPostView, ConversationQuery, MonitorView, SetQuestion,
};
use tocsin_app::sessions::LiveSession;
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path, Query};
use super::WebState;

/// `GET /api/sessions/{id}/conversation`.
pub async fn list(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Query(q): Query<ConversationQuery>,
) -> ApiResult<Json<Vec<ConversationPostView>>> {
    Ok(Json(conversation::list(&web.app, &who, id, q).await?))
}

/// `POST /api/sessions/{id}/conversation/{post_id}/question`.
pub async fn set_question(
    State(web): State<WebState>,
    who: Authed,
    Path((id, post_id)): Path<(i64, i64)>,
    Json(form): Json<SetQuestion>,
) -> ApiResult<Json<ConversationPostView>> {
    Ok(Json(
        conversation::set_question(&web.app, &who, id, post_id, form).await?,
    ))
}

/// `POST /api/sessions/{id}/end`.
pub async fn end(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<LiveSession>> {
    Ok(Json(conversation::end(&web.app, &who, id).await?))
}

/// `GET /api/monitor`.
pub async fn monitor(State(web): State<WebState>, who: Authed) -> ApiResult<Json<MonitorView>> {
    Ok(Json(conversation::monitor(&web.app, &who).await?))
}
