//! `tocsin serve` and `tocsin demo`: build the server's parts from the configuration
//! (store, people, playbooks, accounts and their connectors, the dispatcher), listen,
//! and stop cleanly on Ctrl-C or SIGTERM, letting in-flight deliveries finish.
//!
//! The demo prepares a fresh data directory first: a sealing key, sandbox accounts that
//! stand in for every platform, every playbook approved as it is, and demo users whose
//! names, passwords and current codes are printed and shown on the sign-in page.

use anyhow::{anyhow, bail, Context as _, Result};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tocsin_app::accounts::NotConnected;
use tocsin_app::people::session::secure_cookies_for;
use tocsin_app::people::{Caller, People, PeopleConfig, Role, SealingKey};
use tocsin_app::{AppConfig, Tocsin, TocsinParts};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_dispatch::{DispatchConfig, Dispatcher, Routes};
use tocsin_domain::preapproval::PlaybookApproval;
use tocsin_domain::Platform;
use tocsin_store::{NewAccount, Store};
use tocsin_web::server::client_addr::TrustedProxies;
use tocsin_web::server::{self, DemoUser, WebConfig, WebState};

use crate::cli::{DemoArgs, ServeArgs};
use crate::commands::drill::stand_ins;
use crate::commands::playbooks::{composer, load};
use crate::commands::schema_watch;
use crate::commands::users::load_key;
use crate::config::Config;
use crate::store::open_store;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs `tocsin serve`.
pub fn serve(config: &Config, args: &ServeArgs) -> Result<ExitCode> {
    let listen = args.listen.clone().unwrap_or(config.server.listen.clone());
    let key = Arc::new(load_key(config)?);
    runtime()?.block_on(async {
        let store = open_store(config).await?;
        if let Err(e) = store.audit().check_signing_key().await {
            store.close().await;
            return Err(e.into());
        }
        let result = run_server(config, store.clone(), key, &listen, Vec::new(), None).await;
        store.close().await;
        result
    })
}

/// Runs `tocsin demo`.
pub fn demo(mut config: Config, args: &DemoArgs) -> Result<ExitCode> {
    let temp;
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("tocsin-demo-")
                .tempdir()
                .context("creating a temporary data directory")?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    config.data_dir = data_dir.clone();
    config.database.url = "sqlite://tocsin.db".into();
    let key = Arc::new(demo_key(&data_dir)?);
    let library = load(&config.playbooks_dir, &config.templates_dir)?;
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let people = People::new(store.clone(), key.clone(), PeopleConfig::default())?;
        let users = prepare_demo(&store, &people, &library, &data_dir).await?;
        println!("Tocsin demo: data in {}", data_dir.display());
        println!("Demo users (the sign-in page shows their current codes):");
        for u in &users {
            println!("  {:<11} {:<10} password {}", u.name, u.role, u.password);
        }
        let result = run_server(
            &config,
            store.clone(),
            key,
            &args.listen,
            users,
            Some(people),
        )
        .await;
        store.close().await;
        result
    })
}

/// The demo's sealing key, made once and kept (mode 600) in the data directory.
fn demo_key(data_dir: &std::path::Path) -> Result<SealingKey> {
    let path = data_dir.join("secret.key");
    if !path.exists() {
        let key = SealingKey::generate();
        super::write_private(&path, key.to_base64().expose_secret().as_bytes())?;
    }
    Ok(SealingKey::load(None, Some(&path))?)
}

/// A demo user as kept in `demo-users.json` (mode 600) in a kept demo directory.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedUser {
    name: String,
    password: String,
    role: String,
    totp_secret: String,
}

impl From<SavedUser> for DemoUser {
    fn from(u: SavedUser) -> DemoUser {
        DemoUser {
            name: u.name,
            password: u.password,
            role: u.role,
            totp_secret: u.totp_secret,
        }
    }
}

fn random_password() -> String {
    use rand::distributions::{Alphanumeric, DistString as _};
    let raw = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 16);
    format!("demo-{raw}")
}

/// The group a demo account stands in: the public social accounts, the residents' SMS
/// list, the partner agencies' email list, or the staff chat and operations room.
fn demo_group(platform: Platform) -> &'static str {
    match platform {
        Platform::Sms => "residents-sms",
        Platform::Email => "partners",
        Platform::Slack | Platform::Teams | Platform::Matrix => "staff",
        _ => "public",
    }
}

/// Accounts, approvals and users for the demo (only what is missing).
async fn prepare_demo(
    store: &Store,
    people: &People,
    library: &tocsin_domain::library::Library,
    data_dir: &std::path::Path,
) -> Result<Vec<DemoUser>> {
    let actor = "demo";
    let existing = store.accounts().list().await?;
    for platform in stand_ins() {
        let handle = format!("sandbox:{}:demo", platform.as_str());
        if existing.iter().any(|a| a.handle == handle) {
            continue;
        }
        store
            .accounts()
            .add(
                actor,
                &NewAccount {
                    platform: Platform::Sandbox,
                    stands_for: Some(platform),
                    handle,
                    display_name: format!("Demo {}", platform.display_name()),
                    sandbox: true,
                    groups: vec![demo_group(platform).to_string()],
                },
            )
            .await?;
    }
    for p in library.playbooks() {
        let Some(hash) = library.content_hash(&p.id) else {
            continue;
        };
        let approvals = store.playbooks().approvals(&p.id).await?;
        if approvals.iter().any(|a| a.content_hash == hash) {
            continue;
        }
        store
            .playbooks()
            .record_approval(&PlaybookApproval {
                playbook_id: p.id.clone(),
                content_hash: hash,
                approved_by: "demo clinical reviewer".into(),
                approved_at: store.now(),
                note: Some("approved for the demo".into()),
            })
            .await?;
    }
    let saved = data_dir.join("demo-users.json");
    if saved.exists() {
        // A kept demo directory: the users made last time, with their secrets.
        let text = std::fs::read_to_string(&saved)
            .with_context(|| format!("reading {}", saved.display()))?;
        let users: Vec<SavedUser> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a demo user list", saved.display()))?;
        return Ok(users.into_iter().map(DemoUser::from).collect());
    }
    let mut users = Vec::new();
    for (name, role) in [
        ("drafter", Role::Drafter),
        ("approver", Role::Approver),
        ("compliance", Role::Compliance),
        ("admin", Role::Admin),
    ] {
        let password = random_password();
        let caller = Caller::Operator("demo");
        // Through the enrolment link, as a person would enrol (the demo prints both).
        let secret = tocsin_app::people::enrolment::add_and_enrol(
            people,
            caller,
            name,
            role,
            SecretString::from(password.clone()),
        )
        .await?;
        users.push(SavedUser {
            name: name.into(),
            password,
            role: role.as_str().into(),
            totp_secret: secret.expose_secret().to_string(),
        });
    }
    super::write_private(&saved, serde_json::to_string_pretty(&users)?.as_bytes())?;
    let users = users.into_iter().map(DemoUser::from).collect();
    Ok(users)
}

/// Connects every stored account (sandbox ones record locally; real ones open their
/// sealed secret with the configured key and build their connector) and says how many
/// connected. An account that cannot be connected is logged and printed without its
/// secret, and listed as not connected on the admin page.
async fn connect_accounts(app: &Tocsin) -> Result<()> {
    let connections = app.connect_stored_accounts().await?;
    let (mut connected, mut disabled, mut failed) = (0, 0, 0);
    for c in &connections {
        match &c.outcome {
            Ok(()) => connected += 1,
            Err(NotConnected::Disabled) => disabled += 1,
            Err(why) => {
                failed += 1;
                println!(
                    "account {} ({} {}) is not connected: {why}",
                    c.id, c.platform, c.handle
                );
            }
        }
    }
    println!("Accounts: {connected} connected, {failed} not connected, {disabled} disabled");
    Ok(())
}

/// `[oauth]` as the server takes it: one client per platform whose id is set; the
/// redirect URI is `<public_url>/oauth/callback`.
fn oauth_config(config: &Config) -> Result<tocsin_app::oauth::OAuthConfig> {
    use tocsin_connector::descriptor::OAuthClient;
    let o = &config.oauth;
    let public_url = public_url(config)?;
    let clients = tocsin_connectors::ALL
        .iter()
        .filter_map(|d| match d.oauth.map(|f| f.client) {
            Some(OAuthClient::Registered {
                client_id_key,
                client_secret_key,
            }) => Some((
                d.platform,
                o.field(client_id_key),
                o.field(client_secret_key),
            )),
            _ => None,
        })
        .filter(|(_, id, _)| !id.is_empty())
        .map(
            |(platform, id, secret)| tocsin_app::oauth::OAuthClientConfig {
                platform,
                client_id: id,
                client_secret: Some(secret)
                    .filter(|s| !s.is_empty())
                    .map(SecretString::from),
                authorize_url: None,
                token_url: None,
            },
        )
        .collect();
    Ok(tocsin_app::oauth::OAuthConfig {
        public_url,
        clients,
        client_name: o.mastodon_client_name.clone(),
        ..tocsin_app::oauth::OAuthConfig::default()
    })
}

/// Tocsin's one public address, without a trailing `/`: `[server] public_url`, or the
/// older `[oauth] public_url` when only that is set; both set to different addresses is
/// refused (the OAuth redirect URI and the feed's links must agree).
pub(crate) fn public_url(config: &Config) -> Result<Option<String>> {
    let set = |v: &str| Some(v.trim().trim_end_matches('/').to_string()).filter(|v| !v.is_empty());
    match (
        set(&config.server.public_url),
        set(&config.oauth.public_url),
    ) {
        (Some(server), Some(oauth)) if server != oauth => Err(anyhow!(
            "[server] public_url is `{server}` but [oauth] public_url is `{oauth}`: \
             set only [server] public_url (it serves both the feed and OAuth)"
        )),
        (Some(url), _) | (None, Some(url)) => Ok(Some(url)),
        (None, None) => Ok(None),
    }
}

/// The public URL (see [`public_url`]) and `[server] cap_sender` as the feed takes them
/// (empty is unset), refused at start when the feed could not use them.
fn feed_settings(config: &Config) -> Result<(Option<String>, Option<String>)> {
    let set = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let public_url = public_url(config)?;
    let cap_sender = set(&config.server.cap_sender);
    if !tocsin_domain::audience::is_group_name(&config.server.public_group) {
        bail!(
            "[server] public_group `{}` is not a group name: lowercase letters, digits and dashes",
            config.server.public_group
        );
    }
    match (&public_url, &cap_sender) {
        (Some(url), sender) => {
            tocsin_domain::alert_feed::FeedSite::new(url, sender.as_deref())
                .map_err(|e| anyhow!("[server] public_url / cap_sender: {e}"))?;
        }
        (None, Some(sender)) => tocsin_domain::cap::check_token("[server] cap_sender", sender)
            .map_err(|e| anyhow!("{e}"))?,
        (None, None) => {}
    }
    Ok((public_url, cap_sender))
}

/// `[dispatch]` and `[server] node_id` as the dispatcher takes them, refused at start
/// when a lease could not hold a send.
fn dispatch_config(config: &Config) -> Result<DispatchConfig> {
    let d = &config.dispatch;
    if d.lease_seconds < 2 {
        bail!(
            "[dispatch] lease_seconds = {}: at least 2 (a send is not started in the second half of its lease)",
            d.lease_seconds
        );
    }
    if d.max_in_flight == 0 {
        bail!("[dispatch] max_in_flight = 0: at least 1");
    }
    Ok(DispatchConfig {
        node_id: config.server.node_id.clone(),
        lease: std::time::Duration::from_secs(d.lease_seconds),
        max_in_flight: d.max_in_flight,
        public_url: public_url(config)?,
        ..DispatchConfig::default()
    })
}

async fn run_server(
    config: &Config,
    store: Store,
    key: Arc<SealingKey>,
    listen: &str,
    demo_users: Vec<DemoUser>,
    people: Option<People>,
) -> Result<ExitCode> {
    let address: SocketAddr = listen
        .parse()
        .map_err(|_| anyhow!("`{listen}` is not an address and port (e.g. 127.0.0.1:8080)"))?;
    let feed = feed_settings(config)?;
    let library = load(&config.playbooks_dir, &config.templates_dir)?;
    let composer = composer(config, &library)?;
    let people = match people {
        Some(p) => p,
        None => People::new(store.clone(), key, PeopleConfig::default())?,
    };
    let routes = Arc::new(Routes::new());
    let sandbox = Arc::new(SandboxLog::default());
    let dispatcher = Dispatcher::new(store.clone(), routes.clone(), dispatch_config(config)?);
    let app = Tocsin::new(TocsinParts {
        store,
        people: Arc::new(people),
        library: Arc::new(library),
        composer: Arc::new(composer),
        dispatcher,
        routes,
        sandbox,
        config: AppConfig {
            oauth: oauth_config(config)?,
            monitor: monitor_config(config)?,
            egress: Some(tocsin_connector::egress::EgressPolicy::new(
                &config.server.allowed_private_hosts,
            )),
            tls: config.tls.trust()?,
            notify: config.notify.to_app(feed.0.clone())?,
            ..AppConfig::default()
        },
    });
    let watched_store = app.store().clone();
    check_notify_accounts(config, &app).await?;
    connect_accounts(&app).await?;
    let https = feed.0.as_deref().is_some_and(|u| u.starts_with("https://"));
    let trusted_proxies =
        TrustedProxies::parse(&config.server.trusted_proxies).map_err(|e| anyhow!(e))?;
    let web = WebState::new(
        app,
        WebConfig {
            allowed_origins: config.server.allowed_origins.clone(),
            secure_cookies: https || secure_cookies_for(address.ip()),
            hsts: https,
            trusted_proxies,
            demo_users,
            public_url: feed.0,
            cap_sender: feed.1,
            hide_metrics: !config.server.metrics,
            public_group: Some(config.server.public_group.clone()),
            card_style: tocsin_cards::CardStyle::new(&config.cards)?,
            listener: server::ListenerLimits {
                header_read_timeout: Duration::from_secs(
                    config.server.header_read_timeout_seconds.max(1),
                ),
                request_timeout: Duration::from_secs(config.server.request_timeout_seconds.max(1)),
                max_connections: config.server.max_connections.max(1),
            },
            ..WebConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    let bound = listener.local_addr()?;
    println!("Tocsin is listening: open http://{bound}/");
    let moved = Arc::new(std::sync::OnceLock::new());
    let schema_moves = schema_watch::until_schema_moves(
        watched_store,
        Duration::from_secs(config.server.schema_check_seconds.max(1)),
        moved.clone(),
    );
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {},
            () = schema_moves => {},
        }
    };
    server::serve(listener, web, stop).await?;
    if let Some(why) = moved.get() {
        eprintln!("Tocsin stopped: {}", why.explain());
        return Ok(ExitCode::from(schema_watch::EXIT_SCHEMA_MOVED));
    }
    println!("Tocsin stopped; deliveries in flight were recorded.");
    Ok(ExitCode::SUCCESS)
}

/// `[monitor]` as the server takes it (its addresses checked).
/// Refuses to start when `[notify]` names an account that does not exist (a typo would
/// page nobody, silently, in a crisis).
async fn check_notify_accounts(config: &Config, app: &Tocsin) -> Result<()> {
    for id in config.notify.accounts() {
        let found = app
            .store()
            .accounts()
            .get(id)
            .await
            .with_context(|| format!("[notify]: looking up account {id}"))?;
        if found.is_none() {
            bail!("[notify] names account {id}, which does not exist (see `tocsin accounts list`)");
        }
    }
    Ok(())
}

fn monitor_config(config: &Config) -> Result<tocsin_app::monitor::MonitorConfig> {
    let m = &config.monitor;
    let mut monitor = tocsin_app::monitor::MonitorConfig::from_settings(
        m.enabled,
        &m.jetstream_url,
        &m.mastodon_instances,
    )
    .map_err(|e| anyhow!(e))?;
    monitor.max_posts_per_minute = m.max_posts_per_minute;
    Ok(monitor)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_urls(server: &str, oauth: &str) -> Config {
        let mut config = Config::default();
        config.server.public_url = server.into();
        config.oauth.public_url = oauth.into();
        config
    }

    #[test]
    fn one_public_url_serves_the_feed_and_oauth_and_two_different_ones_are_refused() {
        let url = |s: &str, o: &str| public_url(&with_urls(s, o)).map_err(|e| e.to_string());
        let https = "https://alerts.health.example.gov";
        assert_eq!(url("", ""), Ok(None));
        assert_eq!(url(&format!("{https}/"), ""), Ok(Some(https.into())));
        assert_eq!(url("", https), Ok(Some(https.into())), "the older spelling");
        assert_eq!(url(https, &format!("{https}/")), Ok(Some(https.into())));
        let err = url(https, "https://other.example.org").unwrap_err();
        assert!(
            err.contains("[server] public_url") && err.contains("[oauth] public_url"),
            "{err}"
        );
        let config = with_urls("", https);
        let oauth = oauth_config(&config).unwrap();
        assert_eq!(oauth.public_url.as_deref(), Some(https));
        assert_eq!(feed_settings(&config).unwrap().0.as_deref(), Some(https));
    }
}
