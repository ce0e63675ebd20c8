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
use tocsin_domain::account_languages::LanguagePost;
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::language::LanguageTag;
use tocsin_domain::playbook::{LanguageText, TextTarget, VariantTarget};
use tocsin_domain::Platform;
use tocsin_store::outbox::{ClaimedDelivery, MessageForSending, MessageKind, RecordedPost};
use tocsin_store::Store;

use crate::outcome::Outcome;
use crate::routes::AccountRoute;

/// What to do on one account for one message.
pub(crate) enum Action {
    /// Post this (a new post, a reply in a thread, or a correction).
    Post(Box<OutgoingPost>),
    /// Post this in the account's first language, then each next language as a reply to
    /// it (an account that posts several languages separately).
    PostInLanguages(Box<LanguagePosts>),
    /// Delete this earlier post, and the posts in other languages that replied to it.
    Delete(RemotePost, Vec<RemotePost>),
}

/// The posts of one delivery to an account that posts several languages separately.
pub(crate) struct LanguagePosts {
    /// The first language's post, with its place in a thread.
    pub first: OutgoingPost,
    /// Its name in the delivery's record of parts (`language:primary`).
    pub first_part: String,
    /// Each next language's post (its reply target is set when the first went out) and
    /// its part name (`language:es`).
    pub then: Vec<(String, OutgoingPost)>,
}

/// The part name under which a delivery's posts in several languages are recorded, so a
/// retry does not post a language twice.
pub(crate) fn is_language_part(part: &str) -> bool {
    part.starts_with("language:")
}

/// A post recorded as a part (its JSON, or a bare id from a connector's own parts).
pub(crate) fn part_remote(recorded: &str) -> RemotePost {
    serde_json::from_str(recorded).unwrap_or_else(|_| RemotePost {
        id: recorded.to_string(),
        url: None,
        extra: None,
    })
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
    route: &AccountRoute,
    public_url: Option<&str>,
) -> Result<Action, Outcome> {
    let connector = route.connector.as_ref();
    let platform = connector.variant_platform();
    let mut post = OutgoingPost::new(d.idempotency_key.clone(), String::new());
    post.ledger = ledger(store, m.id, d.account_id, "");
    post.exercise = m.exercise;
    post.title = m.title.clone();
    // The approved images go with a post or a correction; connectors for platforms that
    // take none send the text alone.
    post.images = images_for(route.images, &m.images, public_url);
    let text = m
        .texts
        .get(&TextTarget::Variant(VariantTarget::Platform(platform)))
        .cloned();
    // The post a deletion or correction answers: the one recorded with the delivery or,
    // where the delivery failed after a language's post went up, that post.
    let (target, parts): (Option<RemotePost>, Vec<RemotePost>) = match m.target_message_id {
        Some(t) => {
            let recorded = store
                .outbox()
                .recorded_post(t, d.account_id)
                .await
                .map_err(|e| Outcome::failed(format!("reading the post to retract: {e}")))?;
            let parts: Vec<RemotePost> = store
                .outbox()
                .sent_parts(t, d.account_id)
                .await
                .map_err(|e| Outcome::failed(format!("reading the posts to retract: {e}")))?
                .into_iter()
                .filter(|(part, _)| is_language_part(part))
                .map(|(_, id)| part_remote(&id))
                .collect();
            match recorded {
                Some(p) => (Some(remote(&p)), parts),
                None => {
                    let mut parts = parts.into_iter();
                    (parts.next(), parts.collect())
                }
            }
        }
        None => (None, Vec::new()),
    };
    match m.kind {
        MessageKind::Post => {
            let languages = route.languages.posts_for(
                platform,
                &m.texts,
                &route.counting,
                &PlatformLimits::default(),
            );
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
            Ok(in_languages(store, d, m, post, languages))
        }
        MessageKind::Delete if connector.can_delete() => match target {
            Some(t) => {
                let replies = parts.into_iter().filter(|r| r.id != t.id).collect();
                Ok(Action::Delete(t, replies))
            }
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
            post.reply_to = Some(target.clone());
            post.thread_root = Some(target);
            Ok(Action::Post(Box::new(post)))
        }
    }
}

/// The post as the account's languages make it: the primary post alone, or (for an
/// account posting several languages separately) each language's own post, the first
/// taking the primary post's place in its thread.
fn in_languages(
    store: &Store,
    d: &ClaimedDelivery,
    m: &MessageForSending,
    post: OutgoingPost,
    languages: Vec<LanguagePost>,
) -> Action {
    let mut languages = languages.into_iter();
    let Some(first) = languages.next() else {
        return Action::Post(Box::new(post));
    };
    let then: Vec<LanguagePost> = languages.collect();
    let html_of = |part: &str| -> Option<String> {
        // Only an email with an HTML part has one per language.
        post.html.as_ref()?;
        let target = match part.strip_prefix("language:") {
            Some("primary") => TextTarget::Variant(VariantTarget::EmailHtml),
            Some(tag) => TextTarget::InLanguage(
                LanguageTag::parse(tag).ok()?,
                LanguageText::Variant(VariantTarget::EmailHtml),
            ),
            None => return None,
        };
        m.texts.get(&target).cloned()
    };
    if then.is_empty() && first.part == "language:primary" {
        return Action::Post(Box::new(post));
    }
    let mut first_post = post.clone();
    first_post.html = html_of(&first.part);
    first_post.language = language_of(&first.part);
    first_post.text = first.text;
    if then.is_empty() {
        // One post: a single other language, or every language together.
        return Action::Post(Box::new(first_post));
    }
    let then = then
        .into_iter()
        .map(|p| {
            let mut next = post.clone();
            next.idempotency_key = format!("{}:{}", d.idempotency_key, p.part);
            next.ledger = ledger(store, m.id, d.account_id, &p.part);
            next.html = html_of(&p.part);
            next.language = language_of(&p.part);
            next.text = p.text;
            (p.part, next)
        })
        .collect();
    Action::PostInLanguages(Box::new(LanguagePosts {
        first: first_post,
        first_part: first.part,
        then,
    }))
}

/// The language tag of a part holding one language other than the primary
/// (`language:es`); `None` for the primary and for several languages joined.
fn language_of(part: &str) -> Option<String> {
    part.strip_prefix("language:")
        .filter(|tag| *tag != "primary" && !tag.contains('+'))
        .map(str::to_string)
}

fn ledger(store: &Store, message_id: i64, account_id: i64, prefix: &str) -> Ledger {
    Ledger(Some(Arc::new(OutboxLedger {
        store: store.clone(),
        message_id,
        account_id,
        prefix: if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
    })))
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

/// Deletes `target` and then the posts in other languages that replied to it; the
/// answer names `target`. A reply already gone counts as deleted (connectors answer the
/// deletion of a missing post as done), so a retry after a partial run goes through.
pub(crate) async fn delete_all(
    connector: &dyn Connector,
    target: &RemotePost,
    replies: &[RemotePost],
) -> Result<Sent, ConnectorError> {
    for reply in replies {
        connector.delete(reply).await?;
    }
    delete(connector, target).await
}

/// The outbox as a post's [`PartLedger`]: the parts of one delivery that went out.
#[derive(Debug)]
struct OutboxLedger {
    store: Store,
    message_id: i64,
    account_id: i64,
    /// Set for a language's post after the first: its connector's parts are kept apart
    /// from the first post's (an SMS to the same numbers in another language).
    prefix: String,
}

#[async_trait::async_trait]
impl PartLedger for OutboxLedger {
    async fn sent_parts(&self) -> Result<Vec<(String, String)>, ConnectorError> {
        let parts = self
            .store
            .outbox()
            .sent_parts(self.message_id, self.account_id)
            .await
            .map_err(|e| ConnectorError::Transient(format!("the outbox: {e}")))?;
        Ok(parts
            .into_iter()
            .filter_map(|(part, id)| {
                if self.prefix.is_empty() {
                    (!is_language_part(&part)).then_some((part, id))
                } else {
                    part.strip_prefix(&self.prefix).map(|p| (p.to_string(), id))
                }
            })
            .collect())
    }

    async fn part_sent(&self, part: &str, remote_id: &str) -> Result<(), ConnectorError> {
        self.store
            .outbox()
            .record_part(
                self.message_id,
                self.account_id,
                &format!("{}{part}", self.prefix),
                remote_id,
            )
            .await
            .map_err(|e| ConnectorError::Transient(format!("the outbox: {e}")))
    }
}

/// The approved images as a connector whose platform takes images by `rules` takes them: the square version where the
/// platform wants square pictures and the image has one, and a link under `public_url`
/// where the platform fetches images itself.
pub(crate) fn images_for(
    rules: Option<tocsin_connector::descriptor::ImageRules>,
    images: &[tocsin_store::images::ImageForSending],
    public_url: Option<&str>,
) -> Vec<tocsin_connector::PostImage> {
    let square = rules.is_some_and(|r| r.square);
    let fetched = rules.is_some_and(|r| r.fetched);
    let base = public_url
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty());
    images
        .iter()
        .map(|i| {
            let (file, suffix) = match (&i.square, square) {
                (Some(sq), true) => (sq, "/square"),
                _ => (&i.file, ""),
            };
            let link = match (fetched, base, &i.public_token) {
                (true, Some(base), Some(token)) => Some(format!("{base}/media/{token}{suffix}")),
                _ => None,
            };
            tocsin_connector::PostImage {
                sha256: file.sha256.clone(),
                media_type: file.media_type.clone(),
                width: file.width,
                height: file.height,
                alt: i.alt.clone(),
                bytes: file.bytes.clone(),
                public_url: link,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::images_for;
    use tocsin_domain::Platform;
    use tocsin_store::images::{ImageFile, ImageForSending};

    fn file(sha: &str, media_type: &str, side: (u32, u32)) -> ImageFile {
        ImageFile {
            sha256: sha.repeat(64),
            media_type: media_type.into(),
            width: side.0,
            height: side.1,
            bytes: bytes::Bytes::from_static(b"pixels"),
        }
    }

    fn card() -> ImageForSending {
        ImageForSending {
            file: file("a", "image/png", (1200, 675)),
            square: Some(file("b", "image/jpeg", (1080, 1080))),
            alt: "Boil-water advisory for Ward 3".into(),
            public_token: Some("tok".into()),
        }
    }

    fn rules(p: Platform) -> Option<tocsin_connector::descriptor::ImageRules> {
        tocsin_connectors::descriptor(p).and_then(|d| d.images)
    }

    #[test]
    fn instagram_gets_the_square_version_by_its_link_threads_the_image_by_its_link() {
        let base = Some("https://alerts.example.gov/");
        let insta = images_for(rules(Platform::Instagram), &[card()], base);
        assert_eq!(insta[0].sha256, "b".repeat(64));
        assert_eq!((insta[0].width, insta[0].height), (1080, 1080));
        assert_eq!(
            insta[0].public_url.as_deref(),
            Some("https://alerts.example.gov/media/tok/square")
        );
        assert_eq!(insta[0].alt, "Boil-water advisory for Ward 3");
        let threads = images_for(rules(Platform::Threads), &[card()], base);
        assert_eq!(threads[0].sha256, "a".repeat(64));
        assert_eq!(
            threads[0].public_url.as_deref(),
            Some("https://alerts.example.gov/media/tok")
        );
        // A platform that takes uploads gets the landscape image and no link.
        let mastodon = images_for(rules(Platform::Mastodon), &[card()], base);
        assert_eq!(mastodon[0].sha256, "a".repeat(64));
        assert_eq!(mastodon[0].public_url, None);
    }

    #[test]
    fn no_public_url_or_no_token_gives_no_link() {
        let insta = images_for(rules(Platform::Instagram), &[card()], None);
        assert_eq!(insta[0].public_url, None);
        let insta = images_for(rules(Platform::Instagram), &[card()], Some("  "));
        assert_eq!(insta[0].public_url, None);
        let mut old = card();
        old.public_token = None;
        let insta = images_for(
            rules(Platform::Instagram),
            &[old],
            Some("https://alerts.example.gov"),
        );
        assert_eq!(insta[0].public_url, None);
    }
}
