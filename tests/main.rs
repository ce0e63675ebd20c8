//! End-to-end tests of Tocsin through its public surface: the `tocsin` binary.
//!
//! One test binary (as ripgrep does) so the suite links once. Each module is a story;
//! every test works in its own temporary directory with a copy of the shipped library.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

mod accounts_cli;
mod alert_rules;
mod audit_cli;
mod backup_cli;
mod cli_conventions;
mod config_cli;
mod crash_cli;
mod drill_cli;
mod list_json_cli;
mod operations_cli;
mod playbooks_cli;
mod proxy_cli;
mod telemetry_cli;
mod users_cli;
