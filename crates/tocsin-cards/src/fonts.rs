//! The fonts cards are drawn in, compiled into the binary: Atkinson Hyperlegible (Braille
//! Institute, SIL Open Font License 1.1, `fonts/OFL.txt`), designed for low-vision
//! readers. No system font is ever loaded, so a card renders to the same pixels on
//! every machine.

use harfrust::{ShapeOptions, ShaperData, UnicodeBuffer};
use resvg::usvg::fontdb;
use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;

/// The family name templates use (`font-family="Atkinson Hyperlegible"`); it is also every
/// generic family (`sans-serif`, `serif`, ...), so nothing falls through to another font.
pub const FAMILY: &str = "Atkinson Hyperlegible";

const REGULAR: &[u8] = include_bytes!("../fonts/AtkinsonHyperlegible-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/AtkinsonHyperlegible-Bold.ttf");

/// The font database resvg draws from: the shipped fonts and nothing else.
pub(crate) fn database() -> fontdb::Database {
    let mut db = fontdb::Database::new();
    db.load_font_data(REGULAR.to_vec());
    db.load_font_data(BOLD.to_vec());
    db.set_sans_serif_family(FAMILY);
    db.set_serif_family(FAMILY);
    db.set_monospace_family(FAMILY);
    db.set_cursive_family(FAMILY);
    db.set_fantasy_family(FAMILY);
    db
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// 400.
    Regular,
    /// 700.
    Bold,
}

impl Weight {
    /// The CSS weight.
    pub fn css(self) -> u16 {
        match self {
            Weight::Regular => 400,
            Weight::Bold => 700,
        }
    }
}

/// One face, for measuring text the way resvg will lay it out (the same shaper).
pub(crate) struct Face {
    font: harfrust::FontRef<'static>,
    shaper: ShaperData,
    units_per_em: f32,
    /// Ascent and descent, in ems (descent positive).
    pub ascent: f32,
    pub descent: f32,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face")
            .field("units_per_em", &self.units_per_em)
            .finish_non_exhaustive()
    }
}

/// The shipped fonts failed to load: a broken build, never a user's doing.
#[derive(Debug, thiserror::Error)]
#[error("the card font compiled into this build cannot be read: {0}")]
pub struct FontError(String);

impl Face {
    fn load(bytes: &'static [u8]) -> Result<Face, FontError> {
        let font = harfrust::FontRef::new(bytes).map_err(|e| FontError(e.to_string()))?;
        let metrics = skrifa::FontRef::new(bytes)
            .map_err(|e| FontError(e.to_string()))?
            .metrics(Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(metrics.units_per_em.max(16));
        Ok(Face {
            shaper: ShaperData::new(&font),
            font,
            units_per_em,
            ascent: metrics.ascent / units_per_em,
            descent: -metrics.descent / units_per_em,
        })
    }

    /// The advance width of `text` at 1 px, shaped (kerning included).
    pub fn width_per_px(&self, text: &str) -> f32 {
        let shaper = self.shaper.shaper(&self.font).build();
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let out = shaper.shape(buffer, ShapeOptions::new());
        let units: i32 = out.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 / self.units_per_em
    }
}

/// Both faces, loaded once.
#[derive(Debug)]
pub(crate) struct Faces {
    regular: Face,
    bold: Face,
}

impl Faces {
    pub fn load() -> Result<Faces, FontError> {
        Ok(Faces {
            regular: Face::load(REGULAR)?,
            bold: Face::load(BOLD)?,
        })
    }

    pub fn get(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}
