//! `/api/schedules`: recurring updates of a sent message, from
//! [`tocsin_app::schedules`].

use axum::extract::State;
use axum::http::StatusCode;
use tocsin_app::schedules::{self, AddSchedule, ListQuery, ScheduleView};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path, Query};
use super::WebState;

/// `GET /api/schedules`.
pub async fn list(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    Ok(Json(schedules::list(&web.app, &who, q).await?))
}

/// `POST /api/messages/{id}/schedules`.
pub async fn add(
    State(web): State<WebState>,
    who: Authed,
    Path(message_id): Path<i64>,
    Json(form): Json<AddSchedule>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    let view = schedules::add(&web.app, &who, message_id, form).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/schedules/{id}/cancel`.
pub async fn cancel(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    schedules::cancel(&web.app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
