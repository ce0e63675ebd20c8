//! A consistent copy of a live SQLite database, taken while the server runs: SQLite's
//! `VACUUM INTO` reads one transaction's snapshot (writers go on; WAL mode lets them) and
//! writes it as a new, compacted database file. PostgreSQL is backed up with its own
//! tools (`pg_dump`), as the README's "Backup and restore" says.
//!
//! A restored copy gets an installation id of its own ([`Store::renew_installation_id`]),
//! so it never reuses the idempotency keys of the installation it was copied from.

use std::path::Path;

use crate::backend::Pool;
use crate::{Store, StoreError};
use tocsin_audit::AuditEvent;

impl Store {
    /// Writes a consistent snapshot of the SQLite database to `dest`, which must not
    /// exist. On PostgreSQL this is refused with the command to use instead.
    pub async fn snapshot_into(&self, dest: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite(pool) = &self.inner.pool else {
            return Err(StoreError::Conflict(
                "a PostgreSQL database is backed up with pg_dump (see the README's \"Backup \
                 and restore\"); tocsin backup takes SQLite snapshots"
                    .into(),
            ));
        };
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{}: already exists; a snapshot never overwrites a file",
                dest.display()
            )));
        }
        let Some(dest_text) = dest.to_str() else {
            return Err(StoreError::Conflict(format!(
                "{}: the snapshot's path must be valid UTF-8",
                dest.display()
            )));
        };
        sqlx::query("VACUUM INTO $1")
            .bind(dest_text)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Gives this database a new installation id (after a restore: the copy must not
    /// share idempotency keys with the installation it came from), audited as
    /// `installation.renew` with both ids. Takes effect for stores opened afterwards.
    pub async fn renew_installation_id(&self, actor: &str) -> Result<String, StoreError> {
        // Made by the database, as migration 11 made the first one.
        let new: String = match &self.inner.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(
                    "UPDATE installation SET installation_id = lower(hex(randomblob(16))) \
                     WHERE id = 1 RETURNING installation_id",
                )
                .fetch_one(p)
                .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(
                    "UPDATE installation SET installation_id = \
                     replace(gen_random_uuid()::text, '-', '') WHERE id = 1 RETURNING installation_id",
                )
                .fetch_one(p)
                .await?
            }
        };
        self.append_audit(
            AuditEvent::new(actor, "installation.renew")
                .subject("was", self.installation_id().to_string())
                .outcome(format!("installation id is now {new}")),
        )
        .await?;
        Ok(new)
    }
}
