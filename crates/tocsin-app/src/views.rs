//! The JSON shapes the API answers with (see docs/api.md), built from domain and store
//! values. Nothing here decides anything.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use tocsin_domain::approval::Blocker;
use tocsin_domain::compose::{ComposedStep, ComposedTranslation, ComposedVariant, ComposedWea};
use tocsin_domain::counting::CountUnit;
use tocsin_domain::playbook::{LanguageText, TextTarget};
use tocsin_domain::readability::ReadabilityReport;
use tocsin_store::RenderedVariant;
use tocsin_store::{DeliveryRow, DraftListItem, MessageSummary};

/// A link a platform gave for a post, as the panel and the API show it: only an `https`
/// URL with a host, or a path on Tocsin itself (a sandbox account's `/sandbox/...`).
/// Anything else (plain `http`, `javascript:`, `data:`) from a platform, or from whoever
/// answered in its place, is not shown.
pub fn shown_link(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    if url.starts_with('/') && !url.starts_with("//") && !url.contains('\\') {
        return Some(url.to_string());
    }
    let parsed = url::Url::parse(url).ok()?;
    (parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| !h.is_empty()))
        .then(|| parsed.to_string())
}

/// A delivery state as the API and the panel name it: the store's `sent` is
/// `delivered`, `retry_wait` is `retrying` (the names delivery events use).
pub fn public_state(stored: &str) -> &str {
    match stored {
        "sent" => "delivered",
        "retry_wait" => "retrying",
        other => other,
    }
}

/// One rendered variant as the panel shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VariantView {
    /// `x`, `mastodon`, `email_html`, ...
    pub target: String,
    /// The same in words: "X", "Mastodon", "Email (HTML)"; "X (Español)" in another
    /// language.
    pub name: String,
    /// The language the text is written in, a BCP 47 tag (`None`: a stored text of the
    /// primary language shown without composing it again).
    pub language: Option<String>,
    /// That language named in its own words ("English", "Español", "中文(简体)").
    pub language_name: Option<String>,
    /// The text exactly as it goes out.
    pub text: String,
    /// Its length as the platform counts it.
    pub count: Option<usize>,
    /// The platform's limit.
    pub limit: Option<usize>,
    /// What `count` counts.
    pub unit: Option<CountUnit>,
    /// Over a limit.
    pub over: bool,
    /// Non-blocking notes (hashtags left out).
    pub warnings: Vec<String>,
    /// What blocks approval.
    pub problems: Vec<String>,
    /// How hard it is to read: the grade with its formula's name, sentence lengths,
    /// passive voice and jargon with plain replacements (`None` for stored text not
    /// composed again, or a language without a formula).
    pub readability: Option<ReadabilityReport>,
    /// The playbook's `reading_grade_max`.
    pub reading_grade_max: Option<f64>,
    /// The grade is above `reading_grade_max`: a warning, which the approver acknowledges
    /// (`acknowledge_reading_grade`).
    pub over_reading_grade: bool,
    /// Where possible PHI was found in `text`, as `[start, end)` in UTF-16 code units
    /// (what a browser's string indices count), for highlighting.
    pub phi_spans: Vec<[usize; 2]>,
    /// The drafter wrote this text in place of the playbook's (a step's `overrides`).
    pub edited: bool,
}

/// `[start, end)` byte offsets of `text` as UTF-16 code-unit offsets.
fn utf16_span(text: &str, start: usize, end: usize) -> Option<[usize; 2]> {
    let before = text.get(..start)?;
    let hit = text.get(start..end)?;
    let from = before.encode_utf16().count();
    Some([from, from + hit.encode_utf16().count()])
}

impl VariantView {
    /// Stored text only, as it is shown when it is no longer what the playbook renders.
    pub fn stored(target: TextTarget, text: String, edited: bool) -> VariantView {
        VariantView {
            target: target.to_string(),
            name: target.display_name().into_owned(),
            language: target.language().map(|l| l.to_string()),
            language_name: target.language().map(|l| l.display_name()),
            text,
            phi_spans: Vec::new(),
            edited,
            count: None,
            limit: None,
            unit: None,
            over: false,
            warnings: Vec::new(),
            problems: Vec::new(),
            readability: None,
            reading_grade_max: None,
            over_reading_grade: false,
        }
    }

    /// From a composed variant.
    pub fn of(v: &ComposedVariant) -> VariantView {
        let problems = v.blocking_problems();
        let over = v
            .measurement
            .as_ref()
            .is_some_and(|m| !m.problems().is_empty());
        VariantView {
            target: v.target.to_string(),
            name: TextTarget::Variant(v.target).display_name().into_owned(),
            language: Some(v.language.to_string()),
            language_name: Some(v.language.display_name()),
            text: v.text.clone(),
            count: v.measurement.as_ref().map(|m| m.used),
            limit: v.measurement.as_ref().and_then(|m| m.limit),
            unit: v.measurement.as_ref().map(|m| m.unit),
            over,
            warnings: v.warnings(),
            problems,
            phi_spans: v
                .phi
                .iter()
                .filter_map(|hit| utf16_span(&v.text, hit.start, hit.end))
                .collect(),
            edited: false,
            readability: v.readability.clone(),
            reading_grade_max: Some(v.reading_grade_max),
            over_reading_grade: v.over_reading_grade(),
        }
    }
}

impl VariantView {
    /// One non-primary language's texts: its headline (`headline.es`), then its variants
    /// (target `x.es`, ...), each measured and checked like the primary ones.
    pub fn of_translation(t: &ComposedTranslation) -> Vec<VariantView> {
        let headline_target = TextTarget::InLanguage(t.language, LanguageText::Headline);
        let mut headline = VariantView::stored(headline_target, t.headline.clone(), false);
        headline.problems = t
            .headline_phi
            .iter()
            .map(|hit| format!("possible PHI ({})", hit.family.as_str()))
            .collect();
        headline.phi_spans = t
            .headline_phi
            .iter()
            .filter_map(|hit| utf16_span(&t.headline, hit.start, hit.end))
            .collect();
        std::iter::once(headline)
            .chain(t.variants.iter().map(|v| {
                let mut view = VariantView::of(v);
                let target = TextTarget::InLanguage(t.language, LanguageText::Variant(v.target));
                view.target = target.to_string();
                view.name = target.display_name().into_owned();
                view
            }))
            .collect()
    }

    /// A WEA text (target `wea_en_short`, ...), counted in septets against 90 or 360.
    pub fn of_wea(w: &ComposedWea) -> VariantView {
        let problems = w.blocking_problems();
        VariantView {
            target: w.target().to_string(),
            name: w.target().display_name().into_owned(),
            language: Some(w.language.as_str().to_string()),
            language_name: Some(
                match w.language {
                    tocsin_domain::wea::WeaLanguage::En => "English",
                    tocsin_domain::wea::WeaLanguage::Es => "Español",
                }
                .to_string(),
            ),
            text: w.text.clone(),
            count: Some(w.used),
            limit: Some(w.limit),
            unit: Some(CountUnit::Septets),
            over: w.used > w.limit,
            warnings: Vec::new(),
            problems,
            phi_spans: w
                .phi
                .iter()
                .filter_map(|hit| utf16_span(&w.text, hit.start, hit.end))
                .collect(),
            // Not graded for plain language: a WEA text is too short for a reading
            // grade to mean much, and its limits are the FCC's.
            readability: None,
            reading_grade_max: None,
            over_reading_grade: false,
            edited: false,
        }
    }
}

/// The problems that block approval of a composed step.
pub fn blockers_of(step: &ComposedStep) -> Vec<Blocker> {
    let mut out = Vec::new();
    for hit in &step.headline_phi {
        out.push(Blocker::Phi {
            target: "headline".into(),
            family: hit.family.as_str().to_string(),
            description: hit.family.description().to_string(),
            variable: hit.variable.clone(),
        });
    }
    for v in &step.variants {
        for hit in &v.phi {
            out.push(Blocker::Phi {
                target: v.target.to_string(),
                family: hit.family.as_str().to_string(),
                description: hit.family.description().to_string(),
                variable: hit.variable.clone(),
            });
        }
        if let Some(m) = &v.measurement {
            for problem in m.problems() {
                out.push(Blocker::OverLimit {
                    target: v.target.to_string(),
                    problem,
                });
            }
        }
    }
    for t in &step.translations {
        let target = |text| TextTarget::InLanguage(t.language, text).to_string();
        for hit in &t.headline_phi {
            out.push(Blocker::Phi {
                target: target(LanguageText::Headline),
                family: hit.family.as_str().to_string(),
                description: hit.family.description().to_string(),
                variable: hit.variable.clone(),
            });
        }
        for v in &t.variants {
            for hit in &v.phi {
                out.push(Blocker::Phi {
                    target: target(LanguageText::Variant(v.target)),
                    family: hit.family.as_str().to_string(),
                    description: hit.family.description().to_string(),
                    variable: hit.variable.clone(),
                });
            }
            if let Some(m) = &v.measurement {
                for problem in m.problems() {
                    out.push(Blocker::OverLimit {
                        target: target(LanguageText::Variant(v.target)),
                        problem,
                    });
                }
            }
        }
    }
    for w in &step.wea {
        for hit in &w.phi {
            out.push(Blocker::Phi {
                target: w.target().to_string(),
                family: hit.family.as_str().to_string(),
                description: hit.family.description().to_string(),
                variable: hit.variable.clone(),
            });
        }
        for problem in tocsin_domain::wea::wea_problems(&w.text, w.language, w.length) {
            out.push(Blocker::OverLimit {
                target: w.target().to_string(),
                problem,
            });
        }
    }
    out
}

/// The variants to store for a composed step, with its headline under the target
/// `headline`, its WEA texts under `wea_<language>_<short|long>`, and its texts in the
/// playbook's other languages under `<target>.<tag>`.
pub fn rendered_variants(step: &ComposedStep) -> Vec<RenderedVariant> {
    let mut out: Vec<RenderedVariant> = step
        .variants
        .iter()
        .map(|v| RenderedVariant {
            target: TextTarget::Variant(v.target),
            body: v.text.clone(),
        })
        .collect();
    out.push(RenderedVariant {
        target: crate::drafts::HEADLINE_TARGET,
        body: step.headline.clone(),
    });
    // The WEA texts are approved with the rest and stored with the message: the feed
    // serves them as approved.
    out.extend(step.wea.iter().map(|w| RenderedVariant {
        target: w.target(),
        body: w.text.clone(),
    }));
    // The other languages are stored, reviewed and hashed with the rest (`x.es`,
    // `headline.es`); their targets name no platform, so nothing sends them.
    out.extend(
        step.translated_texts()
            .into_iter()
            .map(|(target, body)| RenderedVariant {
                target,
                body: body.to_string(),
            }),
    );
    out
}

/// `sha256:<hex>` over the rendered variants (target and text, length-prefixed, in
/// target order; the headline is one of them): what an approval names as reviewed.
pub fn rendered_hash(variants: &[RenderedVariant]) -> String {
    let mut sorted: Vec<&RenderedVariant> = variants.iter().collect();
    // By the targets' stored names, so a hash never changes with how targets are typed.
    sorted.sort_by_key(|v| v.target.as_str());
    let mut h = Sha256::new();
    h.update(b"tocsin-rendered-v1\n");
    let mut feed = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    for v in sorted {
        feed(v.target.as_str().as_bytes());
        feed(v.body.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// `sha256:<hex>` over what an approver reviews: the rendered text (as
/// [`rendered_hash`]) and the target set (the choice and the accounts it reached).
/// Changing who gets a message changes the hash as surely as changing its words.
/// A draft's images (hash and description, in order) are part of it: changing an image
/// or what it says makes an earlier review stale. A draft without images hashes as before.
pub fn review_hash(
    variants: &[RenderedVariant],
    targets: &crate::catalog::DraftTargets,
    images: &[crate::images::DraftImage],
) -> String {
    let mut h = Sha256::new();
    h.update(b"tocsin-review-v2\n");
    h.update(rendered_hash(variants).as_bytes());
    let spec = &targets.spec;
    h.update(format!("\neveryone={}\ngroups=", spec.everyone).as_bytes());
    for g in &spec.groups {
        h.update((g.len() as u64).to_be_bytes());
        h.update(g.as_bytes());
    }
    for (label, ids) in [
        ("exclude", &spec.exclude_accounts),
        ("include", &spec.include_accounts),
        ("accounts", &targets.accounts),
    ] {
        h.update(format!("\n{label}=").as_bytes());
        for id in ids {
            h.update(id.to_be_bytes());
        }
    }
    if !images.is_empty() {
        h.update(b"\nimages=");
        for image in images {
            for part in [image.sha256.as_str(), image.alt.trim()] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part.as_bytes());
            }
            // The square version is bound too; an image without one hashes as before.
            if let Some(square) = &image.square {
                h.update(b"square");
                h.update((square.len() as u64).to_be_bytes());
                h.update(square.as_bytes());
            }
        }
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// A draft in lists and events.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DraftSummary {
    /// Id.
    pub id: i64,
    /// Playbook.
    pub playbook: String,
    /// Step.
    pub step: String,
    /// `draft`, `submitted`, `changes_requested`, `published`, `withdrawn`.
    pub state: String,
    /// Exercise.
    pub exercise: bool,
    /// Drafter.
    pub created_by: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The message once published.
    pub message_id: Option<i64>,
    /// The live session.
    pub session_id: Option<i64>,
}

impl From<&DraftListItem> for DraftSummary {
    fn from(d: &DraftListItem) -> DraftSummary {
        DraftSummary {
            id: d.id,
            playbook: d.playbook_id.clone(),
            step: d.step_id.clone(),
            state: d.state.as_str().to_string(),
            exercise: d.exercise,
            created_by: d.created_by.clone(),
            updated_at: d.updated_at,
            message_id: d.message_id,
            session_id: d.session_id,
        }
    }
}

/// A break-glass message's compliance review.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReviewView {
    /// Reviewer.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What they found.
    pub finding: String,
}

/// A message in lists and events.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MessageView {
    /// Id.
    pub id: i64,
    /// The draft it came from.
    pub draft_id: i64,
    /// Playbook.
    pub playbook: Option<String>,
    /// Step.
    pub step: Option<String>,
    /// `post`, `delete`, `correction`.
    pub kind: String,
    /// Headline.
    pub title: Option<String>,
    /// Approver.
    pub approved_by: String,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// Exercise.
    pub exercise: bool,
    /// Published by one approver in an emergency.
    pub break_glass: bool,
    /// When retracted.
    pub retracted_at: Option<DateTime<Utc>>,
    /// What a delete or correction acts on.
    pub target_message_id: Option<i64>,
    /// Live session.
    pub session_id: Option<i64>,
    /// Deliveries by state.
    pub counts: BTreeMap<String, i64>,
    /// Compliance review of a break-glass publish.
    pub review: Option<ReviewView>,
}

impl From<&MessageSummary> for MessageView {
    fn from(m: &MessageSummary) -> MessageView {
        let review = match (&m.review_by, m.review_at, &m.review_finding) {
            (Some(by), Some(at), finding) => Some(ReviewView {
                by: by.clone(),
                at,
                finding: finding.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        MessageView {
            id: m.id,
            draft_id: m.draft_id,
            playbook: m.playbook_id.clone(),
            step: m.step_id.clone(),
            kind: m.kind.as_str().to_string(),
            title: m.title.clone(),
            approved_by: m.approved_by.clone(),
            approved_at: m.approved_at,
            exercise: m.exercise,
            break_glass: m.break_glass,
            retracted_at: m.retracted_at,
            target_message_id: m.target_message_id,
            session_id: m.session_id,
            counts: m
                .counts
                .iter()
                .map(|(k, v)| (public_state(k).to_string(), *v))
                .collect(),
            review,
        }
    }
}

/// One delivery row of the grid.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeliveryView {
    /// Account id.
    pub account_id: i64,
    /// Account name.
    pub account: String,
    /// Platform.
    pub platform: String,
    /// The platform whose text it got, in words ("Bluesky", "SMS"; for a sandbox
    /// account, the platform it stands in for).
    pub platform_name: &'static str,
    /// A sandbox account.
    pub sandbox: bool,
    /// State.
    pub state: String,
    /// Attempts.
    pub attempts: i64,
    /// Link to the post.
    pub url: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Next attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Whether the platform can delete the post (otherwise a retraction sends the
    /// playbook's withdrawal notice to this account instead).
    pub can_delete: bool,
    /// On a retraction's row: `delete` (the post is deleted) or `notice` (the platform
    /// cannot delete: the withdrawal notice is sent instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
}

impl From<&DeliveryRow> for DeliveryView {
    fn from(d: &DeliveryRow) -> DeliveryView {
        DeliveryView {
            account_id: d.account_id,
            account: if d.display_name.is_empty() {
                d.handle.clone()
            } else {
                d.display_name.clone()
            },
            platform: d.platform.as_str().to_string(),
            platform_name: crate::catalog::text_platform(d.platform, d.stands_for).display_name(),
            sandbox: d.sandbox,
            state: public_state(d.state.as_str()).to_string(),
            attempts: d.attempts,
            url: shown_link(d.remote_url.as_deref()),
            error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at,
            can_delete: crate::messages::can_delete(d.platform, d.stands_for),
            action: None,
        }
    }
}

/// A message with its deliveries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MessageDetail {
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
    /// One row per account.
    pub deliveries: Vec<DeliveryView>,
    /// Who it was approved for (`None`: from before audiences, every account).
    pub targets: Option<tocsin_store::MessageTargets>,
    /// The drafts that can be started from it ("Send an update", "Send the all-clear",
    /// "Duplicate"), for a post.
    pub follow_ups: Vec<FollowUpView>,
    /// What each platform got: the approved text, counted as that platform counts, and
    /// how many accounts got it.
    pub texts: Vec<SentTextView>,
}

/// One platform's approved text of a message, as the message page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SentTextView {
    /// The platform (`mastodon`, `sms`, ...).
    pub platform: String,
    /// Its name in words ("Mastodon", "SMS").
    pub platform_name: &'static str,
    /// The text exactly as approved (`None` once retention purged it).
    pub text: Option<String>,
    /// Its length as the platform counts it.
    pub count: Option<usize>,
    /// The platform's limit.
    pub limit: Option<usize>,
    /// What `count` counts.
    pub unit: Option<CountUnit>,
    /// How many of the message's accounts got this platform's text.
    pub accounts: usize,
}

/// A draft that can be started from a sent message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FollowUpView {
    /// `update`, `all_clear` or `duplicate`.
    pub kind: &'static str,
    /// The step it drafts.
    pub step: String,
    /// The step's title.
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_https_link_from_a_platform_is_shown() {
        assert_eq!(
            shown_link(Some("https://mastodon.example/@health/109")).as_deref(),
            Some("https://mastodon.example/@health/109")
        );
        for refused in [
            "http://mastodon.example/@health/109",
            "javascript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "//mastodon.example/x",
            "/\\evil.example/x",
            "not a url",
        ] {
            assert_eq!(shown_link(Some(refused)), None, "{refused}");
        }
        assert_eq!(
            shown_link(Some("/sandbox/3/1")).as_deref(),
            Some("/sandbox/3/1")
        );
        assert_eq!(shown_link(None), None);
    }

    #[test]
    fn the_reviewed_hash_covers_every_language() {
        use tocsin_domain::language::LanguageTag;
        use tocsin_domain::playbook::VariantTarget;
        use tocsin_domain::Platform;
        let es = LanguageTag::parse("es").unwrap();
        let texts = |spanish: &str| {
            vec![
                RenderedVariant {
                    target: TextTarget::Variant(VariantTarget::Platform(Platform::X)),
                    body: "Boil water in North Side.".into(),
                },
                RenderedVariant {
                    target: TextTarget::Headline,
                    body: "Boil water".into(),
                },
                RenderedVariant {
                    target: TextTarget::InLanguage(
                        es,
                        LanguageText::Variant(VariantTarget::Platform(Platform::X)),
                    ),
                    body: spanish.into(),
                },
            ]
        };
        let targets = crate::catalog::DraftTargets {
            spec: tocsin_domain::audience::TargetSpec::default(),
            accounts: vec![1],
        };
        let reviewed = review_hash(&texts("Hierva el agua en North Side."), &targets, &[]);
        assert_ne!(
            reviewed,
            review_hash(&texts("Hierva el agua en South Side."), &targets, &[]),
            "a change to the Spanish text alone changes what the approver reviewed"
        );
        // Without the Spanish text the hash is that of the English texts alone, as it
        // was before playbooks had languages.
        let english: Vec<RenderedVariant> = texts("").into_iter().take(2).collect();
        assert_ne!(reviewed, review_hash(&english, &targets, &[]));
        assert_ne!(rendered_hash(&english), rendered_hash(&texts("")));
    }
}
