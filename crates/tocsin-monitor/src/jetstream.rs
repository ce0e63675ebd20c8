//! Bluesky through Jetstream: `{base}/subscribe?wantedCollections=app.bsky.feed.post`,
//! JSON commit events for every new post on the network, filtered here by hashtag
//! (tag facets and the record's `tags`). On reconnect `cursor` (unix microseconds)
//! resumes a few seconds before the last event seen, so nothing is lost in the gap; the
//! replayed overlap is not reported twice.
//!
//! The firehose carries hundreds of posts a second, so an event is parsed borrowing from
//! the frame, its record left raw, and a record is only parsed when its text mentions a
//! tag facet or a `tags` field at all.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use url::Url;

use crate::connection::Feed;
use crate::mastodon::normalize_tag;
use crate::{ConfigError, Heard, HeardPost, Source};

/// The collection of Bluesky posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";
/// How far before the last event seen a reconnect resumes.
pub const CURSOR_REWIND_US: u64 = 5_000_000;
/// The stream's stable name.
pub const STREAM_NAME: &str = "bluesky jetstream";
/// How many reported posts are remembered, to skip replays and to match deletes.
const REMEMBERED_POSTS: usize = 20_000;

/// Bluesky's public posts, filtered to a set of hashtags that can change while running.
#[derive(Debug, Clone)]
pub struct JetstreamStream {
    /// The Jetstream instance, e.g. `wss://jetstream2.us-east.bsky.network` (`/subscribe`
    /// is added unless already there).
    pub url: Url,
    /// The tags to keep, lowercase without `#`; changes apply without reconnecting.
    pub tags: watch::Receiver<BTreeSet<String>>,
}

impl JetstreamStream {
    /// The subscribe URL, with `cursor` when resuming. An error names what is wrong with
    /// the base URL.
    pub fn subscribe_url(&self, cursor: Option<u64>) -> Result<Url, ConfigError> {
        let mut url = self.url.clone();
        let scheme = match url.scheme() {
            "wss" | "https" => "wss",
            "ws" | "http" => "ws",
            other => {
                return Err(ConfigError::Scheme {
                    url: self.url.to_string(),
                    scheme: other.to_string(),
                })
            }
        };
        if url.host_str().is_none() {
            return Err(ConfigError::NoHost(self.url.to_string()));
        }
        url.set_scheme(scheme)
            .map_err(|()| ConfigError::Url(self.url.to_string()))?;
        if !url.path().ends_with("/subscribe") {
            let path = format!("{}/subscribe", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("wantedCollections", POST_COLLECTION);
            if let Some(cursor) = cursor {
                query.append_pair("cursor", &cursor.to_string());
            }
        }
        Ok(url)
    }
}

/// The [`Feed`] for Jetstream.
pub(crate) struct JetstreamFeed {
    stream: JetstreamStream,
    watched: BTreeSet<String>,
    last_time_us: Option<u64>,
    reported: ReportedPosts,
}

impl JetstreamFeed {
    pub(crate) fn new(mut stream: JetstreamStream) -> JetstreamFeed {
        let watched = lowercase_set(&stream.tags.borrow_and_update());
        JetstreamFeed {
            stream,
            watched,
            last_time_us: None,
            reported: ReportedPosts::default(),
        }
    }

    fn refresh_watched(&mut self) {
        if self.stream.tags.has_changed().unwrap_or(false) {
            self.watched = lowercase_set(&self.stream.tags.borrow_and_update());
        }
    }

    /// One frame: what to report, or why it is malformed.
    pub(crate) fn handle(&mut self, text: &str) -> Result<Option<Heard>, String> {
        let event: Event<'_> =
            serde_json::from_str(text).map_err(|e| format!("not a Jetstream event: {e}"))?;
        if let Some(t) = event.time_us {
            self.last_time_us = Some(self.last_time_us.map_or(t, |last| last.max(t)));
        }
        if event.kind != "commit" {
            return Ok(None);
        }
        let commit = event
            .commit
            .ok_or_else(|| "commit event without `commit`".to_string())?;
        if commit.collection != POST_COLLECTION {
            return Ok(None);
        }
        match &*commit.operation {
            "create" => {
                self.refresh_watched();
                if self.watched.is_empty() {
                    return Ok(None);
                }
                let raw = commit
                    .record
                    .ok_or_else(|| format!("create of {} without `record`", commit.rkey))?
                    .get();
                if !raw.contains("facet#tag") && !raw.contains("\"tags\"") {
                    return Ok(None);
                }
                let record: PostRecord = serde_json::from_str(raw)
                    .map_err(|e| format!("post record {} is malformed: {e}", commit.rkey))?;
                let tags = record.hashtags();
                if !tags.iter().any(|t| self.watched.contains(t)) {
                    return Ok(None);
                }
                let remote_id = post_uri(&event.did, &commit.rkey);
                if !self.reported.insert(&remote_id) {
                    return Ok(None);
                }
                let posted_at = DateTime::parse_from_rfc3339(&record.created_at)
                    .map(|t| t.with_timezone(&Utc))
                    .ok()
                    .or_else(|| {
                        event
                            .time_us
                            .and_then(|t| i64::try_from(t).ok())
                            .and_then(DateTime::from_timestamp_micros)
                    })
                    .unwrap_or_else(Utc::now);
                Ok(Some(Heard::Post(HeardPost {
                    source: Source::Bluesky,
                    url: Some(format!(
                        "https://bsky.app/profile/{}/post/{}",
                        event.did, commit.rkey
                    )),
                    remote_id,
                    tags,
                    author_handle: event.did.to_string(),
                    author_name: event.did.to_string(),
                    text: record.text,
                    posted_at,
                })))
            }
            "delete" => {
                let remote_id = post_uri(&event.did, &commit.rkey);
                Ok(self
                    .reported
                    .mark_deleted(&remote_id)
                    .then_some(Heard::Deleted {
                        source: Source::Bluesky,
                        remote_id,
                    }))
            }
            _ => Ok(None),
        }
    }
}

impl Feed for JetstreamFeed {
    fn name(&self) -> &str {
        STREAM_NAME
    }

    fn request(&mut self) -> Result<Request, String> {
        let cursor = self
            .last_time_us
            .map(|t| t.saturating_sub(CURSOR_REWIND_US));
        let url = self
            .stream
            .subscribe_url(cursor)
            .map_err(|e| e.to_string())?;
        url.as_str()
            .into_client_request()
            .map_err(|e| format!("cannot build the upgrade request for {url}: {e}"))
    }

    fn refused(&self, status: u16) -> String {
        match status {
            404 => "Jetstream has no /subscribe endpoint at this URL (404)".into(),
            429 => "Jetstream is rate limiting connections (429)".into(),
            code => format!("Jetstream refused the websocket upgrade ({code})"),
        }
    }

    fn on_text(&mut self, text: &str, out: &mut Vec<Heard>) {
        match self.handle(text) {
            Ok(Some(heard)) => out.push(heard),
            Ok(None) => {}
            Err(e) => tracing::warn!(stream = STREAM_NAME, "skipped a Jetstream frame: {e}"),
        }
    }
}

fn post_uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/{POST_COLLECTION}/{rkey}")
}

fn lowercase_set(tags: &BTreeSet<String>) -> BTreeSet<String> {
    tags.iter()
        .map(|t| normalize_tag(t))
        .filter(|t| !t.is_empty())
        .collect()
}

/// Posts reported so far (bounded, oldest forgotten first), and whether each was deleted
/// since: a replayed create is not reported again, a delete only for a reported post.
#[derive(Default)]
struct ReportedPosts {
    deleted: HashMap<String, bool>,
    order: VecDeque<String>,
}

impl ReportedPosts {
    /// Remembers a post; false when it was already known.
    fn insert(&mut self, id: &str) -> bool {
        if self.deleted.contains_key(id) {
            return false;
        }
        if self.order.len() >= REMEMBERED_POSTS {
            if let Some(old) = self.order.pop_front() {
                self.deleted.remove(&old);
            }
        }
        self.deleted.insert(id.to_string(), false);
        self.order.push_back(id.to_string());
        true
    }

    /// Marks a reported post deleted; true the first time.
    fn mark_deleted(&mut self, id: &str) -> bool {
        match self.deleted.get_mut(id) {
            Some(deleted) if !*deleted => {
                *deleted = true;
                true
            }
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    did: Cow<'a, str>,
    time_us: Option<u64>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    commit: Option<Commit<'a>>,
}

#[derive(Deserialize)]
struct Commit<'a> {
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    collection: Cow<'a, str>,
    #[serde(borrow)]
    rkey: Cow<'a, str>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct PostRecord {
    #[serde(default)]
    text: String,
    #[serde(rename = "createdAt", default)]
    created_at: String,
    #[serde(default)]
    facets: Vec<Facet>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Facet {
    #[serde(default)]
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(rename = "$type", default)]
    kind: String,
    tag: Option<String>,
}

impl PostRecord {
    /// Tag facets then `tags`, lowercase, without `#`, each once.
    fn hashtags(&self) -> Vec<String> {
        let from_facets = self
            .facets
            .iter()
            .flat_map(|f| &f.features)
            .filter(|f| f.kind == "app.bsky.richtext.facet#tag")
            .filter_map(|f| f.tag.as_deref());
        let mut tags: Vec<String> = Vec::new();
        for tag in from_facets.chain(self.tags.iter().map(String::as_str)) {
            let tag = normalize_tag(tag);
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }
}
