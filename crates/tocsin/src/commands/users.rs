//! `tocsin users`: add users, list them, change roles, disable them and reset second
//! factors from the host. The operator already holds the database and the sealing key,
//! so these commands act without a session; each change is audited as `cli:<login>`.
//! Passwords come from standard input only, never the command line (`ps` shows that).

use anyhow::{bail, Context as _, Result};
use secrecy::{ExposeSecret as _, SecretString};
use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;
use tocsin_app::people::{Caller, People, PeopleConfig, Role, SealingKey, TotpEnrolment};

use crate::config::Config;
use crate::store::open_store;

/// `tocsin users ...`
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Add a user, reading the password from standard input, and enrol their TOTP second
    /// factor: the otpauth URI and the secret are printed once.
    Add {
        /// The sign-in name (letters, digits, `.`, `_`, `-`, `@`; at most 64).
        name: String,
        /// viewer, drafter, approver, compliance or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input (required: passwords are never taken
        /// from the command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their role, second-factor state and whether they are disabled.
    List,
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
    /// Replace a user's TOTP secret (a lost phone); prints the new one once.
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
    // Read the password before anything else, so a missing one fails fast.
    let password = match &cmd {
        UsersCommand::Add {
            password_stdin: true,
            ..
        } => Some(read_password()?),
        UsersCommand::Add { .. } => bail!(
            "pass --password-stdin and pipe the password in (it is never taken from the command line)"
        ),
        _ => None,
    };
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
        let result = match (cmd, password) {
            (UsersCommand::Add { name, role, .. }, Some(password)) => {
                add(&people, caller, &name, role, password).await
            }
            (UsersCommand::List, _) => list(&people, caller).await,
            (UsersCommand::SetRole { name, role }, _) => {
                people.set_role(caller, &name, role).await?;
                println!("{name} is now {role}");
                Ok(())
            }
            (UsersCommand::Disable { name }, _) => {
                people.disable_user(caller, &name).await?;
                println!("{name} is disabled and signed out everywhere");
                Ok(())
            }
            (UsersCommand::ResetTotp { name }, _) => {
                let enrolment = people.reset_totp(caller, &name).await?;
                println!("{name}'s old second factor no longer works; their sessions ended.");
                print_enrolment(&enrolment);
                Ok(())
            }
            (UsersCommand::Add { .. } | UsersCommand::GenerateKey, _) => Ok(()),
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}

async fn add(
    people: &People,
    caller: Caller<'_>,
    name: &str,
    role: Role,
    password: SecretString,
) -> Result<()> {
    people.add_user(caller, name, role, password).await?;
    let enrolment = people.enrol_totp(caller, name).await?;
    println!("added {name} ({role})");
    print_enrolment(&enrolment);
    Ok(())
}

fn print_enrolment(enrolment: &TotpEnrolment) {
    println!(
        "Second factor: scan this URI as a QR code, or type the secret into an authenticator\n\
         app. It is shown only this once; the first sign-in with a code activates it."
    );
    println!("  {}", enrolment.otpauth_uri.expose_secret());
    println!("  secret: {}", enrolment.secret_base32.expose_secret());
}

async fn list(people: &People, caller: Caller<'_>) -> Result<()> {
    let users = people.list_users(caller).await?;
    if users.is_empty() {
        println!(
            "no users yet: add one with `tocsin users add NAME --role admin --password-stdin`"
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

/// The password from standard input, without its final line break.
fn read_password() -> Result<SecretString> {
    let mut text = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let text = SecretString::from(text);
    let trimmed = text
        .expose_secret()
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text.expose_secret());
    if trimmed.is_empty() {
        bail!("no password on standard input");
    }
    Ok(SecretString::from(trimmed.to_string()))
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
