//! Platform accounts with their credentials: the vault that seals each account's secret
//! (bot token, access token, app password, webhook URL) at rest, checks a new account by
//! building its connector before anything is stored, and turns a stored account back into
//! the route fan-out sends through.
//!
//! Secrets are sealed with XChaCha20-Poly1305 ([`SealingKey`]) under the key from the
//! configuration or the environment, bound as associated data ([`account_aad`]) to the
//! account's id, its platform and where it sends (the setting its descriptor names as
//! its host: `base_url`, `homeserver`, `smtp_host`, ...), so a sealed value copied to
//! another row, or left in a row whose endpoint a database writer changed, does not open:
//! nobody without the key can redirect a token to a server of their choosing. Values
//! sealed by earlier releases (bound to the id only) are re-sealed once at start-up
//! ([`AccountVault::connect_stored`]).
//!
//! A secret is held as a [`SecretString`] from the moment it is read, so it never
//! reaches a log line, an error, an audit entry or an API answer; only whether one is
//! stored is shown.
//!
//! Each platform's descriptor (`tocsin_connectors::ALL`) says which settings its connector
//! reads (names, kinds, an example) and what its secret is: the admin page and the CLI
//! show it, and [`coerce_settings`] uses it to read `key = value` text into the types the
//! connector expects. A test checks it against each connector's own settings type.
//!
//! With several nodes, a change made here (secret replaced, account disabled, OAuth tokens
//! stored) is announced by id only ([`AccountVault::announce`]); the other nodes re-read
//! the account and follow it ([`AccountVault::follow`]).

use dashmap::{DashMap, DashSet};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use tocsin_connector::descriptor::SettingKind::{self, Bool, List, Number, Text};
use tocsin_connector::egress::EgressPolicy;
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::tls::TlsTrust;
use tocsin_connector::{ConnectorError, PlatformDescriptor};
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_connectors::{build_connector, descriptor, AccountSpec};
use tocsin_dispatch::{AccountRoute, DeliveryEvent, DeliveryEventKind, Routes};
use tocsin_domain::counting::CountingRule;
use tocsin_domain::Platform;
use tocsin_store::{
    AccountRecord, AccountStatus, NewAccount, Rotated, SealedKind, Store, StoreError,
};

use crate::oauth::{TokenBundle, TokenManager};
use crate::people::{totp_aad, SealError, SealingKey};

/// The associated data an account's sealed secret is bound to:
/// `tocsin-account:v2:<id>:<platform>:<endpoint>`, the endpoint being the setting the
/// platform's descriptor reads its host from, as stored (empty when the platform's
/// secret is its URL, or the setting is absent and the platform's public API is used).
pub fn account_aad(id: i64, platform: Platform, settings: &Value) -> Vec<u8> {
    format!(
        "tocsin-account:v2:{id}:{}:{}",
        platform.as_str(),
        account_endpoint(platform, settings)
    )
    .into_bytes()
}

/// What earlier releases bound an account's secret to (its id only); opened only to
/// re-seal it under [`account_aad`].
fn legacy_account_aad(id: i64) -> Vec<u8> {
    format!("tocsin-account:{id}").into_bytes()
}

/// Where an account sends, as its settings say: the value of the setting its platform's
/// descriptor names as the host (trimmed), or empty.
pub fn account_endpoint(platform: Platform, settings: &Value) -> String {
    use tocsin_connector::descriptor::HostSource;
    let Some(d) = descriptor(platform) else {
        return String::new();
    };
    match d.host.from {
        HostSource::UrlSetting(key) | HostSource::HostSetting(key) => settings
            .get(key)
            .and_then(Value::as_str)
            .map(|v| v.trim().to_string())
            .unwrap_or_default(),
        HostSource::SecretUrl => String::new(),
    }
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Something in the request is wrong; `field` names it (`settings`, `secret`, ...).
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong (never the secret).
        message: String,
    },
    /// An account with this platform and handle exists already.
    #[error("a {platform} account `{handle}` exists already")]
    Taken {
        /// The platform.
        platform: String,
        /// The handle.
        handle: String,
    },
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No HTTP client could be built for connectors.
    #[error("{0}")]
    Http(String),
    /// The platform's check of the credentials failed; nothing was stored.
    #[error(
        "{platform} did not accept the account, so nothing was stored: {reason} \
         (if the platform is down rather than the credentials wrong, try again with \
         the check skipped; the account is then marked unchecked)"
    )]
    CheckFailed {
        /// The platform's name.
        platform: &'static str,
        /// What the check found (never a secret).
        reason: String,
    },
    /// A stored account's credentials were tried and did not work; nothing changed.
    #[error("{platform} did not accept the stored account: {reason}")]
    NotChecked {
        /// The platform's name.
        platform: &'static str,
        /// What the check found (never a secret).
        reason: String,
    },
}

/// Whether a new account's credentials are tried against its platform before it is
/// stored (the connector's health check: token, room membership, password, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialCheck {
    /// Try them; store nothing if the platform refuses or cannot be reached.
    Run,
    /// Store without trying (the platform is down); the account is marked unchecked.
    Skip,
}

fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}

/// A real platform account to add.
pub struct NewPlatformAccount {
    /// The platform.
    pub platform: Platform,
    /// The account on the platform (`@county_health`, a channel, a page name).
    pub handle: String,
    /// How people call it in the panel.
    pub display_name: String,
    /// The platform's settings, as a JSON object (texts are read into their kinds).
    pub settings: Value,
    /// The secret, if the platform takes one.
    pub secret: Option<SecretString>,
    /// The groups it belongs to (`public`, `residents-sms`, ...).
    pub groups: Vec<String>,
}

impl std::fmt::Debug for NewPlatformAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPlatformAccount")
            .field("platform", &self.platform)
            .field("handle", &self.handle)
            .field("display_name", &self.display_name)
            .field("groups", &self.groups)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Reads `text` as the kind `kind`, for a setting given as text.
fn coerce(name: &str, kind: SettingKind, value: Value) -> Result<Value, AccountError> {
    let field = "settings";
    match (kind, value) {
        (Text, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (Text, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Number, Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| invalid(field, format!("{name} must be a whole number"))),
        (Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(invalid(field, format!("{name} must be true or false"))),
        },
        (List, Value::String(s)) => {
            let s = s.trim();
            if s.starts_with('[') {
                serde_json::from_str::<Vec<String>>(s)
                    .map(Value::from)
                    .map_err(|_| invalid(field, format!("{name} must be a list of texts")))
            } else {
                Ok(Value::from(
                    s.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                ))
            }
        }
        (_, v) => Ok(v),
    }
}

/// The settings with each known setting given as text read into the kind its connector
/// expects (`smtp_port = "587"` becomes a number, `to = "a, b"` a list); values already
/// of the right kind and unknown names pass as they are (the connector refuses the
/// latter, naming the ones it knows). Refuses anything but a JSON object.
pub fn coerce_settings(platform: Platform, settings: Value) -> Result<Value, AccountError> {
    let object = match settings {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => {
            return Err(invalid(
                "settings",
                "settings are an object of name = value",
            ))
        }
    };
    let keys = descriptor(platform).map_or(&[][..], |d| d.settings);
    let mut out = Map::new();
    for (name, value) in object {
        let value = match keys.iter().find(|k| k.name == name) {
            Some(k) => coerce(&name, k.kind, value)?,
            None => value,
        };
        out.insert(name, value);
    }
    Ok(Value::Object(out))
}

/// Reads `key = value` lines (or `key=value` arguments) into a settings object of texts:
/// blank lines and `#` comments are skipped, one pair of surrounding quotes is removed.
pub fn settings_from_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Map<String, Value>, AccountError> {
    let mut out = Map::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(invalid(
                "settings",
                format!(
                    "`{}` is not name = value",
                    line.chars().take(40).collect::<String>()
                ),
            ));
        };
        let name = name.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                "settings",
                format!(
                    "`{}` is not a setting name",
                    name.chars().take(40).collect::<String>()
                ),
            ));
        }
        out.insert(name.to_string(), Value::String(value.to_string()));
    }
    Ok(out)
}

/// Checks a handle or display name: trimmed, 1 to `max` characters, no control ones.
fn text_field(field: &'static str, text: &str, max: usize) -> Result<String, AccountError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{} is 1 to {max} characters", field.replace('_', " ")),
        ));
    }
    Ok(t.to_string())
}

/// The host an account's requests go to, for the shared per-host concurrency limit.
fn route_host(d: &PlatformDescriptor, settings: &Value, secret: Option<&SecretString>) -> String {
    d.route_host(settings, secret.map(ExposeSecret::expose_secret))
}

/// Why a stored account is not connected (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotConnected {
    /// Disabled by an admin.
    Disabled,
    /// No secret is stored and the platform needs one.
    NoSecret,
    /// The stored secret does not open with this server's key.
    SecretDoesNotOpen,
    /// The platform's connector refused the stored settings or secret.
    Refused(String),
    /// The stored platform name is not one Tocsin connects.
    UnknownPlatform(String),
}

impl std::fmt::Display for NotConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotConnected::Disabled => f.write_str("disabled"),
            NotConnected::NoSecret => f.write_str("no secret is stored"),
            NotConnected::SecretDoesNotOpen => f.write_str(
                "the stored secret does not open with this server's key \
                 (TOCSIN_SECRET_KEY or [secrets] key_file): was the key rotated?",
            ),
            NotConnected::Refused(why) => write!(f, "the connector refused the account: {why}"),
            NotConnected::UnknownPlatform(p) => write!(f, "no connector for platform `{p}`"),
        }
    }
}

/// What happened to one stored account at start.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The account.
    pub id: i64,
    /// Its platform.
    pub platform: String,
    /// Its handle.
    pub handle: String,
    /// `Ok` when its route is in place.
    pub outcome: Result<(), NotConnected>,
}

/// Tells other nodes that an account's stored state changed (its id only, never a secret).
pub(crate) type AccountChanged = Arc<dyn Fn(i64) + Send + Sync>;

/// What a route was built from: when another node announces a change, the route is
/// rebuilt only if this differs (an unchanged OAuth connector keeps its token state).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BuiltFrom {
    disabled: bool,
    sandbox: bool,
    platform: String,
    handle: String,
    settings: String,
    sealed: Option<Vec<u8>>,
}

impl BuiltFrom {
    fn of(record: &AccountRecord) -> BuiltFrom {
        BuiltFrom {
            disabled: record.status == AccountStatus::Disabled,
            sandbox: record.sandbox,
            platform: record.platform.as_str().to_string(),
            handle: record.handle.clone(),
            settings: record.settings.to_string(),
            sealed: record.secret_sealed.clone(),
        }
    }
}

/// Seals, opens and connects platform accounts. One per server; the CLI makes its own.
pub struct AccountVault {
    key: Arc<SealingKey>,
    sandbox: Arc<SandboxLog>,
    /// The certificate authorities connectors trust (`[tls]`).
    trust: TlsTrust,
    http: OnceLock<HttpClient>,
    /// Why accounts this node could not connect are not connected.
    not_connected: DashMap<i64, NotConnected>,
    /// Accounts whose status is `auth_failed`, so a delivery that gets through clears it.
    auth_failed: DashSet<i64>,
    /// Accounts stored unchecked (`--skip-check`), so a delivery that gets through
    /// clears the mark.
    unchecked: DashSet<i64>,
    /// Wraps OAuth accounts' connectors so their tokens stay fresh (set by the server).
    oauth: OnceLock<Arc<TokenManager>>,
    /// What each account's route (or refusal) on this node was built from.
    built: DashMap<i64, BuiltFrom>,
    /// Tells other nodes about changes made here (set by the relay; PostgreSQL only).
    changed: OnceLock<AccountChanged>,
    /// Where connectors may send (set with [`AccountVault::restrict_egress`]); a new
    /// account's address is checked against it before anything is stored.
    egress: OnceLock<EgressPolicy>,
}

impl std::fmt::Debug for AccountVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountVault").finish_non_exhaustive()
    }
}

impl AccountVault {
    /// A vault sealing with `key`; sandbox accounts record into `sandbox`.
    pub fn new(key: Arc<SealingKey>, sandbox: Arc<SandboxLog>) -> AccountVault {
        AccountVault {
            key,
            sandbox,
            trust: TlsTrust::system(),
            http: OnceLock::new(),
            not_connected: DashMap::new(),
            auth_failed: DashSet::new(),
            unchecked: DashSet::new(),
            oauth: OnceLock::new(),
            built: DashMap::new(),
            changed: OnceLock::new(),
            egress: OnceLock::new(),
        }
    }

    /// This vault, its connectors trusting `trust` (the bundled roots, the system store
    /// and `[tls] extra_ca_files`) instead of the bundled roots and the system store.
    pub fn with_trust(mut self, trust: TlsTrust) -> AccountVault {
        self.trust = trust;
        self
    }

    /// Announces changes made on this node through `changed` from now on (the token
    /// manager's stored tokens too, if OAuth is enabled).
    pub(crate) fn on_change(&self, changed: AccountChanged) {
        if let Some(manager) = self.oauth.get() {
            manager.on_change(changed.clone());
        }
        let _ = self.changed.set(changed);
    }

    /// Tells other nodes that account `id`'s stored state changed, so they re-read it.
    pub(crate) fn announce(&self, id: i64) {
        if let Some(changed) = self.changed.get() {
            changed(id);
        }
    }

    /// Lets OAuth accounts refresh their tokens through `manager` (their connectors are
    /// wrapped by it from now on). Without it, an OAuth account sends with its access
    /// token until that expires.
    pub fn enable_oauth(&self, manager: Arc<TokenManager>) {
        let _ = self.oauth.set(manager);
    }

    /// The OAuth token manager, if the server set one.
    pub fn oauth(&self) -> Option<&Arc<TokenManager>> {
        self.oauth.get()
    }

    /// Makes the connectors of this vault refuse internal addresses except on the hosts
    /// `policy` lists (see [`tocsin_connector::egress`]). Call before the first account
    /// is connected; the server does, from `[server] allowed_private_hosts`.
    pub fn restrict_egress(&self, policy: EgressPolicy) -> Result<(), AccountError> {
        let _ = self.egress.set(policy.clone());
        let http = HttpClient::with_egress(HttpLimits::default(), &self.trust, policy)
            .map_err(|e| AccountError::Http(e.to_string()))?;
        self.http
            .set(http)
            .map_err(|_| AccountError::Http("the HTTP client was built already".into()))
    }

    /// The HTTP client connectors share (built at first use, with Tocsin's limits).
    fn http(&self) -> Result<&HttpClient, AccountError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = HttpClient::with_trust(HttpLimits::default(), &self.trust)
            .map_err(|e| AccountError::Http(e.to_string()))?;
        Ok(self.http.get_or_init(|| http))
    }

    /// Seals an account's secret, bound to its id, platform and endpoint.
    pub fn seal_secret(
        &self,
        id: i64,
        platform: Platform,
        settings: &Value,
        secret: &SecretString,
    ) -> Result<Vec<u8>, SealError> {
        self.key.seal(
            secret.expose_secret().as_bytes(),
            &account_aad(id, platform, settings),
        )
    }

    /// Opens a stored account's sealed secret (bound to its id, platform and endpoint).
    pub fn open_secret(
        &self,
        record: &AccountRecord,
        sealed: &[u8],
    ) -> Result<SecretString, SealError> {
        let aad = account_aad(record.id, record.platform, &record.settings);
        let plain = self.key.open(sealed, &aad)?;
        let text = std::str::from_utf8(plain.expose_secret()).map_err(|_| SealError::Open)?;
        Ok(SecretString::from(text.to_string()))
    }

    /// Re-seals a secret stored by an earlier release (bound to the account's id only)
    /// under [`account_aad`], audited as `account.secret_reseal`. Returns the record as
    /// stored now; a secret that already opens, or opens with neither, is left alone.
    async fn upgrade_sealing(
        &self,
        store: &Store,
        record: AccountRecord,
    ) -> Result<AccountRecord, StoreError> {
        let Some(sealed) = record.secret_sealed.as_deref() else {
            return Ok(record);
        };
        if self.open_secret(&record, sealed).is_ok() {
            return Ok(record);
        }
        let Ok(plain) = self.key.open(sealed, &legacy_account_aad(record.id)) else {
            return Ok(record);
        };
        let aad = account_aad(record.id, record.platform, &record.settings);
        let resealed = self
            .key
            .seal(plain.expose_secret(), &aad)
            .map_err(|e| StoreError::Sealing(e.to_string()))?;
        store
            .accounts()
            .reseal_secret("system", record.id, sealed, &resealed)
            .await?;
        tracing::info!(
            account = record.id,
            "re-sealed the account's secret to its platform and endpoint"
        );
        Ok(store.accounts().get(record.id).await?.unwrap_or(record))
    }

    /// Checks a new account without storing anything: handle, display name, the secret
    /// the platform needs, and the platform's own check of settings and secret (its
    /// connector is built). Returns the settings as they will be stored.
    pub fn check(&self, account: &NewPlatformAccount) -> Result<Value, AccountError> {
        let Some(setup) = descriptor(account.platform) else {
            return Err(invalid(
                "platform",
                format!(
                    "{} accounts are not connected with credentials",
                    account.platform.display_name()
                ),
            ));
        };
        text_field("handle", &account.handle, 200)?;
        text_field("display_name", &account.display_name, 100)?;
        if setup.secret.required && account.secret.is_none() {
            return Err(invalid(
                "secret",
                format!(
                    "a {} account needs its {}",
                    account.platform.display_name(),
                    setup.secret.what
                ),
            ));
        }
        let settings = coerce_settings(account.platform, account.settings.clone())?;
        let spec = AccountSpec {
            id: "new".into(),
            platform: account.platform,
            name: account.handle.trim().to_string(),
            settings: settings.clone(),
            secret: account.secret.clone(),
        };
        build_connector(&spec, self.http()?, &self.sandbox)
            .map_err(|e| invalid("settings", refusal(&e)))?;
        Ok(settings)
    }

    /// Refuses an account whose platform address is internal (loopback, private,
    /// link-local, metadata, ...; see [`tocsin_connector::egress`]) unless `[server]
    /// allowed_private_hosts` lists its host, naming the host: its connector would be
    /// refused at every send. The address is the URL setting its platform's descriptor
    /// names, or the secret for a webhook URL; names are resolved now, each address
    /// checked (a name that does not resolve is left to the credential check). SMTP
    /// hosts are not checked (mail is not sent through the HTTP client). Without a policy
    /// (tests that run fakes on loopback) nothing is refused.
    pub async fn check_destination(
        &self,
        platform: Platform,
        settings: &Value,
        secret: Option<&SecretString>,
    ) -> Result<(), AccountError> {
        use tocsin_connector::descriptor::HostSource;
        let (Some(policy), Some(d)) = (self.egress.get(), descriptor(platform)) else {
            return Ok(());
        };
        let (field, text) = match d.host.from {
            HostSource::UrlSetting(key) => (
                "settings",
                settings
                    .get(key)
                    .and_then(Value::as_str)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| format!("https://{}/", d.host.default)),
            ),
            HostSource::SecretUrl => match secret {
                Some(s) => ("secret", s.expose_secret().trim().to_string()),
                None => return Ok(()),
            },
            HostSource::HostSetting(_) => return Ok(()),
        };
        // A URL that does not parse is the connector's to refuse, with its own words.
        let Ok(url) = url::Url::parse(&text) else {
            return Ok(());
        };
        policy.check_url(&url).map_err(|why| invalid(field, why))?;
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        if policy.allows_host(name) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let Ok(addrs) = tokio::net::lookup_host((name, port)).await else {
            return Ok(());
        };
        for addr in addrs {
            if let Some(why) = policy.refuses(name, addr.ip()) {
                return Err(invalid(field, why));
            }
        }
        Ok(())
    }

    /// Tries a new account's credentials against its platform (the connector's health
    /// check), with the settings [`AccountVault::check`] returned.
    pub async fn try_credentials(
        &self,
        account: &NewPlatformAccount,
        settings: &Value,
    ) -> Result<(), AccountError> {
        let spec = AccountSpec {
            id: "new".into(),
            platform: account.platform,
            name: account.handle.trim().to_string(),
            settings: settings.clone(),
            secret: account.secret.clone(),
        };
        let connector = build_connector(&spec, self.http()?, &self.sandbox)
            .map_err(|e| invalid("settings", refusal(&e)))?;
        connector.healthcheck().await.map_err(|e| {
            // Connector errors carry no secret (credentials are stripped from them).
            tracing::warn!(
                platform = account.platform.as_str(),
                handle = %account.handle.trim(),
                error = %e,
                "a new account's credentials were not accepted; nothing was stored"
            );
            AccountError::CheckFailed {
                platform: account.platform.display_name(),
                reason: e.to_string(),
            }
        })
    }

    /// Checks the account ([`AccountVault::check`]), tries its credentials against the
    /// platform unless told to skip that ([`CredentialCheck`]; a skipped one is stored
    /// marked unchecked), then stores it with its secret sealed to the new id, in one
    /// transaction audited as `account.add`. Returns the stored
    /// account; connect it with [`AccountVault::connect`].
    pub async fn add(
        &self,
        store: &Store,
        actor: &str,
        account: &NewPlatformAccount,
        credentials: CredentialCheck,
    ) -> Result<AccountRecord, AccountError> {
        let settings = self.check(account)?;
        self.check_destination(account.platform, &settings, account.secret.as_ref())
            .await?;
        if credentials == CredentialCheck::Run {
            self.try_credentials(account, &settings).await?;
        }
        let row = NewAccount {
            platform: account.platform,
            stands_for: None,
            handle: account.handle.trim().to_string(),
            display_name: account.display_name.trim().to_string(),
            sandbox: false,
            groups: account.groups.clone(),
        };
        let added = async {
            let mut tx = store.begin().await?;
            let id = tx
                .accounts()
                .add_sealed(actor, &row, &settings, |id| {
                    account
                        .secret
                        .as_ref()
                        .map(|s| self.seal_secret(id, row.platform, &settings, s))
                        .transpose()
                        .map_err(|e| e.to_string())
                })
                .await?;
            if credentials == CredentialCheck::Skip {
                tx.accounts().mark_unchecked(actor, id).await?;
            }
            tx.commit().await?;
            Ok::<i64, StoreError>(id)
        }
        .await;
        let id = match added {
            Ok(id) => id,
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                return Err(AccountError::Taken {
                    platform: row.platform.as_str().to_string(),
                    handle: row.handle,
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.announce(id);
        store
            .accounts()
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")).into())
    }

    /// Replaces a stored account's secret: the platform's connector checks the new one
    /// with the stored settings first, and tries it against the platform unless told to
    /// skip that; then it is sealed to the account's id and stored, and the account is
    /// `connected` again (audited as `account.secret_replace`). A new secret that passed
    /// the platform's check clears an unchecked mark; one stored with the check skipped
    /// leaves the account marked unchecked. Refused for a sandbox or disabled account.
    /// Connect the returned account with [`AccountVault::connect`]; other nodes are told
    /// to reconnect it.
    pub async fn replace_secret(
        &self,
        store: &Store,
        actor: &str,
        id: i64,
        secret: SecretString,
        credentials: CredentialCheck,
    ) -> Result<AccountRecord, AccountError> {
        let record = store
            .accounts()
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        if record.sandbox {
            return Err(invalid("secret", "a sandbox account takes no secret"));
        }
        if record.status == AccountStatus::Disabled {
            return Err(StoreError::Conflict(format!("account {id} is disabled")).into());
        }
        let platform = Some(record.platform)
            .filter(|p| descriptor(*p).is_some())
            .ok_or_else(|| {
                invalid(
                    "platform",
                    format!("no connector for platform `{}`", record.platform),
                )
            })?;
        let secret = SecretString::from(secret.expose_secret().trim().to_string());
        if secret.expose_secret().is_empty() {
            return Err(invalid("secret", "the secret is empty"));
        }
        let spec = AccountSpec {
            id: id.to_string(),
            platform,
            name: record.handle.clone(),
            settings: record.settings.clone(),
            secret: Some(secret.clone()),
        };
        let connector = build_connector(&spec, self.http()?, &self.sandbox)
            .map_err(|e| invalid("secret", refusal(&e)))?;
        self.check_destination(platform, &record.settings, Some(&secret))
            .await?;
        if credentials == CredentialCheck::Run {
            connector.healthcheck().await.map_err(|e| {
                tracing::warn!(
                    account = id,
                    platform = platform.as_str(),
                    error = %e,
                    "an account's new secret was not accepted; the old one stays"
                );
                AccountError::CheckFailed {
                    platform: platform.display_name(),
                    reason: e.to_string(),
                }
            })?;
        }
        let sealed = self.seal_secret(id, record.platform, &record.settings, &secret)?;
        let mut tx = store.begin().await?;
        tx.accounts().replace_secret(actor, id, &sealed).await?;
        match credentials {
            CredentialCheck::Run => {
                tx.accounts()
                    .mark_checked(actor, id, "its new secret passed the platform's check")
                    .await?;
            }
            CredentialCheck::Skip => tx.accounts().mark_unchecked(actor, id).await?,
        }
        // A pasted token replaces an OAuth bundle: its token facts no longer hold.
        tx.oauth().forget_account(id).await?;
        tx.commit().await?;
        self.auth_failed.remove(&id);
        self.announce(id);
        store
            .accounts()
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")).into())
    }

    /// The route for a stored account: its secret opened with this vault's key, its
    /// connector built from the stored settings. Sandbox accounts record locally.
    pub fn route(&self, record: &AccountRecord) -> Result<AccountRoute, NotConnected> {
        if record.status == AccountStatus::Disabled {
            return Err(NotConnected::Disabled);
        }
        if record.sandbox {
            // A sandbox posts as the platform it stands in for would, languages included.
            let stands_for = crate::catalog::text_platform(record.platform, record.stands_for);
            let counting = descriptor(stands_for).map_or(CountingRule::UNLIMITED, |d| d.counting);
            return Ok(AccountRoute::new(
                Arc::new(SandboxConnector::standing_for(
                    &record.id.to_string(),
                    self.sandbox.clone(),
                    stands_for,
                )),
                "sandbox",
            )
            .with_languages(record.languages.clone(), counting)
            .with_images(descriptor(stands_for).and_then(|d| d.images)));
        }
        let platform = record.platform;
        let d = descriptor(platform)
            .ok_or_else(|| NotConnected::UnknownPlatform(platform.as_str().to_string()))?;
        let secret = match &record.secret_sealed {
            Some(sealed) => Some(
                self.open_secret(record, sealed)
                    .map_err(|_| NotConnected::SecretDoesNotOpen)?,
            ),
            None if d.secret.required => return Err(NotConnected::NoSecret),
            None => None,
        };
        let bundle = secret.as_ref().and_then(TokenBundle::from_secret);
        let spec = AccountSpec {
            id: record.id.to_string(),
            platform,
            name: record.handle.clone(),
            settings: record.settings.clone(),
            secret: match &bundle {
                Some(b) => Some(b.access_secret()),
                None => secret,
            },
        };
        let http = self
            .http()
            .map_err(|e| NotConnected::Refused(e.to_string()))?;
        let connector = match (bundle, self.oauth.get(), &record.secret_sealed) {
            (Some(bundle), Some(manager), Some(sealed)) => {
                manager.wrap(spec.clone(), bundle, sealed.clone())
            }
            _ => build_connector(&spec, http, &self.sandbox),
        }
        .map_err(|e| NotConnected::Refused(refusal(&e)))?;
        Ok(AccountRoute::new(
            connector,
            route_host(d, &spec.settings, spec.secret.as_ref()),
        )
        .with_languages(record.languages.clone(), d.counting)
        .with_images(d.images))
    }

    /// Connects one stored account: its route goes into `routes` (fan-out reaches it at
    /// once), or it is remembered as not connected, with why.
    pub fn connect(&self, routes: &Routes, record: &AccountRecord) -> Result<(), NotConnected> {
        if record.status == AccountStatus::AuthFailed {
            self.auth_failed.insert(record.id);
        }
        self.note_unchecked(record);
        let built = self.route(record);
        self.install(routes, record, built)
    }

    /// Remembers whether `record` is marked unchecked, so its first delivery clears it.
    fn note_unchecked(&self, record: &AccountRecord) {
        if record.unchecked {
            self.unchecked.insert(record.id);
        } else {
            self.unchecked.remove(&record.id);
        }
    }

    /// Tries a stored account's credentials against its platform (its connector's health
    /// check, through the route this vault builds from the stored record). When the
    /// platform accepts them, an unchecked mark (`--skip-check`) is cleared, audited as
    /// `account.checked` by `actor`. Used by `tocsin accounts check` and `tocsin doctor`.
    pub async fn check_stored(
        &self,
        store: &Store,
        actor: &str,
        record: &AccountRecord,
    ) -> Result<(), AccountError> {
        let route = self.route(record).map_err(|why| AccountError::NotChecked {
            platform: record.platform.display_name(),
            reason: why.to_string(),
        })?;
        if record.sandbox {
            return Ok(());
        }
        route
            .connector
            .healthcheck()
            .await
            .map_err(|e| AccountError::NotChecked {
                platform: record.platform.display_name(),
                reason: e.to_string(),
            })?;
        self.unchecked.remove(&record.id);
        if record.unchecked {
            store
                .accounts()
                .mark_checked(actor, record.id, "the platform's health check passed")
                .await?;
            self.announce(record.id);
        }
        Ok(())
    }

    /// Puts a built route (or the reason there is none) in place for `record`.
    fn install(
        &self,
        routes: &Routes,
        record: &AccountRecord,
        built: Result<AccountRoute, NotConnected>,
    ) -> Result<(), NotConnected> {
        self.built.insert(record.id, BuiltFrom::of(record));
        match built {
            Ok(route) => {
                routes.insert(record.id, route);
                self.not_connected.remove(&record.id);
                Ok(())
            }
            Err(why) => {
                routes.remove(record.id);
                self.not_connected.insert(record.id, why.clone());
                Err(why)
            }
        }
    }

    /// Takes an account out of this node's fan-out.
    pub fn disconnect(&self, routes: &Routes, id: i64) {
        routes.remove(id);
        self.built.remove(&id);
        self.not_connected.insert(id, NotConnected::Disabled);
    }

    /// Disables a stored account (audited as `account.disable`), takes it out of this
    /// node's fan-out and tells the other nodes to do the same.
    pub async fn disable(
        &self,
        store: &Store,
        routes: &Routes,
        actor: &str,
        id: i64,
    ) -> Result<(), StoreError> {
        store.accounts().disable(actor, id).await?;
        self.disconnect(routes, id);
        self.announce(id);
        Ok(())
    }

    /// Follows an account as another node left it in the store: disabled, it loses its
    /// route; with another secret, settings or OAuth tokens, its route is built again;
    /// unchanged, its route (and its connector's state) stays. A secret that does not
    /// open with this node's key leaves a route in place (a key rotated on another node
    /// needs this node restarted with the new key), with a warning.
    pub(crate) fn follow(&self, routes: &Routes, record: &AccountRecord) {
        let id = record.id;
        if record.status == AccountStatus::AuthFailed {
            self.auth_failed.insert(id);
        } else {
            self.auth_failed.remove(&id);
        }
        self.note_unchecked(record);
        let now = BuiltFrom::of(record);
        if self.built.get(&id).is_some_and(|b| *b.value() == now) {
            return;
        }
        match self.route(record) {
            Err(NotConnected::SecretDoesNotOpen) if routes.contains(id) => {
                tracing::warn!(
                    account = id,
                    "another node changed this account, but its secret does not open with \
                     this node's key; the route this node had stays until it is restarted \
                     with the key the others use"
                );
            }
            built => match self.install(routes, record, built) {
                Ok(()) => tracing::info!(
                    account = id,
                    "connected again after a change on another node"
                ),
                Err(NotConnected::Disabled) => {
                    tracing::info!(
                        account = id,
                        "disabled on another node; out of this node's fan-out"
                    )
                }
                Err(why) => {
                    tracing::warn!(account = id, reason = %why, "changed on another node and not connected")
                }
            },
        }
    }

    /// Connects every stored account (disabled ones are skipped). An account that cannot
    /// be connected is logged, without its secret, and listed as not connected.
    pub async fn connect_stored(
        &self,
        store: &Store,
        routes: &Routes,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut out = Vec::new();
        for record in store.accounts().records().await? {
            let record = self.upgrade_sealing(store, record).await?;
            let outcome = self.connect(routes, &record);
            if let Err(why) = &outcome {
                if *why != NotConnected::Disabled {
                    tracing::warn!(
                        account = record.id,
                        platform = %record.platform,
                        reason = %why,
                        "account not connected"
                    );
                }
            }
            out.push(Connection {
                id: record.id,
                platform: record.platform.as_str().to_string(),
                handle: record.handle,
                outcome,
            });
        }
        Ok(out)
    }

    /// Why this node has not connected an account, if it tried and could not.
    pub fn not_connected(&self, id: i64) -> Option<NotConnected> {
        self.not_connected.get(&id).map(|r| r.value().clone())
    }

    /// Notes a delivery event: an account whose credentials the platform refused becomes
    /// `auth_failed` (with the platform's words), one that delivers again becomes
    /// `connected`, and one stored unchecked loses the mark at its first delivery (the
    /// application's services feed it every event).
    pub(crate) async fn note_delivery(&self, store: &Store, event: &DeliveryEvent) {
        let id = event.account_id;
        let change = match &event.kind {
            DeliveryEventKind::Failed { error, auth: true } => {
                self.auth_failed.insert(id);
                Some((AccountStatus::AuthFailed, Some(error.as_str())))
            }
            DeliveryEventKind::Delivered { .. } if self.auth_failed.remove(&id).is_some() => {
                Some((AccountStatus::Connected, None))
            }
            _ => None,
        };
        if matches!(event.kind, DeliveryEventKind::Delivered { .. })
            && self.unchecked.remove(&id).is_some()
        {
            match store
                .accounts()
                .mark_checked("system", id, "a delivery went through")
                .await
            {
                Ok(_) => self.announce(id),
                Err(e) => {
                    self.unchecked.insert(id);
                    tracing::warn!(account = id, error = %e, "could not clear the account's unchecked mark");
                }
            }
        }
        if let Some((status, detail)) = change {
            let detail: Option<String> = detail.map(|d| d.chars().take(300).collect());
            if let Err(e) = store
                .accounts()
                .set_status("system", id, status, detail.as_deref())
                .await
            {
                tracing::warn!(account = id, error = %e, "could not record the account's status");
            }
        }
    }
}

/// A connector's refusal in words for an admin. Connectors never echo secrets (tokens
/// travel in headers or are redacted from URLs), so their text can be shown.
fn refusal(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Config(why) => why.clone(),
        other => other.to_string(),
    }
}

/// Re-seals every sealed value in the database (account secrets, users' TOTP secrets,
/// OAuth authorisations under way and clients registered with Mastodon instances) from
/// `old` to `new` in one transaction, audited as `secrets.rotate_key`. A value that does
/// not open with `old` stops the rotation and nothing changes.
pub async fn rotate_key(
    store: &Store,
    actor: &str,
    old: &SealingKey,
    new: &SealingKey,
) -> Result<Rotated, StoreError> {
    let mut tx = store.begin().await?;
    let rotated = tx
        .accounts().rotate_sealed(actor, |v| {
            let (aad, what) = match (v.kind, v.account) {
                (SealedKind::AccountSecret, Some((platform, settings))) => {
                    (account_aad(v.owner, platform, settings), "account")
                }
                (SealedKind::AccountSecret, None) => (legacy_account_aad(v.owner), "account"),
                (SealedKind::TotpSecret, _) => (totp_aad(v.owner), "user"),
            };
            // A secret sealed by an earlier release (bound to the id only) is re-sealed
            // under the current associated data.
            let legacy = (v.kind == SealedKind::AccountSecret).then(|| legacy_account_aad(v.owner));
            let plain = old
                .open(v.sealed, &aad)
                .or_else(|e| match &legacy {
                    Some(l) => old.open(v.sealed, l),
                    None => Err(e),
                })
                .map_err(|_| {
                    format!(
                        "the secret of {what} {} does not open with the current key; nothing was changed",
                        v.owner
                    )
                })?;
            new.seal(plain.expose_secret(), &aad)
                .map_err(|e| format!("{what} {}: {e}", v.owner))
        })
        .await?;
    tx.oauth()
        .rotate_sealed(|kind, owner, sealed| {
            let aad = match kind {
                tocsin_store::oauth::OAuthSealedKind::PendingVerifier => {
                    format!("tocsin-oauth-pending:{owner}").into_bytes()
                }
                tocsin_store::oauth::OAuthSealedKind::Client => crate::oauth::client_aad(owner),
            };
            let plain = old.open(sealed, &aad).map_err(|_| {
                format!(
                "an OAuth value ({owner}) does not open with the current key; nothing was changed"
            )
            })?;
            new.seal(plain.expose_secret(), &aad)
                .map_err(|e| format!("OAuth value {owner}: {e}"))
        })
        .await?;
    tx.commit().await?;
    Ok(rotated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vault() -> AccountVault {
        AccountVault::new(
            Arc::new(SealingKey::generate()),
            Arc::new(SandboxLog::default()),
        )
    }

    fn dummy_secret(platform: Platform) -> SecretString {
        SecretString::from(match platform {
            Platform::Webhook => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
            Platform::Discord => {
                "https://discord.com/api/webhooks/1100000000000000003/tok".to_string()
            }
            Platform::Teams => "https://prod.example.logic.azure.com/workflows/1?sig=s".into(),
            Platform::Telegram => "123456:canary-secret-0001".to_string(),
            Platform::Slack => "xoxb-canary-secret-0001".to_string(),
            _ => "canary-secret-0001".to_string(),
        })
    }

    /// The names the connector's settings type knows, from serde's refusal of an unknown
    /// field ("expected one of `a`, `b`").
    fn known_fields(platform: Platform) -> Vec<String> {
        let v = vault();
        let spec = AccountSpec {
            id: "probe".into(),
            platform,
            name: "probe".into(),
            settings: json!({"zz_probe": "x"}),
            secret: Some(dummy_secret(platform)),
        };
        let err = build_connector(&spec, v.http().unwrap(), &v.sandbox)
            .err()
            .unwrap()
            .to_string();
        let expected = err.split("expected").nth(1).unwrap_or("");
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn each_descriptor_names_exactly_the_settings_its_connector_reads() {
        for s in tocsin_connectors::ALL {
            let mut ours: Vec<String> = s.settings.iter().map(|k| k.name.to_string()).collect();
            let mut theirs = known_fields(s.platform);
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{:?}", s.platform);
        }
    }

    #[test]
    fn the_examples_of_required_settings_make_a_working_account() {
        let v = vault();
        for s in tocsin_connectors::ALL {
            let pairs: Vec<String> = s
                .settings
                .iter()
                .filter(|k| k.required || (s.platform == Platform::Sms && k.name == "from"))
                .map(|k| format!("{} = {}", k.name, k.example))
                .collect();
            let settings = settings_from_lines(pairs.iter().map(String::as_str)).unwrap();
            let mut with = settings.clone();
            if s.platform == Platform::Email {
                // A password goes with a user name.
                with.insert("username".into(), json!("alerts@example.org"));
            }
            let account = NewPlatformAccount {
                platform: s.platform,
                handle: "h".into(),
                display_name: "H".into(),
                settings: Value::Object(with),
                secret: Some(dummy_secret(s.platform)),
                groups: Vec::new(),
            };
            v.check(&account)
                .unwrap_or_else(|e| panic!("{:?}: {e}", s.platform));
            let without = NewPlatformAccount {
                secret: None,
                settings: Value::Object(settings),
                ..account
            };
            assert_eq!(
                v.check(&without).is_ok(),
                !s.secret.required,
                "{:?}",
                s.platform
            );
        }
    }

    #[test]
    fn texts_are_read_into_the_kinds_connectors_expect() {
        let got = coerce_settings(
            Platform::Email,
            json!({"smtp_port": "587", "to": "a@x.org, b@x.org", "from": "a@x.org", "tls": "starttls"}),
        )
        .unwrap();
        assert_eq!(got["smtp_port"], json!(587));
        assert_eq!(got["to"], json!(["a@x.org", "b@x.org"]));
        let got = coerce_settings(
            Platform::Telegram,
            json!({"chat_id": -100, "link_preview": "yes"}),
        )
        .unwrap();
        assert_eq!(got, json!({"chat_id": "-100", "link_preview": true}));
        assert!(coerce_settings(Platform::Email, json!({"smtp_port": "x"})).is_err());
        assert!(coerce_settings(Platform::Email, json!("x")).is_err());
        let lines = settings_from_lines(["# c", "", " chat_id = \"@a_b_c_d\" ", "x=1=2"]).unwrap();
        assert_eq!(lines["chat_id"], "@a_b_c_d");
        assert_eq!(lines["x"], "1=2");
        assert!(settings_from_lines(["no equals"]).is_err());
    }

    fn record(id: i64, platform: Platform, settings: Value) -> AccountRecord {
        AccountRecord {
            id,
            platform,
            stands_for: None,
            handle: "@alerts".into(),
            display_name: "Alerts".into(),
            sandbox: false,
            settings,
            secret_sealed: None,
            status: AccountStatus::Connected,
            status_detail: None,
            status_updated_at: None,
            secret_updated_at: None,
            created_at: chrono::Utc::now(),
            groups: Vec::new(),
            unchecked: false,
            languages: Default::default(),
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_account_platform_and_endpoint() {
        let v = vault();
        let settings = json!({"base_url": "https://mastodon.example", "language": "en"});
        let own = record(7, Platform::Mastodon, settings.clone());
        let sealed = v
            .seal_secret(
                7,
                Platform::Mastodon,
                &settings,
                &SecretString::from("canary-token".to_string()),
            )
            .unwrap();
        assert_eq!(
            v.open_secret(&own, &sealed).unwrap().expose_secret(),
            "canary-token"
        );
        // Settings other than the endpoint may change.
        let relabelled = record(
            7,
            Platform::Mastodon,
            json!({"base_url": " https://mastodon.example ", "language": "fr"}),
        );
        assert!(v.open_secret(&relabelled, &sealed).is_ok());
        for other in [
            record(8, Platform::Mastodon, settings.clone()),
            record(
                7,
                Platform::X,
                json!({"base_url": "https://mastodon.example"}),
            ),
            record(
                7,
                Platform::Mastodon,
                json!({"base_url": "https://collector.example"}),
            ),
            record(7, Platform::Mastodon, json!({})),
        ] {
            assert!(v.open_secret(&other, &sealed).is_err(), "{other:?}");
        }
        assert!(vault().open_secret(&own, &sealed).is_err());
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
    }

    #[test]
    fn the_endpoint_is_the_setting_the_descriptor_takes_the_host_from() {
        let s = json!({"homeserver": "https://matrix.example", "smtp_host": "mail.example",
                       "api_url": "https://api.telegram.example", "base_url": "https://b.example"});
        assert_eq!(
            account_endpoint(Platform::Matrix, &s),
            "https://matrix.example"
        );
        assert_eq!(account_endpoint(Platform::Email, &s), "mail.example");
        assert_eq!(
            account_endpoint(Platform::Telegram, &s),
            "https://api.telegram.example"
        );
        // A secret that is itself the URL binds itself.
        assert_eq!(account_endpoint(Platform::Discord, &s), "");
    }

    #[tokio::test]
    async fn a_secret_sealed_by_an_earlier_release_is_re_sealed_once_at_start() {
        use tocsin_test_support::db::{Backend, TestDb};
        let db = TestDb::new(Backend::Sqlite).await.unwrap();
        let v = vault();
        let settings = json!({"base_url": "https://mastodon.example"});
        let id = db
            .store
            .accounts()
            .add_sealed(
                "test",
                &NewAccount {
                    platform: Platform::Mastodon,
                    stands_for: None,
                    handle: "@alerts".into(),
                    display_name: "Alerts".into(),
                    sandbox: false,
                    groups: vec!["public".into()],
                },
                &settings,
                |id| {
                    Ok(Some(
                        v.key
                            .seal(b"canary-token", &legacy_account_aad(id))
                            .unwrap(),
                    ))
                },
            )
            .await
            .unwrap();
        let before = db.store.accounts().get(id).await.unwrap().unwrap();
        let legacy = before.secret_sealed.clone().unwrap();
        assert!(v.open_secret(&before, &legacy).is_err());

        let after = v.upgrade_sealing(&db.store, before).await.unwrap();
        let sealed = after.secret_sealed.clone().unwrap();
        assert_ne!(sealed, legacy);
        assert_eq!(
            v.open_secret(&after, &sealed).unwrap().expose_secret(),
            "canary-token"
        );
        let entries = db
            .store
            .audit()
            .read(&tocsin_store::AuditFilter {
                action: Some("account.secret_reseal".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn missing_secrets_and_refused_settings_are_named_without_echoing_the_secret() {
        let v = vault();
        let account = NewPlatformAccount {
            platform: Platform::Telegram,
            handle: "@a".into(),
            display_name: "A".into(),
            settings: json!({"chat_id": "not a chat"}),
            secret: Some(SecretString::from("canary-token".to_string())),
            groups: Vec::new(),
        };
        let err = v.check(&account).unwrap_err();
        assert!(
            matches!(
                err,
                AccountError::Invalid {
                    field: "settings",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?} {account:?}").contains("canary"));
        let err = v
            .check(&NewPlatformAccount {
                secret: None,
                settings: json!({"chat_id": "-1001"}),
                ..account
            })
            .unwrap_err();
        assert!(err.to_string().contains("bot token"), "{err}");
    }

    #[test]
    fn routes_share_limits_by_host() {
        let host = |platform: Platform, settings: Value, secret: Option<&SecretString>| {
            route_host(descriptor(platform).unwrap(), &settings, secret)
        };
        assert_eq!(
            host(
                Platform::Telegram,
                json!({"api_url": "http://127.0.0.1:9/"}),
                None
            ),
            "127.0.0.1:9"
        );
        assert_eq!(
            host(Platform::Telegram, json!({}), None),
            "api.telegram.org"
        );
        let hook = SecretString::from("https://discord.com/api/webhooks/1/t".to_string());
        assert_eq!(
            host(Platform::Discord, json!({}), Some(&hook)),
            "discord.com"
        );
        assert_eq!(
            host(Platform::Email, json!({"smtp_host": "SMTP.x.org"}), None),
            "smtp.x.org"
        );
        assert_eq!(host(Platform::Mastodon, json!({}), None), "mastodon");
    }
}
