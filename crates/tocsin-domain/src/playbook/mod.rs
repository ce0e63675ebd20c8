//! Playbooks: one pre-approved scenario each (a boil-water advisory, a live procedure).
//!
//! [`parse_playbook`] reads a playbook's TOML into a validated [`Playbook`] or a list of
//! [`Diagnostic`]s pinned to lines and columns. The file format is [`file`]; the rules
//! that go beyond types (known variables, valid zones, template paths) are [`validate`].

mod file;
mod validate;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostics::Diagnostic;
use crate::language::LanguageTag;
use crate::variables::VariableSpec;
use crate::wea::{WeaLanguage, WeaLength, WeaTexts};
use crate::Platform;

pub use validate::{parse_playbook, DEFAULT_DATETIME_FORMAT, MAX_CARD_FACTS, RESERVED_NAMES};

/// The id under which a playbook's `[retraction]` notice is composed (a step of its own
/// that no draft can pick).
pub const RETRACTION_STEP: &str = "retraction";

/// Who must approve a message from this playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// A second person, not the drafter, must approve (the default).
    #[default]
    TwoPerson,
    /// One approver may approve their own draft.
    Single,
}

/// CAP 1.2 `category`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CapCategory {
    Geo,
    Met,
    Safety,
    Security,
    Rescue,
    Fire,
    Health,
    Env,
    Transport,
    Infra,
    #[serde(rename = "CBRNE")]
    Cbrne,
    Other,
}

/// CAP 1.2 `urgency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CapUrgency {
    Immediate,
    Expected,
    Future,
    Past,
    Unknown,
}

/// CAP 1.2 `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CapSeverity {
    Extreme,
    Severe,
    Moderate,
    Minor,
    Unknown,
}

/// CAP 1.2 `certainty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CapCertainty {
    Observed,
    Likely,
    Possible,
    Unlikely,
    Unknown,
}

/// CAP 1.2 `msgType` a step is published as (a retraction is always `Cancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CapMsgType {
    #[default]
    Alert,
    Update,
}

/// The CAP fields of a public alert.
#[derive(Debug, Clone, Serialize)]
pub struct CapInfo {
    /// CAP `event` (e.g. "Boil Water Advisory").
    pub event: String,
    /// CAP `category`.
    pub category: CapCategory,
    /// CAP `urgency`.
    pub urgency: CapUrgency,
    /// CAP `severity`.
    pub severity: CapSeverity,
    /// CAP `certainty`.
    pub certainty: CapCertainty,
    /// `areaDesc`, as a Handlebars template over the playbook's variables.
    pub area: String,
    /// CAP `geocode` pairs (e.g. `SAME` → `017031`).
    pub geocodes: BTreeMap<String, String>,
    /// Hours after it is sent that an alert expires (CAP `expires`), if set. Required
    /// when a step has WEA texts: the IPAWS profile and 47 CFR 10.420 require an
    /// expiration time.
    pub expires_hours: Option<u32>,
}

/// Per-step CAP overrides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepCap {
    /// `msgType` for this step.
    pub msg_type: CapMsgType,
    /// Overrides the playbook's urgency.
    pub urgency: Option<CapUrgency>,
    /// Overrides the playbook's severity.
    pub severity: Option<CapSeverity>,
    /// Overrides the playbook's certainty.
    pub certainty: Option<CapCertainty>,
}

/// A live session: many short posts, each a reply in a per-account thread.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSpec {
    /// The variable holding the session's shared hashtag.
    pub hashtag_variable: String,
    /// Whether posts are numbered ("3/").
    pub numbering: bool,
    /// Variables set once when the session starts (the procedure, the team): every post
    /// of the session takes them from the session, and the quick-post form hides them.
    pub fixed: Vec<String>,
}

/// What a step variant is for: a platform, or the HTML part of email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum VariantTarget {
    /// The plain-text variant for one platform.
    Platform(Platform),
    /// The HTML part of an email (escaped as HTML).
    EmailHtml,
}

impl fmt::Display for VariantTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariantTarget::Platform(p) => write!(f, "{p}"),
            VariantTarget::EmailHtml => f.write_str("email_html"),
        }
    }
}

impl VariantTarget {
    /// The stored name: the platform's id, or `email_html`.
    pub fn as_str(self) -> &'static str {
        match self {
            VariantTarget::Platform(p) => p.as_str(),
            VariantTarget::EmailHtml => "email_html",
        }
    }
}

/// What one stored rendered text of a draft or message is: a variant, the headline
/// (the email subject and CAP headline), or a WEA text, in the playbook's primary
/// language; or a headline or variant in another declared language. Stored under
/// [`TextTarget::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TextTarget {
    /// The headline.
    Headline,
    /// A variant.
    Variant(VariantTarget),
    /// A WEA text (published in the CAP feed, sent to no platform).
    Wea(WeaLanguage, WeaLength),
    /// A headline or variant in a non-primary language of the playbook: rendered, stored,
    /// previewed, reviewed and covered by the hashes, and sent to the accounts that post
    /// that language (`tocsin_domain::account_languages`). Stored as `<text>.<tag>`
    /// (`x.es`, `headline.zh-Hans`).
    InLanguage(LanguageTag, LanguageText),
}

/// The texts a non-primary language has: the headline and the variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LanguageText {
    /// The headline.
    Headline,
    /// A variant.
    Variant(VariantTarget),
}

impl LanguageText {
    /// The same text in the primary language.
    pub fn primary(self) -> TextTarget {
        match self {
            LanguageText::Headline => TextTarget::Headline,
            LanguageText::Variant(v) => TextTarget::Variant(v),
        }
    }
}

impl TextTarget {
    /// The stored name: `headline`, `email_html`, a platform's id, or
    /// `wea_<language>_<short|long>`; for another language, that name, a dot and the
    /// language's tag (`x.es`). The primary language keeps the names it always had, so
    /// stored texts and their hashes stay valid.
    pub fn as_str(self) -> Cow<'static, str> {
        match self {
            TextTarget::InLanguage(language, text) => {
                Cow::Owned(format!("{}.{language}", text.primary().as_str()))
            }
            other => Cow::Borrowed(other.primary_name()),
        }
    }

    fn primary_name(self) -> &'static str {
        match self {
            TextTarget::Headline | TextTarget::InLanguage(_, LanguageText::Headline) => "headline",
            TextTarget::Variant(v) | TextTarget::InLanguage(_, LanguageText::Variant(v)) => {
                v.as_str()
            }
            TextTarget::Wea(WeaLanguage::En, WeaLength::Short) => "wea_en_short",
            TextTarget::Wea(WeaLanguage::En, WeaLength::Long) => "wea_en_long",
            TextTarget::Wea(WeaLanguage::Es, WeaLength::Short) => "wea_es_short",
            TextTarget::Wea(WeaLanguage::Es, WeaLength::Long) => "wea_es_long",
        }
    }

    /// Reads a stored name; `None` for one that is no target (only the exact stored
    /// names, no aliases).
    pub fn parse(text: &str) -> Option<TextTarget> {
        if let Some((name, tag)) = text.split_once('.') {
            let language = LanguageTag::parse(tag).ok().filter(|l| l.as_str() == tag)?;
            let inner = match TextTarget::parse(name)? {
                TextTarget::Headline => LanguageText::Headline,
                TextTarget::Variant(v) => LanguageText::Variant(v),
                TextTarget::Wea(..) | TextTarget::InLanguage(..) => return None,
            };
            return Some(TextTarget::InLanguage(language, inner));
        }
        let mut wea = WeaLanguage::ALL.into_iter().flat_map(|l| {
            WeaLength::ALL
                .into_iter()
                .map(move |n| TextTarget::Wea(l, n))
        });
        match text {
            "headline" => Some(TextTarget::Headline),
            "email_html" => Some(TextTarget::Variant(VariantTarget::EmailHtml)),
            other if other.starts_with("wea_") => wea.find(|t| t.as_str() == other),
            other => Platform::ALL
                .iter()
                .find(|p| p.as_str() == other)
                .map(|p| TextTarget::Variant(VariantTarget::Platform(*p))),
        }
    }

    /// The platform whose variant this is, if it is one in the primary language: a text
    /// in another language answers `None`, so only an account's languages pick it
    /// (`tocsin_domain::account_languages`).
    pub fn platform(self) -> Option<Platform> {
        match self {
            TextTarget::Variant(VariantTarget::Platform(p)) => Some(p),
            _ => None,
        }
    }

    /// The non-primary language this text is in (`None`: the primary language).
    pub fn language(self) -> Option<LanguageTag> {
        match self {
            TextTarget::InLanguage(language, _) => Some(language),
            _ => None,
        }
    }

    /// Its name in words, for people: "X", "Bluesky", "Email (HTML)", "Headline"; in
    /// another language, followed by the language's name ("X (Español)").
    pub fn display_name(self) -> Cow<'static, str> {
        let name = match self {
            TextTarget::Headline => "Headline",
            TextTarget::Variant(VariantTarget::EmailHtml) => "Email (HTML)",
            TextTarget::Variant(VariantTarget::Platform(p)) => p.display_name(),
            TextTarget::Wea(WeaLanguage::En, WeaLength::Short) => "WEA, English (90)",
            TextTarget::Wea(WeaLanguage::En, WeaLength::Long) => "WEA, English (360)",
            TextTarget::Wea(WeaLanguage::Es, WeaLength::Short) => "WEA, Spanish (90)",
            TextTarget::Wea(WeaLanguage::Es, WeaLength::Long) => "WEA, Spanish (360)",
            TextTarget::InLanguage(language, text) => {
                return Cow::Owned(format!(
                    "{} ({})",
                    text.primary().display_name(),
                    language.display_name()
                ))
            }
        };
        Cow::Borrowed(name)
    }
}

impl fmt::Display for TextTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// One message of a playbook (initial alert, update, all-clear).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Identifier within the playbook (`alert`, `update`, `all-clear`).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Inline Handlebars template: email subject, CAP headline, panel title.
    pub headline: String,
    /// The default variant's template, relative to the templates directory.
    pub template: String,
    /// Per-platform (and HTML email) templates, relative to the templates directory.
    pub variants: BTreeMap<VariantTarget, String>,
    /// Hashtags for this step, overriding the playbook's.
    pub hashtags: Option<Vec<String>>,
    /// CAP overrides.
    pub cap: StepCap,
    /// The groups this step goes to by default, narrowing the playbook's audience
    /// (`None`: the playbook's).
    pub audience: Option<Vec<String>>,
    /// The playbook's variables this step's texts read (its templates, headline and
    /// the playbook's CAP area and session hashtag), in form order: the only ones a
    /// draft of this step must fill. Found when the library loads the templates;
    /// `None` before that (every variable applies).
    pub variables: Option<Vec<String>>,
    /// WEA texts per language: inline Handlebars templates, like the headline.
    pub wea: BTreeMap<WeaLanguage, WeaTexts>,
    /// Platforms whose text the drafter may rewrite (`overrides = ["x", "sms"]`): the
    /// rewritten text replaces the rendered one, is measured and PHI-checked like it, and
    /// is what the approver reviews.
    pub overrides: Vec<Platform>,
    /// The step in each non-primary language the playbook declares: the same step with
    /// that language's title, headline and templates (every declared language has one).
    pub translations: BTreeMap<LanguageTag, Step>,
    /// The step's alert card, if it declares one.
    pub card: Option<CardSpec>,
}

/// A step's alert card (`card = { template, facts, alt }`): an SVG template that the
/// `tocsin-cards` crate renders to PNG, the facts it shows and its alt text. The facts
/// and the alt text are inline Handlebars templates over the same values as the texts.
#[derive(Debug, Clone, Serialize)]
pub struct CardSpec {
    /// The SVG template file, relative to the templates directory.
    pub template: String,
    /// The facts, most important first (one to [`MAX_CARD_FACTS`]).
    pub facts: Vec<String>,
    /// The alt text template.
    pub alt: String,
}

impl Step {
    /// Every WEA template of this step: language, length, source, English first.
    pub fn wea_templates(&self) -> impl Iterator<Item = (WeaLanguage, WeaLength, &str)> {
        self.wea.iter().flat_map(|(language, t)| {
            WeaLength::ALL
                .into_iter()
                .filter_map(move |n| t.get(n).map(|source| (*language, n, source)))
        })
    }
}

impl Step {
    /// Whether the step's texts read `variable` (every variable, before the library has
    /// read its templates).
    pub fn reads(&self, variable: &str) -> bool {
        self.variables
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == variable))
    }

    /// The template file used for `platform`: its own variant, or the default.
    pub fn template_for(&self, platform: Platform) -> &str {
        self.variants
            .get(&VariantTarget::Platform(platform))
            .map_or(self.template.as_str(), String::as_str)
    }

    /// The HTML email template, if the step has one.
    pub fn email_html_template(&self) -> Option<&str> {
        self.variants
            .get(&VariantTarget::EmailHtml)
            .map(String::as_str)
    }

    /// Every template file this step uses in every language, primary default first,
    /// then its card's SVG template.
    pub fn template_files(&self) -> Vec<&str> {
        self.in_every_language()
            .flat_map(|(_, s)| {
                std::iter::once(s.template.as_str()).chain(s.variants.values().map(String::as_str))
            })
            .chain(self.card.as_ref().map(|c| c.template.as_str()))
            .collect()
    }

    /// The step in each of its languages: the primary (`None`) first, then each
    /// translation.
    pub fn in_every_language(&self) -> impl Iterator<Item = (Option<LanguageTag>, &Step)> {
        std::iter::once((None, self)).chain(self.translations.iter().map(|(l, s)| (Some(*l), s)))
    }

    /// The card's inline templates: each fact, then the alt text.
    pub fn card_templates(&self) -> impl Iterator<Item = &str> {
        self.card.iter().flat_map(|c| {
            c.facts
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(c.alt.as_str()))
        })
    }
}

/// A validated playbook.
#[derive(Debug, Clone, Serialize)]
pub struct Playbook {
    /// Stable identifier (`boil-water`), used by the CLI and the API.
    pub id: String,
    /// Title shown in the picker.
    pub title: String,
    /// When to use it.
    pub description: String,
    /// Search tags.
    pub tags: Vec<String>,
    /// The zone date-times are shown in.
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
    /// Default strftime format for date-time variables.
    pub datetime_format: String,
    /// Hashtags appended to each post while they fit (without `#`).
    pub hashtags: Vec<String>,
    /// Account groups the message goes to by default (empty: every account).
    pub audience: Vec<String>,
    /// One or two people.
    pub approval: ApprovalPolicy,
    /// Where the advice comes from (cited for reviewers).
    pub sources: Vec<String>,
    /// CAP fields, for public alerts.
    pub cap: Option<CapInfo>,
    /// Live-session settings, for live procedures.
    pub session: Option<SessionSpec>,
    /// The blanks, in form order.
    #[serde(skip)]
    pub variables: Vec<VariableSpec>,
    /// The messages.
    pub steps: Vec<Step>,
    /// The withdrawal notice (`[retraction]`): sent, when a message is retracted, to the
    /// accounts whose platform cannot delete a post (email, SMS, Teams). Its templates
    /// are part of the playbook, so its pre-approval covers them.
    pub retraction: Option<Step>,
    /// The primary language, a BCP 47 tag (`en`, `es-MX`): what the plain-language check
    /// grades the primary texts as ([`crate::readability`]); `languages[0]`.
    pub language: String,
    /// Every language the playbook is written in, primary first (`["en"]` when the file
    /// declares none).
    pub languages: Vec<LanguageTag>,
    /// The playbook's title, description and date-time format in each non-primary
    /// language.
    pub translations: BTreeMap<LanguageTag, PlaybookTranslation>,
    /// Each variable's label, help and enum choices in each non-primary language, by
    /// variable name.
    #[serde(skip)]
    pub variable_translations: BTreeMap<String, BTreeMap<LanguageTag, VariableTranslation>>,
    /// The highest reading grade a variant should have: above it, the drafter sees a
    /// warning and the approver acknowledges it (`acknowledge_reading_grade`).
    pub reading_grade_max: f64,
    /// The playbook file.
    pub path: PathBuf,
}

/// A playbook's own texts in one non-primary language.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookTranslation {
    /// The title (the primary title when not translated).
    pub title: String,
    /// The description (the primary one when not translated).
    pub description: String,
    /// The strftime format date-time variables are shown with in this language.
    pub datetime_format: String,
}

/// A variable's texts in one non-primary language.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VariableTranslation {
    /// The form label.
    pub label: String,
    /// The help text.
    pub help: Option<String>,
    /// For an enum, each choice as residents read it in this language, position for
    /// position with the primary choices (the typed value stays the primary choice).
    pub choices: Option<Vec<String>>,
}

fn serialize_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Playbook {
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The groups a step goes to by default: its own `audience`, else the playbook's
    /// (empty: every account).
    pub fn audience_of(&self, step: &str) -> &[String] {
        match self.step(step).and_then(|s| s.audience.as_ref()) {
            Some(groups) => groups,
            None => &self.audience,
        }
    }

    /// The step an update of a sent message is drafted from: the first step published
    /// as a CAP `Update` that is not over (urgency other than `Past`), else a step named
    /// `update`.
    pub fn update_step(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| {
                s.cap.msg_type == CapMsgType::Update && s.cap.urgency != Some(CapUrgency::Past)
            })
            .or_else(|| self.step("update"))
    }

    /// The step an all-clear is drafted from: the first step whose urgency is `Past`.
    pub fn all_clear_step(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.cap.urgency == Some(CapUrgency::Past))
    }

    /// The variable with this name.
    pub fn variable(&self, name: &str) -> Option<&VariableSpec> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// The steps and the withdrawal notice: everything whose templates are compiled.
    pub fn compiled_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(self.retraction.as_ref())
    }

    /// Every template file the playbook uses in every language, sorted and without repeats.
    pub fn template_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .compiled_steps()
            .flat_map(|s| s.template_files().into_iter().map(str::to_string))
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// The language the plain-language check grades this playbook's text in (`None`: one
    /// it has no formula for, so no grade).
    pub fn readability_language(&self) -> Option<crate::readability::Language> {
        crate::readability::Language::of_tag(&self.language)
    }

    /// The primary language.
    pub fn primary_language(&self) -> LanguageTag {
        self.languages
            .first()
            .copied()
            .unwrap_or_else(LanguageTag::english)
    }

    /// The non-primary languages, in declared order.
    pub fn other_languages(&self) -> &[LanguageTag] {
        self.languages.get(1..).unwrap_or(&[])
    }

    /// The strftime format date-times are shown with in `language` (`None`: primary).
    pub fn datetime_format_in(&self, language: Option<LanguageTag>) -> &str {
        language
            .and_then(|l| self.translations.get(&l))
            .map_or(self.datetime_format.as_str(), |t| {
                t.datetime_format.as_str()
            })
    }

    /// The playbook's title in `language` (`None`: primary).
    pub fn title_in(&self, language: Option<LanguageTag>) -> &str {
        language
            .and_then(|l| self.translations.get(&l))
            .map_or(self.title.as_str(), |t| t.title.as_str())
    }

    /// A variable's texts in `language`, when it is a non-primary language.
    pub fn variable_in(&self, name: &str, language: LanguageTag) -> Option<&VariableTranslation> {
        self.variable_translations.get(name)?.get(&language)
    }

    /// The example values declared in the playbook, as text.
    pub fn example_values(&self) -> BTreeMap<String, String> {
        self.variables
            .iter()
            .filter_map(|v| {
                v.example
                    .clone()
                    .or_else(|| v.default.clone())
                    .map(|e| (v.name.clone(), e))
            })
            .collect()
    }
}

/// Reads and validates the playbook at `path`.
pub fn read_playbook(path: &Path) -> Result<Playbook, Vec<Diagnostic>> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::error_line(
            path,
            None,
            None,
            format!("cannot read the playbook: {e}"),
        )]
    })?;
    parse_playbook(path, &source)
}
