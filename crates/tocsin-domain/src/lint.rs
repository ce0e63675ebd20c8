//! Linting a playbook library: every step of every playbook rendered with its example
//! values for every platform, counted and PHI-checked, as an approver would see it.
//!
//! Loading problems come first ([`crate::library::Library::diagnostics`]); then, per
//! usable playbook: missing examples, render errors, over-limit variants and PHI hits in
//! the example values (errors), and hashtags that do not fit and reading grades above the
//! playbook's `reading_grade_max` (warnings). [`reading_grades`] lists every step's grades.

use crate::compose::{fill_values, ComposeError, ComposeOptions, Composer};
use crate::diagnostics::Diagnostic;
use crate::library::Library;
use crate::playbook::{Playbook, VariantTarget};
use crate::template_names::names_read;
use crate::Platform;

/// Notes on who each playbook reaches, as warnings: a playbook without `audience` goes
/// to every connected account; with `groups_in_use` (the groups the accounts have), an
/// audience group that no account has reaches nobody yet.
pub fn lint_audiences(
    library: &Library,
    groups_in_use: Option<&std::collections::BTreeSet<String>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for playbook in library.playbooks() {
        let file = playbook.path.as_path();
        let source = library.source(&playbook.id).unwrap_or("");
        if playbook.audience.is_empty() {
            let at = source.find("id =");
            out.push(
                Diagnostic::error_at(
                    file,
                    source,
                    at,
                    format!(
                        "playbook `{}` has no `audience`: its messages go to every connected account (name the groups, e.g. audience = [\"public\"])",
                        playbook.id
                    ),
                )
                .as_warning(),
            );
        }
        let Some(in_use) = groups_in_use else {
            continue;
        };
        let mut named: Vec<&String> = playbook.audience.iter().collect();
        for step in &playbook.steps {
            named.extend(step.audience.iter().flatten());
        }
        named.sort();
        named.dedup();
        for group in named.into_iter().filter(|g| !in_use.contains(*g)) {
            let at = source.find(&format!("\"{group}\""));
            out.push(
                Diagnostic::error_at(
                    file,
                    source,
                    at,
                    format!(
                        "audience group `{group}` of playbook `{}` has no account yet: add one with `tocsin accounts add --group {group}` or `tocsin accounts set-groups`",
                        playbook.id
                    ),
                )
                .as_warning(),
            );
        }
    }
    out
}

/// Every problem in the library, loading problems first.
pub fn lint(library: &Library, composer: &Composer) -> Vec<Diagnostic> {
    let mut out = library.diagnostics().to_vec();
    for playbook in library.playbooks() {
        out.extend(lint_playbook(library, composer, playbook));
    }
    out
}

/// Problems of one loaded playbook.
pub fn lint_playbook(
    library: &Library,
    composer: &Composer,
    playbook: &Playbook,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let file = playbook.path.as_path();
    let source = library.source(&playbook.id).unwrap_or("");
    // Points a problem at the playbook line that causes it: each anchor is searched
    // after the previous one (e.g. the step's id, then its template path).
    let at = |anchors: &[String], message: String| {
        let mut from = 0;
        let mut found = None;
        for anchor in anchors {
            match source
                .get(from..)
                .and_then(|rest| rest.find(anchor.as_str()))
            {
                Some(i) => {
                    found = Some(from + i);
                    from += i + anchor.len();
                }
                None => break,
            }
        }
        Diagnostic::error_at(file, source, found, message)
    };
    let step_anchor = |id: &str| format!("id = \"{id}\"");
    let var_anchor = |name: &str| format!("name = \"{name}\"");
    if playbook.readability_language().is_none() {
        out.push(
            at(
                &["language =".to_string()],
                format!(
                    "playbook `{}` is in `{}`, which has no reading-grade formula here (en, es): its text is not graded",
                    playbook.id, playbook.language
                ),
            )
            .as_warning(),
        );
    }
    for var in &playbook.variables {
        if var.example.is_none() && var.default.is_none() && var.required {
            out.push(at(
                &[var_anchor(&var.name)],
                format!(
                    "variable `{}` has no example value, so it cannot be previewed",
                    var.name
                ),
            ));
        }
    }
    // Names every template reads, on every branch, checked against the playbook.
    let known = |name: &str| {
        playbook.variable(name).is_some() || crate::playbook::RESERVED_NAMES.contains(&name)
    };
    for (template, bytes) in library.template_bytes(&playbook.id).unwrap_or_default() {
        let Ok(body) = std::str::from_utf8(bytes) else {
            continue;
        };
        for used in names_read(body).into_iter().filter(|u| !known(&u.name)) {
            out.push(Diagnostic::error_line(
                &library.templates_dir().join(template),
                Some(used.line),
                Some(used.column),
                format!(
                    "`{}` is not a variable of playbook `{}` (misspelled, or missing from [[variables]])",
                    used.name, playbook.id
                ),
            ));
        }
    }
    for step in playbook.compiled_steps() {
        for used in names_read(&step.headline)
            .into_iter()
            .filter(|u| !known(&u.name))
        {
            out.push(at(
                &[step_anchor(&step.id), "headline".to_string()],
                format!(
                    "step `{}` headline: `{}` is not a variable of this playbook",
                    step.id, used.name
                ),
            ));
        }
    }
    if !out.is_empty() {
        return dedup(out);
    }
    let values = playbook.example_values();
    let filled = match fill_values(playbook, &values) {
        Ok(f) => f,
        Err(e) => {
            out.push(at(
                &["[[variables]]".to_string()],
                format!("example values: {e}"),
            ));
            return out;
        }
    };
    let platforms: Vec<Platform> = Platform::ALL.to_vec();
    for step in playbook.compiled_steps() {
        let options = ComposeOptions {
            post_number: playbook
                .session
                .as_ref()
                .filter(|s| s.numbering)
                .map(|_| 12),
        };
        let composed = match composer.compose_filled(playbook, step, &filled, &platforms, options) {
            Ok(c) => c,
            Err(ComposeError::Template(p)) => {
                out.push(library.template_diagnostic(&p));
                continue;
            }
            Err(e) => {
                out.push(at(
                    &[step_anchor(&step.id)],
                    format!("step `{}`: {e}", step.id),
                ));
                continue;
            }
        };
        for hit in &composed.headline_phi {
            out.push(at(
                &[step_anchor(&step.id), "headline".to_string()],
                format!(
                    "step `{}` headline: possible PHI ({}) `{}` with the example values",
                    step.id,
                    hit.family.as_str(),
                    composed.headline.get(hit.start..hit.end).unwrap_or("")
                ),
            ));
        }
        for variant in &composed.variants {
            let variant_at = [step_anchor(&step.id), format!("\"{}\"", variant.template)];
            let target = match variant.target {
                VariantTarget::Platform(p) => p.display_name().to_string(),
                VariantTarget::EmailHtml => "HTML email".to_string(),
            };
            if let Some(m) = &variant.measurement {
                for problem in m.problems() {
                    out.push(at(
                        &variant_at,
                        format!(
                            "step `{}` on {target}: {problem} (template {}, with the example values and hashtags)",
                            step.id, variant.template
                        ),
                    ));
                }
            }
            for hit in &variant.phi {
                let from = hit
                    .variable
                    .as_deref()
                    .map_or("template text".to_string(), |v| format!("variable `{v}`"));
                let anchors = match &hit.variable {
                    Some(v) => vec![var_anchor(v), "example".to_string()],
                    None => variant_at.to_vec(),
                };
                out.push(at(
                    &anchors,
                    format!(
                        "step `{}` on {target}: possible PHI ({}) `{}` from {from} (template {})",
                        step.id,
                        hit.family.as_str(),
                        variant.text.get(hit.start..hit.end).unwrap_or(""),
                        variant.template
                    ),
                ));
            }
            for warning in variant.warnings() {
                out.push(
                    at(
                        &variant_at,
                        format!(
                            "step `{}` on {target}: {warning} (template {})",
                            step.id, variant.template
                        ),
                    )
                    .as_warning(),
                );
            }
        }
    }
    dedup(out)
}

/// The reading grades of one step, rendered with the example values.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReading {
    /// The playbook.
    pub playbook: String,
    /// The step (or the withdrawal notice, `retraction`).
    pub step: String,
    /// The formula's name (`None`: the playbook's language has none, so no grades).
    pub formula: Option<&'static str>,
    /// The playbook's `reading_grade_max`.
    pub grade_max: f64,
    /// Each variant's target and grade, hardest first.
    pub grades: Vec<(String, f64)>,
}

impl StepReading {
    /// The hardest variant's grade.
    pub fn highest(&self) -> Option<f64> {
        self.grades.first().map(|(_, g)| *g)
    }

    /// Whether a variant reads above the playbook's maximum.
    pub fn is_above(&self) -> bool {
        self.highest().is_some_and(|g| g > self.grade_max)
    }
}

/// Every step of every usable playbook, rendered with its example values for every
/// platform, and graded; steps that do not render (lint says why) are left out.
pub fn reading_grades(library: &Library, composer: &Composer) -> Vec<StepReading> {
    let platforms: Vec<Platform> = Platform::ALL.to_vec();
    let mut out = Vec::new();
    for playbook in library.playbooks() {
        let Ok(filled) = fill_values(playbook, &playbook.example_values()) else {
            continue;
        };
        for step in playbook.compiled_steps() {
            let Ok(composed) = composer.compose_filled(
                playbook,
                step,
                &filled,
                &platforms,
                ComposeOptions::default(),
            ) else {
                continue;
            };
            let mut grades: Vec<(String, f64)> = composed
                .variants
                .iter()
                .filter_map(|v| {
                    v.readability
                        .as_ref()
                        .map(|r| (v.target.to_string(), r.grade))
                })
                .collect();
            grades.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            out.push(StepReading {
                playbook: playbook.id.clone(),
                step: step.id.clone(),
                formula: playbook.readability_language().map(|l| l.formula()),
                grade_max: playbook.reading_grade_max,
                grades,
            });
        }
    }
    out
}

/// Several platforms share a template: say each problem once.
fn dedup(mut items: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|d| seen.insert(d.to_string()));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counting::PlatformLimits;
    use crate::diagnostics::Severity;
    use crate::phi::{PhiConfig, PhiGuard};

    const PLAYBOOK: &str = r#"
id = "water"
title = "Water"
description = "Water notices."
timezone = "America/Chicago"
audience = ["public"]
reading_grade_max = 6

[[variables]]
name = "area"
type = "text"
label = "Area"
example = "North Side"

[[steps]]
id = "plain"
title = "Plain"
headline = "Boil water in {{area}}"
template = "water/plain.hbs"

[[steps]]
id = "dense"
title = "Dense"
headline = "Advisory for {{area}}"
template = "water/dense.hbs"
"#;

    fn library(dir: &std::path::Path, playbook: &str) -> (Library, Composer) {
        std::fs::create_dir_all(dir.join("playbooks")).unwrap();
        std::fs::create_dir_all(dir.join("templates/water")).unwrap();
        std::fs::write(dir.join("playbooks/water.toml"), playbook).unwrap();
        std::fs::write(
            dir.join("templates/water/plain.hbs"),
            "Boil tap water in {{area}}. Let it cool. Then drink it.\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("templates/water/dense.hbs"),
            "Residents of {{area}} experiencing gastrointestinal symptoms following consumption of municipal water are encouraged to immediately consult healthcare professionals regarding appropriate treatment.\n",
        )
        .unwrap();
        let library = Library::load(&dir.join("playbooks"), &dir.join("templates")).unwrap();
        let composer = Composer::new(
            library.templates().clone(),
            PhiGuard::new(&PhiConfig::default()).unwrap(),
            PlatformLimits::default(),
            crate::counting::test_rules(),
        );
        (library, composer)
    }

    #[test]
    fn every_step_is_graded_and_a_grade_above_the_maximum_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (library, composer) = library(dir.path(), PLAYBOOK);
        let readings = reading_grades(&library, &composer);
        let steps: Vec<&str> = readings.iter().map(|r| r.step.as_str()).collect();
        assert_eq!(steps, ["plain", "dense"]);
        let (plain, dense) = (&readings[0], &readings[1]);
        assert_eq!(plain.formula, Some("Flesch–Kincaid grade level"));
        assert_eq!(plain.grade_max, 6.0);
        assert_eq!(plain.grades.len(), Platform::ALL.len());
        assert!(!plain.is_above(), "{plain:?}");
        assert!(dense.is_above(), "{dense:?}");
        assert!(dense.grades.windows(2).all(|w| w[0].1 >= w[1].1));

        let problems = lint(&library, &composer);
        let grade: Vec<&Diagnostic> = problems
            .iter()
            .filter(|d| d.message.contains("reading grade"))
            .collect();
        assert!(!grade.is_empty(), "{problems:?}");
        assert!(grade.iter().all(|d| d.severity == Severity::Warning));
        assert!(grade.iter().all(|d| d.message.contains("step `dense`")));
        assert!(!problems.iter().any(|d| d.is_error()), "{problems:?}");
    }

    #[test]
    fn a_language_without_a_formula_has_no_grades() {
        let dir = tempfile::tempdir().unwrap();
        let (library, composer) = library(
            dir.path(),
            &PLAYBOOK.replace("reading_grade_max = 6", "language = \"fr\""),
        );
        let readings = reading_grades(&library, &composer);
        assert_eq!(readings.len(), 2);
        assert!(readings
            .iter()
            .all(|r| r.formula.is_none() && r.grades.is_empty()));
        let problems = lint(&library, &composer);
        assert!(
            problems
                .iter()
                .any(|d| d.message.contains("no reading-grade formula")
                    && d.severity == Severity::Warning
                    && d.line == Some(7)),
            "{problems:?}"
        );
    }
}
