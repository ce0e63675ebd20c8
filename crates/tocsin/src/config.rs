//! `tocsin.toml`: one file, every field documented, unknown fields refused, and every
//! setting overridable from the environment as `TOCSIN_<SECTION>__<FIELD>`.
//!
//! No file is needed at all: the defaults run the demo from the repository root.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tocsin_connector::descriptor::OAuthClient;
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::phi::PhiConfig;

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "TOCSIN_CONFIG";
/// The environment variable holding the sealing key itself (not a config override).
pub const SECRET_KEY_ENV: &str = "TOCSIN_SECRET_KEY";
/// The environment variable holding the new sealing key for `tocsin accounts rotate-key`
/// (not a config override either).
pub const NEW_SECRET_KEY_ENV: &str = "TOCSIN_NEW_SECRET_KEY";
/// Prefix of environment overrides.
const ENV_PREFIX: &str = "TOCSIN_";

/// Everything configurable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where Tocsin keeps its database, signing key and records. Created if missing.
    pub data_dir: PathBuf,
    /// Directory of playbook files (`*.toml`).
    pub playbooks_dir: PathBuf,
    /// Directory of the templates playbooks name.
    pub templates_dir: PathBuf,
    /// Protected-health-information guard: the organisation's own domains and numbers,
    /// and its own patterns.
    pub phi: PhiConfig,
    /// Platform limits that differ per deployment.
    pub limits: PlatformLimits,
    /// The database.
    pub database: DatabaseConfig,
    /// The audit log's checkpoints and retention.
    pub audit: AuditConfig,
    /// Where the sealing key for second-factor secrets and platform tokens comes from.
    pub secrets: SecretsConfig,
    /// Logging.
    pub log: LogConfig,
    /// The hashtag monitor: the public conversation under open live sessions' hashtags.
    pub monitor: MonitorSection,
    /// The HTTP server (`tocsin serve`).
    pub server: ServerSection,
    /// Connecting platform accounts through OAuth 2: the clients Tocsin is registered as.
    pub oauth: OAuthSection,
    /// The fan-out: how long a claim holds a delivery, how many sends at once.
    pub dispatch: DispatchSection,
    /// Which certificate authorities connectors and the OAuth client trust.
    pub tls: TlsSection,
    /// Traces to an OpenTelemetry collector.
    pub telemetry: TelemetrySection,
    /// Paging the on-call approvers through internal accounts when a draft is submitted.
    pub notify: NotifySection,
    /// Alert cards: the organisation's name and colours (checked for contrast).
    pub cards: tocsin_cards::CardsConfig,
    /// The sealing keys given in the environment, taken out of it when the configuration
    /// is loaded (never a setting, never printed).
    #[serde(skip)]
    pub env_keys: EnvKeys,
}

/// `TOCSIN_SECRET_KEY` and `TOCSIN_NEW_SECRET_KEY`, read once and removed from the
/// process environment, so no child process, crash report or later reader of the
/// environment gets them.
#[derive(Clone, Default)]
pub struct EnvKeys {
    /// The sealing key in use.
    pub key: Option<std::sync::Arc<secrecy::SecretString>>,
    /// The new key for `tocsin accounts rotate-key`.
    pub new_key: Option<std::sync::Arc<secrecy::SecretString>>,
}

impl std::fmt::Debug for EnvKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvKeys")
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("new_key", &self.new_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl EnvKeys {
    fn from_env(env: &[(String, String)]) -> EnvKeys {
        let get = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| std::sync::Arc::new(secrecy::SecretString::from(v.to_string())))
        };
        EnvKeys {
            key: get(SECRET_KEY_ENV),
            new_key: get(NEW_SECRET_KEY_ENV),
        }
    }
}

/// `[tls]`: which certificate authorities connectors (every platform, the SMTP
/// connection included), the OAuth client and the hashtag monitor trust. Always the
/// bundled Mozilla roots and the system store (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else the
/// operating system's); these files add to them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM files of extra certificate authorities (a private CA behind an internal
    /// homeserver or SMTP relay, a TLS-inspecting proxy). Each file may hold several. A
    /// missing or unreadable file stops start-up.
    pub extra_ca_files: Vec<PathBuf>,
}

impl TlsSection {
    /// The trust these settings make: a file that cannot be read or holds no usable
    /// certificate is an error naming it.
    pub fn trust(&self) -> Result<tocsin_connector::tls::TlsTrust> {
        tocsin_connector::tls::TlsTrust::system()
            .with_extra_ca_files(&self.extra_ca_files)
            .context("[tls] extra_ca_files")
    }
}

/// `[telemetry]`: OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when an
/// endpoint is set: a `fan_out` span per message going out, with a `delivery` span per
/// account under it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// The collector's OTLP/HTTP address, e.g. `http://127.0.0.1:4318` (`/v1/traces` is
    /// added when the URL has no path). Empty: no traces are exported.
    pub otlp_endpoint: String,
}

/// `[notify]`: pages to the on-call approvers (`tocsin serve`). When a draft is
/// submitted, a short text (playbook and step titles, who submitted, a link to the draft
/// at `[server] public_url`; never a variable value) goes through these already-connected
/// Tocsin accounts, e.g. a staff Slack channel or an SMS list of the on-call phones. It is
/// no message: it needs no approval and has no delivery rows. Each page is audited
/// (`notify.page`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySection {
    /// Account ids (`tocsin accounts list`) paged when a draft is submitted. Empty: none.
    pub on_submit: Vec<i64>,
    /// Minutes a submitted draft may wait (neither approved, sent back nor withdrawn)
    /// before `escalate_to` is paged, once per submission. 0: no escalation.
    pub escalate_after_minutes: u64,
    /// Account ids paged when a draft has waited `escalate_after_minutes`.
    pub escalate_to: Vec<i64>,
}

impl NotifySection {
    /// The settings as the application takes them; refuses ids that cannot be accounts
    /// and an escalation list without a delay (or the other way round).
    pub fn to_app(&self, public_url: Option<String>) -> Result<tocsin_app::notify::NotifyConfig> {
        for (name, ids) in [
            ("on_submit", &self.on_submit),
            ("escalate_to", &self.escalate_to),
        ] {
            if let Some(bad) = ids.iter().find(|id| **id <= 0) {
                bail!("[notify] {name}: `{bad}` is not an account id (see `tocsin accounts list`)");
            }
        }
        match (self.escalate_after_minutes, self.escalate_to.is_empty()) {
            (0, false) => bail!("[notify] escalate_to is set but escalate_after_minutes is 0: say after how many minutes"),
            (n, true) if n > 0 => bail!("[notify] escalate_after_minutes is set but escalate_to is empty: say which accounts to page"),
            (n, _) if n > 7 * 24 * 60 => bail!("[notify] escalate_after_minutes: {n} is more than a week"),
            _ => {}
        }
        Ok(tocsin_app::notify::NotifyConfig {
            on_submit: self.on_submit.clone(),
            escalate_after: (self.escalate_after_minutes > 0)
                .then(|| std::time::Duration::from_secs(self.escalate_after_minutes * 60)),
            escalate_to: self.escalate_to.clone(),
            public_url,
            ..tocsin_app::notify::NotifyConfig::default()
        })
    }

    /// Every account named, for the check at start that each exists.
    pub fn accounts(&self) -> impl Iterator<Item = i64> + '_ {
        self.on_submit.iter().chain(&self.escalate_to).copied()
    }
}

/// `[dispatch]`: the fan-out of each node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchSection {
    /// How long a node's claim holds a delivery, in seconds. A node that dies leaves its
    /// claims leased for this long before another node takes them over; a node that
    /// loses the database holds the results of its sends in flight for this long. At
    /// least 2; a send is not started in the second half of its lease.
    pub lease_seconds: u64,
    /// Deliveries in flight on this node at most (sends waiting on a platform's answer).
    pub max_in_flight: usize,
}

impl Default for DispatchSection {
    fn default() -> Self {
        DispatchSection {
            lease_seconds: 60,
            max_in_flight: 4096,
        }
    }
}

/// `[oauth]`: the OAuth 2 clients Tocsin is registered as with each platform (the
/// redirect URI to register is `<public_url>/oauth/callback`). Secrets are best
/// given in the environment (`TOCSIN_OAUTH__X_CLIENT_SECRET`, ...). A platform whose
/// client id is empty cannot be connected through OAuth (a pasted token still works);
/// Mastodon needs nothing here: Tocsin registers itself with each instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthSection {
    /// The older spelling of `[server] public_url`, still read when that is empty (both
    /// set to different addresses is refused). Platforms send the browser back to
    /// `<public_url>/oauth/callback`.
    pub public_url: String,
    /// X: the OAuth 2.0 Client ID (developer portal, Keys and tokens).
    pub x_client_id: String,
    /// X: the Client Secret (a confidential client); empty for a public client.
    pub x_client_secret: String,
    /// LinkedIn: the app's Client ID.
    pub linkedin_client_id: String,
    /// LinkedIn: the app's Client Secret.
    pub linkedin_client_secret: String,
    /// Facebook: the Meta app's App ID (Facebook Login).
    pub facebook_app_id: String,
    /// Facebook: the App Secret.
    pub facebook_app_secret: String,
    /// Threads: the Threads App ID (not the Meta app's).
    pub threads_app_id: String,
    /// Threads: the Threads App Secret.
    pub threads_app_secret: String,
    /// Instagram: the Instagram App ID (API setup with Instagram login; not the Meta app's).
    pub instagram_app_id: String,
    /// Instagram: the Instagram App Secret.
    pub instagram_app_secret: String,
    /// The name Tocsin registers itself under with Mastodon instances.
    pub mastodon_client_name: String,
}

/// The `[oauth]` fields each platform's descriptor names for its registered client's
/// id and secret.
fn registered_client_keys() -> impl Iterator<Item = (&'static str, &'static str)> {
    tocsin_connectors::ALL
        .iter()
        .filter_map(|d| match d.oauth.map(|o| o.client) {
            Some(OAuthClient::Registered {
                client_id_key,
                client_secret_key,
            }) => Some((client_id_key, client_secret_key)),
            _ => None,
        })
}

impl OAuthSection {
    /// The text of the field `name` (`x_client_id`, as a descriptor names it), trimmed;
    /// empty when unset.
    pub fn field(&self, name: &str) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get(name).and_then(|f| f.as_str()).map(str::to_string))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The section with every client secret that is set replaced by `[set, not shown]`.
    pub fn redacted(&self) -> OAuthSection {
        let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(self) else {
            return OAuthSection::default();
        };
        for (_, secret) in registered_client_keys() {
            if !self.field(secret).is_empty() {
                fields.insert(secret.into(), "[set, not shown]".into());
            }
        }
        // Never the secrets: a section that does not read back is shown as the default.
        serde_json::from_value(serde_json::Value::Object(fields)).unwrap_or_default()
    }
}

impl Default for OAuthSection {
    fn default() -> Self {
        OAuthSection {
            public_url: String::new(),
            x_client_id: String::new(),
            x_client_secret: String::new(),
            linkedin_client_id: String::new(),
            linkedin_client_secret: String::new(),
            facebook_app_id: String::new(),
            facebook_app_secret: String::new(),
            threads_app_id: String::new(),
            threads_app_secret: String::new(),
            instagram_app_id: String::new(),
            instagram_app_secret: String::new(),
            mastodon_client_name: "Tocsin".into(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address and port to listen on. Put Tocsin behind a TLS-terminating proxy anywhere
    /// but loopback. Cookies are `Secure` (and `__Host-` prefixed) whenever `public_url`
    /// is `https` or this is not a loopback address; only a loopback server without an
    /// `https` public URL (the demo) drops them.
    pub listen: String,
    /// Browser origins (`https://alerts.health.example.gov`) allowed to open the
    /// websocket and send changes, besides the server's own origin.
    pub allowed_origins: Vec<String>,
    /// This node's name in delivery leases and audit entries (unique per node).
    pub node_id: String,
    /// Tocsin's public address (`https://alerts.health.example.gov`, behind the proxy),
    /// the one address for everything outside reaches: the links of the public alert
    /// feed (`/feed/alerts.atom`) and its CAP documents, and the OAuth redirect URI
    /// `<public_url>/oauth/callback`. Empty (and no `[oauth] public_url`): the feed
    /// answers and OAuth connections start only on a loopback host (local use).
    pub public_url: String,
    /// The CAP `sender` of the feed's alerts, globally unique (a domain name or email
    /// address; no spaces, commas, `<` or `&`). Empty: the public URL's host.
    pub cap_sender: String,
    /// The account group that counts as public: the public alert feed carries only the
    /// messages whose target set includes it (or every account). Lowercase letters,
    /// digits and dashes.
    pub public_group: String,
    /// Serve Prometheus metrics at `GET /metrics`, without authentication. They carry no
    /// message text, names or tokens, but keep the path off the public internet (the
    /// proxy in front should not pass it on).
    pub metrics: bool,
    /// The proxies in front of Tocsin (addresses like `127.0.0.1` or networks like
    /// `10.0.0.0/8`): only from these is the client's address taken from `Forwarded` /
    /// `X-Forwarded-For` (for the sign-in throttle and the audit log's `ip`). Empty: every
    /// connection's own address, headers ignored.
    pub trusted_proxies: Vec<String>,
    /// Hosts (names or IP literals) that account and OAuth requests may reach although
    /// they are, or resolve to, loopback, private, link-local or metadata addresses: an
    /// on-premises Mastodon or mail relay, say. Everything else internal is refused,
    /// checked on the addresses connected to and at every redirect.
    pub allowed_private_hosts: Vec<String>,
    /// Seconds a client has to send a request's headers; a client trickling them
    /// (slowloris) is disconnected after this. At least 1.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request has to be read and answered, else 503 (the websocket and the
    /// audit export and verification are not limited). At least 1.
    pub request_timeout_seconds: u64,
    /// Connections open at once; a new one past this is closed as soon as it is accepted
    /// (the proxy in front should hold its own limit below this). At least 1.
    pub max_connections: usize,
    /// Seconds between this node's looks at the database's schema version. When a newer
    /// release has migrated the database (an upgrade), the node stops as it does on
    /// SIGTERM (in-flight deliveries recorded, claims left to the new nodes) and exits
    /// with status 75, saying which release to start. At least 1.
    pub schema_check_seconds: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:8080".into(),
            allowed_origins: Vec::new(),
            node_id: "node-1".into(),
            public_url: String::new(),
            cap_sender: String::new(),
            public_group: "public".into(),
            metrics: true,
            trusted_proxies: Vec::new(),
            allowed_private_hosts: Vec::new(),
            header_read_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_connections: 1024,
            schema_check_seconds: 15,
        }
    }
}

/// `[monitor]`: the hashtag monitor (`tocsin serve`). For each open live session it
/// reads the public posts under the session's hashtag from every Mastodon instance of an
/// enabled Mastodon account (with its token), from `mastodon_instances` (without one),
/// and from Bluesky through Jetstream when `jetstream_url` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSection {
    /// Read the streams at all (nothing is read while no session is open).
    pub enabled: bool,
    /// Jetstream's address for Bluesky, e.g. `wss://jetstream2.us-east.bsky.network`.
    /// Empty: Bluesky is not read.
    pub jetstream_url: String,
    /// Public Mastodon instances (`https://mastodon.social`) to listen on without a
    /// token, besides the instances of connected Mastodon accounts. Instances running
    /// Mastodon 4.2 or later refuse streaming without a user token: connect an account
    /// there instead.
    pub mastodon_instances: Vec<String>,
    /// Most posts from the internet stored per live session a minute: a hashtag flooded
    /// on purpose fills neither the database nor the panels. The rest are dropped and
    /// their count logged.
    pub max_posts_per_minute: u32,
}

impl Default for MonitorSection {
    fn default() -> Self {
        MonitorSection {
            enabled: true,
            jetstream_url: String::new(),
            mastodon_instances: Vec::new(),
            max_posts_per_minute: tocsin_app::monitor::DEFAULT_MAX_POSTS_PER_MINUTE,
        }
    }
}

/// `[secrets]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// File holding the sealing key for TOTP secrets and platform tokens: base64 of 32
    /// bytes, mode 600 (a file others can read is refused). Relative paths are inside
    /// `data_dir`. The `TOCSIN_SECRET_KEY` environment variable wins when set. The key
    /// is never stored in the database.
    pub key_file: Option<PathBuf>,
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (the embedded default; a relative path is inside `data_dir`) or
    /// `postgres://user@host/db` for several nodes. The backend follows the scheme.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://tocsin.db".into(),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Sign a checkpoint after this many new entries.
    pub checkpoint_every_entries: u64,
    /// Sign a checkpoint at least this often (seconds) while entries keep coming.
    pub checkpoint_every_seconds: u64,
    /// The name in signed checkpoints (the C2SP signed-note key name and origin line).
    pub origin: String,
    /// How long rendered message bodies are kept, in days (default six years, as HIPAA
    /// 164.316(b)(2) asks of documentation). Only bodies are purged: audit entries, and
    /// the hashes of the bodies they commit to, are never deleted.
    pub body_retention_days: u32,
    /// A file each signed checkpoint is also appended to: put it on another mount and
    /// make it append-only (`chattr +a`), so this process can add but never rewrite it.
    /// `tocsin audit verify --witness FILE` holds the log to it. A relative path is
    /// inside `data_dir`; its directory must exist. Empty: none.
    pub witness_file: String,
    /// A URL each signed checkpoint is also POSTed to (`text/plain`, the signed note as
    /// it is), for a receiver run by someone else that keeps the bodies one after
    /// another in a file for `audit verify --witness`. Empty: none.
    pub witness_url: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_every_entries: 1000,
            checkpoint_every_seconds: 300,
            origin: "tocsin.local/audit".into(),
            body_retention_days: 6 * 366,
            witness_file: String::new(),
            witness_url: String::new(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `tocsin=debug,info`.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            playbooks_dir: PathBuf::from("playbooks"),
            templates_dir: PathBuf::from("templates"),
            phi: PhiConfig::default(),
            limits: PlatformLimits::default(),
            database: DatabaseConfig::default(),
            audit: AuditConfig::default(),
            secrets: SecretsConfig::default(),
            log: LogConfig::default(),
            monitor: MonitorSection::default(),
            server: ServerSection::default(),
            oauth: OAuthSection::default(),
            dispatch: DispatchSection::default(),
            tls: TlsSection::default(),
            telemetry: TelemetrySection::default(),
            notify: NotifySection::default(),
            cards: tocsin_cards::CardsConfig::default(),
            env_keys: EnvKeys::default(),
        }
    }
}

impl Config {
    /// Loads the config: `path` (or `$TOCSIN_CONFIG`, or `./tocsin.toml` if present, or
    /// nothing), then `TOCSIN_*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let config = Self::load_from(path, &env);
        // The keys are in the configuration now; nothing else needs them in the
        // environment. (Called once, before any thread or runtime starts.)
        std::env::remove_var(SECRET_KEY_ENV);
        std::env::remove_var(NEW_SECRET_KEY_ENV);
        config
    }

    /// As [`Config::load`], with the environment given (for tests).
    pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Config> {
        let env_path = env
            .iter()
            .find(|(k, _)| k == CONFIG_ENV)
            .map(|(_, v)| PathBuf::from(v));
        let explicit = path.map(Path::to_path_buf).or(env_path);
        let (mut table, origin) = match &explicit {
            Some(p) => (read_table(p)?, p.display().to_string()),
            None if Path::new("tocsin.toml").is_file() => (
                read_table(Path::new("tocsin.toml"))?,
                "tocsin.toml".to_string(),
            ),
            None => (toml::Table::new(), "defaults".to_string()),
        };
        let known =
            toml::Table::try_from(Config::default()).context("serialising the default config")?;
        for (key, value) in env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if key == CONFIG_ENV || key == SECRET_KEY_ENV || key == NEW_SECRET_KEY_ENV {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            // `TOCSIN_<SECTION>__<FIELD>` always means a setting, so a misspelt one is an
            // error. A single word names a top-level setting (`TOCSIN_DATA_DIR`) when
            // there is one; otherwise it belongs to some other tool sharing the prefix
            // (the test suite's `TOCSIN_REAL_SERVERS`) and is left alone.
            if path.len() == 1 && !is_known(&known, &path) {
                continue;
            }
            if !is_known(&known, &path) {
                bail!(
                    "environment variable {key}: there is no setting `{}` (see the README's configuration section)",
                    path.join(".")
                );
            }
            set_path(&mut table, &path, parse_env_value(value))
                .with_context(|| format!("environment variable {key}"))?;
        }
        let mut config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    anyhow::anyhow!(
                        "configuration ({origin} and TOCSIN_* environment): {}",
                        e.message()
                    )
                })?;
        tocsin_cards::CardStyle::new(&config.cards)
            .map_err(|e| anyhow::anyhow!("configuration ({origin}): {e}"))?;
        config.env_keys = EnvKeys::from_env(env);
        Ok(config)
    }
}

fn read_table(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| {
        let place = e.span().map_or_else(String::new, |s| {
            let (l, c) = tocsin_domain::diagnostics::line_column(&text, s.start);
            format!(":{l}:{c}")
        });
        anyhow::anyhow!("{}{place}: {}", path.display(), e.message())
    })
}

fn is_known(known: &toml::Table, path: &[String]) -> bool {
    let mut table = known;
    for (i, part) in path.iter().enumerate() {
        match table.get(part) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => table = t,
            Some(_) => return i + 1 == path.len(),
            None => return false,
        }
    }
    false
}

/// An environment value is read as a TOML value when it is one (`3`, `true`,
/// `["a.gov"]`), otherwise as a string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<()> {
    match path {
        [] => bail!("empty setting name"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => bail!("`{first}` is not a section"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sealing_keys_leave_the_environment_when_the_configuration_is_loaded() {
        // Names of its own, so no other test reading the environment is disturbed.
        std::env::set_var(super::SECRET_KEY_ENV, "a-key-for-this-test-only");
        let config = super::Config::load(Some(std::path::Path::new("/nonexistent/tocsin.toml")));
        assert!(config.is_err(), "a missing explicit file is an error");
        assert!(std::env::var(super::SECRET_KEY_ENV).is_err());
        std::env::set_var(super::SECRET_KEY_ENV, "a-key-for-this-test-only");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tocsin.toml");
        std::fs::write(&path, "").unwrap();
        let config = super::Config::load(Some(&path)).unwrap();
        assert!(std::env::var(super::SECRET_KEY_ENV).is_err());
        assert!(config.env_keys.key.is_some());
        assert!(!format!("{config:?}").contains("a-key-for-this-test-only"));
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_file_and_no_environment_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        assert!(Config::load_from(Some(&missing), &[]).is_err());
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.playbooks_dir, PathBuf::from("playbooks"));
        assert_eq!(c.limits.mastodon_max_characters, 500);
    }

    #[test]
    fn environment_overrides_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tocsin.toml");
        std::fs::write(
            &file,
            "data_dir = \"/var/lib/tocsin\"\n[limits]\nsms_max_segments = 2\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&file),
            &env(&[
                ("TOCSIN_LIMITS__SMS_MAX_SEGMENTS", "3"),
                ("TOCSIN_PHI__ALLOWED_DOMAINS", "[\"health.example.gov\"]"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/tocsin"));
        assert_eq!(c.limits.sms_max_segments, 3);
        assert_eq!(
            c.phi.allowed_domains,
            vec!["health.example.gov".to_string()]
        );
    }

    #[test]
    fn a_card_style_under_the_contrast_minimum_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tocsin.toml");
        std::fs::write(
            &file,
            "[cards]\norganisation = \"County Health\"\ntext = \"#999999\"\n",
        )
        .unwrap();
        let e = Config::load_from(Some(&file), &[]).unwrap_err().to_string();
        assert!(
            e.contains("[cards] text on background") && e.contains("4.5:1"),
            "{e}"
        );
        std::fs::write(&file, "[cards]\norganisation = \"County Health\"\n").unwrap();
        let c = Config::load_from(Some(&file), &[]).unwrap();
        assert_eq!(c.cards.organisation, "County Health");
    }

    #[test]
    fn notify_takes_account_lists_and_refuses_half_an_escalation_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tocsin.toml");
        std::fs::write(
            &file,
            "[notify]\non_submit = [12, 14]\nescalate_after_minutes = 10\nescalate_to = [15]\n",
        )
        .unwrap();
        let c = Config::load_from(Some(&file), &[]).unwrap();
        let n = c.notify.to_app(Some("https://a.example".into())).unwrap();
        assert_eq!(n.on_submit, vec![12, 14]);
        assert_eq!(n.escalate_to, vec![15]);
        assert_eq!(n.escalate_after, Some(std::time::Duration::from_secs(600)));
        assert_eq!(n.public_url.as_deref(), Some("https://a.example"));
        assert_eq!(c.notify.accounts().collect::<Vec<_>>(), vec![12, 14, 15]);

        let off = Config::load_from(None, &[])
            .unwrap()
            .notify
            .to_app(None)
            .unwrap();
        assert!(off.on_submit.is_empty() && off.escalate_after.is_none());

        let half = NotifySection {
            escalate_to: vec![15],
            ..NotifySection::default()
        };
        let err = half.to_app(None).unwrap_err().to_string();
        assert!(err.contains("escalate_after_minutes"), "{err}");
        let half = NotifySection {
            escalate_after_minutes: 5,
            ..NotifySection::default()
        };
        let err = half.to_app(None).unwrap_err().to_string();
        assert!(err.contains("escalate_to"), "{err}");
        let bad = NotifySection {
            on_submit: vec![0],
            ..NotifySection::default()
        };
        assert!(bad.to_app(None).is_err());

        std::fs::write(&file, "[notify]\non_submt = [12]\n").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("on_submt"), "{err}");
    }

    #[test]
    fn an_unknown_field_in_the_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tocsin.toml");
        std::fs::write(&file, "[limits]\nsms_max_segmnts = 2\n").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("sms_max_segmnts"), "{err}");
    }

    #[test]
    fn a_prefixed_variable_that_names_no_section_belongs_to_another_tool() {
        let config = Config::load_from(
            None,
            &env(&[
                ("TOCSIN_REAL_SERVERS", "require"),
                ("TOCSIN_DATA_DIR", "/var/lib/tocsin-test"),
            ]),
        )
        .expect("a tool's variable is not a setting");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/tocsin-test"));
    }

    #[test]
    fn an_unknown_environment_setting_is_an_error_naming_the_variable() {
        let err = Config::load_from(None, &env(&[("TOCSIN_LIMITS__SMS", "2")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TOCSIN_LIMITS__SMS"), "{err}");
    }

    #[test]
    fn malformed_toml_names_the_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tocsin.toml");
        std::fs::write(&file, "data_dir = \"x\"\nlimits = [\n").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("tocsin.toml:"), "{err}");
    }

    #[test]
    fn every_registered_oauth_client_has_its_id_and_secret_fields_in_the_oauth_section() {
        let fields = serde_json::to_value(OAuthSection::default()).unwrap();
        let mut keys = 0;
        for (id, secret) in registered_client_keys() {
            assert!(fields.get(id).is_some(), "[oauth] has no `{id}`");
            assert!(fields.get(secret).is_some(), "[oauth] has no `{secret}`");
            keys += 1;
        }
        assert_eq!(keys, 5, "X, LinkedIn, Facebook, Threads and Instagram");
    }

    #[test]
    fn the_oauth_section_shows_client_ids_and_hides_the_secrets_that_are_set() {
        let section = OAuthSection {
            x_client_id: " x-id ".into(),
            x_client_secret: "canary-x".into(),
            threads_app_secret: "canary-threads".into(),
            ..OAuthSection::default()
        };
        assert_eq!(section.field("x_client_id"), "x-id");
        assert_eq!(section.field("no_such_field"), "");
        let shown = section.redacted();
        assert_eq!(shown.x_client_secret, "[set, not shown]");
        assert_eq!(shown.threads_app_secret, "[set, not shown]");
        assert_eq!(shown.linkedin_client_secret, "");
        assert_eq!(shown.x_client_id, " x-id ");
        assert!(!format!("{shown:?}").contains("canary"));
    }
}
