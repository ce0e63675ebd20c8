//! The [`Connector`] trait: one platform's wire format for one account.

use async_trait::async_trait;
use tocsin_domain::Platform;

use crate::{ConnectorError, OutgoingPost, PostOutcome, PublishingQuota, RemotePost};

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

    /// How many posts the account may still publish in the platform's window, read
    /// from the platform, for people to see before they approve. `Ok(None)` where the
    /// platform keeps no such count or does not say it; a wrapper around another
    /// connector forwards this to it.
    async fn publishing_quota(&self) -> Result<Option<PublishingQuota>, ConnectorError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A platform with no publishing quota: it answers only what the trait requires.
    #[derive(Debug)]
    struct Quotaless;

    #[async_trait]
    impl Connector for Quotaless {
        fn platform(&self) -> Platform {
            Platform::Mastodon
        }
        async fn post(&self, _: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
            Err(ConnectorError::Unsupported("not in this test".into()))
        }
        async fn delete(&self, _: &RemotePost) -> Result<(), ConnectorError> {
            Ok(())
        }
        async fn lookup(&self, _: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
            Ok(None)
        }
        async fn healthcheck(&self) -> Result<(), ConnectorError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_platform_without_a_quota_answers_none_and_a_quota_says_what_is_left() {
        assert_eq!(Quotaless.publishing_quota().await, Ok(None));
        let quota = PublishingQuota {
            used: 97,
            total: 100,
            window: Duration::from_secs(86_400),
        };
        assert_eq!(quota.left(), 3);
        assert_eq!(quota.rate_limit_status().remaining, Some(3));
        assert_eq!(quota.rate_limit_status().pause(), None);
        let spent = PublishingQuota { used: 120, ..quota };
        assert_eq!(spent.left(), 0);
    }
}
