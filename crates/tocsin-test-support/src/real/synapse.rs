//! Synapse (PyPI `matrix-synapse`) on loopback with SQLite: an admin, the bot Tocsin posts
//! as, a "flood" user held to a low message rate, a room of today's default version that
//! the bot is in, and one it is not in. Started by `real_servers/synapse_server.py`.

use std::process::Command;
use std::time::Duration;

use super::{cache_dir, signal, Launch, RealServerError};

/// A running Synapse.
pub struct RealSynapse {
    launch: Launch,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its server name (`tocsin.test`).
    pub server_name: String,
    /// Its version (`1.163.2`).
    pub version: String,
    /// The bot's user id.
    pub bot_user: String,
    /// The bot's password (a second login is a second device).
    pub bot_password: String,
    /// The bot's access token.
    pub bot_token: String,
    /// The admin's access token.
    pub admin_token: String,
    /// The flood user's token: that user is limited to a burst of 3 messages, then one
    /// every 10 s.
    pub flood_token: String,
    /// The room the bot and the flood user are in.
    pub room_id: String,
    /// Its room version.
    pub room_version: String,
    /// A room the bot is not in.
    pub other_room_id: String,
    synapse_pid: u32,
}

impl RealSynapse {
    /// Starts Synapse from the venv `.ci/run` makes (`TOCSIN_SYNAPSE_PYTHON` names another
    /// Python with `matrix-synapse`). `Ok(None)` when it is not installed and the policy
    /// allows skipping.
    pub fn start() -> Result<Option<RealSynapse>, RealServerError> {
        let python = std::env::var_os("TOCSIN_SYNAPSE_PYTHON").map_or_else(
            || cache_dir().join("synapse-venv").join("bin").join("python"),
            std::path::PathBuf::from,
        );
        let mut command = Command::new(&python);
        command.arg(super::scripts_dir().join("synapse_server.py"));
        let Some(launch) = Launch::start(
            "Synapse",
            super::absent(&python),
            "python3 -m venv ~/.cache/tocsin-test/synapse-venv && ~/.cache/tocsin-test/synapse-venv/bin/pip install matrix-synapse",
            command,
            Duration::from_secs(180),
        )?
        else {
            return Ok(None);
        };
        let synapse_pid = launch
            .ready
            .get("synapse_pid")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| RealServerError::Start {
                what: "Synapse",
                why: "the ready line has no synapse_pid".into(),
            })?;
        Ok(Some(RealSynapse {
            base_url: launch.field("base_url"),
            server_name: launch.field("server_name"),
            version: launch.field("synapse_version"),
            bot_user: launch.field("bot_user"),
            bot_password: launch.field("bot_password"),
            bot_token: launch.field("bot_token"),
            admin_token: launch.field("admin_token"),
            flood_token: launch.field("flood_token"),
            room_id: launch.field("room_id"),
            room_version: launch.field("room_version"),
            other_room_id: launch.field("other_room_id"),
            synapse_pid,
            launch,
        }))
    }

    /// Stops the homeserver's process (SIGSTOP): connections are accepted by the kernel
    /// but nothing answers, as on an overloaded or frozen server.
    pub fn pause(&self) -> std::io::Result<()> {
        signal(self.synapse_pid, "STOP")
    }

    /// Lets it run again (SIGCONT).
    pub fn resume(&self) -> std::io::Result<()> {
        signal(self.synapse_pid, "CONT")
    }

    /// Synapse's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.launch.data_dir().join("data").join("synapse.log"))
            .unwrap_or_default()
    }
}

impl Drop for RealSynapse {
    fn drop(&mut self) {
        // A paused homeserver would not stop when asked.
        let _ = self.resume();
    }
}
