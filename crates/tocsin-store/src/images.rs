//! Uploaded images, kept once each under the SHA-256 of their (metadata-stripped) bytes,
//! and the images an approved message carries, in order, with their approved alt text.
//!
//! The store does not check images: the app does before it puts one here. An upload is
//! audited as `image.upload` with the hash, never the bytes.
//!
//! Each image of a message gets a random public token when it is attached: the name under
//! which a server serves it at `[server] public_url` (`/media/<token>`) to platforms that
//! fetch images themselves, and only while such a delivery is under way
//! ([`Images::served`]).

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
    /// The same picture drawn square (an alert card at 1080x1080), sent instead to
    /// platforms that want square pictures.
    pub square: Option<String>,
}

/// A stored file as dispatch hands it on: shared bytes, cheap to clone per delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Its media type.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// The file.
    pub bytes: bytes::Bytes,
}

impl From<StoredImage> for ImageFile {
    fn from(s: StoredImage) -> ImageFile {
        ImageFile {
            sha256: s.sha256,
            media_type: s.media_type,
            width: s.width,
            height: s.height,
            bytes: bytes::Bytes::from(s.bytes),
        }
    }
}

/// Which file of a message image a public link serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedFile {
    /// The image as approved.
    Image,
    /// Its square version.
    Square,
}

/// One image of a message as dispatch hands it to a connector: the file, its square
/// version if it has one, its approved description and its public token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageForSending {
    /// The image as approved.
    pub file: ImageFile,
    /// The same picture drawn square, for platforms that want square pictures.
    pub square: Option<ImageFile>,
    /// Its approved description.
    pub alt: String,
    /// The random name it is served under at `[server] public_url` while a delivery to a
    /// platform that fetches images needs it (`None` for images attached before schema
    /// version 23).
    pub public_token: Option<String>,
}

/// A fresh public token: 32 random bytes, URL-safe base64 without padding.
fn public_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
            let token = public_token();
            on_tx!(self.tx, c => {
                sqlx::query(
                    "INSERT INTO message_images (message_id, position, sha256, alt, \
                     square_sha256, public_token) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(message_id)
                .bind(position)
                .bind(&image.sha256)
                .bind(&image.alt)
                .bind(&image.square)
                .bind(&token)
                .execute(&mut *c)
                .await?;
            });
        }
        Ok(())
    }

    /// Gives message `to` the images of message `from` (a repeat carries its original's),
    /// each under a public token of its own.
    pub async fn copy(&mut self, from: i64, to: i64) -> Result<(), StoreError> {
        let rows: Vec<(String, String, Option<String>)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT sha256, alt, square_sha256 FROM message_images \
                 WHERE message_id = $1 ORDER BY position",
            )
            .bind(from)
            .fetch_all(&mut *c)
            .await?
        });
        let images: Vec<MessageImage> = rows
            .into_iter()
            .map(|(sha256, alt, square)| MessageImage {
                sha256,
                alt,
                square,
            })
            .collect();
        self.attach(to, &images).await
    }
}

/// A square version named by a message image that is not stored (the foreign key
/// prevents it; a hand-edited database could not).
fn missing_square(message_id: i64, sha: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("message {message_id}: its square image {sha} is not stored").into(),
    ))
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
        Ok(self
            .rows_of_message(message_id)
            .await?
            .into_iter()
            .map(|(m, stored, _)| (m, stored))
            .collect())
    }

    /// Each image of a message with its file and its public token.
    async fn rows_of_message(
        self,
        message_id: i64,
    ) -> Result<Vec<(MessageImage, StoredImage, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT m.alt, m.square_sha256, m.public_token, {} FROM message_images m \
             JOIN images i ON i.sha256 = m.sha256 WHERE m.message_id = $1 ORDER BY m.position",
            IMAGE_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        type Row = (
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            i64,
            i64,
            Vec<u8>,
            String,
            DbTime,
        );
        let rows: Vec<Row> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(message_id).fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(alt, square, token, sha, t, w, h, b, by, at)| {
                let stored = image_from_row((sha, t, w, h, b, by, at))?;
                Ok((
                    MessageImage {
                        sha256: stored.sha256.clone(),
                        alt,
                        square,
                    },
                    stored,
                    token,
                ))
            })
            .collect()
    }

    /// The images of a message as dispatch sends them.
    pub async fn for_sending(self, message_id: i64) -> Result<Vec<ImageForSending>, StoreError> {
        let mut out = Vec::new();
        for (m, stored, public_token) in self.rows_of_message(message_id).await? {
            let square = match &m.square {
                Some(sha) => Some(
                    self.get(sha)
                        .await?
                        .map(ImageFile::from)
                        .ok_or_else(|| missing_square(message_id, sha))?,
                ),
                None => None,
            };
            out.push(ImageForSending {
                file: ImageFile::from(stored),
                square,
                alt: m.alt,
                public_token,
            });
        }
        Ok(out)
    }

    /// The file a public link names, if a delivery of its message to one of `platforms`
    /// (those that fetch images themselves) is still under way: pending, being sent,
    /// waiting to retry, or sent with its answer lost. Nothing otherwise, so a link stops
    /// working once every such delivery has ended.
    pub async fn served(
        self,
        token: &str,
        which: ServedFile,
        platforms: &[tocsin_domain::Platform],
    ) -> Result<Option<StoredImage>, StoreError> {
        if platforms.is_empty() {
            return Ok(None);
        }
        let column = match which {
            ServedFile::Image => "m.sha256",
            ServedFile::Square => "m.square_sha256",
        };
        let list = (0..platforms.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {column} FROM message_images m WHERE m.public_token = $1 AND EXISTS \
             (SELECT 1 FROM deliveries d JOIN accounts a ON a.id = d.account_id \
              WHERE d.message_id = m.message_id \
              AND d.state IN ('pending', 'sending', 'retry_wait', 'unknown') \
              AND a.platform IN ({list}))"
        );
        let sha: Option<Option<String>> = on_pool!(self.store, p => {
            let mut q = sqlx::query_scalar(&sql).bind(token);
            for platform in platforms {
                q = q.bind(platform.as_str());
            }
            q.fetch_optional(p).await?
        });
        match sha.flatten() {
            Some(sha) => self.get(&sha).await,
            None => Ok(None),
        }
    }

    /// How many images are kept.
    pub async fn count(self) -> Result<i64, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM images").fetch_one(p).await?
        }))
    }
}
