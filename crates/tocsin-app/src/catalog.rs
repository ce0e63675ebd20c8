//! Playbooks as the panel picks them (with their pre-approval state), their typed
//! forms, and previews: every target platform's exact text, counted and checked, as
//! the drafter types. Also where a message goes: the target set (groups and accounts)
//! resolved against the accounts connected now.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tocsin_domain::approval::Blocker;
use tocsin_domain::audience::{resolve, AccountFacts, Resolved, TargetError, TargetSpec};
use tocsin_domain::compose::{fill_values_for_step, ComposeError, ComposeOptions, ComposedStep};
use tocsin_domain::playbook::Playbook;
use tocsin_domain::preapproval::{preapproval_status, PreapprovalStatus};
use tocsin_domain::variables::VariableRule;
use tocsin_domain::Platform;

use crate::error::{AppError, AppResult, ErrorKind};
use crate::people::Permission;
use crate::views::{blockers_of, rendered_variants, review_hash, VariantView};
use crate::Authed;
use crate::Tocsin;

/// The platform whose text an account gets: its own, or for a sandbox account the one
/// it stands in for (plain sandbox when it stands for none).
pub fn text_platform(platform: Platform, stands_for: Option<Platform>) -> Platform {
    match platform {
        Platform::Sandbox => stands_for.unwrap_or(Platform::Sandbox),
        own => own,
    }
}

/// Every account as target resolution sees it, with what the panel shows of it.
pub struct Fleet {
    /// What resolution needs, per account.
    pub facts: Vec<AccountFacts>,
    /// Every account as stored (same order).
    pub accounts: Vec<tocsin_store::Account>,
    /// The group names that exist: made for some account (even if nobody is in it any
    /// more), or in some playbook's audience.
    pub known_groups: BTreeSet<String>,
}

/// What target resolution needs of `a`; `usable` says whether it is in fan-out now.
pub fn account_facts(a: &tocsin_store::Account, usable: bool) -> AccountFacts {
    AccountFacts {
        id: a.id,
        platform: text_platform(a.platform, a.stands_for),
        groups: a.groups.clone(),
        sandbox: a.sandbox,
        usable,
    }
}

/// The group names that exist: those some account has, and those some playbook (or a
/// step of it) names as its audience.
pub async fn known_groups(
    store: &tocsin_store::Store,
    library: &tocsin_domain::library::Library,
) -> Result<BTreeSet<String>, tocsin_store::StoreError> {
    let mut known: BTreeSet<String> = store.accounts().group_names().await?.into_iter().collect();
    for p in library.playbooks() {
        known.extend(p.audience.iter().cloned());
        for s in &p.steps {
            known.extend(s.audience.iter().flatten().cloned());
        }
    }
    Ok(known)
}

/// Reads every account, whether it is in fan-out now, and the known group names.
pub async fn fleet(app: &Tocsin) -> AppResult<Fleet> {
    let accounts = app.0.store.accounts().list().await?;
    let facts = accounts
        .iter()
        .map(|a| {
            // In fan-out as before audiences: routed and not disabled (an account whose
            // token was refused stays in, so its failure shows on the grid).
            let usable =
                a.status != tocsin_store::AccountStatus::Disabled && app.0.routes.contains(a.id);
            account_facts(a, usable)
        })
        .collect();
    let known_groups = known_groups(&app.0.store, &app.0.library).await?;
    Ok(Fleet {
        facts,
        accounts,
        known_groups,
    })
}

/// A draft's target set: as chosen, and the accounts it reached when the draft was
/// saved. Both are covered by the hash the approver reviews.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DraftTargets {
    /// As the drafter chose it.
    pub spec: TargetSpec,
    /// The accounts it resolved to, by id.
    pub accounts: Vec<i64>,
}

/// A target set resolved for one step of a playbook.
#[derive(Debug, Clone)]
pub struct Targeting {
    /// The choice, normalized.
    pub spec: TargetSpec,
    /// What it reaches now (empty when nothing does).
    pub resolved: Resolved,
    /// The step's default groups (empty: every account).
    pub audience: Vec<String>,
    /// The error when it reaches nothing (an empty set cannot be submitted).
    pub empty: Option<String>,
}

impl Targeting {
    /// What the draft stores.
    pub fn stored(&self) -> DraftTargets {
        DraftTargets {
            spec: self.spec.clone(),
            accounts: self.resolved.accounts.clone(),
        }
    }

    /// Whether the approver must confirm accounts outside the playbook's audience.
    pub fn needs_confirmation(&self) -> bool {
        !self.resolved.outside_audience.is_empty()
    }
}

/// Resolves a target choice (the step's audience when `spec` is `None`) against the
/// accounts now: unknown groups and bad accounts are a 422 naming the field; a set that
/// reaches nothing is kept with `empty` set, so the drafter still sees the form.
pub async fn targeting(
    app: &Tocsin,
    p: &Playbook,
    step: &str,
    spec: Option<&TargetSpec>,
    exercise: bool,
) -> AppResult<(Targeting, Fleet)> {
    let fleet = fleet(app).await?;
    let audience = p.audience_of(step).to_vec();
    let spec = spec
        .cloned()
        .unwrap_or_else(|| TargetSpec::for_audience(&audience))
        .normalized();
    let targeting = match resolve(
        &spec,
        &fleet.facts,
        &fleet.known_groups,
        &audience,
        exercise,
    ) {
        Ok(resolved) => Targeting {
            spec,
            resolved,
            audience,
            empty: None,
        },
        Err(e @ TargetError::Empty { .. }) => Targeting {
            spec,
            resolved: Resolved::default(),
            audience,
            empty: Some(e.to_string()),
        },
        Err(e) => return Err(AppError::invalid(e.field(), e.to_string())),
    };
    Ok((targeting, fleet))
}

/// The distinct platforms to render for: the target set's (every platform when it
/// reaches nothing, so a preview still shows something).
pub fn platforms_of(resolved: &Resolved) -> Vec<Platform> {
    if resolved.per_platform.is_empty() {
        Platform::ALL
            .iter()
            .copied()
            .filter(|p| *p != Platform::Sandbox)
            .collect()
    } else {
        resolved.platforms()
    }
}

/// An account in the target form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetAccountView {
    /// Id.
    pub id: i64,
    /// Display name.
    pub display_name: String,
    /// The platform whose text it gets.
    pub platform: Platform,
    /// Its groups.
    pub groups: Vec<String>,
    /// A sandbox account.
    pub sandbox: bool,
    /// In fan-out now.
    pub usable: bool,
    /// The target set reaches it.
    pub targeted: bool,
    /// Outside the step's audience (the approver must confirm it).
    pub outside_audience: bool,
}

/// A group in the target form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetGroupView {
    /// Name.
    pub name: String,
    /// How many usable accounts it has (for this kind of message); 0 shows as empty.
    pub accounts: usize,
    /// In the step's audience.
    pub in_audience: bool,
    /// Chosen.
    pub chosen: bool,
}

/// What the drafter and the approver see of a target set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetsView {
    /// The choice.
    pub spec: TargetSpec,
    /// The step's default groups (empty: every account).
    pub audience: Vec<String>,
    /// Every group there is.
    pub groups: Vec<TargetGroupView>,
    /// Every account that could be chosen.
    pub accounts: Vec<TargetAccountView>,
    /// How many accounts per platform the set reaches.
    pub per_platform: BTreeMap<Platform, usize>,
    /// The same platforms' names in words ("X", "Bluesky", "SMS").
    pub platform_names: BTreeMap<Platform, &'static str>,
    /// How many accounts in all.
    pub total: usize,
    /// Accounts outside the audience that the approver must confirm.
    pub outside_audience: Vec<i64>,
    /// Chosen groups outside the audience.
    pub groups_outside_audience: Vec<String>,
    /// Why the set cannot be submitted (it reaches nothing), if so.
    pub empty: Option<String>,
}

/// The target form's view of a resolution.
pub fn targets_view(t: &Targeting, fleet: &Fleet, exercise: bool) -> TargetsView {
    let eligible = |f: &AccountFacts| f.sandbox || !exercise;
    let groups = fleet
        .known_groups
        .iter()
        .map(|g| TargetGroupView {
            name: g.clone(),
            accounts: fleet
                .facts
                .iter()
                .filter(|f| f.usable && eligible(f) && f.groups.contains(g))
                .count(),
            in_audience: t.audience.is_empty() || t.audience.contains(g),
            chosen: t.spec.groups.contains(g),
        })
        .collect();
    let accounts = fleet
        .accounts
        .iter()
        .zip(&fleet.facts)
        .filter(|(_, f)| eligible(f) && (f.usable || t.spec.exclude_accounts.contains(&f.id)))
        .map(|(a, f)| TargetAccountView {
            id: a.id,
            display_name: a.display_name.clone(),
            platform: f.platform,
            groups: f.groups.clone(),
            sandbox: f.sandbox,
            usable: f.usable,
            targeted: t.resolved.accounts.contains(&a.id),
            outside_audience: t.resolved.outside_audience.contains(&a.id),
        })
        .collect();
    TargetsView {
        spec: t.spec.clone(),
        audience: t.audience.clone(),
        groups,
        accounts,
        per_platform: t.resolved.per_platform.clone(),
        platform_names: t
            .resolved
            .per_platform
            .keys()
            .map(|p| (*p, p.display_name()))
            .collect(),
        total: t.resolved.accounts.len(),
        outside_audience: t.resolved.outside_audience.clone(),
        groups_outside_audience: t.resolved.groups_outside_audience.clone(),
        empty: t.empty.clone(),
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
    /// The variables its texts read, in form order: the only ones its form asks for.
    variables: Option<Vec<String>>,
    /// Platforms whose text the drafter may rewrite.
    overrides: Vec<Platform>,
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
                variables: s.variables.clone(),
                overrides: s.overrides.clone(),
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
    /// A live-session playbook's variable holding the session hashtag.
    session_hashtag: Option<String>,
    /// A live-session playbook's variables set once when a session starts.
    session_fixed: Vec<String>,
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
        session_hashtag: p.session.as_ref().map(|s| s.hashtag_variable.clone()),
        session_fixed: p
            .session
            .as_ref()
            .map(|s| s.fixed.clone())
            .unwrap_or_default(),
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
#[derive(Debug, Clone, Serialize, PartialEq)]
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
    /// Who gets it: the groups and accounts, with a count per platform.
    pub targets: TargetsView,
    /// Its images, and which platforms send the text without them.
    pub images: crate::images::ImagesView,
}

impl Preview {
    /// The variants whose reading grade is above the playbook's `reading_grade_max`.
    pub fn over_reading_grade(&self) -> impl Iterator<Item = &VariantView> {
        self.variants.iter().filter(|v| v.over_reading_grade)
    }
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
    /// The target set (the step's audience when left out).
    #[serde(default)]
    pub targets: Option<TargetSpec>,
    /// A live session the post is for: its hashtag and fixed values fill the form's.
    #[serde(default)]
    pub session_id: Option<i64>,
    /// The drafter's own text for platforms the step lets them rewrite.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// Its images, each an uploaded image's hash with its description.
    #[serde(default)]
    pub images: Vec<crate::images::DraftImage>,
}

/// Puts the drafter's own text in place of the rendered one for each platform the step
/// lets them rewrite; refused, naming `overrides.<platform>`, for a platform the step does
/// not open, one the target set does not reach, or an empty text.
fn apply_overrides(
    composer: &tocsin_domain::compose::Composer,
    p: &Playbook,
    step: &str,
    platforms: &[Platform],
    overrides: &BTreeMap<String, String>,
    composed: &mut ComposedStep,
) -> AppResult<()> {
    let allowed = p.step(step).map_or(&[][..], |s| s.overrides.as_slice());
    for (id, text) in overrides {
        let field = format!("overrides.{id}");
        let platform = id
            .parse::<Platform>()
            .ok()
            .filter(|pl| pl.as_str() == id)
            .ok_or_else(|| AppError::invalid(field.clone(), format!("`{id}` is not a platform")))?;
        if !allowed.contains(&platform) {
            return Err(AppError::invalid(
                field,
                format!(
                    "step `{step}` of `{}` does not let the drafter rewrite the {} text (its `overrides` are: {})",
                    p.id,
                    platform.display_name(),
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                    }
                ),
            ));
        }
        if !platforms.contains(&platform) {
            return Err(AppError::invalid(
                field,
                format!(
                    "no account the message goes to gets the {} text",
                    platform.display_name()
                ),
            ));
        }
        if text.trim().is_empty() {
            return Err(AppError::invalid(
                field,
                "an empty text: leave the platform out to use the playbook's",
            ));
        }
        let variant = composer.override_variant(p, platform, text);
        if let Some(slot) = composed
            .variants
            .iter_mut()
            .find(|v| v.target == variant.target)
        {
            *slot = variant;
        }
    }
    Ok(())
}

/// What to compose: a step, its values, and for whom.
#[derive(Debug, Clone, Copy)]
pub struct ComposeFor<'a> {
    /// The step.
    pub step: &'a str,
    /// Raw values as typed.
    pub values: &'a BTreeMap<String, String>,
    /// Exercise (only sandbox targets).
    pub exercise: bool,
    /// Its number in a live session.
    pub post_number: Option<u32>,
    /// The target set (the step's audience when `None`).
    pub targets: Option<&'a TargetSpec>,
    /// The drafter's own text for platforms the step lets them rewrite (platform id to
    /// text).
    pub overrides: Option<&'a BTreeMap<String, String>>,
    /// Its images, each with its description.
    pub images: &'a [crate::images::DraftImage],
}

/// Composes a step for the platforms its target set reaches. Invalid values come back
/// as field errors with no composition; an unknown step or variable, an unknown group or
/// a bad account is a 422.
pub async fn compose(
    app: &Tocsin,
    p: &Playbook,
    what: ComposeFor<'_>,
) -> AppResult<(Preview, Option<ComposedStep>, Targeting)> {
    let ComposeFor {
        step,
        values,
        exercise,
        post_number,
        targets,
        overrides,
        images,
    } = what;
    if p.step(step).is_none() {
        let e = ComposeError::UnknownStep {
            playbook: p.id.clone(),
            step: step.to_string(),
            known: p
                .steps
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Err(AppError::invalid("step", e.to_string()));
    }
    let (targeting, fleet) = targeting(app, p, step, targets, exercise).await?;
    let view = targets_view(&targeting, &fleet, exercise);
    let platforms = platforms_of(&targeting.resolved);
    let composer = app.0.composer.clone();
    let result = composer.compose(p, step, values, &platforms, ComposeOptions { post_number });
    match result {
        Ok(mut composed) => {
            if let Some(overrides) = overrides.filter(|o| !o.is_empty()) {
                apply_overrides(&composer, p, step, &platforms, overrides, &mut composed)?;
            }
            let variants = rendered_variants(&composed);
            let mut blockers = blockers_of(&composed);
            // A description that repeats the step's values (an alert card's alt text)
            // is checked as the texts are: a value's declared families are allowed.
            let filled = p
                .step(step)
                .and_then(|s| fill_values_for_step(p, s, values).ok().map(|f| (s, f)));
            let phi = |alt: &str| match &filled {
                Some((s, f)) => composer.check_over_values(p, s, f, alt),
                None => composer.guard().check(alt, &[]),
            };
            let (images_view, image_blockers) = crate::images::assess(
                app,
                phi,
                images,
                &platforms,
                &crate::images::card_stamp(step, values),
            )
            .await?;
            blockers.extend(image_blockers);
            Ok((
                Preview {
                    hash: review_hash(&variants, &targeting.stored(), images),
                    headline: composed.headline.clone(),
                    blocked: !blockers.is_empty(),
                    exercise,
                    field_errors: Vec::new(),
                    variants: composed
                        .variants
                        .iter()
                        .map(|v| {
                            let mut view = VariantView::of(v);
                            view.edited =
                                overrides.is_some_and(|o| o.contains_key(view.target.as_str()));
                            view
                        })
                        .chain(composed.wea.iter().map(VariantView::of_wea))
                        .chain(
                            composed
                                .translations
                                .iter()
                                .flat_map(VariantView::of_translation),
                        )
                        .collect(),
                    blockers,
                    targets: view,
                    images: images_view,
                },
                Some(composed),
                targeting,
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
                targets: view,
                images: crate::images::ImagesView::default(),
            },
            None,
            targeting,
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
    let mut values = request.values.clone();
    if let Some(session_id) = request.session_id {
        let session = crate::sessions::session_or_404(app, session_id)
            .await
            .map_err(|e| e.field("session_id"))?;
        crate::sessions::runs_playbook(&session, p)?;
        crate::drafts::fix_session_hashtag(p, &session, &mut values)?;
    }
    let (preview, _, _) = compose(
        app,
        p,
        ComposeFor {
            step: &request.step,
            values: &values,
            exercise: request.exercise,
            post_number: None,
            targets: request.targets.as_ref(),
            overrides: Some(&request.overrides),
            images: &request.images,
        },
    )
    .await?;
    Ok(preview)
}
