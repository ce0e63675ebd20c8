//! `POST /api/playbooks/{id}/card`: a step's alert card drawn with the values typed so
//! far, for the draft page's preview, as a PNG data URL with its alt text. With
//! `"attach": true` (drafters), both sizes are kept as a draft image instead: the
//! 1200x675 card, and the 1080x1080 one as its square version for Instagram.
//!
//! A POST, not an image URL: the values may be sensitive and must not land in request
//! logs or browser history. Drawing takes milliseconds of CPU, so it runs off the
//! async workers.

use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tocsin_app::people::Permission;
use tocsin_app::{AppError, Authed};
use tocsin_cards::{CardError, CardRenderer, CardSize};

use super::error::{ApiResult, Json, Path};
use super::WebState;

/// The request: the step, the values as typed, the size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// The step.
    pub step: String,
    /// Raw values as typed.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// `landscape` (default) or `instagram`.
    #[serde(default)]
    pub size: Option<String>,
    /// Keep the card as an image for a draft (both sizes) instead of previewing it.
    #[serde(default)]
    pub attach: bool,
}

/// The card.
#[derive(Debug, Serialize)]
pub struct CardPreview {
    /// The size drawn.
    pub size: CardSize,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The card's alt text.
    pub alt: String,
    /// `data:image/png;base64,...` (empty when the card was attached).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub png: String,
    /// The image to add to the draft's `images` when the card was attached: the
    /// 1200x675 card's hash, its alt text, and its 1080x1080 square version's hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<tocsin_app::images::DraftImage>,
}

/// The renderer for the loaded library, built on first use.
fn renderer(web: &WebState) -> Result<Arc<CardRenderer>, AppError> {
    if let Some(r) = web.cards.get() {
        return Ok(r.clone());
    }
    let built = CardRenderer::new(web.app.library(), web.config.card_style.clone())
        .map_err(|e| AppError::internal(&e))?;
    Ok(web.cards.get_or_init(|| Arc::new(built)).clone())
}

/// `POST /api/playbooks/{id}/card`.
pub async fn card(
    State(web): State<WebState>,
    who: Authed,
    Path(id): Path<String>,
    Json(request): Json<CardRequest>,
) -> ApiResult<Json<CardPreview>> {
    who.require(&web.app, Permission::ViewDrafts)?;
    let size = match request.size.as_deref() {
        None => CardSize::Landscape,
        Some(s) => s
            .parse::<CardSize>()
            .map_err(|e| AppError::invalid("size", e.to_string()))?,
    };
    tocsin_app::catalog::playbook(&web.app, &id)?;
    if request.attach {
        who.require(&web.app, Permission::EditDrafts)?;
    }
    let stamp = tocsin_app::images::card_stamp(&request.step, &request.values);
    let renderer = renderer(&web)?;
    let library = web.app.library().clone();
    let composer = web.app.composer().clone();
    let sizes = if request.attach {
        vec![CardSize::Landscape, CardSize::Instagram]
    } else {
        vec![size]
    };
    let drawn = tokio::task::spawn_blocking(move || {
        let playbook = library.get(&id)?;
        Some(
            sizes
                .into_iter()
                .map(|size| {
                    renderer.render_step(&composer, playbook, &request.step, &request.values, size)
                })
                .collect::<Result<Vec<_>, CardError>>(),
        )
    })
    .await
    .map_err(|e| AppError::internal(&e))?
    .ok_or_else(|| AppError::not_found("no such playbook").field("playbook"))?;
    let cards = drawn.map_err(|e| match &e {
        CardError::NoCard { .. } => AppError::invalid("step", e.to_string()),
        CardError::Compose(_) => AppError::invalid("values", e.to_string()),
        _ => AppError::invalid("card", e.to_string()),
    })?;
    if let [landscape, square] = cards.as_slice() {
        let image = tocsin_app::images::attach_card(
            &web.app,
            &who,
            &landscape.png,
            &square.png,
            &landscape.alt,
            stamp,
        )
        .await?;
        return Ok(Json(CardPreview {
            size: CardSize::Landscape,
            width: CardSize::Landscape.width(),
            height: CardSize::Landscape.height(),
            alt: landscape.alt.clone(),
            png: String::new(),
            image: Some(image),
        }));
    }
    let card = cards
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(&"no card was drawn"))?;
    Ok(Json(CardPreview {
        size,
        width: size.width(),
        height: size.height(),
        alt: card.alt,
        png: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&card.png)
        ),
        image: None,
    }))
}
