//! Opening the store as the configuration says: the database URL, the data directory,
//! and the audit log's checkpoint settings.

use anyhow::Result;
use tocsin_store::{AuditSettings, Store, StoreOptions};

use crate::config::Config;

/// Opens (creating and migrating if needed) the configured store.
pub async fn open_store(config: &Config) -> Result<Store> {
    let mut options = StoreOptions::new(config.database.url.clone(), config.data_dir.clone());
    options.audit = AuditSettings {
        origin: config.audit.origin.clone(),
        checkpoint_every_entries: config.audit.checkpoint_every_entries,
        checkpoint_every_seconds: config.audit.checkpoint_every_seconds,
    };
    options.witnesses = crate::witness::configured(config)?;
    Ok(Store::open(options).await?)
}

/// Runs `f` on a fresh single-threaded runtime (commands are synchronous at the top).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(f))
}
