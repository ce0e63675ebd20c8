//! What one account gets for one message, and the one call that gives it to the platform.
//!
//! A post (with its place in a live session's thread, or under the message it follows
//! up), a deletion, or a correction posted
//! as a reply where the platform cannot delete: worked out from the message and what the
//! store recorded earlier, then sent in one connector call. Retrying is not done here.

use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::progress::{Ledger, PartLedger};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, RemotePost};
use tocsin_domain::playbook::{TextTarget, VariantTarget};
use tocsin_domain::Platform;
use tocsin_store::outbox::{ClaimedDelivery, MessageForSending, MessageKind, RecordedPost};
use tocsin_store::Store;

use crate::outcome::Outcome;

/// What to do on one account for one message.
pub(crate) enum Action {
    /// Post this (a new post, a reply in a thread, or a correction).
    Post(Box<OutgoingPost>),
    /// Delete this earlier post.
    Delete(RemotePost),
}

/// What the platform answered to a call that went through.
pub(crate) struct Sent {
    /// The post on the platform (the deleted one, for a deletion).
    pub remote: RemotePost,
    /// How long the platform asked the account to hold off, if its rate-limit headers
    /// said the window is spent.
    pub pause: Option<Duration>,
}

/// A post as the store recorded it, as connectors take it.
pub(crate) fn remote(p: &RecordedPost) -> RemotePost {
    RemotePost {
        id: p.remote_id.clone(),
        url: p.remote_url.clone(),
        extra: p.remote_extra.clone(),
    }
}

/// What `d`'s account gets for message `m` through `connector`, or why it gets nothing.
pub(crate) async fn action(
    store: &Store,
    d: &ClaimedDelivery,
    m: &MessageForSending,
    connector: &dyn Connector,
) -> Result<Action, Outcome> {
    let platform = connector.variant_platform();
    let mut post = OutgoingPost::new(d.idempotency_key.clone(), String::new());
    post.ledger = Ledger(Some(Arc::new(OutboxLedger {
        store: store.clone(),
        message_id: m.id,
        account_id: d.account_id,
    })));
    post.exercise = m.exercise;
    post.title = m.title.clone();
    // The approved images go with a post or a correction; connectors for platforms that
    // take none send the text alone.
    post.images = m
        .images
        .iter()
        .map(|i| tocsin_connector::PostImage {
            sha256: i.sha256.clone(),
            media_type: i.media_type.clone(),
            width: i.width,
            height: i.height,
            alt: i.alt.clone(),
            bytes: i.bytes.clone(),
            public_url: None,
        })
        .collect();
    let text = m
        .texts
        .get(&TextTarget::Variant(VariantTarget::Platform(platform)))
        .cloned();
    let target = match m.target_message_id {
        Some(t) => store
            .outbox()
            .recorded_post(t, d.account_id)
            .await
            .map_err(|e| Outcome::failed(format!("reading the post to retract: {e}")))?,
        None => None,
    };
    match m.kind {
        MessageKind::Post => {
            post.text =
                text.ok_or_else(|| Outcome::failed(format!("no approved text for {platform}")))?;
            if platform == Platform::Email {
                post.html = m
                    .texts
                    .get(&TextTarget::Variant(VariantTarget::EmailHtml))
                    .cloned();
            }
            if let Some(session) = m.session_id {
                let (root, parent) = store
                    .live_sessions()
                    .thread(session, m.id, d.account_id)
                    .await
                    .map_err(|e| Outcome::failed(format!("reading the session thread: {e}")))?;
                post.thread_root = root.as_ref().map(remote);
                post.reply_to = parent.as_ref().map(remote);
            } else if m.follows_up.is_some() {
                let (root, parent) = store
                    .outbox()
                    .follow_up_thread(m.id, d.account_id)
                    .await
                    .map_err(|e| Outcome::failed(format!("reading the thread followed up: {e}")))?;
                post.thread_root = root.as_ref().map(remote);
                post.reply_to = parent.as_ref().map(remote);
            }
            Ok(Action::Post(Box::new(post)))
        }
        MessageKind::Delete if connector.can_delete() => match target {
            Some(t) => Ok(Action::Delete(remote(&t))),
            None => Err(Outcome::failed(
                "the post to delete was never recorded on this account",
            )),
        },
        MessageKind::Delete | MessageKind::Correction => {
            let Some(target) = target else {
                return Err(Outcome::failed(
                    "the post to correct was never recorded on this account",
                ));
            };
            post.text = text.ok_or_else(|| {
                Outcome::failed(format!(
                    "{platform} cannot delete posts and no withdrawal notice or correction was approved for it"
                ))
            })?;
            post.reply_to = Some(remote(&target));
            post.thread_root = Some(remote(&target));
            Ok(Action::Post(Box::new(post)))
        }
    }
}

/// Posts `post` through `connector`.
pub(crate) async fn post(
    connector: &dyn Connector,
    post: &OutgoingPost,
) -> Result<Sent, ConnectorError> {
    let outcome = connector.post(post).await?;
    Ok(Sent {
        pause: outcome.rate_limit.and_then(|r| r.pause()),
        remote: outcome.remote,
    })
}

/// Deletes `target` through `connector`.
pub(crate) async fn delete(
    connector: &dyn Connector,
    target: &RemotePost,
) -> Result<Sent, ConnectorError> {
    connector.delete(target).await?;
    Ok(Sent {
        remote: target.clone(),
        pause: None,
    })
}

/// The outbox as a post's [`PartLedger`]: the parts of one delivery that went out.
#[derive(Debug)]
struct OutboxLedger {
    store: Store,
    message_id: i64,
    account_id: i64,
}

#[async_trait::async_trait]
impl PartLedger for OutboxLedger {
    async fn sent_parts(&self) -> Result<Vec<(String, String)>, ConnectorError> {
        self.store
            .outbox()
            .sent_parts(self.message_id, self.account_id)
            .await
            .map_err(|e| ConnectorError::Transient(format!("the outbox: {e}")))
    }

    async fn part_sent(&self, part: &str, remote_id: &str) -> Result<(), ConnectorError> {
        self.store
            .outbox()
            .record_part(self.message_id, self.account_id, part, remote_id)
            .await
            .map_err(|e| ConnectorError::Transient(format!("the outbox: {e}")))
    }
}
