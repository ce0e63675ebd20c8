//! `tocsin users`: add users, list them, change roles, disable them and reset second
//! factors from the host. The operator already holds the database and the sealing key,
//! so these commands act without a session; each change is audited as `cli:<login>`.
//! Nobody here sets a password or sees a second factor: adding a person prints a
//! one-time enrolment link where they set their own.

use anyhow::{Context as _, Result};
use secrecy::ExposeSecret as _;
use std::process::ExitCode;
use std::sync::Arc;
use tocsin_app::people::enrolment::enrolment_path;
use tocsin_app::people::{Caller, EnrolmentInvite, People, PeopleConfig, Role, SealingKey};

use crate::config::Config;
use crate::store::open_store;

/// `tocsin users ...`
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Add a user and print their one-time enrolment link (valid 24 hours): the person
    /// opens it, chooses their own password and sets up their own second factor. Nobody
    /// else sees either.
    Add {
        /// The sign-in name (letters, digits, `.`, `_`, `-`, `@`; at most 64).
        name: String,
        /// viewer, drafter, approver, compliance or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List users with their role, second-factor state and whether they are disabled.
    List {
        /// Print a JSON array instead: `name`, `role`, `second_factor`, `disabled`,
        /// `disabled_at`, `created_at`.
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role (applies to their open sessions at once).
    SetRole {
        /// The user.
        name: String,
        /// The new role.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Disable a user and end their sessions.
    Disable {
        /// The user.
        name: String,
    },
    /// Remove a user's second factor (a lost phone) and end their sessions; prints a new
    /// enrolment link where they set a password and second factor again.
    ResetTotp {
        /// The user.
        name: String,
    },
    /// Print a fresh sealing key (base64 of 32 bytes) for TOCSIN_SECRET_KEY or the
    /// `[secrets] key_file`.
    GenerateKey,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse::<Role>().map_err(|e| e.to_string())
}

/// Runs a `tocsin users` command.
pub fn run(config: &Config, cmd: UsersCommand) -> Result<ExitCode> {
    if let UsersCommand::GenerateKey = cmd {
        println!("{}", SealingKey::generate().to_base64().expose_secret());
        return Ok(ExitCode::SUCCESS);
    }
    let key = Arc::new(load_key(config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = open_store(config).await?;
        let people = People::new(store.clone(), key, PeopleConfig::default())?;
        let actor = operator_name();
        let caller = Caller::Operator(&actor);
        let base = link_base(config)?;
        let result = match cmd {
            UsersCommand::Add { name, role } => {
                let invite = people.add_user(caller, &name, role).await?;
                println!("added {name} ({role})");
                print_invite(&invite, &base);
                Ok(())
            }
            UsersCommand::List { json } => list(&people, caller, json).await,
            UsersCommand::SetRole { name, role } => {
                people.set_role(caller, &name, role).await?;
                println!("{name} is now {role}");
                Ok(())
            }
            UsersCommand::Disable { name } => {
                people.disable_user(caller, &name).await?;
                println!("{name} is disabled and signed out everywhere");
                Ok(())
            }
            UsersCommand::ResetTotp { name } => {
                let invite = people.reset_totp(caller, &name).await?;
                println!("{name}'s old second factor no longer works; their sessions ended.");
                print_invite(&invite, &base);
                Ok(())
            }
            UsersCommand::GenerateKey => Ok(()),
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}

/// Where enrolment links point: `[server] public_url`, else the address the server
/// listens on.
fn link_base(config: &Config) -> Result<String> {
    Ok(match crate::commands::serve::public_url(config)? {
        Some(url) => url,
        None => format!("http://{}", config.server.listen.trim()),
    })
}

fn print_invite(invite: &EnrolmentInvite, base: &str) {
    println!(
        "Give {} this enrolment link (it works once, until {}). There they choose their own\n\
         password and set up their own second factor; nobody else sees either:",
        invite.name,
        invite.expires_at.format("%Y-%m-%d %H:%M UTC")
    );
    println!("  {base}{}", enrolment_path(&invite.token));
}

/// A user in `tocsin users list --json` (the field names of `GET /api/users`, plus
/// `disabled`). Never a password hash or a second factor's secret.
#[derive(Debug, serde::Serialize)]
struct UserJson {
    /// Sign-in name.
    name: String,
    /// `viewer`, `drafter`, `approver`, `compliance` or `admin`.
    role: &'static str,
    /// `none`, `pending` (enrolled, not yet used) or `active`.
    second_factor: &'static str,
    /// Whether the user is disabled.
    disabled: bool,
    /// When disabled (RFC 3339), or null.
    disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When added (RFC 3339).
    created_at: chrono::DateTime<chrono::Utc>,
}

async fn list(people: &People, caller: Caller<'_>, json: bool) -> Result<()> {
    let users = people.list_users(caller).await?;
    if json {
        let rows: Vec<UserJson> = users
            .into_iter()
            .map(|u| UserJson {
                name: u.name,
                role: u.role.as_str(),
                second_factor: u.second_factor,
                disabled: u.disabled_at.is_some(),
                disabled_at: u.disabled_at,
                created_at: u.created_at,
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if users.is_empty() {
        println!(
            "no users yet: add one with `tocsin users add NAME --role admin` (it prints their enrolment link)"
        );
        return Ok(());
    }
    println!(
        "{:<32} {:<11} {:<14} {:<10} added",
        "name", "role", "second factor", "state"
    );
    for u in users {
        println!(
            "{:<32} {:<11} {:<14} {:<10} {}",
            u.name,
            u.role,
            u.second_factor,
            if u.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            },
            u.created_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(())
}

/// The systemd credential (`LoadCredential=secret-key:...`) that holds the sealing key.
pub(crate) const KEY_CREDENTIAL: &str = "secret-key";

/// The sealing key: `TOCSIN_SECRET_KEY`, else the systemd credential `secret-key` (in
/// `$CREDENTIALS_DIRECTORY`, as the packaged unit passes it), else `[secrets] key_file`
/// (relative to the data directory).
pub(crate) fn load_key(config: &Config) -> Result<SealingKey> {
    let env = config.env_keys.key.as_ref().map(|k| k.expose_secret());
    let file = key_credential().or_else(|| {
        config
            .secrets
            .key_file
            .as_ref()
            .map(|f| config.data_dir.join(f))
    });
    Ok(SealingKey::load(env, file.as_deref())?)
}

/// `$CREDENTIALS_DIRECTORY/secret-key`, when systemd passed it.
pub(crate) fn key_credential() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let path = std::path::Path::new(&dir).join(KEY_CREDENTIAL);
    path.is_file().then_some(path)
}

/// `cli:<login>` for the audit log, reduced to characters safe in a log line.
pub(crate) fn operator_name() -> String {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".into());
    let login: String = login
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(32)
        .collect();
    format!("cli:{}", if login.is_empty() { "operator" } else { &login })
}
