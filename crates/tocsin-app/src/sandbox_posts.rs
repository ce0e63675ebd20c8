//! What a sandbox account received: the read-only page behind a sandbox post's "View
//! post" link, so a demo or a drill shows the post as the platform it stands in for
//! would have had it (text, headline, the post it replies to, whether it was deleted).
//!
//! Sandbox posts live in this node's memory only ([`tocsin_connectors::sandbox::SandboxLog`]):
//! after a restart, or on another node, the post is gone and the page says so.

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::{Authed, Tocsin};

/// One sandbox post as the panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxPostView {
    /// The sandbox account.
    pub account_id: i64,
    /// Its display name.
    pub account: String,
    /// Its handle.
    pub handle: String,
    /// The platform it stands in for, in words ("Bluesky"; "Sandbox" when none).
    pub stands_for: String,
    /// The post's id on the sandbox.
    pub id: String,
    /// The message it delivered, read from its idempotency key.
    pub message_id: Option<i64>,
    /// The headline (email subject).
    pub title: Option<String>,
    /// The text as that platform would have got it.
    pub text: String,
    /// The HTML part (email).
    pub html: Option<String>,
    /// The sandbox post it replies to (a thread).
    pub reply_to: Option<String>,
    /// The first post of its thread.
    pub thread_root: Option<String>,
    /// Marked as an exercise.
    pub exercise: bool,
    /// Deleted since (a retraction).
    pub deleted: bool,
    /// How many more times it was sent with the same idempotency key (each answered
    /// with this post, not a second one).
    pub repeats: usize,
}

/// The message id in an idempotency key `tocsin-{installation}-{message}-{account}`.
fn message_of(key: &str) -> Option<i64> {
    let mut parts = key.rsplitn(3, '-');
    let _account = parts.next()?;
    parts.next()?.parse().ok()
}

/// Sandbox post `post_id` of sandbox account `account_id` (anyone who may see
/// deliveries). 404 when the account is not a sandbox account or this node holds no such
/// post (sandbox posts are kept in memory, until a restart).
pub async fn get(
    app: &Tocsin,
    who: &Authed,
    account_id: i64,
    post_id: &str,
) -> AppResult<SandboxPostView> {
    who.require(app, Permission::ViewDeliveries)?;
    let account = app
        .0
        .store
        .accounts()
        .get(account_id)
        .await?
        .filter(|a| a.sandbox)
        .ok_or_else(|| AppError::not_found(format!("no sandbox account {account_id}")))?;
    let post = app
        .0
        .sandbox
        .posts_for(&account_id.to_string())
        .into_iter()
        .find(|p| p.id == post_id)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "sandbox post {post_id} of account {account_id} is not held here: sandbox posts are kept in the memory of the node that sent them, until it restarts"
            ))
        })?;
    Ok(SandboxPostView {
        account_id,
        account: account.display_name,
        handle: account.handle,
        stands_for: account
            .stands_for
            .unwrap_or(account.platform)
            .display_name()
            .to_string(),
        id: post.id,
        message_id: message_of(&post.post.idempotency_key),
        title: post.post.title,
        text: post.post.text,
        html: post.post.html,
        reply_to: post.post.reply_to.map(|r| r.id),
        thread_root: post.post.thread_root.map(|r| r.id),
        exercise: post.post.exercise,
        deleted: post.deleted,
        repeats: post.repeats,
    })
}

#[cfg(test)]
mod tests {
    use super::message_of;

    #[test]
    fn the_message_is_read_from_the_idempotency_key() {
        assert_eq!(
            message_of("tocsin-0123456789abcdef0123456789abcdef-42-7"),
            Some(42)
        );
        assert_eq!(message_of("tocsin-42-7"), Some(42));
        assert_eq!(message_of("drill"), None);
        assert_eq!(message_of("a-b-c"), None);
    }
}
