//! Upload checks: each bad input refused with a message naming what is wrong, and
//! metadata (EXIF with GPS and a camera serial, XMP, comments, PNG text, WebP EXIF, GIF
//! comments) gone from what is kept. Test files are built here, byte by byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::check::*;
use std::io::Cursor;

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 120])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 9) as u8, 60])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&picture)
        .unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut covered = kind.to_vec();
    covered.extend_from_slice(data);
    out.extend_from_slice(&crc32(&covered).to_be_bytes());
    out
}

/// A little-endian TIFF (EXIF) block: orientation, a camera serial number and a GPS IFD
/// with a latitude reference and latitude.
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: 3 entries.
    let entries = 3u16;
    let ifd0_len = 2 + 12 * entries as u32 + 4;
    let serial_at = 8 + ifd0_len;
    let serial = b"SN-CAMERA-0042\0";
    let gps_at = serial_at + serial.len() as u32 + 1;
    t.extend_from_slice(&entries.to_le_bytes());
    // Orientation, SHORT.
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    // GPS IFD pointer, LONG.
    t.extend_from_slice(&0x8825u16.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&gps_at.to_le_bytes());
    // Body serial number, ASCII.
    t.extend_from_slice(&0xA431u16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&(serial.len() as u32).to_le_bytes());
    t.extend_from_slice(&serial_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(serial);
    t.push(0);
    // GPS IFD: latitude ref "N" and latitude 40/1 26/1 46/1.
    let lat_at = gps_at + 2 + 12 * 2 + 4;
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&0x0001u16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&2u32.to_le_bytes());
    t.extend_from_slice(b"N\0\0\0");
    t.extend_from_slice(&0x0002u16.to_le_bytes());
    t.extend_from_slice(&5u16.to_le_bytes());
    t.extend_from_slice(&3u32.to_le_bytes());
    t.extend_from_slice(&lat_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    for v in [40u32, 1, 26, 1, 46, 1] {
        t.extend_from_slice(&v.to_le_bytes());
    }
    let mut block = b"Exif\0\0".to_vec();
    block.extend_from_slice(&t);
    block
}

fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A JPEG with EXIF (GPS, serial), XMP and a comment put right after its SOI.
fn jpeg_with_metadata(orientation: u16, width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut out = plain[..2].to_vec();
    out.extend(jpeg_segment(0xE1, &exif(orientation)));
    out.extend(jpeg_segment(
        0xE1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><dc:creator>Jane Clinician</dc:creator></x:xmpmeta>",
    ));
    out.extend(jpeg_segment(
        0xED,
        b"Photoshop 3.0\0IPTC byline: Jane Clinician",
    ));
    out.extend(jpeg_segment(0xFE, b"Taken at Ward 4 by Jane Clinician"));
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_jpeg_with_exif_gps_and_a_camera_serial_comes_out_without_them() {
    let upload = jpeg_with_metadata(1, 64, 48);
    // The file as built does carry them, and decodes.
    assert!(contains(&upload, b"SN-CAMERA-0042"));
    assert!(contains(&upload, b"Exif\0\0"));
    let checked = check_upload(&upload).unwrap();
    assert_eq!(checked.kind, ImageKind::Jpeg);
    assert_eq!((checked.width, checked.height), (64, 48));
    for trace in [
        &b"Exif\0\0"[..],
        b"SN-CAMERA-0042",
        b"ns.adobe.com/xap",
        b"Jane Clinician",
        b"Photoshop 3.0",
        b"Ward 4",
    ] {
        assert!(
            !contains(&checked.bytes, trace),
            "{} is still in the stored file",
            String::from_utf8_lossy(trace)
        );
    }
    // Pixels untouched: the stripped file is the plain one byte for byte.
    assert_eq!(checked.bytes, jpeg(64, 48));
    assert_eq!(checked.sha256.len(), 64);
    use sha2::Digest as _;
    assert_eq!(
        checked.sha256,
        hex::encode(sha2::Sha256::digest(&checked.bytes))
    );
}

#[test]
fn a_photo_whose_exif_says_turn_it_is_stored_upright_without_the_exif() {
    // Orientation 6: turn 90 degrees clockwise to view.
    let checked = check_upload(&jpeg_with_metadata(6, 64, 48)).unwrap();
    assert_eq!((checked.width, checked.height), (48, 64));
    assert!(!contains(&checked.bytes, b"Exif\0\0"));
    assert!(!contains(&checked.bytes, b"SN-CAMERA-0042"));
}

#[test]
fn png_text_chunks_and_exif_are_dropped_and_the_picture_kept() {
    let plain = png(20, 10);
    let iend = plain.len() - 12;
    let mut upload = plain[..iend].to_vec();
    upload.extend(png_chunk(b"tEXt", b"Author\0Jane Clinician"));
    upload.extend(png_chunk(b"iTXt", b"GPS\0\0\0\0\x0040.44N"));
    upload.extend(png_chunk(b"eXIf", &exif(1)[6..]));
    upload.extend_from_slice(&plain[iend..]);
    let checked = check_upload(&upload).unwrap();
    assert_eq!(checked.bytes, plain);
    assert_eq!(
        (checked.kind, checked.width, checked.height),
        (ImageKind::Png, 20, 10)
    );
}

#[test]
fn webp_exif_and_xmp_chunks_are_dropped_and_their_flags_cleared() {
    let mut lossless = Vec::new();
    image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        8,
        6,
        image::Rgba([1, 2, 3, 255]),
    ))
    .write_to(&mut Cursor::new(&mut lossless), image::ImageFormat::WebP)
    .unwrap();
    // Rebuild it as an extended WebP: VP8X (EXIF and XMP flags set), VP8L, EXIF, XMP.
    let bitstream = &lossless[12..];
    let chunk = |id: &[u8; 4], data: &[u8]| {
        let mut c = id.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut vp8x = vec![0b0001_1100, 0, 0, 0];
    vp8x.extend_from_slice(&7u32.to_le_bytes()[..3]);
    vp8x.extend_from_slice(&5u32.to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend_from_slice(bitstream);
    body.extend(chunk(b"EXIF", &exif(1)[6..]));
    body.extend(chunk(b"XMP ", b"<x:xmpmeta>Jane Clinician</x:xmpmeta>"));
    let mut upload = b"RIFF".to_vec();
    upload.extend_from_slice(&(body.len() as u32).to_le_bytes());
    upload.extend(body);
    let checked = check_upload(&upload).unwrap();
    assert_eq!(
        (checked.kind, checked.width, checked.height),
        (ImageKind::WebP, 8, 6)
    );
    assert!(!contains(&checked.bytes, b"SN-CAMERA-0042"));
    assert!(!contains(&checked.bytes, b"Jane Clinician"));
    assert!(!contains(&checked.bytes, b"EXIF"));
    assert_eq!(
        checked.bytes[20] & 0b0000_1100,
        0,
        "VP8X still flags EXIF or XMP"
    );
}

/// A 1x1 GIF with a comment and an XMP application extension.
fn gif_with_comment() -> Vec<u8> {
    let mut g = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00".to_vec();
    g.extend_from_slice(b"\x21\xfe\x14Taken by J Clinician\x00");
    g.extend_from_slice(b"\x21\xff\x0bXMP DataXMP\x05<xmp>\x00");
    g.extend_from_slice(b"\x21\xf9\x04\x00\x00\x00\x00\x00");
    g.extend_from_slice(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b");
    g
}

#[test]
fn gif_comments_and_xmp_are_dropped() {
    let upload = gif_with_comment();
    let checked = check_upload(&upload).unwrap();
    assert_eq!(
        (checked.kind, checked.width, checked.height),
        (ImageKind::Gif, 1, 1)
    );
    assert!(!contains(&checked.bytes, b"Clinician"));
    assert!(!contains(&checked.bytes, b"XMP DataXMP"));
    assert!(
        contains(&checked.bytes, b"\x21\xf9\x04"),
        "frame timing is kept"
    );
}

#[test]
fn a_file_that_is_not_an_image_is_named_by_what_it_looks_like() {
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj".to_vec();
    let e = check_upload(&pdf).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("not an image: the file starts like a PDF"),
        "{e}"
    );
    let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";
    assert!(check_upload(svg)
        .unwrap_err()
        .to_string()
        .contains("an SVG drawing"));
    let zip = b"PK\x03\x04rest of a docx";
    assert!(check_upload(zip)
        .unwrap_err()
        .to_string()
        .contains("ZIP archive"));
    assert_eq!(check_upload(b"").unwrap_err(), ImageError::Empty);
    // A name or a type never decides: JPEG bytes are a JPEG whatever they are called.
    assert_eq!(sniff(&jpeg(2, 2)).unwrap(), ImageKind::Jpeg);
}

#[test]
fn an_image_over_the_size_limit_is_refused_with_its_size() {
    let mut big = png(4, 4);
    big.resize(12_300_000, 0);
    let e = check_upload(&big).unwrap_err();
    assert_eq!(e.to_string(), "image is 12.3 MB; the limit is 10 MB");
}

fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    // A tiny compressed stream that would inflate to the whole picture: a bomb.
    out.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header_before_decoding() {
    let e = check_upload(&png_header_only(9_000, 9_000)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "9000x9000 pixels is over the 8000-pixel limit per side"
    );
    let e = check_upload(&png_header_only(7_000, 7_000)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "7000x7000 pixels is over the 40-megapixel limit"
    );
}

#[test]
fn a_damaged_file_is_refused_as_not_decoding() {
    let mut broken = png(16, 16);
    let mid = broken.len() / 2;
    broken.truncate(mid);
    let e = check_upload(&broken).unwrap_err();
    assert!(
        e.to_string().starts_with("the PNG file does not decode"),
        "{e}"
    );
    let mut jpeg_cut = jpeg(16, 16);
    jpeg_cut.truncate(40);
    assert!(check_upload(&jpeg_cut).is_err());
}
