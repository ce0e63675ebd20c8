//! The two card sizes: square for Instagram, 16:9 for every other platform.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A card's pixel size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CardSize {
    /// 1080×1080, Instagram's square post.
    Instagram,
    /// 1200×675 (16:9), for X, Bluesky, Mastodon, Facebook and the rest.
    Landscape,
}

impl CardSize {
    /// Both sizes, square first.
    pub const ALL: [CardSize; 2] = [CardSize::Instagram, CardSize::Landscape];

    /// Width in pixels.
    pub fn width(self) -> u32 {
        match self {
            CardSize::Instagram => 1080,
            CardSize::Landscape => 1200,
        }
    }

    /// Height in pixels.
    pub fn height(self) -> u32 {
        match self {
            CardSize::Instagram => 1080,
            CardSize::Landscape => 675,
        }
    }

    /// Its name: `instagram` or `landscape`.
    pub fn as_str(self) -> &'static str {
        match self {
            CardSize::Instagram => "instagram",
            CardSize::Landscape => "landscape",
        }
    }
}

impl fmt::Display for CardSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A size name that is neither `instagram` nor `landscape`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("card size `{0}`: use `instagram` (1080×1080) or `landscape` (1200×675)")]
pub struct UnknownSize(pub String);

impl FromStr for CardSize {
    type Err = UnknownSize;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "instagram" => Ok(CardSize::Instagram),
            "landscape" => Ok(CardSize::Landscape),
            other => Err(UnknownSize(other.to_string())),
        }
    }
}
