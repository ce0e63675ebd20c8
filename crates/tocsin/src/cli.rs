//! The command line, as clap structs: every command, flag and its help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `tocsin --version`: the package version and the git revision it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BUILD_GIT_REVISION"),
    ")"
);

/// Tocsin: pre-approved crisis and live-event messages, to every account at once.
#[derive(Debug, Parser)]
#[command(
    name = "tocsin",
    version = VERSION,
    about = "Pre-approved crisis and live-event messages, approved by two people and sent to every account at once, with a tamper-evident audit log",
    long_about = None
)]
pub struct Cli {
    /// Config file (default: $TOCSIN_CONFIG, else ./tocsin.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with playbooks: list, lint, render, hash, approve.
    #[command(subcommand)]
    Playbooks(PlaybooksCommand),
    /// Rehearse a playbook end to end: render it, send it as an exercise to sandbox
    /// accounts standing in for every platform, watch each delivery, optionally retract.
    Drill(DrillArgs),
    /// Compliance: verify, export and follow the tamper-evident audit log; print its public key.
    #[command(subcommand)]
    Audit(crate::commands::audit::AuditCommand),
    /// Users, roles and second factors.
    #[command(subcommand)]
    Users(crate::commands::users::UsersCommand),
    /// Platform accounts: connect with settings and a secret read from standard input,
    /// list with status, disable, show what each platform takes, rotate the sealing key.
    #[command(subcommand)]
    Accounts(crate::commands::accounts::AccountsCommand),
    /// Retention of rendered message bodies (audit entries are never deleted).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Print the effective configuration (file plus TOCSIN_* environment) as TOML.
    Config,
    /// Take a consistent backup of the SQLite database while the server runs: one tar
    /// file with the snapshot, the audit public key, the newest checkpoint and a manifest
    /// of SHA-256 hashes. The chain is verified first; no secret key goes in.
    Backup {
        /// Where to write it (never overwritten).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Restore a backup into the configured data directory: refuses to overwrite a
    /// database, checks every file against the manifest, needs the audit signing key that
    /// signed the backup's log, and verifies the whole chain before keeping anything.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// The installation id idempotency keys carry: `renew --yes` gives a copy restored
    /// with pg_restore (or copied by hand) an id of its own, audited.
    #[command(subcommand)]
    Installation(crate::commands::installation::InstallationCommand),
    /// Check the installation and say in words what is wrong: configuration, database
    /// and schema, key files and modes, the clock, every account's platform and
    /// credentials, the public URL and the proxy's headers, disk space. Exit 1 on any
    /// failure.
    Doctor {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring the database's schema up to this release (every command does so on open);
    /// `--dry-run` lists the migrations that would apply and changes nothing.
    Migrate {
        /// Say what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the server: the control panel, its JSON API and websocket, and fan-out.
    Serve(ServeArgs),
    /// Run a demo server: SQLite in a fresh data directory, sandbox accounts standing in
    /// for every platform, approved playbooks, and demo users whose credentials (and
    /// current codes) are printed and shown on the sign-in page.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard
    /// output, e.g. `tocsin completions bash > /etc/bash_completion.d/tocsin`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `tocsin man > tocsin.1`.
    Man,
}

/// `tocsin serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `[server] listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// `tocsin demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Keep the demo's data here (default: a temporary directory removed at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `tocsin retention ...`
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Delete rendered message bodies older than `audit.body_retention_days`; their
    /// hashes and every audit entry stay.
    Purge,
}

/// `tocsin playbooks ...`
#[derive(Debug, Subcommand)]
pub enum PlaybooksCommand {
    /// List playbooks with their steps and pre-approval state.
    List {
        /// Playbooks directory (default: from config).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print a JSON array instead: `id`, `title`, `state`, `steps`, `content_hash`,
        /// `approved_content_hash`, `approved_by`, `approved_at`.
        #[arg(long)]
        json: bool,
    },
    /// Check every playbook and template; render each step with its example values for
    /// every platform. Exits non-zero if anything is wrong.
    Lint {
        /// Playbooks directory (default: from config).
        dir: Option<PathBuf>,
        /// Templates directory (default: from config).
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Show exactly what each platform would get, with its count, limit and warnings.
    Render(RenderArgs),
    /// Print a playbook's content hash and the files it covers.
    Hash {
        /// Playbook id.
        id: String,
    },
    /// Record that a reviewer approved the current content of a playbook.
    Approve {
        /// Playbook id.
        id: String,
        /// Who approved it (name or role of the clinical or legal reviewer).
        #[arg(long)]
        by: String,
        /// A note or a reference to the review record.
        #[arg(long)]
        note: Option<String>,
    },
}

/// Variable values given on the command line.
#[derive(Debug, Args)]
pub struct ValueArgs {
    /// A TOML or JSON file of variable values (`area = "North Side"`).
    #[arg(long, value_name = "FILE")]
    pub vars: Option<PathBuf>,
    /// A variable value, `name=value` (repeatable; wins over --vars).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub var: Vec<String>,
}

/// `tocsin drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Playbook id.
    pub id: String,
    /// Step ids, in order (repeatable; default: the first step). For a live-session
    /// playbook each is a post in the session's thread, numbered.
    #[arg(long)]
    pub step: Vec<String>,
    /// Values; those not given are the playbook's examples.
    #[command(flatten)]
    pub values: ValueArgs,
    /// Retract the message everywhere once it is out, as after a mistake.
    #[arg(long)]
    pub retract: bool,
    /// A group to rehearse for (repeatable; default: each step's audience). Sandbox
    /// accounts in these groups get the posts; without any, the drill stands in for the
    /// platforms the groups' accounts are on.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// An image to attach (repeatable, at most four): PNG, JPEG, WebP or GIF, checked by
    /// its content and stripped of its metadata, as an upload is.
    #[arg(long = "image", value_name = "FILE")]
    pub images: Vec<PathBuf>,
    /// The description of each `--image`, in the same order (required for each).
    #[arg(long = "alt", value_name = "TEXT")]
    pub alts: Vec<String>,
    /// Who runs the drill (recorded in the audit log; default: $USER).
    #[arg(long = "as", value_name = "NAME")]
    pub actor: Option<String>,
}

/// `tocsin playbooks render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Playbook id.
    pub id: String,
    /// Step id (default: the first step).
    #[arg(long)]
    pub step: Option<String>,
    /// Values; those not given are the playbook's examples.
    #[command(flatten)]
    pub values: ValueArgs,
    /// Platforms to render (repeatable; default: all).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// Post number in a live session ("3/").
    #[arg(long)]
    pub post_number: Option<u32>,
    /// Print only this language (a BCP 47 tag the playbook declares, e.g. `es`);
    /// default: every language, the primary first.
    #[arg(long, value_name = "TAG")]
    pub language: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write the step's alert card to this PNG file instead of printing the texts.
    #[arg(long, value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// The card's size: `landscape` (1200×675, most platforms) or `instagram` (1080×1080).
    #[arg(long, value_enum, default_value_t = CardSizeArg::Landscape, requires = "card")]
    pub size: CardSizeArg,
}

/// A card size on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CardSizeArg {
    /// 1200×675, for every platform but Instagram.
    Landscape,
    /// 1080×1080, Instagram's square.
    Instagram,
}

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
}
