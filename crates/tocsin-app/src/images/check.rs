//! Checking an uploaded image before anything is stored: its type read from its first
//! bytes (never from a name or a `Content-Type`), its size, its dimensions read from the
//! header before any pixel is decoded (so a decompression bomb is refused unopened),
//! a full decode under memory limits, and its metadata stripped.
//!
//! Pure: bytes in, a [`CheckedImage`] or an [`ImageError`] out.

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest as _, Sha256};
use std::io::Cursor;

/// The largest file taken, in bytes (10 MB).
pub const MAX_BYTES: usize = 10_000_000;
/// The longest side taken, in pixels.
pub const MAX_SIDE: u32 = 8_000;
/// The most pixels taken (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;

/// The image types Tocsin takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    WebP,
    /// GIF.
    Gif,
}

impl ImageKind {
    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::WebP => "image/webp",
            ImageKind::Gif => "image/gif",
        }
    }

    /// The kind a stored media type names.
    pub fn from_media_type(media_type: &str) -> Option<ImageKind> {
        [
            ImageKind::Png,
            ImageKind::Jpeg,
            ImageKind::WebP,
            ImageKind::Gif,
        ]
        .into_iter()
        .find(|k| k.media_type() == media_type)
    }

    fn name(self) -> &'static str {
        match self {
            ImageKind::Png => "PNG",
            ImageKind::Jpeg => "JPEG",
            ImageKind::WebP => "WebP",
            ImageKind::Gif => "GIF",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::WebP => ImageFormat::WebP,
            ImageKind::Gif => ImageFormat::Gif,
        }
    }
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Nothing was sent.
    #[error("the file is empty")]
    Empty,
    /// Not one of the four types.
    #[error("not an image: the file starts like {0} (Tocsin takes PNG, JPEG, WebP and GIF)")]
    NotAnImage(String),
    /// Over [`MAX_BYTES`].
    #[error("image is {} MB; the limit is {} MB", mb(*.0), mb(MAX_BYTES))]
    TooLarge(usize),
    /// A side over [`MAX_SIDE`] or more than [`MAX_PIXELS`].
    #[error("{width}x{height} pixels is over the {}", dimension_limit(*.width, *.height))]
    TooManyPixels {
        /// Width in the header.
        width: u32,
        /// Height in the header.
        height: u32,
    },
    /// An animation whose frames together are over [`MAX_ANIMATION_PIXELS`].
    #[error("the animation reaches {0} frames of its size: over the {limit}-megapixel limit for all frames together", limit = MAX_ANIMATION_PIXELS / 1_000_000)]
    TooManyFrames(usize),
    /// The header or the pixels do not decode.
    #[error("the {} file does not decode: {why}", .kind.name())]
    Corrupt {
        /// What it claims to be.
        kind: ImageKind,
        /// What went wrong.
        why: String,
    },
}

fn mb(bytes: usize) -> String {
    let tenths = (bytes as u64 + 50_000) / 100_000;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

fn dimension_limit(width: u32, height: u32) -> String {
    if width > MAX_SIDE || height > MAX_SIDE {
        format!("{MAX_SIDE}-pixel limit per side")
    } else {
        format!("{}-megapixel limit", MAX_PIXELS / 1_000_000)
    }
}

/// An image that passed every check, without its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    /// What it is.
    pub kind: ImageKind,
    /// The stripped file.
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// The image type the first bytes say, or what the file looks like instead.
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, ImageError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageKind::Jpeg);
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(ImageKind::WebP);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(ImageKind::Gif);
    }
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    Err(ImageError::NotAnImage(looks_like(bytes).to_string()))
}

/// What a file that is not one of the four types looks like, in words.
fn looks_like(bytes: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let text = String::from_utf8_lossy(bytes.get(..256).unwrap_or(bytes)).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let brand = bytes.get(4..12);
    if starts(b"%PDF") {
        "a PDF"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive (or a Word, Excel or PowerPoint document)"
    } else if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        "an SVG drawing (which can carry scripts)"
    } else if text.starts_with("<!doctype html") || text.starts_with("<html") {
        "a web page"
    } else if starts(b"BM") {
        "a BMP bitmap"
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        "a TIFF image"
    } else if brand.is_some_and(|b| {
        b.starts_with(b"ftyp")
            && [b"heic", b"heix", b"mif1", b"msf1", b"hevc"]
                .iter()
                .any(|x| b.get(4..8) == Some(x.as_slice()))
    }) {
        "a HEIC photo (export it as JPEG)"
    } else if brand.is_some_and(|b| b == b"ftypavif") {
        "an AVIF image"
    } else if brand.is_some_and(|b| b.starts_with(b"ftyp")) {
        "a video"
    } else if starts(b"\x7fELF") || starts(b"MZ") {
        "a program"
    } else if starts(b"\x1f\x8b") {
        "a gzip archive"
    } else if std::str::from_utf8(bytes.get(..256).unwrap_or(bytes)).is_ok() {
        "text"
    } else {
        "none of them"
    }
}

/// Checks `bytes` as an upload: type, size, dimensions, decoding, then strips its
/// metadata (a JPEG or WebP whose EXIF says to rotate it is turned upright and
/// re-encoded, as the EXIF that says so is dropped).
pub fn check_upload(bytes: &[u8]) -> Result<CheckedImage, ImageError> {
    let kind = sniff(bytes)?;
    if bytes.len() > MAX_BYTES {
        return Err(ImageError::TooLarge(bytes.len()));
    }
    let corrupt = |e: image::ImageError| ImageError::Corrupt {
        kind,
        why: e.to_string(),
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), kind.format())
        .into_dimensions()
        .map_err(corrupt)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    // EXIF that does not parse says nothing about turning; it is dropped with the rest.
    let orientation = orientation(kind, bytes).ok().flatten();
    let stripped = match orientation {
        Some(o) => {
            let mut picture = decode(kind, bytes).map_err(corrupt)?;
            picture.apply_orientation(o);
            reencode(kind, &picture).map_err(corrupt)?
        }
        None => super::strip::strip(kind, bytes)?,
    };
    // The stripped file must decode whole, or it is not stored.
    let picture = decode(kind, &stripped).map_err(corrupt)?;
    if kind == ImageKind::Gif {
        every_gif_frame(&stripped)?;
    }
    Ok(CheckedImage {
        kind,
        sha256: hex::encode(Sha256::digest(&stripped)),
        width: picture.width(),
        height: picture.height(),
        bytes: stripped,
    })
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Four bytes a pixel at the pixel limit, and room for the decoder's own tables.
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    limits
}

fn reader(kind: ImageKind, bytes: &[u8]) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits());
    reader
}

fn decode(kind: ImageKind, bytes: &[u8]) -> image::ImageResult<image::DynamicImage> {
    reader(kind, bytes).decode()
}

/// The turn the file's metadata asks for, if it asks for one.
fn orientation(
    kind: ImageKind,
    bytes: &[u8],
) -> image::ImageResult<Option<image::metadata::Orientation>> {
    if !matches!(kind, ImageKind::Jpeg | ImageKind::WebP) {
        return Ok(None);
    }
    let mut decoder = reader(kind, bytes).into_decoder()?;
    let o = decoder.orientation()?;
    Ok((o != image::metadata::Orientation::NoTransforms).then_some(o))
}

/// Encodes a turned picture again in its own type (JPEG at quality 90; PNG and WebP
/// losslessly): a new file with no metadata at all.
fn reencode(kind: ImageKind, picture: &image::DynamicImage) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    match kind {
        ImageKind::Jpeg => {
            let rgb = picture.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&rgb)?;
        }
        _ => picture.write_to(&mut Cursor::new(&mut out), kind.format())?,
    }
    Ok(out)
}

/// The most pixels all the frames of an animation may have together: a long animation
/// of a large screen is a bomb of another shape.
pub const MAX_ANIMATION_PIXELS: u64 = 10 * MAX_PIXELS;

/// Decodes every frame of a GIF (the first is not the only one that can be broken).
fn every_gif_frame(bytes: &[u8]) -> Result<(), ImageError> {
    use image::AnimationDecoder as _;
    let corrupt = |e: image::ImageError| ImageError::Corrupt {
        kind: ImageKind::Gif,
        why: e.to_string(),
    };
    let mut decoder = image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    decoder.set_limits(limits()).map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let mut total = 0u64;
    for (n, frame) in decoder.into_frames().enumerate() {
        total += u64::from(width) * u64::from(height);
        if total > MAX_ANIMATION_PIXELS {
            return Err(ImageError::TooManyFrames(n + 1));
        }
        frame.map_err(corrupt)?;
    }
    Ok(())
}
