//! Retention: rendered texts older than the configured period are deleted; their SHA-256
//! stays, as does every audit entry committing to them.

use chrono::Duration;
use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::tx::{on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};

impl RetentionTx<'_, '_> {
    /// Deletes rendered bodies older than `retention` (hashes and the audit log stay),
    /// audited as `retention.purge`. Returns how many bodies were deleted.
    pub async fn purge_bodies(&mut self, retention: Duration) -> Result<u64, StoreError> {
        let cutoff = crate::time::DbTime(self.tx.now() - retention);
        let purged = on_tx!(self.tx, c => {
            sqlx::query(
                "DELETE FROM rendered_bodies WHERE variant_id IN \
                 (SELECT id FROM rendered_variants WHERE created_at < $1)",
            )
            .bind(cutoff)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        self.tx
            .append_audit(
                AuditEvent::new("system", "retention.purge")
                    .subject("before", cutoff.to_string())
                    .outcome(format!("{purged} bodies purged")),
            )
            .await?;
        Ok(purged)
    }
}

impl Retention<'_> {
    /// Purges old bodies in its own transaction.
    pub async fn purge_bodies(self, retention: Duration) -> Result<u64, StoreError> {
        one_tx!(self.store, tx => tx.retention().purge_bodies(retention).await?)
    }
}
