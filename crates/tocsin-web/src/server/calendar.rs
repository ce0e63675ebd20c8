//! `/api/calendar` and `POST /api/messages/{id}/cancel`: what goes out in a window of
//! days, and cancelling a post approved for later, from [`tocsin_app::calendar`].

use axum::extract::State;
use serde_json::{json, Value};
use tocsin_app::calendar::{self, CalendarQuery, CalendarView};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path, Query};
use super::WebState;

/// `GET /api/calendar?from=&days=`.
pub async fn window(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<CalendarQuery>,
) -> ApiResult<Json<CalendarView>> {
    Ok(Json(calendar::window(&web.app, &who, q).await?))
}

/// `POST /api/messages/{id}/cancel`.
pub async fn cancel(
    State(web): State<WebState>,
    who: Authed,
    Path(message_id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cancelled = calendar::cancel_send(&web.app, &who, message_id).await?;
    Ok(Json(json!({ "cancelled": cancelled })))
}
