//! What the streams heard, taken in: a post is stored in the conversation of every open
//! session whose hashtag it carries and, only when this node stored it first, published
//! to the panels (the relay carries it to other nodes' panels); a deletion marks the
//! stored copies; a stream's state goes to the status map and the panels. With the
//! database away, what was heard is logged and dropped: Jetstream resumes from its cursor
//! after a reconnect, and Mastodon posts missed meanwhile are not fetched again.

use chrono::Utc;
use tocsin_monitor::{Heard, HeardPost, Source, StreamStatus};
use tocsin_store::NewConversationPost;
use tokio::sync::mpsc;

use super::wanted::normalize_tag;
use crate::conversation::ConversationPostView;
use crate::events::PanelEvent;
use crate::Tocsin;

/// The longest text kept of one post, in characters (Mastodon allows 500 by default,
/// some instances far more; the panel needs no more than this).
const MAX_TEXT_CHARS: usize = 5_000;

/// Takes in what the streams send until every sender is gone.
pub(super) async fn run(app: Tocsin, mut heard: mpsc::Receiver<Heard>) {
    while let Some(item) = heard.recv().await {
        match item {
            Heard::Post(post) => take_post(&app, post).await,
            Heard::Deleted { source, remote_id } => take_deletion(&app, &source, &remote_id).await,
            Heard::Status(status) => take_status(&app, status),
        }
    }
}

fn platform_and_instance(source: &Source) -> (tocsin_domain::Platform, Option<String>) {
    match source {
        Source::Mastodon { instance } => {
            (tocsin_domain::Platform::Mastodon, Some(instance.clone()))
        }
        Source::Bluesky => (tocsin_domain::Platform::Bluesky, None),
    }
}

/// A link the panel may open: http(s) only (a post's URL comes from outside).
fn safe_url(url: Option<&str>) -> Option<String> {
    let url = url?;
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// The stored row for a heard post. Its network-wide id: a Mastodon status id is only
/// good on the instance that said it, so the status's canonical URL (the same on every
/// instance it federated to) stands for it; Bluesky's `at://` URI is already global.
fn new_post(post: &HeardPost) -> NewConversationPost {
    let (platform, instance) = platform_and_instance(&post.source);
    let url = safe_url(post.url.as_deref());
    let remote_id = match (&post.source, &url) {
        (Source::Mastodon { .. }, Some(url)) => url.clone(),
        (Source::Mastodon { instance }, None) => format!("{instance}/{}", post.remote_id),
        (Source::Bluesky, _) => post.remote_id.clone(),
    };
    NewConversationPost {
        platform,
        source_instance: instance,
        remote_id,
        source_post_id: post.remote_id.clone(),
        author_handle: post.author_handle.chars().take(300).collect(),
        author_name: post.author_name.chars().take(300).collect(),
        text: post.text.chars().take(MAX_TEXT_CHARS).collect(),
        url,
        posted_at: post.posted_at,
    }
}

async fn take_post(app: &Tocsin, post: HeardPost) {
    let tags: Vec<String> = post.tags.iter().map(|t| normalize_tag(t)).collect();
    let sessions = app.0.monitor.sessions_for(&tags);
    if sessions.is_empty() {
        return;
    }
    let row = new_post(&post);
    let now = app.0.store.now();
    for session_id in sessions {
        let (admitted, ended) = app
            .0
            .monitor
            .cap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(session_id, now);
        for (session, dropped) in ended {
            tracing::warn!(
                session,
                dropped,
                "posts heard over the per-session cap ([monitor] max_posts_per_minute) were not stored"
            );
        }
        if !admitted {
            continue;
        }
        match app
            .0
            .store
            .conversation()
            .insert_post(session_id, &row)
            .await
        {
            Ok(Some(id)) => publish(app, session_id, id).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(
                session = session_id,
                platform = %row.platform,
                remote_id = %row.remote_id,
                error = %e,
                "a heard post could not be stored; dropped"
            ),
        }
    }
}

async fn take_deletion(app: &Tocsin, source: &Source, remote_id: &str) {
    let (platform, instance) = platform_and_instance(source);
    match app
        .0
        .store
        .conversation()
        .mark_deleted(platform.as_str(), instance.as_deref(), remote_id)
        .await
    {
        Ok(marked) => {
            for d in marked {
                publish(app, d.session_id, d.post_id).await;
            }
        }
        Err(e) => tracing::warn!(
            platform = platform.as_str(),
            remote_id,
            error = %e,
            "a deletion could not be recorded; dropped"
        ),
    }
}

/// Sends a post as it is stored now to every panel.
pub(crate) async fn publish(app: &Tocsin, session_id: i64, post_id: i64) {
    match app.0.store.conversation().post(session_id, post_id).await {
        Ok(Some(row)) => app.0.hub.publish(&PanelEvent::ConversationPost {
            post: ConversationPostView::from(&row),
        }),
        Ok(None) => {}
        Err(e) => tracing::warn!(
            session = session_id,
            post = post_id,
            error = %e,
            "a stored post could not be read back for the panels"
        ),
    }
}

fn take_status(app: &Tocsin, status: StreamStatus) {
    if app.0.monitor.update_status(&status, Utc::now()) {
        app.0.hub.publish(&PanelEvent::MonitorStatus {
            status: app.0.monitor.status_view(&status),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn heard(source: Source, id: &str, url: Option<&str>) -> HeardPost {
        HeardPost {
            source,
            remote_id: id.into(),
            tags: vec!["stvknee".into()],
            author_handle: "ann@a.example".into(),
            author_name: "Ann".into(),
            text: "x".repeat(MAX_TEXT_CHARS + 10),
            url: url.map(String::from),
            posted_at: Utc
                .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_mastodon_post_is_keyed_by_its_url_so_two_instances_store_it_once() {
        let url = Some("https://a.example/@ann/111");
        let on_a = new_post(&heard(
            Source::Mastodon {
                instance: "a.example".into(),
            },
            "111",
            url,
        ));
        let on_b = new_post(&heard(
            Source::Mastodon {
                instance: "b.example".into(),
            },
            "999",
            url,
        ));
        assert_eq!(on_a.remote_id, on_b.remote_id);
        assert_eq!(on_a.source_post_id, "111");
        assert_eq!(on_b.source_post_id, "999");
        assert_eq!(on_a.text.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn a_link_that_is_not_http_is_dropped() {
        let p = new_post(&heard(
            Source::Mastodon {
                instance: "a.example".into(),
            },
            "5",
            Some("javascript:alert(1)"),
        ));
        assert_eq!(p.url, None);
        assert_eq!(p.remote_id, "a.example/5");
        let b = new_post(&heard(
            Source::Bluesky,
            "at://did:plc:x/app.bsky.feed.post/3k",
            None,
        ));
        assert_eq!(b.remote_id, "at://did:plc:x/app.bsky.feed.post/3k");
        assert_eq!(b.source_instance, None);
    }
}
