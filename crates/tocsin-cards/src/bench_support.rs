//! Floors for the card bench: what drawing a card costs with no text at all, so the
//! figures in BENCHMARKS.md can say how much of a card's time is its text.

use resvg::tiny_skia::{Color, Pixmap, Transform};
use resvg::usvg;

use crate::size::CardSize;

/// The shipped card's shapes (background, title band, accent rule) without its text,
/// parsed, drawn and encoded as PNG. Returns the PNG's length.
pub fn draw_shapes_only(size: CardSize) -> usize {
    let (w, h) = (size.width(), size.height());
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"><rect width="{w}" height="{h}" fill="#ffffff"/><rect width="{w}" height="190" fill="#0b3d91"/><rect x="72" y="966" width="936" height="6" fill="#c2410c"/></svg>"##
    );
    let Ok(tree) = usvg::Tree::from_str(&svg, &usvg::Options::default()) else {
        return 0;
    };
    let Some(mut pixmap) = Pixmap::new(w, h) else {
        return 0;
    };
    resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
    pixmap.encode_png().map(|p| p.len()).unwrap_or(0)
}

/// A canvas filled with one colour and encoded as PNG. Returns the PNG's length.
pub fn plain_fill(size: CardSize) -> usize {
    let Some(mut pixmap) = Pixmap::new(size.width(), size.height()) else {
        return 0;
    };
    pixmap.fill(Color::from_rgba8(11, 61, 145, 255));
    pixmap.encode_png().map(|p| p.len()).unwrap_or(0)
}
