//! Drafts and the approval workflow, the same for the API, the websocket and the command
//! line: create, edit, submit, request changes, approve, break-glass, withdraw.
//!
//! Every decision is [`tocsin_domain::approval::decide`]'s, given facts read here: the
//! stored text and its hash, the playbook's pre-approval, the blockers found by
//! composing the draft again, the consent register's answer. Every step and every
//! refusal is audited. Approval writes the message and its outbox rows in the same
//! transaction as the draft's new state, then wakes the dispatcher.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tocsin_audit::AuditEvent;
use tocsin_domain::approval::{
    decide, Action, Actor, Blocker, ConsentCheck, DraftFacts, DraftState, Override, Transition,
};
use tocsin_domain::audience::TargetSpec;
use tocsin_domain::playbook::{Playbook, TextTarget};
use tocsin_store::outbox::{Placement, RetractMode, Retraction};
use tocsin_store::WorkflowDraft;
use tocsin_store::{MessageTargets, NewDraft, NewMessage, RenderedVariant};

use crate::catalog::{
    compose, playbook, status_of, ComposeFor, DraftTargets, Preview, Targeting, TargetsView,
};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::events::PanelEvent;
use crate::people::Permission;
use crate::views::{review_hash, DraftSummary, VariantView};
use crate::Authed;
use crate::Tocsin;

/// The target name under which a draft's headline is stored beside its variants.
pub const HEADLINE_TARGET: TextTarget = TextTarget::Headline;

/// What a draft keeps of its inputs (`drafts.variables_json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DraftInputs {
    /// The raw values as typed.
    pub values: BTreeMap<String, String>,
    /// Its number in a live session ("3/").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_number: Option<u32>,
    /// Who gets it: the choice and the accounts it reached when saved (`None` in drafts
    /// from before audiences, which must be saved again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<DraftTargets>,
    /// The drafter's own text for platforms the step lets them rewrite (platform id to
    /// text); part of the stored variants, so of the hash the approver reviews.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, String>,
    /// Its images, in order, each with its description; part of the hash the approver
    /// reviews.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<crate::images::DraftImage>,
}

impl DraftInputs {
    /// Reads the stored JSON (also the plain map older drafts and drills stored).
    pub fn parse(json: &str) -> DraftInputs {
        serde_json::from_str::<DraftInputs>(json)
            .or_else(|_| {
                serde_json::from_str::<BTreeMap<String, String>>(json).map(|values| DraftInputs {
                    values,
                    post_number: None,
                    targets: None,
                    overrides: BTreeMap::new(),
                    images: Vec::new(),
                })
            })
            .unwrap_or_default()
    }
}

/// A draft with its text, as the panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DraftView {
    #[serde(flatten)]
    summary: DraftSummary,
    values: BTreeMap<String, String>,
    /// The drafter's own texts (platform id to text), where the step allows them.
    overrides: BTreeMap<String, String>,
    /// Its images, each with its description.
    images: Vec<crate::images::DraftImage>,
    /// What each platform does with them (as the preview says).
    images_view: Option<crate::images::ImagesView>,
    note: Option<String>,
    /// Hash of the stored text: what an approval names.
    hash: String,
    headline: String,
    variants: Vec<VariantView>,
    blockers: Vec<Blocker>,
    playbook_status: &'static str,
    /// The stored text no longer matches what the playbook renders now (templates or
    /// accounts changed): save the draft again before it can be approved.
    stale: bool,
    post_number: Option<u32>,
    /// The message this draft corrects: approved, it is posted as a reply wherever that
    /// message still stands.
    corrects_message_id: Option<i64>,
    /// Who gets it, with a count per platform (as the playbook resolves it now).
    targets: Option<TargetsView>,
    /// The target set reaches accounts outside the playbook's audience: the approver
    /// must confirm it (`confirm_targets`).
    needs_target_confirmation: bool,
    /// A variant reads above the playbook's `reading_grade_max`: the approver must
    /// acknowledge it (`acknowledge_reading_grade`).
    needs_reading_grade_acknowledgement: bool,
}

fn summary_of(d: &WorkflowDraft) -> DraftSummary {
    DraftSummary {
        id: d.id,
        playbook: d.playbook_id.clone(),
        step: d.step_id.clone(),
        state: d.state.as_str().to_string(),
        exercise: d.exercise,
        created_by: d.created_by.clone(),
        updated_at: d.updated_at,
        message_id: d.message_id,
        session_id: d.session_id,
    }
}

fn stored_variants(d: &WorkflowDraft) -> Vec<RenderedVariant> {
    d.variants
        .iter()
        .map(|v| RenderedVariant {
            target: v.target,
            body: v.body.clone().unwrap_or_default(),
        })
        .collect()
}

/// What the workflow knows about a stored draft now.
struct Assessed {
    draft: WorkflowDraft,
    inputs: DraftInputs,
    stored_hash: String,
    preview: Option<Preview>,
    targeting: Option<Targeting>,
    usable: bool,
    status: &'static str,
}

impl Assessed {
    fn stale(&self) -> bool {
        self.preview
            .as_ref()
            .is_none_or(|p| p.hash != self.stored_hash)
    }

    fn view(&self) -> DraftView {
        let stored = stored_variants(&self.draft);
        let headline = stored
            .iter()
            .find(|v| v.target == HEADLINE_TARGET)
            .map(|v| v.body.clone())
            .unwrap_or_default();
        let variants = match &self.preview {
            Some(p) if !self.stale() => p.variants.clone(),
            _ => stored
                .iter()
                .filter(|v| v.target != HEADLINE_TARGET)
                .map(|v| {
                    VariantView::stored(
                        v.target,
                        v.body.clone(),
                        self.inputs.overrides.contains_key(&*v.target.as_str()),
                    )
                })
                .collect(),
        };
        DraftView {
            summary: summary_of(&self.draft),
            values: self.inputs.values.clone(),
            overrides: self.inputs.overrides.clone(),
            images: self.inputs.images.clone(),
            images_view: self.preview.as_ref().map(|p| p.images.clone()),
            note: self.draft.note.clone(),
            hash: self.stored_hash.clone(),
            headline,
            variants,
            blockers: self
                .preview
                .as_ref()
                .map(|p| p.blockers.clone())
                .unwrap_or_default(),
            playbook_status: self.status,
            stale: self.stale(),
            post_number: self.inputs.post_number,
            corrects_message_id: self.draft.corrects_message_id,
            targets: self.preview.as_ref().map(|p| p.targets.clone()),
            needs_target_confirmation: self.needs_confirmation(),
            needs_reading_grade_acknowledgement: !self.stale()
                && !self.over_reading_grade().is_empty(),
        }
    }

    /// The variants that read above the playbook's `reading_grade_max`, as
    /// `target grade > max` (empty for a stale draft: it cannot be approved anyway).
    fn over_reading_grade(&self) -> Vec<String> {
        self.preview
            .as_ref()
            .map(|p| {
                p.over_reading_grade()
                    .map(|v| {
                        format!(
                            "{} {} > {}",
                            v.target,
                            v.readability.as_ref().map_or(0.0, |r| r.grade),
                            v.reading_grade_max.unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn needs_confirmation(&self) -> bool {
        self.targeting
            .as_ref()
            .is_some_and(Targeting::needs_confirmation)
    }

    fn state(&self) -> DraftState {
        self.draft.state
    }
}

async fn assess(app: &Tocsin, id: i64) -> AppResult<(Assessed, &Playbook)> {
    let draft = app
        .0
        .store
        .drafts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no draft {id}")))?;
    let p = playbook(app, &draft.playbook_id)?;
    let status = status_of(app, p).await?;
    let inputs = DraftInputs::parse(&draft.variables_json);
    let stored_targets = inputs.targets.clone().unwrap_or_default();
    let stored_hash = review_hash(&stored_variants(&draft), &stored_targets, &inputs.images);
    let spec = match inputs.targets.as_ref() {
        Some(t) => Some(t.spec.clone()),
        None => session_targets(app, draft.session_id).await?,
    };
    let (preview, targeting) = match compose(
        app,
        p,
        ComposeFor {
            step: &draft.step_id,
            values: &inputs.values,
            exercise: draft.exercise,
            post_number: inputs.post_number,
            targets: spec.as_ref(),
            overrides: Some(&inputs.overrides),
            images: &inputs.images,
        },
    )
    .await
    {
        Ok((preview, Some(_), targeting)) => (Some(preview), Some(targeting)),
        Ok((_, None, _)) => (None, None),
        Err(e) if e.kind == ErrorKind::Internal => return Err(e),
        Err(_) => (None, None),
    };
    Ok((
        Assessed {
            draft,
            inputs,
            stored_hash,
            preview,
            targeting,
            usable: status.is_usable(),
            status: status.label(),
        },
        p,
    ))
}

fn actor_of(app: &Tocsin, who: &Authed) -> Actor {
    let now = app.0.store.now();
    let policy = &app.0.people.config().sessions;
    Actor {
        name: who.session.user.clone(),
        can_draft: who.session.role.can(Permission::EditDrafts),
        can_approve: who.session.role.can(Permission::Approve),
        recently_reauthenticated: who
            .session
            .authorize(Permission::BreakGlass, now, policy)
            .is_ok(),
    }
}

fn facts_of(a: &Assessed, p: &Playbook) -> DraftFacts {
    DraftFacts {
        drafter: a.draft.created_by.clone(),
        state: a.state(),
        rendered_hash: a.stored_hash.clone(),
        policy: p.approval,
        playbook_usable: a.usable,
        blockers: a
            .preview
            .as_ref()
            .map(|p| p.blockers.clone())
            .unwrap_or_default(),
    }
}

/// Audits a refused workflow step, then returns the refusal as an API error.
async fn refused(
    app: &Tocsin,
    who: &Authed,
    action: &'static str,
    draft: &WorkflowDraft,
    error: AppError,
) -> AppError {
    let event = AuditEvent::new(who.user(), action)
        .subject("draft", draft.id.to_string())
        .subject("playbook", draft.playbook_id.as_str())
        .exercise(draft.exercise)
        .outcome(format!("refused: {}", error.code));
    if let Err(e) = app.0.store.append_audit(event).await {
        return AppError::from(e);
    }
    error
}

/// Publishes a draft's new summary to every panel.
/// A live session that has ended takes no new post, follow-up or approval (409
/// `session_ended`).
fn session_ended(session_id: i64) -> AppError {
    AppError::new(
        ErrorKind::Conflict,
        "session_ended",
        format!("live session {session_id} has ended: it takes no new post"),
    )
}

pub(crate) async fn announce_draft(app: &Tocsin, id: i64) {
    match app.0.store.drafts().get(id).await {
        Ok(Some(d)) => app.0.hub.publish(&PanelEvent::Draft {
            draft: summary_of(&d),
        }),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, draft = id, "could not announce a draft change"),
    }
}

/// A new draft.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDraft {
    playbook: String,
    step: String,
    #[serde(default)]
    values: BTreeMap<String, String>,
    #[serde(default)]
    exercise: bool,
    #[serde(default)]
    session_id: Option<i64>,
    /// The message this draft corrects (a correction is a draft like any other).
    #[serde(default)]
    corrects: Option<i64>,
    /// Who gets it (the step's audience when left out; a live session's own set for its
    /// posts).
    #[serde(default)]
    targets: Option<TargetSpec>,
    /// The drafter's own text for platforms the step lets them rewrite (platform id to
    /// text).
    #[serde(default)]
    overrides: BTreeMap<String, String>,
    /// Its images (at most four), each an uploaded image's hash with its description.
    #[serde(default)]
    images: Vec<crate::images::DraftImage>,
    /// The sent message this draft follows up (set by [`follow_up`] only, never from a
    /// request): its approval threads it under that message's posts.
    #[serde(skip)]
    follows_up: Option<i64>,
}

fn invalid_values(preview: &Preview) -> AppError {
    let first = preview.field_errors.first();
    let all: Vec<&str> = preview
        .field_errors
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    AppError::invalid(first.map_or("values", |e| e.field.as_str()), all.join("; "))
}

/// Composes for storage: the variants plus the headline, and the target set as
/// resolved now, or the field errors as a 422.
async fn render_for_storage(
    app: &Tocsin,
    p: &Playbook,
    step: &str,
    inputs: &DraftInputs,
    spec: Option<&TargetSpec>,
    exercise: bool,
) -> AppResult<(Vec<RenderedVariant>, DraftTargets)> {
    let (preview, composed, targeting) = compose(
        app,
        p,
        ComposeFor {
            step,
            values: &inputs.values,
            exercise,
            post_number: inputs.post_number,
            targets: spec,
            overrides: Some(&inputs.overrides),
            images: &inputs.images,
        },
    )
    .await?;
    let composed = composed.ok_or_else(|| invalid_values(&preview))?;
    Ok((
        crate::views::rendered_variants(&composed),
        targeting.stored(),
    ))
}

/// A live session's target set (`None` outside a session, or for a session from before
/// audiences, which uses the playbook's).
async fn session_targets(app: &Tocsin, session: Option<i64>) -> AppResult<Option<TargetSpec>> {
    let Some(id) = session else {
        return Ok(None);
    };
    Ok(app
        .0
        .store
        .live_sessions()
        .get(id)
        .await?
        .and_then(|s| s.targets))
}

/// A live session fixes its hashtag and its fixed values ([`fix_session_values`]): the
/// playbook's session hashtag variable takes the session's hashtag whatever the form left
/// out, and a draft that gives another (`#B`
/// in session `#A`) is refused naming both. Case is not a difference (`#heatsafety` is
/// `#HeatSafety`); the session's spelling is used.
pub(crate) fn fix_session_hashtag(
    p: &Playbook,
    session: &tocsin_store::LiveSessionRow,
    values: &mut BTreeMap<String, String>,
) -> AppResult<()> {
    let Some(spec) = &p.session else {
        return Ok(());
    };
    let name = &spec.hashtag_variable;
    let fixed = session.hashtag.trim_start_matches('#');
    if let Some(given) = values.get(name) {
        let given = given.trim().trim_start_matches('#');
        if !given.is_empty() && !given.eq_ignore_ascii_case(fixed) {
            return Err(AppError::invalid(
                name.as_str(),
                format!(
                    "live session {} posts under #{fixed}: a draft in it cannot carry #{}",
                    session.id,
                    given.chars().take(100).collect::<String>()
                ),
            ));
        }
    }
    values.insert(name.clone(), fixed.to_string());
    fix_session_values(session, values)
}

/// A live session fixes the values it started with (the playbook's `[session] fixed`
/// variables): every post takes them, and a draft that gives another is refused at that
/// field.
fn fix_session_values(
    session: &tocsin_store::LiveSessionRow,
    values: &mut BTreeMap<String, String>,
) -> AppResult<()> {
    for (name, fixed) in &session.values {
        if let Some(given) = values.get(name) {
            if !given.trim().is_empty() && given.trim() != fixed.trim() {
                return Err(AppError::invalid(
                    name.as_str(),
                    format!(
                        "live session {} fixed `{name}` when it started: a post in it cannot change it",
                        session.id
                    ),
                ));
            }
        }
        values.insert(name.clone(), fixed.clone());
    }
    Ok(())
}

/// Creates a draft (drafter and up).
pub async fn create_draft(app: &Tocsin, who: &Authed, form: CreateDraft) -> AppResult<DraftView> {
    who.require(app, Permission::EditDrafts)?;
    let p = playbook(app, &form.playbook)?;
    let status = status_of(app, p).await?;
    if !status.is_usable() {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "playbook_not_approved",
            format!(
                "playbook `{}` is {}: it cannot be used until it is approved again (tocsin playbooks approve)",
                p.id,
                status.label()
            ),
        )
        .field("playbook"));
    }
    let mut exercise = form.exercise;
    let mut post_number = None;
    if let Some(target) = form.corrects {
        let original = app
            .0
            .store
            .messages()
            .summary(target)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no message {target}")).field("corrects"))?;
        if original.kind != tocsin_store::outbox::MessageKind::Post {
            return Err(AppError::invalid(
                "corrects",
                format!(
                    "message {target} is itself a {}: correct the original",
                    original.kind.as_str()
                ),
            ));
        }
        if form.session_id.is_some() {
            return Err(AppError::invalid(
                "session_id",
                "a correction is posted as a reply to the message it corrects, not into a live session",
            ));
        }
        // A correction reaches the accounts the original reached: an exercise's
        // correction is an exercise too.
        exercise = original.exercise;
    }
    let mut spec = form.targets.clone();
    let mut values = form.values;
    if let Some(session_id) = form.session_id {
        let session = crate::sessions::session_or_404(app, session_id).await?;
        if session.state != tocsin_store::live_sessions::LiveSessionState::Open {
            return Err(session_ended(session_id));
        }
        crate::sessions::runs_playbook(&session, p)?;
        if form.targets.is_some() {
            return Err(AppError::invalid(
                "targets",
                format!(
                    "live session {session_id} has its own target set, chosen when it started: every post of it goes there"
                ),
            ));
        }
        spec = session.targets.clone();
        exercise = exercise || session.exercise;
        fix_session_hashtag(p, &session, &mut values)?;
        let published = app.0.store.live_sessions().messages(session_id).await?;
        let posts = published
            .iter()
            .filter(|m| m.kind == tocsin_store::outbox::MessageKind::Post)
            .count();
        post_number = Some(u32::try_from(posts + 1).unwrap_or(u32::MAX));
    }
    let mut inputs = DraftInputs {
        values,
        post_number,
        targets: None,
        overrides: form.overrides,
        images: form.images,
    };
    let (variants, targets) =
        render_for_storage(app, p, &form.step, &inputs, spec.as_ref(), exercise).await?;
    inputs.targets = Some(targets);
    let content_hash = app.0.library.content_hash(&p.id).unwrap_or_default();
    let variables_json = serde_json::to_string(&inputs).map_err(|e| AppError::internal(&e))?;
    let mut tx = app.0.store.begin().await?;
    let id = tx
        .drafts()
        .create(
            &NewDraft {
                playbook_id: p.id.clone(),
                step_id: form.step.clone(),
                content_hash,
                variables_json,
                created_by: who.user().to_string(),
                exercise,
                variants,
            },
            form.session_id,
        )
        .await?;
    if let Some(target) = form.corrects {
        tx.drafts().set_corrects(id, target).await?;
    }
    if let Some(message) = form.follows_up {
        tx.drafts().set_follows_up(id, message).await?;
    }
    tx.commit().await?;
    announce_draft(app, id).await;
    let (assessed, _) = assess(app, id).await?;
    Ok(assessed.view())
}

/// A follow-up of a sent message: the step to draft.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// The step of the message's playbook (its update, its all-clear, or its own step to
    /// duplicate it).
    pub step: String,
}

/// Starts a draft from a sent message (drafter and up): a step of the same playbook,
/// with the same values and the same target set, for the drafter to edit. A post of a
/// live session follows up in the same session (so it threads), while it is open; an
/// update or all-clear of another message is posted, on each account, as a reply to
/// that message's post (or the nearest one of its chain still standing); a duplicate
/// (the same step) stands alone.
/// Audited as `draft.follow_up`.
pub async fn follow_up(
    app: &Tocsin,
    who: &Authed,
    message_id: i64,
    form: FollowUp,
) -> AppResult<DraftView> {
    who.require(app, Permission::EditDrafts)?;
    let m = app
        .0
        .store
        .messages()
        .summary(message_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no message {message_id}")))?;
    if m.kind != tocsin_store::outbox::MessageKind::Post {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "not_a_post",
            format!(
                "message {message_id} is a {}: follow up the message it acts on",
                m.kind.as_str()
            ),
        ));
    }
    let original = app
        .0
        .store
        .drafts()
        .get(m.draft_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no draft {}", m.draft_id)))?;
    let inputs = DraftInputs::parse(&original.variables_json);
    let session_id = match m.session_id {
        Some(id) => {
            let open =
                app.0.store.live_sessions().get(id).await?.is_some_and(|s| {
                    s.state == tocsin_store::live_sessions::LiveSessionState::Open
                });
            if !open {
                return Err(session_ended(id));
            }
            Some(id)
        }
        None => None,
    };
    // The set the message was approved with; for a session post, the session's own.
    let targets = match session_id {
        Some(_) => None,
        None => match app.0.store.messages().targets(message_id).await? {
            Some(t) => Some(t.spec),
            None => inputs.targets.map(|t| t.spec),
        },
    };
    let view = create_draft(
        app,
        who,
        CreateDraft {
            playbook: original.playbook_id.clone(),
            step: form.step.clone(),
            values: inputs.values,
            exercise: original.exercise,
            session_id,
            targets,
            corrects: None,
            // The drafter's own texts were written for that step and message.
            overrides: BTreeMap::new(),
            // The images stay: the drafter removes what no longer fits.
            images: inputs.images.clone(),
            // An update or an all-clear replies under the message where it stands (a
            // session post threads in its session already); a duplicate stands alone.
            follows_up: (session_id.is_none() && form.step != original.step_id)
                .then_some(message_id),
        },
    )
    .await?;
    app.0
        .store
        .append_audit(
            AuditEvent::new(who.user(), "draft.follow_up")
                .subject("draft", view.summary.id.to_string())
                .subject("message", message_id.to_string())
                .subject("playbook", original.playbook_id.as_str())
                .subject("step", form.step.as_str())
                .exercise(original.exercise)
                .outcome("ok"),
        )
        .await?;
    Ok(view)
}

/// New values for a draft.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditDraft {
    values: BTreeMap<String, String>,
    /// A new target set (kept as it was when left out).
    #[serde(default)]
    targets: Option<TargetSpec>,
    /// The drafter's own texts (kept as they were when left out; `{}` drops them all).
    #[serde(default)]
    overrides: Option<BTreeMap<String, String>>,
    /// Its images (kept as they were when left out; `[]` removes them all).
    #[serde(default)]
    images: Option<Vec<crate::images::DraftImage>>,
}

/// Edits a draft (its drafter, while open or submitted; a submitted draft goes back to
/// draft, so approvers see the new text).
pub async fn edit_draft(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    form: EditDraft,
) -> AppResult<DraftView> {
    who.require(app, Permission::EditDrafts)?;
    let (assessed, p) = assess(app, id).await?;
    let facts = facts_of(&assessed, p);
    if let Err(r) = decide(&facts, &actor_of(app, who), &Action::Edit) {
        return Err(refused(app, who, "draft.edit", &assessed.draft, r.into()).await);
    }
    let session_spec = session_targets(app, assessed.draft.session_id).await?;
    if form.targets.is_some() && assessed.draft.session_id.is_some() {
        return Err(AppError::invalid(
            "targets",
            "a live session's posts go to the session's target set, chosen when it started",
        ));
    }
    let spec = form
        .targets
        .or_else(|| assessed.inputs.targets.as_ref().map(|t| t.spec.clone()))
        .or(session_spec);
    let mut values = form.values;
    if let Some(session_id) = assessed.draft.session_id {
        let session = crate::sessions::session_or_404(app, session_id).await?;
        fix_session_hashtag(p, &session, &mut values)?;
    }
    let mut inputs = DraftInputs {
        values,
        post_number: assessed.inputs.post_number,
        targets: None,
        overrides: form
            .overrides
            .unwrap_or_else(|| assessed.inputs.overrides.clone()),
        images: form
            .images
            .unwrap_or_else(|| assessed.inputs.images.clone()),
    };
    let (variants, targets) = render_for_storage(
        app,
        p,
        &assessed.draft.step_id,
        &inputs,
        spec.as_ref(),
        assessed.draft.exercise,
    )
    .await?;
    inputs.targets = Some(targets);
    let variables_json = serde_json::to_string(&inputs).map_err(|e| AppError::internal(&e))?;
    let content_hash = app.0.library.content_hash(&p.id).unwrap_or_default();
    let mut tx = app.0.store.begin().await?;
    if assessed.state() == DraftState::Submitted {
        tx.drafts()
            .move_state(
                id,
                DraftState::Submitted,
                DraftState::Draft,
                None,
                AuditEvent::new(who.user(), "draft.unsubmit")
                    .subject("draft", id.to_string())
                    .subject("playbook", p.id.as_str())
                    .exercise(assessed.draft.exercise)
                    .outcome("edited after submission"),
            )
            .await?;
    }
    tx.drafts()
        .edit(id, who.user(), &content_hash, &variables_json, &variants)
        .await?;
    tx.commit().await?;
    announce_draft(app, id).await;
    let (assessed, _) = assess(app, id).await?;
    Ok(assessed.view())
}

/// Moves a draft along a decided transition: compare-and-set on its state, audited.
async fn apply(
    app: &Tocsin,
    who: &Authed,
    assessed: &Assessed,
    t: &Transition,
    note: Option<&str>,
    extra: &[(&'static str, String)],
) -> AppResult<()> {
    let d = &assessed.draft;
    let mut event = AuditEvent::new(who.user(), t.audit_action)
        .subject("draft", d.id.to_string())
        .subject("playbook", d.playbook_id.as_str())
        .exercise(d.exercise)
        .outcome("ok");
    for (k, v) in extra {
        event = event.subject(*k, v.as_str());
    }
    let mut tx = app.0.store.begin().await?;
    tx.drafts()
        .move_state(d.id, d.state, t.to, note, event)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn simple_step(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    action: Action,
    audit_action: &'static str,
    note: Option<&str>,
) -> AppResult<DraftView> {
    let (assessed, p) = assess(app, id).await?;
    let facts = facts_of(&assessed, p);
    let t = match decide(&facts, &actor_of(app, who), &action) {
        Ok(t) => t,
        Err(r) => return Err(refused(app, who, audit_action, &assessed.draft, r.into()).await),
    };
    if matches!(action, Action::Submit) && assessed.stale() {
        let e = stale_render();
        return Err(refused(app, who, audit_action, &assessed.draft, e).await);
    }
    if matches!(action, Action::Submit) {
        if let Some(why) = assessed.targeting.as_ref().and_then(|t| t.empty.clone()) {
            let e = AppError::new(ErrorKind::Conflict, "no_targets", why).field("targets");
            return Err(refused(app, who, audit_action, &assessed.draft, e).await);
        }
    }
    apply(app, who, &assessed, &t, note, &[]).await?;
    announce_draft(app, id).await;
    let (assessed, _) = assess(app, id).await?;
    Ok(assessed.view())
}

fn stale_render() -> AppError {
    AppError::new(
        ErrorKind::Conflict,
        "stale_render",
        "the playbook now renders different text or reaches different accounts for this draft (its templates, the connected accounts or their groups changed): open the draft, check who gets it, and save it again",
    )
}

/// Submits a draft for approval.
pub async fn submit_draft(app: &Tocsin, who: &Authed, id: i64) -> AppResult<DraftView> {
    who.require(app, Permission::EditDrafts)?;
    let view = simple_step(app, who, id, Action::Submit, "draft.submit", None).await?;
    crate::notify::draft_submitted(app, id, &who.session.user);
    Ok(view)
}

/// Sends a submitted draft back with a reason.
pub async fn request_changes_to(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    reason: &str,
) -> AppResult<DraftView> {
    who.require(app, Permission::Approve)?;
    simple_step(
        app,
        who,
        id,
        Action::RequestChanges {
            reason: reason.to_string(),
        },
        "draft.request_changes",
        Some(reason),
    )
    .await
}

/// Withdraws a draft.
pub async fn withdraw_draft(app: &Tocsin, who: &Authed, id: i64) -> AppResult<DraftView> {
    who.require(app, Permission::EditDrafts)?;
    simple_step(app, who, id, Action::Withdraw, "draft.withdraw", None).await
}

/// An override as sent by the approver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// Why it is right to publish anyway.
    pub reason: String,
    /// The consent record, for PHI.
    #[serde(default)]
    pub consent_ref: Option<String>,
}

/// An approval.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// The hash of the text reviewed.
    pub reviewed_hash: String,
    /// Override of blocking problems.
    #[serde(default, rename = "override")]
    pub override_: Option<OverrideInput>,
    /// Publish at this time (RFC 3339) instead of now.
    #[serde(default)]
    pub send_at: Option<String>,
    /// The approver confirms the accounts outside the playbook's audience.
    #[serde(default)]
    pub confirm_targets: bool,
    /// The approver acknowledges variants that read above the playbook's
    /// `reading_grade_max`.
    #[serde(default)]
    pub acknowledge_reading_grade: bool,
}

/// A break-glass publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassInput {
    /// The hash of the text reviewed.
    pub reviewed_hash: String,
    /// Why there was no time for a second person.
    pub reason: String,
    /// Override of blocking problems.
    #[serde(default, rename = "override")]
    pub override_: Option<OverrideInput>,
    /// The approver confirms the accounts outside the playbook's audience.
    #[serde(default)]
    pub confirm_targets: bool,
    /// The approver acknowledges variants that read above the playbook's
    /// `reading_grade_max`.
    #[serde(default)]
    pub acknowledge_reading_grade: bool,
}

/// The consent register's answer for `reference` and this message.
async fn check_consent(
    app: &Tocsin,
    reference: &str,
    playbook: &str,
    channels: &[String],
) -> AppResult<ConsentCheck> {
    let Some(record) = app.0.store.consents().get(reference.trim()).await? else {
        return Ok(ConsentCheck::Unknown);
    };
    if record.revoked_at.is_some() {
        return Ok(ConsentCheck::Revoked);
    }
    if record.expires_at.is_some_and(|at| at <= app.0.store.now()) {
        return Ok(ConsentCheck::Expired);
    }
    // Bound to its playbooks and channels: an empty scope covers nothing.
    let channels: Vec<&str> = channels.iter().map(String::as_str).collect();
    if !record.covers(playbook, &channels) {
        return Ok(ConsentCheck::OutOfScope);
    }
    Ok(ConsentCheck::Valid)
}

async fn override_of(
    app: &Tocsin,
    input: Option<&OverrideInput>,
    playbook: &str,
    channels: &[String],
) -> AppResult<Option<Override>> {
    let Some(input) = input else {
        return Ok(None);
    };
    let consent = match input
        .consent_ref
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        Some(reference) => Some(check_consent(app, reference, playbook, channels).await?),
        None => None,
    };
    Ok(Some(Override {
        reason: input.reason.clone(),
        consent_ref: input.consent_ref.clone(),
        consent,
    }))
}

/// What an approver decided: the hash reviewed, break-glass (with its reason), an
/// override, a time to send at, the confirmation of accounts outside the audience and the
/// acknowledgement of a reading grade above the playbook's maximum.
struct Decision {
    reviewed_hash: String,
    break_glass_reason: Option<String>,
    override_input: Option<OverrideInput>,
    send_at: Option<chrono::DateTime<chrono::Utc>>,
    confirm_targets: bool,
    acknowledge_reading_grade: bool,
}

/// Approves (or publishes through break-glass) and hands the message to fan-out.
async fn publish(app: &Tocsin, who: &Authed, id: i64, decision: Decision) -> AppResult<DraftView> {
    let Decision {
        reviewed_hash,
        break_glass_reason,
        override_input,
        send_at,
        confirm_targets,
        acknowledge_reading_grade,
    } = decision;
    let audit_action = if break_glass_reason.is_some() {
        "draft.break_glass"
    } else {
        "draft.approve"
    };
    // Debug-level timings of the approval's steps (`RUST_LOG`-style level
    // `tocsin_app::drafts=debug`), for the fan-out benchmark's breakdown.
    let started = std::time::Instant::now();
    let (assessed, p) = assess(app, id).await?;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "approval: assessed"
    );
    if override_input.is_some() {
        if let Err(e) = who.require_recent(app, Permission::OverrideWarnings) {
            return Err(refused(app, who, audit_action, &assessed.draft, e).await);
        }
    }
    let channels: Vec<String> = assessed
        .draft
        .variants
        .iter()
        .filter_map(|v| v.target.platform())
        .map(|p| p.as_str().to_string())
        .collect();
    let override_ = override_of(app, override_input.as_ref(), &p.id, &channels).await?;
    let action = match &break_glass_reason {
        Some(reason) => Action::BreakGlass {
            reviewed_hash,
            reason: reason.clone(),
            override_: override_.clone(),
        },
        None => Action::Approve {
            reviewed_hash,
            override_: override_.clone(),
        },
    };
    let facts = facts_of(&assessed, p);
    let t = match decide(&facts, &actor_of(app, who), &action) {
        Ok(t) => t,
        Err(r) => return Err(refused(app, who, audit_action, &assessed.draft, r.into()).await),
    };
    if assessed.stale() {
        return Err(refused(app, who, audit_action, &assessed.draft, stale_render()).await);
    }
    let d = &assessed.draft;
    if let Some(session) = d.session_id {
        // Ending a session withdraws its waiting drafts; one made in the moment it ended
        // is refused here.
        let open = app
            .0
            .store
            .live_sessions()
            .get(session)
            .await?
            .is_some_and(|s| s.state == tocsin_store::live_sessions::LiveSessionState::Open);
        if !open {
            return Err(refused(app, who, audit_action, d, session_ended(session)).await);
        }
    }
    // Not stale: the stored target set is what the playbook resolves now.
    let account_ids = assessed
        .inputs
        .targets
        .as_ref()
        .map(|t| t.accounts.clone())
        .unwrap_or_default();
    let Some(targeting) = assessed
        .targeting
        .as_ref()
        .filter(|_| !account_ids.is_empty())
    else {
        let e = AppError::new(
            ErrorKind::Conflict,
            "no_accounts",
            if d.exercise {
                "the target set reaches no connected sandbox account: an exercise goes only to sandbox accounts"
            } else {
                "the target set reaches no connected account: choose groups or accounts that have one, or add one on the admin page"
            },
        )
        .field("targets");
        return Err(refused(app, who, audit_action, d, e).await);
    };
    if targeting.needs_confirmation() && !confirm_targets {
        let r = &targeting.resolved;
        let e = AppError::new(
            ErrorKind::Conflict,
            "targets_unconfirmed",
            format!(
                "this message goes to {} account(s) outside the playbook's audience ({}){}: confirm the target set to approve it",
                r.outside_audience.len(),
                if targeting.audience.is_empty() { "every account".to_string() } else { targeting.audience.join(", ") },
                if r.groups_outside_audience.is_empty() {
                    String::new()
                } else {
                    format!(", through group(s) {}", r.groups_outside_audience.join(", "))
                }
            ),
        )
        .field("confirm_targets");
        return Err(refused(app, who, audit_action, d, e).await);
    }
    // Not stale: the grades are those of the stored text.
    let over_grade = assessed.over_reading_grade();
    if !over_grade.is_empty() && !acknowledge_reading_grade {
        let e = AppError::new(
            ErrorKind::Conflict,
            "reading_grade_unacknowledged",
            format!(
                "the text reads above this playbook's reading_grade_max ({}): acknowledge the reading grade to approve it (acknowledge_reading_grade)",
                over_grade.join(", ")
            ),
        )
        .field("acknowledge_reading_grade");
        return Err(refused(app, who, audit_action, d, e).await);
    }
    let message_targets = MessageTargets {
        spec: targeting.spec.clone(),
        per_platform: targeting.resolved.per_platform.clone(),
    };
    let stored = stored_variants(d);
    let headline = stored
        .iter()
        .find(|v| v.target == HEADLINE_TARGET)
        .map(|v| v.body.clone());
    let variants: Vec<RenderedVariant> = stored
        .into_iter()
        .filter(|v| v.target != HEADLINE_TARGET)
        .collect();
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    // The consent record an override cited goes with the message: a scheduled or
    // repeated send checks it again when it goes out.
    let mut consent_ref = None;
    if let Some(o) = &override_ {
        if t.overridden {
            extra.push(("override", "yes".into()));
            if let Some(r) = o
                .consent_ref
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
            {
                extra.push(("consent", r.to_string()));
                consent_ref = Some(r.to_string());
            }
        }
    }
    let mut event = AuditEvent::new(who.user(), t.audit_action)
        .subject("draft", d.id.to_string())
        .subject("playbook", d.playbook_id.as_str())
        .subject("hash", assessed.stored_hash.as_str())
        .subject("groups", message_targets.groups_text())
        .subject("targets", message_targets.counts_text())
        .exercise(d.exercise)
        .outcome("ok");
    if targeting.needs_confirmation() {
        event = event.subject(
            "outside_audience",
            targeting
                .resolved
                .outside_audience
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    if !over_grade.is_empty() {
        event = event.subject(
            "reading_grade",
            format!("acknowledged: {}", over_grade.join(", ")),
        );
    }
    for (k, v) in &extra {
        event = event.subject(*k, v.as_str());
    }
    if let Some(reason) = break_glass_reason.as_deref() {
        // The reason is free text: committed, not stored in clear in the chain.
        event = event.payload(reason.as_bytes());
    }
    if d.corrects_message_id.is_some() && send_at.is_some() {
        return Err(AppError::invalid(
            "send_at",
            "a correction goes out as soon as it is approved",
        ));
    }
    let cannot_delete = match d.corrects_message_id {
        Some(_) => crate::messages::accounts_that_cannot_delete(app).await?,
        None => Default::default(),
    };
    let mut tx = app.0.store.begin().await?;
    tx.drafts()
        .move_state(d.id, d.state, t.to, None, event)
        .await?;
    if let Some(target) = d.corrects_message_id {
        // Placed as a correction of the original: a reply wherever its post still stands.
        let reason = format!("correction approved from draft {}", d.id);
        let placed = tx
            .outbox()
            .retract_message(
                who.user(),
                target,
                &Retraction {
                    mode: RetractMode::Correct,
                    draft_id: Some(d.id),
                    title: headline,
                    variants: &variants,
                    cannot_delete: &cannot_delete,
                    break_glass: t.break_glass,
                    reason: &reason,
                },
            )
            .await?;
        tx.drafts()
            .link_message(d.id, placed.retraction_message_id)
            .await?;
        tx.images()
            .attach(
                placed.retraction_message_id,
                &crate::images::for_message(&assessed.inputs.images),
            )
            .await?;
        tx.commit().await?;
        app.0.dispatcher.wake();
        announce_draft(app, id).await;
        crate::messages::announce_message(app, target).await;
        crate::messages::announce_message(app, placed.retraction_message_id).await;
        return published_view(app, assessed, id).await;
    }
    let placed_accounts = account_ids.clone();
    let message_id = tx
        .outbox()
        .place_message(
            &NewMessage {
                draft_id: d.id,
                approved_by: who.user().to_string(),
                exercise: d.exercise,
                break_glass: t.break_glass,
                variants,
                account_ids,
                targets: Some(message_targets),
            },
            &Placement {
                session_id: d.session_id,
                follows_up: d.follows_up_message_id,
                title: headline,
                not_before: send_at,
                consent_ref,
                ..Placement::default()
            },
        )
        .await?;
    tx.drafts().link_message(d.id, message_id).await?;
    tx.images()
        .attach(
            message_id,
            &crate::images::for_message(&assessed.inputs.images),
        )
        .await?;
    // A message due now that waits for no earlier post is claimed by this node in the
    // approval itself and sent as soon as it commits (a session post waits for the
    // session's earlier posts, a scheduled one for its time: the claim loop takes those).
    let handoff = if d.session_id.is_none() && send_at.is_none() {
        app.0
            .dispatcher
            .claim_placed(&mut tx, message_id, &placed_accounts)
            .await?
    } else {
        tocsin_dispatch::Handoff::default()
    };
    tx.commit().await?;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "approval: committed"
    );
    app.0.dispatcher.start(handoff).await;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "approval: started"
    );
    announce_draft(app, id).await;
    crate::messages::announce_message(app, message_id).await;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "approval: announced"
    );
    let view = published_view(app, assessed, id).await;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "approval: answered"
    );
    view
}

/// The answer to an approval: the draft as it is now, with the assessment the decision
/// was made on (the same text and accounts: the playbook is composed and the accounts are
/// read once per approval, not again for the answer).
async fn published_view(app: &Tocsin, mut assessed: Assessed, id: i64) -> AppResult<DraftView> {
    assessed.draft = app
        .0
        .store
        .drafts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no draft {id}")))?;
    Ok(assessed.view())
}

/// Approves a submitted draft (an approver who is not its drafter).
pub async fn approve_draft(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    input: ApproveInput,
) -> AppResult<DraftView> {
    if let Err(e) = who.require_recent(app, Permission::Approve) {
        if let Ok(Some(d)) = app.0.store.drafts().get(id).await {
            return Err(refused(app, who, "draft.approve", &d, e).await);
        }
        return Err(e);
    }
    let send_at = match input.send_at.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => {
            let at = crate::schedules::parse_instant("send_at", text)?;
            if at < app.0.store.now() - chrono::Duration::minutes(1) {
                return Err(AppError::invalid("send_at", "that time has passed"));
            }
            Some(at)
        }
        None => None,
    };
    publish(
        app,
        who,
        id,
        Decision {
            reviewed_hash: input.reviewed_hash,
            break_glass_reason: None,
            override_input: input.override_,
            send_at,
            confirm_targets: input.confirm_targets,
            acknowledge_reading_grade: input.acknowledge_reading_grade,
        },
    )
    .await
}

/// Publishes alone in an emergency (approver, re-authenticated).
pub async fn break_glass_draft(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    input: BreakGlassInput,
) -> AppResult<DraftView> {
    who.require(app, Permission::Approve)?;
    publish(
        app,
        who,
        id,
        Decision {
            reviewed_hash: input.reviewed_hash,
            break_glass_reason: Some(input.reason),
            override_input: input.override_,
            send_at: None,
            confirm_targets: input.confirm_targets,
            acknowledge_reading_grade: input.acknowledge_reading_grade,
        },
    )
    .await
}

/// Filter for the list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// The drafts, newest first, optionally in one state (viewers and up).
pub async fn list(app: &Tocsin, who: &Authed, q: ListQuery) -> AppResult<Vec<DraftSummary>> {
    who.require(app, Permission::ViewDrafts)?;
    let state = match q.state.as_deref() {
        Some(s) => Some(DraftState::parse(s).ok_or_else(|| {
            AppError::invalid(
                "state",
                format!(
                    "`{s}` is not a draft state ({})",
                    DraftState::ALL.map(DraftState::as_str).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let rows = app
        .0
        .store
        .drafts()
        .list(state, q.limit.unwrap_or(200).clamp(1, 1000))
        .await?;
    Ok(rows.iter().map(DraftSummary::from).collect())
}

/// A draft with its text, as the panel shows it (viewers and up).
pub async fn get_one(app: &Tocsin, who: &Authed, id: i64) -> AppResult<DraftView> {
    who.require(app, Permission::ViewDrafts)?;
    let (assessed, _) = assess(app, id).await?;
    Ok(assessed.view())
}
