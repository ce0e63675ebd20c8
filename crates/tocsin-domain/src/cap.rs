//! Common Alerting Protocol 1.2 documents (OASIS Standard, 1 July 2010; namespace
//! `urn:oasis:names:tc:emergency:cap:1.2`): one `<alert>` per published message.
//!
//! [`CapAlert::to_xml`] writes the elements in the order the CAP 1.2 XML schema's
//! sequences require, with only what Tocsin knows for certain:
//!
//! - `identifier` and `sender` must not contain whitespace, commas, `<` or `&`
//!   ([`check_token`]); `sent` is a date-time with seconds and an offset, no fraction,
//!   and UTC written `-00:00` because CAP forbids `Z` ([`cap_time`]);
//! - `status` is `Actual`, or `Exercise` for exercise messages ([`CapStatus`]);
//!   `msgType` is `Alert`, `Update` or `Cancel` ([`MsgType`]); `scope` is always `Public`;
//! - `references` lists earlier alerts as `sender,identifier,sent`, separated by spaces
//!   ([`CapReference`]);
//! - one `info` ([`CapAlertInfo`]): `category`, `event`, `urgency`, `severity`,
//!   `certainty` from the playbook's `[cap]` with the step's overrides
//!   ([`CapAlertInfo::from_playbook`]), `expires` when the playbook sets
//!   `expires_hours`, the approved headline, the approved text as `description`, and
//!   `web`, `contact` and one `area` (`areaDesc`, `geocode`s) when known. Without WEA
//!   texts `language` is left out, so it is the schema's default, `en-US`;
//! - with WEA texts ([`CapAlertInfo::wea`]), one `info` per language, as NWS writes them: the
//!   English one (`en-US`) as above with its `CMAMtext` and `CMAMlongtext` parameters,
//!   then a Spanish one (`es-US`) with the same category, event, urgency, severity,
//!   certainty, expires, web, contact and area, and the Spanish parameters (the
//!   playbook's headline and texts are English, so the Spanish block carries no
//!   headline or description);
//! - `code` `IPAWSv1.0` only when [`CapAlert::ipaws_problems`] finds nothing missing
//!   that the IPAWS profile requires.
//!
//! The message text goes into `description` whole: playbooks write one text per platform,
//! not a separate description and instruction, so `instruction` is only written when a
//! caller has one. Which platform's approved text is used is [`description_from`]'s rule.
//! Nothing here decides what may be published; [`crate::alert_feed`] builds these from
//! approved messages only.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;

use crate::playbook::{
    CapCategory, CapCertainty, CapInfo, CapMsgType, CapSeverity, CapUrgency, StepCap,
};
use crate::wea::{WeaLanguage, WeaLength, WeaTexts};
use crate::xml::Writer;
use crate::Platform;

/// The CAP 1.2 XML namespace.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// The `code` of an alert that follows the CAP v1.2 USA IPAWS Profile v1.0.
pub const IPAWS_PROFILE_CODE: &str = "IPAWSv1.0";

/// The media type of a CAP document.
pub const CAP_MEDIA_TYPE: &str = "application/cap+xml";

/// CAP `status`: how the alert is to be handled. Tocsin publishes real messages as
/// `Actual` and exercise messages as `Exercise`, never anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapStatus {
    /// Actionable by all targeted recipients.
    Actual,
    /// Actionable only by designated exercise participants.
    Exercise,
}

impl CapStatus {
    /// `Exercise` for an exercise message, `Actual` otherwise.
    pub fn for_exercise(exercise: bool) -> CapStatus {
        if exercise {
            CapStatus::Exercise
        } else {
            CapStatus::Actual
        }
    }

    /// The CAP value.
    pub fn as_str(self) -> &'static str {
        match self {
            CapStatus::Actual => "Actual",
            CapStatus::Exercise => "Exercise",
        }
    }
}

/// CAP `msgType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    /// Initial information requiring attention.
    Alert,
    /// Updates and supersedes the earlier message(s) in `references`.
    Update,
    /// Cancels the earlier message(s) in `references`.
    Cancel,
}

impl MsgType {
    /// The CAP value.
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Alert => "Alert",
            MsgType::Update => "Update",
            MsgType::Cancel => "Cancel",
        }
    }
}

impl From<CapMsgType> for MsgType {
    fn from(step: CapMsgType) -> MsgType {
        match step {
            CapMsgType::Alert => MsgType::Alert,
            CapMsgType::Update => MsgType::Update,
        }
    }
}

/// The CAP value of a `category`.
pub fn category_str(category: CapCategory) -> &'static str {
    match category {
        CapCategory::Geo => "Geo",
        CapCategory::Met => "Met",
        CapCategory::Safety => "Safety",
        CapCategory::Security => "Security",
        CapCategory::Rescue => "Rescue",
        CapCategory::Fire => "Fire",
        CapCategory::Health => "Health",
        CapCategory::Env => "Env",
        CapCategory::Transport => "Transport",
        CapCategory::Infra => "Infra",
        CapCategory::Cbrne => "CBRNE",
        CapCategory::Other => "Other",
    }
}

/// The CAP value of an `urgency`.
pub fn urgency_str(urgency: CapUrgency) -> &'static str {
    match urgency {
        CapUrgency::Immediate => "Immediate",
        CapUrgency::Expected => "Expected",
        CapUrgency::Future => "Future",
        CapUrgency::Past => "Past",
        CapUrgency::Unknown => "Unknown",
    }
}

/// The CAP value of a `severity`.
pub fn severity_str(severity: CapSeverity) -> &'static str {
    match severity {
        CapSeverity::Extreme => "Extreme",
        CapSeverity::Severe => "Severe",
        CapSeverity::Moderate => "Moderate",
        CapSeverity::Minor => "Minor",
        CapSeverity::Unknown => "Unknown",
    }
}

/// The CAP value of a `certainty`.
pub fn certainty_str(certainty: CapCertainty) -> &'static str {
    match certainty {
        CapCertainty::Observed => "Observed",
        CapCertainty::Likely => "Likely",
        CapCertainty::Possible => "Possible",
        CapCertainty::Unlikely => "Unlikely",
        CapCertainty::Unknown => "Unknown",
    }
}

/// A CAP date-time: seconds, no fraction, and the offset written out; UTC is `-00:00`
/// ("Alphabetic timezone designators such as "Z" MUST NOT be used. The timezone for UTC
/// MUST be represented as "-00:00"", CAP 1.2 on `sent`). Fractions of a second are
/// dropped, not rounded, so a time never moves into the future.
pub fn cap_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S-00:00").to_string()
}

/// Checks a CAP `identifier` or `sender`: not empty, and no whitespace, comma, `<` or
/// `&` ("MUST NOT include spaces, commas or restricted characters (< and &)"). `what`
/// names the value in the answer.
pub fn check_token(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '&'))
    {
        return Err(format!(
            "{what} `{value}` contains {c:?}: CAP forbids spaces, commas, `<` and `&` in it"
        ));
    }
    Ok(())
}

/// The CAP `identifier` of a published message: `tocsin-<message id>-<sent, UTC>`, e.g.
/// `tocsin-42-20260714T143000Z`. Stable for the message; the time keeps it unique even if
/// a database is started again from empty under the same sender.
pub fn message_identifier(message_id: i64, sent: DateTime<Utc>) -> String {
    format!("tocsin-{message_id}-{}", sent.format("%Y%m%dT%H%M%SZ"))
}

/// An earlier alert, as CAP `references` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapReference {
    /// Its `sender`.
    pub sender: String,
    /// Its `identifier`.
    pub identifier: String,
    /// Its `sent`.
    pub sent: DateTime<Utc>,
}

impl fmt::Display for CapReference {
    /// `sender,identifier,sent`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{}",
            self.sender,
            self.identifier,
            cap_time(self.sent)
        )
    }
}

/// CAP `area`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapArea {
    /// `areaDesc`: the area in words.
    pub description: String,
    /// `geocode` pairs (`SAME` → `017031`).
    pub geocodes: BTreeMap<String, String>,
}

/// CAP `info`: what the alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapAlertInfo {
    /// `category`.
    pub category: CapCategory,
    /// `event`.
    pub event: String,
    /// `urgency`.
    pub urgency: CapUrgency,
    /// `severity`.
    pub severity: CapSeverity,
    /// `certainty`.
    pub certainty: CapCertainty,
    /// `expires`.
    pub expires: Option<DateTime<Utc>>,
    /// `headline`.
    pub headline: String,
    /// `description`: the approved message text.
    pub description: Option<String>,
    /// `instruction`.
    pub instruction: Option<String>,
    /// `web`: a page with more (an absolute URL).
    pub web: Option<String>,
    /// `contact`.
    pub contact: Option<String>,
    /// `area`.
    pub area: Option<CapArea>,
    /// The approved WEA texts per language, IPAWS `CMAMtext` and `CMAMlongtext` (none:
    /// one `info`, no `language`).
    pub wea: BTreeMap<WeaLanguage, WeaTexts>,
}

impl CapAlertInfo {
    /// The playbook's CAP fields with the step's overrides (`urgency`, `severity`,
    /// `certainty`) and this headline; the text, web page, contact and area are the
    /// caller's to fill in.
    pub fn from_playbook(cap: &CapInfo, step: &StepCap, headline: &str) -> CapAlertInfo {
        CapAlertInfo {
            category: cap.category,
            event: cap.event.clone(),
            urgency: step.urgency.unwrap_or(cap.urgency),
            severity: step.severity.unwrap_or(cap.severity),
            certainty: step.certainty.unwrap_or(cap.certainty),
            expires: None,
            headline: headline.to_string(),
            description: None,
            instruction: None,
            web: None,
            contact: None,
            area: None,
            wea: BTreeMap::new(),
        }
    }
}

/// One CAP 1.2 `alert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapAlert {
    /// `identifier` (see [`message_identifier`]).
    pub identifier: String,
    /// `sender`.
    pub sender: String,
    /// `sent`.
    pub sent: DateTime<Utc>,
    /// `status`.
    pub status: CapStatus,
    /// `msgType`.
    pub msg_type: MsgType,
    /// `note`.
    pub note: Option<String>,
    /// `references`, oldest first.
    pub references: Vec<CapReference>,
    /// `info`.
    pub info: Option<CapAlertInfo>,
}

impl CapAlert {
    /// How a later alert names this one in its `references`.
    pub fn reference(&self) -> CapReference {
        CapReference {
            sender: self.sender.clone(),
            identifier: self.identifier.clone(),
            sent: self.sent,
        }
    }

    /// The `references` value: each `sender,identifier,sent`, separated by a space.
    pub fn references_value(&self) -> String {
        self.references
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The CAP 1.2 XML document (UTF-8, with the XML declaration).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new();
        w.open("alert", &[("xmlns", CAP_NAMESPACE)]);
        w.text("identifier", &[], &self.identifier);
        w.text("sender", &[], &self.sender);
        w.text("sent", &[], &cap_time(self.sent));
        w.text("status", &[], self.status.as_str());
        w.text("msgType", &[], self.msg_type.as_str());
        w.text("scope", &[], "Public");
        if self.info.is_some() && self.ipaws_problems().is_empty() {
            w.text("code", &[], IPAWS_PROFILE_CODE);
        }
        if let Some(note) = &self.note {
            w.text("note", &[], note);
        }
        if !self.references.is_empty() {
            w.text("references", &[], &self.references_value());
        }
        if let Some(info) = &self.info {
            if info.wea.is_empty() {
                write_info(&mut w, info, None);
            } else {
                write_info(&mut w, info, Some(WeaLanguage::En));
                for language in info.wea.keys().filter(|l| **l != WeaLanguage::En) {
                    write_info(&mut w, info, Some(*language));
                }
            }
        }
        w.close("alert");
        w.finish()
    }

    /// What this alert lacks of what the CAP v1.2 USA IPAWS Profile v1.0 (OASIS
    /// Committee Specification 01, 13 October 2009) requires of the elements Tocsin
    /// writes (empty: it says `code` `IPAWSv1.0`, the profile's identifier):
    ///
    /// - an `info`, and in it an `event` and `expires` (required by the profile, where CAP
    ///   leaves it optional; 47 CFR 10.420 also lists the expiration time among a WEA
    ///   message's mandatory elements);
    /// - an `area` with at least one `geocode` `SAME` of six digits (the profile's
    ///   geographic code for EAS and WEA);
    /// - for each language with WEA texts, a `CMAMtext` of at most 90 and a
    ///   `CMAMlongtext` (if any) of at most 360 (47 CFR 10.430, counted as
    ///   [`crate::wea`] does), in an `info` of its own `language`;
    /// - `references` on an `Update` or `Cancel` (CAP 1.2 itself).
    pub fn ipaws_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if matches!(self.msg_type, MsgType::Update | MsgType::Cancel) && self.references.is_empty()
        {
            problems.push(format!("an {} names no references", self.msg_type.as_str()));
        }
        let Some(info) = &self.info else {
            problems.push("no info".to_string());
            return problems;
        };
        if info.event.trim().is_empty() {
            problems.push("no event".to_string());
        }
        if info.expires.is_none() {
            problems.push("no expires".to_string());
        }
        let same = info.area.as_ref().is_some_and(|a| {
            a.geocodes
                .get("SAME")
                .is_some_and(|v| v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()))
        });
        if !same {
            problems.push("no area with a six-digit SAME geocode".to_string());
        }
        for (language, wea) in &info.wea {
            for length in WeaLength::ALL {
                if let Some(text) = wea.get(length) {
                    for p in crate::wea::wea_problems(text, *language, length) {
                        problems.push(format!("{} ({language}): {p}", length.cap_parameter()));
                    }
                }
            }
        }
        problems
    }
}

/// One `info`, its children in the schema's order: with `language` `None`, the only one
/// (no `language` element); `Some(En)`, the English one with the English WEA texts;
/// another language, its WEA texts without the English headline and texts.
fn write_info(w: &mut Writer, info: &CapAlertInfo, language: Option<WeaLanguage>) {
    let english = language.is_none_or(|l| l == WeaLanguage::En);
    w.open("info", &[]);
    if let Some(language) = language {
        w.text("language", &[], language.cap_language());
    }
    w.text("category", &[], category_str(info.category));
    w.text("event", &[], &info.event);
    w.text("urgency", &[], urgency_str(info.urgency));
    w.text("severity", &[], severity_str(info.severity));
    w.text("certainty", &[], certainty_str(info.certainty));
    if let Some(expires) = info.expires {
        w.text("expires", &[], &cap_time(expires));
    }
    if english {
        w.text("headline", &[], &info.headline);
    }
    let no_text = None;
    let (description, instruction) = if english {
        (&info.description, &info.instruction)
    } else {
        (&no_text, &no_text)
    };
    for (name, value) in [
        ("description", description),
        ("instruction", instruction),
        ("web", &info.web),
        ("contact", &info.contact),
    ] {
        if let Some(value) = value {
            w.text(name, &[], value);
        }
    }
    if let Some(wea) = language.and_then(|l| info.wea.get(&l)) {
        for length in WeaLength::ALL {
            if let Some(text) = wea.get(length) {
                w.open("parameter", &[]);
                w.text("valueName", &[], length.cap_parameter());
                w.text("value", &[], text);
                w.close("parameter");
            }
        }
    }
    if let Some(area) = &info.area {
        w.open("area", &[]);
        w.text("areaDesc", &[], &area.description);
        for (name, value) in &area.geocodes {
            w.open("geocode", &[]);
            w.text("valueName", &[], name);
            w.text("value", &[], value);
            w.close("geocode");
        }
        w.close("area");
    }
    w.close("info");
}

/// Whose approved text becomes the CAP `description`, first found first: the long,
/// plain forms without hashtags (email's plain-text part, webhooks, chat rooms), then
/// the long social forms (which carry the hashtags that fitted), then the short ones.
pub const DESCRIPTION_PREFERENCE: [Platform; 16] = [
    Platform::Email,
    Platform::Webhook,
    Platform::Matrix,
    Platform::Teams,
    Platform::Slack,
    Platform::Discord,
    Platform::Telegram,
    Platform::Facebook,
    Platform::Linkedin,
    Platform::Mastodon,
    Platform::Threads,
    Platform::Instagram,
    Platform::Bluesky,
    Platform::X,
    Platform::Sms,
    Platform::Sandbox,
];

/// The approved text to publish as the CAP `description`, from a message's
/// `(platform name, text)` variants: the first platform in [`DESCRIPTION_PREFERENCE`]
/// that has a non-empty text. Targets that are not platforms (the stored headline, the
/// HTML part of an email) are never chosen.
pub fn description_from<'a>(variants: &[(&'a str, &'a str)]) -> Option<&'a str> {
    DESCRIPTION_PREFERENCE.iter().find_map(|platform| {
        variants
            .iter()
            .find(|(name, text)| *name == platform.as_str() && !text.trim().is_empty())
            .map(|(_, text)| *text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 14, h, m, s).single().unwrap()
    }

    fn info() -> CapAlertInfo {
        CapAlertInfo {
            category: CapCategory::Health,
            event: "Boil Water Advisory".into(),
            urgency: CapUrgency::Immediate,
            severity: CapSeverity::Moderate,
            certainty: CapCertainty::Likely,
            headline: "Boil-water advisory for North Side".into(),
            description: Some("Boil water <1 minute> & let it cool.".into()),
            instruction: None,
            web: Some("https://health.example.gov/water".into()),
            contact: None,
            area: Some(CapArea {
                description: "North Side".into(),
                geocodes: BTreeMap::from([("SAME".into(), "017031".into())]),
            }),
            expires: None,
            wea: BTreeMap::new(),
        }
    }

    #[test]
    fn times_have_seconds_an_offset_and_no_z_or_fraction() {
        let t = at(9, 30, 5) + chrono::Duration::milliseconds(999);
        assert_eq!(cap_time(t), "2026-07-14T09:30:05-00:00");
    }

    #[test]
    fn tokens_refuse_spaces_commas_and_restricted_characters() {
        assert!(check_token("sender", "health.example.gov").is_ok());
        assert!(check_token("sender", "alerts@health.example.gov").is_ok());
        for bad in ["", "a b", "a,b", "a<b", "a&b", "a\tb"] {
            assert!(check_token("sender", bad).is_err(), "{bad:?}");
        }
        assert!(check_token("identifier", &message_identifier(42, at(14, 30, 0))).is_ok());
        assert_eq!(
            message_identifier(42, at(14, 30, 0)),
            "tocsin-42-20260714T143000Z"
        );
    }

    #[test]
    fn step_overrides_win_over_the_playbook() {
        let cap = CapInfo {
            event: "Boil Water Advisory".into(),
            category: CapCategory::Health,
            urgency: CapUrgency::Immediate,
            severity: CapSeverity::Moderate,
            certainty: CapCertainty::Likely,
            area: "{{area}}".into(),
            geocodes: BTreeMap::new(),
            expires_hours: None,
        };
        let lifted = StepCap {
            msg_type: CapMsgType::Update,
            urgency: Some(CapUrgency::Past),
            severity: Some(CapSeverity::Minor),
            certainty: None,
        };
        let i = CapAlertInfo::from_playbook(&cap, &lifted, "Lifted");
        assert_eq!(i.urgency, CapUrgency::Past);
        assert_eq!(i.severity, CapSeverity::Minor);
        assert_eq!(i.certainty, CapCertainty::Likely);
        assert_eq!(i.headline, "Lifted");
        assert_eq!(MsgType::from(lifted.msg_type), MsgType::Update);
    }

    #[test]
    fn an_update_names_its_references_and_escapes_its_text() {
        let first = CapAlert {
            identifier: "tocsin-1-20260714T090000Z".into(),
            sender: "health.example.gov".into(),
            sent: at(9, 0, 0),
            status: CapStatus::Actual,
            msg_type: MsgType::Alert,
            note: None,
            references: Vec::new(),
            info: Some(info()),
        };
        let second = CapAlert {
            identifier: "tocsin-2-20260714T100000Z".into(),
            sent: at(10, 0, 0),
            msg_type: MsgType::Update,
            references: vec![first.reference(), first.reference()],
            ..first.clone()
        };
        let xml = second.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"));
        assert!(xml.contains("<sent>2026-07-14T10:00:00-00:00</sent>"));
        assert!(xml.contains("<msgType>Update</msgType>\n  <scope>Public</scope>"));
        assert!(xml.contains(
            "<references>health.example.gov,tocsin-1-20260714T090000Z,2026-07-14T09:00:00-00:00 health.example.gov,tocsin-1-20260714T090000Z,2026-07-14T09:00:00-00:00</references>"
        ));
        assert!(xml
            .contains("<description>Boil water &lt;1 minute&gt; &amp; let it cool.</description>"));
        assert!(xml.contains(
            "<geocode>\n        <valueName>SAME</valueName>\n        <value>017031</value>"
        ));
        // Elements in the schema's order.
        let order = [
            "<identifier>",
            "<sender>",
            "<sent>",
            "<status>",
            "<msgType>",
            "<scope>",
            "<references>",
            "<info>",
            "<category>",
            "<event>",
            "<urgency>",
            "<severity>",
            "<certainty>",
            "<headline>",
            "<description>",
            "<web>",
            "<area>",
            "<areaDesc>",
            "<geocode>",
        ];
        let places: Vec<usize> = order.iter().map(|t| xml.find(t).unwrap()).collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert!(!first.to_xml().contains("<references>"));
    }

    #[test]
    fn an_exercise_says_so_in_status() {
        let a = CapAlert {
            identifier: "x".into(),
            sender: "s".into(),
            sent: at(9, 0, 0),
            status: CapStatus::for_exercise(true),
            msg_type: MsgType::Cancel,
            note: Some("Exercise".into()),
            references: Vec::new(),
            info: None,
        };
        let xml = a.to_xml();
        assert!(xml.contains("<status>Exercise</status>"));
        assert!(xml.contains("<msgType>Cancel</msgType>"));
        assert!(xml.contains("<scope>Public</scope>\n  <note>Exercise</note>"));
        assert_eq!(CapStatus::for_exercise(false).as_str(), "Actual");
    }

    #[test]
    fn the_description_is_the_longest_plain_approved_text() {
        let variants = [
            ("headline", "H"),
            ("x", "short #Tag"),
            ("email_html", "<p>html</p>"),
            ("facebook", "long #Tag"),
            ("email", "  "),
        ];
        assert_eq!(description_from(&variants), Some("long #Tag"));
        assert_eq!(
            description_from(&[("email", "plain"), ("webhook", "hook")]),
            Some("plain")
        );
        assert_eq!(description_from(&[("headline", "H")]), None);
    }

    fn wea_alert() -> CapAlert {
        let mut info = info();
        info.expires = Some(at(21, 0, 0));
        info.wea = BTreeMap::from([
            (
                WeaLanguage::En,
                WeaTexts {
                    short: "Boil water advisory for North Side. Boil tap water 1 min before use. Health Dept".into(),
                    long: Some("Boil water advisory for North Side until further notice.".into()),
                },
            ),
            (
                WeaLanguage::Es,
                WeaTexts {
                    short: "Aviso: hierva el agua del grifo 1 minuto antes de usarla en North Side.".into(),
                    long: None,
                },
            ),
        ]);
        CapAlert {
            identifier: "tocsin-1-20260714T090000Z".into(),
            sender: "health.example.gov".into(),
            sent: at(9, 0, 0),
            status: CapStatus::Actual,
            msg_type: MsgType::Alert,
            note: None,
            references: Vec::new(),
            info: Some(info),
        }
    }

    #[test]
    fn wea_texts_make_one_info_per_language_with_cmam_parameters() {
        let xml = wea_alert().to_xml();
        assert_eq!(xml.matches("<info>").count(), 2, "{xml}");
        let (en, es) = xml.split_once("</info>").unwrap();
        assert!(en.contains("<language>en-US</language>"), "{en}");
        assert!(en.contains("<headline>Boil-water advisory for North Side</headline>"));
        assert!(en.contains(
            "<valueName>CMAMtext</valueName>\n      <value>Boil water advisory for North Side."
        ));
        assert!(en.contains("<valueName>CMAMlongtext</valueName>"));
        assert!(es.contains("<language>es-US</language>"), "{es}");
        assert!(es.contains("<value>Aviso: hierva el agua"), "{es}");
        assert!(!es.contains("CMAMlongtext"), "{es}");
        assert!(
            !es.contains("<headline>") && !es.contains("<description>"),
            "{es}"
        );
        // Both carry the shared fields and the area.
        for block in [en, es] {
            assert!(
                block.contains("<expires>2026-07-14T21:00:00-00:00</expires>"),
                "{block}"
            );
            assert!(
                block.contains("<event>Boil Water Advisory</event>"),
                "{block}"
            );
            assert!(block.contains("<valueName>SAME</valueName>"), "{block}");
        }
        // Children in the schema's order within each block.
        for block in [en, es] {
            let order = [
                "<language>",
                "<category>",
                "<event>",
                "<urgency>",
                "<severity>",
                "<certainty>",
                "<expires>",
                "<web>",
                "<parameter>",
                "<area>",
            ];
            let places: Vec<usize> = order.iter().map(|t| block.find(t).unwrap()).collect();
            assert!(places.windows(2).all(|w| w[0] < w[1]), "{block}");
        }
        assert!(
            xml.contains("<scope>Public</scope>\n  <code>IPAWSv1.0</code>\n  <info>"),
            "{xml}"
        );
    }

    #[test]
    fn the_ipaws_code_is_claimed_only_when_the_profile_is_met() {
        assert!(wea_alert().ipaws_problems().is_empty());
        let mut no_expires = wea_alert();
        if let Some(i) = no_expires.info.as_mut() {
            i.expires = None;
        }
        assert_eq!(no_expires.ipaws_problems(), vec!["no expires"]);
        assert!(!no_expires.to_xml().contains("<code>"));
        let mut no_same = wea_alert();
        if let Some(i) = no_same.info.as_mut() {
            i.area = None;
        }
        assert!(no_same.ipaws_problems()[0].contains("SAME"));
        let mut too_long = wea_alert();
        if let Some(i) = too_long.info.as_mut() {
            if let Some(es) = i.wea.get_mut(&WeaLanguage::Es) {
                es.short = "á".repeat(46);
            }
        }
        let problems = too_long.ipaws_problems();
        assert!(
            problems[0].starts_with("CMAMtext (es): 92 of 90"),
            "{problems:?}"
        );
        let mut update = wea_alert();
        update.msg_type = MsgType::Update;
        assert!(update.ipaws_problems()[0].contains("references"));
    }

    #[test]
    fn without_wea_texts_there_is_one_info_and_no_language() {
        let mut a = wea_alert();
        if let Some(i) = a.info.as_mut() {
            i.wea.clear();
        }
        let xml = a.to_xml();
        assert_eq!(xml.matches("<info>").count(), 1);
        assert!(
            !xml.contains("<language>") && !xml.contains("<parameter>"),
            "{xml}"
        );
    }
}
