//! The [`Connector`] trait: one platform's wire format for one account.

use async_trait::async_trait;
use tocsin_domain::Platform;

use crate::{ConnectorError, OutgoingPost, PostOutcome, RemotePost};

/// One account on one platform. Implementations make exactly one attempt per call and
/// classify failures; retries, backoff, rate-limit pauses and circuit breaking happen
/// once, in the shared layer. `Debug` shows where an account posts, never its secret.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// The platform this connector speaks.
    fn platform(&self) -> Platform;

    /// Whose approved text this account receives: its own platform's, except for a
    /// sandbox account standing in for another platform in a drill or demo.
    fn variant_platform(&self) -> Platform {
        self.platform()
    }

    /// Whether the platform honours [`OutgoingPost::idempotency_key`], so that a send
    /// whose outcome is unknown can simply be repeated.
    fn idempotent(&self) -> bool {
        false
    }

    /// Whether [`Connector::delete`] can remove a post (otherwise retraction posts a
    /// correction as a reply).
    fn can_delete(&self) -> bool {
        true
    }

    /// Sends one post (a reply when `post.reply_to` is set).
    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError>;

    /// Deletes a post this account made.
    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError>;

    /// Looks for a post made with this idempotency key or text, after a send whose
    /// outcome was unknown. `Ok(None)` means it certainly does not exist.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError>;

    /// Checks that the account's credentials and endpoint work.
    async fn healthcheck(&self) -> Result<(), ConnectorError>;
}
