//! `tocsin`: the command line and, later, the server of the Tocsin broadcast coordinator.
//!
//! This binary only wires things together: it loads [`config::Config`], parses the
//! command line ([`cli`]) and hands each command to its module under [`commands`].
//! Everything that decides anything lives in the library crates.

mod cli;
mod commands;
mod config;
mod playbook_approvals;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
