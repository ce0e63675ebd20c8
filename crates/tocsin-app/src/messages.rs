//! Messages and their deliveries: the live grid's data, retraction everywhere (a deletion,
//! with the playbook's withdrawal notice where a platform cannot delete; a correction is a
//! draft, see [`crate::drafts`]), retrying a failed delivery, and the compliance review
//! of break-glass publishes.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use tocsin_domain::Platform;
use tocsin_store::outbox::{MessageKind, RetractMode as StoreRetractMode, Retraction};
use tocsin_store::{DeliveryRow, RenderedVariant};

use crate::catalog::{playbook, status_of, text_platform};
use crate::drafts::HEADLINE_TARGET;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::events::PanelEvent;
use crate::people::Permission;
use crate::views::{DeliveryView, FollowUpView, MessageDetail, MessageView};
use crate::Authed;
use crate::Tocsin;

/// Publishes a message's summary to every panel.
pub async fn announce_message(app: &Tocsin, id: i64) {
    match app.0.store.messages().summary(id).await {
        Ok(Some(m)) => app.0.hub.publish(&PanelEvent::Message {
            message: MessageView::from(&m),
        }),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, message = id, "could not announce a message"),
    }
}

/// A message with its deliveries.
pub async fn detail_of(app: &Tocsin, id: i64) -> AppResult<MessageDetail> {
    let m = app
        .0
        .store
        .messages()
        .summary(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no message {id}")))?;
    let rows = app.0.store.messages().delivery_rows(id).await?;
    let mut message = MessageView::from(&m);
    // The rows were read after the summary: count them, so the answer agrees with itself
    // while deliveries are moving.
    message.counts = BTreeMap::new();
    for d in &rows {
        *message
            .counts
            .entry(crate::views::public_state(d.state.as_str()).to_string())
            .or_insert(0) += 1;
    }
    let mut deliveries: Vec<DeliveryView> = rows.iter().map(DeliveryView::from).collect();
    if m.kind == MessageKind::Delete {
        // A deletion's row deletes the post, or sends the withdrawal notice where the
        // platform cannot delete: the grid says which.
        for d in &mut deliveries {
            d.action = Some(if d.can_delete { "delete" } else { "notice" });
        }
    }
    let mut follow_ups = Vec::new();
    let playbook = m.playbook_id.as_deref().and_then(|p| app.0.library.get(p));
    if let (Some(p), tocsin_store::outbox::MessageKind::Post) = (playbook, m.kind) {
        let mut add = |kind: &'static str, step: Option<&tocsin_domain::playbook::Step>| {
            if let Some(s) = step {
                follow_ups.push(FollowUpView {
                    kind,
                    step: s.id.clone(),
                    title: s.title.clone(),
                });
            }
        };
        add("update", p.update_step());
        add("all_clear", p.all_clear_step());
        add("duplicate", m.step_id.as_deref().and_then(|s| p.step(s)));
    }
    let texts = sent_texts(app, id, &rows).await?;
    Ok(MessageDetail {
        message,
        deliveries,
        targets: app.0.store.messages().targets(id).await?,
        follow_ups,
        texts,
    })
}

/// What each platform of message `id` got: its approved text, measured with the counting
/// rules and limits in force, and how many of `rows` (its deliveries) got it.
async fn sent_texts(
    app: &Tocsin,
    id: i64,
    rows: &[tocsin_store::messages::DeliveryRow],
) -> AppResult<Vec<crate::views::SentTextView>> {
    let composer = &app.0.composer;
    let mut texts = Vec::new();
    for v in app.0.store.messages().variants(id).await? {
        let Some(platform) = v.target.platform() else {
            continue;
        };
        let measured = v.body.as_deref().map(|text| {
            tocsin_domain::counting::measure(
                platform,
                &composer.rules().rule(platform),
                text,
                composer.limits(),
            )
        });
        texts.push(crate::views::SentTextView {
            platform: platform.as_str().to_string(),
            platform_name: platform.display_name(),
            accounts: rows
                .iter()
                .filter(|d| crate::catalog::text_platform(d.platform, d.stands_for) == platform)
                .count(),
            count: measured.as_ref().map(|m| m.used),
            limit: measured.as_ref().and_then(|m| m.limit),
            unit: measured.as_ref().map(|m| m.unit),
            text: v.body,
        });
    }
    Ok(texts)
}

/// Paging.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// The newest messages (viewers of deliveries and up).
pub async fn list(app: &Tocsin, who: &Authed, q: ListQuery) -> AppResult<Vec<MessageView>> {
    who.require(app, Permission::ViewDeliveries)?;
    let rows = app
        .0
        .store
        .messages()
        .list(q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(rows.iter().map(MessageView::from).collect())
}

/// A message with its delivery grid.
pub async fn get_one(app: &Tocsin, who: &Authed, id: i64) -> AppResult<MessageDetail> {
    who.require(app, Permission::ViewDeliveries)?;
    detail_of(app, id).await
}

/// How to retract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetractMode {
    /// Delete where the platform can; send the playbook's withdrawal notice where it
    /// cannot.
    Delete,
    /// Refused: a correction is a draft approved like any other.
    Correct,
}

/// A retraction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractInput {
    /// How: `delete` (a `correct` is refused: a correction is a draft, see
    /// [`crate::drafts::create_draft`]).
    pub mode: RetractMode,
    /// Why (kept in the audit log as a commitment).
    pub reason: String,
    /// Free correction text: refused, for the same reason.
    #[serde(default)]
    pub correction: Option<String>,
}

/// Whether a post can be deleted on the platform whose text the account gets (a sandbox
/// account behaves as the platform it stands in for).
pub fn can_delete(platform: Platform, stands_for: Option<Platform>) -> bool {
    tocsin_connectors::descriptor(text_platform(platform, stands_for))
        .is_none_or(|d| d.capabilities.delete)
}

/// The connected accounts whose platform cannot delete a post.
pub(crate) async fn accounts_that_cannot_delete(app: &Tocsin) -> AppResult<BTreeSet<i64>> {
    Ok(app
        .0
        .store
        .accounts()
        .list()
        .await?
        .iter()
        .filter(|a| !can_delete(a.platform, a.stands_for))
        .map(|a| a.id)
        .collect())
}

/// The withdrawal notice for a deletion of message `id`: the playbook's `[retraction]`
/// text over the original's values, for each platform among `rows` that cannot delete
/// (its headline apart). Empty when every platform can delete.
async fn withdrawal_notice(
    app: &Tocsin,
    id: i64,
    rows: &[DeliveryRow],
) -> AppResult<(Option<String>, Vec<RenderedVariant>)> {
    let platforms: Vec<Platform> = rows
        .iter()
        .filter(|d| !can_delete(d.platform, d.stands_for))
        .map(|d| text_platform(d.platform, d.stands_for))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if platforms.is_empty() {
        return Ok((None, Vec::new()));
    }
    let names = platforms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let summary = app
        .0
        .store
        .messages()
        .summary(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no message {id}")))?;
    let draft = app
        .0
        .store
        .drafts()
        .get(summary.draft_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no draft {}", summary.draft_id)))?;
    let p = playbook(app, &draft.playbook_id)?;
    let refuse =
        |why: String| AppError::new(ErrorKind::Conflict, "no_withdrawal_notice", why).field("mode");
    if p.retraction.is_none() {
        return Err(refuse(format!(
            "posts on {names} cannot be deleted and playbook `{}` has no [retraction] notice to send them instead: add one (and approve the playbook), or post a correction",
            p.id
        )));
    }
    let status = status_of(app, p).await?;
    if !status.is_usable() {
        return Err(refuse(format!(
            "posts on {names} cannot be deleted, and the withdrawal notice of playbook `{}` is not approved (the playbook is {}): approve it again (tocsin playbooks approve), or post a correction",
            p.id,
            status.label()
        )));
    }
    let values = crate::drafts::DraftInputs::parse(&draft.variables_json).values;
    let composed = app
        .0
        .composer
        .compose_retraction(p, &values, &platforms)
        .map_err(|e| {
            refuse(format!(
                "the withdrawal notice of playbook `{}` cannot be rendered over the message's values: {e}",
                p.id
            ))
        })?
        .ok_or_else(|| refuse(format!("playbook `{}` has no [retraction] notice", p.id)))?;
    let over: Vec<String> = composed
        .variants
        .iter()
        .filter_map(|v| v.measurement.as_ref().map(|m| (v.target, m.problems())))
        .filter(|(_, problems)| !problems.is_empty())
        .map(|(target, problems)| format!("{target}: {}", problems.join("; ")))
        .collect();
    if !over.is_empty() {
        return Err(refuse(format!(
            "the withdrawal notice of playbook `{}` does not fit: {}",
            p.id,
            over.join(", ")
        )));
    }
    let variants = crate::views::rendered_variants(&composed)
        .into_iter()
        .filter(|v| v.target != HEADLINE_TARGET)
        .collect();
    Ok((Some(composed.headline), variants))
}

/// Retracts a message everywhere (approver).
pub async fn retract_message(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    input: RetractInput,
) -> AppResult<MessageDetail> {
    who.require_recent(app, Permission::Retract)?;
    if input.reason.trim().len() < 5 {
        return Err(AppError::invalid(
            "reason",
            "say why the message is retracted (at least 5 characters)",
        ));
    }
    if input.mode == RetractMode::Correct || input.correction.is_some() {
        // No side door round two people: a correction is a draft like any other.
        return Err(AppError::new(
            ErrorKind::Conflict,
            "correction_is_a_draft",
            format!(
                "a correction is a draft like any other: create it with POST /api/drafts {{\"playbook\": \"correction\", \"step\": \"correction\", \"corrects\": {id}, \"values\": {{...}}}}, submit it, and a second person approves it"
            ),
        )
        .field("mode"));
    }
    let rows = app.0.store.messages().delivery_rows(id).await?;
    let (title, variants) = withdrawal_notice(app, id, &rows).await?;
    let mode = StoreRetractMode::Delete;
    let cannot_delete = accounts_that_cannot_delete(app).await?;
    let reason = input.reason.trim();
    let mut tx = app.0.store.begin().await?;
    let summary = tx
        .outbox()
        .retract_message(
            who.user(),
            id,
            &Retraction {
                mode,
                draft_id: None,
                title,
                variants: &variants,
                cannot_delete: &cannot_delete,
                break_glass: false,
                reason,
            },
        )
        .await?;
    tx.commit().await?;
    app.0.dispatcher.wake();
    announce_message(app, id).await;
    announce_message(app, summary.retraction_message_id).await;
    detail_of(app, summary.retraction_message_id).await
}

/// Sends a failed delivery again (approver).
pub async fn retry(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    account_id: i64,
) -> AppResult<MessageDetail> {
    who.require(app, Permission::Retract)?;
    let mut tx = app.0.store.begin().await?;
    tx.messages()
        .retry_delivery(who.user(), id, account_id)
        .await?;
    tx.commit().await?;
    app.0.dispatcher.queued(id, account_id);
    detail_of(app, id).await
}

/// A compliance finding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    finding: String,
}

/// Records a compliance officer's finding on a break-glass message.
pub async fn review(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    input: ReviewInput,
) -> AppResult<MessageView> {
    who.require(app, Permission::ManageConsent)?;
    if input.finding.trim().is_empty() {
        return Err(AppError::invalid("finding", "write what the review found"));
    }
    let mut tx = app.0.store.begin().await?;
    tx.messages()
        .review(who.user(), id, input.finding.trim())
        .await?;
    tx.commit().await?;
    announce_message(app, id).await;
    let m = app
        .0
        .store
        .messages()
        .summary(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no message {id}")))?;
    Ok(MessageView::from(&m))
}

/// Break-glass messages awaiting compliance review.
pub async fn reviews(app: &Tocsin, who: &Authed) -> AppResult<Vec<MessageView>> {
    who.require(app, Permission::ManageConsent)?;
    let rows = app.0.store.messages().break_glass_queue().await?;
    Ok(rows.iter().map(MessageView::from).collect())
}
