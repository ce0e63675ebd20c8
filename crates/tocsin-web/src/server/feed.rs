//! The public alert feed, for aggregators and the public, no sign-in:
//! `GET /feed/alerts.atom` (real alerts), `GET /feed/exercise.atom` (exercise ones) and
//! `GET /feed/cap/{id}.xml` (one message's CAP 1.2 document).
//!
//! Only messages from playbooks with a `[cap]` block appear: the playbook's author
//! declared them public alerts (live sessions and service notices have none). What each
//! becomes (`Alert`, `Update`, `Cancel`) is [`tocsin_domain::alert_feed`]'s rule; this
//! reads the store and the playbook library, and fills each alert's `info` with approved
//! text only: the approved headline, the approved text of one channel as `description`
//! ([`description_from`]), the approved WEA texts (one `info` per language, with
//! `CMAMtext` and `CMAMlongtext`), `expires` from the playbook's `[cap] expires_hours`,
//! and the area, web page and contact taken from the draft's values, each only when it
//! appears word for word in what was approved. An exercise message is never in the real
//! feed; its document says `<status>Exercise</status>`.
//!
//! The two Atom feeds are kept as last composed and recomposed only when a message was
//! added, retracted or fell due ([`FeedCache`]).
//!
//! Links are absolute, under `[server] public_url`; without it, only a request to a
//! loopback `Host` is answered (local use and tests), others get 404 `not_configured`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tocsin_domain::alert_feed::{self, FeedAlert, FeedSite, Published, PublishedMessage};
use tocsin_domain::atom::ATOM_MEDIA_TYPE;
use tocsin_domain::cap::{description_from, CapAlertInfo, CapArea, CapStatus, CAP_MEDIA_TYPE};
use tocsin_domain::compose::ComposeOptions;
use tocsin_domain::playbook::{StepCap, TextTarget};
use tocsin_domain::variables::VariableKind;
use tocsin_domain::wea::{WeaLanguage, WeaLength, WeaTexts};
use tocsin_store::feed::FeedFingerprint;
use tocsin_store::FeedMessage;

use super::error::{ApiError, ApiResult, Path};
use super::host::loopback_base;
use super::WebState;
use tocsin_app::drafts::DraftInputs;
use tocsin_app::ErrorKind;

/// Messages read per answer: the feed's entries and the earlier alerts they reference.
const WINDOW: i64 = 200;

/// How long a cache may keep an answer, in seconds.
const MAX_AGE: &str = "public, max-age=60";

/// `GET /feed/alerts.atom`: the newest real alerts.
pub async fn alerts(State(web): State<WebState>, headers: HeaderMap) -> ApiResult<Response> {
    feed(&web, &headers, false).await
}

/// `GET /feed/exercise.atom`: the newest exercise alerts.
pub async fn exercise(State(web): State<WebState>, headers: HeaderMap) -> ApiResult<Response> {
    feed(&web, &headers, true).await
}

/// `GET /feed/cap/{id}.xml`: one message's CAP document.
pub async fn cap_document(
    State(web): State<WebState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found(format!("no alert `{file}` in the feed"));
    let id: i64 = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_found)?;
    let site = site_of(&web, &headers)?;
    let summary = web
        .app
        .store()
        .messages()
        .summary(id)
        .await?
        .ok_or_else(not_found)?;
    let alerts = alerts_of(&web, &site, summary.exercise, Some(id)).await?;
    let alert = alerts
        .into_iter()
        .find(|a| a.message_id == id)
        .ok_or_else(not_found)?;
    Ok(xml(CAP_MEDIA_TYPE, alert.alert.to_xml()))
}

/// The Atom feeds as last composed, per (exercise, site): recomposed (up to [`WINDOW`]
/// messages rendered) only when the messages' [`FeedFingerprint`] changed, so a flood of
/// anonymous requests costs one small query each.
#[derive(Debug, Default)]
pub struct FeedCache {
    feeds: std::sync::Mutex<HashMap<FeedKey, (FeedFingerprint, Arc<str>)>>,
}

/// Which feed: exercise or not, and the site (`base_url|sender`) it was composed for.
type FeedKey = (bool, String);

async fn feed(web: &WebState, headers: &HeaderMap, exercise: bool) -> ApiResult<Response> {
    let site = site_of(web, headers)?;
    let now = web.app.store().now();
    let fingerprint = web.app.store().feed().fingerprint(exercise, now).await?;
    let key = (exercise, format!("{}|{}", site.base_url, site.sender));
    let cached = web
        .feed_cache
        .feeds
        .lock()
        .ok()
        .and_then(|feeds| feeds.get(&key).cloned())
        .filter(|(seen, _)| *seen == fingerprint)
        .map(|(_, body)| body);
    let body = match cached {
        Some(body) => body,
        None => {
            let alerts = alerts_of(web, &site, exercise, None).await?;
            let body: Arc<str> = alert_feed::atom_feed(&site, exercise, &alerts, now)
                .to_xml()
                .into();
            if let Ok(mut feeds) = web.feed_cache.feeds.lock() {
                feeds.insert(key, (fingerprint, body.clone()));
            }
            body
        }
    };
    Ok(xml(ATOM_MEDIA_TYPE, body.to_string()))
}

fn xml(media_type: &str, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{media_type}; charset=utf-8")) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    // Public data, no credentials: any site may read it.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    response
}

/// Where the feed lives and who sends it: the configured public URL and sender, or on
/// a loopback `Host` only, that host over plain HTTP.
fn site_of(web: &WebState, headers: &HeaderMap) -> ApiResult<FeedSite> {
    let config = &web.config;
    let sender = config.cap_sender.as_deref();
    if let Some(url) = &config.public_url {
        return FeedSite::new(url, sender).map_err(|e| ApiError::internal(&e));
    }
    if let Some(base) = loopback_base(headers) {
        if let Ok(site) = FeedSite::new(&base, sender) {
            return Ok(site);
        }
    }
    Err(ApiError::new(
        ErrorKind::NotFound,
        "not_configured",
        "the public alert feed needs [server] public_url, the address its links point to",
    ))
}

/// The CAP alerts of the newest messages (up to `up_to`), real or exercise.
async fn alerts_of(
    web: &WebState,
    site: &FeedSite,
    exercise: bool,
    up_to: Option<i64>,
) -> ApiResult<Vec<FeedAlert>> {
    let playbooks: Vec<String> = web
        .app
        .library()
        .playbooks()
        .iter()
        .filter(|p| p.cap.is_some())
        .map(|p| p.id.clone())
        .collect();
    let rows = web
        .app
        .store()
        .feed()
        .messages(
            exercise,
            &playbooks,
            web.config.public_group(),
            up_to,
            WINDOW,
        )
        .await?;
    let published: Vec<PublishedMessage> = rows.iter().filter_map(|m| published(web, m)).collect();
    Ok(alert_feed::alerts(
        &published,
        &site.sender,
        CapStatus::for_exercise(exercise),
        web.app.store().now(),
    ))
}

/// What a stored message is for the feed (`None`: nothing the feed shows).
fn published(web: &WebState, m: &FeedMessage) -> Option<PublishedMessage> {
    // The feed publishes the primary language; texts in a playbook's other languages
    // (`x.es`) are not among these.
    let named: Vec<(std::borrow::Cow<'static, str>, &str)> = m
        .variants
        .iter()
        .filter(|v| v.target.language().is_none())
        .filter_map(|v| v.body.as_deref().map(|b| (v.target.as_str(), b)))
        .collect();
    let texts: Vec<(&str, &str)> = named.iter().map(|(n, b)| (n.as_ref(), *b)).collect();
    // A retraction's notice or a correction has a text per channel: the feed takes the
    // fullest plain one (the playbook's default template, not a short variant).
    let own_text = || {
        m.variants
            .iter()
            .filter(|v| v.target.platform().is_some())
            .filter_map(|v| v.body.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .max_by_key(|t| t.len())
            .map(str::to_string)
    };
    let sent = m
        .not_before
        .map_or(m.approved_at, |at| at.max(m.approved_at));
    let what = match (m.kind.as_str(), m.target_message_id) {
        ("post", _) => post(web, m, &texts, sent)?,
        ("delete", Some(target)) => Published::Retraction {
            target,
            text: own_text(),
        },
        ("correction", Some(target)) => Published::Correction {
            target,
            text: own_text(),
        },
        _ => return None,
    };
    Some(PublishedMessage {
        id: m.id,
        sent,
        retracted_at: m.retracted_at,
        playbook_id: m.playbook_id.clone(),
        what,
    })
}

/// A post's `msgType` and `info`: the playbook's CAP fields with the step's overrides,
/// the approved headline, text and WEA texts, `expires` (`sent` plus the playbook's
/// `expires_hours`), and the area, web page and contact when the approved texts carry
/// them word for word.
fn post(
    web: &WebState,
    m: &FeedMessage,
    texts: &[(&str, &str)],
    sent: chrono::DateTime<chrono::Utc>,
) -> Option<Published> {
    let playbook = web.app.library().get(&m.playbook_id)?;
    let cap = playbook.cap.as_ref()?;
    let step_cap = playbook
        .step(&m.step_id)
        .map_or_else(StepCap::default, |s| s.cap.clone());
    let headline = m.title.as_deref().unwrap_or(&cap.event);
    let mut info = CapAlertInfo::from_playbook(cap, &step_cap, headline);
    info.description = description_from(texts).map(str::to_string);
    info.expires = cap
        .expires_hours
        .map(|h| sent + chrono::Duration::hours(i64::from(h)));
    info.wea = approved_wea(m);
    let approved = |value: &str| {
        !value.trim().is_empty()
            && (headline.contains(value) || texts.iter().any(|(_, t)| t.contains(value)))
    };
    let inputs = DraftInputs::parse(&m.variables_json);
    let composed = web.app.composer().compose(
        playbook,
        &m.step_id,
        &inputs.values,
        &[],
        ComposeOptions {
            post_number: inputs.post_number,
        },
    );
    if let Ok(c) = composed {
        info.area = c
            .cap_area
            .filter(|a| approved(a))
            .map(|description| CapArea {
                description,
                geocodes: cap.geocodes.clone(),
            });
        let value_of = |kind: VariableKind| {
            playbook
                .variables
                .iter()
                .filter(|v| v.kind() == kind)
                .filter_map(|v| c.values.get(&v.name))
                .find(|value| approved(value))
                .cloned()
        };
        info.web = value_of(VariableKind::Url);
        info.contact = value_of(VariableKind::Phone);
    }
    Some(Published::Post {
        msg_type: step_cap.msg_type,
        info: Box::new(info),
    })
}

/// The WEA texts stored with a message at approval, per language (a language without
/// its short text, which retention may have purged, is left out).
fn approved_wea(m: &FeedMessage) -> BTreeMap<WeaLanguage, WeaTexts> {
    let mut out: BTreeMap<WeaLanguage, WeaTexts> = BTreeMap::new();
    for v in &m.variants {
        let (TextTarget::Wea(language, length), Some(body)) = (v.target, v.body.as_deref()) else {
            continue;
        };
        let texts = out.entry(language).or_insert_with(|| WeaTexts {
            short: String::new(),
            long: None,
        });
        match length {
            WeaLength::Short => texts.short = body.to_string(),
            WeaLength::Long => texts.long = Some(body.to_string()),
        }
    }
    out.retain(|_, t| !t.short.trim().is_empty());
    out
}
