//! Sandbox posts: `GET /api/sandbox/{account}/{post}` (what a sandbox account received,
//! from [`tocsin_app::sandbox_posts`]) and `GET /sandbox/{account}/{post}`, the URL a
//! sandbox delivery records, which sends the browser to the panel's read-only page.

use axum::extract::State;
use axum::response::Redirect;
use tocsin_app::sandbox_posts::{self, SandboxPostView};
use tocsin_app::Authed;

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// `GET /api/sandbox/{account}/{post}`.
pub async fn get_one(
    State(web): State<WebState>,
    who: Authed,
    Path((account, post)): Path<(i64, String)>,
) -> ApiResult<Json<SandboxPostView>> {
    Ok(Json(
        sandbox_posts::get(&web.app, &who, account, &post).await?,
    ))
}

/// `GET /sandbox/{account}/{post}`: to the panel's page for it (which signs in first).
/// Only digits and the sandbox's id characters go into the redirect.
pub async fn page(Path((account, post)): Path<(i64, String)>) -> Redirect {
    let post: String = post
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Redirect::to(&format!("/#/sandbox/{account}/{post}"))
}
