//! Mastodon's public hashtag timeline, polled: for an instance read without a token, since
//! Mastodon 4.2 refuses the streaming websocket to anyone without a user token while
//! `GET /api/v1/timelines/tag/{tag}?since_id=…&limit=40` stays public (unless the instance
//! turned public previews off). Every poll asks for what is newer than the newest status
//! seen; the first poll only remembers that id, so a session hears what is posted after
//! its stream started, as with the websocket. Deletions cannot be seen this way.

use crate::trust::ExtraRoots;
use rand::Rng;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::connection::{Flow, Outlet, StreamHandle};
use crate::mastodon::{status_to_post, Status};
use crate::StreamState;
use crate::{Backoff, ConfigError, Heard, HeardPost, MastodonHashtagStream, Source};

/// How often a timeline is polled unless told otherwise.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(15);
/// How long one poll may take, connecting included, unless told otherwise.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(20);
/// The most statuses one poll asks for (Mastodon's own maximum).
pub const PAGE: usize = 40;
/// A body larger than this is refused: 40 statuses are far smaller.
const BODY_CAP: usize = 4 * 1024 * 1024;
/// The longest `Retry-After` honoured; a longer one is cut to this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(15 * 60);

/// How a timeline is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePolling {
    /// The pause between good polls, give or take a fifth (jitter, so instances polled
    /// together drift apart).
    pub every: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// Certificate authorities to trust beyond the bundled roots.
    pub roots: ExtraRoots,
}

impl Default for TimelinePolling {
    fn default() -> TimelinePolling {
        TimelinePolling {
            every: DEFAULT_POLL_EVERY,
            timeout: DEFAULT_POLL_TIMEOUT,
            roots: ExtraRoots::default(),
        }
    }
}

impl TimelinePolling {
    /// A random pause between 0.8 and 1.2 times `every`.
    fn pause(&self) -> Duration {
        self.every.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
    }
}

/// The timeline URL: `https://host/api/v1/timelines/tag/{tag}?limit=40[&since_id=…]`.
pub fn timeline_url(
    stream: &MastodonHashtagStream,
    since_id: Option<&str>,
) -> Result<Url, ConfigError> {
    let tag = stream.normalized_tag();
    if tag.is_empty() || tag.chars().any(char::is_whitespace) || tag.contains('/') {
        return Err(ConfigError::Tag(stream.tag.clone()));
    }
    let base = &stream.instance_url;
    let scheme = match base.scheme() {
        "https" | "wss" => "https",
        "http" | "ws" => "http",
        other => {
            return Err(ConfigError::Scheme {
                url: base.to_string(),
                scheme: other.to_string(),
            })
        }
    };
    let host = base
        .host_str()
        .ok_or_else(|| ConfigError::NoHost(base.to_string()))?;
    let mut url = Url::parse(&format!("{scheme}://{host}/"))
        .map_err(|e| ConfigError::Url(format!("{base}: {e}")))?;
    if let Some(port) = base.port() {
        url.set_port(Some(port))
            .map_err(|()| ConfigError::Url(base.to_string()))?;
    }
    url.path_segments_mut()
        .map_err(|()| ConfigError::Url(base.to_string()))?
        .extend(["api", "v1", "timelines", "tag", &tag]);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("limit", &PAGE.to_string());
        if let Some(id) = since_id {
            query.append_pair("since_id", id);
        }
    }
    Ok(url)
}

/// One page of a hashtag timeline for `tag` (lowercase, no `#`): its posts oldest first
/// (reblogs and statuses not tagged `tag` left out) and the newest status id on the page,
/// whatever it was.
pub fn parse_timeline(
    body: &[u8],
    tag: &str,
    source: &Source,
) -> Result<(Vec<HeardPost>, Option<String>), serde_json::Error> {
    let statuses: Vec<Status> = serde_json::from_slice(body)?;
    let newest = statuses
        .iter()
        .map(|s| s.id.clone())
        .max_by(|a, b| compare_ids(a, b));
    let mut posts: Vec<HeardPost> = statuses
        .into_iter()
        .filter_map(|s| status_to_post(s, tag, source))
        .collect();
    posts.sort_by(|a, b| compare_ids(&a.remote_id, &b.remote_id));
    Ok((posts, newest))
}

/// Mastodon ids are decimal numbers too large for some clients, sent as strings: a longer
/// one is newer, and of equal length the greater.
fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Starts polling one Mastodon hashtag timeline. The stream's token, if any, goes as
/// `Authorization: Bearer` (for instances that turned public previews off).
pub fn spawn_mastodon_timeline(
    stream: MastodonHashtagStream,
    polling: TimelinePolling,
    backoff: Backoff,
    tx: mpsc::Sender<Heard>,
) -> StreamHandle {
    let (stop, stop_rx) = watch::channel(false);
    let name = stream.stream_name();
    let poller = Poller {
        out: Outlet::new(name.clone(), tx, stop_rx),
        name,
        tag: stream.normalized_tag(),
        source: stream.source(),
        stream,
        polling,
        backoff,
    };
    StreamHandle::new(tokio::spawn(poller.run()), stop)
}

/// Why a poll failed: the words for the panel, and a wait the instance asked for.
struct Failure {
    error: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: String) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

struct Poller {
    name: String,
    tag: String,
    source: Source,
    stream: MastodonHashtagStream,
    polling: TimelinePolling,
    backoff: Backoff,
    out: Outlet,
}

impl Poller {
    async fn run(mut self) {
        let flow = self.poll_until_stopped().await;
        self.out.finish(flow).await;
        tracing::debug!(stream = %self.name, "timeline polling ended");
    }

    async fn poll_until_stopped(&mut self) -> Flow {
        let client = match self
            .polling
            .roots
            .http(reqwest::Client::builder())
            .timeout(self.polling.timeout)
            .connect_timeout(self.polling.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(stream = %self.name, "no HTTP client: {e}");
                None
            }
        };
        if let Err(flow) = self.out.status(StreamState::Connecting).await {
            return flow;
        }
        let mut since_id: Option<String> = None;
        let mut attempt: u32 = 0;
        let mut connected = false;
        loop {
            let result = match &client {
                Some(client) => match self
                    .out
                    .wait_value(self.poll(client, since_id.as_deref()))
                    .await
                {
                    Ok(result) => result,
                    Err(flow) => return flow,
                },
                None => Err(Failure::new("no HTTP client could be built".into())),
            };
            let pause = match result {
                Ok((posts, newest)) => {
                    // The first page only tells where "now" is.
                    let first = since_id.is_none();
                    if let Some(newest) = newest {
                        if since_id
                            .as_deref()
                            .is_none_or(|s| compare_ids(&newest, s).is_gt())
                        {
                            since_id = Some(newest);
                        }
                    } else if first {
                        // An empty timeline: anything from now on is new.
                        since_id = Some("0".into());
                    }
                    if !connected {
                        connected = true;
                        if let Err(flow) = self.out.status(StreamState::Connected).await {
                            return flow;
                        }
                    }
                    attempt = 0;
                    if !first {
                        if posts.len() >= PAGE {
                            tracing::warn!(stream = %self.name, "a full page of {PAGE} new statuses: older ones in between may be missed");
                        }
                        for post in posts {
                            if let Err(flow) = self.out.send(Heard::Post(post)).await {
                                return flow;
                            }
                        }
                    }
                    self.polling.pause()
                }
                Err(failure) => {
                    connected = false;
                    attempt = attempt.saturating_add(1);
                    let mut retry_in = self.backoff.delay(attempt);
                    if let Some(asked) = failure.retry_after {
                        retry_in = retry_in.max(asked.min(RETRY_AFTER_CAP));
                    }
                    tracing::info!(stream = %self.name, attempt, ?retry_in, "timeline poll failed: {}", failure.error);
                    let reconnecting = StreamState::Reconnecting {
                        attempt,
                        retry_in,
                        last_error: failure.error,
                    };
                    if let Err(flow) = self.out.status(reconnecting).await {
                        return flow;
                    }
                    retry_in
                }
            };
            if let Err(flow) = self.out.wait_value(tokio::time::sleep(pause)).await {
                return flow;
            }
        }
    }

    /// One request: the page's posts and newest id, or why it failed.
    async fn poll(
        &self,
        client: &reqwest::Client,
        since_id: Option<&str>,
    ) -> Result<(Vec<HeardPost>, Option<String>), Failure> {
        let url = timeline_url(&self.stream, since_id).map_err(|e| Failure::new(e.to_string()))?;
        let mut request = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.stream.token {
            request = request.bearer_auth(secrecy::ExposeSecret::expose_secret(token));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| Failure::new(describe(e)))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failure {
                error: self.refused(status),
                retry_after: retry_after(response.headers()),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::new(describe(e)))?
        {
            if body.len().saturating_add(chunk.len()) > BODY_CAP {
                return Err(Failure::new(format!(
                    "the timeline was larger than {} MiB; not read",
                    BODY_CAP / (1024 * 1024)
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_timeline(&body, &self.tag, &self.source)
            .map_err(|e| Failure::new(format!("the timeline is not a list of statuses: {e}")))
    }

    fn refused(&self, status: u16) -> String {
        let has_token = self.stream.token.is_some();
        match status {
            401 | 403 if has_token => format!("instance refused the token ({status})"),
            401 | 403 => format!(
                "instance shows its hashtag timeline only to signed-in users; add an account \
                 on it ({status})"
            ),
            404 => "instance has no hashtag timeline at /api/v1/timelines/tag (404)".into(),
            429 => "instance is rate limiting requests (429)".into(),
            code => format!("instance answered the timeline request with {code}"),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is left to the backoff).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A request error in words for the panel: its causes, without the URL.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "the instance did not answer in time".into();
    }
    let what = if e.is_connect() {
        "could not connect to the instance"
    } else if e.is_body() || e.is_decode() {
        "reading the timeline failed"
    } else {
        "the timeline request failed"
    };
    let e = e.without_url();
    let mut text = what.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(url: &str, tag: &str) -> MastodonHashtagStream {
        MastodonHashtagStream {
            instance_url: Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}")),
            token: None,
            tag: tag.into(),
        }
    }

    #[test]
    fn the_timeline_url_names_the_tag_the_page_size_and_the_newest_id_seen() {
        let url = timeline_url(&stream("https://m.example:8443/x", "#StvKnee"), Some("110"));
        assert_eq!(
            url.map(|u| u.to_string()),
            Ok("https://m.example:8443/api/v1/timelines/tag/stvknee?limit=40&since_id=110".into())
        );
        assert!(matches!(
            timeline_url(&stream("https://m.example", "a/b"), None),
            Err(ConfigError::Tag(_))
        ));
        assert!(matches!(
            timeline_url(&stream("ftp://m.example", "x"), None),
            Err(ConfigError::Scheme { .. })
        ));
    }

    #[test]
    fn longer_ids_are_newer() {
        assert!(compare_ids("110", "99").is_gt());
        assert!(compare_ids("110", "111").is_lt());
    }

    #[test]
    fn a_pause_stays_within_a_fifth_of_the_interval() {
        let polling = TimelinePolling {
            every: Duration::from_secs(15),
            timeout: DEFAULT_POLL_TIMEOUT,
            ..TimelinePolling::default()
        };
        for _ in 0..100 {
            let pause = polling.pause();
            assert!(pause >= Duration::from_secs(12) && pause <= Duration::from_secs(18));
        }
    }
}
