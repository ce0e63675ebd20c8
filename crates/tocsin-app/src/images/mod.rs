//! Images on drafts: an upload is checked ([`check`]), stripped of its metadata
//! ([`strip`]), stored once under its content hash and audited; a draft names up to
//! four of them, each with a description (alt text) that is required, goes through the
//! PHI guard, and is held to each targeted platform's rules ([`assess`]) at preview, so a
//! message a platform would refuse never reaches approval.

pub mod check;
mod strip;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use tocsin_domain::approval::Blocker;
use tocsin_domain::phi::PhiHit;
use tocsin_domain::Platform;
use tocsin_store::images::{MessageImage, NewImage, StoredImage};

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::Authed;
use crate::Tocsin;

/// Images a draft may carry.
pub const MAX_IMAGES_PER_DRAFT: usize = 4;

/// One image of a draft: which stored image, and its description.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DraftImage {
    /// The stored image's SHA-256 (lower-case hex), as the upload answered.
    pub sha256: String,
    /// What it shows, for people who cannot see it (required before submission).
    #[serde(default)]
    pub alt: String,
    /// The same picture drawn square (an alert card at 1080x1080): sent instead to
    /// platforms that want square pictures (Instagram), checked against their rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub square: Option<String>,
    /// For an alert card: what it was drawn from ([`card_stamp`] of the step and the
    /// values), so a card that no longer shows the draft's values is refused at preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
}

/// What an alert card was drawn from: the step and the values (those given, trimmed), as
/// `<step>:<SHA-256 of them>`. A draft whose card was drawn from other values than its
/// own is refused at preview: the picture would say what the text no longer says.
pub fn card_stamp(step: &str, values: &std::collections::BTreeMap<String, String>) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for (name, value) in values {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        for part in [name.as_str(), value] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
    }
    format!("{step}:{}", hex::encode(h.finalize()))
}

/// What an upload answers, and what a preview shows of each image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageView {
    /// Its content hash: the name a draft gives it.
    pub sha256: String,
    /// Its media type, read from its content.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Its size in bytes (after metadata was stripped).
    pub bytes: u64,
    /// Where a signed-in user can fetch it (`/api/images/<sha256>`).
    pub url: String,
    /// Its description, on a draft (empty for an upload).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt: String,
}

/// What a preview says of a draft's images.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImagesView {
    /// The images, in order.
    pub items: Vec<ImageView>,
    /// The variant targets (platform ids) whose post goes without the images.
    pub sent_without: Vec<String>,
    /// In words, per platform: "SMS: sent without the image", ...
    pub notes: Vec<String>,
    /// The variant targets (platform ids) that take no post without an image, when the
    /// draft has none: their deliveries would fail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_image: Vec<String>,
}

/// Checks an upload, strips its metadata and stores it under its hash (drafters and up).
/// Audited as `image.upload` with the hash. Nothing is stored when a check fails.
pub async fn upload(app: &Tocsin, who: &Authed, body: &[u8]) -> AppResult<ImageView> {
    who.require(app, Permission::EditDrafts)?;
    let checked =
        check::check_upload(body).map_err(|e| AppError::invalid("file", e.to_string()))?;
    let image = NewImage {
        sha256: checked.sha256.clone(),
        media_type: checked.kind.media_type().to_string(),
        width: checked.width,
        height: checked.height,
        bytes: checked.bytes,
    };
    app.0.store.images().put(who.user(), &image).await?;
    Ok(view_of(
        &image.sha256,
        &image.media_type,
        image.width,
        image.height,
        image.bytes.len() as u64,
        "",
    ))
}

/// An approved image served at `[server] public_url` + `/media/<token>` (or
/// `/media/<token>/square`) to a platform that fetches images itself, without signing in:
/// only while a delivery of its message to such a platform (Instagram, Threads) is under
/// way; `None` otherwise, and for a token that names nothing, so a link stops working
/// once it is no longer needed and reveals nothing before.
pub async fn served(app: &Tocsin, token: &str, square: bool) -> AppResult<Option<StoredImage>> {
    // Tokens are 43 URL-safe base64 characters; anything else is not looked up.
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(None);
    }
    let which = if square {
        tocsin_store::images::ServedFile::Square
    } else {
        tocsin_store::images::ServedFile::Image
    };
    Ok(app
        .0
        .store
        .images()
        .served(token, which, &tocsin_connectors::fetching_images())
        .await?)
}

/// Keeps a drawn alert card as a draft image (drafters and up): the landscape card as it
/// was drawn (PNG), and its square version re-encoded as JPEG (Instagram takes JPEG only),
/// each checked and stored like an upload (audited as `image.upload`). Answers the image
/// with the card's alt text and its square version named.
pub async fn attach_card(
    app: &Tocsin,
    who: &Authed,
    landscape_png: &[u8],
    square_png: &[u8],
    alt: &str,
    stamp: String,
) -> AppResult<DraftImage> {
    who.require(app, Permission::EditDrafts)?;
    let square_jpeg = to_jpeg(square_png).map_err(|e| AppError::internal(&e))?;
    let landscape = upload(app, who, landscape_png).await?;
    let square = upload(app, who, &square_jpeg).await?;
    Ok(DraftImage {
        sha256: landscape.sha256,
        alt: alt.to_string(),
        square: Some(square.sha256),
        card: Some(stamp),
    })
}

/// A drawn PNG as a JPEG of quality 92 (the card's flat colours and large type survive it).
fn to_jpeg(png: &[u8]) -> Result<Vec<u8>, image::ImageError> {
    let decoded = image::load_from_memory_with_format(png, image::ImageFormat::Png)?.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&decoded)?;
    Ok(out)
}

fn view_of(
    sha: &str,
    media_type: &str,
    width: u32,
    height: u32,
    bytes: u64,
    alt: &str,
) -> ImageView {
    ImageView {
        sha256: sha.to_string(),
        media_type: media_type.to_string(),
        width,
        height,
        bytes,
        url: format!("/api/images/{sha}"),
        alt: alt.to_string(),
    }
}

/// Whether `text` is a SHA-256 in lower-case hex.
fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A stored image (viewers and up), for previews.
pub async fn get(app: &Tocsin, who: &Authed, sha256: &str) -> AppResult<StoredImage> {
    who.require(app, Permission::ViewDrafts)?;
    if !is_sha256(sha256) {
        return Err(AppError::not_found(
            "no such image: an image is named by its SHA-256 in lower-case hex",
        ));
    }
    app.0
        .store
        .images()
        .get(sha256)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no image {sha256}")))
}

/// The images as the message stores them.
pub fn for_message(images: &[DraftImage]) -> Vec<MessageImage> {
    images
        .iter()
        .map(|i| MessageImage {
            sha256: i.sha256.clone(),
            alt: i.alt.trim().to_string(),
            square: i.square.clone(),
        })
        .collect()
}

fn mb(bytes: u64) -> String {
    let tenths = (bytes + 50_000) / 100_000;
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

fn kind_name(media_type: &str) -> &str {
    media_type.strip_prefix("image/").unwrap_or(media_type)
}

/// What the platform rules look at of one image of a message.
#[derive(Debug, Clone, Copy)]
pub struct ImageFacts<'a> {
    /// Its place, from 1.
    pub number: usize,
    /// How many images the message has.
    pub count: usize,
    /// Its media type.
    pub media_type: &'a str,
    /// Its size in bytes.
    pub bytes: u64,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Its description.
    pub alt: &'a str,
}

/// The first platform among `platforms` that would refuse this image, as (field suffix:
/// `""` for the image, `.alt` for its description; the message naming the platform).
pub fn platform_problem(
    facts: &ImageFacts<'_>,
    platforms: &[Platform],
) -> Option<(&'static str, String)> {
    let n = facts.number;
    let alt_chars = facts.alt.chars().count();
    for platform in platforms
        .iter()
        .copied()
        .filter(|p| *p != Platform::Sandbox)
    {
        let Some(rules) = tocsin_connectors::descriptor(platform).and_then(|d| d.images) else {
            continue;
        };
        let name = platform.display_name();
        let problem = if facts.count > rules.max_images {
            Some((
                "",
                format!(
                    "takes {} images a post at most; this message has {}",
                    rules.max_images, facts.count
                ),
            ))
        } else if !rules.media_types.contains(&facts.media_type) {
            Some((
                "",
                format!(
                    "takes {} only; image {n} is {}",
                    rules
                        .media_types
                        .iter()
                        .map(|t| kind_name(t).to_uppercase())
                        .collect::<Vec<_>>()
                        .join(", "),
                    kind_name(facts.media_type).to_uppercase()
                ),
            ))
        } else if facts.bytes > rules.max_bytes {
            Some((
                "",
                format!(
                    "takes images up to {}; image {n} is {}",
                    mb(rules.max_bytes),
                    mb(facts.bytes)
                ),
            ))
        } else if rules
            .max_pixels
            .is_some_and(|max| u64::from(facts.width) * u64::from(facts.height) > max)
        {
            Some((
                "",
                format!(
                    "takes images of fewer than {} pixels; image {n} is {}x{}",
                    rules.max_pixels.unwrap_or_default(),
                    facts.width,
                    facts.height
                ),
            ))
        } else if rules.alt_max_chars.is_some_and(|max| alt_chars > max) {
            Some((
                ".alt",
                format!(
                    "takes descriptions up to {} characters; image {n}'s has {alt_chars}",
                    rules.alt_max_chars.unwrap_or_default()
                ),
            ))
        } else {
            None
        };
        if let Some((suffix, why)) = problem {
            return Some((suffix, format!("{name}: {why}")));
        }
    }
    None
}

/// What is stored of the image named `sha256` (media type, width, height, bytes): none
/// when it is not a hash or no uploaded image has it.
async fn stored_facts(app: &Tocsin, sha256: &str) -> AppResult<Option<(String, u32, u32, u64)>> {
    if !is_sha256(sha256) {
        return Ok(None);
    }
    Ok(app.0.store.images().facts(sha256).await?)
}

/// Checks a draft's images against what each targeted platform takes: each exists, is
/// described, and fits every platform's rules (a refusal is a 422 naming the image and
/// the platform). Descriptions go through the PHI guard (`phi`: the step's values allowed
/// where they appear, as in its texts): a hit is a blocker on `images.<n>.alt`, which an
/// approver can only override with consent, as for text.
pub async fn assess(
    app: &Tocsin,
    phi: impl Fn(&str) -> Vec<PhiHit>,
    images: &[DraftImage],
    platforms: &[Platform],
    stamp: &str,
) -> AppResult<(ImagesView, Vec<Blocker>)> {
    if images.is_empty() {
        return Ok((without_images(platforms), Vec::new()));
    }
    if images.len() > MAX_IMAGES_PER_DRAFT {
        return Err(AppError::invalid(
            "images",
            format!(
                "a draft carries {MAX_IMAGES_PER_DRAFT} images at most; this one has {}",
                images.len()
            ),
        ));
    }
    let mut view = ImagesView::default();
    let mut blockers = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let n = i + 1;
        let field = format!("images.{i}");
        let (media_type, width, height, bytes) = stored_facts(app, &image.sha256)
            .await?
            .ok_or_else(|| {
            AppError::invalid(
                format!("{field}.sha256"),
                format!("image {n}: no uploaded image has the hash `{}`: upload it first (POST /api/images)", image.sha256.chars().take(80).collect::<String>()),
            )
        })?;
        if image.card.as_deref().is_some_and(|c| c != stamp) {
            return Err(AppError::invalid(
                field.clone(),
                format!("image {n} is the alert card drawn with other values than the draft has now: remove it and add the card again, so the picture says what the text says"),
            ));
        }
        let alt = image.alt.trim();
        if alt.is_empty() {
            return Err(AppError::invalid(
                format!("{field}.alt"),
                format!("image {n} has no description: describe what it shows for people who cannot see it (alt text is required)"),
            ));
        }
        for hit in phi(alt) {
            blockers.push(Blocker::Phi {
                target: format!("{field}.alt"),
                family: hit.family.as_str().to_string(),
                description: hit.family.description().to_string(),
                variable: None,
            });
        }
        let facts = ImageFacts {
            number: n,
            count: images.len(),
            media_type: &media_type,
            bytes,
            width,
            height,
            alt,
        };
        // Platforms that want square pictures are sent the square version where there is
        // one, and it is what their rules are held to.
        let wants_square = |p: &Platform| {
            image.square.is_some()
                && tocsin_connectors::descriptor(*p)
                    .and_then(|d| d.images)
                    .is_some_and(|r| r.square)
        };
        let (square_platforms, others): (Vec<Platform>, Vec<Platform>) =
            platforms.iter().copied().partition(wants_square);
        if let Some((suffix, message)) = platform_problem(&facts, &others) {
            return Err(AppError::invalid(format!("{field}{suffix}"), message));
        }
        if let Some(square) = &image.square {
            let (sq_type, sq_width, sq_height, sq_bytes) = stored_facts(app, square)
                .await?
                .ok_or_else(|| {
                AppError::invalid(
                    format!("{field}.square"),
                    format!("image {n}: no uploaded image has the hash `{}` given as its square version", square.chars().take(80).collect::<String>()),
                )
            })?;
            if sq_width != sq_height {
                return Err(AppError::invalid(
                    format!("{field}.square"),
                    format!("image {n}: its square version is {sq_width}x{sq_height}, not square"),
                ));
            }
            let square_facts = ImageFacts {
                media_type: &sq_type,
                bytes: sq_bytes,
                width: sq_width,
                height: sq_height,
                ..facts
            };
            if let Some((suffix, message)) = platform_problem(&square_facts, &square_platforms) {
                let suffix = if suffix.is_empty() { ".square" } else { suffix };
                return Err(AppError::invalid(
                    format!("{field}{suffix}"),
                    format!("{message} (its square version)"),
                ));
            }
        }
        view.items.push(view_of(
            &image.sha256,
            &media_type,
            width,
            height,
            bytes,
            alt,
        ));
    }
    for platform in platforms
        .iter()
        .copied()
        .filter(|p| *p != Platform::Sandbox)
    {
        let rules = tocsin_connectors::descriptor(platform).and_then(|d| d.images);
        let name = platform.display_name();
        match rules {
            None => {
                view.sent_without.push(platform.as_str().to_string());
                view.notes.push(format!(
                    "{name}: sent without the image{}",
                    if images.len() > 1 { "s" } else { "" }
                ));
            }
            Some(r) if !r.alt_sent => view.notes.push(format!(
                "{name}: the image goes without its description ({name} has no alt text)"
            )),
            Some(_) => {}
        }
        if images.iter().any(|i| i.square.is_some()) && rules.is_some_and(|r| r.square) {
            view.notes
                .push(format!("{name}: sent the square version of the card"));
        }
    }
    Ok((view, blockers))
}

/// What a preview says of a message without images: which targeted platforms take no
/// post without one (their deliveries would fail).
fn without_images(platforms: &[Platform]) -> ImagesView {
    let mut view = ImagesView::default();
    for platform in platforms {
        if tocsin_connectors::descriptor(*platform)
            .and_then(|d| d.images)
            .is_some_and(|r| r.required)
        {
            let name = platform.display_name();
            view.notes.push(format!(
                "{name}: takes no post without an image: add one (an alert card, a map), or its delivery fails"
            ));
            view.needs_image.push(platform.as_str().to_string());
        }
    }
    view
}
