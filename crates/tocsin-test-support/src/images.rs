//! Image fixtures for connector tests, and the content checks the fake servers make on
//! uploads: a fake reads the type from the bytes, as platforms do, and refuses a file
//! whose declared type does not match what it holds.

use sha2::{Digest, Sha256};

/// A 64×48 PNG (an area map stand-in), 8,516 bytes.
pub const MAP_PNG: &[u8] = include_bytes!("../fixtures/map-64x48.png");
/// [`MAP_PNG`]'s width.
pub const MAP_WIDTH: u32 = 64;
/// [`MAP_PNG`]'s height.
pub const MAP_HEIGHT: u32 = 48;
/// A 30×20 PNG (an alert card stand-in), 1,124 bytes.
pub const CARD_PNG: &[u8] = include_bytes!("../fixtures/card-30x20.png");
/// [`CARD_PNG`]'s width.
pub const CARD_WIDTH: u32 = 30;
/// [`CARD_PNG`]'s height.
pub const CARD_HEIGHT: u32 = 20;

/// The media type the bytes hold (PNG, JPEG, GIF, WebP), read from their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks an upload's declared type against its content; the refusal text on mismatch.
pub fn check_declared(declared: Option<&str>, bytes: &[u8]) -> Result<&'static str, String> {
    let Some(actual) = sniff(bytes) else {
        return Err("the file is not a PNG, JPEG, GIF or WebP image".into());
    };
    match declared.map(|d| d.split(';').next().unwrap_or_default().trim()) {
        Some(d) if d.eq_ignore_ascii_case(actual) => Ok(actual),
        Some(d) => Err(format!("declared type {d} but the file is {actual}")),
        None => Err("the upload carries no Content-Type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixtures_are_pngs_and_a_declared_type_must_match_the_content() {
        assert_eq!(sniff(MAP_PNG), Some("image/png"));
        assert_eq!(sniff(CARD_PNG), Some("image/png"));
        assert!(check_declared(Some("image/png"), MAP_PNG).is_ok());
        assert!(check_declared(Some("image/jpeg"), MAP_PNG).is_err());
        assert!(check_declared(None, MAP_PNG).is_err());
        assert!(check_declared(Some("image/png"), b"not an image").is_err());
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}
