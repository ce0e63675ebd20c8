//! `/api/users` and `/api/accounts`: administration of people and platform accounts,
//! from [`tocsin_app::admin`] (which checks the role and recent re-authentication).

use axum::extract::State;
use axum::http::StatusCode;
use tocsin_app::admin::{
    self, AccountView, AddAccount, AddUser, Invite, PlatformSetupView, ReplaceSecret, SetGroups,
    SetLanguages, SetRole, UserView,
};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// `GET /api/users`.
pub async fn users(State(web): State<WebState>, who: Authed) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(admin::users(&web.app, &who).await?))
}

/// `POST /api/users`.
pub async fn add_user(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<AddUser>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let invite = admin::add_user(&web.app, &who, form, web.config.public_url.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

/// `POST /api/users/{name}/role`.
pub async fn set_role(
    State(web): State<WebState>,
    who: Authed,
    Path(name): Path<String>,
    Json(form): Json<SetRole>,
) -> ApiResult<StatusCode> {
    admin::set_role(&web.app, &who, name, form).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/users/{name}/disable`.
pub async fn disable_user(
    State(web): State<WebState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    admin::disable_user(&web.app, &who, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/users/{name}/reset-totp`.
pub async fn reset_totp(
    State(web): State<WebState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<Json<Invite>> {
    Ok(Json(
        admin::reset_totp(&web.app, &who, name, web.config.public_url.as_deref()).await?,
    ))
}

/// `GET /api/accounts`.
pub async fn accounts(
    State(web): State<WebState>,
    who: Authed,
) -> ApiResult<Json<Vec<AccountView>>> {
    Ok(Json(admin::accounts(&web.app, &who).await?))
}

/// `GET /api/accounts/platforms`.
pub async fn platforms(
    State(web): State<WebState>,
    who: Authed,
) -> ApiResult<Json<Vec<PlatformSetupView>>> {
    Ok(Json(
        admin::platforms(&web.app, &who, web.config.public_url.as_deref()).await?,
    ))
}

/// `POST /api/accounts/quotas`.
pub async fn quotas(
    State(web): State<WebState>,
    who: Authed,
    Json(request): Json<tocsin_app::quotas::QuotaRequest>,
) -> ApiResult<Json<Vec<tocsin_app::quotas::QuotaView>>> {
    Ok(Json(
        tocsin_app::quotas::read(&web.app, &who, &request).await?,
    ))
}

/// `POST /api/accounts`.
pub async fn add_account(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<AddAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let view = admin::add_account(&web.app, &who, form).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/accounts/{id}/disable`.
pub async fn disable_account(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(admin::disable_account(&web.app, &who, id).await?))
}

/// `POST /api/accounts/{id}/groups`.
pub async fn set_groups(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<SetGroups>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(admin::set_groups(&web.app, &who, id, form).await?))
}

/// `POST /api/accounts/{id}/languages`.
pub async fn set_languages(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<SetLanguages>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(admin::set_languages(&web.app, &who, id, form).await?))
}

/// `POST /api/accounts/{id}/secret`.
pub async fn replace_secret(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<i64>,
    Json(form): Json<ReplaceSecret>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(admin::replace_secret(&web.app, &who, id, form).await?))
}
