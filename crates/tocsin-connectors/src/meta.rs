//! Meta's Graph API error answers, shared by Facebook Pages, Threads and Instagram:
//! `{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}`
//! (the trace id is kept in the message, as Meta's support asks for it), mapped to
//! [`ConnectorError`] by code (throttling 4/17/32/613 and the 80000s, token 190/102,
//! permission 10/200-299, temporary 1/2) with the wait read from the usage headers.
//! Also what Instagram and Threads share of Meta's content publishing protocol: the
//! publishing-limit answer, the forms of a carousel's item and album containers, and
//! waiting for a container to be ready.

use serde::Deserialize;
use std::time::Duration;
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::rate_limit::retry_after;
use tocsin_connector::{ConnectorError, PublishingQuota};

/// What one read of a media container's status said: Meta's state (`FINISHED`,
/// `IN_PROGRESS`, `PUBLISHED`, `ERROR`, `EXPIRED`; empty when not given) and the reason
/// given with it.
pub(crate) struct ContainerState {
    pub state: String,
    pub reason: Option<String>,
}

/// Reads a container's status with `read` until it is `FINISHED` (Meta: publish or name
/// it in a carousel only then), waiting `poll` between reads, at most `reads` times.
/// `ERROR` or `EXPIRED` is permanent with the platform's reason; still `IN_PROGRESS` at
/// the end is transient (nothing was published, and a retry makes new containers).
/// `platform` and `what` (`the post`, `image 2 of 3`) name it in errors; `read` maps its
/// own transport and answer errors.
pub(crate) async fn await_container<F, Fut>(
    platform: &str,
    what: &str,
    reads: u32,
    poll: Duration,
    mut read: F,
) -> Result<(), ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ContainerState, ConnectorError>>,
{
    for n in 0..reads {
        if n > 0 {
            tokio::time::sleep(poll).await;
        }
        let status = read().await?;
        match status.state.as_str() {
            "FINISHED" => return Ok(()),
            "IN_PROGRESS" | "" => continue,
            "PUBLISHED" => {
                return Err(ConnectorError::Permanent(format!(
                    "{platform} says the container for {what} was published already"
                )))
            }
            other => {
                return Err(ConnectorError::Permanent(format!(
                    "{platform} could not prepare {what} (container {}): {} \
                     (nothing was published)",
                    printable(other),
                    printable(status.reason.as_deref().unwrap_or("no reason given"))
                )))
            }
        }
    }
    Err(ConnectorError::Transient(format!(
        "the {platform} container for {what} was still in progress after {reads} reads \
         (nothing was published)"
    )))
}

/// A Graph API list answer (`{"data": [...], "paging": {"next": ...}}`): a Page's posts,
/// a profile's media, a post's comments, the publishing limit.
#[derive(Debug, Deserialize)]
pub(crate) struct Listing<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

impl<T> Listing<T> {
    /// Whether the platform says there is a next page.
    pub fn has_next(&self) -> bool {
        self.paging.as_ref().is_some_and(|p| p.next.is_some())
    }
}

/// One entry of a publishing-limit answer (Instagram's `content_publishing_limit`,
/// Threads' `threads_publishing_limit`): `{"quota_usage": N, "config": {"quota_total",
/// "quota_duration"}}`.
#[derive(Debug, Deserialize)]
struct QuotaEntry {
    #[serde(default)]
    quota_usage: Option<u64>,
    #[serde(default)]
    config: Option<QuotaConfig>,
}

#[derive(Debug, Deserialize)]
struct QuotaConfig {
    #[serde(default)]
    quota_total: Option<u64>,
    #[serde(default)]
    quota_duration: Option<u64>,
}

/// Sends `request` (a `GET` of the publishing-limit edge with
/// `fields=quota_usage,config`) and reads the account's [`PublishingQuota`] from the
/// answer; `edge` and `platform` name it in errors, `scope` is the permission it needs.
/// An answer without `quota_usage`, `config.quota_total` or `config.quota_duration`
/// is an error that says which is missing, never a guessed quota.
pub(crate) async fn read_publishing_quota(
    platform: &str,
    edge: &str,
    http: &HttpClient,
    request: reqwest::RequestBuilder,
    scope: &str,
) -> Result<PublishingQuota, ConnectorError> {
    let reply = http
        .send(request, false)
        .await
        .map_err(ConnectorError::for_read)?;
    let listing: Listing<QuotaEntry> = success_with_scope(platform, &reply, scope)?
        .json()
        .map_err(ConnectorError::for_read)?;
    let unreadable = |what: &str| {
        ConnectorError::Transient(format!(
            "the {edge} answer from {platform} has no {what}: {}",
            reply.excerpt()
        ))
    };
    let entry = listing
        .data
        .into_iter()
        .next()
        .ok_or_else(|| unreadable("entry in data"))?;
    let used = entry.quota_usage.ok_or_else(|| unreadable("quota_usage"))?;
    let config = entry.config.ok_or_else(|| unreadable("config"))?;
    let total = config
        .quota_total
        .ok_or_else(|| unreadable("config.quota_total"))?;
    let seconds = config
        .quota_duration
        .filter(|s| *s > 0)
        .ok_or_else(|| unreadable("config.quota_duration"))?;
    Ok(PublishingQuota {
        used,
        total,
        window: Duration::from_secs(seconds),
    })
}

/// The form of one carousel item container: an image Meta fetches from `url`, with its
/// description, marked `is_carousel_item`. Threads wants `media_type=IMAGE` on it;
/// Instagram takes an image from `image_url` alone (`media_type: None`).
pub(crate) fn carousel_item(
    url: &str,
    alt: &str,
    media_type: Option<&'static str>,
) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&'static str, String)> = media_type
        .map(|t| ("media_type", t.to_string()))
        .into_iter()
        .collect();
    form.extend([
        ("image_url", url.to_string()),
        ("alt_text", alt.to_string()),
        ("is_carousel_item", "true".to_string()),
    ]);
    form
}

/// The form of the carousel (album) container: its item containers in order and the
/// post's text under `text_field` (Instagram's `caption`, Threads' `text`).
pub(crate) fn carousel_album(
    children: &[String],
    text_field: &'static str,
    text: String,
) -> Vec<(&'static str, String)> {
    vec![
        ("media_type", "CAROUSEL".to_string()),
        ("children", children.join(",")),
        (text_field, text),
    ]
}

/// The parts of a Graph error the connectors read.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

/// The Graph error in a reply's body, if it is one.
pub(crate) fn parse(reply: &Reply) -> Option<GraphError> {
    serde_json::from_slice::<Envelope>(&reply.body)
        .ok()
        .map(|e| e.error)
}

/// Whether the error says the object does not exist (code 100, subcode 33), which a
/// delete takes as done.
pub(crate) fn is_missing_object(error: &GraphError) -> bool {
    error.code == Some(100) && error.error_subcode == Some(33)
}

/// The longest `estimated_time_to_regain_access` (minutes) in
/// `X-Business-Use-Case-Usage` (`{"<id>": [{"type", "call_count", ...,
/// "estimated_time_to_regain_access"}]}`). `X-App-Usage` gives only percentages, no
/// time, so it is not read here.
pub(crate) fn usage_wait(reply: &Reply) -> Option<Duration> {
    let value: serde_json::Value = reply
        .headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str(v).ok())?;
    let minutes = value
        .as_object()?
        .values()
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes.saturating_mul(60)))
}

/// Classifies a non-success Graph answer; `platform` names it in the message.
pub(crate) fn error_for(platform: &str, reply: &Reply) -> ConnectorError {
    let status = reply.status.as_u16();
    let Some(error) = parse(reply) else {
        let what = format!("{platform} HTTP {status}: {}", reply.excerpt());
        return reply.status_error_saying(what);
    };
    let code = error.code.unwrap_or_default();
    let what = format!(
        "{platform} HTTP {status}: {} (code {code}{}{})",
        printable(&error.message),
        error
            .error_subcode
            .map(|s| format!(", subcode {s}"))
            .unwrap_or_default(),
        error
            .fbtrace_id
            .as_deref()
            .map(|t| format!(", fbtrace_id {}", printable(t)))
            .unwrap_or_default()
    );
    match code {
        4 | 17 | 32 | 613 | 80_000..=80_014 => ConnectorError::RateLimited {
            retry_after: retry_after(&reply.headers).or_else(|| usage_wait(reply)),
            reason: what,
        },
        190 | 102 => {
            ConnectorError::Auth(format!("{what}: the access token is expired or revoked"))
        }
        10 | 200..=299 => {
            ConnectorError::Auth(format!("{what}: the token lacks a permission this needs"))
        }
        1 | 2 => ConnectorError::Transient(what),
        _ if error.is_transient == Some(true) => ConnectorError::Transient(what),
        _ if error.kind.as_deref() == Some("OAuthException") && status == 401 => {
            ConnectorError::Auth(what)
        }
        _ if status == 429 => reply.status_error_saying(what),
        _ if status >= 500 => ConnectorError::Transient(what),
        _ => ConnectorError::Permanent(what),
    }
}

/// `reply` when it is a success, else the Graph error it carries, as `platform` said it.
pub(crate) fn success<'r>(platform: &str, reply: &'r Reply) -> Result<&'r Reply, ConnectorError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(error_for(platform, reply))
    }
}

/// `reply` when it is a success, else its Graph error; a missing permission (code 10,
/// 200-299) fails this call naming `scope`, as a refusal of this call rather than of the
/// token (the account can still do what it has the scopes for).
pub(crate) fn success_with_scope<'r>(
    platform: &str,
    reply: &'r Reply,
    scope: &str,
) -> Result<&'r Reply, ConnectorError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    match parse(reply).and_then(|e| e.code) {
        Some(10 | 200..=299) => Err(ConnectorError::Permanent(format!(
            "{platform} refused: the token lacks the {scope} permission (connect the account \
             again with Connect with {platform} to grant it)"
        ))),
        _ => Err(error_for(platform, reply)),
    }
}
