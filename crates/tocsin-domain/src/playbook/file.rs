//! The playbook file as written: serde structs mirroring the TOML, unknown fields refused.
//!
//! Values that need checking beyond their type keep their source span (`Spanned`) so
//! [`super::validate`] can point at the exact line and column of a problem.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

use super::{ApprovalPolicy, CapCategory, CapCertainty, CapSeverity, CapUrgency};
use crate::variables::VariableKind;

/// A whole playbook file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookFile {
    pub id: Spanned<String>,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub timezone: Spanned<String>,
    #[serde(default)]
    pub datetime_format: Option<Spanned<String>>,
    #[serde(default)]
    pub hashtags: Vec<Spanned<String>>,
    #[serde(default)]
    pub audience: Vec<Spanned<String>>,
    #[serde(default)]
    pub approval: ApprovalPolicy,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub cap: Option<CapFile>,
    #[serde(default)]
    pub session: Option<SessionFile>,
    #[serde(default)]
    pub variables: Vec<VariableFile>,
    pub steps: Spanned<Vec<StepFile>>,
    #[serde(default)]
    pub retraction: Option<RetractionFile>,
    /// BCP 47 tag of the playbook's language (`en` when left out); `languages` replaces it.
    #[serde(default)]
    pub language: Option<Spanned<String>>,
    /// The languages the playbook is written in, primary first (`["en"]` when left out).
    #[serde(default)]
    pub languages: Option<Spanned<Vec<Spanned<String>>>>,
    /// Title, description and date-time format per non-primary language.
    #[serde(default)]
    pub translations: BTreeMap<Spanned<String>, PlaybookTranslationFile>,
    /// The highest reading grade a variant should have (8 when left out).
    #[serde(default)]
    pub reading_grade_max: Option<Spanned<f64>>,
}

/// `[retraction]`: the withdrawal notice sent where a retracted post cannot be deleted
/// (email, SMS, Teams), rendered over the original message's values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractionFile {
    pub headline: Spanned<String>,
    pub template: Spanned<String>,
    #[serde(default)]
    pub variants: BTreeMap<Spanned<String>, Spanned<String>>,
    /// The notice in each non-primary language.
    #[serde(default)]
    pub translations: BTreeMap<Spanned<String>, StepTranslationFile>,
}

/// `[translations.<tag>]`: the playbook's own texts in one non-primary language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookTranslationFile {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub datetime_format: Option<Spanned<String>>,
}

/// `translations.<tag> = { label, help, choices }` on a variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableTranslationFile {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub help: Option<String>,
    #[serde(default)]
    pub choices: Option<Spanned<Vec<String>>>,
}

/// `[steps.translations.<tag>]` (and `[retraction.translations.<tag>]`): a step in one
/// non-primary language. `title` and `headline` are optional here so their absence is
/// reported as a missing translation at this table's line, not as a TOML type error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepTranslationFile {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub headline: Option<Spanned<String>>,
    pub template: Spanned<String>,
    #[serde(default)]
    pub variants: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// `[cap]`: Common Alerting Protocol fields for public alerts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapFile {
    pub event: String,
    pub category: CapCategory,
    pub urgency: CapUrgency,
    pub severity: CapSeverity,
    pub certainty: CapCertainty,
    pub area: Spanned<String>,
    #[serde(default)]
    pub geocodes: BTreeMap<String, String>,
    #[serde(default)]
    pub expires_hours: Option<Spanned<u32>>,
}

/// `[session]`: a live session (live-tweeting a procedure).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub hashtag_variable: Spanned<String>,
    #[serde(default = "yes")]
    pub numbering: bool,
    #[serde(default)]
    pub fixed: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// One `[[variables]]` entry. Kind-specific fields are optional here and checked
/// against `type` by the validator, so a misplaced one is named, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableFile {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: VariableKind,
    pub label: String,
    #[serde(default)]
    pub help: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub example: Option<Spanned<String>>,
    #[serde(default)]
    pub phi_allow: Vec<Spanned<String>>,
    // text
    #[serde(default)]
    pub max_length: Option<Spanned<usize>>,
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub multiline: Option<Spanned<bool>>,
    // enum
    #[serde(default)]
    pub choices: Option<Spanned<Vec<String>>>,
    // integer
    #[serde(default)]
    pub min: Option<Spanned<i64>>,
    #[serde(default)]
    pub max: Option<Spanned<i64>>,
    // datetime
    #[serde(default)]
    pub format: Option<Spanned<String>>,
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    // zip
    #[serde(default)]
    pub prefixes: Option<Spanned<Vec<String>>>,
    // url
    #[serde(default)]
    pub allowed_domains: Option<Spanned<Vec<String>>>,
    /// Label, help and enum choices per non-primary language.
    #[serde(default)]
    pub translations: BTreeMap<Spanned<String>, VariableTranslationFile>,
}

/// One `[[steps]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub id: Spanned<String>,
    pub title: String,
    pub headline: Spanned<String>,
    pub template: Spanned<String>,
    #[serde(default)]
    pub variants: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub hashtags: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub cap: Option<StepCapFile>,
    /// Narrows the playbook's audience for this step (a subset of its groups).
    #[serde(default)]
    pub audience: Option<Vec<Spanned<String>>>,
    /// Platforms whose text a drafter may rewrite for this step.
    #[serde(default)]
    pub overrides: Vec<Spanned<String>>,
    /// WEA texts per language (`[steps.wea.en]`, `[steps.wea.es]`).
    #[serde(default)]
    pub wea: BTreeMap<Spanned<String>, WeaFile>,
    /// The step in each non-primary language.
    #[serde(default)]
    pub translations: BTreeMap<Spanned<String>, StepTranslationFile>,
    /// The step's alert card (`card = { template = "...", facts = [...], alt = "..." }`).
    #[serde(default)]
    pub card: Option<CardFile>,
}

/// `card`: a step's alert card, an SVG template rendered to PNG (the `tocsin-cards`
/// crate), with the facts it shows and its alt text as inline Handlebars templates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// The SVG template, relative to the templates directory (`boil-water/card.svg.hbs`).
    pub template: Spanned<String>,
    /// The most important facts, most important first (one to three).
    pub facts: Spanned<Vec<String>>,
    /// The card's alt text.
    pub alt: Spanned<String>,
}

/// `[steps.wea.<language>]`: a step's WEA texts in one language, inline Handlebars
/// templates over the playbook's values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaFile {
    /// The 90-character text (CMAMtext).
    pub short: Spanned<String>,
    /// The 360-character text (CMAMlongtext).
    #[serde(default)]
    pub long: Option<Spanned<String>>,
}

/// `[steps.cap]`: per-step CAP overrides (an all-clear is `urgency = "Past"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCapFile {
    #[serde(default)]
    pub msg_type: Option<super::CapMsgType>,
    #[serde(default)]
    pub urgency: Option<CapUrgency>,
    #[serde(default)]
    pub severity: Option<CapSeverity>,
    #[serde(default)]
    pub certainty: Option<CapCertainty>,
}
