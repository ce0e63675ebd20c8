//! `tocsin accounts`: connect platform accounts from the host, list them with their
//! status, disable them, show what each platform takes, and rotate the sealing key.
//!
//! A secret (bot token, access token, app password, webhook URL) is read from standard
//! input only, never the command line (`ps` and shell history show that), checked by the
//! platform's own connector together with the settings before anything is stored, and
//! stored sealed to the account's id under the key from `TOCSIN_SECRET_KEY` or
//! `[secrets] key_file`. Nothing here prints a secret. Each change is audited as
//! `cli:<login>`.

use anyhow::{anyhow, bail, Context as _, Result};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tocsin_app::accounts::{
    coerce_settings, rotate_key, settings_from_lines, AccountVault, CredentialCheck,
    NewPlatformAccount,
};
use tocsin_app::people::sealed::KEY_ENV;
use tocsin_app::people::SealingKey;
use tocsin_connector::egress::EgressPolicy;
use tocsin_connector::tls::TlsTrust;
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_connectors::{descriptor, ALL};
use tocsin_domain::account_languages::AccountLanguages;
use tocsin_domain::audience::check_group_names;
use tocsin_domain::Platform;
use tocsin_store::{AccountRecord, AccountStatus, Store};

use crate::commands::users::{load_key, operator_name};
use crate::config::{Config, NEW_SECRET_KEY_ENV as NEW_KEY_ENV};
use crate::store::open_store;

/// `tocsin accounts ...`
#[derive(Debug, clap::Subcommand)]
pub enum AccountsCommand {
    /// Connect a platform account. Its settings come from --setting and --settings-file,
    /// its secret from standard input (--secret-stdin); both are checked by the
    /// platform's connector before anything is stored, and the secret is stored sealed.
    /// Running servers connect it within a few seconds, on first use at the latest.
    Add(AddArgs),
    /// List accounts with their status and whether a secret is stored (and, when a key is
    /// configured, whether it opens with it). Never shows a secret.
    List {
        /// Print a JSON array instead (fields in the README's command-line section).
        #[arg(long)]
        json: bool,
    },
    /// Replace an account's secret (a rotated token, a new webhook URL), read from
    /// standard input, checked by the platform's connector and tried against the
    /// platform first. The account is `connected` again (and no longer unchecked);
    /// running servers use the new secret within a few seconds.
    ReplaceSecret {
        /// The account's id (see `tocsin accounts list`).
        id: i64,
        /// Read the secret from standard input (required: secrets are never taken from the
        /// command line).
        #[arg(long)]
        secret_stdin: bool,
        /// Store the new secret without trying it against the platform (for a platform
        /// that is down); the account is then listed as unchecked.
        #[arg(long)]
        skip_check: bool,
    },
    /// Try a stored account's credentials against its platform now. When they work, an
    /// account added with --skip-check is no longer listed as unchecked.
    Check {
        /// The account's id (see `tocsin accounts list`).
        id: i64,
    },
    /// Replace an account's groups (zero or more names; none leaves it in no group).
    /// Messages already approved keep the accounts they were approved for.
    SetGroups {
        /// The account's id (see `tocsin accounts list`).
        id: i64,
        /// The groups, e.g. `public residents-sms` (lowercase letters, digits, dashes).
        groups: Vec<String>,
    },
    /// Set the languages an account posts (BCP 47 tags, first to last; none: each
    /// playbook's primary language). Each language is the message's text in it, one post
    /// each with the next ones replying to the first, or one post with `--together`
    /// where the platform's limit allows. Running servers follow within a few seconds.
    SetLanguages {
        /// The account's id (see `tocsin accounts list`).
        id: i64,
        /// The languages, e.g. `en es`.
        languages: Vec<String>,
        /// Post every language in one post where it fits (else one post each).
        #[arg(long)]
        together: bool,
    },
    /// Disable an account: it leaves fan-out (running servers follow within a few
    /// seconds); its history stays.
    Disable {
        /// The account's id (see `tocsin accounts list`).
        id: i64,
    },
    /// Show the settings and the secret each platform's account takes.
    Platforms {
        /// Print a JSON array instead: `platform`, `display_name`, `secret`,
        /// `secret_required`, `settings` (each `name`, `kind`, `required`, `example`,
        /// `help`).
        #[arg(long)]
        json: bool,
    },
    /// Re-seal every stored secret (account secrets and users' second factors) under a new
    /// key, in one transaction, then say what to change in the configuration. The new key
    /// comes from TOCSIN_NEW_SECRET_KEY or --new-key-file; stop the servers first.
    RotateKey {
        /// A file holding the new key (base64 of 32 bytes, mode 600), instead of
        /// TOCSIN_NEW_SECRET_KEY.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

/// `tocsin accounts add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The platform (see `tocsin accounts platforms`).
    #[arg(long)]
    pub platform: String,
    /// The account on the platform (`@county_health`, a channel, a page name).
    #[arg(long)]
    pub handle: String,
    /// The name people see in the control panel.
    #[arg(long)]
    pub name: String,
    /// A setting, `key=value` (repeatable; wins over --settings-file).
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// A TOML or JSON file of settings (`chat_id = "-1001234567890"`).
    #[arg(long, value_name = "FILE")]
    pub settings_file: Option<PathBuf>,
    /// Read the secret from standard input (secrets are never taken from the command
    /// line).
    #[arg(long)]
    pub secret_stdin: bool,
    /// A group the account belongs to, e.g. `public` or `residents-sms` (repeatable).
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Store the account without trying its credentials against the platform (for a
    /// platform that is down); it is listed as unchecked.
    #[arg(long)]
    pub skip_check: bool,
}

/// Runs a `tocsin accounts` command.
pub fn run(config: &Config, cmd: AccountsCommand) -> Result<ExitCode> {
    if let AccountsCommand::Platforms { json } = cmd {
        if json {
            print_platforms_json()?;
        } else {
            print_platforms();
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Read everything from the operator before touching the database, so a mistake
    // fails fast.
    if let AccountsCommand::SetGroups { groups, .. } = &cmd {
        check_group_names(groups).map_err(|e| anyhow!("{e}"))?;
    }
    let languages = match &cmd {
        AccountsCommand::SetLanguages {
            languages,
            together,
            ..
        } => Some(
            AccountLanguages::parse(
                &languages.join(","),
                if *together { "together" } else { "separate" },
            )
            .map_err(|e| anyhow!("{e}"))?,
        ),
        _ => None,
    };
    let add = match &cmd {
        AccountsCommand::Add(args) => Some(new_account(args)?),
        _ => None,
    };
    let check = match &cmd {
        AccountsCommand::Add(AddArgs {
            skip_check: true, ..
        })
        | AccountsCommand::ReplaceSecret {
            skip_check: true, ..
        } => CredentialCheck::Skip,
        _ => CredentialCheck::Run,
    };
    // The credential check connects to the platform: it trusts what servers trust.
    let trust = match &cmd {
        AccountsCommand::Add(_)
        | AccountsCommand::ReplaceSecret { .. }
        | AccountsCommand::Check { .. } => config.tls.trust()?,
        _ => TlsTrust::system(),
    };
    let replacement = match &cmd {
        AccountsCommand::ReplaceSecret {
            secret_stdin: true, ..
        } => Some(read_secret()?),
        AccountsCommand::ReplaceSecret { .. } => bail!(
            "pass --secret-stdin and pipe the secret in (secrets are never taken from the command line)"
        ),
        _ => None,
    };
    let new_key = match &cmd {
        AccountsCommand::RotateKey { new_key_file } => Some(load_new_key(config, new_key_file)?),
        _ => None,
    };
    let key = match &cmd {
        // Listing works without a key; it then cannot say whether secrets open.
        AccountsCommand::List { .. } => load_key(config).ok(),
        AccountsCommand::Disable { .. }
        | AccountsCommand::SetGroups { .. }
        | AccountsCommand::SetLanguages { .. } => None,
        _ => Some(load_key(config)?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = open_store(config).await?;
        let actor = operator_name();
        let result = match (cmd, add, key, new_key) {
            (AccountsCommand::ReplaceSecret { id, .. }, _, Some(key), _) => {
                let vault = connecting_vault(config, key, trust)?;
                replace_secret(&store, &actor, &vault, id, replacement, check).await
            }
            (AccountsCommand::Check { id }, _, Some(key), _) => {
                let vault = connecting_vault(config, key, trust)?;
                check_account(&store, &actor, &vault, id).await
            }
            (AccountsCommand::Add(_), Some(account), Some(key), _) => {
                let vault = connecting_vault(config, key, trust)?;
                add_account(&store, &actor, &vault, &account, check).await
            }
            (AccountsCommand::List { json }, _, key, _) => list(&store, key, json).await,
            (AccountsCommand::Disable { id }, ..) => {
                store.accounts().disable(&actor, id).await?;
                println!(
                    "account {id} is disabled: running servers send it nothing more within a \
                     few seconds; its history stays"
                );
                Ok(())
            }
            (AccountsCommand::SetGroups { id, groups }, ..) => {
                set_groups(&store, &actor, id, &groups).await
            }
            (AccountsCommand::SetLanguages { id, .. }, ..) => match &languages {
                Some(languages) => set_languages(&store, &actor, id, languages).await,
                None => Err(anyhow!("nothing to do")),
            },
            (AccountsCommand::RotateKey { new_key_file }, _, Some(old), Some(new)) => {
                rotate(config, &store, &actor, &old, &new, new_key_file.as_deref()).await
            }
            _ => Err(anyhow!("nothing to do")),
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}

/// The account as given on the command line and standard input, not yet checked.
fn new_account(args: &AddArgs) -> Result<NewPlatformAccount> {
    let (platform, setup) = args
        .platform
        .parse::<Platform>()
        .ok()
        .and_then(|p| descriptor(p).map(|d| (p, d)))
        .ok_or_else(|| {
            anyhow!(
                "`{}` is not a platform accounts are connected on; one of: {}",
                args.platform,
                ALL.iter()
                    .map(|d| d.platform.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut settings = match &args.settings_file {
        Some(path) => settings_file(path)?,
        None => Map::new(),
    };
    let given = settings_from_lines(args.settings.iter().map(String::as_str))?;
    settings.extend(given);
    let settings = coerce_settings(platform, Value::Object(settings))?;
    let needs_secret = setup.secret.required;
    let secret = if args.secret_stdin {
        Some(read_secret()?)
    } else if needs_secret {
        bail!(
            "pass --secret-stdin and pipe the {} in (secrets are never taken from the command line)",
            setup.secret.what
        );
    } else {
        None
    };
    let groups = check_group_names(&args.groups).map_err(|e| anyhow!("--group: {e}"))?;
    Ok(NewPlatformAccount {
        platform,
        handle: args.handle.clone(),
        display_name: args.name.clone(),
        settings,
        secret,
        groups,
    })
}

/// Settings from a TOML file, or a JSON one (by its `.json` extension).
fn settings_file(path: &Path) -> Result<Map<String, Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => bail!("{} must hold a table of settings", path.display()),
    }
}

/// The secret from standard input, without its final line break and surrounding blanks.
fn read_secret() -> Result<SecretString> {
    let mut text = String::new();
    std::io::stdin()
        .take(16 * 1024)
        .read_to_string(&mut text)
        .context("reading the secret from standard input")?;
    let text = SecretString::from(text);
    let trimmed = text.expose_secret().trim();
    if trimmed.is_empty() {
        bail!("no secret on standard input");
    }
    Ok(SecretString::from(trimmed.to_string()))
}

/// A vault whose connectors reach platforms as a server's would: trusting what servers
/// trust, and refusing internal addresses unless `[server] allowed_private_hosts` lists
/// them (so an account a server would refuse to send to is refused here, at add).
fn connecting_vault(config: &Config, key: SealingKey, trust: TlsTrust) -> Result<AccountVault> {
    let vault = AccountVault::new(Arc::new(key), Arc::new(SandboxLog::default())).with_trust(trust);
    vault.restrict_egress(EgressPolicy::new(&config.server.allowed_private_hosts))?;
    Ok(vault)
}

async fn add_account(
    store: &Store,
    actor: &str,
    vault: &AccountVault,
    account: &NewPlatformAccount,
    check: CredentialCheck,
) -> Result<()> {
    let record = vault.add(store, actor, account, check).await?;
    println!(
        "added account {}: {} {} ({}), {}, groups: {}",
        record.id,
        record.platform,
        record.handle,
        record.display_name,
        if record.secret_sealed.is_some() {
            "secret sealed"
        } else {
            "no secret"
        },
        groups_text(&record.groups)
    );
    if record.unchecked {
        println!("Its credentials were not tried (--skip-check): it is listed as unchecked.");
    }
    println!("Running servers connect it within a few seconds.");
    Ok(())
}

async fn replace_secret(
    store: &Store,
    actor: &str,
    vault: &AccountVault,
    id: i64,
    secret: Option<SecretString>,
    check: CredentialCheck,
) -> Result<()> {
    let secret = secret.ok_or_else(|| anyhow!("no secret on standard input"))?;
    let r = vault
        .replace_secret(store, actor, id, secret, check)
        .await?;
    println!(
        "account {id} ({} {}): secret replaced and sealed; status connected. Running servers \
         use it within a few seconds.",
        r.platform, r.handle
    );
    if r.unchecked {
        println!("The new secret was not tried (--skip-check): it is listed as unchecked.");
    }
    Ok(())
}

/// `tocsin accounts check ID`: the platform's health check of a stored account.
async fn check_account(store: &Store, actor: &str, vault: &AccountVault, id: i64) -> Result<()> {
    let record = store
        .accounts()
        .get(id)
        .await?
        .ok_or_else(|| anyhow!("no account {id} (see `tocsin accounts list`)"))?;
    if record.status == AccountStatus::Disabled {
        bail!("account {id} is disabled: there is nothing to check");
    }
    vault.check_stored(store, actor, &record).await?;
    println!(
        "account {id} ({} {}): the platform accepts its credentials{}",
        record.platform,
        record.handle,
        if record.unchecked {
            "; it is no longer listed as unchecked"
        } else {
            ""
        }
    );
    Ok(())
}

/// `public, staff`, or `-` for none.
fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "-".to_string()
    } else {
        groups.join(",")
    }
}

async fn set_groups(store: &Store, actor: &str, id: i64, groups: &[String]) -> Result<()> {
    let groups = check_group_names(groups).map_err(|e| anyhow!("{e}"))?;
    store.accounts().set_groups(actor, id, &groups).await?;
    println!(
        "account {id} is now in groups: {} (drafts from now on; approved messages keep their accounts)",
        groups_text(&groups)
    );
    Ok(())
}

async fn set_languages(
    store: &Store,
    actor: &str,
    id: i64,
    languages: &AccountLanguages,
) -> Result<()> {
    store.accounts().set_languages(actor, id, languages).await?;
    let list = languages.list();
    println!(
        "account {id} now posts {} ({}; messages not sent yet included)",
        if list.is_empty() {
            "each playbook's primary language".to_string()
        } else {
            list.replace(',', ", ")
        },
        match languages.posts {
            tocsin_domain::account_languages::LanguagePosts::Separate => {
                "one post per language, the next ones replying to the first"
            }
            tocsin_domain::account_languages::LanguagePosts::Together => {
                "in one post where it fits, else one post per language"
            }
        }
    );
    Ok(())
}

fn secret_state(record: &AccountRecord, vault: Option<&AccountVault>) -> &'static str {
    match (&record.secret_sealed, vault) {
        (None, _) => "none",
        (Some(_), None) => "stored",
        (Some(sealed), Some(v)) => match v.open_secret(record, sealed) {
            Ok(_) => "stored, opens",
            Err(_) => "stored, DOES NOT OPEN with this key",
        },
    }
}

/// An account in `tocsin accounts list --json` (the field names of `GET /api/accounts`).
/// Never its secret, nor its settings: only whether a secret is stored and opens.
#[derive(Debug, serde::Serialize)]
struct AccountJson {
    /// The account's id (what `replace-secret`, `set-groups` and `disable` take).
    id: i64,
    /// The platform (`sandbox` for a sandbox destination).
    platform: &'static str,
    /// For a sandbox account, the platform it stands in for; else null.
    stands_for: Option<&'static str>,
    /// The account on its platform.
    handle: String,
    /// The name people see.
    display_name: String,
    /// A sandbox destination.
    sandbox: bool,
    /// `connected`, `auth_failed` or `disabled`.
    status: &'static str,
    /// Why, in words, or null.
    status_detail: Option<String>,
    /// When the status last changed (RFC 3339), or null.
    status_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its groups, sorted.
    groups: Vec<String>,
    /// The languages it posts, first to last (empty: each playbook's primary language).
    languages: Vec<String>,
    /// `separate` or `together`.
    language_posts: &'static str,
    /// Whether a sealed secret is stored.
    secret_stored: bool,
    /// Whether the stored secret opens with the configured key: null when no secret is
    /// stored or no key is configured.
    secret_opens: Option<bool>,
    /// When the secret was last stored (RFC 3339), or null.
    secret_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Stored with `--skip-check`: its credentials were never tried.
    unchecked: bool,
    /// When added (RFC 3339).
    created_at: chrono::DateTime<chrono::Utc>,
}

fn account_json(r: &AccountRecord, vault: Option<&AccountVault>) -> AccountJson {
    let secret_opens = match (&r.secret_sealed, vault) {
        (Some(sealed), Some(v)) => Some(v.open_secret(r, sealed).is_ok()),
        _ => None,
    };
    AccountJson {
        id: r.id,
        platform: r.platform.as_str(),
        stands_for: r.stands_for.map(Platform::as_str),
        handle: r.handle.clone(),
        display_name: r.display_name.clone(),
        sandbox: r.sandbox,
        status: r.status.as_str(),
        status_detail: r.status_detail.clone(),
        status_updated_at: r.status_updated_at,
        groups: r.groups.clone(),
        languages: r
            .languages
            .languages
            .iter()
            .map(|l| l.as_str().to_string())
            .collect(),
        language_posts: r.languages.posts.as_str(),
        secret_stored: r.secret_sealed.is_some(),
        secret_opens,
        secret_updated_at: r.secret_updated_at,
        unchecked: r.unchecked,
        created_at: r.created_at,
    }
}

async fn list(store: &Store, key: Option<SealingKey>, json: bool) -> Result<()> {
    let records = store.accounts().records().await?;
    if json {
        let vault = key.map(|k| AccountVault::new(Arc::new(k), Arc::new(SandboxLog::default())));
        let rows: Vec<AccountJson> = records
            .iter()
            .map(|r| account_json(r, vault.as_ref()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if records.is_empty() {
        println!(
            "no accounts yet: add one with `tocsin accounts add --platform P --handle H --name N --secret-stdin`"
        );
        return Ok(());
    }
    let vault = key.map(|k| AccountVault::new(Arc::new(k), Arc::new(SandboxLog::default())));
    println!(
        "{:<5} {:<10} {:<32} {:<28} {:<12} {:<24} {:<36} detail",
        "id", "platform", "handle", "name", "status", "groups", "secret"
    );
    for r in &records {
        let secret = if r.sandbox {
            "none (sandbox)"
        } else {
            secret_state(r, vault.as_ref())
        };
        println!(
            "{:<5} {:<10} {:<32} {:<28} {:<12} {:<24} {:<36} {}",
            r.id,
            r.platform,
            r.handle,
            r.display_name,
            r.status.as_str(),
            groups_text(&r.groups),
            secret,
            detail(r)
        );
    }
    Ok(())
}

/// The detail column: the status detail, after `unchecked` for an account stored with
/// `--skip-check`.
fn detail(r: &AccountRecord) -> String {
    let status = r.status_detail.as_deref().unwrap_or("");
    match (r.unchecked, status) {
        (false, _) => status.to_string(),
        (true, "") => "unchecked (added with --skip-check)".into(),
        (true, s) => format!("unchecked (added with --skip-check); {s}"),
    }
}

/// A platform in `tocsin accounts platforms --json` (the field names of
/// `GET /api/accounts/platforms`).
#[derive(Debug, serde::Serialize)]
struct PlatformJson {
    /// The platform's name in settings and on the command line (`mastodon`).
    platform: &'static str,
    /// Its name for people (`Mastodon`).
    display_name: &'static str,
    /// What its secret is, in words (`access token`).
    secret: &'static str,
    /// Whether an account needs a secret.
    secret_required: bool,
    /// The settings its connector reads: `name`, `kind` (`text`, `number`, `bool`,
    /// `list`), `required`, `example`, `help`.
    settings: &'static [tocsin_connector::descriptor::SettingKey],
}

fn print_platforms_json() -> Result<()> {
    let rows: Vec<PlatformJson> = ALL
        .iter()
        .map(|d| PlatformJson {
            platform: d.platform.as_str(),
            display_name: d.platform.display_name(),
            secret: d.secret.what,
            secret_required: d.secret.required,
            settings: d.settings,
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&rows)?);
    Ok(())
}

fn print_platforms() {
    for s in ALL {
        println!(
            "{} ({}): secret: {}{}",
            s.platform.as_str(),
            s.platform.display_name(),
            s.secret.what,
            if s.secret.required { "" } else { " (optional)" }
        );
        for k in s.settings {
            println!(
                "    {:<22} {:<9} {:<50} {}",
                k.name,
                if k.required { "required" } else { "optional" },
                format!("e.g. {}", k.example),
                k.help
            );
        }
    }
}

/// The new key: `--new-key-file` (mode 600), else `TOCSIN_NEW_SECRET_KEY`.
fn load_new_key(config: &Config, file: &Option<PathBuf>) -> Result<SealingKey> {
    if let Some(path) = file {
        return Ok(SealingKey::load(None, Some(path))?);
    }
    match &config.env_keys.new_key {
        Some(text) => Ok(SealingKey::from_base64(text.expose_secret())?),
        None => bail!(
            "give the new key in {NEW_KEY_ENV} or --new-key-file (make one with `tocsin users generate-key`)"
        ),
    }
}

async fn rotate(
    config: &Config,
    store: &Store,
    actor: &str,
    old: &SealingKey,
    new: &SealingKey,
    new_key_file: Option<&Path>,
) -> Result<()> {
    if old.to_base64().expose_secret() == new.to_base64().expose_secret() {
        bail!("the new key is the key in use: nothing to rotate");
    }
    let rotated = rotate_key(store, actor, old, new).await?;
    println!(
        "Re-sealed {} account secrets and {} second-factor secrets under the new key, in one \
         transaction (audited as secrets.rotate_key). The old key no longer opens them.",
        rotated.account_secrets, rotated.totp_secrets
    );
    println!("Now, before starting any server again:");
    let from_env = config.env_keys.key.is_some();
    let new_text = match new_key_file {
        Some(path) => format!("the content of {}", path.display()),
        None => format!("the value of {NEW_KEY_ENV}"),
    };
    if from_env {
        println!(
            "  - set {KEY_ENV} to {new_text} wherever it is set (every node, every service file);"
        );
    }
    match &config.secrets.key_file {
        Some(file) => {
            let path = config.data_dir.join(file);
            if from_env {
                println!(
                    "  - and replace the key in [secrets] key_file ({}) too, or remove that setting;",
                    path.display()
                );
            } else {
                println!(
                    "  - replace the key in [secrets] key_file ({}) with {new_text} (keep it mode 600);",
                    path.display()
                );
            }
        }
        None if !from_env => println!("  - set {KEY_ENV} to {new_text};"),
        None => {}
    }
    if new_key_file.is_none() {
        println!("  - then unset {NEW_KEY_ENV}.");
    }
    println!("Every node needs the new key: one still holding the old one opens no secret.");
    Ok(())
}
