//! `/api/drafts`: the approval workflow over HTTP. Each handler reads the request and
//! hands it to [`tocsin_app::drafts`], which checks the caller's role and decides.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tocsin_app::drafts::{
    self, ApproveInput, BreakGlassInput, CreateDraft, DraftView, EditDraft, ListQuery,
};
use tocsin_app::views::DraftSummary;
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path, Query};
use super::WebState;

/// `GET /api/drafts`.
pub async fn list(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<DraftSummary>>> {
    Ok(Json(drafts::list(&web.app, &who, q).await?))
}

/// `POST /api/drafts`.
pub async fn create(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<CreateDraft>,
) -> ApiResult<(StatusCode, Json<DraftView>)> {
    let view = drafts::create_draft(&web.app, &who, form).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/drafts/{id}`.
pub async fn get_one(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(drafts::get_one(&web.app, &who, id).await?))
}

/// `PUT /api/drafts/{id}`.
pub async fn edit(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<EditDraft>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(drafts::edit_draft(&web.app, &who, id, form).await?))
}

/// `POST /api/drafts/{id}/submit`.
pub async fn submit(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(drafts::submit_draft(&web.app, &who, id).await?))
}

/// A reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    reason: String,
}

/// `POST /api/drafts/{id}/request-changes`.
pub async fn request_changes(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<ReasonInput>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(
        drafts::request_changes_to(&web.app, &who, id, &form.reason).await?,
    ))
}

/// `POST /api/drafts/{id}/approve`.
pub async fn approve(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<ApproveInput>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(drafts::approve_draft(&web.app, &who, id, form).await?))
}

/// `POST /api/drafts/{id}/break-glass`.
pub async fn break_glass(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<BreakGlassInput>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(
        drafts::break_glass_draft(&web.app, &who, id, form).await?,
    ))
}

/// `POST /api/drafts/{id}/withdraw`.
pub async fn withdraw(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<DraftView>> {
    Ok(Json(drafts::withdraw_draft(&web.app, &who, id).await?))
}
