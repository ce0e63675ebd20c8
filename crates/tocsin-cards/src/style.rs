//! `[cards]` in `tocsin.toml`: the organisation's name and colours, checked for contrast.
//!
//! Cards are large print: every colour pair that carries text must reach the WCAG 2
//! contrast ratio of 4.5:1 (success criterion 1.4.3), and the accent, which marks the
//! facts but carries no text, 3:1 against the background (1.4.11). A configuration
//! below either is refused when it is loaded, naming the pair and its ratio.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;

/// Lowest contrast between text and what it sits on (WCAG 2, 1.4.3).
pub const TEXT_CONTRAST_MIN: f64 = 4.5;
/// Lowest contrast of a graphic that carries no text against the background (1.4.11).
pub const GRAPHIC_CONTRAST_MIN: f64 = 3.0;

/// `[cards]`: what every card shows of the organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardsConfig {
    /// The organisation's name, at the foot of every card.
    pub organisation: String,
    /// The band behind the card's title: `#rrggbb`.
    pub primary: String,
    /// Text on the primary band: `#rrggbb`.
    pub on_primary: String,
    /// The marks beside the facts (no text on it): `#rrggbb`.
    pub accent: String,
    /// The card's background: `#rrggbb`.
    pub background: String,
    /// The card's text: `#rrggbb`.
    pub text: String,
}

impl Default for CardsConfig {
    fn default() -> Self {
        CardsConfig {
            organisation: "Department of Public Health".into(),
            primary: "#0b3d91".into(),
            on_primary: "#ffffff".into(),
            accent: "#c2410c".into(),
            background: "#ffffff".into(),
            text: "#111111".into(),
        }
    }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl Colour {
    /// Reads `#rrggbb` (or `#rgb`).
    pub fn parse(text: &str) -> Option<Colour> {
        let hex = text.strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| hex.get(i..=i).and_then(|d| u8::from_str_radix(d, 16).ok());
        let pair = |i: usize| {
            hex.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
        };
        match hex.len() {
            6 => Some(Colour {
                r: pair(0)?,
                g: pair(2)?,
                b: pair(4)?,
            }),
            3 => Some(Colour {
                r: digit(0)? * 17,
                g: digit(1)? * 17,
                b: digit(2)? * 17,
            }),
            _ => None,
        }
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// WCAG 2 contrast ratio with `other`, from 1 to 21.
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (light, dark) = if a > b { (a, b) } else { (b, a) };
        (light + 0.05) / (dark + 0.05)
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// Why a `[cards]` configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StyleError {
    /// A colour that is not `#rrggbb`.
    #[error("[cards] {field} = \"{value}\" is not a colour: write it as #rrggbb")]
    BadColour {
        /// The setting.
        field: &'static str,
        /// What it held.
        value: String,
    },
    /// Two colours too alike to read.
    #[error("[cards] {fore} on {back} has a contrast of {ratio:.2}:1, under the {min}:1 that large-print cards need (WCAG 2): make one lighter or darker")]
    LowContrast {
        /// The colour in front (`text`, `on_primary`, `accent`).
        fore: &'static str,
        /// The colour behind.
        back: &'static str,
        /// Their ratio.
        ratio: f64,
        /// The least allowed.
        min: f64,
    },
    /// No organisation name.
    #[error("[cards] organisation is empty: every card names who issued it")]
    NoOrganisation,
}

/// A checked `[cards]` configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CardStyle {
    /// The organisation's name.
    pub organisation: String,
    /// The title band.
    pub primary: Colour,
    /// Text on the band.
    pub on_primary: Colour,
    /// Marks beside the facts.
    pub accent: Colour,
    /// The background.
    pub background: Colour,
    /// The text.
    pub text: Colour,
}

impl Default for CardStyle {
    fn default() -> Self {
        // The same as `CardsConfig::default()`, which passes the checks (a test holds
        // the two together).
        CardStyle {
            organisation: "Department of Public Health".into(),
            primary: Colour {
                r: 0x0b,
                g: 0x3d,
                b: 0x91,
            },
            on_primary: Colour {
                r: 0xff,
                g: 0xff,
                b: 0xff,
            },
            accent: Colour {
                r: 0xc2,
                g: 0x41,
                b: 0x0c,
            },
            background: Colour {
                r: 0xff,
                g: 0xff,
                b: 0xff,
            },
            text: Colour {
                r: 0x11,
                g: 0x11,
                b: 0x11,
            },
        }
    }
}

impl CardStyle {
    /// Checks a configuration: colours readable, contrast enough, a name given.
    pub fn new(config: &CardsConfig) -> Result<CardStyle, StyleError> {
        let colour = |field: &'static str, value: &str| {
            Colour::parse(value.trim()).ok_or_else(|| StyleError::BadColour {
                field,
                value: value.to_string(),
            })
        };
        let style = CardStyle {
            organisation: config.organisation.trim().to_string(),
            primary: colour("primary", &config.primary)?,
            on_primary: colour("on_primary", &config.on_primary)?,
            accent: colour("accent", &config.accent)?,
            background: colour("background", &config.background)?,
            text: colour("text", &config.text)?,
        };
        if style.organisation.is_empty() {
            return Err(StyleError::NoOrganisation);
        }
        let pairs = [
            (
                "text",
                style.text,
                "background",
                style.background,
                TEXT_CONTRAST_MIN,
            ),
            (
                "on_primary",
                style.on_primary,
                "primary",
                style.primary,
                TEXT_CONTRAST_MIN,
            ),
            (
                "accent",
                style.accent,
                "background",
                style.background,
                GRAPHIC_CONTRAST_MIN,
            ),
        ];
        for (fore, a, back, b, min) in pairs {
            let ratio = a.contrast(b);
            if ratio < min {
                return Err(StyleError::LowContrast {
                    fore,
                    back,
                    ratio,
                    min,
                });
            }
        }
        Ok(style)
    }

    /// What templates see as `card.style` and `card.organisation`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "primary": self.primary.to_string(),
            "on_primary": self.on_primary.to_string(),
            "accent": self.accent.to_string(),
            "background": self.background.to_string(),
            "text": self.text.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_style_passes_its_own_checks() {
        assert_eq!(
            CardStyle::new(&CardsConfig::default()).unwrap(),
            CardStyle::default()
        );
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        let black = Colour::parse("#000").unwrap();
        let white = Colour::parse("#ffffff").unwrap();
        assert!((black.contrast(white) - 21.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1, just over AA.
        let grey = Colour::parse("#767676").unwrap();
        assert!((grey.contrast(white) - 4.54).abs() < 0.01);
    }

    #[test]
    fn text_under_four_and_a_half_to_one_is_refused_naming_the_pair() {
        let config = CardsConfig {
            text: "#888888".into(),
            ..CardsConfig::default()
        };
        let err = CardStyle::new(&config).unwrap_err();
        assert!(
            matches!(err, StyleError::LowContrast { fore: "text", back: "background", ratio, .. } if ratio < 4.5),
            "{err}"
        );
        assert!(err.to_string().contains("3.54:1"), "{err}");
    }

    #[test]
    fn white_on_a_light_primary_band_is_refused() {
        let config = CardsConfig {
            primary: "#7fb3ff".into(),
            ..CardsConfig::default()
        };
        let err = CardStyle::new(&config).unwrap_err();
        assert!(
            matches!(
                err,
                StyleError::LowContrast {
                    fore: "on_primary",
                    back: "primary",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_colour_that_is_not_hex_is_refused_by_name() {
        let config = CardsConfig {
            accent: "orange".into(),
            ..CardsConfig::default()
        };
        assert_eq!(
            CardStyle::new(&config).unwrap_err(),
            StyleError::BadColour {
                field: "accent",
                value: "orange".into()
            }
        );
        assert_eq!(Colour::parse("#12345"), None);
        assert_eq!(Colour::parse("#gggggg"), None);
    }
}
