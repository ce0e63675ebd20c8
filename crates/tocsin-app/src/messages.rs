//! Messages and their deliveries: the live grid's data, retraction everywhere (delete or
//! correct), retrying a failed delivery, and the compliance review of break-glass
//! publishes.

use serde::Deserialize;
use std::collections::BTreeMap;
use tocsin_store::outbox::RetractMode as StoreRetractMode;
use tocsin_store::RenderedVariant;

use crate::drafts::HEADLINE_TARGET;
use crate::error::{AppError, AppResult};
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
    Ok(MessageDetail {
        message,
        deliveries: rows.iter().map(DeliveryView::from).collect(),
        targets: app.0.store.messages().targets(id).await?,
        follow_ups,
    })
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
    /// Delete where the platform can; correct where it cannot.
    Delete,
    /// Post a correction as a reply everywhere.
    Correct,
}

/// A retraction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractInput {
    /// How.
    pub mode: RetractMode,
    /// Why (kept in the audit log as a commitment).
    pub reason: String,
    /// The correction's text (needed for `correct`; used where a platform cannot delete).
    #[serde(default)]
    pub correction: Option<String>,
}

/// Retracts a message everywhere (approver).
pub async fn retract_message(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    input: RetractInput,
) -> AppResult<MessageDetail> {
    who.require(app, Permission::Retract)?;
    if input.reason.trim().len() < 5 {
        return Err(AppError::invalid(
            "reason",
            "say why the message is retracted (at least 5 characters)",
        ));
    }
    let correction = input
        .correction
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if input.mode == RetractMode::Correct && correction.is_none() {
        return Err(AppError::invalid(
            "correction",
            "a correction needs the text to post",
        ));
    }
    let mut variants = Vec::new();
    if let Some(text) = correction {
        if text.len() > 5000 {
            return Err(AppError::invalid(
                "correction",
                "a correction is at most 5,000 bytes",
            ));
        }
        let hits = app.0.composer.guard().check(text, &[]);
        if let Some(hit) = hits.first() {
            return Err(AppError::invalid(
                "correction",
                format!(
                    "the correction may contain PHI ({}): remove it",
                    hit.family.as_str()
                ),
            ));
        }
        for v in app.0.store.messages().variants(id).await? {
            if v.target != HEADLINE_TARGET {
                variants.push(RenderedVariant {
                    target: v.target,
                    body: text.to_string(),
                });
            }
        }
    }
    let mode = match input.mode {
        RetractMode::Delete => StoreRetractMode::Delete,
        RetractMode::Correct => StoreRetractMode::Correct,
    };
    let mut tx = app.0.store.begin().await?;
    let summary = tx
        .outbox()
        .retract_message(who.user(), id, mode, &variants, input.reason.trim())
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
    app.0.dispatcher.wake();
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
