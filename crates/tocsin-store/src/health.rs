//! What monitoring asks of the database beyond counts: how long the oldest unsettled
//! delivery has waited, and when the audit log was last signed (`/metrics` turns both
//! into ages that alert rules watch); and the schema version now, which a running node
//! watches so that it stops when a newer release migrates the database under it.

use chrono::{DateTime, Utc};

use crate::time::{opt_time, DbTime};
use crate::tx::on_pool;
use crate::{Store, StoreError};

/// The newest signed checkpoint: how many entries it covers and when it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestCheckpoint {
    /// Entries covered.
    pub size: u64,
    /// When it was signed.
    pub time: Option<DateTime<Utc>>,
}

impl Store {
    /// When the message of the oldest delivery not yet settled (pending, sending, waiting
    /// to retry, unknown) was approved; `None` when the queue is empty.
    pub async fn oldest_unsettled_since(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let oldest: Option<DbTime> = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT MIN(m.approved_at) FROM deliveries d JOIN messages m ON m.id = d.message_id \
                 WHERE d.state IN ('pending', 'retry_wait', 'unknown', 'sending')",
            )
            .fetch_one(p)
            .await?
        });
        Ok(opt_time(oldest))
    }

    /// The database's schema version now: the newest migration applied (`None`: never
    /// migrated). A running node compares it with [`crate::SCHEMA_VERSION`].
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        crate::backend::schema_version(&self.inner.pool, None).await
    }

    /// The newest signed checkpoint, if the log has one.
    pub async fn newest_checkpoint(&self) -> Result<Option<NewestCheckpoint>, StoreError> {
        let row: Option<(i64, String)> = on_pool!(self, p => {
            sqlx::query_as("SELECT size, time FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(p)
                .await?
        });
        Ok(row.map(|(size, t)| NewestCheckpoint {
            size: size.max(0) as u64,
            time: tocsin_audit::entry::parse_time(&t),
        }))
    }
}
