//! `tocsin`: the command line and the server (`tocsin serve`, `tocsin demo`) of the Tocsin
//! broadcast coordinator.
//!
//! This binary only wires things together: it loads [`config::Config`], parses the
//! command line ([`cli`]) and hands each command to its module under [`commands`].
//! Everything that decides anything lives in the library crates.

mod cli;
mod commands;
mod config;
mod store;
mod telemetry;
mod witness;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `tocsin audit export | head` closes our stdout early: that is not an error worth a
/// backtrace. Exit quietly, as other command-line tools do, and report every other panic
/// as usual.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
