//! Fitting text into a box: word-wrapped, then shrunk step by step down to a minimum
//! size, then refused with an error naming the field.
//!
//! Words are shaped once with the font's own shaper and wrapped by arithmetic at each
//! candidate size (text width scales with size), so fitting costs one shaping pass per
//! word. The template calls it as the `fit` helper:
//! `{{fit card.headline x=72 y=200 width=936 height=300 size=88 min=56 weight="bold"}}`,
//! or over a list (`card.facts`), each item a bulleted paragraph.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::fonts::{Face, Faces, Weight, FAMILY};
use crate::svg::xml_escape;

/// The smallest type a card may use, in px on a card 1080 or 1200 px wide: large print.
pub const LARGE_PRINT_MIN: f32 = 36.0;

/// How much each step shrinks the type, in px.
const STEP: f32 = 2.0;

/// Why a field did not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Overflow {
    /// Too many lines for the box's height even at the smallest size.
    #[error("`{field}` does not fit its {width}×{height} px box even at the minimum size of {min} px (it needs {needed:.0} px of height): shorten it")]
    TooTall {
        /// The template's path to the value (`card.headline`, `card.facts`).
        field: String,
        /// The box.
        width: f32,
        /// The box.
        height: f32,
        /// The smallest size tried.
        min: f32,
        /// The height it needs at that size.
        needed: f32,
    },
    /// A single word wider than the box even at the smallest size.
    #[error("`{field}`: the word `{word}` is wider than its {width} px box even at the minimum size of {min} px: shorten it")]
    WordTooWide {
        /// The template's path to the value.
        field: String,
        /// The word.
        word: String,
        /// The box.
        width: f32,
        /// The smallest size tried.
        min: f32,
    },
}

/// A box and the sizes to try.
#[derive(Debug, Clone, Copy)]
pub struct FitBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// The size to start at.
    pub size: f32,
    /// The size to stop at.
    pub min: f32,
    /// Line height, as a multiple of the size.
    pub line: f32,
}

/// One paragraph, shaped: each word's width at 1 px.
struct Shaped<'a> {
    words: Vec<(&'a str, f32)>,
    space: f32,
}

fn shape<'a>(face: &Face, text: &'a str) -> Shaped<'a> {
    Shaped {
        words: text
            .split_whitespace()
            .map(|w| (w, face.width_per_px(w)))
            .collect(),
        space: face.width_per_px(" "),
    }
}

/// Greedy wrap at `size` into `width`; `Err(word)` when one word alone is too wide.
fn wrap<'a>(p: &Shaped<'a>, size: f32, width: f32) -> Result<Vec<String>, &'a str> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0f32;
    for &(word, w) in &p.words {
        let w = w * size;
        if w > width {
            return Err(word);
        }
        if line.is_empty() {
            line.push_str(word);
            used = w;
        } else if used + p.space * size + w <= width {
            line.push(' ');
            line.push_str(word);
            used += p.space * size + w;
        } else {
            lines.push(std::mem::take(&mut line));
            line.push_str(word);
            used = w;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

/// Laid-out text: the size chosen and each paragraph's lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The type size, in px.
    pub size: f32,
    /// Lines per paragraph.
    pub paragraphs: Vec<Vec<String>>,
}

/// Fits paragraphs (one for a headline; one per fact, each indented by `indent` ems and
/// separated by `gap` ems) into the box, largest size first.
pub(crate) fn fit(
    face: &Face,
    field: &str,
    paragraphs: &[&str],
    b: FitBox,
    indent: f32,
    gap: f32,
) -> Result<Fitted, Overflow> {
    let shaped: Vec<Shaped<'_>> = paragraphs.iter().map(|p| shape(face, p)).collect();
    let mut size = b.size;
    let mut last_needed = 0.0;
    loop {
        let width = b.width - indent * size;
        let mut laid = Vec::with_capacity(shaped.len());
        let mut too_wide = None;
        for p in &shaped {
            match wrap(p, size, width) {
                Ok(lines) => laid.push(lines),
                Err(word) => {
                    too_wide = Some(word);
                    break;
                }
            }
        }
        if too_wide.is_none() {
            let needed = height_of(face, &laid, size, b.line, gap);
            if needed <= b.height {
                return Ok(Fitted {
                    size,
                    paragraphs: laid,
                });
            }
            last_needed = needed;
        }
        if size <= b.min {
            return Err(match too_wide {
                Some(word) => Overflow::WordTooWide {
                    field: field.to_string(),
                    word: word.to_string(),
                    width: b.width,
                    min: b.min,
                },
                None => Overflow::TooTall {
                    field: field.to_string(),
                    width: b.width,
                    height: b.height,
                    min: b.min,
                    needed: last_needed,
                },
            });
        }
        size = (size - STEP).max(b.min);
    }
}

/// Height from the first line's top to the last line's bottom.
fn height_of(face: &Face, paragraphs: &[Vec<String>], size: f32, line: f32, gap: f32) -> f32 {
    let lines: usize = paragraphs.iter().map(Vec::len).sum();
    if lines == 0 {
        return 0.0;
    }
    let gaps = paragraphs
        .iter()
        .filter(|p| !p.is_empty())
        .count()
        .saturating_sub(1);
    (face.ascent + face.descent) * size
        + (lines - 1) as f32 * line * size
        + gaps as f32 * gap * size
}

/// The `fit` Handlebars helper: lays a value out in its box and writes the SVG `<text>`.
#[derive(Clone)]
pub(crate) struct FitHelper {
    pub faces: Arc<Faces>,
}

fn helper_error(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

fn number(h: &Helper<'_>, key: &str, default: Option<f32>) -> Result<f32, RenderError> {
    match h.hash_get(key) {
        Some(v) => v
            .value()
            .as_f64()
            .map(|n| n as f32)
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| helper_error(format!("fit: `{key}=` must be a number of pixels"))),
        None => default.ok_or_else(|| {
            helper_error(format!(
                "fit: `{key}=` is required (x, y, width, height, size and min)"
            ))
        }),
    }
}

fn text_hash(h: &Helper<'_>, key: &str) -> Result<Option<String>, RenderError> {
    match h.hash_get(key) {
        None => Ok(None),
        Some(v) if v.is_value_missing() => {
            Err(RenderErrorReason::MissingVariable(v.relative_path().cloned()).into())
        }
        Some(v) => v
            .value()
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| helper_error(format!("fit: `{key}=` must be text"))),
    }
}

impl HelperDef for FitHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h.param(0).ok_or_else(|| {
            helper_error("fit needs a value: {{fit card.headline x=.. y=.. width=.. height=.. size=.. min=..}}".into())
        })?;
        let field = param
            .relative_path()
            .cloned()
            .unwrap_or_else(|| "(a literal)".to_string());
        if param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(Some(field)).into());
        }
        let texts: Vec<String> = match param.value() {
            Value::String(s) => vec![s.clone()],
            Value::Number(n) => vec![n.to_string()],
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(helper_error(format!(
                        "fit: `{field}` holds something that is not text"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(helper_error(format!(
                    "fit: `{field}` is not text or a list of text"
                )))
            }
        };
        let list = matches!(param.value(), Value::Array(_));
        let b = FitBox {
            x: number(h, "x", None)?,
            y: number(h, "y", None)?,
            width: number(h, "width", None)?,
            height: number(h, "height", None)?,
            size: number(h, "size", None)?,
            min: number(h, "min", None)?,
            line: number(h, "line", Some(1.2))?,
        };
        if b.min < LARGE_PRINT_MIN || b.size < b.min {
            return Err(helper_error(format!(
                "fit `{field}`: min={} size={}: cards are large print, so min is at least {LARGE_PRINT_MIN} px and size at least min",
                b.min, b.size
            )));
        }
        let weight = match text_hash(h, "weight")?.as_deref() {
            None | Some("regular") => Weight::Regular,
            Some("bold") => Weight::Bold,
            Some(other) => {
                return Err(helper_error(format!(
                    "fit: weight=\"{other}\": use \"regular\" or \"bold\""
                )))
            }
        };
        let style = |key: &str| {
            ctx.data()
                .pointer(&format!("/card/style/{key}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let fill = text_hash(h, "fill")?
            .or_else(|| style("text"))
            .unwrap_or_else(|| "#000000".into());
        let bullet = text_hash(h, "bullet")?
            .or_else(|| style("accent"))
            .unwrap_or_else(|| fill.clone());
        let (indent, gap) = if list { (0.9, 0.45) } else { (0.0, 0.0) };
        let face = self.faces.get(weight);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let fitted = fit(face, &field, &refs, b, indent, gap)
            .map_err(|e| RenderError::from(RenderErrorReason::NestedError(Box::new(e))))?;
        out.write(&svg_text(
            face,
            &fitted,
            b,
            weight,
            &fill,
            list.then_some(bullet.as_str()),
            indent,
            gap,
        ))?;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn svg_text(
    face: &Face,
    fitted: &Fitted,
    b: FitBox,
    weight: Weight,
    fill: &str,
    bullet: Option<&str>,
    indent: f32,
    gap: f32,
) -> String {
    let size = fitted.size;
    let mut svg = String::new();
    let mut baseline = b.y + face.ascent * size;
    let text_x = b.x + indent * size;
    for paragraph in &fitted.paragraphs {
        if paragraph.is_empty() {
            continue;
        }
        if let Some(colour) = bullet {
            // A filled square, centred on the first line's x-height.
            let side = 0.32 * size;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{side:.1}" height="{side:.1}" fill="{}"/>"#,
                b.x,
                baseline - 0.5 * size - side / 2.0 + 0.1 * size,
                xml_escape(colour)
            );
        }
        let _ = write!(
            svg,
            r#"<text font-family="{FAMILY}" font-size="{size}" font-weight="{}" fill="{}">"#,
            weight.css(),
            xml_escape(fill)
        );
        for line in paragraph {
            let _ = write!(
                svg,
                r#"<tspan x="{text_x:.1}" y="{baseline:.1}">{}</tspan>"#,
                xml_escape(line)
            );
            baseline += b.line * size;
        }
        svg.push_str("</text>");
        baseline += gap * size;
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces() -> Faces {
        Faces::load().unwrap()
    }

    fn square() -> FitBox {
        FitBox {
            x: 0.0,
            y: 0.0,
            width: 900.0,
            height: 300.0,
            size: 80.0,
            min: 48.0,
            line: 1.2,
        }
    }

    #[test]
    fn a_short_headline_keeps_its_full_size() {
        let f = faces();
        let fitted = fit(
            f.get(Weight::Bold),
            "card.headline",
            &["Boil your water"],
            square(),
            0.0,
            0.0,
        )
        .unwrap();
        assert_eq!(fitted.size, 80.0);
        assert_eq!(fitted.paragraphs, vec![vec!["Boil your water".to_string()]]);
    }

    #[test]
    fn a_long_headline_is_shrunk_before_it_is_refused() {
        let f = faces();
        let text = "Boil-water advisory for the North Side, ZIP codes 60640, 60660 and 60626";
        let fitted = fit(
            f.get(Weight::Bold),
            "card.headline",
            &[text],
            square(),
            0.0,
            0.0,
        )
        .unwrap();
        assert!(fitted.size < 80.0 && fitted.size >= 48.0, "{}", fitted.size);
        assert!(fitted.paragraphs[0].len() > 1);
    }

    #[test]
    fn text_that_cannot_fit_at_the_minimum_is_refused_naming_the_field() {
        let f = faces();
        let text = "word ".repeat(120);
        let err = fit(
            f.get(Weight::Bold),
            "card.headline",
            &[&text],
            square(),
            0.0,
            0.0,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Overflow::TooTall { field, min, .. } if field == "card.headline" && *min == 48.0),
            "{err}"
        );
        assert!(err.to_string().contains("`card.headline`"), "{err}");
    }

    #[test]
    fn a_word_wider_than_the_box_is_refused_naming_it() {
        let f = faces();
        let word = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(2);
        let err = fit(
            f.get(Weight::Regular),
            "card.facts",
            &["ok", &word],
            square(),
            0.9,
            0.45,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Overflow::WordTooWide { field, .. } if field == "card.facts"),
            "{err}"
        );
    }

    #[test]
    fn shaped_width_grows_with_the_text() {
        let f = faces();
        let face = f.get(Weight::Regular);
        let one = face.width_per_px("water");
        assert!(one > 1.0 && one < 4.0, "{one}");
        assert!(face.width_per_px("water water") > 2.0 * one);
    }
}
