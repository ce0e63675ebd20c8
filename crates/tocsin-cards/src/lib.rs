//! Alert cards: a playbook step's SVG template, filled in with the same values as its
//! texts, drawn to PNG for Instagram (1080×1080) and every other platform (1200×675).
//!
//! The step declares the card (`card = { template, facts, alt }`, [`tocsin_domain::playbook::CardSpec`]);
//! [`tocsin_domain::compose::Composer::compose_card`] renders its headline, facts and alt
//! text and checks them for PHI; [`CardRenderer`] fills the SVG template ([`svg`]), fits
//! each text to its box ([`fit`]), and draws it with resvg in the fonts compiled into the
//! binary ([`fonts`]), so the same values give the same bytes on every machine. The
//! organisation's name and colours come from `[cards]` ([`style`]), checked for contrast.

#[doc(hidden)]
pub mod bench_support;
pub mod fit;
pub mod fonts;
pub mod size;
pub mod style;
pub mod svg;

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

use tocsin_domain::compose::{fill_values_for_step, ComposeError, ComposedCard, Composer};
use tocsin_domain::diagnostics::Diagnostic;
use tocsin_domain::library::Library;
use tocsin_domain::playbook::Playbook;

pub use fit::Overflow;
pub use fonts::FontError;
pub use size::CardSize;
pub use style::{CardStyle, CardsConfig, Colour, StyleError};
pub use svg::TemplateError;

/// Why a card was not drawn.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CardError {
    /// The step declares no card.
    #[error("step `{step}` of playbook `{playbook}` has no card")]
    NoCard {
        /// The playbook.
        playbook: String,
        /// The step.
        step: String,
    },
    /// The values, or the card's own texts, could not be rendered.
    #[error("{0}")]
    Compose(#[from] ComposeError),
    /// The card's texts may carry PHI.
    #[error("the card is not drawn: {}", .0.join("; "))]
    Phi(Vec<String>),
    /// The SVG template failed (missing value, overflow, bad SVG).
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// The template did not compile when the library loaded.
    #[error("card template {0} did not load (see `tocsin playbooks lint`)")]
    NotCompiled(String),
}

impl CardError {
    /// The overflow, when a field did not fit its box.
    pub fn overflow(&self) -> Option<&Overflow> {
        match self {
            CardError::Template(TemplateError::Overflow { overflow, .. }) => Some(overflow),
            _ => None,
        }
    }
}

/// A drawn card.
#[derive(Debug, Clone)]
pub struct RenderedCard {
    /// The PNG.
    pub png: Vec<u8>,
    /// Its alt text.
    pub alt: String,
    /// Its size.
    pub size: CardSize,
}

/// Draws the cards of a library's playbooks. Build once per library (it compiles every
/// card template and loads the fonts); cheap to share.
#[derive(Debug)]
pub struct CardRenderer {
    drawer: svg::Drawer,
    style: CardStyle,
    problems: Vec<Diagnostic>,
}

impl CardRenderer {
    /// Compiles every card template in `library`. Templates that fail are listed in
    /// [`CardRenderer::problems`]; their cards cannot be drawn.
    pub fn new(library: &Library, style: CardStyle) -> Result<CardRenderer, FontError> {
        let faces = Arc::new(fonts::Faces::load()?);
        let mut drawer = svg::Drawer::new(faces);
        let mut problems = Vec::new();
        for playbook in library.playbooks() {
            let bytes = library.template_bytes(&playbook.id).unwrap_or_default();
            for card in playbook.steps.iter().filter_map(|s| s.card.as_ref()) {
                if drawer.contains(&card.template) {
                    continue;
                }
                let Some((_, body)) = bytes.iter().find(|(name, _)| *name == card.template) else {
                    continue;
                };
                let file = library.templates_dir().join(&card.template);
                let result = std::str::from_utf8(body)
                    .map_err(|_| "the template is not UTF-8 text".to_string())
                    .and_then(|text| drawer.add(&card.template, text).map_err(|e| e.to_string()));
                if let Err(message) = result {
                    problems.push(Diagnostic::error_line(&file, None, None, message));
                }
            }
        }
        Ok(CardRenderer {
            drawer,
            style,
            problems,
        })
    }

    /// Card templates that did not compile.
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    /// The style in force.
    pub fn style(&self) -> &CardStyle {
        &self.style
    }

    /// Fills in `step_id`'s card from raw values (as a drafter typed them) and draws it.
    pub fn render_step(
        &self,
        composer: &Composer,
        playbook: &Playbook,
        step_id: &str,
        raw: &BTreeMap<String, String>,
        size: CardSize,
    ) -> Result<RenderedCard, CardError> {
        let no_card = || CardError::NoCard {
            playbook: playbook.id.clone(),
            step: step_id.to_string(),
        };
        let step = playbook.step(step_id).ok_or_else(no_card)?;
        let filled = fill_values_for_step(playbook, step, raw)?;
        let card = composer
            .compose_card(playbook, step, &filled)?
            .ok_or_else(no_card)?;
        self.render(&card, size)
    }

    /// Draws a composed card. Nothing is drawn when its texts may carry PHI.
    pub fn render(&self, card: &ComposedCard, size: CardSize) -> Result<RenderedCard, CardError> {
        if !card.problems.is_empty() {
            return Err(CardError::Phi(card.problems.clone()));
        }
        if !self.drawer.contains(&card.template) {
            return Err(CardError::NotCompiled(card.template.clone()));
        }
        let mut data = card.data.clone();
        if let Some(Value::Object(c)) = data.get_mut("card") {
            c.insert(
                "organisation".into(),
                Value::String(self.style.organisation.clone()),
            );
            c.insert("style".into(), self.style.to_json());
            c.insert("width".into(), Value::from(size.width()));
            c.insert("height".into(), Value::from(size.height()));
            c.insert("square".into(), Value::Bool(size == CardSize::Instagram));
        }
        let ctx = tocsin_domain::render::context(data);
        let svg = self.drawer.svg(&card.template, &ctx)?;
        let png = self
            .drawer
            .png(&card.template, &svg, size.width(), size.height())?;
        Ok(RenderedCard {
            png,
            alt: card.alt.clone(),
            size,
        })
    }
}

/// Every card of every playbook drawn at both sizes with the playbook's example values:
/// what `tocsin playbooks lint` reports about cards (templates that did not compile
/// first).
pub fn lint_cards(
    library: &Library,
    composer: &Composer,
    renderer: &CardRenderer,
) -> Vec<Diagnostic> {
    let mut out = renderer.problems().to_vec();
    for playbook in library.playbooks() {
        let source = library.source(&playbook.id).unwrap_or("");
        let examples = playbook.example_values();
        for step in playbook.steps.iter().filter(|s| s.card.is_some()) {
            for size in CardSize::ALL {
                if let Err(e) = renderer.render_step(composer, playbook, &step.id, &examples, size)
                {
                    if matches!(e, CardError::NotCompiled(_)) {
                        continue;
                    }
                    // Point at the step's card line.
                    let at = source
                        .find(&format!("id = \"{}\"", step.id))
                        .and_then(|from| source.get(from..)?.find("card").map(|i| from + i));
                    out.push(Diagnostic::error_at(
                        &playbook.path,
                        source,
                        at,
                        format!("card of step `{}` ({size}, example values): {e}", step.id),
                    ));
                }
            }
        }
    }
    out
}
