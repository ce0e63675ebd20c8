//! The sandbox destination: records what it would have sent, for demos and exercises.
//!
//! It behaves like a well-mannered platform (ids, URLs, replies, deletes, lookups by
//! idempotency key) so a drill exercises the whole pipeline without reaching anyone.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_domain::Platform;

/// One post the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPost {
    /// The account it was sent to.
    pub account: String,
    /// Its id.
    pub id: String,
    /// The post.
    pub post: OutgoingPost,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// How many more times it was sent with the same idempotency key (each answered
    /// with this post rather than a second one).
    pub repeats: usize,
}

/// Everything every sandbox account received, shared by all sandbox connectors.
#[derive(Debug, Default)]
pub struct SandboxLog {
    posts: Mutex<Vec<SandboxPost>>,
}

impl SandboxLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SandboxPost>> {
        self.posts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// All posts, in arrival order.
    pub fn posts(&self) -> Vec<SandboxPost> {
        self.lock().clone()
    }

    /// Posts received by one account.
    pub fn posts_for(&self, account: &str) -> Vec<SandboxPost> {
        self.lock()
            .iter()
            .filter(|p| p.account == account)
            .cloned()
            .collect()
    }

    /// How many posts each account received (deleted ones included).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for p in self.lock().iter() {
            *counts.entry(p.account.clone()).or_insert(0) += 1;
        }
        counts
    }
}

/// A sandbox account, optionally standing in for a real platform (it then receives that
/// platform's approved text, so a drill shows exactly what each platform would get).
#[derive(Debug)]
pub struct SandboxConnector {
    account: String,
    log: std::sync::Arc<SandboxLog>,
    stands_for: Platform,
    latency: std::time::Duration,
}

impl SandboxConnector {
    /// A sandbox account recording into `log`.
    pub fn new(account: &str, log: std::sync::Arc<SandboxLog>) -> Self {
        Self::standing_for(account, log, Platform::Sandbox)
    }

    /// A sandbox account that receives `platform`'s text.
    pub fn standing_for(
        account: &str,
        log: std::sync::Arc<SandboxLog>,
        platform: Platform,
    ) -> Self {
        SandboxConnector {
            account: account.to_string(),
            log,
            stands_for: platform,
            latency: std::time::Duration::ZERO,
        }
    }

    /// Takes `latency` to answer each post and delete, as a real platform would (load
    /// and failover tests keep a fan-out in flight this way).
    pub fn with_latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = latency;
        self
    }

    async fn wait(&self, parts: u32) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency / parts).await;
        }
    }

    fn remote(&self, id: &str) -> RemotePost {
        RemotePost {
            id: id.to_string(),
            url: Some(format!("/sandbox/{}/{id}", self.account)),
            extra: None,
        }
    }
}

#[async_trait]
impl Connector for SandboxConnector {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    fn variant_platform(&self) -> Platform {
        self.stands_for
    }

    fn idempotent(&self) -> bool {
        true
    }

    /// As the platform it stands in for: a drill's retraction sends the withdrawal notice
    /// where that platform could not delete (email, SMS, Teams).
    fn can_delete(&self) -> bool {
        crate::descriptor(self.stands_for).is_none_or(|d| d.capabilities.delete)
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        // Half the latency on the way in, half on the way back: a post can be made and
        // its answer still be lost when the sender dies in between.
        self.wait(2).await;
        let id = {
            let mut posts = self.log.lock();
            // Same key, same post: the sandbox honours idempotency keys as Mastodon does.
            match posts.iter_mut().find(|p| {
                p.account == self.account && p.post.idempotency_key == post.idempotency_key
            }) {
                Some(existing) => {
                    existing.repeats += 1;
                    existing.id.clone()
                }
                None => {
                    let id = format!("{}", posts.len() + 1);
                    posts.push(SandboxPost {
                        account: self.account.clone(),
                        id: id.clone(),
                        post: post.clone(),
                        deleted: false,
                        repeats: 0,
                    });
                    id
                }
            }
        };
        self.wait(2).await;
        Ok(PostOutcome::new(self.remote(&id)))
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        self.wait(1).await;
        let mut posts = self.log.lock();
        match posts
            .iter_mut()
            .find(|p| p.account == self.account && p.id == remote.id)
        {
            Some(p) => {
                p.deleted = true;
                Ok(())
            }
            None => Err(ConnectorError::Permanent(format!(
                "no sandbox post {}",
                remote.id
            ))),
        }
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Ok(self
            .log
            .lock()
            .iter()
            .find(|p| p.account == self.account && p.post.idempotency_key == post.idempotency_key)
            .map(|p| self.remote(&p.id)))
    }

    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_sandbox_records_posts_and_honours_idempotency_keys() {
        let log = Arc::new(SandboxLog::default());
        let a = SandboxConnector::new("acct-1", log.clone());
        let first = a
            .post(&OutgoingPost::new("m1:acct-1", "hello"))
            .await
            .unwrap();
        let again = a
            .post(&OutgoingPost::new("m1:acct-1", "hello"))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(log.posts_for("acct-1").len(), 1);
        a.delete(&first.remote).await.unwrap();
        assert!(log.posts_for("acct-1")[0].deleted);
        assert!(a
            .lookup(&OutgoingPost::new("m2:acct-1", "x"))
            .await
            .unwrap()
            .is_none());
    }
}
