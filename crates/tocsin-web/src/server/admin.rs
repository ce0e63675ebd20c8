//! Administration: users (add with a second factor to enrol, change role, disable,
//! reset the second factor) through [`crate::people::People`], which checks the role and
//! the recent re-authentication these changes need; and platform accounts (list with
//! their circuit breaker, add sandbox stand-ins).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tocsin_connectors::sandbox::SandboxConnector;
use tocsin_dispatch::AccountRoute;
use tocsin_domain::Platform;
use tocsin_store::NewAccount;

use super::auth::Authed;
use super::catalog::stand_in;
use super::error::{ApiError, ApiResult, Json, Path};
use super::App;
use crate::people::{Caller, Permission, Role, TotpEnrolment};

/// A user on the admin page.
#[derive(Debug, Serialize)]
pub struct UserView {
    name: String,
    role: &'static str,
    second_factor: &'static str,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// `GET /api/users`.
pub async fn users(State(app): State<App>, who: Authed) -> ApiResult<Json<Vec<UserView>>> {
    let rows = app
        .0
        .people
        .list_users(Caller::Session(&who.session))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|u| UserView {
                name: u.name,
                role: u.role.as_str(),
                second_factor: u.second_factor,
                disabled_at: u.disabled_at,
                created_at: u.created_at,
            })
            .collect(),
    ))
}

fn role(text: &str) -> ApiResult<Role> {
    text.parse::<Role>().map_err(|_| {
        ApiError::invalid(
            "role",
            format!("`{text}` is not a role (viewer, drafter, approver, compliance, admin)"),
        )
    })
}

/// A new user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    name: String,
    role: String,
    password: String,
}

/// What to give the new user once: their second factor.
#[derive(Debug, Serialize)]
pub struct Enrolment {
    name: String,
    role: &'static str,
    otpauth_uri: String,
    secret: String,
}

fn enrolment(name: &str, role: Role, e: &TotpEnrolment) -> Enrolment {
    Enrolment {
        name: name.to_string(),
        role: role.as_str(),
        otpauth_uri: e.otpauth_uri.expose_secret().to_string(),
        secret: e.secret_base32.expose_secret().to_string(),
    }
}

/// `POST /api/users`.
pub async fn add_user(
    State(app): State<App>,
    who: Authed,
    Json(form): Json<AddUser>,
) -> ApiResult<(StatusCode, Json<Enrolment>)> {
    let role = role(&form.role)?;
    let caller = Caller::Session(&who.session);
    app.0
        .people
        .add_user(
            caller,
            form.name.trim(),
            role,
            SecretString::from(form.password),
        )
        .await?;
    let e = app.0.people.enrol_totp(caller, form.name.trim()).await?;
    Ok((
        StatusCode::CREATED,
        Json(enrolment(form.name.trim(), role, &e)),
    ))
}

/// A role change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: String,
}

/// `POST /api/users/{name}/role`.
pub async fn set_role(
    State(app): State<App>,
    who: Authed,
    Path(name): Path<String>,
    Json(form): Json<SetRole>,
) -> ApiResult<StatusCode> {
    let role = role(&form.role)?;
    app.0
        .people
        .set_role(Caller::Session(&who.session), &name, role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/users/{name}/disable`.
pub async fn disable_user(
    State(app): State<App>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.0
        .people
        .disable_user(Caller::Session(&who.session), &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/users/{name}/reset-totp`.
pub async fn reset_totp(
    State(app): State<App>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<Json<Enrolment>> {
    let caller = Caller::Session(&who.session);
    let e = app.0.people.reset_totp(caller, &name).await?;
    let summary = app
        .0
        .people
        .list_users(caller)
        .await?
        .into_iter()
        .find(|u| u.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no user `{name}`")))?;
    Ok(Json(enrolment(&name, summary.role, &e)))
}

/// An account on the admin page.
#[derive(Debug, Serialize)]
pub struct AccountView {
    id: i64,
    platform: String,
    stands_for: Option<String>,
    handle: String,
    display_name: String,
    sandbox: bool,
    connected: bool,
    breaker: &'static str,
}

/// `GET /api/accounts`.
pub async fn accounts(State(app): State<App>, who: Authed) -> ApiResult<Json<Vec<AccountView>>> {
    who.require(&app, Permission::ViewDeliveries)?;
    let rows = app.0.store.accounts().await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AccountView {
                id: a.id,
                stands_for: a.sandbox.then(|| stand_in(&a.handle).as_str().to_string()),
                connected: app.0.routes.get(a.id).is_some(),
                breaker: app.0.dispatcher.breaker_state(a.id),
                platform: a.platform,
                handle: a.handle,
                display_name: a.display_name,
                sandbox: a.sandbox,
            })
            .collect(),
    ))
}

/// A new account. Only sandbox stand-ins are added here; real platform accounts are
/// connected with their credentials (see the README's platform setup).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAccount {
    platform: String,
    stands_for: String,
    display_name: String,
    #[serde(default)]
    handle: Option<String>,
}

/// `POST /api/accounts`.
pub async fn add_account(
    State(app): State<App>,
    who: Authed,
    Json(form): Json<AddAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    who.require(&app, Permission::ManageAccounts)?;
    if form.platform != "sandbox" {
        return Err(ApiError::invalid(
            "platform",
            "only sandbox accounts are added from the panel; connect real accounts as the README's platform setup says",
        ));
    }
    let stands_for: Platform = form.stands_for.parse().map_err(|_| {
        ApiError::invalid(
            "stands_for",
            format!("`{}` is not a platform", form.stands_for),
        )
    })?;
    let display_name = form.display_name.trim();
    if display_name.is_empty() || display_name.len() > 100 {
        return Err(ApiError::invalid(
            "display_name",
            "a display name is 1 to 100 characters",
        ));
    }
    let suffix = form
        .handle
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            display_name
                .to_lowercase()
                .replace(char::is_whitespace, "-")
        });
    let handle = format!("sandbox:{}:{suffix}", stands_for.as_str());
    let id = app
        .0
        .store
        .add_account(
            who.user(),
            &NewAccount {
                platform: "sandbox".into(),
                handle: handle.clone(),
                display_name: display_name.to_string(),
                sandbox: true,
            },
        )
        .await?;
    app.0.routes.insert(
        id,
        AccountRoute {
            connector: Arc::new(SandboxConnector::standing_for(
                &id.to_string(),
                app.0.sandbox.clone(),
                stands_for,
            )),
            host: "sandbox".into(),
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(AccountView {
            id,
            platform: "sandbox".into(),
            stands_for: Some(stands_for.as_str().to_string()),
            handle,
            display_name: display_name.to_string(),
            sandbox: true,
            connected: true,
            breaker: app.0.dispatcher.breaker_state(id),
        }),
    ))
}
