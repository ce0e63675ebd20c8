//! `/api/messages` and `/api/reviews`: the delivery grid, retraction, retries and the
//! compliance review of break-glass publishes, from [`tocsin_app::messages`].

use axum::extract::State;
use axum::http::StatusCode;
use tocsin_app::drafts::{self, DraftView, FollowUp};
use tocsin_app::messages::{self, ListQuery, RetractInput, ReviewInput};
use tocsin_app::views::{MessageDetail, MessageView};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path, Query};
use super::WebState;

/// `GET /api/messages`.
pub async fn list(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(messages::list(&web.app, &who, q).await?))
}

/// `GET /api/messages/{id}`.
pub async fn get_one(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageDetail>> {
    Ok(Json(messages::get_one(&web.app, &who, id).await?))
}

/// `POST /api/messages/{id}/retract`.
pub async fn retract(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(input): Json<RetractInput>,
) -> ApiResult<Json<MessageDetail>> {
    Ok(Json(
        messages::retract_message(&web.app, &who, id, input).await?,
    ))
}

/// `POST /api/messages/{id}/follow-up`: a draft of a step of the same playbook, with
/// the same values and targets.
pub async fn follow_up(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(input): Json<FollowUp>,
) -> ApiResult<(StatusCode, Json<DraftView>)> {
    let view = drafts::follow_up(&web.app, &who, id, input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/messages/{id}/deliveries/{account_id}/retry`.
pub async fn retry(
    State(web): State<WebState>,
    who: Authed,
    Path((id, account_id)): Path<(i64, i64)>,
) -> ApiResult<Json<MessageDetail>> {
    Ok(Json(messages::retry(&web.app, &who, id, account_id).await?))
}

/// `POST /api/messages/{id}/review`.
pub async fn review(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(input): Json<ReviewInput>,
) -> ApiResult<Json<MessageView>> {
    Ok(Json(messages::review(&web.app, &who, id, input).await?))
}

/// `GET /api/reviews`: break-glass messages awaiting compliance review.
pub async fn reviews(
    State(web): State<WebState>,
    who: Authed,
) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(messages::reviews(&web.app, &who).await?))
}
