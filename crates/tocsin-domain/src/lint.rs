//! Linting a playbook library: every step of every playbook rendered with its example
//! values for every platform, counted and PHI-checked, as an approver would see it.
//!
//! Loading problems come first ([`crate::library::Library::diagnostics`]); then, per
//! usable playbook: missing examples, render errors, over-limit variants and PHI hits in
//! the example values (errors), and hashtags that do not fit (warnings).

use crate::compose::{fill_values, ComposeError, ComposeOptions, Composer};
use crate::diagnostics::Diagnostic;
use crate::library::Library;
use crate::playbook::{Playbook, VariantTarget};
use crate::Platform;

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
    for var in &playbook.variables {
        if var.example.is_none() && var.default.is_none() && var.required {
            out.push(Diagnostic::error_line(
                file,
                None,
                None,
                format!(
                    "variable `{}` has no example value, so it cannot be previewed",
                    var.name
                ),
            ));
        }
    }
    if !out.is_empty() {
        return out;
    }
    let values = playbook.example_values();
    let filled = match fill_values(playbook, &values) {
        Ok(f) => f,
        Err(e) => {
            out.push(Diagnostic::error_line(
                file,
                None,
                None,
                format!("example values: {e}"),
            ));
            return out;
        }
    };
    let platforms: Vec<Platform> = Platform::ALL.to_vec();
    for step in &playbook.steps {
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
                out.push(Diagnostic::error_line(
                    file,
                    None,
                    None,
                    format!("step `{}`: {e}", step.id),
                ));
                continue;
            }
        };
        for hit in &composed.headline_phi {
            out.push(Diagnostic::error_line(
                file,
                None,
                None,
                format!(
                    "step `{}` headline: possible PHI ({}) `{}` with the example values",
                    step.id,
                    hit.family.as_str(),
                    composed.headline.get(hit.start..hit.end).unwrap_or("")
                ),
            ));
        }
        for variant in &composed.variants {
            let template_file = library.templates_dir().join(&variant.template);
            let target = match variant.target {
                VariantTarget::Platform(p) => p.display_name().to_string(),
                VariantTarget::EmailHtml => "HTML email".to_string(),
            };
            if let Some(m) = &variant.measurement {
                for problem in m.problems() {
                    out.push(Diagnostic::error_line(
                        &template_file,
                        None,
                        None,
                        format!("step `{}` on {target}: {problem} (with the example values and hashtags)", step.id),
                    ));
                }
            }
            for hit in &variant.phi {
                let from = hit
                    .variable
                    .as_deref()
                    .map_or("template text".to_string(), |v| format!("variable `{v}`"));
                out.push(Diagnostic::error_line(
                    &template_file,
                    None,
                    None,
                    format!(
                        "step `{}` on {target}: possible PHI ({}) `{}` from {from}",
                        step.id,
                        hit.family.as_str(),
                        variant.text.get(hit.start..hit.end).unwrap_or("")
                    ),
                ));
            }
            for warning in variant.warnings() {
                out.push(
                    Diagnostic::error_line(
                        &template_file,
                        None,
                        None,
                        format!("step `{}` on {target}: {warning}", step.id),
                    )
                    .as_warning(),
                );
            }
        }
    }
    dedup(out)
}

/// Several platforms share a template: say each problem once.
fn dedup(mut items: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|d| seen.insert(d.to_string()));
    items
}
