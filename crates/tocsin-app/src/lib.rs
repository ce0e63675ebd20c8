//! Tocsin's use cases, between the front doors (the HTTP API, the websocket, the command
//! line) and the parts below them (store, dispatcher, connectors, domain).
//!
//! [`Tocsin`] is the application: its state is built by [`Tocsin::new`] without starting
//! anything, so a front door's tests can call it directly; [`Tocsin::start`] starts the
//! background services (fan-out, the account follower, the relay between nodes, the OAuth
//! refresh sweep, the hashtag monitor, the escalation of [`notify`] pages) in one [`tokio::task::JoinSet`] the caller joins
//! after signalling shutdown, so no task outlives its owner.
//!
//! Layout: the workflow ([`drafts`], [`messages`], [`schedules`], [`sessions`],
//! [`consent`], [`conversation`], with [`catalog`] for playbooks, previews and targets and
//! [`views`] for the shapes they answer), people ([`people`], [`admin`]), the account vault
//! ([`accounts`]) and OAuth tokens ([`oauth`]), events for panels and other nodes
//! ([`events`], [`relay`], [`account_follow`]), the [`monitor`]'s supervision, and
//! [`error`], what every use case answers when it refuses.

pub mod account_follow;
pub mod accounts;
pub mod admin;
pub mod calendar;
pub mod caller;
pub mod catalog;
pub mod consent;
pub mod conversation;
pub mod drafts;
pub mod error;
pub mod events;
pub mod images;
pub mod messages;
pub mod monitor;
pub mod notify;
pub mod oauth;
pub mod people;
pub mod quotas;
pub mod relay;
pub mod sandbox_posts;
pub mod schedules;
mod services;
pub mod sessions;
pub mod shutdown;
pub mod views;

use std::sync::Arc;
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_dispatch::{Dispatcher, Routes};
use tocsin_domain::compose::Composer;
use tocsin_domain::library::Library;
use tocsin_store::Store;

pub use caller::Authed;
pub use error::{AppError, AppResult, ErrorKind};
pub use events::{Hub, HubSignal, PanelEvent};
pub use shutdown::{Shutdown, ShutdownTrigger};

use accounts::AccountVault;
use people::People;

/// How the application behaves beyond its parts.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// Connecting accounts through OAuth 2 (clients, public URL, token refresh).
    pub oauth: oauth::OAuthConfig,
    /// Where account and OAuth requests may not go (`[server] allowed_private_hosts`
    /// lists the exceptions); `None` sends anywhere (tests of parts that need it).
    pub egress: Option<tocsin_connector::egress::EgressPolicy>,
    /// The hashtag monitor (`[monitor]`); off unless turned on.
    pub monitor: monitor::MonitorConfig,
    /// The certificate authorities connectors, the OAuth client and the monitor trust
    /// (the bundled roots and the system store, and `[tls] extra_ca_files`).
    pub tls: tocsin_connector::tls::TlsTrust,
    /// Signals the event ring for panels holds before a slow socket must resync (see
    /// [`Hub`]); 0 takes [`DEFAULT_EVENT_RING`].
    pub event_ring: usize,
    /// Who is paged when a draft is submitted or waits too long (`[notify]`).
    pub notify: notify::NotifyConfig,
}

/// The ring size of the event hub when [`AppConfig::event_ring`] is 0.
pub const DEFAULT_EVENT_RING: usize = 4096;

/// Everything the application needs, built by the binary (or a test).
pub struct TocsinParts {
    /// The database.
    pub store: Store,
    /// Users and sessions.
    pub people: Arc<People>,
    /// The playbooks.
    pub library: Arc<Library>,
    /// Renders playbook steps.
    pub composer: Arc<Composer>,
    /// The fan-out engine of this node.
    pub dispatcher: Dispatcher,
    /// Which connector sends to which account.
    pub routes: Arc<Routes>,
    /// Where sandbox accounts record what they were sent.
    pub sandbox: Arc<SandboxLog>,
    /// Behaviour.
    pub config: AppConfig,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) people: Arc<People>,
    pub(crate) library: Arc<Library>,
    pub(crate) composer: Arc<Composer>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) routes: Arc<Routes>,
    pub(crate) sandbox: Arc<SandboxLog>,
    pub(crate) config: AppConfig,
    pub(crate) hub: Hub,
    pub(crate) vault: Arc<AccountVault>,
    /// What the relay between nodes counts (PostgreSQL only; idle on SQLite).
    pub(crate) relay: Arc<relay::RelayState>,
    /// The hashtag monitor's state (its supervisor is one of the services).
    pub(crate) monitor: monitor::Monitor,
    /// Whether this node's dispatcher is running its claim loop.
    pub(crate) dispatching: std::sync::atomic::AtomicBool,
}

/// The application's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Tocsin(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Tocsin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tocsin").finish_non_exhaustive()
    }
}

impl Tocsin {
    /// Builds the application's state; starts nothing (see [`Tocsin::start`]).
    pub fn new(parts: TocsinParts) -> Tocsin {
        let ring = match parts.config.event_ring {
            0 => DEFAULT_EVENT_RING,
            n => n,
        };
        let hub = Hub::new(ring);
        let vault = Arc::new(
            AccountVault::new(parts.people.sealing_key(), parts.sandbox.clone())
                .with_trust(parts.config.tls.clone()),
        );
        let tokens = oauth::TokenManager::new(
            parts.store.clone(),
            parts.people.sealing_key(),
            parts.config.oauth.clone(),
            parts.sandbox.clone(),
            parts.config.tls.clone(),
        );
        if let Some(policy) = &parts.config.egress {
            if let Err(e) = vault.restrict_egress(policy.clone()) {
                tracing::error!(error = %e, "could not build the account connectors' HTTP client");
            }
            if let Err(e) = tokens.restrict_egress(policy.clone()) {
                tracing::error!(error = %e, "could not build the OAuth HTTP client");
            }
        }
        vault.enable_oauth(tokens);
        relay::connect_accounts_on_demand(&parts.routes, &vault, parts.store.clone());
        let monitor =
            monitor::Monitor::new(parts.config.monitor.clone(), parts.dispatcher.node_id());
        Tocsin(Arc::new(Inner {
            store: parts.store,
            people: parts.people,
            library: parts.library,
            composer: parts.composer,
            dispatcher: parts.dispatcher,
            routes: parts.routes,
            sandbox: parts.sandbox,
            config: parts.config,
            hub,
            vault,
            relay: Arc::new(relay::RelayState::default()),
            monitor,
            dispatching: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// Users and sessions.
    pub fn people(&self) -> &Arc<People> {
        &self.0.people
    }

    /// The playbooks.
    pub fn library(&self) -> &Arc<Library> {
        &self.0.library
    }

    /// Renders playbook steps.
    pub fn composer(&self) -> &Arc<Composer> {
        &self.0.composer
    }

    /// This node's fan-out engine.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.0.dispatcher
    }

    /// The routing table (to add accounts' connectors).
    pub fn routes(&self) -> &Arc<Routes> {
        &self.0.routes
    }

    /// Where sandbox accounts record what they were sent.
    pub fn sandbox(&self) -> &Arc<SandboxLog> {
        &self.0.sandbox
    }

    /// The platform accounts' vault (seals their secrets, builds their routes).
    pub fn vault(&self) -> &Arc<AccountVault> {
        &self.0.vault
    }

    /// The event hub every panel listens on.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// The application's configuration.
    pub fn config(&self) -> &AppConfig {
        &self.0.config
    }

    /// The hashtag monitor's state.
    pub fn monitor(&self) -> &monitor::Monitor {
        &self.0.monitor
    }

    /// What the relay between nodes counted (all zero on SQLite).
    pub fn relay(&self) -> &relay::RelayState {
        &self.0.relay
    }

    /// Whether this node's dispatcher is running its claim loop (readiness).
    pub fn dispatching(&self) -> bool {
        self.0
            .dispatching
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connects every stored account (see [`AccountVault::connect_stored`]); call once at
    /// start, before serving.
    pub async fn connect_stored_accounts(
        &self,
    ) -> Result<Vec<accounts::Connection>, tocsin_store::StoreError> {
        self.0
            .vault
            .connect_stored(&self.0.store, &self.0.routes)
            .await
    }

    /// Refreshes now every OAuth account whose token is due (what the background sweep
    /// does every `refresh_every`); returns how many were refreshed.
    pub async fn refresh_due_tokens(&self) -> usize {
        match self.0.vault.oauth() {
            Some(m) => m.refresh_due().await,
            None => 0,
        }
    }
}
