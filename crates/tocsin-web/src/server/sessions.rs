//! `/api/sessions`: live sessions (live-tweeting a procedure under a shared hashtag),
//! from [`tocsin_app::sessions`].

use axum::extract::State;
use axum::http::StatusCode;
use tocsin_app::sessions::{self, CreateSession, LiveSession, SessionDetail};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// `GET /api/sessions`.
pub async fn list(State(web): State<WebState>, who: Authed) -> ApiResult<Json<Vec<LiveSession>>> {
    Ok(Json(sessions::list(&web.app, &who).await?))
}

/// `POST /api/sessions`.
pub async fn create(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<CreateSession>,
) -> ApiResult<(StatusCode, Json<LiveSession>)> {
    let session = sessions::create(&web.app, &who, form).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `GET /api/sessions/{id}`.
pub async fn get_one(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<SessionDetail>> {
    Ok(Json(sessions::get_one(&web.app, &who, id).await?))
}
