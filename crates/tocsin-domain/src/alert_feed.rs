//! The public alert feed: which approved messages become which CAP 1.2 alerts, and the
//! Atom feed that lists them (the web layer serves both; this decides their content).
//!
//! [`alerts`] takes the published messages of one kind, all real or all exercise, and
//! answers one [`CapAlert`] per message the public has seen:
//!
//! - a post from a playbook step with CAP fields is an `Alert`, or an `Update` when its
//!   step says so; an `Update` references the earlier posts of its thread: the same
//!   playbook and area, sent before it and not retracted by then, back to (and with)
//!   the thread's last `Alert`, at most [`MAX_THREAD_REFERENCES`] of them;
//! - a retraction by deletion is a `Cancel` referencing the post it withdraws; a
//!   correction is an `Update` referencing it, with the correction's text;
//! - a post retracted before it went out (a scheduled send withdrawn in time) was never
//!   public and is left out, and so is its retraction; so is anything not sent yet.
//!
//! Every alert's `status` is the one given: `Actual` for the real feed, `Exercise` (with
//! a `note` saying so) for the exercise feed. Real and exercise messages never share a
//! feed, and a thread never crosses from one to the other.
//!
//! [`atom_feed`] lists the alerts newest first, each entry linking to its CAP document.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use crate::atom::{tag_uri, AtomEntry, AtomFeed, AtomLink, ATOM_MEDIA_TYPE};
use crate::cap::{
    category_str, check_token, message_identifier, CapAlert, CapAlertInfo, CapReference, CapStatus,
    MsgType, CAP_MEDIA_TYPE,
};
use crate::playbook::CapMsgType;

/// Where the real messages' Atom feed is served.
pub const ALERTS_FEED_PATH: &str = "/feed/alerts.atom";

/// Where the exercise messages' Atom feed is served.
pub const EXERCISE_FEED_PATH: &str = "/feed/exercise.atom";

/// Entries in a feed (the newest).
pub const FEED_ENTRIES: usize = 50;

/// The most earlier alerts an `Update` references.
pub const MAX_THREAD_REFERENCES: usize = 10;

/// The `note` of every exercise alert.
pub const EXERCISE_NOTE: &str = "EXERCISE: this is not a real alert; take no action.";

/// Where a message's CAP document is served.
pub fn cap_path(message_id: i64) -> String {
    format!("/feed/cap/{message_id}.xml")
}

/// What a published message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A post from a playbook step with CAP fields.
    Post {
        /// The step's `msgType`.
        msg_type: CapMsgType,
        /// Its CAP `info`: the approved headline and text, web page, contact, area,
        /// WEA texts (boxed: it is far bigger than the other kinds).
        info: Box<CapAlertInfo>,
    },
    /// The retraction by deletion of an earlier post.
    Retraction {
        /// The post withdrawn.
        target: i64,
        /// The text posted where a platform could not delete, if any.
        text: Option<String>,
    },
    /// A correction of an earlier post.
    Correction {
        /// The post corrected.
        target: i64,
        /// The correction's text (`None` once retention purged it).
        text: Option<String>,
    },
}

/// An approved message, as the feed sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMessage {
    /// The message id.
    pub id: i64,
    /// When it went out (approval, or its scheduled time).
    pub sent: DateTime<Utc>,
    /// When it was retracted, if it was.
    pub retracted_at: Option<DateTime<Utc>>,
    /// The playbook it came from.
    pub playbook_id: String,
    /// What it did.
    pub what: Published,
}

/// A message's CAP alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedAlert {
    /// The message it is for (its document is at [`cap_path`]).
    pub message_id: i64,
    /// The alert.
    pub alert: CapAlert,
}

/// A post that made it into the feed, for later messages to reference.
struct Included {
    id: i64,
    playbook_id: String,
    area: Option<String>,
    msg_type: MsgType,
    retracted_at: Option<DateTime<Utc>>,
    reference: CapReference,
    info: CapAlertInfo,
}

/// The CAP alerts of `messages` (all real or all exercise, as `status` says) as of
/// `now`, newest first (by `sent`, then id). See the module for the rules.
pub fn alerts(
    messages: &[PublishedMessage],
    sender: &str,
    status: CapStatus,
    now: DateTime<Utc>,
) -> Vec<FeedAlert> {
    let mut ordered: Vec<&PublishedMessage> = messages.iter().filter(|m| m.sent <= now).collect();
    ordered.sort_by_key(|m| m.id);
    let note = (status == CapStatus::Exercise).then(|| EXERCISE_NOTE.to_string());
    let mut posts: Vec<Included> = Vec::new();
    let mut out = Vec::new();
    for m in ordered {
        let identifier = message_identifier(m.id, m.sent);
        let (msg_type, references, info) = match &m.what {
            Published::Post { msg_type, info } => {
                if m.retracted_at.is_some_and(|r| r <= m.sent) {
                    continue;
                }
                let msg_type = MsgType::from(*msg_type);
                let area = info.area.as_ref().map(|a| a.description.clone());
                let references = if msg_type == MsgType::Update {
                    thread_of(&posts, m, area.as_deref())
                } else {
                    Vec::new()
                };
                posts.push(Included {
                    id: m.id,
                    playbook_id: m.playbook_id.clone(),
                    area,
                    msg_type,
                    retracted_at: m.retracted_at,
                    reference: CapReference {
                        sender: sender.to_string(),
                        identifier: identifier.clone(),
                        sent: m.sent,
                    },
                    info: CapAlertInfo::clone(info),
                });
                (msg_type, references, CapAlertInfo::clone(info))
            }
            Published::Retraction { target, text } => {
                let Some(original) = posts.iter().find(|p| p.id == *target) else {
                    continue;
                };
                let headline = &original.info.headline;
                // A cancel carries none of the original's WEA texts: it says
                // something else, and has no WEA texts of its own.
                let info = CapAlertInfo {
                    wea: BTreeMap::new(),
                    headline: format!("Cancelled: {headline}"),
                    description: Some(text.clone().unwrap_or_else(|| {
                        format!("The earlier message \"{headline}\" was withdrawn and no longer applies.")
                    })),
                    ..original.info.clone()
                };
                (MsgType::Cancel, vec![original.reference.clone()], info)
            }
            Published::Correction { target, text } => {
                let Some(original) = posts.iter().find(|p| p.id == *target) else {
                    continue;
                };
                let info = CapAlertInfo {
                    wea: BTreeMap::new(),
                    headline: format!("Correction: {}", original.info.headline),
                    description: text.clone(),
                    ..original.info.clone()
                };
                (MsgType::Update, vec![original.reference.clone()], info)
            }
        };
        out.push(FeedAlert {
            message_id: m.id,
            alert: CapAlert {
                identifier,
                sender: sender.to_string(),
                sent: m.sent,
                status,
                msg_type,
                note: note.clone(),
                references,
                info: Some(info),
            },
        });
    }
    out.sort_by_key(|a| std::cmp::Reverse((a.alert.sent, a.message_id)));
    out
}

/// The earlier posts an `Update` refers to, oldest first (see the module).
fn thread_of(posts: &[Included], m: &PublishedMessage, area: Option<&str>) -> Vec<CapReference> {
    let mut references = Vec::new();
    for p in posts.iter().rev() {
        let same_thread = p.playbook_id == m.playbook_id && p.area.as_deref() == area;
        let live = p.reference.sent <= m.sent && p.retracted_at.is_none_or(|r| r > m.sent);
        if !(same_thread && live) {
            continue;
        }
        references.push(p.reference.clone());
        if p.msg_type == MsgType::Alert || references.len() == MAX_THREAD_REFERENCES {
            break;
        }
    }
    references.reverse();
    references
}

/// Where the feed is published and who sends its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSite {
    /// The public base URL (`https://alerts.health.example.gov`), no trailing slash.
    pub base_url: String,
    /// Its host: the authority of the entries' `tag:` ids.
    pub authority: String,
    /// The CAP `sender`.
    pub sender: String,
}

impl FeedSite {
    /// Checks the public URL (`http` or `https`, a host, no query or fragment; a path
    /// prefix is kept) and the sender (a CAP token; the URL's host when not given).
    pub fn new(public_url: &str, sender: Option<&str>) -> Result<FeedSite, String> {
        let url = url::Url::parse(public_url.trim())
            .map_err(|e| format!("public URL `{public_url}`: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("public URL `{public_url}`: use http or https"));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(format!("public URL `{public_url}` has no host"));
        };
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!(
                "public URL `{public_url}`: no query, fragment or user name"
            ));
        }
        let sender = sender.unwrap_or(host).trim().to_string();
        check_token("CAP sender", &sender)?;
        Ok(FeedSite {
            base_url: url.as_str().trim_end_matches('/').to_string(),
            authority: host.to_string(),
            sender,
        })
    }

    /// An absolute URL for a path of this site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The Atom feed of `alerts` (as [`alerts`] answers them; the newest [`FEED_ENTRIES`]),
/// the real one or the exercise one. `now` is its `updated` when it has no entry.
pub fn atom_feed(
    site: &FeedSite,
    exercise: bool,
    alerts: &[FeedAlert],
    now: DateTime<Utc>,
) -> AtomFeed {
    let mut newest: Vec<&FeedAlert> = alerts.iter().collect();
    newest.sort_by_key(|a| std::cmp::Reverse((a.alert.sent, a.message_id)));
    newest.truncate(FEED_ENTRIES);
    let (path, title, subtitle) = if exercise {
        (
            EXERCISE_FEED_PATH,
            format!("EXERCISE alerts from {}", site.sender),
            "Exercise messages only, each a CAP 1.2 alert with status Exercise: not real alerts.",
        )
    } else {
        (
            ALERTS_FEED_PATH,
            format!("Public alerts from {}", site.sender),
            "Approved public alerts, newest first, each a CAP 1.2 alert.",
        )
    };
    let entries = newest
        .iter()
        .map(|a| {
            let info = a.alert.info.as_ref();
            let headline = info.map_or(a.alert.msg_type.as_str(), |i| i.headline.as_str());
            AtomEntry {
                id: tag_uri(
                    &site.authority,
                    a.alert.sent.date_naive(),
                    &a.alert.identifier,
                ),
                title: if exercise {
                    format!("EXERCISE: {headline}")
                } else {
                    headline.to_string()
                },
                updated: a.alert.sent,
                published: Some(a.alert.sent),
                summary: Some(
                    info.and_then(|i| i.description.clone())
                        .unwrap_or_else(|| headline.to_string()),
                ),
                categories: info
                    .map(|i| vec![category_str(i.category).to_string()])
                    .unwrap_or_default(),
                links: vec![AtomLink::new(
                    "alternate",
                    site.url(&cap_path(a.message_id)),
                    CAP_MEDIA_TYPE,
                )],
            }
        })
        .collect::<Vec<_>>();
    AtomFeed {
        id: site.url(path),
        title,
        subtitle: Some(subtitle.to_string()),
        updated: entries.first().map_or(now, |e| e.updated),
        author: site.sender.clone(),
        links: vec![AtomLink::new("self", site.url(path), ATOM_MEDIA_TYPE)],
        generator: Some("Tocsin".to_string()),
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::CapArea;
    use crate::playbook::{CapCategory, CapCertainty, CapSeverity, CapUrgency};
    use chrono::{Duration, TimeZone as _};
    use std::collections::BTreeMap;

    const SENDER: &str = "health.example.gov";

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 14, 9, 0, 0).single().unwrap() + Duration::minutes(minutes)
    }

    fn info(headline: &str, area: &str) -> CapAlertInfo {
        CapAlertInfo {
            category: CapCategory::Health,
            event: "Boil Water Advisory".into(),
            urgency: CapUrgency::Immediate,
            severity: CapSeverity::Moderate,
            certainty: CapCertainty::Likely,
            headline: headline.into(),
            description: Some(format!("{headline}: boil your water.")),
            instruction: None,
            web: None,
            contact: None,
            area: Some(CapArea {
                description: area.into(),
                geocodes: BTreeMap::new(),
            }),
            expires: None,
            wea: BTreeMap::new(),
        }
    }

    fn post(id: i64, at: i64, msg_type: CapMsgType, area: &str) -> PublishedMessage {
        PublishedMessage {
            id,
            sent: t(at),
            retracted_at: None,
            playbook_id: "boil-water".into(),
            what: Published::Post {
                msg_type,
                info: Box::new(info(&format!("Advisory {id}"), area)),
            },
        }
    }

    fn by_id(alerts: &[FeedAlert], id: i64) -> &CapAlert {
        &alerts.iter().find(|a| a.message_id == id).unwrap().alert
    }

    #[test]
    fn an_alert_then_updates_reference_their_thread_back_to_the_alert() {
        let messages = vec![
            post(1, 0, CapMsgType::Alert, "North Side"),
            post(2, 5, CapMsgType::Alert, "South Side"),
            post(3, 10, CapMsgType::Update, "North Side"),
            post(4, 20, CapMsgType::Update, "North Side"),
            post(5, 30, CapMsgType::Alert, "North Side"),
            post(6, 40, CapMsgType::Update, "North Side"),
        ];
        let out = alerts(&messages, SENDER, CapStatus::Actual, t(60));
        assert_eq!(
            out.iter().map(|a| a.message_id).collect::<Vec<_>>(),
            vec![6, 5, 4, 3, 2, 1],
            "newest first"
        );
        let ids = |id| -> Vec<String> {
            by_id(&out, id)
                .references
                .iter()
                .map(|r| r.identifier.clone())
                .collect()
        };
        assert!(ids(1).is_empty());
        assert_eq!(by_id(&out, 1).msg_type, MsgType::Alert);
        assert_eq!(by_id(&out, 3).msg_type, MsgType::Update);
        assert_eq!(ids(3), vec!["tocsin-1-20260714T090000Z"]);
        assert_eq!(
            ids(4),
            vec!["tocsin-1-20260714T090000Z", "tocsin-3-20260714T091000Z"]
        );
        // A new alert starts a new thread.
        assert_eq!(ids(6), vec!["tocsin-5-20260714T093000Z"]);
        assert_eq!(
            by_id(&out, 4).references_value(),
            "health.example.gov,tocsin-1-20260714T090000Z,2026-07-14T09:00:00-00:00 health.example.gov,tocsin-3-20260714T091000Z,2026-07-14T09:10:00-00:00"
        );
        assert!(out.iter().all(|a| a.alert.status == CapStatus::Actual));
        assert!(out.iter().all(|a| a.alert.note.is_none()));
    }

    #[test]
    fn a_retraction_cancels_and_a_correction_updates_the_original() {
        let mut first = post(1, 0, CapMsgType::Alert, "North Side");
        first.retracted_at = Some(t(15));
        let mut second = post(2, 5, CapMsgType::Alert, "South Side");
        second.retracted_at = Some(t(16));
        let messages = vec![
            first,
            second,
            PublishedMessage {
                id: 3,
                sent: t(15),
                retracted_at: None,
                playbook_id: "boil-water".into(),
                what: Published::Retraction {
                    target: 1,
                    text: None,
                },
            },
            PublishedMessage {
                id: 4,
                sent: t(16),
                retracted_at: None,
                playbook_id: "boil-water".into(),
                what: Published::Correction {
                    target: 2,
                    text: Some("The advisory is for the West Side.".into()),
                },
            },
            // A later update of the North Side thread no longer names the withdrawn alert.
            post(5, 20, CapMsgType::Update, "North Side"),
        ];
        let out = alerts(&messages, SENDER, CapStatus::Actual, t(60));
        let cancel = by_id(&out, 3);
        assert_eq!(cancel.msg_type, MsgType::Cancel);
        assert_eq!(
            cancel.references_value(),
            "health.example.gov,tocsin-1-20260714T090000Z,2026-07-14T09:00:00-00:00"
        );
        let cancel_info = cancel.info.as_ref().unwrap();
        assert_eq!(cancel_info.headline, "Cancelled: Advisory 1");
        assert!(cancel_info
            .description
            .as_deref()
            .unwrap()
            .contains("withdrawn"));
        let correction = by_id(&out, 4);
        assert_eq!(correction.msg_type, MsgType::Update);
        assert_eq!(
            correction.references[0].identifier,
            "tocsin-2-20260714T090500Z"
        );
        let correction_info = correction.info.as_ref().unwrap();
        assert_eq!(correction_info.headline, "Correction: Advisory 2");
        assert_eq!(
            correction_info.description.as_deref(),
            Some("The advisory is for the West Side.")
        );
        assert!(by_id(&out, 5).references.is_empty());
        // The originals stay in the feed: what was public, and what cancelled it.
        assert_eq!(by_id(&out, 1).msg_type, MsgType::Alert);
    }

    #[test]
    fn what_never_went_out_is_not_in_the_feed() {
        let mut withdrawn_in_time = post(1, 30, CapMsgType::Alert, "North Side");
        withdrawn_in_time.retracted_at = Some(t(10));
        let messages = vec![
            withdrawn_in_time,
            PublishedMessage {
                id: 2,
                sent: t(10),
                retracted_at: None,
                playbook_id: "boil-water".into(),
                what: Published::Retraction {
                    target: 1,
                    text: None,
                },
            },
            post(3, 90, CapMsgType::Alert, "North Side"),
            PublishedMessage {
                id: 4,
                sent: t(20),
                retracted_at: None,
                playbook_id: "other".into(),
                what: Published::Retraction {
                    target: 99,
                    text: None,
                },
            },
        ];
        assert!(alerts(&messages, SENDER, CapStatus::Actual, t(60)).is_empty());
        let later = alerts(&messages, SENDER, CapStatus::Actual, t(90));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].message_id, 3);
    }

    #[test]
    fn exercise_alerts_say_so_in_status_note_and_feed() {
        let messages = vec![post(7, 0, CapMsgType::Alert, "North Side")];
        let out = alerts(&messages, SENDER, CapStatus::Exercise, t(60));
        assert_eq!(out[0].alert.status, CapStatus::Exercise);
        assert_eq!(out[0].alert.note.as_deref(), Some(EXERCISE_NOTE));
        let xml = out[0].alert.to_xml();
        assert!(xml.contains("<status>Exercise</status>"));
        let site = FeedSite::new("https://alerts.health.example.gov/", None).unwrap();
        let feed = atom_feed(&site, true, &out, t(60));
        assert_eq!(
            feed.id,
            "https://alerts.health.example.gov/feed/exercise.atom"
        );
        assert!(feed.title.starts_with("EXERCISE"));
        assert_eq!(feed.entries[0].title, "EXERCISE: Advisory 7");
    }

    #[test]
    fn the_feed_lists_the_newest_first_with_stable_ids_and_cap_links() {
        let messages: Vec<PublishedMessage> = (1..=60)
            .map(|i| post(i, i, CapMsgType::Alert, &format!("Area {i}")))
            .collect();
        let site =
            FeedSite::new("https://alerts.health.example.gov", Some("county-health")).unwrap();
        let out = alerts(&messages, &site.sender, CapStatus::Actual, t(600));
        let feed = atom_feed(&site, false, &out, t(600));
        assert_eq!(feed.entries.len(), FEED_ENTRIES);
        assert_eq!(feed.updated, t(60));
        assert_eq!(feed.author, "county-health");
        let first = &feed.entries[0];
        assert_eq!(
            first.id,
            "tag:alerts.health.example.gov,2026-07-14:tocsin-60-20260714T100000Z"
        );
        assert_eq!(first.title, "Advisory 60");
        assert_eq!(
            first.summary.as_deref(),
            Some("Advisory 60: boil your water.")
        );
        assert_eq!(
            first.links,
            vec![AtomLink::new(
                "alternate",
                "https://alerts.health.example.gov/feed/cap/60.xml",
                "application/cap+xml"
            )]
        );
        assert_eq!(feed.entries.last().unwrap().title, "Advisory 11");
        let empty = atom_feed(&site, false, &[], t(600));
        assert_eq!(empty.updated, t(600));
        assert!(empty.to_xml().contains(
            "<link rel=\"self\" href=\"https://alerts.health.example.gov/feed/alerts.atom\""
        ));
    }

    #[test]
    fn the_site_is_checked() {
        let s = FeedSite::new("https://alerts.example.gov:8443/tocsin/", None).unwrap();
        assert_eq!(s.base_url, "https://alerts.example.gov:8443/tocsin");
        assert_eq!(s.sender, "alerts.example.gov");
        assert_eq!(
            s.url("/feed/alerts.atom"),
            "https://alerts.example.gov:8443/tocsin/feed/alerts.atom"
        );
        for bad in [
            "alerts.example.gov",
            "ftp://alerts.example.gov",
            "https://alerts.example.gov/?a=1",
            "https://alerts.example.gov/#x",
        ] {
            assert!(FeedSite::new(bad, None).is_err(), "{bad}");
        }
        assert!(FeedSite::new("https://a.example.gov", Some("county health")).is_err());
    }
}
