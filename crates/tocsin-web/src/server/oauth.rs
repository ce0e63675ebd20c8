//! Connecting platform accounts through OAuth 2 over HTTP: `POST /api/accounts/oauth/start`
//! (an admin, re-authenticated, asks to connect an account and gets the platform's
//! authorize URL) and `GET /oauth/callback` (where the platform sends the browser back).
//!
//! The callback is public (the platform's redirect carries no API credentials) but acts
//! only for the user who started the authorisation: the session cookie the browser
//! carries must be that user's. The session cookie is `SameSite=Strict`, so a browser
//! coming straight from the platform's site does not send it; the callback then answers a
//! page that reloads itself from Tocsin's own origin (a same-site navigation, which does
//! carry the cookie). Every outcome ends on the panel's admin page:
//! `/#/admin?connected=<id>` or `/#/admin?oauth_error=<code>`. Once the state is one
//! Tocsin issued, the outcome is audited (`account.oauth_connect` or
//! `account.oauth_refused` with the code and why); before that (no state, an unknown one,
//! no session) the request is anyone's and only logged, so a loop of them cannot write to
//! the audit chain.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use tocsin_audit::AuditEvent;
use tocsin_connector::http::printable;
use tocsin_domain::Platform;

use super::auth::authenticate;
use super::error::{ApiError, ApiResult, Json};
use super::host::loopback_base;
use super::WebState;
use tocsin_app::oauth::{
    connects_through_oauth, oauth_platform_names, redirect_uri, state_hash, Refusal, StartRequest,
};
use tocsin_app::people::Permission;
use tocsin_app::{Authed, ErrorKind};

fn api_error(r: Refusal) -> ApiError {
    let kind = match r.code {
        "invalid" => ErrorKind::Invalid,
        "not_found" => ErrorKind::NotFound,
        "not_configured" | "conflict" | "taken" => ErrorKind::Conflict,
        "platform_unreachable" | "registration_refused" | "platform_unreadable" => {
            ErrorKind::Upstream
        }
        "internal" => ErrorKind::Internal,
        _ => ErrorKind::Invalid,
    };
    let error = ApiError::new(kind, r.code, r.message);
    if r.code == "invalid" {
        error.field("settings")
    } else {
        error
    }
}

/// An admin's request to connect an account through OAuth.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartForm {
    platform: String,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    account_id: Option<i64>,
    /// The groups the new account joins.
    #[serde(default)]
    groups: Vec<String>,
}

/// Where to send the browser.
#[derive(Debug, Serialize)]
pub struct StartAnswer {
    authorize_url: String,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

/// Tocsin's public URL (`[server] public_url`), or, on a loopback address only, the
/// request's own `Host`.
fn public_url(web: &WebState, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(url) = &web.app.config().oauth.public_url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    if let Some(base) = loopback_base(headers) {
        return Ok(base);
    }
    Err(ApiError::new(
        ErrorKind::Conflict,
        "not_configured",
        "set [server] public_url to Tocsin's public address: platforms send the browser back to <public_url>/oauth/callback",
    ))
}

async fn audit_refusal(web: &WebState, actor: &str, platform: Option<&str>, refusal: &Refusal) {
    let mut event = AuditEvent::new(actor, "account.oauth_refused");
    if let Some(p) = platform {
        event = event.subject("platform", p);
    }
    let event = event.outcome(format!("{}: {}", refusal.code, refusal.message));
    if let Err(e) = web.app.store().append_audit(event).await {
        tracing::error!(error = %e, "could not audit an OAuth refusal");
    }
}

/// `POST /api/accounts/oauth/start`: stores the authorisation and answers the URL of the
/// platform's consent page. Needs `ManageAccounts` and a recent re-authentication.
pub async fn start(
    State(web): State<WebState>,
    who: Authed,
    headers: HeaderMap,
    Json(form): Json<StartForm>,
) -> ApiResult<Json<StartAnswer>> {
    who.require(&web.app, Permission::ManageAccounts)?;
    let platform: Platform = form
        .platform
        .parse()
        .ok()
        .filter(|p| connects_through_oauth(*p))
        .ok_or_else(|| {
            ApiError::invalid(
                "platform",
                format!(
                    "`{}` is not connected through OAuth ({})",
                    printable(&form.platform),
                    oauth_platform_names()
                ),
            )
        })?;
    let groups = tocsin_domain::audience::check_group_names(&form.groups)
        .map_err(|e| ApiError::invalid("groups", e))?;
    let public = public_url(&web, &headers)?;
    let Some(manager) = web.app.vault().oauth() else {
        return Err(ApiError::internal(&"no OAuth token manager"));
    };
    let request = StartRequest {
        platform,
        instance_url: form.instance_url,
        display_name: form.display_name.unwrap_or_default(),
        handle: form.handle,
        settings: form.settings.unwrap_or(Value::Null),
        account_id: form.account_id,
        groups,
    };
    match manager.start(who.user(), request, &public).await {
        Ok(started) => Ok(Json(StartAnswer {
            authorize_url: started.authorize_url,
            redirect_uri: redirect_uri(&public),
            expires_at: started.expires_at,
        })),
        Err(refusal) => {
            audit_refusal(&web, who.user(), Some(platform.as_str()), &refusal).await;
            Err(api_error(refusal))
        }
    }
}

/// Ends on the admin page with `?key=value`.
fn to_admin(key: &str, value: &str) -> Response {
    let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/#/admin?{key}={value}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A page that reloads the callback from Tocsin's own origin, so the browser sends the
/// `SameSite=Strict` session cookie it withheld on the platform's cross-site redirect.
fn bounce(query: &HashMap<String, String>) -> Response {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for key in ["code", "state", "error", "error_description"] {
        if let Some(v) = query.get(key) {
            pairs.append_pair(key, v);
        }
    }
    pairs.append_pair("tocsin_bounce", "1");
    let target = html_escape(&format!("/oauth/callback?{}", pairs.finish()));
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={target}\"><title>Tocsin</title></head>\
         <body><p>Finishing the connection&hellip; <a href=\"{target}\">Continue</a></p></body></html>"
    );
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /oauth/callback?code&state` (or `?error&state`): see the module documentation.
pub async fn callback(
    State(web): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = authenticate(&web, &headers).await.ok();
    let actor = session
        .as_ref()
        .map_or_else(|| "anonymous".to_string(), |s| s.user().to_string());
    let refuse = |code: &'static str, message: String, platform: Option<String>| {
        let web = web.clone();
        let actor = actor.clone();
        async move {
            let refusal = Refusal::new(code, message);
            tracing::warn!(code, "oauth callback refused");
            audit_refusal(&web, &actor, platform.as_deref(), &refusal).await;
            to_admin("oauth_error", code)
        }
    };
    // Until the state is one Tocsin issued, the request is anyone's: it is refused
    // without an audit entry (an anonymous loop must not write to the chain, nor take
    // its head lock from approvals and deliveries), only a log line.
    let quietly = |code: &'static str| {
        tracing::warn!(code, "oauth callback refused before a valid state");
        to_admin("oauth_error", code)
    };
    let Some(state) = query.get("state").filter(|s| !s.is_empty()) else {
        return quietly("missing_state");
    };
    let Some(session) = session else {
        if !query.contains_key("tocsin_bounce") {
            return bounce(&query);
        }
        return quietly("not_signed_in");
    };
    let hash = state_hash(state);
    let pending = match web.app.store().oauth().pending(&hash).await {
        Ok(Some(p)) => p,
        Ok(None) => return quietly("unknown_state"),
        Err(e) => {
            tracing::error!(error = %e, "oauth callback: reading the authorisation failed");
            return to_admin("oauth_error", "internal");
        }
    };
    let platform = Some(pending.platform.as_str().to_string());
    if pending.started_by != session.user() {
        return refuse(
            "wrong_user",
            format!(
                "this authorisation was started by another user than {}: nothing was done",
                session.user()
            ),
            platform,
        )
        .await;
    }
    if !session.session.role.can(Permission::ManageAccounts) {
        return refuse(
            "not_allowed",
            "your role no longer allows connecting accounts".into(),
            platform,
        )
        .await;
    }
    if pending.used_at.is_some() {
        return refuse(
            "state_replayed",
            "this authorisation was already used: a state is good for one answer; start again"
                .into(),
            platform,
        )
        .await;
    }
    let now = web.app.store().now();
    let expired = pending.expires_at <= now;
    let claimed = async {
        let mut tx = web.app.store().begin().await?;
        let claimed = tx
            .oauth()
            .finish_pending(
                &hash,
                if expired {
                    "state_expired"
                } else {
                    "exchanging"
                },
            )
            .await?;
        tx.commit().await?;
        Ok::<bool, tocsin_store::StoreError>(claimed)
    }
    .await;
    match claimed {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                "state_replayed",
                "this authorisation was already used: a state is good for one answer; start again"
                    .into(),
                platform,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "oauth callback: claiming the authorisation failed");
            return to_admin("oauth_error", "internal");
        }
    }
    if expired {
        return refuse(
            "state_expired",
            "the authorisation took longer than allowed (10 minutes): start again".into(),
            platform,
        )
        .await;
    }
    let outcome = |code: &'static str| {
        let web = web.clone();
        let hash = hash.clone();
        async move {
            let mut tx = web.app.store().begin().await.ok()?;
            tx.oauth().set_pending_outcome(&hash, code).await.ok()?;
            tx.commit().await.ok()
        }
    };
    if let Some(error) = query.get("error") {
        let said = query
            .get("error_description")
            .map(|d| format!(" ({})", printable(d)))
            .unwrap_or_default();
        let (code, message) = if error == "access_denied" {
            (
                "denied",
                format!("consent was denied at the platform{said}: nothing was connected"),
            )
        } else {
            (
                "platform_error",
                format!(
                    "the platform answered `{}`{said}: nothing was connected",
                    printable(error)
                ),
            )
        };
        outcome(code).await;
        return refuse(code, message, platform).await;
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        outcome("missing_code").await;
        return refuse(
            "missing_code",
            "the platform's answer carried no authorization code".into(),
            platform,
        )
        .await;
    };
    let Some(manager) = web.app.vault().oauth() else {
        return to_admin("oauth_error", "internal");
    };
    match manager.finish(&pending, code).await {
        Ok(finished) => {
            let id = finished.record.id;
            if let Err(why) = web.app.vault().connect(web.app.routes(), &finished.record) {
                tracing::warn!(account = id, reason = %why, "an account connected through OAuth did not connect");
            }
            to_admin("connected", &id.to_string())
        }
        Err(refusal) => {
            outcome(refusal.code).await;
            refuse(refusal.code, refusal.message, platform).await
        }
    }
}
