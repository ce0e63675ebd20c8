//! `/api/consents`: the consent register the compliance role keeps, from
//! [`tocsin_app::consent`].

use axum::extract::State;
use axum::http::StatusCode;
use tocsin_app::consent::{self, AddConsent, ConsentView, Revoke};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// `GET /api/consents`.
pub async fn list(State(web): State<WebState>, who: Authed) -> ApiResult<Json<Vec<ConsentView>>> {
    Ok(Json(consent::list(&web.app, &who).await?))
}

/// `POST /api/consents`.
pub async fn add(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<AddConsent>,
) -> ApiResult<(StatusCode, Json<ConsentView>)> {
    let view = consent::add(&web.app, &who, form).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/consents/{reference}/revoke`.
pub async fn revoke(
    State(web): State<WebState>,
    who: Authed,
    Path(reference): Path<String>,
    Json(form): Json<Revoke>,
) -> ApiResult<Json<ConsentView>> {
    Ok(Json(
        consent::revoke(&web.app, &who, reference, form).await?,
    ))
}
