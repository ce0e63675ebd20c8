//! Linting a playbook library: every step of every playbook rendered with its example
//! values for every platform, counted and PHI-checked, as an approver would see it.
//!
//! Loading problems come first ([`crate::library::Library::diagnostics`]); then, per
//! usable playbook: missing examples, render errors, over-limit variants and PHI hits in
//! the example values (errors), and hashtags that do not fit and reading grades above the
//! playbook's `reading_grade_max` (warnings). Every declared language is rendered and
//! checked like the primary one (a missing translation is a loading problem, so it comes
//! first). [`reading_grades`] lists every step's grades per language, each with its own
//! formula.

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
    for step in &playbook.steps {
        for (language, length, source) in step.wea_templates() {
            for used in names_read(source).into_iter().filter(|u| !known(&u.name)) {
                out.push(at(
                    &[step_anchor(&step.id), source.to_string()],
                    format!(
                        "step `{}` WEA {} text ({language}): `{}` is not a variable of this playbook",
                        step.id,
                        length.as_str(),
                        used.name
                    ),
                ));
            }
        }
    }
    for step in playbook
        .compiled_steps()
        .flat_map(|s| s.in_every_language().map(|(_, s)| s))
    {
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
        for wea in &composed.wea {
            let source = step
                .wea
                .get(&wea.language)
                .and_then(|t| t.get(wea.length))
                .unwrap_or_default();
            for problem in wea.blocking_problems() {
                out.push(at(
                    &[step_anchor(&step.id), source.to_string()],
                    format!(
                        "step `{}` WEA {} text ({}): {problem} (with the example values)",
                        step.id,
                        wea.length.as_str(),
                        wea.language
                    ),
                ));
            }
        }
        let primary = (
            None,
            composed.headline.as_str(),
            composed.headline_phi.as_slice(),
            composed.variants.as_slice(),
        );
        let others = composed.translations.iter().map(|t| {
            (
                Some(t.language),
                t.headline.as_str(),
                t.headline_phi.as_slice(),
                t.variants.as_slice(),
            )
        });
        for (language, headline, headline_phi, variants) in std::iter::once(primary).chain(others) {
            let in_language = language.map_or(String::new(), |l| format!(" ({l})"));
            let headline_anchor = match language {
                None => "headline".to_string(),
                Some(l) => format!("translations.{l}"),
            };
            for hit in headline_phi {
                out.push(at(
                &[step_anchor(&step.id), headline_anchor.clone()],
                format!(
                    "step `{}` headline{in_language}: possible PHI ({}) `{}` with the example values",
                    step.id,
                    hit.family.as_str(),
                    headline.get(hit.start..hit.end).unwrap_or("")
                ),
            ));
            }
            for variant in variants {
                let variant_at = [step_anchor(&step.id), format!("\"{}\"", variant.template)];
                let target = match variant.target {
                    VariantTarget::Platform(p) => p.display_name().to_string(),
                    VariantTarget::EmailHtml => "HTML email".to_string(),
                };
                let target = format!("{target}{in_language}");
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
    /// The language graded (a BCP 47 tag): each language with its own formula.
    pub language: String,
    /// Whether it is the playbook's primary language.
    pub primary: bool,
    /// The formula's name (`None`: the language has none here, so no grades).
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
    // The sandbox stands in for another platform: its text is that platform's.
    let platforms: Vec<Platform> = Platform::ALL
        .into_iter()
        .filter(|p| *p != Platform::Sandbox)
        .collect();
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
            let primary = (playbook.primary_language(), composed.variants.as_slice());
            let others = composed
                .translations
                .iter()
                .map(|t| (t.language, t.variants.as_slice()));
            for (i, (language, variants)) in std::iter::once(primary).chain(others).enumerate() {
                let mut grades: Vec<(String, f64)> = variants
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
                    language: language.to_string(),
                    primary: i == 0,
                    formula: crate::readability::Language::of_tag(language.as_str())
                        .map(|l| l.formula()),
                    grade_max: playbook.reading_grade_max,
                    grades,
                });
            }
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
        // Every platform but the sandbox, which only stands in for one of them.
        assert_eq!(plain.grades.len(), Platform::ALL.len() - 1);
        assert!(plain.grades.iter().all(|(t, _)| t != "sandbox"));
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

#[cfg(test)]
mod wea_tests {
    use super::*;
    use crate::counting::PlatformLimits;
    use crate::phi::{PhiConfig, PhiGuard};
    use std::path::Path;

    fn composer(library: &Library) -> Composer {
        Composer::new(
            library.templates().clone(),
            PhiGuard::new(&PhiConfig::default()).unwrap(),
            PlatformLimits::default(),
            crate::counting::test_rules(),
        )
    }

    fn library_with(playbook: &str) -> (tempfile::TempDir, Library) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("playbooks")).unwrap();
        std::fs::create_dir_all(p.join("templates/w")).unwrap();
        std::fs::write(p.join("playbooks/w.toml"), playbook).unwrap();
        std::fs::write(p.join("templates/w/alert.hbs"), "Boil water in {{area}}.\n").unwrap();
        let library = Library::load(&p.join("playbooks"), &p.join("templates")).unwrap();
        (dir, library)
    }

    /// The lint of a library holding only `playbook`.
    fn lints(playbook: &str) -> Vec<Diagnostic> {
        let (_dir, library) = library_with(playbook);
        lint(&library, &composer(&library))
    }

    /// Whether one of `found` says `what` at `line`.
    fn says(found: &[Diagnostic], what: &str, line: usize) -> bool {
        found
            .iter()
            .any(|d| d.message.contains(what) && d.line == Some(line))
    }

    const WEA_PLAYBOOK: &str = r#"id = "w"
title = "W"
description = "W."
timezone = "America/Chicago"

[cap]
event = "Boil Water Advisory"
category = "Health"
urgency = "Immediate"
severity = "Moderate"
certainty = "Likely"
area = "{{area}}"
expires_hours = 24

[[variables]]
name = "area"
type = "text"
label = "Area"
example = "North Side"

[[steps]]
id = "alert"
title = "Alert"
headline = "Boil water: {{area}}"
template = "w/alert.hbs"

[steps.wea.en]
short = "Boil water advisory for {{area}}. Boil tap water 1 minute before use."

[steps.wea.es]
short = "Hierva el agua del grifo en {{area}} durante un minuto antes de usarla."
"#;

    #[test]
    fn the_shipped_playbooks_lint_clean_with_their_wea_texts() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let library = Library::load(&root.join("playbooks"), &root.join("templates")).unwrap();
        let errors: Vec<String> = lint(&library, &composer(&library))
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| d.to_string())
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        for id in [
            "boil-water",
            "shelter-in-place",
            "air-quality",
            "extreme-heat",
            "measles-exposure",
        ] {
            let p = library.get(id).unwrap();
            let first = &p.steps[0];
            assert_eq!(
                first.wea.keys().copied().collect::<Vec<_>>(),
                crate::wea::WeaLanguage::ALL,
                "{id}"
            );
            assert!(first.wea.values().all(|t| t.long.is_some()), "{id}");
        }
    }

    #[test]
    fn a_wea_text_over_its_length_is_an_error_at_its_line() {
        let (_dir, library) = library_with(WEA_PLAYBOOK);
        assert!(
            library.diagnostics().is_empty(),
            "{:?}",
            library.diagnostics()
        );
        assert!(lint(&library, &composer(&library)).is_empty());

        // 61 letters of area make the English short text 122 septets.
        let long_area = WEA_PLAYBOOK.replace(
            "example = \"North Side\"",
            &format!("example = \"{}\"", "N".repeat(61)),
        );
        let (_dir, library) = library_with(&long_area);
        let problems = lint(&library, &composer(&library));
        let wea: Vec<&Diagnostic> = problems
            .iter()
            .filter(|d| d.message.contains("WEA short text (en)"))
            .collect();
        assert_eq!(wea.len(), 1, "{problems:?}");
        assert!(wea[0].message.contains("122 of 90"), "{}", wea[0]);
        assert!(wea[0].file.ends_with("playbooks/w.toml"), "{}", wea[0]);
        assert_eq!(wea[0].line, Some(28), "{}", wea[0]);
        // The Spanish one is over too: its own error, on its own line.
        assert!(says(&problems, "WEA short text (es)", 31), "{problems:?}");

        // A character WEA cannot carry.
        let curly = lints(&WEA_PLAYBOOK.replace("Boil tap water", "“Boil” tap water"));
        assert!(says(&curly, "cannot carry", 28), "{curly:?}");
    }

    #[test]
    fn wea_texts_name_their_language_and_need_cap_and_expires() {
        let french = WEA_PLAYBOOK.replace("[steps.wea.es]", "[steps.wea.fr]");
        let (_dir, library) = library_with(&french);
        let d = library.diagnostics();
        assert!(says(d, "WEA language `fr`", 30), "{d:?}");

        let no_expiry = WEA_PLAYBOOK.replace("expires_hours = 24\n", "");
        let (_dir, library) = library_with(&no_expiry);
        assert!(
            library
                .diagnostics()
                .iter()
                .any(|d| d.message.contains("expires_hours")),
            "{:?}",
            library.diagnostics()
        );

        let unknown = lints(&WEA_PLAYBOOK.replace("for {{area}}.", "for {{aera}}."));
        assert!(
            says(&unknown, "`aera` is not a variable", 28),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_playbook_s_pre_approval_covers_its_wea_texts() {
        let (_a, before) = library_with(WEA_PLAYBOOK);
        let (_b, after) =
            library_with(&WEA_PLAYBOOK.replace("durante un minuto", "durante 1 minuto"));
        let (_c, same) = library_with(WEA_PLAYBOOK);
        assert_eq!(before.content_hash("w"), same.content_hash("w"));
        assert!(before.content_hash("w").is_some());
        assert_ne!(before.content_hash("w"), after.content_hash("w"));
    }

    #[test]
    fn expires_hours_is_one_hour_to_a_week() {
        for (hours, ok) in [("0", false), ("1", true), ("168", true), ("169", false)] {
            let src =
                WEA_PLAYBOOK.replace("expires_hours = 24", &format!("expires_hours = {hours}"));
            let (_dir, library) = library_with(&src);
            assert_eq!(
                library.diagnostics().is_empty(),
                ok,
                "{hours}: {:?}",
                library.diagnostics()
            );
        }
    }
}
