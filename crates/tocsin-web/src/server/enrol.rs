//! A person's own credentials: the enrolment link (`/api/enrolment/start`, then
//! `/api/enrolment/complete` with their password and a code), a change of password
//! (`/api/me/password`) and a new second factor (`/api/me/second-factor`, then
//! `.../confirm`). Thin: [`tocsin_app::people`] checks, stores and audits.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use super::client_addr::ClientIp;
use super::error::{ApiResult, Json};
use super::WebState;
use tocsin_app::people::{EnrolmentStart, SecretInput};
use tocsin_app::Authed;

/// The enrolment link's token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    token: SecretInput,
}

/// A second factor to scan: the QR code (SVG, drawn here), the otpauth URI and the
/// secret as text for typing in. Shown only to the person enrolling; no `Debug`.
#[derive(Serialize)]
pub struct SecondFactor {
    name: String,
    otpauth_uri: String,
    secret: String,
    qr_svg: String,
    expires_at: DateTime<Utc>,
}

fn second_factor(start: EnrolmentStart) -> SecondFactor {
    SecondFactor {
        name: start.name,
        otpauth_uri: start.totp.otpauth_uri.expose_secret().to_string(),
        secret: start.totp.secret_base32.expose_secret().to_string(),
        qr_svg: start.qr_svg.expose_secret().to_string(),
        expires_at: start.expires_at,
    }
}

/// `POST /api/enrolment/start`: opens the link, with a fresh second factor to scan.
pub async fn start(
    State(web): State<WebState>,
    Json(form): Json<Token>,
) -> ApiResult<Json<SecondFactor>> {
    let start = web
        .app
        .people()
        .begin_enrolment(form.token.secret().expose_secret())
        .await?;
    Ok(Json(second_factor(start)))
}

/// The enrolment form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    token: SecretInput,
    password: SecretInput,
    code: String,
}

/// `POST /api/enrolment/complete`: the person's password and a code from the new factor.
pub async fn complete(
    State(web): State<WebState>,
    Json(form): Json<Complete>,
) -> ApiResult<StatusCode> {
    web.app
        .people()
        .complete_enrolment(
            form.token.secret().expose_secret(),
            form.password.into_secret(),
            form.code.trim(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change of password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    current_password: SecretInput,
    new_password: SecretInput,
}

/// `POST /api/me/password`.
pub async fn change_password(
    State(web): State<WebState>,
    ClientIp(client): ClientIp,
    who: Authed,
    Json(form): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    web.app
        .people()
        .change_password(
            &who.id,
            form.current_password.secret(),
            form.new_password.into_secret(),
            client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/me/second-factor`: a new second factor to scan (needs a recent
/// re-authentication); the current one works until the new one is confirmed.
pub async fn new_second_factor(
    State(web): State<WebState>,
    who: Authed,
) -> ApiResult<Json<SecondFactor>> {
    let start = web
        .app
        .people()
        .begin_totp_reenrolment(&who.session)
        .await?;
    Ok(Json(second_factor(start)))
}

/// A code from the new second factor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// `POST /api/me/second-factor/confirm`.
pub async fn confirm_second_factor(
    State(web): State<WebState>,
    who: Authed,
    Json(form): Json<Code>,
) -> ApiResult<StatusCode> {
    web.app
        .people()
        .confirm_totp_reenrolment(&who.session, form.code.trim())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
