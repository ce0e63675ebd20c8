//! What the fakes of Meta's Graph APIs share (Facebook Pages, Threads, Instagram): the
//! answer for an object that is not there, and, for the Threads and Instagram APIs, the
//! token check (bearer header or `access_token` query, error 190), the permission check
//! (error 10) and the long-lived token exchange and refresh of their Login flows.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::facebook::graph_error;

/// Graph error 100/33: the object does not exist (or this token cannot see it).
pub(crate) fn missing() -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        Some(33),
        "Unsupported request - Object does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
    )
}

/// Graph error 190: the token presented is not one the API accepts.
pub(crate) fn bad_token(status: StatusCode) -> Response {
    graph_error(
        status,
        190,
        None,
        "Invalid OAuth access token - Cannot parse access token",
    )
}

/// Admits a call presenting `token` as a bearer header or as the `access_token` query
/// parameter; anything else is refused 401 with error 190.
pub(crate) fn admit(
    token: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Box<Response>> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query.get("access_token").map(String::as_str));
    if presented == Some(token) {
        Ok(())
    } else {
        Err(Box::new(bad_token(StatusCode::UNAUTHORIZED)))
    }
}

/// Refuses a call the token has no permission for, as the Graph API does (code 10).
pub(crate) fn needs(scopes: &[String], scope: &str) -> Result<(), Box<Response>> {
    if scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(Box::new(graph_error(
            StatusCode::FORBIDDEN,
            10,
            None,
            "(#10) Application does not have permission for this action",
        )))
    }
}

/// A new 60-day token `<prefix>-<n>-canary` (the n-th from `issued`), and its answer.
pub(crate) fn long_token(issued: &Mutex<u64>, prefix: &str) -> (String, Response) {
    let n = {
        let mut n = issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        *n
    };
    let token = format!("{prefix}-{n}-canary");
    let answer =
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5_183_944}))
            .into_response();
    (token, answer)
}

/// Whether `GET /access_token` exchanges a short-lived token for a long-lived one:
/// `grant_type` is `grant`, `client_secret` is `app_secret`, and `access_token` is the
/// short-lived token the fake issued.
pub(crate) fn exchange_allowed(
    query: &HashMap<String, String>,
    grant: &str,
    app_secret: &str,
    short_token: Option<&String>,
) -> bool {
    query.contains_key("access_token")
        && query.get("access_token") == short_token
        && query.get("grant_type").map(String::as_str) == Some(grant)
        && query.get("client_secret").map(String::as_str) == Some(app_secret)
}

/// Whether `GET /refresh_access_token` refreshes: `grant_type` is `grant` and
/// `access_token` is the current long-lived token.
pub(crate) fn refresh_allowed(query: &HashMap<String, String>, grant: &str, current: &str) -> bool {
    query.get("grant_type").map(String::as_str) == Some(grant)
        && query.get("access_token").map(String::as_str) == Some(current)
}
