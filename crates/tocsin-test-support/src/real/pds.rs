//! The Bluesky PDS (`@atproto/pds` from npm) on loopback with a local PLC directory
//! (`@did-plc/server`) in the same Node 22 process: three accounts under `.test`, one of
//! whose access tokens expire two seconds after issue. Started by `real_servers/pds_server.mjs`.

use std::process::Command;
use std::time::Duration;

use super::{cache_dir, Launch, RealServerError};

/// A running PDS.
pub struct RealPds {
    _launch: Launch,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The `@atproto/pds` version.
    pub version: String,
    /// The account Tocsin posts as.
    pub handle: String,
    /// Its DID.
    pub did: String,
    /// Its app password.
    pub app_password: String,
    /// An access token of that account, signed by this PDS, that expired 30 s ago.
    pub expired_access_token: String,
    /// Another account, to mention.
    pub friend_handle: String,
    /// Its DID.
    pub friend_did: String,
    /// An account whose sessions' access tokens expire two seconds after issue.
    pub expiring_handle: String,
    /// Its app password.
    pub expiring_app_password: String,
}

impl RealPds {
    /// Starts the PDS with Node 22 and the modules `.ci/run` installs under the cache
    /// directory (`node22/package/bin/node`, `pds/node_modules`).
    pub fn start() -> Result<Option<RealPds>, RealServerError> {
        let node = cache_dir()
            .join("node22")
            .join("package")
            .join("bin")
            .join("node");
        let modules = cache_dir().join("pds");
        let needs = modules.join("node_modules").join("@atproto").join("pds");
        let needs = if node.exists() { needs } else { node.clone() };
        let mut command = Command::new(&node);
        command
            .arg(super::scripts_dir().join("pds_server.mjs"))
            .arg(&modules)
            .env("LOG_ENABLED", "false");
        let Some(launch) = Launch::start(
            "Bluesky PDS",
            super::absent(&needs),
            "see the PDS step in .ci/run",
            command,
            Duration::from_secs(120),
        )?
        else {
            return Ok(None);
        };
        // The PDS calls itself `localhost`; connect to the address it listens on.
        let base_url = launch.field("base_url").replace("localhost", "127.0.0.1");
        Ok(Some(RealPds {
            base_url,
            version: launch.field("pds_version"),
            handle: launch.field("handle"),
            did: launch.field("did"),
            app_password: launch.field("app_password"),
            expired_access_token: launch.field("expired_access_token"),
            friend_handle: launch.field("friend_handle"),
            friend_did: launch.field("friend_did"),
            expiring_handle: launch.field("expiring_handle"),
            expiring_app_password: launch.field("expiring_app_password"),
            _launch: launch,
        }))
    }
}
