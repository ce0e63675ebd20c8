//! The control panel's static files, compiled into the binary (no build step, nothing
//! fetched from elsewhere): `index.html` at `/`, everything else at `/panel/<name>`.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Every file of the panel, by name.
pub const FILES: &[(&str, &str)] = &[
    ("index.html", include_str!("../../panel/index.html")),
    ("app.css", include_str!("../../panel/app.css")),
    ("app.js", include_str!("../../panel/app.js")),
    ("api.js", include_str!("../../panel/api.js")),
    ("ws.js", include_str!("../../panel/ws.js")),
    ("notify.js", include_str!("../../panel/notify.js")),
    ("names.js", include_str!("../../panel/names.js")),
    (
        "view-calendar.js",
        include_str!("../../panel/view-calendar.js"),
    ),
    ("dom.js", include_str!("../../panel/dom.js")),
    ("compose.js", include_str!("../../panel/compose.js")),
    ("shortcuts.js", include_str!("../../panel/shortcuts.js")),
    ("view-signin.js", include_str!("../../panel/view-signin.js")),
    ("view-home.js", include_str!("../../panel/view-home.js")),
    ("view-draft.js", include_str!("../../panel/view-draft.js")),
    (
        "view-message.js",
        include_str!("../../panel/view-message.js"),
    ),
    (
        "view-sessions.js",
        include_str!("../../panel/view-sessions.js"),
    ),
    (
        "view-conversation.js",
        include_str!("../../panel/view-conversation.js"),
    ),
    ("view-audit.js", include_str!("../../panel/view-audit.js")),
    (
        "view-consent.js",
        include_str!("../../panel/view-consent.js"),
    ),
    ("view-admin.js", include_str!("../../panel/view-admin.js")),
    ("view-enrol.js", include_str!("../../panel/view-enrol.js")),
    ("view-story.js", include_str!("../../panel/view-story.js")),
    (
        "view-sandbox.js",
        include_str!("../../panel/view-sandbox.js"),
    ),
    (
        "view-account.js",
        include_str!("../../panel/view-account.js"),
    ),
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _)| *n == name) {
        Some((n, body)) => {
            let mut response = (*body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(n)),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => ApiError::not_found(format!("no panel file `{name}`")).into_response(),
    }
}

/// `GET /`.
pub async fn index() -> Response {
    file("index.html")
}

/// `GET /panel/{*path}`.
pub async fn asset(Path(path): Path<String>) -> Response {
    file(&path)
}
