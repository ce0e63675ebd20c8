//! Atom 1.0 feeds (RFC 4287): a feed with its id, title, author, `updated` and a `self`
//! link, and entries each with an id, title, `updated`, a summary and links.
//!
//! [`AtomFeed::to_xml`] writes text constructs as `type="text"` (the default), so every
//! title and summary is escaped text, never markup. Ids are IRIs the caller makes
//! stable; [`tag_uri`] makes RFC 4151 `tag:` URIs for them.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::xml::Writer;

/// The Atom namespace.
pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";

/// The media type of an Atom feed.
pub const ATOM_MEDIA_TYPE: &str = "application/atom+xml";

/// An Atom date (RFC 3339, whole seconds, UTC as `Z`).
pub fn atom_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An RFC 4151 tag URI: `tag:<authority>,<date>:<specific>` (the date as `YYYY-MM-DD`).
/// `authority` is a domain name or email address its owner held on `date`.
pub fn tag_uri(authority: &str, date: NaiveDate, specific: &str) -> String {
    format!("tag:{authority},{}:{specific}", date.format("%Y-%m-%d"))
}

/// `atom:link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomLink {
    /// `rel` (`alternate`, `self`, ...).
    pub rel: String,
    /// `href`: an absolute URL.
    pub href: String,
    /// `type`: the media type of what it points to.
    pub media_type: Option<String>,
}

impl AtomLink {
    /// A link with a media type.
    pub fn new(rel: &str, href: impl Into<String>, media_type: &str) -> AtomLink {
        AtomLink {
            rel: rel.to_string(),
            href: href.into(),
            media_type: Some(media_type.to_string()),
        }
    }
}

/// `atom:entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomEntry {
    /// `id`: a permanent, unique IRI.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `updated`.
    pub updated: DateTime<Utc>,
    /// `published`.
    pub published: Option<DateTime<Utc>>,
    /// `summary`.
    pub summary: Option<String>,
    /// `category` terms.
    pub categories: Vec<String>,
    /// `link`s.
    pub links: Vec<AtomLink>,
}

/// `atom:feed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomFeed {
    /// `id`: a permanent, unique IRI.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `subtitle`.
    pub subtitle: Option<String>,
    /// `updated`.
    pub updated: DateTime<Utc>,
    /// The feed's `author` name (entries inherit it).
    pub author: String,
    /// `link`s (a `self` link at least).
    pub links: Vec<AtomLink>,
    /// `generator`'s name.
    pub generator: Option<String>,
    /// The entries, in the order to write them (newest first, by convention).
    pub entries: Vec<AtomEntry>,
}

fn write_link(w: &mut Writer, link: &AtomLink) {
    let mut attributes = vec![("rel", link.rel.as_str()), ("href", link.href.as_str())];
    if let Some(t) = &link.media_type {
        attributes.push(("type", t.as_str()));
    }
    w.empty("link", &attributes);
}

impl AtomFeed {
    /// The feed document (UTF-8, with the XML declaration).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new();
        w.open("feed", &[("xmlns", ATOM_NAMESPACE)]);
        w.text("id", &[], &self.id);
        w.text("title", &[], &self.title);
        if let Some(subtitle) = &self.subtitle {
            w.text("subtitle", &[], subtitle);
        }
        w.text("updated", &[], &atom_time(self.updated));
        w.open("author", &[]);
        w.text("name", &[], &self.author);
        w.close("author");
        for link in &self.links {
            write_link(&mut w, link);
        }
        if let Some(generator) = &self.generator {
            w.text("generator", &[], generator);
        }
        for entry in &self.entries {
            w.open("entry", &[]);
            w.text("id", &[], &entry.id);
            w.text("title", &[], &entry.title);
            w.text("updated", &[], &atom_time(entry.updated));
            if let Some(published) = entry.published {
                w.text("published", &[], &atom_time(published));
            }
            if let Some(summary) = &entry.summary {
                w.text("summary", &[], summary);
            }
            for term in &entry.categories {
                w.empty("category", &[("term", term.as_str())]);
            }
            for link in &entry.links {
                write_link(&mut w, link);
            }
            w.close("entry");
        }
        w.close("feed");
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn times_are_rfc3339_in_whole_seconds() {
        let t = Utc
            .with_ymd_and_hms(2026, 7, 14, 9, 30, 5)
            .single()
            .unwrap()
            + chrono::Duration::milliseconds(250);
        assert_eq!(atom_time(t), "2026-07-14T09:30:05Z");
    }

    #[test]
    fn tag_uris_carry_the_authority_and_date() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        assert_eq!(
            tag_uri("alerts.health.example.gov", d, "alert/7"),
            "tag:alerts.health.example.gov,2026-07-14:alert/7"
        );
    }

    #[test]
    fn a_feed_has_its_required_elements_and_escaped_text() {
        let t = Utc
            .with_ymd_and_hms(2026, 7, 14, 9, 30, 0)
            .single()
            .unwrap();
        let feed = AtomFeed {
            id: "https://alerts.example.gov/feed/alerts.atom".into(),
            title: "Alerts & advisories".into(),
            subtitle: None,
            updated: t,
            author: "County <Health>".into(),
            links: vec![AtomLink::new(
                "self",
                "https://alerts.example.gov/feed/alerts.atom",
                ATOM_MEDIA_TYPE,
            )],
            generator: Some("Tocsin".into()),
            entries: vec![AtomEntry {
                id: "tag:alerts.example.gov,2026-07-14:alert/1".into(),
                title: "Boil water \"now\"".into(),
                updated: t,
                published: Some(t),
                summary: Some("Boil <all> water".into()),
                categories: vec!["Health".into()],
                links: vec![AtomLink::new(
                    "alternate",
                    "https://alerts.example.gov/feed/cap/1.xml",
                    "application/cap+xml",
                )],
            }],
        };
        let xml = feed.to_xml();
        for want in [
            "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
            "<title>Alerts &amp; advisories</title>",
            "<updated>2026-07-14T09:30:00Z</updated>",
            "<author>\n    <name>County &lt;Health&gt;</name>\n  </author>",
            "<link rel=\"self\" href=\"https://alerts.example.gov/feed/alerts.atom\" type=\"application/atom+xml\"/>",
            "<title>Boil water &quot;now&quot;</title>",
            "<summary>Boil &lt;all&gt; water</summary>",
            "<category term=\"Health\"/>",
            "<link rel=\"alternate\" href=\"https://alerts.example.gov/feed/cap/1.xml\" type=\"application/cap+xml\"/>",
        ] {
            assert!(xml.contains(want), "{want} not in {xml}");
        }
    }
}
