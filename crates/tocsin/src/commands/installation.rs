//! `tocsin installation renew --yes`: give the database a new installation id, as
//! `tocsin restore` does, for a copy made another way (a PostgreSQL `pg_restore`, a copied
//! SQLite file). Idempotency keys carry the id, so a copy that keeps the original's would
//! get the original's posts back as its own on platforms that deduplicate.
//!
//! The change is audited (`installation.renew`, with both ids). Running servers read the
//! id when they start, so the command is for a stopped installation; it refuses while
//! deliveries are queued or in flight, whose retries would carry a different key.

use anyhow::{bail, Result};
use std::process::ExitCode;

use crate::commands::users::operator_name;
use crate::config::Config;
use crate::store::{block_on, open_store};

/// `tocsin installation ...`
#[derive(Debug, clap::Subcommand)]
pub enum InstallationCommand {
    /// Give this database a new installation id (after restoring a copy with pg_restore
    /// or by copying files), audited as `installation.renew`. Stop every server first:
    /// a running one keeps the old id until it restarts.
    Renew {
        /// Confirm: without it nothing changes.
        #[arg(long)]
        yes: bool,
        /// Renew even though deliveries are queued or in flight: each is then sent under
        /// the new id, and may be posted again where the original already posted it.
        #[arg(long)]
        despite_queue: bool,
    },
}

/// Runs a `tocsin installation` command.
pub fn run(config: &Config, cmd: InstallationCommand) -> Result<ExitCode> {
    let InstallationCommand::Renew { yes, despite_queue } = cmd;
    block_on(async {
        let store = open_store(config).await?;
        let result = renew(&store, yes, despite_queue).await;
        store.close().await;
        result
    })?
}

async fn renew(store: &tocsin_store::Store, yes: bool, despite_queue: bool) -> Result<ExitCode> {
    let old = store.installation_id().to_string();
    if !yes {
        bail!(
            "this database's installation id is {old}; `tocsin installation renew --yes` gives \
             it a new one (do so on a copy restored with pg_restore or copied by hand, never \
             on the original, with every server stopped). Nothing was changed"
        );
    }
    let queued = store.outbox().queue_depth().await?;
    if queued > 0 && !despite_queue {
        bail!(
            "{queued} deliveries are queued or in flight: their idempotency keys carry the \
             installation id {old}, and renewing it now could post them twice. Let them \
             settle first, or pass --despite-queue on a copy whose queue must go out under \
             its own id. Nothing was changed"
        );
    }
    let new = store.renew_installation_id(&operator_name()).await?;
    println!(
        "installation id was {old}, is now {new} (audited as installation.renew); servers \
         started from now on use it in their idempotency keys"
    );
    Ok(ExitCode::SUCCESS)
}
