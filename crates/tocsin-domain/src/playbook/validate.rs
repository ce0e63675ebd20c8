//! From a parsed playbook file to a [`Playbook`], checking every rule a type can't express.
//!
//! Every problem found is collected (not just the first), each pinned to the span of the
//! value at fault, so `tocsin playbooks lint` can list them all with line and column.

use chrono_tz::Tz;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

use super::file::{CardFile, PlaybookFile, StepFile, StepTranslationFile, VariableFile};
use super::{
    CapInfo, CardSpec, Playbook, PlaybookTranslation, SessionSpec, Step, StepCap,
    VariableTranslation, VariantTarget, RETRACTION_STEP,
};
use crate::diagnostics::Diagnostic;
use crate::language::LanguageTag;
use crate::phi::PhiFamily;
use crate::readability::DEFAULT_READING_GRADE_MAX;
use crate::variables::{datetime_format_is_valid, VariableKind, VariableRule, VariableSpec};
use crate::wea::{WeaLanguage, WeaTexts};
use crate::Platform;

/// The strftime format used for date-times when a playbook names none.
pub const DEFAULT_DATETIME_FORMAT: &str = "%A, %B %-d at %-I:%M %p %Z";

/// Names templates can use that are not playbook variables.
pub const RESERVED_NAMES: [&str; 5] = ["hashtags", "playbook", "step", "post_number", "card"];

/// The longest `[cap] expires_hours`: a week.
const MAX_EXPIRES_HOURS: u32 = 168;

/// Longest text value accepted when a text variable names no `max_length`.
const DEFAULT_TEXT_MAX_LENGTH: usize = 500;

struct Collector<'a> {
    path: &'a Path,
    source: &'a str,
    problems: Vec<Diagnostic>,
}

impl Collector<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(Diagnostic::error_at(
            self.path,
            self.source,
            Some(span.start),
            message,
        ));
    }
}

/// Parses and validates one playbook's TOML source. `path` is used in diagnostics and
/// kept in the result.
pub fn parse_playbook(path: &Path, source: &str) -> Result<Playbook, Vec<Diagnostic>> {
    let raw: PlaybookFile = toml::from_str(source).map_err(|e| {
        vec![Diagnostic::error_at(
            path,
            source,
            e.span().map(|s| s.start),
            e.message().trim().to_string(),
        )]
    })?;
    let mut c = Collector {
        path,
        source,
        problems: Vec::new(),
    };
    let playbook = build(&mut c, raw, path);
    if c.problems.is_empty() {
        Ok(playbook)
    } else {
        Err(c.problems)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
}

fn build(c: &mut Collector<'_>, raw: PlaybookFile, path: &Path) -> Playbook {
    if !is_slug(raw.id.get_ref()) {
        c.at(
            raw.id.span(),
            format!(
                "playbook id `{}` must be lowercase letters, digits and dashes",
                raw.id.get_ref()
            ),
        );
    }
    let timezone: Tz = match raw.timezone.get_ref().parse() {
        Ok(tz) => tz,
        Err(_) => {
            c.at(
                raw.timezone.span(),
                format!(
                    "`{}` is not an IANA time zone (e.g. America/Chicago)",
                    raw.timezone.get_ref()
                ),
            );
            chrono_tz::UTC
        }
    };
    let datetime_format = match &raw.datetime_format {
        Some(f) => {
            if !datetime_format_is_valid(f.get_ref()) {
                c.at(
                    f.span(),
                    format!("`{}` is not a valid strftime format", f.get_ref()),
                );
            }
            f.get_ref().clone()
        }
        None => DEFAULT_DATETIME_FORMAT.to_string(),
    };
    let hashtags = check_hashtags(c, &raw.hashtags);
    let audience = check_audience(c, &raw.audience);
    let languages = check_languages(c, &raw.language, &raw.languages);
    let language = languages
        .first()
        .copied()
        .unwrap_or_else(LanguageTag::english)
        .to_string();
    let others: Vec<LanguageTag> = languages.iter().skip(1).copied().collect();
    let translations = playbook_translations(c, &raw, &others);
    let reading_grade_max = match &raw.reading_grade_max {
        Some(max) if !(1.0..=20.0).contains(max.get_ref()) => {
            c.at(
                max.span(),
                format!(
                    "reading_grade_max must be a number from 1 to 20 (a school grade), not {}",
                    max.get_ref()
                ),
            );
            DEFAULT_READING_GRADE_MAX
        }
        Some(max) => *max.get_ref(),
        None => DEFAULT_READING_GRADE_MAX,
    };

    let mut variables = Vec::new();
    let mut variable_translations = BTreeMap::new();
    let mut afters = Vec::new();
    let mut seen = BTreeSet::new();
    for mut var in raw.variables {
        let name = var.name.get_ref().clone();
        let in_languages = std::mem::take(&mut var.translations);
        variable_translations.insert(
            name.clone(),
            variable_in_languages(c, &var, in_languages, &others),
        );
        if !seen.insert(name.clone()) {
            c.at(
                var.name.span(),
                format!("variable `{name}` is declared twice"),
            );
        }
        let after = var.after.clone();
        if let Some(spec) = build_variable(c, var, timezone, &datetime_format) {
            variables.push(spec);
        }
        afters.extend(after.map(|a| (name, a)));
    }
    // `after` names an earlier-declared or later date-time variable, not itself.
    for (name, after) in &afters {
        let other = after.get_ref();
        match variables.iter().find(|v| &v.name == other) {
            _ if other == name => c.at(
                after.span(),
                format!("variable `{name}`: `after` names the variable itself"),
            ),
            Some(v) if v.kind() == VariableKind::Datetime => {}
            Some(v) => c.at(
                after.span(),
                format!(
                    "variable `{name}`: `after` names `{other}`, which is of type {}, not datetime",
                    v.kind()
                ),
            ),
            None => c.at(
                after.span(),
                format!("variable `{name}`: `after` names `{other}`, which is not declared in [[variables]]"),
            ),
        }
    }

    let session = raw.session.map(|s| {
        let name = s.hashtag_variable.get_ref();
        match variables.iter().find(|v| &v.name == name) {
            Some(v) if v.kind() == VariableKind::Hashtag => {}
            Some(v) => c.at(
                s.hashtag_variable.span(),
                format!(
                    "session hashtag variable `{name}` is of type {}, not hashtag",
                    v.kind()
                ),
            ),
            None => c.at(
                s.hashtag_variable.span(),
                format!("session hashtag variable `{name}` is not declared in [[variables]]"),
            ),
        }
        let mut fixed = Vec::with_capacity(s.fixed.len());
        for entry in &s.fixed {
            let fixed_name = entry.get_ref();
            if !variables.iter().any(|v| &v.name == fixed_name) {
                c.at(
                    entry.span(),
                    format!("session fixed variable `{fixed_name}` is not declared in [[variables]]"),
                );
            } else if fixed_name == name {
                c.at(
                    entry.span(),
                    format!("`{fixed_name}` is the session's hashtag variable: the hashtag is already set once when the session starts"),
                );
            } else if fixed.contains(fixed_name) {
                c.at(entry.span(), format!("session fixed variable `{fixed_name}` is listed twice"));
            } else {
                fixed.push(fixed_name.clone());
            }
        }
        SessionSpec {
            hashtag_variable: name.clone(),
            numbering: s.numbering,
            fixed,
        }
    });

    let cap_span = raw.cap.as_ref().map(|cap| cap.area.span());
    let cap = raw.cap.map(|cap| {
        if let Some(h) = &cap.expires_hours {
            if !(1..=MAX_EXPIRES_HOURS).contains(h.get_ref()) {
                c.at(
                    h.span(),
                    format!("[cap] expires_hours must be 1 to {MAX_EXPIRES_HOURS}"),
                );
            }
        }
        CapInfo {
            event: cap.event,
            category: cap.category,
            urgency: cap.urgency,
            severity: cap.severity,
            certainty: cap.certainty,
            area: cap.area.into_inner(),
            geocodes: cap.geocodes,
            expires_hours: cap.expires_hours.map(Spanned::into_inner),
        }
    });

    let steps_span = raw.steps.span();
    let raw_steps = raw.steps.into_inner();
    if raw_steps.is_empty() {
        c.at(
            steps_span.clone(),
            "a playbook needs at least one [[steps]] entry",
        );
    }
    let mut step_ids = BTreeSet::new();
    let mut steps = Vec::new();
    for step in raw_steps {
        if !step_ids.insert(step.id.get_ref().clone()) {
            c.at(
                step.id.span(),
                format!("step `{}` is declared twice", step.id.get_ref()),
            );
        }
        if let Some((language, _)) = step.wea.iter().next() {
            match &cap {
                None => c.at(
                    language.span(),
                    format!(
                        "step `{}` has WEA texts but the playbook has no [cap] block: WEA texts are published in the CAP feed",
                        step.id.get_ref()
                    ),
                ),
                Some(cap) if cap.expires_hours.is_none() => c.at(
                    cap_span.clone().unwrap_or(language.span()),
                    format!(
                        "step `{}` has WEA texts: set [cap] expires_hours (WEA needs an expiration time, 47 CFR 10.420, and the IPAWS profile requires <expires>)",
                        step.id.get_ref()
                    ),
                ),
                Some(_) => {}
            }
        }
        steps.push(build_step(c, step, &audience, &others));
    }
    let retraction = raw.retraction.map(|r| {
        if step_ids.contains(RETRACTION_STEP) {
            c.at(
                steps_span.clone(),
                format!("a step cannot be called `{RETRACTION_STEP}` when the playbook has a [retraction]"),
            );
        }
        build_step(
            c,
            StepFile {
                id: Spanned::new(0..0, RETRACTION_STEP.to_string()),
                title: "Withdrawal notice".into(),
                headline: r.headline,
                template: r.template,
                variants: r.variants,
                hashtags: Some(Vec::new()),
                cap: None,
                // The notice goes where the message went, whatever its audience.
                audience: None,
                wea: BTreeMap::new(),
                overrides: Vec::new(),
                translations: r.translations,
                card: None,
            },
            &audience,
            &others,
        )
    });

    Playbook {
        id: raw.id.into_inner(),
        title: raw.title,
        description: raw.description,
        tags: raw.tags,
        timezone,
        datetime_format,
        hashtags,
        audience,
        approval: raw.approval,
        sources: raw.sources,
        cap,
        session,
        variables,
        steps,
        retraction,
        language,
        languages,
        translations,
        variable_translations,
        reading_grade_max,
        path: path.to_path_buf(),
    }
}

/// The playbook's languages, primary first: `languages`, else the older single
/// `language`, else English. Each tag is checked at its line; a repeat is refused.
fn check_languages(
    c: &mut Collector<'_>,
    single: &Option<Spanned<String>>,
    list: &Option<Spanned<Vec<Spanned<String>>>>,
) -> Vec<LanguageTag> {
    let parse =
        |c: &mut Collector<'_>, tag: &Spanned<String>| match LanguageTag::parse(tag.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                c.at(tag.span(), e.to_string());
                None
            }
        };
    match (single, list) {
        (Some(one), Some(_)) => {
            c.at(
                one.span(),
                "set `languages` or `language`, not both: the first of `languages` is the primary language",
            );
            vec![LanguageTag::english()]
        }
        (Some(one), None) => vec![parse(c, one).unwrap_or_else(LanguageTag::english)],
        (None, Some(list)) => {
            let mut out: Vec<LanguageTag> = Vec::new();
            for tag in list.get_ref() {
                let Some(t) = parse(c, tag) else { continue };
                if out.contains(&t) {
                    c.at(tag.span(), format!("language `{t}` is listed twice"));
                } else {
                    out.push(t);
                }
            }
            if list.get_ref().is_empty() {
                c.at(
                    list.span(),
                    "`languages` names at least one language (the first is the primary)",
                );
            }
            if out.is_empty() {
                out.push(LanguageTag::english());
            }
            out
        }
        (None, None) => vec![LanguageTag::english()],
    }
}

/// Reads a `translations.<tag>` key: a BCP 47 tag the playbook declares as a non-primary
/// language. Problems are reported at the key.
fn translation_language(
    c: &mut Collector<'_>,
    key: &Spanned<String>,
    others: &[LanguageTag],
    what: &str,
) -> Option<LanguageTag> {
    let tag = match LanguageTag::parse(key.get_ref()) {
        Ok(t) => t,
        Err(e) => {
            c.at(key.span(), format!("{what}: {e}"));
            return None;
        }
    };
    if others.contains(&tag) {
        Some(tag)
    } else {
        c.at(
            key.span(),
            format!(
                "{what}: translations.{tag} is for a language this playbook does not declare (add `{tag}` to `languages`; the first language's texts are the fields themselves)"
            ),
        );
        None
    }
}

/// `[translations.<tag>]`: the title is required for each non-primary language; the
/// description falls back to the primary one; the date-time format to the language's.
fn playbook_translations(
    c: &mut Collector<'_>,
    raw: &PlaybookFile,
    others: &[LanguageTag],
) -> BTreeMap<LanguageTag, PlaybookTranslation> {
    let mut out = BTreeMap::new();
    for (key, t) in &raw.translations {
        let Some(tag) = translation_language(c, key, others, "the playbook") else {
            continue;
        };
        if let Some(f) = &t.datetime_format {
            if !datetime_format_is_valid(f.get_ref()) {
                c.at(
                    f.span(),
                    format!("`{}` is not a valid strftime format", f.get_ref()),
                );
            }
        }
        let Some(title) = &t.title else {
            c.at(
                key.span(),
                format!("missing translation: [translations.{tag}] has no `title`"),
            );
            continue;
        };
        out.insert(
            tag,
            PlaybookTranslation {
                title: title.clone(),
                description: t
                    .description
                    .clone()
                    .unwrap_or_else(|| raw.description.clone()),
                datetime_format: t.datetime_format.as_ref().map_or_else(
                    || tag.default_datetime_format().to_string(),
                    |f| f.get_ref().clone(),
                ),
            },
        );
    }
    for tag in others {
        if !out.contains_key(tag) && !raw.translations.keys().any(|k| k.get_ref() == tag.as_str()) {
            let at = raw.languages.as_ref().map_or(0..0, Spanned::span);
            c.at(
                at,
                format!(
                    "missing translation: the playbook's title in `{tag}` (add [translations.{tag}] with `title`)"
                ),
            );
        }
    }
    out
}

/// A variable's label, help and choices in each non-primary language: a label is
/// required for each; an enum's choices too, as many as the primary ones.
fn variable_in_languages(
    c: &mut Collector<'_>,
    var: &VariableFile,
    given: BTreeMap<Spanned<String>, super::file::VariableTranslationFile>,
    others: &[LanguageTag],
) -> BTreeMap<LanguageTag, VariableTranslation> {
    let name = var.name.get_ref();
    let what = format!("variable `{name}`");
    let mut out = BTreeMap::new();
    for (key, t) in given {
        let Some(tag) = translation_language(c, &key, others, &what) else {
            continue;
        };
        let Some(label) = t.label else {
            c.at(
                key.span(),
                format!("missing translation: variable `{name}` has no label in `{tag}`"),
            );
            continue;
        };
        let choices = match (&t.choices, &var.choices) {
            (Some(ours), Some(primary)) if ours.get_ref().len() != primary.get_ref().len() => {
                c.at(
                    ours.span(),
                    format!(
                        "variable `{name}`: {} choices in `{tag}` for {} in the primary language (they match position for position)",
                        ours.get_ref().len(),
                        primary.get_ref().len()
                    ),
                );
                None
            }
            (Some(ours), Some(_)) => Some(ours.get_ref().clone()),
            (Some(ours), None) => {
                c.at(
                    ours.span(),
                    format!("variable `{name}`: `choices` in `{tag}` applies only to type enum"),
                );
                None
            }
            (None, Some(_)) => {
                c.at(
                    key.span(),
                    format!(
                        "missing translation: enum variable `{name}` has no `choices` in `{tag}`"
                    ),
                );
                None
            }
            (None, None) => None,
        };
        out.insert(
            tag,
            VariableTranslation {
                label,
                help: t.help,
                choices,
            },
        );
    }
    for tag in others {
        if !out.contains_key(tag)
            && !c.problems.iter().any(|p| {
                p.message
                    .contains(&format!("variable `{name}` has no label in `{tag}`"))
            })
        {
            c.at(
                var.name.span(),
                format!(
                    "missing translation: variable `{name}` has no label in `{tag}` (add translations.{tag} = {{ label = \"...\" }})"
                ),
            );
        }
    }
    out
}

/// Checks audience group names (the playbook id rule), returning the good ones.
fn check_audience(c: &mut Collector<'_>, groups: &[Spanned<String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        if crate::audience::is_group_name(g.get_ref()) {
            if !out.contains(g.get_ref()) {
                out.push(g.get_ref().clone());
            }
        } else {
            c.at(
                g.span(),
                format!(
                    "audience group `{}` must be lowercase letters, digits and dashes (like a playbook id)",
                    g.get_ref()
                ),
            );
        }
    }
    out
}

fn check_hashtags(c: &mut Collector<'_>, tags: &[Spanned<String>]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| {
            let tag = t.get_ref().trim_start_matches('#');
            let valid = !tag.is_empty()
                && tag.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
                && !tag.chars().all(|ch| ch.is_ascii_digit());
            if valid {
                Some(tag.to_string())
            } else {
                c.at(
                    t.span(),
                    format!(
                        "`{}` is not a hashtag: letters, digits and underscores only",
                        t.get_ref()
                    ),
                );
                None
            }
        })
        .collect()
}

/// Reports a kind-specific field set on a variable of another kind.
fn misplaced<T>(
    c: &mut Collector<'_>,
    field: &Option<Spanned<T>>,
    name: &str,
    field_name: &str,
    kind: VariableKind,
    belongs_to: &str,
) {
    if let Some(f) = field {
        c.at(
            f.span(),
            format!(
                "variable `{name}`: `{field_name}` applies only to type {belongs_to}, not {kind}"
            ),
        );
    }
}

fn build_variable(
    c: &mut Collector<'_>,
    var: VariableFile,
    zone: Tz,
    playbook_format: &str,
) -> Option<VariableSpec> {
    let name = var.name.get_ref().clone();
    let kind = var.kind;
    if !is_identifier(&name) {
        c.at(
            var.name.span(),
            format!("variable name `{name}` must be lowercase letters, digits and underscores, starting with a letter"),
        );
    }
    if RESERVED_NAMES.contains(&name.as_str()) {
        c.at(
            var.name.span(),
            format!("variable name `{name}` is reserved for Tocsin's own template values"),
        );
    }
    use VariableKind as K;
    if kind != K::Text {
        misplaced(c, &var.max_length, &name, "max_length", kind, "text");
        misplaced(c, &var.pattern, &name, "pattern", kind, "text");
        misplaced(c, &var.multiline, &name, "multiline", kind, "text");
    }
    if kind != K::Enum {
        misplaced(c, &var.choices, &name, "choices", kind, "enum");
    }
    if kind != K::Integer {
        misplaced(c, &var.min, &name, "min", kind, "integer");
        misplaced(c, &var.max, &name, "max", kind, "integer");
    }
    if kind != K::Datetime {
        misplaced(c, &var.format, &name, "format", kind, "datetime");
        misplaced(c, &var.after, &name, "after", kind, "datetime");
    }
    if kind != K::Zip {
        misplaced(c, &var.prefixes, &name, "prefixes", kind, "zip");
    }
    if kind != K::Url {
        misplaced(
            c,
            &var.allowed_domains,
            &name,
            "allowed_domains",
            kind,
            "url",
        );
    }

    let rule = match kind {
        K::Text => {
            let pattern = var.pattern.as_ref().and_then(|p| {
                match Regex::new(&format!("^(?:{})$", p.get_ref())) {
                    Ok(r) => Some((r, p.get_ref().clone())),
                    Err(e) => {
                        c.at(
                            p.span(),
                            format!(
                                "variable `{name}`: pattern is not a valid regular expression: {e}"
                            ),
                        );
                        None
                    }
                }
            });
            let max_length = var
                .max_length
                .as_ref()
                .map_or(DEFAULT_TEXT_MAX_LENGTH, |m| *m.get_ref());
            if max_length == 0 {
                if let Some(m) = &var.max_length {
                    c.at(
                        m.span(),
                        format!("variable `{name}`: max_length must be at least 1"),
                    );
                }
            }
            VariableRule::Text {
                max_length,
                pattern,
                multiline: var.multiline.as_ref().is_some_and(|m| *m.get_ref()),
            }
        }
        K::Enum => {
            let choices = var
                .choices
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default();
            if choices.is_empty() {
                c.at(
                    var.name.span(),
                    format!("variable `{name}` is an enum but lists no `choices`"),
                );
            }
            VariableRule::Enum { choices }
        }
        K::Integer => {
            let min = var.min.as_ref().map_or(i64::MIN, |m| *m.get_ref());
            let max = var.max.as_ref().map_or(i64::MAX, |m| *m.get_ref());
            if min > max {
                c.at(
                    var.name.span(),
                    format!("variable `{name}`: min {min} is greater than max {max}"),
                );
            }
            VariableRule::Integer { min, max }
        }
        K::Datetime => {
            let format = match &var.format {
                Some(f) if !datetime_format_is_valid(f.get_ref()) => {
                    c.at(
                        f.span(),
                        format!(
                            "variable `{name}`: `{}` is not a valid strftime format",
                            f.get_ref()
                        ),
                    );
                    playbook_format.to_string()
                }
                Some(f) => f.get_ref().clone(),
                None => playbook_format.to_string(),
            };
            VariableRule::Datetime { zone, format }
        }
        K::Zip => {
            let prefixes = var
                .prefixes
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_default();
            if let Some(p) = &var.prefixes {
                if prefixes
                    .iter()
                    .any(|x| x.is_empty() || x.len() > 5 || !x.bytes().all(|b| b.is_ascii_digit()))
                {
                    c.at(
                        p.span(),
                        format!("variable `{name}`: ZIP prefixes must be 1 to 5 digits"),
                    );
                }
            }
            VariableRule::Zip { prefixes }
        }
        K::Phone => VariableRule::Phone,
        K::Url => {
            let allowed_domains = var
                .allowed_domains
                .as_ref()
                .map(|d| d.get_ref().clone())
                .unwrap_or_default();
            if allowed_domains.is_empty() {
                c.at(
                    var.name.span(),
                    format!("variable `{name}` is a url but lists no `allowed_domains`"),
                );
            }
            VariableRule::Url { allowed_domains }
        }
        K::Hashtag => VariableRule::Hashtag,
    };

    let mut phi_allow = Vec::new();
    for family in &var.phi_allow {
        match family.get_ref().parse::<PhiFamily>() {
            Ok(f) => phi_allow.push(f),
            Err(_) => c.at(
                family.span(),
                format!(
                    "variable `{name}`: `{}` is not a PHI family (one of: {})",
                    family.get_ref(),
                    PhiFamily::ALL
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }

    let spec = VariableSpec {
        name: name.clone(),
        label: var.label,
        help: var.help,
        required: var.required,
        default: var.default.clone(),
        example: var.example.as_ref().map(|e| e.get_ref().clone()),
        phi_allow,
        rule,
        after: var.after.as_ref().map(|a| a.get_ref().clone()),
    };
    if let Some(example) = &var.example {
        if let Err(e) = spec.parse(example.get_ref()) {
            c.at(example.span(), format!("example value refused: {e}"));
        }
    }
    if let Some(default) = &var.default {
        if let Err(e) = spec.parse(default) {
            c.at(var.name.span(), format!("default value refused: {e}"));
        }
    }
    Some(spec)
}

fn check_template_path(c: &mut Collector<'_>, path: &Spanned<String>) {
    let p = path.get_ref();
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.split('/')
            .any(|part| part == ".." || part == "." || part.is_empty())
        || !p.ends_with(".hbs");
    if bad {
        c.at(
            path.span(),
            format!("template path `{p}` must be a relative path inside the templates directory ending in .hbs"),
        );
    }
}

fn build_step(
    c: &mut Collector<'_>,
    mut step: StepFile,
    playbook_audience: &[String],
    others: &[LanguageTag],
) -> Step {
    let given = std::mem::take(&mut step.translations);
    let id_span = step.id.span();
    let mut primary = build_primary_step(c, step, playbook_audience);
    let what = if primary.id == RETRACTION_STEP {
        "[retraction]".to_string()
    } else {
        format!("step `{}`", primary.id)
    };
    for (key, t) in given {
        let Some(tag) = translation_language(c, &key, others, &what) else {
            continue;
        };
        let translated = build_translation(c, &primary, &what, &key, tag, t);
        primary.translations.insert(tag, translated);
    }
    for tag in others {
        if !primary.translations.contains_key(tag)
            && !c
                .problems
                .iter()
                .any(|p| p.message.contains(&format!("{what}: translations.{tag}")))
        {
            let table = if primary.id == RETRACTION_STEP {
                format!("[retraction.translations.{tag}]")
            } else {
                format!("[steps.translations.{tag}]")
            };
            c.at(
                id_span.clone(),
                format!("missing translation: {what} has no `{tag}` text (add {table})"),
            );
        }
    }
    primary
}

/// A step in one non-primary language: its title, headline and templates, and the same
/// variants as the primary language (a variant missing here is a missing translation).
fn build_translation(
    c: &mut Collector<'_>,
    primary: &Step,
    what: &str,
    key: &Spanned<String>,
    tag: LanguageTag,
    t: StepTranslationFile,
) -> Step {
    check_template_path(c, &t.template);
    let variants = variant_targets(c, &t.variants);
    for target in primary.variants.keys() {
        if !variants.contains_key(target) {
            c.at(
                key.span(),
                format!("missing translation: {what} has a `{target}` variant but none in `{tag}`"),
            );
        }
    }
    let title = match t.title {
        Some(title) => title,
        None if primary.id == RETRACTION_STEP => primary.title.clone(),
        None => {
            c.at(
                key.span(),
                format!("missing translation: {what} has no `title` in `{tag}`"),
            );
            primary.title.clone()
        }
    };
    let headline = match t.headline {
        Some(h) => h.into_inner(),
        None => {
            c.at(
                key.span(),
                format!("missing translation: {what} has no `headline` in `{tag}`"),
            );
            primary.headline.clone()
        }
    };
    Step {
        id: primary.id.clone(),
        title,
        headline,
        template: t.template.into_inner(),
        variants,
        hashtags: primary.hashtags.clone(),
        cap: primary.cap.clone(),
        audience: primary.audience.clone(),
        variables: None,
        wea: BTreeMap::new(),
        // A drafter rewrites the primary text only.
        overrides: Vec::new(),
        translations: BTreeMap::new(),
        // The card is drawn in the primary language.
        card: None,
    }
}

/// `variants = { x = "...", email_html = "..." }`, each key a platform or `email_html`.
fn variant_targets(
    c: &mut Collector<'_>,
    given: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> BTreeMap<VariantTarget, String> {
    let mut variants = BTreeMap::new();
    for (key, template) in given {
        check_template_path(c, template);
        let target = if key.get_ref() == "email_html" {
            Some(VariantTarget::EmailHtml)
        } else {
            match key.get_ref().parse::<Platform>() {
                Ok(p) if p.as_str() == key.get_ref() => Some(VariantTarget::Platform(p)),
                Ok(p) => {
                    c.at(
                        key.span(),
                        format!(
                            "write the platform as `{}`, not `{}`",
                            p.as_str(),
                            key.get_ref()
                        ),
                    );
                    None
                }
                Err(e) => {
                    c.at(key.span(), format!("{e}, or email_html"));
                    None
                }
            }
        };
        if let Some(t) = target {
            variants.insert(t, template.get_ref().clone());
        }
    }
    variants
}

/// The most facts a card shows: three, in large print.
pub const MAX_CARD_FACTS: usize = 3;

fn build_card(c: &mut Collector<'_>, step: &str, card: CardFile) -> CardSpec {
    check_template_path(c, &card.template);
    if !card.template.get_ref().ends_with(".svg.hbs") {
        c.at(
            card.template.span(),
            format!(
                "step `{step}`: a card template is an SVG template ending in .svg.hbs, not `{}`",
                card.template.get_ref()
            ),
        );
    }
    let facts = card.facts.get_ref();
    if facts.is_empty() || facts.len() > MAX_CARD_FACTS {
        c.at(
            card.facts.span(),
            format!(
                "step `{step}`: a card shows one to {MAX_CARD_FACTS} facts, not {}",
                facts.len()
            ),
        );
    }
    if facts.iter().any(|f| f.trim().is_empty()) {
        c.at(
            card.facts.span(),
            format!("step `{step}`: a card fact is empty"),
        );
    }
    if card.alt.get_ref().trim().is_empty() {
        c.at(
            card.alt.span(),
            format!("step `{step}`: a card needs alt text (`alt`) for screen-reader users"),
        );
    }
    CardSpec {
        template: card.template.into_inner(),
        facts: card.facts.into_inner(),
        alt: card.alt.into_inner(),
    }
}

fn build_primary_step(c: &mut Collector<'_>, step: StepFile, playbook_audience: &[String]) -> Step {
    if !is_slug(step.id.get_ref()) {
        c.at(
            step.id.span(),
            format!(
                "step id `{}` must be lowercase letters, digits and dashes",
                step.id.get_ref()
            ),
        );
    }
    check_template_path(c, &step.template);
    let mut overrides = Vec::new();
    for entry in &step.overrides {
        match entry.get_ref().parse::<Platform>() {
            Ok(p) if p.as_str() == entry.get_ref() && !overrides.contains(&p) => overrides.push(p),
            Ok(p) if p.as_str() == entry.get_ref() => c.at(
                entry.span(),
                format!("`{p}` is listed twice in `overrides`"),
            ),
            Ok(p) => c.at(
                entry.span(),
                format!(
                    "write the platform as `{}`, not `{}`",
                    p.as_str(),
                    entry.get_ref()
                ),
            ),
            Err(e) => c.at(entry.span(), format!("`overrides`: {e}")),
        }
    }
    let variants = variant_targets(c, &step.variants);
    let hashtags = step.hashtags.as_ref().map(|h| check_hashtags(c, h));
    let cap = step.cap.map_or_else(StepCap::default, |s| StepCap {
        msg_type: s.msg_type.unwrap_or_default(),
        urgency: s.urgency,
        severity: s.severity,
        certainty: s.certainty,
    });
    let audience = step.audience.as_ref().map(|groups| {
        let checked = check_audience(c, groups);
        if !playbook_audience.is_empty() {
            for g in groups {
                if !playbook_audience.contains(g.get_ref()) {
                    c.at(
                        g.span(),
                        format!(
                            "step audience group `{}` is not in the playbook's audience ({}): a step narrows it, it cannot widen it",
                            g.get_ref(),
                            playbook_audience.join(", ")
                        ),
                    );
                }
            }
        }
        if groups.is_empty() {
            c.at(
                step.id.span(),
                "a step's `audience` names at least one group (leave it out to use the playbook's)",
            );
        }
        checked
    });
    // Keys are WEA's languages. When playbooks declare their own languages (per-language
    // templates), a WEA language should also be one the playbook declares: check it here.
    let mut wea = BTreeMap::new();
    for (key, texts) in step.wea {
        let Some(language) = WeaLanguage::parse(key.get_ref()) else {
            c.at(
                key.span(),
                format!(
                    "WEA language `{}`: WEA carries English (`en`) and Spanish (`es`) (47 CFR 10.480)",
                    key.get_ref()
                ),
            );
            continue;
        };
        for text in std::iter::once(&texts.short).chain(texts.long.as_ref()) {
            if text.get_ref().trim().is_empty() {
                c.at(
                    text.span(),
                    format!("step `{}`: a WEA text is empty", step.id.get_ref()),
                );
            }
        }
        wea.insert(
            language,
            WeaTexts {
                short: texts.short.into_inner(),
                long: texts.long.map(Spanned::into_inner),
            },
        );
    }
    let card = step.card.map(|card| build_card(c, step.id.get_ref(), card));
    Step {
        audience,
        wea,
        card,
        id: step.id.into_inner(),
        title: step.title,
        headline: step.headline.into_inner(),
        template: step.template.into_inner(),
        variants,
        hashtags,
        cap,
        variables: None,
        overrides,
        translations: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "boil-water"
title = "Boil-water advisory"
description = "Tell residents to boil tap water."
timezone = "America/Chicago"
hashtags = ["BoilWater"]

[[variables]]
name = "area"
type = "text"
label = "Area"
max_length = 80
example = "North Side"

[[variables]]
name = "issued_at"
type = "datetime"
label = "Issued"
example = "2026-07-14T09:30"

[[steps]]
id = "alert"
title = "Alert"
headline = "Boil water: {{area}}"
template = "boil-water/alert.hbs"
variants = { x = "boil-water/alert.x.hbs", email_html = "boil-water/alert.email.html.hbs" }
"#;

    fn parse(src: &str) -> Result<Playbook, Vec<Diagnostic>> {
        parse_playbook(Path::new("p.toml"), src)
    }

    #[test]
    fn a_well_formed_playbook_parses_with_its_variants() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.id, "boil-water");
        assert_eq!(p.variables.len(), 2);
        let step = p.step("alert").unwrap();
        assert_eq!(step.template_for(Platform::X), "boil-water/alert.x.hbs");
        assert_eq!(
            step.template_for(Platform::Mastodon),
            "boil-water/alert.hbs"
        );
        assert_eq!(
            step.email_html_template(),
            Some("boil-water/alert.email.html.hbs")
        );
        assert_eq!(p.approval, super::super::ApprovalPolicy::TwoPerson);
    }

    #[test]
    fn an_unknown_field_is_an_error_at_its_line() {
        let src = GOOD.replace("title = \"Alert\"", "title = \"Alert\"\ntitel = \"x\"");
        let errs = parse(&src).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].message.contains("unknown field `titel`"),
            "{}",
            errs[0]
        );
        assert!(errs[0].line.is_some());
    }

    #[test]
    fn malformed_toml_is_an_error_with_a_position() {
        let errs = parse("id = \"x\"\ntitle = ").unwrap_err();
        assert_eq!(errs[0].line, Some(2), "{}", errs[0]);
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let src = GOOD
            .replace("America/Chicago", "Mars/Olympus")
            .replace("max_length = 80", "max_length = 80\nchoices = [\"a\"]")
            .replace("x = \"boil", "myspace = \"boil")
            .replace("example = \"2026-07-14T09:30\"", "example = \"yesterday\"");
        let errs = parse(&src).unwrap_err();
        let all = errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("Mars/Olympus"), "{all}");
        assert!(all.contains("`choices` applies only to type enum"), "{all}");
        assert!(all.contains("unknown platform `myspace`"), "{all}");
        assert!(all.contains("example value refused"), "{all}");
        assert_eq!(errs.len(), 4, "{all}");
        assert!(errs.iter().all(|e| e.line.is_some()));
    }

    #[test]
    fn language_and_reading_grade_max_default_and_are_checked_at_their_line() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.language, "en");
        assert_eq!(p.reading_grade_max, 8.0);
        let src = GOOD.replace(
            "hashtags = [\"BoilWater\"]",
            "hashtags = [\"BoilWater\"]\nlanguage = \"es-MX\"\nreading_grade_max = 10",
        );
        let p = parse(&src).unwrap();
        assert_eq!(p.language, "es-MX");
        assert_eq!(p.reading_grade_max, 10.0);
        assert_eq!(
            p.readability_language(),
            Some(crate::readability::Language::Es)
        );
        for bad in ["0", "21", "-3", "20.5", "nan"] {
            let src = GOOD.replace(
                "hashtags = [\"BoilWater\"]",
                &format!("hashtags = [\"BoilWater\"]\nreading_grade_max = {bad}"),
            );
            let errs = parse(&src).unwrap_err();
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert!(
                errs[0]
                    .message
                    .contains("reading_grade_max must be a number from 1 to 20"),
                "{}",
                errs[0]
            );
            assert_eq!(errs[0].line, Some(7), "{}", errs[0]);
            assert_eq!(errs[0].file, Path::new("p.toml"));
        }
        let src = GOOD.replace(
            "hashtags = [\"BoilWater\"]",
            "hashtags = [\"BoilWater\"]\nreading_grade_max = \"eight\"",
        );
        assert_eq!(parse(&src).unwrap_err()[0].line, Some(7));
        let src = GOOD.replace(
            "hashtags = [\"BoilWater\"]",
            "hashtags = [\"BoilWater\"]\nlanguage = \"Spanish\"",
        );
        let errs = parse(&src).unwrap_err();
        assert!(errs[0].message.contains("BCP 47"), "{}", errs[0]);
        assert_eq!(errs[0].line, Some(7), "{}", errs[0]);
    }

    #[test]
    fn template_paths_cannot_escape_the_templates_directory() {
        let src = GOOD.replace(
            "template = \"boil-water/alert.hbs\"",
            "template = \"../secrets.hbs\"",
        );
        let errs = parse(&src).unwrap_err();
        assert!(errs[0].message.contains("relative path"), "{}", errs[0]);
    }

    #[test]
    fn after_names_another_datetime_variable() {
        for (after, on, expected) in [
            (
                "nope",
                "datetime",
                "`after` names `nope`, which is not declared",
            ),
            ("area", "datetime", "which is of type text, not datetime"),
            (
                "area",
                "text",
                "`after` applies only to type datetime, not text",
            ),
        ] {
            let src = format!(
                "{GOOD}\n[[variables]]\nname = \"end\"\ntype = \"{on}\"\nlabel = \"End\"\nafter = \"{after}\"\nrequired = false\n"
            );
            let problems = match parse_playbook(Path::new("x.toml"), &src) {
                Ok(_) => panic!("after = {after} on {on} should be refused"),
                Err(p) => p,
            };
            let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
            assert!(
                text.iter()
                    .any(|t| t.contains(expected) && t.contains("x.toml:")),
                "{after} on {on}: {text:?}"
            );
        }
    }

    #[test]
    fn a_session_must_name_a_hashtag_variable() {
        let src = format!("{GOOD}\n[session]\nhashtag_variable = \"area\"\n");
        let errs = parse(&src).unwrap_err();
        assert!(errs[0].message.contains("not hashtag"), "{}", errs[0]);
    }

    #[test]
    fn reserved_and_malformed_variable_names_are_refused() {
        let src = GOOD.replace("name = \"area\"", "name = \"Area-1\"");
        let errs = parse(&src).unwrap_err();
        assert!(errs[0].message.contains("lowercase"), "{}", errs[0]);
        let src = GOOD.replace("name = \"area\"", "name = \"hashtags\"");
        assert!(parse(&src).unwrap_err()[0].message.contains("reserved"));
    }

    #[test]
    fn a_step_narrows_the_playbook_audience_and_cannot_widen_it() {
        let src = GOOD.replace(
            "hashtags = [\"BoilWater\"]",
            "hashtags = [\"BoilWater\"]\naudience = [\"public\", \"residents-sms\"]",
        );
        let p = parse(&format!("{src}audience = [\"public\"]\n")).unwrap();
        assert_eq!(p.audience, ["public", "residents-sms"]);
        assert_eq!(p.audience_of("alert"), ["public"]);
        let p = parse(&src).unwrap();
        assert_eq!(p.audience_of("alert"), ["public", "residents-sms"]);

        let errs = parse(&format!("{src}audience = [\"staff\"]\n")).unwrap_err();
        assert!(errs[0].message.contains("cannot widen"), "{}", errs[0]);
        assert_eq!(errs[0].line, Some(28), "{}", errs[0]);
        let errs = parse(&format!("{src}audience = []\n")).unwrap_err();
        assert!(
            errs[0].message.contains("at least one group"),
            "{}",
            errs[0]
        );
        let errs = parse(&GOOD.replace(
            "hashtags = [\"BoilWater\"]",
            "hashtags = [\"BoilWater\"]\naudience = [\"Public Accounts\"]",
        ))
        .unwrap_err();
        assert!(errs[0].message.contains("`Public Accounts`"), "{}", errs[0]);
        // Without an audience: every account, and a step may still name groups.
        let p = parse(&format!("{GOOD}audience = [\"staff\"]\n")).unwrap();
        assert!(p.audience.is_empty());
        assert_eq!(p.audience_of("alert"), ["staff"]);
    }
}
