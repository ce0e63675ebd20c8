//! Filling in a playbook step: validate values, render every variant, count, check PHI.
//!
//! [`Composer::compose`] is what the control panel's preview, `tocsin playbooks render`
//! and approval all call. It answers, per platform, exactly what will be sent, how long
//! it is the way that platform counts, which hashtags fit, and which PHI it may carry.
//! Distinct templates are rendered and PHI-checked once, however many platforms share them.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::counting::{append_hashtags, measure, CountingRules, Measurement, PlatformLimits};
use crate::language::LanguageTag;
use crate::phi::{PhiGuard, PhiHit, ValueSpan};
use crate::playbook::{LanguageText, Playbook, Step, TextTarget, VariantTarget};
use crate::readability::{assess, assess_html, ReadabilityReport};
use crate::render::{
    context, Escaping, TemplateProblem, TemplateSet, DATETIME_KEY, LANGUAGE_KEY, ZONE_KEY,
};
use crate::variables::{ValueError, VariableRule, VariableValue};
use crate::wea::{wea_count, wea_problems, WeaLanguage, WeaLength};
use crate::Platform;

/// Why a step could not be composed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ComposeError {
    /// The playbook has no step of that id.
    #[error("playbook `{playbook}` has no step `{step}` (steps: {known})")]
    UnknownStep {
        /// The playbook.
        playbook: String,
        /// The step asked for.
        step: String,
        /// The steps it has.
        known: String,
    },
    /// A value given for a name the playbook does not declare.
    #[error("`{0}` is not a variable of this playbook")]
    UnknownVariable(String),
    /// One or more values were refused; all are listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidValues(Vec<ValueError>),
    /// A template failed to render.
    #[error("{0}")]
    Template(#[from] TemplateProblem),
}

/// One platform's (or the HTML email's) rendered text, measured and checked.
#[derive(Debug, Clone, Serialize)]
pub struct ComposedVariant {
    /// What the text is for.
    pub target: VariantTarget,
    /// The language it is written in.
    pub language: LanguageTag,
    /// The template file it came from.
    pub template: String,
    /// Exactly what will be sent (hashtags included).
    pub text: String,
    /// Its length as the platform counts it (not for the HTML email part).
    pub measurement: Option<Measurement>,
    /// Hashtags appended because they fit.
    pub hashtags_appended: Vec<String>,
    /// Hashtags left out because they did not fit.
    pub hashtags_dropped: Vec<String>,
    /// Possible PHI in the text.
    pub phi: Vec<PhiHit>,
    /// How hard the text is to read: grade, sentence lengths, passive voice, jargon
    /// (`None` when the playbook's language has no readability formula).
    pub readability: Option<ReadabilityReport>,
    /// The playbook's `reading_grade_max`: a grade above it is a warning the approver
    /// acknowledges.
    pub reading_grade_max: f64,
}

impl ComposedVariant {
    /// Plain-language reasons this variant cannot be approved without an override.
    pub fn blocking_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .measurement
            .as_ref()
            .map(Measurement::problems)
            .unwrap_or_default();
        problems.extend(self.phi.iter().map(|hit| {
            let from = hit
                .variable
                .as_deref()
                .map_or_else(|| "the template text".to_string(), |v| format!("`{v}`"));
            format!("possible PHI ({}) in {from}", hit.family.as_str())
        }));
        problems
    }

    /// Whether its reading grade is above the playbook's `reading_grade_max`.
    pub fn over_reading_grade(&self) -> bool {
        self.readability
            .as_ref()
            .is_some_and(|r| r.is_above(self.reading_grade_max))
    }

    /// The reading-grade warning, when the grade is above the playbook's maximum.
    pub fn reading_grade_warning(&self) -> Option<String> {
        let r = self
            .readability
            .as_ref()
            .filter(|_| self.over_reading_grade())?;
        Some(format!(
            "reading grade {} ({}) is above this playbook's reading_grade_max of {}: shorter sentences and shorter words bring it down",
            r.grade, r.formula, self.reading_grade_max
        ))
    }

    /// Warnings that do not block approval.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .hashtags_dropped
            .iter()
            .map(|t| format!("#{t} left out: it does not fit"))
            .collect();
        out.extend(self.reading_grade_warning());
        out
    }
}

/// One WEA text of a step, rendered, counted and checked.
#[derive(Debug, Clone, Serialize)]
pub struct ComposedWea {
    /// Its language.
    pub language: WeaLanguage,
    /// Short (90) or long (360).
    pub length: WeaLength,
    /// Exactly what the CAP feed will carry.
    pub text: String,
    /// Its length in GSM-7 septets (see [`crate::wea`]).
    pub used: usize,
    /// The limit: 90 or 360.
    pub limit: usize,
    /// Possible PHI in the text.
    pub phi: Vec<PhiHit>,
}

impl ComposedWea {
    /// What the stored text is called (`wea_en_short`).
    pub fn target(&self) -> crate::playbook::TextTarget {
        crate::playbook::TextTarget::Wea(self.language, self.length)
    }

    /// Plain-language reasons this text cannot be approved: over its limit, characters
    /// WEA cannot carry, possible PHI.
    pub fn blocking_problems(&self) -> Vec<String> {
        let mut problems = wea_problems(&self.text, self.language, self.length);
        problems.extend(
            self.phi
                .iter()
                .map(|hit| format!("possible PHI ({})", hit.family.as_str())),
        );
        problems
    }
}

/// A step filled in for a set of platforms.
#[derive(Debug, Clone, Serialize)]
pub struct ComposedStep {
    /// The playbook.
    pub playbook_id: String,
    /// The step.
    pub step_id: String,
    /// The rendered headline (email subject, CAP headline).
    pub headline: String,
    /// PHI hits in the headline.
    pub headline_phi: Vec<PhiHit>,
    /// The CAP `areaDesc`, when the playbook has CAP fields.
    pub cap_area: Option<String>,
    /// Each variable's value as rendered.
    pub values: BTreeMap<String, String>,
    /// One entry per platform asked for, plus the HTML email part when email was asked for.
    pub variants: Vec<ComposedVariant>,
    /// The step's WEA texts (English first, short before long), whatever the platforms.
    pub wea: Vec<ComposedWea>,
    /// The primary language (that of `headline` and `variants`: the texts that are sent).
    pub language: LanguageTag,
    /// The same texts in each non-primary language the playbook declares, in declared
    /// order: rendered, measured and checked like the primary ones, stored, previewed and
    /// reviewed, never sent (until accounts have a language).
    pub translations: Vec<ComposedTranslation>,
}

/// A step's headline and variants in one non-primary language.
#[derive(Debug, Clone, Serialize)]
pub struct ComposedTranslation {
    /// The language.
    pub language: LanguageTag,
    /// Its name in its own words ("Español").
    pub language_name: String,
    /// The rendered headline.
    pub headline: String,
    /// PHI hits in the headline.
    pub headline_phi: Vec<PhiHit>,
    /// One entry per platform asked for, plus the HTML email part, as for the primary.
    pub variants: Vec<ComposedVariant>,
}

impl ComposedTranslation {
    /// Whether anything in this language blocks approval without an override.
    pub fn is_blocked(&self) -> bool {
        !self.headline_phi.is_empty()
            || self
                .variants
                .iter()
                .any(|v| !v.blocking_problems().is_empty())
    }

    /// The stored texts of this language: the headline, then each variant.
    pub fn texts(&self) -> Vec<(TextTarget, &str)> {
        std::iter::once((
            TextTarget::InLanguage(self.language, LanguageText::Headline),
            self.headline.as_str(),
        ))
        .chain(self.variants.iter().map(|v| {
            (
                TextTarget::InLanguage(self.language, LanguageText::Variant(v.target)),
                v.text.as_str(),
            )
        }))
        .collect()
    }
}

impl ComposedStep {
    /// Whether anything blocks approval without an override.
    pub fn is_blocked(&self) -> bool {
        !self.headline_phi.is_empty()
            || self
                .variants
                .iter()
                .any(|v| !v.blocking_problems().is_empty())
            || self.wea.iter().any(|w| !w.blocking_problems().is_empty())
            || self
                .translations
                .iter()
                .any(ComposedTranslation::is_blocked)
    }

    /// Every stored text in a non-primary language (`x.es`, `headline.es`, ...).
    pub fn translated_texts(&self) -> Vec<(TextTarget, &str)> {
        self.translations
            .iter()
            .flat_map(ComposedTranslation::texts)
            .collect()
    }

    /// The variant for a target.
    pub fn variant(&self, target: VariantTarget) -> Option<&ComposedVariant> {
        self.variants.iter().find(|v| v.target == target)
    }
}

/// A step's card texts, rendered and PHI-checked: what the SVG template draws and the
/// image's alt text. The picture itself is drawn by the `tocsin-cards` crate from
/// [`ComposedCard::data`].
#[derive(Debug, Clone, Serialize)]
pub struct ComposedCard {
    /// The SVG template file.
    pub template: String,
    /// The rendered headline.
    pub headline: String,
    /// The rendered facts, most important first.
    pub facts: Vec<String>,
    /// The rendered alt text.
    pub alt: String,
    /// Possible PHI in the card's texts, each naming where ("card fact 2", "card alt
    /// text"): a card with any is not drawn.
    pub problems: Vec<String>,
    /// The values the SVG template renders over: the texts' values, plus `card` with
    /// `headline`, `facts` and `alt`.
    #[serde(skip)]
    pub data: Value,
}

/// Extra inputs for live sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComposeOptions {
    /// The post's number in a live session ("3/"), when numbering is on.
    pub post_number: Option<u32>,
}

/// Renders, measures and checks steps. Cheap to share: build once per library.
#[derive(Debug, Clone)]
pub struct Composer {
    templates: TemplateSet,
    guard: PhiGuard,
    limits: PlatformLimits,
    rules: CountingRules,
}

/// Validated values of a playbook's variables, ready to render.
#[derive(Debug, Clone)]
pub struct FilledValues {
    values: Vec<(String, Option<VariableValue>)>,
}

/// Checks raw values (what a person typed) against the playbook's variables: every
/// problem is reported at once. Missing optional variables are empty.
pub fn fill_values(
    playbook: &Playbook,
    raw: &BTreeMap<String, String>,
) -> Result<FilledValues, ComposeError> {
    fill(playbook, None, raw)
}

/// [`fill_values`] for one step: a required variable the step does not read
/// ([`Step::variables`]) may be left empty. A value given is still checked.
pub fn fill_values_for_step(
    playbook: &Playbook,
    step: &Step,
    raw: &BTreeMap<String, String>,
) -> Result<FilledValues, ComposeError> {
    fill(playbook, Some(step), raw)
}

fn fill(
    playbook: &Playbook,
    step: Option<&Step>,
    raw: &BTreeMap<String, String>,
) -> Result<FilledValues, ComposeError> {
    if let Some(unknown) = raw.keys().find(|k| playbook.variable(k).is_none()) {
        return Err(ComposeError::UnknownVariable(unknown.clone()));
    }
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(playbook.variables.len());
    for spec in &playbook.variables {
        let given = raw
            .get(&spec.name)
            .filter(|v| !v.trim().is_empty())
            .or(spec.default.as_ref());
        match given {
            Some(text) => match spec.parse(text) {
                Ok(v) => values.push((spec.name.clone(), Some(v))),
                Err(e) => errors.push(e),
            },
            None if spec.required && step.is_none_or(|s| s.reads(&spec.name)) => {
                errors.push(ValueError {
                    variable: spec.name.clone(),
                    problem: "is required".into(),
                })
            }
            None => values.push((spec.name.clone(), None)),
        }
    }
    errors.extend(out_of_order(playbook, &values));
    if errors.is_empty() {
        Ok(FilledValues { values })
    } else {
        Err(ComposeError::InvalidValues(errors))
    }
}

/// Date-times that must come after another (`after = "since"`) and do not, each reported
/// at the later field with both values as the playbook shows them.
fn out_of_order(
    playbook: &Playbook,
    values: &[(String, Option<VariableValue>)],
) -> Vec<ValueError> {
    let at = |name: &str| {
        values.iter().find_map(|(n, v)| match v {
            Some(VariableValue::Datetime(t)) if n == name => Some(*t),
            _ => None,
        })
    };
    let mut out = Vec::new();
    for spec in &playbook.variables {
        let Some(earlier) = spec.after.as_deref() else {
            continue;
        };
        let (Some(this), Some(that)) = (at(&spec.name), at(earlier)) else {
            continue;
        };
        if this > that {
            continue;
        }
        let Some(other) = playbook.variable(earlier) else {
            continue;
        };
        out.push(ValueError {
            variable: spec.name.clone(),
            problem: format!(
                "must come after {} ({}), not at {}",
                other.label,
                other.display(&VariableValue::Datetime(that)),
                spec.display(&VariableValue::Datetime(this)),
            ),
        });
    }
    out
}

/// One language's texts, with what rendering them needed (the primary's context also
/// renders the CAP area and WEA texts).
struct LanguageComposed {
    headline: String,
    headline_phi: Vec<PhiHit>,
    variants: Vec<ComposedVariant>,
    displays: BTreeMap<String, String>,
    spans: SpanSource,
    ctx: handlebars::Context,
}

struct Rendered {
    text: String,
    phi: Vec<PhiHit>,
    readability: Option<ReadabilityReport>,
}

impl Composer {
    /// A composer over compiled templates, a PHI guard, platform limits and each
    /// platform's counting rule (`tocsin_connectors::counting_rules()`).
    pub fn new(
        templates: TemplateSet,
        guard: PhiGuard,
        limits: PlatformLimits,
        rules: CountingRules,
    ) -> Self {
        Composer {
            templates,
            guard,
            limits,
            rules,
        }
    }

    /// Each platform's counting rule.
    pub fn rules(&self) -> &CountingRules {
        &self.rules
    }

    /// The platform limits in force.
    pub fn limits(&self) -> &PlatformLimits {
        &self.limits
    }

    /// The PHI guard in force.
    pub fn guard(&self) -> &PhiGuard {
        &self.guard
    }

    /// Validates `raw` and composes `step_id` for `platforms`.
    pub fn compose(
        &self,
        playbook: &Playbook,
        step_id: &str,
        raw: &BTreeMap<String, String>,
        platforms: &[Platform],
        options: ComposeOptions,
    ) -> Result<ComposedStep, ComposeError> {
        let step = playbook
            .step(step_id)
            .ok_or_else(|| ComposeError::UnknownStep {
                playbook: playbook.id.clone(),
                step: step_id.to_string(),
                known: playbook
                    .steps
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let filled = fill_values_for_step(playbook, step, raw)?;
        self.compose_filled(playbook, step, &filled, platforms, options)
    }

    /// Composes the playbook's withdrawal notice (`[retraction]`) over the values of the
    /// message being retracted, for `platforms`; `None` when the playbook has none.
    pub fn compose_retraction(
        &self,
        playbook: &Playbook,
        raw: &BTreeMap<String, String>,
        platforms: &[Platform],
    ) -> Result<Option<ComposedStep>, ComposeError> {
        let Some(notice) = &playbook.retraction else {
            return Ok(None);
        };
        let filled = fill_values_for_step(playbook, notice, raw)?;
        self.compose_filled(
            playbook,
            notice,
            &filled,
            platforms,
            ComposeOptions::default(),
        )
        .map(Some)
    }

    /// Composes a step from values already checked by [`fill_values`], in every language
    /// the playbook declares.
    pub fn compose_filled(
        &self,
        playbook: &Playbook,
        step: &Step,
        filled: &FilledValues,
        platforms: &[Platform],
        options: ComposeOptions,
    ) -> Result<ComposedStep, ComposeError> {
        let primary = self.compose_language(playbook, step, None, filled, platforms, options)?;
        let mut translations = Vec::new();
        for language in playbook.other_languages() {
            let Some(version) = step.translations.get(language) else {
                continue;
            };
            let t = self.compose_language(
                playbook,
                version,
                Some(*language),
                filled,
                platforms,
                options,
            )?;
            translations.push(ComposedTranslation {
                language: *language,
                language_name: language.display_name(),
                headline: t.headline,
                headline_phi: t.headline_phi,
                variants: t.variants,
            });
        }
        let ctx = primary.ctx;
        let spans_source = primary.spans;
        let cap_area = match &playbook.cap {
            Some(_) => Some(tidy(&self.templates.render(
                &cap_area_name(&playbook.id),
                Escaping::Plain,
                &ctx,
            )?)),
            None => None,
        };
        let mut wea = Vec::new();
        for (language, length, _) in step.wea_templates() {
            let text = tidy(&self.templates.render(
                &wea_name(&playbook.id, &step.id, language, length),
                Escaping::Plain,
                &ctx,
            )?);
            let phi = self
                .guard
                .check_with_spans(&text, || value_spans(&text, &spans_source));
            wea.push(ComposedWea {
                language,
                length,
                used: wea_count(&text, language).septets,
                limit: length.limit(),
                text,
                phi,
            });
        }
        Ok(ComposedStep {
            playbook_id: playbook.id.clone(),
            step_id: step.id.clone(),
            headline: primary.headline,
            headline_phi: primary.headline_phi,
            cap_area,
            values: primary.displays,
            variants: primary.variants,
            wea,
            language: playbook.primary_language(),
            translations,
        })
    }

    /// The headline and variants of `step` (the primary step, or its version in
    /// `language`) rendered with the values as that language writes them.
    fn compose_language(
        &self,
        playbook: &Playbook,
        step: &Step,
        in_language: Option<LanguageTag>,
        filled: &FilledValues,
        platforms: &[Platform],
        options: ComposeOptions,
    ) -> Result<LanguageComposed, ComposeError> {
        let (data, displays, spans_source) =
            render_data(playbook, step, filled, options, in_language);
        let ctx = context(data);
        let tag = in_language.unwrap_or_else(|| playbook.primary_language());
        let language = match in_language {
            None => playbook.readability_language(),
            Some(l) => crate::readability::Language::of_tag(l.as_str()),
        };
        let mut cache: BTreeMap<&str, Rendered> = BTreeMap::new();
        let mut variants = Vec::with_capacity(platforms.len() + 1);
        let tags = self.hashtags_for(playbook, step, filled);
        for &platform in platforms {
            let template = step.template_for(platform);
            if !cache.contains_key(template) {
                let body = self.templates.render(template, Escaping::Plain, &ctx)?;
                let body = tidy(&body);
                let body = match (options.post_number, &playbook.session) {
                    (Some(n), Some(s)) if s.numbering => format!("{n}/ {body}"),
                    _ => body,
                };
                let phi = self
                    .guard
                    .check_with_spans(&body, || value_spans(&body, &spans_source));
                // Graded once per template: the hashtags appended per platform are not
                // prose (they are masked), and the body keeps its offsets at the start.
                let readability = language.map(|l| assess(&body, l));
                cache.insert(
                    template,
                    Rendered {
                        text: body,
                        phi,
                        readability,
                    },
                );
            }
            let Some(rendered) = cache.get(template) else {
                continue;
            };
            let no_tags: &[String] = &[];
            let platform_tags = if platform.uses_hashtags() {
                tags.as_slice()
            } else {
                no_tags
            };
            let rule = self.rules.rule(platform);
            let appended =
                append_hashtags(platform, &rule, &rendered.text, platform_tags, &self.limits);
            let measurement = measure(platform, &rule, &appended.text, &self.limits);
            let readability = rendered.readability.clone();
            variants.push(ComposedVariant {
                target: VariantTarget::Platform(platform),
                language: tag,
                template: template.to_string(),
                text: appended.text,
                measurement: Some(measurement),
                hashtags_appended: appended.appended,
                hashtags_dropped: appended.dropped,
                phi: rendered.phi.clone(),
                readability,
                reading_grade_max: playbook.reading_grade_max,
            });
        }
        if platforms.contains(&Platform::Email) {
            if let Some(template) = step.email_html_template() {
                let html = self.templates.render(template, Escaping::Html, &ctx)?;
                let phi = self
                    .guard
                    .check_with_spans(&html, || value_spans(&html, &spans_source));
                let readability = language.map(|l| assess_html(&html, l));
                variants.push(ComposedVariant {
                    target: VariantTarget::EmailHtml,
                    language: tag,
                    template: template.to_string(),
                    text: html,
                    measurement: None,
                    hashtags_appended: Vec::new(),
                    hashtags_dropped: Vec::new(),
                    phi,
                    readability,
                    reading_grade_max: playbook.reading_grade_max,
                });
            }
        }

        let headline = tidy(&self.templates.render(
            &headline_name_in(&playbook.id, &step.id, in_language),
            Escaping::Plain,
            &ctx,
        )?);
        let headline_phi = self
            .guard
            .check_with_spans(&headline, || value_spans(&headline, &spans_source));
        Ok(LanguageComposed {
            headline,
            headline_phi,
            variants,
            displays,
            spans: spans_source,
            ctx,
        })
    }

    /// Hashtags appended to a step's posts: the step's or the playbook's, then a live
    /// session's shared hashtag.
    fn hashtags_for(&self, playbook: &Playbook, step: &Step, filled: &FilledValues) -> Vec<String> {
        let mut tags = step
            .hashtags
            .clone()
            .unwrap_or_else(|| playbook.hashtags.clone());
        if let Some(session) = &playbook.session {
            let session_tag = filled.values.iter().find_map(|(name, v)| match v {
                Some(VariableValue::Hashtag(tag)) if *name == session.hashtag_variable => {
                    Some(tag.clone())
                }
                _ => None,
            });
            if let Some(tag) = session_tag {
                // The session hashtag is what holds a live thread together: it goes first.
                tags.retain(|t| !t.eq_ignore_ascii_case(&tag));
                tags.insert(0, tag);
            }
        }
        tags
    }
}

impl Composer {
    /// Renders a step's card texts (headline, facts, alt text) over the same values as
    /// its texts, and checks them for PHI; `None` when the step has no card. The alt
    /// text template also sees `card.headline` and `card.facts`.
    pub fn compose_card(
        &self,
        playbook: &Playbook,
        step: &Step,
        filled: &FilledValues,
    ) -> Result<Option<ComposedCard>, ComposeError> {
        let Some(card) = &step.card else {
            return Ok(None);
        };
        let (mut data, _, spans_source) =
            render_data(playbook, step, filled, ComposeOptions::default(), None);
        let ctx = context(data.clone());
        let mut problems = Vec::new();
        let mut check = |text: &str, what: &str| {
            for hit in self
                .guard
                .check_with_spans(text, || value_spans(text, &spans_source))
            {
                let from = hit
                    .variable
                    .as_deref()
                    .map_or_else(String::new, |v| format!(", from `{v}`"));
                problems.push(format!(
                    "possible PHI ({}{from}) in the {what}",
                    hit.family.as_str()
                ));
            }
        };
        let headline = tidy(&self.templates.render(
            &headline_name(&playbook.id, &step.id),
            Escaping::Plain,
            &ctx,
        )?);
        check(&headline, "card headline");
        let mut facts = Vec::with_capacity(card.facts.len());
        for i in 0..card.facts.len() {
            let fact = tidy(&self.templates.render(
                &card_fact_name(&playbook.id, &step.id, i),
                Escaping::Plain,
                &ctx,
            )?);
            check(&fact, &format!("card fact {}", i + 1));
            facts.push(fact);
        }
        let mut card_data = Map::new();
        card_data.insert("headline".into(), Value::String(headline.clone()));
        card_data.insert(
            "facts".into(),
            Value::Array(facts.iter().cloned().map(Value::String).collect()),
        );
        if let Value::Object(map) = &mut data {
            map.insert("card".into(), Value::Object(card_data.clone()));
        }
        let alt = tidy(&self.templates.render(
            &card_alt_name(&playbook.id, &step.id),
            Escaping::Plain,
            &context(data.clone()),
        )?);
        check(&alt, "card alt text");
        card_data.insert("alt".into(), Value::String(alt.clone()));
        if let Value::Object(map) = &mut data {
            map.insert("card".into(), Value::Object(card_data));
        }
        Ok(Some(ComposedCard {
            template: card.template.clone(),
            headline,
            facts,
            alt,
            problems,
            data,
        }))
    }

    /// PHI in a text written over a step's values (an image's description, an alert
    /// card's alt text), checked as the step's own texts are: a value's declared families
    /// (a variable's allowed link domains, a clinic's public phone) are allowed where the
    /// value appears in it, and nowhere else.
    pub fn check_over_values(
        &self,
        playbook: &Playbook,
        step: &Step,
        filled: &FilledValues,
        text: &str,
    ) -> Vec<PhiHit> {
        let (_, _, spans_source) =
            render_data(playbook, step, filled, ComposeOptions::default(), None);
        self.guard
            .check_with_spans(text, || value_spans(text, &spans_source))
    }

    /// A platform's variant with the drafter's own text in place of the rendered one (a
    /// step's `overrides`): taken as written (no hashtags added), measured as the platform
    /// counts and checked for PHI like any text.
    pub fn override_variant(
        &self,
        playbook: &Playbook,
        platform: Platform,
        text: &str,
    ) -> ComposedVariant {
        let text = tidy(text);
        let phi = self.guard.check_with_spans(&text, Vec::new);
        let rule = self.rules.rule(platform);
        let measurement = measure(platform, &rule, &text, &self.limits);
        let readability = playbook.readability_language().map(|l| assess(&text, l));
        ComposedVariant {
            readability,
            reading_grade_max: playbook.reading_grade_max,
            target: VariantTarget::Platform(platform),
            language: playbook.primary_language(),
            template: "(written by the drafter)".to_string(),
            text,
            measurement: Some(measurement),
            hashtags_appended: Vec::new(),
            hashtags_dropped: Vec::new(),
            phi,
        }
    }
}

/// Name under which a step's headline is compiled.
pub fn headline_name(playbook: &str, step: &str) -> String {
    format!("{playbook}#{step}#headline")
}

/// Name under which a step's headline in `language` is compiled (`None`: the primary,
/// [`headline_name`]).
pub fn headline_name_in(playbook: &str, step: &str, language: Option<LanguageTag>) -> String {
    match language {
        None => headline_name(playbook, step),
        Some(l) => format!("{playbook}#{step}#headline.{l}"),
    }
}

/// Name under which a step's WEA text is compiled (`boil-water#alert#wea-es-short`).
pub fn wea_name(playbook: &str, step: &str, language: WeaLanguage, length: WeaLength) -> String {
    format!("{playbook}#{step}#wea-{language}-{}", length.as_str())
}

/// Name under which a step's card fact is compiled (`boil-water#alert#card-fact-1`,
/// counting from 1).
pub fn card_fact_name(playbook: &str, step: &str, index: usize) -> String {
    format!("{playbook}#{step}#card-fact-{}", index + 1)
}

/// Name under which a step's card alt text is compiled.
pub fn card_alt_name(playbook: &str, step: &str) -> String {
    format!("{playbook}#{step}#card-alt")
}

/// Name under which a playbook's CAP area is compiled.
pub fn cap_area_name(playbook: &str) -> String {
    format!("{playbook}#cap-area")
}

/// Trailing newlines from template files are not part of the message.
fn tidy(text: &str) -> String {
    text.trim_end().to_string()
}

/// Where each value shows up, for PHI attribution: (display text, variable, allowed families).
type SpanSource = Vec<(String, String, Vec<crate::phi::PhiFamily>)>;

fn render_data(
    playbook: &Playbook,
    step: &Step,
    filled: &FilledValues,
    options: ComposeOptions,
    in_language: Option<LanguageTag>,
) -> (Value, BTreeMap<String, String>, SpanSource) {
    let language = in_language.unwrap_or_else(|| playbook.primary_language());
    let mut data = Map::new();
    let mut datetimes = Map::new();
    let mut displays = BTreeMap::new();
    let mut spans = Vec::new();
    for (name, value) in &filled.values {
        let Some(spec) = playbook.variable(name) else {
            continue;
        };
        let Some(value) = value else {
            data.insert(name.clone(), Value::String(String::new()));
            displays.insert(name.clone(), String::new());
            continue;
        };
        let display = display_in(playbook, spec, value, language, in_language);
        let json = match value {
            VariableValue::Integer(n) => Value::from(*n),
            _ => Value::String(display.clone()),
        };
        if let (VariableValue::Datetime(at), VariableRule::Datetime { .. }) = (value, &spec.rule) {
            datetimes.insert(name.clone(), Value::String(at.to_rfc3339()));
        }
        data.insert(name.clone(), json);
        if !display.is_empty() {
            let mut allowed = spec.phi_allow.clone();
            if matches!(spec.rule, VariableRule::Url { .. }) {
                // The value already passed the variable's allowed-domains rule.
                allowed.push(crate::phi::PhiFamily::Url);
            }
            spans.push((display.clone(), name.clone(), allowed));
        }
        displays.insert(name.clone(), display);
    }
    let tags = step.hashtags.as_ref().unwrap_or(&playbook.hashtags);
    data.insert(
        "hashtags".into(),
        Value::Array(tags.iter().map(|t| Value::String(t.clone())).collect()),
    );
    let mut meta = Map::new();
    meta.insert("id".into(), Value::String(playbook.id.clone()));
    meta.insert(
        "title".into(),
        Value::String(playbook.title_in(in_language).to_string()),
    );
    data.insert("playbook".into(), Value::Object(meta));
    let mut step_meta = Map::new();
    step_meta.insert("id".into(), Value::String(step.id.clone()));
    step_meta.insert("title".into(), Value::String(step.title.clone()));
    data.insert("step".into(), Value::Object(step_meta));
    data.insert(
        "post_number".into(),
        options
            .post_number
            .map_or(Value::String(String::new()), Value::from),
    );
    data.insert(DATETIME_KEY.into(), Value::Object(datetimes));
    data.insert(
        ZONE_KEY.into(),
        Value::String(playbook.timezone.name().to_string()),
    );
    data.insert(
        LANGUAGE_KEY.into(),
        Value::String(language.as_str().to_string()),
    );
    (Value::Object(data), displays, spans)
}

/// A value as `language` writes it: date-times with its month and day names (in the
/// playbook's format for that language, unless the variable names its own format), an
/// enum's choice as that language's residents read it.
fn display_in(
    playbook: &Playbook,
    spec: &crate::variables::VariableSpec,
    value: &VariableValue,
    language: LanguageTag,
    in_language: Option<LanguageTag>,
) -> String {
    match (value, &spec.rule) {
        (VariableValue::Datetime(at), VariableRule::Datetime { format, .. }) => {
            let format = if format == &playbook.datetime_format {
                playbook.datetime_format_in(in_language)
            } else {
                format.as_str()
            };
            language.format_datetime(at, format)
        }
        (VariableValue::Text(choice), VariableRule::Enum { choices }) => in_language
            .and_then(|l| playbook.variable_in(&spec.name, l))
            .and_then(|t| t.choices.as_ref())
            .and_then(|theirs| {
                let at = choices.iter().position(|c| c == choice)?;
                theirs.get(at).cloned()
            })
            .unwrap_or_else(|| spec.display(value)),
        _ => spec.display(value),
    }
}

fn value_spans(text: &str, source: &SpanSource) -> Vec<ValueSpan> {
    let mut spans = Vec::new();
    for (display, variable, allowed) in source {
        for (start, _) in text.match_indices(display.as_str()) {
            spans.push(ValueSpan {
                variable: variable.clone(),
                start,
                end: start + display.len(),
                allowed_families: allowed.clone(),
            });
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;
    use crate::phi::PhiConfig;
    use proptest::prelude::*;

    const PLAYBOOK: &str = r#"
id = "heat"
title = "Heat"
description = "Heat warning."
timezone = "America/Chicago"
hashtags = ["HeatWarning", "StaySafe"]

[[variables]]
name = "area"
type = "text"
label = "Area"
max_length = 200
example = "North Side"

[[variables]]
name = "center"
type = "text"
label = "Cooling center address"
phi_allow = ["street_address"]
example = "1200 W Harrison St"

[[variables]]
name = "from"
type = "datetime"
label = "From"
required = false

[[variables]]
name = "until"
type = "datetime"
label = "Until"
after = "from"
example = "2026-07-14T21:00"

[[variables]]
name = "note"
type = "text"
label = "Note"
required = false

[[variables]]
name = "tag"
type = "hashtag"
label = "Session tag"
example = "HeatLive"

[session]
hashtag_variable = "tag"

[[steps]]
id = "warning"
title = "Warning"
headline = "Heat warning for {{area}}"
template = "heat/warning.hbs"
variants = { sms = "heat/warning.sms.hbs", email_html = "heat/warning.html.hbs" }

[[steps]]
id = "brief"
title = "Brief"
headline = "Heat"
template = "heat/brief.hbs"
"#;

    fn setup() -> (tempfile::TempDir, Library, Composer) {
        setup_with(PLAYBOOK)
    }

    fn setup_with(playbook: &str) -> (tempfile::TempDir, Library, Composer) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("playbooks")).unwrap();
        std::fs::create_dir_all(p.join("templates/heat")).unwrap();
        std::fs::write(p.join("playbooks/heat.toml"), playbook).unwrap();
        std::fs::write(
            p.join("templates/heat/warning.hbs"),
            "Heat warning for {{area}} until {{until}}. Cooling center: {{center}}.{{#if note}} {{note}}{{/if}}\n",
        )
        .unwrap();
        std::fs::write(
            p.join("templates/heat/warning.sms.hbs"),
            "HEAT: {{area}} until {{datetime until \"%-I %p\"}}\n",
        )
        .unwrap();
        std::fs::write(p.join("templates/heat/brief.hbs"), "Heat in {{area}}.\n").unwrap();
        std::fs::write(
            p.join("templates/heat/warning.html.hbs"),
            "<p>Heat warning for {{area}}</p>",
        )
        .unwrap();
        let library = Library::load(&p.join("playbooks"), &p.join("templates")).unwrap();
        assert!(
            library.diagnostics().is_empty(),
            "{:?}",
            library.diagnostics()
        );
        let composer = Composer::new(
            library.templates().clone(),
            PhiGuard::new(&PhiConfig::default()).unwrap(),
            PlatformLimits::default(),
            crate::counting::test_rules(),
        );
        (dir, library, composer)
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        for (k, val) in pairs {
            v.insert(k.to_string(), val.to_string());
        }
        v
    }

    /// The values refused when composing `step` over `v` for X (panics if it composes).
    fn invalid_values(
        composer: &Composer,
        pb: &Playbook,
        step: &str,
        v: &BTreeMap<String, String>,
    ) -> Vec<ValueError> {
        let err = composer
            .compose(pb, step, v, &[Platform::X], ComposeOptions::default())
            .unwrap_err();
        let ComposeError::InvalidValues(errors) = err else {
            panic!("{err}")
        };
        errors
    }

    fn names(errors: &[ValueError]) -> Vec<&str> {
        errors.iter().map(|e| e.variable.as_str()).collect()
    }

    fn examples() -> BTreeMap<String, String> {
        values(&[
            ("area", "North Side"),
            ("center", "1200 W Harrison St"),
            ("until", "2026-07-14T21:00"),
            ("tag", "HeatLive"),
        ])
    }

    #[test]
    fn each_platform_gets_its_variant_with_the_session_tag_first_then_the_playbook_tags() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        let c = composer
            .compose(
                pb,
                "warning",
                &examples(),
                &[Platform::Mastodon, Platform::Sms, Platform::Email],
                ComposeOptions::default(),
            )
            .unwrap();
        let masto = c
            .variant(VariantTarget::Platform(Platform::Mastodon))
            .unwrap();
        assert_eq!(
            masto.text,
            "Heat warning for North Side until Tuesday, July 14 at 9:00 PM CDT. Cooling center: 1200 W Harrison St. #HeatLive #HeatWarning #StaySafe"
        );
        let sms = c.variant(VariantTarget::Platform(Platform::Sms)).unwrap();
        assert!(
            sms.text.starts_with("HEAT: North Side until 9 PM"),
            "{}",
            sms.text
        );
        assert!(c.variant(VariantTarget::EmailHtml).is_some());
        assert_eq!(c.headline, "Heat warning for North Side");
        assert!(
            !c.is_blocked(),
            "{:?}",
            c.variants
                .iter()
                .map(|v| v.blocking_problems())
                .collect::<Vec<_>>()
        );
    }

    /// The heat playbook with CAP fields and WEA texts in English and Spanish.
    fn with_wea() -> String {
        let cap = "[cap]\nevent = \"Heat\"\ncategory = \"Health\"\nurgency = \"Expected\"\nseverity = \"Severe\"\ncertainty = \"Likely\"\narea = \"{{area}}\"\nexpires_hours = 12\n\n[session]";
        let wea = r#"[steps.wea.en]
short = 'Heat warning in this area until {{datetime until "%-I %p"}}. Cooling center: {{center}}.'
long = "Heat warning for {{area}} until {{until}}."

[steps.wea.es]
short = 'Calor extremo hasta las {{datetime until "%H:%M"}}. Refúgiese en {{center}}.'

[[steps]]
id = "brief""#;
        PLAYBOOK
            .replace("[session]", cap)
            .replace("[[steps]]\nid = \"brief\"", wea)
    }

    #[test]
    fn wea_texts_are_rendered_over_the_values_and_counted_in_septets() {
        let (_d, lib, composer) = setup_with(&with_wea());
        let pb = lib.get("heat").unwrap();
        let c = composer
            .compose(pb, "warning", &examples(), &[], ComposeOptions::default())
            .unwrap();
        let texts: Vec<(&str, &str, &str, usize)> = c
            .wea
            .iter()
            .map(|w| {
                (
                    w.language.as_str(),
                    w.length.as_str(),
                    w.text.as_str(),
                    w.used,
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    "en",
                    "short",
                    "Heat warning in this area until 9 PM. Cooling center: 1200 W Harrison St.",
                    73
                ),
                (
                    "en",
                    "long",
                    "Heat warning for North Side until Tuesday, July 14 at 9:00 PM CDT.",
                    66
                ),
                // 'ú' is on the Spanish shift table: 2 septets for 1 character.
                (
                    "es",
                    "short",
                    "Calor extremo hasta las 21:00. Refúgiese en 1200 W Harrison St.",
                    64
                ),
            ]
        );
        assert_eq!(c.wea[0].target().as_str(), "wea_en_short");
        assert!(!c.is_blocked());

        // A longer value pushes the short text over 90: approval is blocked.
        let mut long = examples();
        long.insert(
            "center".into(),
            "The Harold Washington Library Center, 400 S State St".into(),
        );
        let c = composer
            .compose(pb, "warning", &long, &[], ComposeOptions::default())
            .unwrap();
        assert!(c.is_blocked());
        let problems = c.wea[0].blocking_problems();
        assert!(problems[0].contains("of 90 WEA characters"), "{problems:?}");
        // The Spanish one too (97 characters, 98 septets with its 'ú').
        assert_eq!((c.wea[2].text.chars().count(), c.wea[2].used), (97, 98));
        // The long one still fits its 360.
        assert!(c.wea[1].blocking_problems().is_empty(), "{:?}", c.wea[1]);
    }

    #[test]
    fn a_phi_family_allowed_in_one_variable_is_still_caught_in_another() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        let mut v = examples();
        v.insert("note".into(), "Patient lives at 42 Oak Street.".into());
        let c = composer
            .compose(
                pb,
                "warning",
                &v,
                &[Platform::Mastodon],
                ComposeOptions::default(),
            )
            .unwrap();
        let hits = &c.variants[0].phi;
        assert!(
            hits.iter().any(|h| h.variable.as_deref() == Some("note")),
            "{hits:?}"
        );
        assert!(
            !hits.iter().any(|h| h.variable.as_deref() == Some("center")),
            "{hits:?}"
        );
        assert!(c.is_blocked());
    }

    #[test]
    fn each_variant_is_graded_and_a_grade_above_the_maximum_warns_without_blocking() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        let platforms = [Platform::Mastodon, Platform::Sms, Platform::Email];
        let c = composer
            .compose(
                pb,
                "warning",
                &examples(),
                &platforms,
                ComposeOptions::default(),
            )
            .unwrap();
        for v in &c.variants {
            let r = v.readability.as_ref().unwrap();
            assert_eq!(r.formula, "Flesch–Kincaid grade level");
            assert_eq!(v.reading_grade_max, 8.0);
        }
        let masto = c
            .variant(VariantTarget::Platform(Platform::Mastodon))
            .unwrap();
        // The hashtags appended are not words, nor are the numbers.
        let r = masto.readability.as_ref().unwrap();
        assert_eq!(r.sentence_lengths, vec![11, 5], "{r:?}");
        assert!(!masto.over_reading_grade(), "{r:?}");

        let mut v = examples();
        v.insert(
            "note".into(),
            "Individuals experiencing symptomatic hyperthermia should immediately contact emergency medical services, and vulnerable populations are strongly encouraged to utilize designated cooling facilities.".into(),
        );
        let c = composer
            .compose(pb, "warning", &v, &platforms, ComposeOptions::default())
            .unwrap();
        let masto = c
            .variant(VariantTarget::Platform(Platform::Mastodon))
            .unwrap();
        let r = masto.readability.as_ref().unwrap();
        assert!(r.grade > 8.0, "{r:?}");
        assert!(masto.over_reading_grade());
        assert!(
            masto
                .warnings()
                .iter()
                .any(|w| w.contains("reading grade") && w.contains("reading_grade_max of 8")),
            "{:?}",
            masto.warnings()
        );
        let jargon: Vec<&str> = r.jargon.iter().map(|h| h.term.as_str()).collect();
        assert!(jargon.contains(&"utilize"), "{jargon:?}");
        assert!(jargon.contains(&"vulnerable populations"), "{jargon:?}");
        assert_eq!(r.passive.len(), 1, "{:?}", r.passive);
        // A warning, not a blocker.
        assert!(!c.is_blocked());
    }

    #[test]
    fn every_invalid_value_is_reported_together() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        let mut v = examples();
        v.insert("until".into(), "soon".into());
        v.insert("tag".into(), "#1".into());
        v.remove("area");
        let errors = invalid_values(&composer, pb, "warning", &v);
        assert_eq!(names(&errors), ["area", "until", "tag"]);
    }

    #[test]
    fn a_step_needs_only_the_variables_it_reads() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        // `brief` reads the area (and the session tag); the center and the end time,
        // required by `warning`, may stay empty.
        let v = values(&[("area", "North Side"), ("tag", "HeatLive")]);
        let c = composer
            .compose(pb, "brief", &v, &[Platform::X], ComposeOptions::default())
            .unwrap();
        assert!(c.variants[0].text.starts_with("Heat in North Side."));
        let errors = invalid_values(&composer, pb, "warning", &v);
        assert_eq!(names(&errors), ["center", "until"]);
        // A value given for a variable the step does not read is still checked.
        let mut bad = v.clone();
        bad.insert("until".into(), "soon".into());
        let err = composer
            .compose(pb, "brief", &bad, &[Platform::X], ComposeOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("until"), "{err}");
    }

    #[test]
    fn an_end_before_its_start_is_refused_at_the_end_naming_both() {
        let (_d, lib, composer) = setup();
        let pb = lib.get("heat").unwrap();
        let mut v = examples();
        v.insert("from".into(), "2026-07-14T22:00".into());
        let errors = invalid_values(&composer, pb, "warning", &v);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].variable, "until");
        assert!(
            errors[0].problem.contains("must come after From"),
            "{}",
            errors[0].problem
        );
        // The same moment is not after it either; a minute later is.
        v.insert("from".into(), "2026-07-14T21:00".into());
        assert!(composer
            .compose(pb, "warning", &v, &[Platform::X], ComposeOptions::default())
            .is_err());
        v.insert("from".into(), "2026-07-14T20:59".into());
        assert!(composer
            .compose(pb, "warning", &v, &[Platform::X], ComposeOptions::default())
            .is_ok());
    }

    #[test]
    fn a_value_for_an_undeclared_variable_is_refused() {
        let (_d, lib, composer) = setup();
        let mut v = examples();
        v.insert("aera".into(), "x".into());
        let err = composer
            .compose(
                lib.get("heat").unwrap(),
                "warning",
                &v,
                &[Platform::X],
                ComposeOptions::default(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("`aera`"), "{err}");
    }

    #[test]
    fn live_posts_are_numbered_when_the_session_asks() {
        let (_d, lib, composer) = setup();
        let c = composer
            .compose(
                lib.get("heat").unwrap(),
                "warning",
                &examples(),
                &[Platform::Bluesky],
                ComposeOptions {
                    post_number: Some(3),
                },
            )
            .unwrap();
        assert!(
            c.variants[0].text.starts_with("3/ Heat warning"),
            "{}",
            c.variants[0].text
        );
    }

    proptest! {
        #[test]
        fn any_accepted_text_reaches_plain_platforms_verbatim(area in "[^\\p{C}]{1,80}") {
            let (_d, lib, composer) = setup();
            let mut v = examples();
            v.insert("area".into(), area.clone());
            let Ok(c) = composer.compose(lib.get("heat").unwrap(), "warning", &v, &[Platform::Mastodon], ComposeOptions::default()) else {
                return Ok(());
            };
            prop_assert!(c.variants[0].text.contains(area.trim()));
        }
    }
}
