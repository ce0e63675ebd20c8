//! What every connector that sends images shares: a `multipart/form-data` body built
//! by hand (the upload endpoints of Mastodon, X, Telegram and Discord take one), a file
//! name for an image (its content hash, never a user's file name), and the size check
//! made before an upload, so a platform's limit fails with a clear error and no call.

use bytes::{BufMut, Bytes, BytesMut};
use tocsin_connector::{ConnectorError, PostImage};

/// A `multipart/form-data` body under construction.
#[derive(Debug)]
pub struct Multipart {
    boundary: String,
    body: BytesMut,
}

impl Multipart {
    /// An empty form whose boundary is derived from `seed` (an image hash or a key):
    /// it only has to be absent from the parts, and hex text and image bytes with a
    /// 40-character random-looking tail make a collision practically impossible.
    pub fn new(seed: &str) -> Multipart {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("tocsin-form:{seed}").as_bytes());
        let tail: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        Multipart {
            boundary: format!("tocsin-{tail}"),
            body: BytesMut::new(),
        }
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        self.head(name, None, None);
        self.body.put_slice(value.as_bytes());
        self.body.put_slice(b"\r\n");
        self
    }

    /// Adds a JSON field (`Content-Type: application/json`).
    pub fn json_part(mut self, name: &str, json: &str) -> Multipart {
        self.head(name, None, Some("application/json"));
        self.body.put_slice(json.as_bytes());
        self.body.put_slice(b"\r\n");
        self
    }

    /// Adds a file field.
    pub fn file(mut self, name: &str, filename: &str, media_type: &str, bytes: &[u8]) -> Multipart {
        self.head(name, Some(filename), Some(media_type));
        self.body.put_slice(bytes);
        self.body.put_slice(b"\r\n");
        self
    }

    fn head(&mut self, name: &str, filename: Option<&str>, media_type: Option<&str>) {
        // Names and file names are ours (field names, hashes): quotes and line breaks
        // cannot occur, and are dropped if they ever did.
        let clean = |s: &str| s.replace(['"', '\r', '\n'], "");
        self.body
            .put_slice(format!("--{}\r\n", self.boundary).as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", clean(name));
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{}\"", clean(f)));
        }
        self.body.put_slice(disposition.as_bytes());
        self.body.put_slice(b"\r\n");
        if let Some(t) = media_type {
            self.body
                .put_slice(format!("Content-Type: {}\r\n", clean(t)).as_bytes());
        }
        self.body.put_slice(b"\r\n");
    }

    /// The `Content-Type` header value and the finished body.
    pub fn finish(mut self) -> (String, Bytes) {
        self.body
            .put_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body.freeze(),
        )
    }
}

/// The file name an image is uploaded under: the start of its hash and the extension
/// of its type (`3f2a….png`).
pub fn file_name(image: &PostImage) -> String {
    let extension = match image.media_type.as_str() {
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "png",
    };
    let stem: String = image.sha256.chars().take(16).collect();
    format!("{stem}.{extension}")
}

/// Refuses, before any call, an image over `max_bytes` on `platform`, or more than
/// `max_images` images: no platform would take them, and nothing should be half-sent.
pub fn check_images(
    images: &[PostImage],
    platform: &str,
    max_images: usize,
    max_bytes: usize,
) -> Result<(), ConnectorError> {
    if images.len() > max_images {
        return Err(ConnectorError::Permanent(format!(
            "{platform} takes at most {max_images} images on a post, and this one has {}",
            images.len()
        )));
    }
    for (i, image) in images.iter().enumerate() {
        if image.bytes.len() > max_bytes {
            return Err(ConnectorError::Permanent(format!(
                "image {} is {} bytes, over {platform}'s limit of {max_bytes}",
                i + 1,
                image.bytes.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(bytes: &'static [u8]) -> PostImage {
        PostImage {
            sha256: "ab".repeat(32),
            media_type: "image/jpeg".into(),
            width: 2,
            height: 1,
            alt: "A map".into(),
            bytes: Bytes::from_static(bytes),
            public_url: None,
        }
    }

    #[test]
    fn a_form_lists_fields_then_ends_with_the_closing_boundary() {
        let (content_type, body) = Multipart::new("k")
            .text("description", "A map")
            .file("file", "a.png", "image/png", b"\x89PNG")
            .finish();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nA map\r\n"
        )));
        assert!(
            text.contains("name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n")
        );
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn an_image_over_the_limit_or_one_too_many_is_refused_before_any_call() {
        assert_eq!(file_name(&image(b"x")), format!("{}.jpg", "ab".repeat(8)));
        assert!(check_images(&[image(b"1234")], "Bluesky", 4, 4).is_ok());
        let too_big = check_images(&[image(b"12345")], "Bluesky", 4, 4).unwrap_err();
        assert!(
            too_big.to_string().contains("over Bluesky's limit of 4"),
            "{too_big}"
        );
        let many = vec![image(b"1"); 5];
        assert!(matches!(
            check_images(&many, "X", 4, 10),
            Err(ConnectorError::Permanent(_))
        ));
    }
}

/// Images built from the test-support fixtures, for each connector's tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use bytes::Bytes;
    use tocsin_connector::PostImage;
    use tocsin_test_support::images::{
        sha256_hex, CARD_HEIGHT, CARD_PNG, CARD_WIDTH, MAP_HEIGHT, MAP_PNG, MAP_WIDTH,
    };

    /// The 64×48 map with its description.
    pub fn map() -> PostImage {
        PostImage {
            sha256: sha256_hex(MAP_PNG),
            media_type: "image/png".into(),
            width: MAP_WIDTH,
            height: MAP_HEIGHT,
            alt: "Map of Ward 3: the boil-water area is shaded, east of the river.".into(),
            bytes: Bytes::from_static(MAP_PNG),
            public_url: None,
        }
    }

    /// The 30×20 card with its description.
    pub fn card() -> PostImage {
        PostImage {
            sha256: sha256_hex(CARD_PNG),
            media_type: "image/png".into(),
            width: CARD_WIDTH,
            height: CARD_HEIGHT,
            alt: "Alert card: boil water for one minute; use bottled water for formula.".into(),
            bytes: Bytes::from_static(CARD_PNG),
            public_url: None,
        }
    }
}
