//! `tocsin playbooks list | lint | render | hash | approve`.

use anyhow::{anyhow, bail, Context as _, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use tocsin_domain::compose::{
    ComposeOptions, ComposedStep, ComposedTranslation, ComposedVariant, Composer,
};
use tocsin_domain::counting::CountUnit;
use tocsin_domain::language::LanguageTag;
use tocsin_domain::library::Library;
use tocsin_domain::lint::{lint, lint_audiences, reading_grades, StepReading};
use tocsin_domain::phi::PhiGuard;
use tocsin_domain::playbook::VariantTarget;
use tocsin_domain::preapproval::{preapproval_status, PlaybookApproval, PreapprovalStatus};
use tocsin_domain::Platform;

use crate::cli::{CardSizeArg, OutputFormat, PlaybooksCommand, RenderArgs, ValueArgs};
use crate::config::Config;
use crate::store::{block_on, open_store};

pub fn run(config: &Config, cmd: PlaybooksCommand) -> Result<ExitCode> {
    match cmd {
        PlaybooksCommand::List { dir, json } => {
            let dir = dir.unwrap_or_else(|| config.playbooks_dir.clone());
            list(config, &load(&dir, &config.templates_dir)?, json)
        }
        PlaybooksCommand::Lint { dir, templates } => {
            let dir = dir.unwrap_or_else(|| config.playbooks_dir.clone());
            let templates = templates.unwrap_or_else(|| config.templates_dir.clone());
            lint_command(config, &load(&dir, &templates)?)
        }
        PlaybooksCommand::Render(args) => render(config, &args),
        PlaybooksCommand::Hash { id } => hash(config, &id),
        PlaybooksCommand::Approve { id, by, note } => approve(config, &id, &by, note),
    }
}

pub(crate) fn load(dir: &Path, templates: &Path) -> Result<Library> {
    Ok(Library::load(dir, templates)?)
}

pub(crate) fn composer(config: &Config, library: &Library) -> Result<Composer> {
    let guard = PhiGuard::new(&config.phi).context("the [phi] section of the configuration")?;
    Ok(Composer::new(
        library.templates().clone(),
        guard,
        config.limits.clone(),
        tocsin_connectors::counting_rules(),
    ))
}

/// The card renderer for a library, with the configuration's `[cards]` style.
pub(crate) fn card_renderer(
    config: &Config,
    library: &Library,
) -> Result<tocsin_cards::CardRenderer> {
    let style = tocsin_cards::CardStyle::new(&config.cards)?;
    Ok(tocsin_cards::CardRenderer::new(library, style)?)
}

fn library(config: &Config) -> Result<Library> {
    load(&config.playbooks_dir, &config.templates_dir)
}

pub(crate) fn loaded<'a>(
    library: &'a Library,
    id: &str,
) -> Result<&'a tocsin_domain::playbook::Playbook> {
    library.get(id).ok_or_else(|| {
        let broken = library
            .diagnostics()
            .iter()
            .any(|d| d.file.file_stem().is_some_and(|s| s == id));
        if broken {
            anyhow!("playbook `{id}` has errors; run `tocsin playbooks lint` to see them")
        } else {
            let known: Vec<&str> = library.playbooks().iter().map(|p| p.id.as_str()).collect();
            anyhow!("no playbook `{id}` (known: {})", known.join(", "))
        }
    })
}

fn status_of(
    library: &Library,
    approvals: &[PlaybookApproval],
    id: &str,
) -> Result<PreapprovalStatus> {
    let hash = library
        .content_hash(id)
        .ok_or_else(|| anyhow!("no playbook `{id}`"))?;
    Ok(preapproval_status(id, &hash, approvals))
}

/// Every recorded approval of the loaded playbooks, from the store.
fn recorded_approvals(config: &Config, library: &Library) -> Result<Vec<PlaybookApproval>> {
    block_on(async {
        let store = open_store(config).await?;
        let mut all = Vec::new();
        for p in library.playbooks() {
            all.extend(store.playbooks().approvals(&p.id).await?);
        }
        store.close().await;
        Ok::<_, anyhow::Error>(all)
    })?
}

/// A playbook in `tocsin playbooks list --json`.
#[derive(Debug, serde::Serialize)]
struct PlaybookJson<'a> {
    /// The playbook's id (its file name).
    id: &'a str,
    /// Its title.
    title: &'a str,
    /// `approved`, `changed` (since its last approval) or `unapproved` (never).
    state: &'static str,
    /// Its step ids, in order.
    steps: Vec<&'a str>,
    /// The content hash of the playbook and its templates now.
    content_hash: String,
    /// The content hash its last approval covered, or null.
    approved_content_hash: Option<&'a str>,
    /// Who gave its last approval, or null.
    approved_by: Option<&'a str>,
    /// When (RFC 3339), or null.
    approved_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn list(config: &Config, library: &Library, json: bool) -> Result<ExitCode> {
    let approvals = recorded_approvals(config, library)?;
    if json {
        let mut statuses = Vec::new();
        for p in library.playbooks() {
            let hash = library
                .content_hash(&p.id)
                .ok_or_else(|| anyhow!("no playbook `{}`", p.id))?;
            let status = preapproval_status(&p.id, &hash, &approvals);
            statuses.push((p, hash, status));
        }
        let rows: Vec<PlaybookJson<'_>> = statuses
            .iter()
            .map(|(p, hash, status)| {
                let approval = match status {
                    PreapprovalStatus::Approved { approval }
                    | PreapprovalStatus::Changed { approval, .. } => Some(approval),
                    PreapprovalStatus::NeverApproved => None,
                };
                PlaybookJson {
                    id: &p.id,
                    title: &p.title,
                    state: status.label(),
                    steps: p.steps.iter().map(|s| s.id.as_str()).collect(),
                    content_hash: hash.clone(),
                    approved_content_hash: approval.map(|a| a.content_hash.as_str()),
                    approved_by: approval.map(|a| a.approved_by.as_str()),
                    approved_at: approval.map(|a| a.approved_at),
                }
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        report_broken(library);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<20} {:<11} {:<34} STEPS", "ID", "STATE", "TITLE");
    for p in library.playbooks() {
        let status = status_of(library, &approvals, &p.id)?;
        let steps: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
        println!(
            "{:<20} {:<11} {:<34} {}",
            p.id,
            status.label(),
            p.title,
            steps.join(", ")
        );
    }
    report_broken(library);
    Ok(ExitCode::SUCCESS)
}

/// On standard error: how many problems kept playbooks out of the list.
fn report_broken(library: &Library) {
    let broken = library.diagnostics().len();
    if broken > 0 {
        eprintln!(
            "{broken} problem(s) kept some playbooks out of this list: run `tocsin playbooks lint`"
        );
    }
}

fn lint_command(config: &Config, library: &Library) -> Result<ExitCode> {
    let composer = composer(config, library)?;
    let mut problems = lint(library, &composer);
    // Every card drawn at both sizes with the examples: a missing value or a field that
    // overflows its box is an error here, before anyone drafts.
    problems.extend(tocsin_cards::lint_cards(
        library,
        &composer,
        &card_renderer(config, library)?,
    ));
    // The groups accounts have, to warn of an audience nobody is in; lint still runs
    // (without that check) when the database cannot be read.
    match groups_in_use(config) {
        Ok(groups) => problems.extend(lint_audiences(library, Some(&groups))),
        Err(e) => {
            problems.extend(lint_audiences(library, None));
            eprintln!("note: audience groups not checked against the accounts: {e:#}");
        }
    }
    for p in &problems {
        println!("{p}");
    }
    print_reading_grades(&reading_grades(library, &composer));
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    println!(
        "{} playbook(s) checked: {errors} error(s), {warnings} warning(s)",
        library.playbooks().len()
            + library
                .diagnostics()
                .iter()
                .map(|d| &d.file)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Each step's reading grade with the example values: the hardest variant's, marked when
/// above the playbook's `reading_grade_max`, then every variant's (those with the same
/// grade together).
fn print_reading_grades(readings: &[StepReading]) {
    if readings.is_empty() {
        return;
    }
    println!("Reading grades (example values, hardest variant first):");
    let label = |r: &StepReading| {
        if r.primary {
            format!("{}/{}", r.playbook, r.step)
        } else {
            format!("{}/{} [{}]", r.playbook, r.step, r.language)
        }
    };
    let width = readings
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(0);
    for r in readings {
        let name = label(r);
        let Some(formula) = r.formula else {
            println!("  {name:width$}  no reading grade for {}", r.language);
            continue;
        };
        let Some(highest) = r.highest() else {
            println!("  {name:width$}  not graded (no text to grade)");
            continue;
        };
        let mut groups: Vec<(f64, Vec<&str>)> = Vec::new();
        for (target, grade) in &r.grades {
            match groups.last_mut() {
                Some((g, targets)) if g == grade => targets.push(target),
                _ => groups.push((*grade, vec![target.as_str()])),
            }
        }
        let detail = groups
            .iter()
            .map(|(g, targets)| format!("{g:.1} {}", targets.join(" ")))
            .collect::<Vec<_>>()
            .join("; ");
        let mark = if r.is_above() { "  ABOVE" } else { "" };
        println!(
            "  {name:width$}  {highest:>4.1}{mark}  ({formula}, max {}): {detail}",
            r.grade_max
        );
    }
}

/// Every group some account (of any status) belongs to.
fn groups_in_use(config: &Config) -> Result<std::collections::BTreeSet<String>> {
    block_on(async {
        let store = open_store(config).await?;
        let groups = store.accounts().all_groups().await;
        store.close().await;
        Ok::<_, anyhow::Error>(groups?.into_values().flatten().collect())
    })?
}

/// Values from `--vars FILE` and `--var name=value`.
pub(crate) fn read_vars(args: &ValueArgs) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    if let Some(path) = &args.vars {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let table: BTreeMap<String, serde_json::Value> =
            if path.extension().is_some_and(|e| e == "json") {
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a JSON object of values", path.display()))?
            } else {
                toml::from_str(&text).map_err(|e| anyhow!("{}: {}", path.display(), e.message()))?
            };
        for (k, v) in table {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => bail!(
                    "{}: value of `{k}` must be text or a number, not {other}",
                    path.display()
                ),
            };
            values.insert(k, text);
        }
    }
    for pair in &args.var {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--var `{pair}`: write it as name=value"))?;
        values.insert(k.trim().to_string(), v.to_string());
    }
    Ok(values)
}

fn render(config: &Config, args: &RenderArgs) -> Result<ExitCode> {
    let library = library(config)?;
    let playbook = loaded(&library, &args.id)?;
    let step = match &args.step {
        Some(s) => s.clone(),
        None => playbook
            .steps
            .first()
            .map(|s| s.id.clone())
            .ok_or_else(|| anyhow!("playbook has no steps"))?,
    };
    let given = read_vars(&args.values)?;
    let mut values = playbook.example_values();
    let from_examples: Vec<String> = values
        .keys()
        .filter(|k| !given.contains_key(*k))
        .cloned()
        .collect();
    values.extend(given);
    let platforms: Vec<Platform> = if args.platforms.is_empty() {
        Platform::ALL.to_vec()
    } else {
        args.platforms
            .iter()
            .map(|p| {
                p.parse::<Platform>()
                    .map_err(|e| anyhow!("--platform: {e}"))
            })
            .collect::<Result<_>>()?
    };
    let only = match &args.language {
        None => None,
        Some(tag) => {
            let language = LanguageTag::parse(tag).map_err(|e| anyhow!("--language: {e}"))?;
            if !playbook.languages.contains(&language) {
                bail!(
                    "--language: playbook `{}` is not written in `{language}` (its languages: {})",
                    playbook.id,
                    playbook
                        .languages
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Some(language)
        }
    };
    let composer = composer(config, &library)?;
    if let Some(out) = &args.card {
        let size = match args.size {
            CardSizeArg::Landscape => tocsin_cards::CardSize::Landscape,
            CardSizeArg::Instagram => tocsin_cards::CardSize::Instagram,
        };
        let card = card_renderer(config, &library)?
            .render_step(&composer, playbook, &step, &values, size)
            .map_err(|e| anyhow!("{}: {e}", playbook.id))?;
        // Drawn whole in memory first: nothing is written when the card fails.
        std::fs::write(out, &card.png)
            .with_context(|| format!("cannot write the card to {}", out.display()))?;
        println!(
            "wrote {} ({}×{}, step `{step}`)\nalt: {}",
            out.display(),
            size.width(),
            size.height(),
            card.alt
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut composed = composer
        .compose(
            playbook,
            &step,
            &values,
            &platforms,
            ComposeOptions {
                post_number: args.post_number,
            },
        )
        .map_err(|e| anyhow!("{}: {e}", playbook.id))?;
    let translation = only.and_then(|l| composed.translations.iter().find(|t| t.language == l));
    match (args.format, translation) {
        (OutputFormat::Json, Some(t)) => println!("{}", serde_json::to_string_pretty(t)?),
        (OutputFormat::Text, Some(t)) => print_translation(t),
        (format, None) => {
            if only.is_some() {
                // The primary language alone.
                composed.translations.clear();
            }
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&composed)?),
                OutputFormat::Text => print_composed(&composed, &from_examples),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One non-primary language's headline and variants.
fn print_translation(t: &ComposedTranslation) {
    println!(
        "\n══ {} ({}) ══ {}",
        t.language_name, t.language, t.headline
    );
    for hit in &t.headline_phi {
        println!("  headline: possible PHI ({})", hit.family.as_str());
    }
    for v in &t.variants {
        print_variant(v);
    }
    if t.is_blocked() {
        println!(
            "\nBLOCKED ({}): approval needs an override for the problems above.",
            t.language
        );
    }
}

fn print_composed(c: &ComposedStep, from_examples: &[String]) {
    if c.translations.is_empty() {
        println!("{} / {}: {}", c.playbook_id, c.step_id, c.headline);
    } else {
        println!(
            "{} / {} ({}): {}",
            c.playbook_id, c.step_id, c.language, c.headline
        );
    }
    for (name, value) in &c.values {
        let note = if from_examples.contains(name) {
            "  (example)"
        } else {
            ""
        };
        println!("  {name} = {value}{note}");
    }
    if let Some(area) = &c.cap_area {
        println!("  CAP area: {area}");
    }
    for hit in &c.headline_phi {
        println!("  headline: possible PHI ({})", hit.family.as_str());
    }
    for v in &c.variants {
        print_variant(v);
    }
    for w in &c.wea {
        println!(
            "\n── WEA {} ({}) ── {} of {} GSM-7 septets",
            w.length.as_str(),
            w.language,
            w.used,
            w.limit
        );
        println!("{}", w.text);
        for problem in w.blocking_problems() {
            println!("   problem: {problem}");
        }
    }
    for t in &c.translations {
        print_translation(t);
    }
    if c.is_blocked() {
        println!("\nBLOCKED: approval needs an override for the problems above.");
    } else {
        println!("\nOK: every variant fits and no PHI was found.");
    }
}

fn print_variant(v: &ComposedVariant) {
    let name = match v.target {
        VariantTarget::Platform(p) => p.display_name().to_string(),
        VariantTarget::EmailHtml => "Email (HTML part)".to_string(),
    };
    let count = v.measurement.as_ref().map_or_else(String::new, |m| {
        let limit = m
            .limit
            .map_or_else(|| "no limit".to_string(), |l| format!("of {l}"));
        match (&m.sms, m.unit) {
            (Some(sms), _) => format!(
                "{} segment(s) {limit} ({:?}, {} units, {} per segment)",
                m.used, sms.encoding, sms.units, sms.per_segment
            ),
            (None, CountUnit::Unlimited) => {
                format!("{} characters, no limit", v.text.chars().count())
            }
            (None, unit) => format!("{} {limit} {}", m.used, unit.label()),
        }
    });
    println!("\n── {name} ── {count}   [{}]", v.template);
    println!("{}", v.text);
    if !v.hashtags_appended.is_empty() {
        let tags: Vec<String> = v
            .hashtags_appended
            .iter()
            .map(|t| format!("#{t}"))
            .collect();
        println!("   hashtags appended: {}", tags.join(" "));
    }
    for w in v.warnings() {
        println!("   warning: {w}");
    }
    for p in v.blocking_problems() {
        println!("   BLOCKS APPROVAL: {p}");
    }
}

fn hash(config: &Config, id: &str) -> Result<ExitCode> {
    let library = library(config)?;
    let playbook = loaded(&library, id)?;
    let hash = library
        .content_hash(id)
        .ok_or_else(|| anyhow!("no playbook `{id}`"))?;
    println!("{hash}");
    println!("  {}", playbook.path.display());
    for (name, _) in library.template_bytes(id).unwrap_or_default() {
        println!("  {}", library.templates_dir().join(name).display());
    }
    Ok(ExitCode::SUCCESS)
}

fn approve(config: &Config, id: &str, by: &str, note: Option<String>) -> Result<ExitCode> {
    let library = library(config)?;
    loaded(&library, id)?;
    let composer = composer(config, &library)?;
    let problems: Vec<_> = lint(&library, &composer)
        .into_iter()
        .filter(|d| d.is_error())
        .filter(|d| {
            library.get(id).is_some_and(|p| {
                d.file == p.path
                    || library
                        .template_bytes(id)
                        .unwrap_or_default()
                        .iter()
                        .any(|(n, _)| d.file == library.templates_dir().join(n))
            })
        })
        .collect();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        bail!("playbook `{id}` does not lint clean; fix it before approving");
    }
    if by.trim().is_empty() {
        bail!("--by must name the approver");
    }
    let hash = library
        .content_hash(id)
        .ok_or_else(|| anyhow!("no playbook `{id}`"))?;
    let approval = PlaybookApproval {
        playbook_id: id.to_string(),
        content_hash: hash.clone(),
        approved_by: by.trim().to_string(),
        approved_at: chrono::Utc::now(),
        note,
    };
    block_on(async {
        let store = open_store(config).await?;
        store.playbooks().record_approval(&approval).await?;
        store.close().await;
        Ok::<_, anyhow::Error>(())
    })??;
    println!("approved {id} at {hash} by {}", approval.approved_by);
    Ok(ExitCode::SUCCESS)
}
