//! `/api/playbooks`: the picker, a playbook's typed form, and previews as the drafter
//! types, from [`tocsin_app::catalog`].

use axum::extract::State;
use tocsin_app::catalog::{self, PlaybookDetail, PlaybookSummary, Preview, PreviewRequest};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// `GET /api/playbooks`.
pub async fn list(
    State(web): State<WebState>,
    who: Authed,
) -> ApiResult<Json<Vec<PlaybookSummary>>> {
    Ok(Json(catalog::list(&web.app, &who).await?))
}

/// `GET /api/playbooks/{id}`.
pub async fn detail(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<PlaybookDetail>> {
    Ok(Json(catalog::detail(&web.app, &who, id).await?))
}

/// `POST /api/playbooks/{id}/preview`.
pub async fn preview(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<String>,
    Json(request): Json<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    Ok(Json(
        catalog::preview_for(&web.app, &who, &id, &request).await?,
    ))
}
