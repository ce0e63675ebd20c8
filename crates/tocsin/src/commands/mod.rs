//! One module per command group; [`run`] routes a parsed command line to it.

pub mod accounts;
pub mod audit;
mod drill;
pub(crate) mod playbooks;
mod retention;
mod serve;
pub mod users;

use anyhow::Result;
use std::process::ExitCode;

use crate::cli::{Cli, Command, RetentionCommand};
use crate::config::Config;

/// Runs a parsed command line; the exit code says whether all was well.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    match cli.command {
        Command::Playbooks(cmd) => playbooks::run(&config, cmd),
        Command::Audit(cmd) => audit::run(&config, cmd),
        Command::Drill(args) => drill::run(&config, &args),
        Command::Users(cmd) => users::run(&config, cmd),
        Command::Accounts(cmd) => accounts::run(&config, cmd),
        Command::Retention(RetentionCommand::Purge) => retention::purge(&config),
        Command::Serve(args) => serve::serve(&config, &args),
        Command::Demo(args) => serve::demo(config, &args),
        Command::Config => {
            // Client secrets given in the environment are not printed back.
            let shown = crate::config::Config {
                oauth: config.oauth.redacted(),
                ..config.clone()
            };
            print!("{}", toml::to_string_pretty(&shown)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Structured logs on stderr, as `[log]` says (`TOCSIN_LOG__LEVEL=debug` for more).
fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}
