//! Metadata stripping by container: what a clinic photo may carry besides its pixels
//! (EXIF with GPS position and camera serial numbers, XMP, IPTC, comments, PNG text
//! chunks) is dropped, and only what draws the picture is kept, byte for byte.
//!
//! Each format is walked as its specification lays it out; anything not on a short list
//! of drawing blocks goes. Pixels are not re-encoded, so nothing is lost in quality.

use super::check::{ImageError, ImageKind};

/// The file without its metadata, or why its container does not parse.
pub fn strip(kind: ImageKind, bytes: &[u8]) -> Result<Vec<u8>, ImageError> {
    match kind {
        ImageKind::Png => strip_png(bytes),
        ImageKind::Jpeg => strip_jpeg(bytes),
        ImageKind::WebP => strip_webp(bytes),
        ImageKind::Gif => strip_gif(bytes),
    }
    .ok_or_else(|| ImageError::Corrupt {
        kind,
        why: "its blocks do not add up (a truncated or damaged file)".into(),
    })
}

fn take(bytes: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    bytes.get(at..at.checked_add(len)?)
}

/// PNG: signature, then chunks (length, type, data, CRC) up to `IEND`. Kept: the critical
/// chunks, transparency, colour (gamma, chromaticities, sRGB, ICC profile, significant
/// bits, background), physical size and the animation chunks of APNG. Dropped: `tEXt`,
/// `zTXt`, `iTXt`, `eXIf`, `tIME` and anything else.
fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    const KEEP: [&[u8; 4]; 15] = [
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
        b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
    ];
    let mut out = take(bytes, 0, 8)?.to_vec();
    let mut at = 8;
    loop {
        let len = u32::from_be_bytes(take(bytes, at, 4)?.try_into().ok()?) as usize;
        let kind = take(bytes, at + 4, 4)?;
        let whole = take(bytes, at, 12usize.checked_add(len)?)?;
        if KEEP.iter().any(|k| k.as_slice() == kind) {
            out.extend_from_slice(whole);
        }
        at += whole.len();
        if kind == b"IEND" {
            return Some(out);
        }
    }
}

/// JPEG: markers and segments. Kept: frame, tables, scans, restart intervals, `APP0`
/// (JFIF), `APP2` only as an ICC profile, `APP14` (Adobe: how to read the colours).
/// Dropped: `APP1` (EXIF, XMP), `APP13` (IPTC), every other `APPn`, comments (`COM`),
/// and anything after the end of the image.
fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    if take(bytes, 0, 2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = vec![0xFF, 0xD8];
    let mut at = 2;
    loop {
        // Fill bytes (0xFF repeated) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Some(out);
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                at += 2;
                continue;
            }
            _ => {}
        }
        let len = u16::from_be_bytes(take(bytes, at + 2, 2)?.try_into().ok()?) as usize;
        if len < 2 {
            return None;
        }
        let segment = take(bytes, at, 2 + len)?;
        let payload = segment.get(4..)?;
        let keep = match marker {
            0xE0 | 0xEE => true,
            0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
        }
        at += segment.len();
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00
            // or a restart marker.
            let start = at;
            loop {
                let b = *bytes.get(at)?;
                if b == 0xFF {
                    let next = *bytes.get(at + 1)?;
                    if next == 0x00 || (0xD0..=0xD7).contains(&next) || next == 0xFF {
                        at += if next == 0xFF { 1 } else { 2 };
                        continue;
                    }
                    break;
                }
                at += 1;
            }
            out.extend_from_slice(bytes.get(start..at)?);
        }
    }
}

/// WebP: a RIFF container. Kept: the bitstreams (`VP8 `, `VP8L`, `ALPH`), the extended
/// header `VP8X` (its EXIF and XMP flags cleared), `ICCP`, and animation (`ANIM`, `ANMF`).
/// Dropped: `EXIF`, `XMP ` and unknown chunks.
fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    const KEEP: [&[u8; 4]; 7] = [
        b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ICCP", b"ANIM", b"ANMF",
    ];
    if take(bytes, 0, 4)? != b"RIFF" || take(bytes, 8, 4)? != b"WEBP" {
        return None;
    }
    let riff_len = u32::from_le_bytes(take(bytes, 4, 4)?.try_into().ok()?) as usize;
    let end = riff_len.checked_add(8)?.min(bytes.len());
    let mut body = b"WEBP".to_vec();
    let mut at = 12;
    while at + 8 <= end {
        let id = take(bytes, at, 4)?;
        let len = u32::from_le_bytes(take(bytes, at + 4, 4)?.try_into().ok()?) as usize;
        let padded = len.checked_add(len % 2)?;
        let whole = take(bytes, at, 8usize.checked_add(len)?)?;
        if KEEP.iter().any(|k| k.as_slice() == id) {
            let start = body.len();
            body.extend_from_slice(whole);
            if len % 2 == 1 {
                body.push(0);
            }
            if id == b"VP8X" {
                // Flags: bit 3 EXIF, bit 2 XMP (the chunks are gone).
                *body.get_mut(start + 8)? &= !0b0000_1100;
            }
        }
        at = at.checked_add(8 + padded)?;
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

/// GIF: header, screen, colour table, then blocks to the trailer. Kept: images, graphic
/// control (frame timing, transparency) and the looping extensions (`NETSCAPE2.0`,
/// `ANIMEXTS1.0`). Dropped: comments, plain text, other application extensions (XMP).
fn strip_gif(bytes: &[u8]) -> Option<Vec<u8>> {
    let header = take(bytes, 0, 13)?;
    if !header.starts_with(b"GIF87a") && !header.starts_with(b"GIF89a") {
        return None;
    }
    let table = |packed: u8| {
        if packed & 0x80 != 0 {
            3usize << ((packed & 0x07) + 1)
        } else {
            0
        }
    };
    let mut at = 13 + table(*header.get(10)?);
    let mut out = take(bytes, 0, at)?.to_vec();
    // The length of the data sub-blocks starting at `from`, terminator included.
    let sub_blocks = |from: usize| -> Option<usize> {
        let mut p = from;
        loop {
            let n = *bytes.get(p)? as usize;
            p += 1 + n;
            if n == 0 {
                return Some(p - from);
            }
        }
    };
    loop {
        match *bytes.get(at)? {
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            0x2C => {
                let descriptor = take(bytes, at, 10)?;
                let len = 10 + table(*descriptor.get(9)?) + 1;
                let data = sub_blocks(at + len)?;
                out.extend_from_slice(take(bytes, at, len + data)?);
                at += len + data;
            }
            0x21 => {
                let label = *bytes.get(at + 1)?;
                let data = sub_blocks(at + 2)?;
                let whole = take(bytes, at, 2 + data)?;
                let keep = match label {
                    0xF9 => true,
                    0xFF => {
                        let id = take(bytes, at + 3, 11);
                        id == Some(b"NETSCAPE2.0") || id == Some(b"ANIMEXTS1.0")
                    }
                    _ => false,
                };
                if keep {
                    out.extend_from_slice(whole);
                }
                at += whole.len();
            }
            _ => return None,
        }
    }
}
