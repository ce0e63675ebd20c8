//! `tocsin retention purge`: delete rendered message bodies older than the configured
//! retention (`audit.body_retention_days`, six years by default). Audit entries are never
//! deleted, and each purged body's SHA-256 stays in the chain and the variants table, so
//! what was sent can still be proven against a copy kept elsewhere.

use anyhow::Result;
use std::process::ExitCode;

use crate::config::Config;
use crate::store::{block_on, open_store};

/// Purges old bodies and prints how many went.
pub fn purge(config: &Config) -> Result<ExitCode> {
    let days = i64::from(config.audit.body_retention_days);
    let purged = block_on(async {
        let store = open_store(config).await?;
        let purged = store
            .retention()
            .purge_bodies(chrono::Duration::days(days))
            .await?;
        store.close().await;
        Ok::<_, anyhow::Error>(purged)
    })??;
    println!("purged {purged} rendered message bodies older than {days} days (audit entries and hashes kept)");
    Ok(ExitCode::SUCCESS)
}
