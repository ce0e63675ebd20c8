//! One delivery posted in several languages, one post each: the first language's post,
//! then each next one as a reply to it, so Spanish follows English in the same thread.
//!
//! Each post is recorded as a part of the delivery as soon as the platform took it
//! (`language:primary`, `language:es`, with the post's id), and a retry starts by reading
//! those: a post recorded is never made again, and the next ones still reply to it. Only
//! the first post is looked for on the platform when the last attempt's outcome is
//! unknown (as a single post is); the delivery's recorded post is the first one, which
//! the thread's next post replies to and which a retraction deletes with its replies.

use std::collections::BTreeMap;
use std::future::Future;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, RemotePost};
use tocsin_store::outbox::ClaimedDelivery;
use tocsin_store::Store;

use crate::outcome::Outcome;
use crate::send::{self, part_remote, LanguagePosts, Sent};

/// Posts each language of `posts` not recorded yet; `first` sends the first post (after
/// reconciling it) when it is not. The answer is the first post's, or the first error.
pub(crate) async fn post_in_languages<'a, F, Fut>(
    store: &Store,
    d: &ClaimedDelivery,
    connector: &dyn Connector,
    posts: &'a LanguagePosts,
    first: F,
) -> Result<Result<Sent, ConnectorError>, Outcome>
where
    F: FnOnce(&'a OutgoingPost) -> Fut,
    Fut: Future<Output = Result<Result<Sent, ConnectorError>, Outcome>>,
{
    let recorded: BTreeMap<String, String> =
        match store.outbox().sent_parts(d.message_id, d.account_id).await {
            Ok(parts) => parts.into_iter().collect(),
            Err(e) => {
                return Ok(Err(ConnectorError::Transient(format!(
                    "reading which languages went out: {e}"
                ))))
            }
        };
    let mut pause = None;
    let first_post = match recorded.get(&posts.first_part) {
        Some(id) => part_remote(id),
        None => match first(&posts.first).await? {
            Ok(sent) => {
                pause = sent.pause;
                if let Err(e) = record(store, d, &posts.first_part, &sent.remote).await {
                    return Ok(Err(e));
                }
                sent.remote
            }
            Err(e) => return Ok(Err(e)),
        },
    };
    for (part, post) in &posts.then {
        if recorded.contains_key(part) {
            continue;
        }
        let mut post = post.clone();
        post.reply_to = Some(first_post.clone());
        post.thread_root = posts
            .first
            .thread_root
            .clone()
            .or_else(|| Some(first_post.clone()));
        match send::post(connector, &post).await {
            Ok(sent) => {
                pause = sent.pause.or(pause);
                if let Err(e) = record(store, d, part, &sent.remote).await {
                    return Ok(Err(e));
                }
            }
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(Sent {
        remote: first_post,
        pause,
    }))
}

/// Records that `part` went out as `remote` (its JSON, so a reply or deletion has every
/// handle the platform needs). A failure to record is an unknown outcome: the next
/// attempt looks before posting.
async fn record(
    store: &Store,
    d: &ClaimedDelivery,
    part: &str,
    remote: &RemotePost,
) -> Result<(), ConnectorError> {
    let json = serde_json::to_string(remote)
        .map_err(|e| ConnectorError::Unknown(format!("recording the post {part}: {e}")))?;
    store
        .outbox()
        .record_part(d.message_id, d.account_id, part, &json)
        .await
        .map_err(|e| {
            ConnectorError::Unknown(format!(
                "{part} went out as {} but could not be recorded: {e}",
                remote.id
            ))
        })
}
