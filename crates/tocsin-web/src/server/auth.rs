//! Who is asking: the session cookie read into an [`Authed`] caller (the application's), sign-in and
//! sign-out, re-authentication, the demo credentials, and the `Origin` guard on every
//! request that changes something.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client_addr::ClientIp;
use super::error::{ApiError, ApiResult, Json};
use super::WebState;
use tocsin_app::people::session::{clear_cookie, cookie_name, set_cookie};
use tocsin_app::people::{Permission, SecretInput, Session, SessionId};
use tocsin_app::{Authed, ErrorKind};

/// The session id in the request's cookie, if any.
pub fn session_id_from(headers: &HeaderMap, secure: bool) -> Option<SessionId> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| SessionId::from_cookie_value(v.trim()))
}

/// Looks the caller's session up.
pub async fn authenticate(web: &WebState, headers: &HeaderMap) -> ApiResult<Authed> {
    let id =
        session_id_from(headers, web.config.secure_cookies).ok_or_else(ApiError::not_signed_in)?;
    Ok(tocsin_app::caller::authenticate(&web.app, id).await?)
}

impl FromRequestParts<WebState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &WebState) -> Result<Self, ApiError> {
        authenticate(web, &parts.headers).await
    }
}

/// Who the caller is, as the panel shows it.
#[derive(Debug, Serialize)]
pub struct Me {
    /// Sign-in name.
    pub user: String,
    /// Role.
    pub role: &'static str,
    /// What the role allows (snake_case names).
    pub permissions: Vec<&'static str>,
    /// Last time password and code were given.
    pub reauthenticated_at: DateTime<Utc>,
    /// Whether this server is a demo.
    pub demo: bool,
}

/// The snake_case name of a permission.
pub fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::ViewDrafts => "view_drafts",
        Permission::ViewDeliveries => "view_deliveries",
        Permission::EditDrafts => "edit_drafts",
        Permission::Approve => "approve",
        Permission::OverrideWarnings => "override_warnings",
        Permission::BreakGlass => "break_glass",
        Permission::Retract => "retract",
        Permission::ReadAudit => "read_audit",
        Permission::ExportAudit => "export_audit",
        Permission::ManageConsent => "manage_consent",
        Permission::ManageUsers => "manage_users",
        Permission::ManageAccounts => "manage_accounts",
    }
}

/// [`Me`] for a session.
pub fn me_of(web: &WebState, session: &Session) -> Me {
    Me {
        user: session.user.clone(),
        role: session.role.as_str(),
        permissions: session
            .role
            .permissions()
            .iter()
            .map(|p| permission_name(*p))
            .collect(),
        reauthenticated_at: session.reauthenticated_at,
        demo: !web.config.demo_users.is_empty(),
    }
}

/// Sign-in form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    name: String,
    password: SecretInput,
    code: String,
}

/// `POST /api/session`.
pub async fn sign_in(
    State(web): State<WebState>,
    ClientIp(client): ClientIp,
    Json(form): Json<SignIn>,
) -> ApiResult<Response> {
    let password = form.password.into_secret();
    let signed = web
        .app
        .people()
        .sign_in(form.name.trim(), &password, form.code.trim(), client)
        .await?;
    let cookie = set_cookie(&signed.session_id, web.config.secure_cookies);
    let mut response = Json(me_of(&web, &signed.session)).into_response();
    put_cookie(&mut response, &cookie)?;
    Ok(response)
}

fn put_cookie(response: &mut Response, cookie: &str) -> ApiResult<()> {
    let value = HeaderValue::from_str(cookie).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(())
}

/// `DELETE /api/session`.
pub async fn sign_out(State(web): State<WebState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(id) = session_id_from(&headers, web.config.secure_cookies) {
        web.app.people().sign_out(&id).await?;
        web.app.hub().end_session(&id.digest());
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    put_cookie(&mut response, &clear_cookie(web.config.secure_cookies))?;
    Ok(response)
}

/// `GET /api/me`.
pub async fn me(State(web): State<WebState>, who: Authed) -> Json<Me> {
    Json(me_of(&web, &who.session))
}

/// Re-authentication form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reauthenticate {
    password: SecretInput,
    code: String,
}

/// `POST /api/session/reauthenticate`.
pub async fn reauthenticate(
    State(web): State<WebState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Json(form): Json<Reauthenticate>,
) -> ApiResult<Json<Me>> {
    let id =
        session_id_from(&headers, web.config.secure_cookies).ok_or_else(ApiError::not_signed_in)?;
    let password = form.password.into_secret();
    let session = web
        .app
        .people()
        .reauthenticate(&id, &password, form.code.trim(), client)
        .await?;
    Ok(Json(me_of(&web, &session)))
}

/// One demo user with the code that works now (no `Debug`: it holds a password).
#[derive(Serialize)]
pub struct DemoCredentials {
    name: String,
    password: String,
    role: String,
    code: String,
}

/// The demo users.
#[derive(Serialize)]
pub struct DemoAnswer {
    users: Vec<DemoCredentials>,
}

/// `GET /api/demo`: only under `tocsin demo`.
pub async fn demo(State(web): State<WebState>) -> ApiResult<Json<DemoAnswer>> {
    if web.config.demo_users.is_empty() {
        return Err(ApiError::not_found("this server is not a demo"));
    }
    let now = web.app.store().now();
    let users = web
        .config
        .demo_users
        .iter()
        .map(|u| {
            Ok(DemoCredentials {
                name: u.name.clone(),
                password: u.password.clone(),
                role: u.role.clone(),
                code: tocsin_app::people::totp::code_from_base32(&u.totp_secret, now)
                    .map_err(|e| ApiError::internal(&e))?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(DemoAnswer { users }))
}

/// Whether a browser `Origin` may act on this server: its own origin (same host and
/// port as `Host`) or one in the allowlist.
pub fn origin_allowed(web: &WebState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser's cross-origin request (scripts, curl): cookies are SameSite=Strict.
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if web
        .config
        .allowed_origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

/// Middleware: a request that changes something (or opens the websocket) from a
/// browser origin that is not allowed is refused before any handler runs.
pub async fn guard_origin(State(web): State<WebState>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let websocket = request.uri().path() == "/ws";
    if (changes || websocket) && !origin_allowed(&web, request.headers()) {
        tracing::warn!(path = %request.uri().path(), "refused a request from a foreign origin");
        return ApiError::new(
            ErrorKind::Forbidden,
            "bad_origin",
            "requests from this site's origin are not allowed (server.allowed_origins)",
        )
        .into_response();
    }
    next.run(request).await
}
