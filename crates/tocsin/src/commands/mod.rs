//! One module per command group; [`run`] routes a parsed command line to it.

pub mod audit;
mod playbooks;
mod retention;

use anyhow::Result;
use std::process::ExitCode;

use crate::cli::{Cli, Command, RetentionCommand};
use crate::config::Config;

/// Runs a parsed command line; the exit code says whether all was well.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Playbooks(cmd) => playbooks::run(&config, cmd),
        Command::Audit(cmd) => audit::run(&config, cmd),
        Command::Retention(RetentionCommand::Purge) => retention::purge(&config),
        Command::Config => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
