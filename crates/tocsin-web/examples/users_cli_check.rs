//! Temporary compile check of crates/tocsin/src/commands/users.rs against a stub config.
#![allow(missing_docs, dead_code)]
#[path = "../../tocsin/src/commands/users.rs"]
mod users;
mod config {
    use std::path::PathBuf;
    pub struct DatabaseConfig { pub url: String }
    pub struct AuditConfig { pub checkpoint_every_entries: u64, pub checkpoint_every_seconds: u64, pub origin: String }
    pub struct SecretsConfig { pub key_file: Option<PathBuf> }
    pub struct Config { pub data_dir: PathBuf, pub database: DatabaseConfig, pub audit: AuditConfig, pub secrets: SecretsConfig }
}
#[derive(clap::Parser)]
struct Cli { #[command(subcommand)] cmd: users::UsersCommand }
fn main() -> anyhow::Result<std::process::ExitCode> {
    use clap::Parser as _;
    let cli = Cli::parse();
    let dir = std::env::var("CHECK_DIR").unwrap_or_else(|_| "/tmp/tocsin-users-check".into());
    let config = config::Config {
        data_dir: dir.into(),
        database: config::DatabaseConfig { url: "sqlite://tocsin.db".into() },
        audit: config::AuditConfig { checkpoint_every_entries: 1000, checkpoint_every_seconds: 300, origin: "tocsin.local/audit".into() },
        secrets: config::SecretsConfig { key_file: None },
    };
    users::run(&config, cli.cmd)
}
