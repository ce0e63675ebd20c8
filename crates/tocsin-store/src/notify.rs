//! Messages between nodes over PostgreSQL `LISTEN` / `NOTIFY`: what the web layer uses to
//! hand control-panel events from the node where they happened to every other node on
//! the same database.
//!
//! Only PostgreSQL has this; on SQLite (one node) [`Store::notify`] does nothing and
//! [`Store::listen`] answers `None`. Channels are per schema (see
//! [`Store::notify_channel`]), so deployments (or test runs) sharing one database in
//! separate schemas never hear each other. A notification's payload is at most
//! [`MAX_PAYLOAD`] bytes (PostgreSQL's limit is 8000); the caller packs and splits.
//!
//! A [`Listener`] holds one connection of its own, outside the store's pool, so a
//! long-lived `LISTEN` never takes a slot that queries need.

use sha2::{Digest as _, Sha256};
use sqlx::postgres::{PgListener, PgPoolOptions};
use std::time::Duration;

use crate::backend::Pool;
use crate::{Store, StoreError};

/// The largest payload [`Store::notify`] sends (PostgreSQL refuses 8000 bytes or more).
pub const MAX_PAYLOAD: usize = 7900;

/// The channel prefix; the schema's name (or its digest) follows.
const CHANNEL_PREFIX: &str = "tocsin_events";

/// A `LISTEN` on one channel, on a connection of its own.
pub struct Listener {
    inner: PgListener,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// The next payload on the channel. `Ok(None)` means the connection was lost:
    /// notifications sent meanwhile are gone, and this listener is spent (open a new one
    /// with [`Store::listen`]).
    pub async fn recv(&mut self) -> Result<Option<String>, StoreError> {
        match self.inner.try_recv().await? {
            Some(n) => Ok(Some(n.payload().to_string())),
            None => Ok(None),
        }
    }
}

/// The channel name for a schema: `tocsin_events` in `public`, `tocsin_events_<schema>`
/// elsewhere (a digest when that would pass PostgreSQL's 63-byte identifier limit).
fn channel_for(schema: &str) -> String {
    if schema == "public" {
        return CHANNEL_PREFIX.to_string();
    }
    let plain = format!("{CHANNEL_PREFIX}_{schema}");
    if plain.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        plain
    } else {
        let digest = Sha256::digest(schema.as_bytes());
        format!("{CHANNEL_PREFIX}_{}", &hex::encode(digest)[..16])
    }
}

impl Store {
    /// The channel this store's nodes notify each other on (`None` on SQLite).
    pub async fn notify_channel(&self) -> Result<Option<String>, StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(p) => {
                let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
                    .fetch_one(p)
                    .await?;
                Ok(Some(channel_for(&schema)))
            }
        }
    }

    /// Sends each payload as one notification on `channel`, in order, in one round trip.
    /// Payloads longer than [`MAX_PAYLOAD`] bytes are refused by PostgreSQL: keep them
    /// short. Does nothing on SQLite.
    pub async fn notify(&self, channel: &str, payloads: &[String]) -> Result<(), StoreError> {
        let Pool::Postgres(p) = &self.inner.pool else {
            return Ok(());
        };
        if payloads.is_empty() {
            return Ok(());
        }
        // WITH ORDINALITY keeps the order; notifications of one transaction are
        // delivered in the order sent.
        sqlx::query(
            "SELECT pg_notify($1, x.payload) FROM unnest($2::text[]) WITH ORDINALITY AS x(payload, n) ORDER BY x.n",
        )
        .bind(channel)
        .bind(payloads)
        .execute(p)
        .await?;
        Ok(())
    }

    /// Starts listening on `channel` on a new connection (`None` on SQLite). Gives up
    /// after `connect_timeout` when the database does not answer.
    pub async fn listen(
        &self,
        channel: &str,
        connect_timeout: Duration,
    ) -> Result<Option<Listener>, StoreError> {
        let Pool::Postgres(p) = &self.inner.pool else {
            return Ok(None);
        };
        let options = p.connect_options().as_ref().clone();
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(connect_timeout)
            .connect_lazy_with(options);
        let mut inner = PgListener::connect_with(&own).await?;
        // A lost connection is reported (`Ok(None)`) rather than silently re-established:
        // the caller must know that notifications may have been missed.
        inner.eager_reconnect(false);
        inner.listen(channel).await?;
        Ok(Some(Listener { inner }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_per_schema_and_fit_an_identifier() {
        assert_eq!(channel_for("public"), "tocsin_events");
        assert_eq!(channel_for("tocsin_t_1_2"), "tocsin_events_tocsin_t_1_2");
        let long = channel_for(&"s".repeat(80));
        assert!(
            long.len() <= 63 && long.starts_with("tocsin_events_"),
            "{long}"
        );
        assert_ne!(channel_for("Odd Name"), channel_for("odd_name"));
        assert!(channel_for("Odd Name")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
