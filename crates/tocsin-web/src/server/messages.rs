//! Messages and their deliveries: the live grid's data, retraction everywhere (delete or
//! correct), retrying a failed delivery, and the compliance review of break-glass
//! publishes.

use axum::extract::State;
use serde::Deserialize;
use std::collections::BTreeMap;
use tocsin_store::outbox::RetractMode as StoreRetractMode;
use tocsin_store::RenderedVariant;

use super::auth::Authed;
use super::drafts::HEADLINE_TARGET;
use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::events::ServerEvent;
use super::views::{DeliveryView, MessageDetail, MessageView};
use super::App;
use crate::people::Permission;

/// Publishes a message's summary to every panel.
pub async fn announce_message(app: &App, id: i64) {
    match app.0.store.message_summary(id).await {
        Ok(Some(m)) => app.0.hub.publish(&ServerEvent::Message {
            message: MessageView::from(&m),
        }),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, message = id, "could not announce a message"),
    }
}

/// A message with its deliveries.
pub async fn detail_of(app: &App, id: i64) -> ApiResult<MessageDetail> {
    let m = app
        .0
        .store
        .message_summary(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    let rows = app.0.store.delivery_rows(id).await?;
    let mut message = MessageView::from(&m);
    // The rows were read after the summary: count them, so the answer agrees with itself
    // while deliveries are moving.
    message.counts = BTreeMap::new();
    for d in &rows {
        *message
            .counts
            .entry(super::views::public_state(&d.state).to_string())
            .or_insert(0) += 1;
    }
    Ok(MessageDetail {
        message,
        deliveries: rows.iter().map(DeliveryView::from).collect(),
    })
}

/// Paging.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// `GET /api/messages`.
pub async fn list(
    State(app): State<App>,
    who: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<MessageView>>> {
    who.require(&app, Permission::ViewDeliveries)?;
    let rows = app
        .0
        .store
        .list_messages(q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(Json(rows.iter().map(MessageView::from).collect()))
}

/// `GET /api/messages/{id}`.
pub async fn get_one(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageDetail>> {
    who.require(&app, Permission::ViewDeliveries)?;
    Ok(Json(detail_of(&app, id).await?))
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
    app: &App,
    who: &Authed,
    id: i64,
    input: RetractInput,
) -> ApiResult<MessageDetail> {
    who.require(app, Permission::Retract)?;
    if input.reason.trim().len() < 5 {
        return Err(ApiError::invalid(
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
        return Err(ApiError::invalid(
            "correction",
            "a correction needs the text to post",
        ));
    }
    let mut variants = Vec::new();
    if let Some(text) = correction {
        if text.len() > 5000 {
            return Err(ApiError::invalid(
                "correction",
                "a correction is at most 5,000 bytes",
            ));
        }
        let hits = app.0.composer.guard().check(text, &[]);
        if let Some(hit) = hits.first() {
            return Err(ApiError::invalid(
                "correction",
                format!(
                    "the correction may contain PHI ({}): remove it",
                    hit.family.as_str()
                ),
            ));
        }
        for v in app.0.store.message_variants(id).await? {
            if v.platform != HEADLINE_TARGET {
                variants.push(RenderedVariant {
                    platform: v.platform,
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
        .retract_message(who.user(), id, mode, &variants, input.reason.trim())
        .await?;
    tx.commit().await?;
    app.0.dispatcher.wake();
    announce_message(app, id).await;
    announce_message(app, summary.retraction_message_id).await;
    detail_of(app, summary.retraction_message_id).await
}

/// `POST /api/messages/{id}/retract`.
pub async fn retract(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<i64>,
    Json(input): Json<RetractInput>,
) -> ApiResult<Json<MessageDetail>> {
    Ok(Json(retract_message(&app, &who, id, input).await?))
}

/// `POST /api/messages/{id}/deliveries/{account_id}/retry`.
pub async fn retry(
    State(app): State<App>,
    who: Authed,
    Path((id, account_id)): Path<(i64, i64)>,
) -> ApiResult<Json<MessageDetail>> {
    who.require(&app, Permission::Retract)?;
    let mut tx = app.0.store.begin().await?;
    tx.retry_delivery(who.user(), id, account_id).await?;
    tx.commit().await?;
    app.0.dispatcher.wake();
    Ok(Json(detail_of(&app, id).await?))
}

/// A compliance finding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    finding: String,
}

/// `POST /api/messages/{id}/review`.
pub async fn review(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<i64>,
    Json(input): Json<ReviewInput>,
) -> ApiResult<Json<MessageView>> {
    who.require(&app, Permission::ManageConsent)?;
    if input.finding.trim().is_empty() {
        return Err(ApiError::invalid("finding", "write what the review found"));
    }
    let mut tx = app.0.store.begin().await?;
    tx.review_message(who.user(), id, input.finding.trim())
        .await?;
    tx.commit().await?;
    announce_message(&app, id).await;
    let m = app
        .0
        .store
        .message_summary(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    Ok(Json(MessageView::from(&m)))
}

/// `GET /api/reviews`: break-glass messages awaiting compliance review.
pub async fn reviews(State(app): State<App>, who: Authed) -> ApiResult<Json<Vec<MessageView>>> {
    who.require(&app, Permission::ManageConsent)?;
    let rows = app.0.store.break_glass_queue().await?;
    Ok(Json(rows.iter().map(MessageView::from).collect()))
}
