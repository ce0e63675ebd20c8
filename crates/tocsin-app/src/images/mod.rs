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
use tocsin_domain::phi::PhiGuard;
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

/// Checks a draft's images against what each targeted platform takes: each exists, is
/// described, and fits every platform's rules (a refusal is a 422 naming the image and
/// the platform). Descriptions go through the PHI guard: a hit is a blocker on
/// `images.<n>.alt`, which an approver can only override with consent, as for text.
pub async fn assess(
    app: &Tocsin,
    guard: &PhiGuard,
    images: &[DraftImage],
    platforms: &[Platform],
) -> AppResult<(ImagesView, Vec<Blocker>)> {
    if images.is_empty() {
        return Ok((ImagesView::default(), Vec::new()));
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
        let (media_type, width, height, bytes) = match is_sha256(&image.sha256) {
            true => app.0.store.images().facts(&image.sha256).await?,
            false => None,
        }
        .ok_or_else(|| {
            AppError::invalid(
                format!("{field}.sha256"),
                format!("image {n}: no uploaded image has the hash `{}`: upload it first (POST /api/images)", image.sha256.chars().take(80).collect::<String>()),
            )
        })?;
        let alt = image.alt.trim();
        if alt.is_empty() {
            return Err(AppError::invalid(
                format!("{field}.alt"),
                format!("image {n} has no description: describe what it shows for people who cannot see it (alt text is required)"),
            ));
        }
        for hit in guard.check(alt, &[]) {
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
        if let Some((suffix, message)) = platform_problem(&facts, platforms) {
            return Err(AppError::invalid(format!("{field}{suffix}"), message));
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
    }
    Ok((view, blockers))
}
