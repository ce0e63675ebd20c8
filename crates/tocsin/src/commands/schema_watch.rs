//! A running node watches the database's schema version: when a newer release migrates
//! the database under it (an upgrade across nodes), the node stops as it does on SIGTERM,
//! rather than go on writing rows in a shape the new schema no longer has.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tocsin_store::{Store, SCHEMA_VERSION};

/// The exit status of a node stopped by a newer schema (`EX_TEMPFAIL`: start the new
/// release and it runs).
pub const EXIT_SCHEMA_MOVED: u8 = 75;

/// Why the watch fired: the version a newer release migrated the database to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaMoved {
    /// The database's version now.
    pub found: i64,
}

impl SchemaMoved {
    /// What the node says as it stops.
    pub fn explain(&self) -> String {
        format!(
            "the database was upgraded to schema version {} by a newer release of Tocsin; this \
             node knows version {SCHEMA_VERSION}, so it stopped taking work (deliveries in \
             flight were recorded; the new release's nodes finish what it held). Start the new \
             release on this machine.",
            self.found
        )
    }
}

/// Completes when the database's schema is newer than this binary knows, recording why in
/// `moved`; looks every `every`. A look that fails (the database down) is logged and the
/// watch goes on: the database being away is not an upgrade.
pub async fn until_schema_moves(store: Store, every: Duration, moved: Arc<OnceLock<SchemaMoved>>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.schema_version().await {
            Ok(Some(found)) if found > SCHEMA_VERSION => {
                let why = SchemaMoved { found };
                tracing::error!(found, known = SCHEMA_VERSION, "{}", why.explain());
                let _ = moved.set(why);
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not read the database's schema version");
            }
        }
    }
}
