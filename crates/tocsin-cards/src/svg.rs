//! Card templates: Handlebars over the card's values with every value XML-escaped, drawn
//! to PNG by resvg with only the shipped fonts and no outside file or image.
//!
//! Templates are strict (a misspelled value is an error naming it, never an empty
//! string) and may not use `{{{ }}}`, which would put a value in unescaped: a drafter's
//! text must never become SVG markup.

use handlebars::{Context, Handlebars, RenderError, RenderErrorReason};
use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, ImageHrefResolver};
use std::sync::Arc;

use crate::fit::{FitHelper, Overflow};
use crate::fonts::{database, Faces, FAMILY};

/// Escapes text for SVG (XML) content and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all (controls other than tab and
            // newlines) are dropped rather than break the document.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Why a card template could not be compiled or rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The template's source is refused (syntax, `{{{ }}}`, partials, nesting).
    #[error("card template {template}: {message}")]
    Source {
        /// The template file.
        template: String,
        /// Why.
        message: String,
    },
    /// A value the template uses does not exist.
    #[error("card template {template}: `{value}` is not a value this card has (a playbook variable, or card.headline, card.facts, card.alt, card.organisation, card.width, card.height, card.square, card.style.primary/on_primary/accent/background/text)")]
    MissingValue {
        /// The template file.
        template: String,
        /// The value's path as written.
        value: String,
    },
    /// A field overflowed its box.
    #[error("card template {template}: {overflow}")]
    Overflow {
        /// The template file.
        template: String,
        /// Which field and why.
        overflow: Overflow,
    },
    /// Anything else the renderer refused.
    #[error("card template {template}: {message}")]
    Render {
        /// The template file.
        template: String,
        /// Why.
        message: String,
    },
}

/// The compiled card templates and the drawing setup, built once.
pub(crate) struct Drawer {
    hb: Handlebars<'static>,
    options: usvg::Options<'static>,
}

impl std::fmt::Debug for Drawer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drawer")
            .field("templates", &self.hb.get_templates().len())
            .finish_non_exhaustive()
    }
}

impl Drawer {
    pub fn new(faces: Arc<Faces>) -> Drawer {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.set_prevent_indent(true);
        hb.register_escape_fn(xml_escape);
        hb.register_helper("fit", Box::new(FitHelper { faces }));
        let mut options = usvg::Options {
            font_family: FAMILY.to_string(),
            resources_dir: None,
            // No `<image>` is loaded, from a file or a data URL: a card is what its
            // template draws.
            image_href_resolver: ImageHrefResolver {
                resolve_data: Box::new(|_, _, _| None),
                resolve_string: Box::new(|_, _| None),
            },
            ..usvg::Options::default()
        };
        options.fontdb = Arc::new(database());
        Drawer { hb, options }
    }

    /// Compiles a template under its file name.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        let refuse = |message: String| TemplateError::Source {
            template: name.to_string(),
            message,
        };
        if let Some(at) = source.find("{{{") {
            let (line, column) = tocsin_domain::diagnostics::line_column(source, at);
            return Err(refuse(format!(
                "line {line}, column {column}: `{{{{{{ }}}}}}` puts a value in unescaped; write `{{{{ }}}}`"
            )));
        }
        tocsin_domain::render::check_shape(name, source).map_err(|p| refuse(p.to_string()))?;
        self.hb
            .register_template_string(name, source)
            .map_err(|e| refuse(e.to_string()))
    }

    /// Whether a template of that name is compiled.
    pub fn contains(&self, name: &str) -> bool {
        self.hb.has_template(name)
    }

    /// Renders the template to SVG text.
    pub fn svg(&self, name: &str, ctx: &Context) -> Result<String, TemplateError> {
        self.hb
            .render_with_context(name, ctx)
            .map_err(|e| template_error(name, e))
    }

    /// Draws SVG text at `width`×`height` and encodes it as PNG.
    pub fn png(
        &self,
        name: &str,
        svg: &str,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, TemplateError> {
        let refuse = |message: String| TemplateError::Render {
            template: name.to_string(),
            message,
        };
        let tree = usvg::Tree::from_str(svg, &self.options)
            .map_err(|e| refuse(format!("the rendered SVG is not valid: {e}")))?;
        let mut pixmap = Pixmap::new(width, height)
            .ok_or_else(|| refuse(format!("cannot make a {width}×{height} canvas")))?;
        let size = tree.size();
        let transform =
            Transform::from_scale(width as f32 / size.width(), height as f32 / size.height());
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        pixmap
            .encode_png()
            .map_err(|e| refuse(format!("cannot encode the PNG: {e}")))
    }
}

fn template_error(name: &str, e: RenderError) -> TemplateError {
    let template = e.template_name.clone().unwrap_or_else(|| name.to_string());
    let at = e
        .line_no
        .map_or_else(String::new, |l| format!(" (line {l})"));
    match RenderErrorReason::from(e) {
        RenderErrorReason::MissingVariable(path) => TemplateError::MissingValue {
            template,
            value: path.unwrap_or_else(|| "(unnamed)".into()),
        },
        RenderErrorReason::NestedError(inner) => match inner.downcast::<Overflow>() {
            Ok(overflow) => TemplateError::Overflow {
                template,
                overflow: *overflow,
            },
            Err(other) => TemplateError::Render {
                template,
                message: format!("{other}{at}"),
            },
        },
        RenderErrorReason::HelperNotFound(h) => TemplateError::Render {
            template,
            message: format!("`{h}` is neither a value nor a helper (helpers: fit, if, unless, each, with, eq, ne, and, or, not){at}"),
        },
        other => TemplateError::Render {
            template,
            message: format!("{other}{at}"),
        },
    }
}
