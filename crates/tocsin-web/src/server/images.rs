//! Images: `POST /api/images` takes the file as the raw request body (its type is read
//! from its content, never from `Content-Type` or a name) and answers its hash, type,
//! size and dimensions; `GET /api/images/{sha256}` serves a stored image to a signed-in
//! user, for previews, as the type stored and never sniffed. `GET /media/{token}` (and
//! `/media/{token}/square`) serves an approved image without signing in to a platform
//! that fetches images itself (Instagram, Threads), only while a delivery needs it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tocsin_app::images::{self, ImageView};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// The request body an upload may have: the image limit and a little room, so an image
/// just over the limit is refused with its size rather than cut off.
pub const UPLOAD_BODY_LIMIT: usize = images::check::MAX_BYTES + 4 * 1024 * 1024;

/// `POST /api/images`.
pub async fn upload(
    State(web): State<WebState>,
    who: Authed,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImageView>)> {
    let view = images::upload(&web.app, &who, &body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/images/{sha256}`.
pub async fn get_one(
    State(web): State<WebState>,
    who: Authed,
    Path(sha256): Path<String>,
) -> ApiResult<Response> {
    let image = images::get(&web.app, &who, &sha256).await?;
    let content_type = HeaderValue::from_str(&image.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
            // Content-addressed: the bytes under a name never change.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400, immutable"),
            ),
        ],
        image.bytes,
    )
        .into_response())
}

/// `GET /media/{token}`: an approved image for a platform that fetches it, while a
/// delivery needs it; 404, saying nothing more, otherwise.
pub async fn public_image(
    State(web): State<WebState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    public(&web, &token, false).await
}

/// `GET /media/{token}/square`: the same image's square version.
pub async fn public_square(
    State(web): State<WebState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    public(&web, &token, true).await
}

async fn public(web: &WebState, token: &str, square: bool) -> ApiResult<Response> {
    let Some(image) = images::served(&web.app, token, square).await? else {
        return Ok((StatusCode::NOT_FOUND, "no such image").into_response());
    };
    let content_type = HeaderValue::from_str(&image.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
            // Served only while a delivery needs it: no cache may keep it longer.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex"),
            ),
        ],
        image.bytes,
    )
        .into_response())
}
