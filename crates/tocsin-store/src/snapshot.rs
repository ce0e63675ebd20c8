//! A consistent copy of a live SQLite database, taken while the server runs: SQLite's
//! `VACUUM INTO` reads one transaction's snapshot (writers go on; WAL mode lets them) and
//! writes it as a new, compacted database file. PostgreSQL is backed up with its own
//! tools (`pg_dump`), as the README's "Backup and restore" says.

use std::path::Path;

use crate::backend::Pool;
use crate::{Store, StoreError};

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
}
