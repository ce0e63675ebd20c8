//! Loading a playbook directory and its templates, reporting every problem at once.
//!
//! [`Library::load`] reads every `*.toml` in the playbooks directory, validates it,
//! compiles the templates it names, and keeps the playbooks that are whole. Broken ones
//! are left out with [`Diagnostic`]s; one bad file never hides the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::compose::{cap_area_name, card_alt_name, card_fact_name, headline_name_in, wea_name};
use crate::content_hash::content_hash;
use crate::diagnostics::Diagnostic;
use crate::playbook::{parse_playbook, Playbook};
use crate::render::{Escaping, TemplateProblem, TemplateSet};
use crate::step_variables::note_step_variables;

/// The playbook directory could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the playbooks directory {}: {source}", path.display())]
pub struct LibraryError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The bytes a playbook's approval covers.
#[derive(Debug, Clone)]
struct PlaybookBytes {
    file: Vec<u8>,
    templates: Vec<(String, Vec<u8>)>,
}

/// The loaded playbooks, their compiled templates, and what was wrong.
#[derive(Debug, Clone)]
pub struct Library {
    playbooks: Vec<Playbook>,
    bytes: BTreeMap<String, PlaybookBytes>,
    templates: TemplateSet,
    diagnostics: Vec<Diagnostic>,
    templates_dir: PathBuf,
}

impl Library {
    /// Loads `playbooks_dir/*.toml` with templates from `templates_dir`.
    pub fn load(playbooks_dir: &Path, templates_dir: &Path) -> Result<Library, LibraryError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(playbooks_dir)
            .map_err(|source| LibraryError {
                path: playbooks_dir.to_path_buf(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();

        let mut library = Library {
            playbooks: Vec::new(),
            bytes: BTreeMap::new(),
            templates: TemplateSet::new(),
            diagnostics: Vec::new(),
            templates_dir: templates_dir.to_path_buf(),
        };
        let mut template_cache: BTreeMap<String, Result<Vec<u8>, String>> = BTreeMap::new();
        let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in files {
            library.load_one(&path, &mut template_cache, &mut ids);
        }
        Ok(library)
    }

    fn load_one(
        &mut self,
        path: &Path,
        template_cache: &mut BTreeMap<String, Result<Vec<u8>, String>>,
        ids: &mut BTreeMap<String, PathBuf>,
    ) {
        let source = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error_line(
                    path,
                    None,
                    None,
                    format!("cannot read: {e}"),
                ));
                return;
            }
        };
        let text = match std::str::from_utf8(&source) {
            Ok(t) => t,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error_at(
                    path,
                    "",
                    None,
                    format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                ));
                return;
            }
        };
        let playbook = match parse_playbook(path, text) {
            Ok(p) => p,
            Err(problems) => {
                self.diagnostics.extend(problems);
                return;
            }
        };
        if let Some(first) = ids.get(&playbook.id) {
            self.diagnostics.push(Diagnostic::error_at(
                path,
                text,
                text.find(&format!("\"{}\"", playbook.id)),
                format!(
                    "playbook id `{}` is already used by {}",
                    playbook.id,
                    first.display()
                ),
            ));
            return;
        }

        let mut problems = Vec::new();
        let mut templates = Vec::new();
        let html: BTreeSet<&str> = playbook
            .compiled_steps()
            .flat_map(|s| s.in_every_language().map(|(_, s)| s))
            .filter_map(|s| s.email_html_template())
            .collect();
        let plain: BTreeSet<&str> = playbook
            .compiled_steps()
            .flat_map(|s| s.in_every_language().map(|(_, s)| s))
            .flat_map(|s| {
                std::iter::once(s.template.as_str()).chain(
                    s.variants
                        .iter()
                        .filter(|(k, _)| **k != crate::playbook::VariantTarget::EmailHtml)
                        .map(|(_, v)| v.as_str()),
                )
            })
            .collect();
        for name in playbook.template_files() {
            let file = self.templates_dir.join(&name);
            let bytes = template_cache
                .entry(name.clone())
                .or_insert_with(|| std::fs::read(&file).map_err(|e| e.to_string()))
                .clone();
            let offset = text.find(&format!("\"{name}\""));
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    problems.push(Diagnostic::error_at(
                        path,
                        text,
                        offset,
                        format!(
                            "template `{name}` cannot be read from {}: {e}",
                            self.templates_dir.display()
                        ),
                    ));
                    continue;
                }
            };
            let Ok(body) = std::str::from_utf8(&bytes) else {
                problems.push(Diagnostic::error_line(
                    &file,
                    None,
                    None,
                    "template is not UTF-8 text",
                ));
                continue;
            };
            for (set, escaping) in [(&plain, Escaping::Plain), (&html, Escaping::Html)] {
                if set.contains(name.as_str()) && !self.templates.contains(&name, escaping) {
                    if let Err(p) = self.templates.add(&name, body, escaping) {
                        problems.push(self.template_diagnostic(&p));
                    }
                }
            }
            templates.push((name, bytes));
        }
        for (language, step) in playbook
            .compiled_steps()
            .flat_map(|s| s.in_every_language())
        {
            let name = headline_name_in(&playbook.id, &step.id, language);
            if let Err(p) = self.templates.add(&name, &step.headline, Escaping::Plain) {
                let language = language.map_or(String::new(), |l| format!(" ({l})"));
                problems.push(Diagnostic::error_at(
                    path,
                    text,
                    text.find(&step.headline),
                    format!("headline{language} of step `{}`: {}", step.id, p.message),
                ));
            }
        }
        for step in &playbook.steps {
            for (language, length, source) in step.wea_templates() {
                let name = wea_name(&playbook.id, &step.id, language, length);
                if let Err(p) = self.templates.add(&name, source, Escaping::Plain) {
                    problems.push(Diagnostic::error_at(
                        path,
                        text,
                        text.find(source),
                        format!(
                            "WEA {} text ({language}) of step `{}`: {}",
                            length.as_str(),
                            step.id,
                            p.message
                        ),
                    ));
                }
            }
        }
        for step in &playbook.steps {
            let Some(card) = &step.card else { continue };
            let named = card
                .facts
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    (
                        card_fact_name(&playbook.id, &step.id, i),
                        f,
                        format!("card fact {}", i + 1),
                    )
                })
                .chain(std::iter::once((
                    card_alt_name(&playbook.id, &step.id),
                    &card.alt,
                    "card alt text".to_string(),
                )));
            for (name, source, what) in named {
                if let Err(p) = self.templates.add(&name, source, Escaping::Plain) {
                    problems.push(Diagnostic::error_at(
                        path,
                        text,
                        text.find(source.as_str()),
                        format!("{what} of step `{}`: {}", step.id, p.message),
                    ));
                }
            }
        }
        if let Some(cap) = &playbook.cap {
            if let Err(p) =
                self.templates
                    .add(&cap_area_name(&playbook.id), &cap.area, Escaping::Plain)
            {
                problems.push(Diagnostic::error_at(
                    path,
                    text,
                    text.find("area"),
                    format!("CAP area: {}", p.message),
                ));
            }
        }
        if !problems.is_empty() {
            self.diagnostics.extend(problems);
            return;
        }
        let mut playbook = playbook;
        note_step_variables(&mut playbook, &templates);
        ids.insert(playbook.id.clone(), path.to_path_buf());
        self.bytes.insert(
            playbook.id.clone(),
            PlaybookBytes {
                file: source,
                templates,
            },
        );
        self.playbooks.push(playbook);
    }

    /// A template problem as a diagnostic on the template file.
    pub fn template_diagnostic(&self, problem: &TemplateProblem) -> Diagnostic {
        let file = if problem.template.contains('#') {
            PathBuf::from(&problem.template)
        } else {
            self.templates_dir.join(&problem.template)
        };
        Diagnostic::error_line(&file, problem.line, problem.column, problem.message.clone())
    }

    /// The playbooks that loaded whole, in file-name order.
    pub fn playbooks(&self) -> &[Playbook] {
        &self.playbooks
    }

    /// The playbook with this id.
    pub fn get(&self, id: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.id == id)
    }

    /// Problems found while loading (broken playbooks are not in [`Library::playbooks`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The compiled templates.
    pub fn templates(&self) -> &TemplateSet {
        &self.templates
    }

    /// The directory templates were read from.
    pub fn templates_dir(&self) -> &Path {
        &self.templates_dir
    }

    /// The content hash of a loaded playbook (its file and every template it uses).
    pub fn content_hash(&self, id: &str) -> Option<String> {
        self.bytes
            .get(id)
            .map(|b| content_hash(&b.file, &b.templates))
    }

    /// A loaded playbook's TOML source.
    pub fn source(&self, id: &str) -> Option<&str> {
        self.bytes
            .get(id)
            .and_then(|b| std::str::from_utf8(&b.file).ok())
    }

    /// The template files a loaded playbook uses, with their bytes.
    pub fn template_bytes(&self, id: &str) -> Option<&[(String, Vec<u8>)]> {
        self.bytes.get(id).map(|b| b.templates.as_slice())
    }
}
