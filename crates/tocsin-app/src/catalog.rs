//! Playbooks as the panel picks them (with their pre-approval state), their typed
//! forms, and previews: every target platform's exact text, counted and checked, as
//! the drafter types. Also where a message goes: the accounts it targets.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tocsin_domain::approval::Blocker;
use tocsin_domain::compose::{ComposeError, ComposeOptions, ComposedStep};
use tocsin_domain::playbook::Playbook;
use tocsin_domain::preapproval::{preapproval_status, PreapprovalStatus};
use tocsin_domain::variables::VariableRule;
use tocsin_domain::Platform;

use crate::error::{AppError, AppResult, ErrorKind};
use crate::people::Permission;
use crate::views::{blockers_of, rendered_hash, rendered_variants, VariantView};
use crate::Authed;
use crate::Tocsin;

/// An account a message goes to, and the platform whose text it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The account.
    pub account_id: i64,
    /// The platform whose variant it is sent (a sandbox account's stand-in platform).
    pub platform: Platform,
    /// A sandbox account.
    pub sandbox: bool,
}

/// The platform whose text an account gets: its own, or for a sandbox account the one
/// it stands in for (plain sandbox when it stands for none).
pub fn text_platform(platform: Platform, stands_for: Option<Platform>) -> Platform {
    match platform {
        Platform::Sandbox => stands_for.unwrap_or(Platform::Sandbox),
        own => own,
    }
}

/// The accounts a message goes to: every connected account for a real message, only
/// sandbox accounts for an exercise.
pub async fn targets(app: &Tocsin, exercise: bool) -> AppResult<Vec<Target>> {
    let accounts = app.0.store.accounts().list().await?;
    Ok(accounts
        .iter()
        .filter(|a| a.sandbox || !exercise)
        .filter(|a| app.0.routes.get(a.id).is_some())
        .map(|a| Target {
            account_id: a.id,
            platform: text_platform(a.platform, a.stands_for),
            sandbox: a.sandbox,
        })
        .collect())
}

/// The distinct platforms to render for (every platform when no account is connected,
/// so a preview still shows something).
pub fn platforms_of(targets: &[Target]) -> Vec<Platform> {
    let set: BTreeSet<Platform> = targets.iter().map(|t| t.platform).collect();
    if set.is_empty() {
        Platform::ALL
            .iter()
            .copied()
            .filter(|p| *p != Platform::Sandbox)
            .collect()
    } else {
        set.into_iter().collect()
    }
}

/// The playbook's pre-approval state now.
pub async fn status_of(app: &Tocsin, playbook: &Playbook) -> AppResult<PreapprovalStatus> {
    let hash = app
        .0
        .library
        .content_hash(&playbook.id)
        .ok_or_else(|| AppError::not_found(format!("no playbook `{}`", playbook.id)))?;
    let approvals = app.0.store.playbooks().approvals(&playbook.id).await?;
    Ok(preapproval_status(&playbook.id, &hash, &approvals))
}

/// A playbook by id, or 404 naming it.
pub fn playbook<'a>(app: &'a Tocsin, id: &str) -> AppResult<&'a Playbook> {
    app.0
        .library
        .get(id)
        .ok_or_else(|| AppError::not_found(format!("no playbook `{id}`")).field("playbook"))
}

/// A step in a list.
#[derive(Debug, Serialize)]
pub struct StepRef {
    id: String,
    title: String,
}

/// A playbook in the picker.
#[derive(Debug, Serialize)]
pub struct PlaybookSummary {
    id: String,
    title: String,
    description: String,
    tags: Vec<String>,
    status: &'static str,
    session: bool,
    steps: Vec<StepRef>,
}

fn summary(p: &Playbook, status: &PreapprovalStatus) -> PlaybookSummary {
    PlaybookSummary {
        id: p.id.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        tags: p.tags.clone(),
        status: status.label(),
        session: p.session.is_some(),
        steps: p
            .steps
            .iter()
            .map(|s| StepRef {
                id: s.id.clone(),
                title: s.title.clone(),
            })
            .collect(),
    }
}

/// The playbooks for the picker, each with its pre-approval state (viewers and up).
pub async fn list(app: &Tocsin, who: &Authed) -> AppResult<Vec<PlaybookSummary>> {
    who.require(app, Permission::ViewDrafts)?;
    let mut out = Vec::new();
    for p in app.0.library.playbooks() {
        let status = status_of(app, p).await?;
        out.push(summary(p, &status));
    }
    Ok(out)
}

/// A variable's form field.
#[derive(Debug, Serialize)]
pub struct VariableView {
    name: String,
    label: String,
    help: Option<String>,
    required: bool,
    default: Option<String>,
    example: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    choices: Vec<String>,
    max_length: Option<usize>,
    min: Option<i64>,
    max: Option<i64>,
    multiline: bool,
}

/// A playbook with its form.
#[derive(Debug, Serialize)]
pub struct PlaybookDetail {
    #[serde(flatten)]
    summary: PlaybookSummary,
    timezone: String,
    policy: tocsin_domain::playbook::ApprovalPolicy,
    hashtags: Vec<String>,
    variables: Vec<VariableView>,
}

fn variable_view(spec: &tocsin_domain::variables::VariableSpec) -> VariableView {
    let mut v = VariableView {
        name: spec.name.clone(),
        label: spec.label.clone(),
        help: spec.help.clone(),
        required: spec.required,
        default: spec.default.clone(),
        example: spec.example.clone(),
        kind: "text",
        choices: Vec::new(),
        max_length: None,
        min: None,
        max: None,
        multiline: false,
    };
    match &spec.rule {
        VariableRule::Text {
            max_length,
            multiline,
            ..
        } => {
            v.max_length = Some(*max_length);
            v.multiline = *multiline;
        }
        VariableRule::Enum { choices } => {
            v.kind = "choice";
            v.choices = choices.clone();
        }
        VariableRule::Integer { min, max } => {
            v.kind = "integer";
            v.min = Some(*min);
            v.max = Some(*max);
        }
        VariableRule::Datetime { .. } => v.kind = "datetime",
        VariableRule::Zip { .. } => v.kind = "zip",
        VariableRule::Phone => v.kind = "phone",
        VariableRule::Url { .. } => v.kind = "url",
        VariableRule::Hashtag => v.kind = "hashtag",
    }
    v
}

/// A playbook with its typed form (viewers and up).
pub async fn detail(app: &Tocsin, who: &Authed, id: String) -> AppResult<PlaybookDetail> {
    who.require(app, Permission::ViewDrafts)?;
    let p = playbook(app, &id)?;
    let status = status_of(app, p).await?;
    Ok(PlaybookDetail {
        summary: summary(p, &status),
        timezone: p.timezone.to_string(),
        policy: p.approval,
        hashtags: p.hashtags.clone(),
        variables: p.variables.iter().map(variable_view).collect(),
    })
}

/// A value that failed its rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// `values.<name>`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// What the drafter sees as they type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Preview {
    /// The hash an approval of exactly this text names (empty when values are invalid).
    pub hash: String,
    /// The headline.
    pub headline: String,
    /// Whether anything blocks approval (invalid values included).
    pub blocked: bool,
    /// Exercise.
    pub exercise: bool,
    /// Values that failed their rules.
    pub field_errors: Vec<FieldError>,
    /// One per target platform (and the HTML email).
    pub variants: Vec<VariantView>,
    /// What blocks approval.
    pub blockers: Vec<Blocker>,
}

/// A preview request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The step.
    pub step: String,
    /// Raw values as typed.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Exercise (only sandbox targets).
    #[serde(default)]
    pub exercise: bool,
}

/// Composes a step for the targets of a (real or exercise) message. Invalid values come
/// back as field errors with no composition; an unknown step or variable is a 422.
pub async fn compose(
    app: &Tocsin,
    p: &Playbook,
    step: &str,
    values: &BTreeMap<String, String>,
    exercise: bool,
    post_number: Option<u32>,
) -> AppResult<(Preview, Option<ComposedStep>)> {
    let targets = targets(app, exercise).await?;
    let platforms = platforms_of(&targets);
    let composer = app.0.composer.clone();
    let result = composer.compose(p, step, values, &platforms, ComposeOptions { post_number });
    match result {
        Ok(composed) => {
            let variants = rendered_variants(&composed);
            let blockers = blockers_of(&composed);
            Ok((
                Preview {
                    hash: rendered_hash(&variants),
                    headline: composed.headline.clone(),
                    blocked: !blockers.is_empty(),
                    exercise,
                    field_errors: Vec::new(),
                    variants: composed.variants.iter().map(VariantView::of).collect(),
                    blockers,
                },
                Some(composed),
            ))
        }
        Err(ComposeError::InvalidValues(errors)) => Ok((
            Preview {
                hash: String::new(),
                headline: String::new(),
                blocked: true,
                exercise,
                field_errors: errors
                    .iter()
                    .map(|e| FieldError {
                        field: format!("values.{}", e.variable),
                        message: e.to_string(),
                    })
                    .collect(),
                variants: Vec::new(),
                blockers: Vec::new(),
            },
            None,
        )),
        Err(ComposeError::UnknownStep { .. }) => Err(AppError::invalid(
            "step",
            result.err().map(|e| e.to_string()).unwrap_or_default(),
        )),
        Err(ComposeError::UnknownVariable(name)) => Err(AppError::invalid(
            format!("values.{name}"),
            format!("`{name}` is not a variable of playbook `{}`", p.id),
        )),
        Err(ComposeError::Template(problem)) => Err(AppError::new(
            ErrorKind::Conflict,
            "playbook_broken",
            format!(
                "playbook `{}` does not render ({problem}); run `tocsin playbooks lint`",
                p.id
            ),
        )),
    }
}

/// Previews for a signed-in caller (HTTP and websocket).
pub async fn preview_for(
    app: &Tocsin,
    who: &Authed,
    id: &str,
    request: &PreviewRequest,
) -> AppResult<Preview> {
    who.require(app, Permission::ViewDrafts)?;
    let p = playbook(app, id)?;
    let (preview, _) = compose(
        app,
        p,
        &request.step,
        &request.values,
        request.exercise,
        None,
    )
    .await?;
    Ok(preview)
}
