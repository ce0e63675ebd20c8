//! Uploaded images, kept once each under the SHA-256 of their (metadata-stripped) bytes,
//! and the images an approved message carries, in order, with their approved alt text.
//!
//! The store does not check images: the app does before it puts one here. An upload is
//! audited as `image.upload` with the hash, never the bytes.

use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

use crate::time::DbTime;
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;

/// An image to keep, checked and stripped by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// `image/png`, `image/jpeg`, `image/webp` or `image/gif`.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// The file.
    pub bytes: Vec<u8>,
}

/// An image as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Its media type.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// The file.
    pub bytes: Vec<u8>,
    /// Who uploaded it first.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// One image of a message: which, in what place, described how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageImage {
    /// The stored image.
    pub sha256: String,
    /// Its description, approved with the message.
    pub alt: String,
}

/// One image of a message as dispatch hands it to a connector: the file shared (cheap to
/// clone per delivery), with its approved description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageForSending {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Its media type.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Its approved description.
    pub alt: String,
    /// The file.
    pub bytes: bytes::Bytes,
}

/// `sha256, media_type, width, height, bytes, uploaded_by, uploaded_at`.
type ImageRow = (String, String, i64, i64, Vec<u8>, String, DbTime);

const IMAGE_COLUMNS: &str = "sha256, media_type, width, height, bytes, uploaded_by, uploaded_at";

fn image_from_row(row: ImageRow) -> Result<StoredImage, StoreError> {
    let (sha256, media_type, width, height, bytes, uploaded_by, at) = row;
    let side = |v: i64| {
        u32::try_from(v).map_err(|_| {
            StoreError::Database(sqlx::Error::Decode(
                format!("image {sha256}: a side of {v} pixels").into(),
            ))
        })
    };
    Ok(StoredImage {
        width: side(width)?,
        height: side(height)?,
        sha256,
        media_type,
        bytes,
        uploaded_by,
        uploaded_at: at.get(),
    })
}

impl ImagesTx<'_, '_> {
    /// Keeps an image (once: the same bytes uploaded again keep their first uploader),
    /// audited as `image.upload` with subject `image` = the hash. Answers whether it was
    /// new.
    pub async fn put(&mut self, actor: &str, image: &NewImage) -> Result<bool, StoreError> {
        let now = DbTime(self.tx.now());
        let size = i64::try_from(image.bytes.len()).unwrap_or(i64::MAX);
        let inserted = on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO images (sha256, media_type, width, height, byte_size, bytes, \
                 uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&image.sha256)
            .bind(&image.media_type)
            .bind(i64::from(image.width))
            .bind(i64::from(image.height))
            .bind(size)
            .bind(&image.bytes)
            .bind(actor)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "image.upload")
                    .subject("image", image.sha256.as_str())
                    .outcome(format!(
                        "{} {}x{} {} bytes{}",
                        image.media_type,
                        image.width,
                        image.height,
                        image.bytes.len(),
                        if inserted == 0 {
                            ", already stored"
                        } else {
                            ""
                        }
                    )),
            )
            .await?;
        Ok(inserted > 0)
    }

    /// Attaches images, in order, to a message placed in this transaction.
    pub async fn attach(
        &mut self,
        message_id: i64,
        images: &[MessageImage],
    ) -> Result<(), StoreError> {
        for (position, image) in images.iter().enumerate() {
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            on_tx!(self.tx, c => {
                sqlx::query(
                    "INSERT INTO message_images (message_id, position, sha256, alt) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(message_id)
                .bind(position)
                .bind(&image.sha256)
                .bind(&image.alt)
                .execute(&mut *c)
                .await?;
            });
        }
        Ok(())
    }

    /// Gives message `to` the images of message `from` (a repeat carries its original's).
    pub async fn copy(&mut self, from: i64, to: i64) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO message_images (message_id, position, sha256, alt) \
                 SELECT $1, position, sha256, alt FROM message_images WHERE message_id = $2",
            )
            .bind(to)
            .bind(from)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }
}

impl Images<'_> {
    /// [`ImagesTx::put`] in its own transaction.
    pub async fn put(self, actor: &str, image: &NewImage) -> Result<bool, StoreError> {
        one_tx!(self.store, tx => tx.images().put(actor, image).await?)
    }

    /// An image by its hash.
    pub async fn get(self, sha256: &str) -> Result<Option<StoredImage>, StoreError> {
        let sql = format!("SELECT {IMAGE_COLUMNS} FROM images WHERE sha256 = $1");
        let row: Option<ImageRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(sha256).fetch_optional(p).await?
        });
        row.map(image_from_row).transpose()
    }

    /// What is known of an image without its bytes: media type, width, height, size.
    pub async fn facts(self, sha256: &str) -> Result<Option<(String, u32, u32, u64)>, StoreError> {
        let row: Option<(String, i64, i64, i64)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT media_type, width, height, byte_size FROM images WHERE sha256 = $1",
            )
            .bind(sha256)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(t, w, h, n)| {
            (
                t,
                u32::try_from(w).unwrap_or(0),
                u32::try_from(h).unwrap_or(0),
                u64::try_from(n).unwrap_or(0),
            )
        }))
    }

    /// The images of a message, in order, each with its stored file and approved alt.
    pub async fn of_message(
        self,
        message_id: i64,
    ) -> Result<Vec<(MessageImage, StoredImage)>, StoreError> {
        let sql = format!(
            "SELECT m.alt, {} FROM message_images m JOIN images i ON i.sha256 = m.sha256 \
             WHERE m.message_id = $1 ORDER BY m.position",
            IMAGE_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        type Row = (String, String, String, i64, i64, Vec<u8>, String, DbTime);
        let rows: Vec<Row> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(message_id).fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(alt, sha, t, w, h, b, by, at)| {
                let stored = image_from_row((sha, t, w, h, b, by, at))?;
                Ok((
                    MessageImage {
                        sha256: stored.sha256.clone(),
                        alt,
                    },
                    stored,
                ))
            })
            .collect()
    }

    /// The images of a message as dispatch sends them.
    pub async fn for_sending(self, message_id: i64) -> Result<Vec<ImageForSending>, StoreError> {
        Ok(self
            .of_message(message_id)
            .await?
            .into_iter()
            .map(|(m, s)| ImageForSending {
                sha256: s.sha256,
                media_type: s.media_type,
                width: s.width,
                height: s.height,
                alt: m.alt,
                bytes: bytes::Bytes::from(s.bytes),
            })
            .collect())
    }

    /// How many images are kept.
    pub async fn count(self) -> Result<i64, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM images").fetch_one(p).await?
        }))
    }
}
