//! The HTTP server: the JSON API the control panel and scripts use, the websocket the
//! panel listens on, the panel's static files, health and readiness probes.
//!
//! [`serve`] runs it on a listener until a shutdown signal, then lets the dispatcher
//! finish what it has in flight (what it never claimed stays in the outbox for the next
//! start). Every handler takes its facts from the store and its time from the store's
//! clock; authorisation is by role ([`crate::people::Permission`]) on every route and
//! every websocket frame alike, through the same functions.

mod account_follow;
mod admin;
mod audit;
mod auth;
pub mod catalog;
mod consent;
mod conversation;
mod drafts;
pub mod error;
pub mod events;
mod feed;
pub mod harness;
mod health;
mod host;
mod messages;
mod metrics;
pub mod monitor;
mod oauth;
mod openapi;
mod panel;
mod relay;
mod request_log;
mod schedules;
mod sessions;
mod views;
pub mod ws;

use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_dispatch::{Dispatcher, Routes};
use tocsin_domain::compose::Composer;
use tocsin_domain::library::Library;
use tocsin_store::Store;

use crate::accounts::AccountVault;
use crate::people::People;
pub use catalog::stand_in;
pub use events::{Hub, ServerEvent};
pub use ws::WsLimits;

/// A demo user, shown with a current code on the sign-in page under `tocsin demo`.
#[derive(Clone)]
pub struct DemoUser {
    /// Sign-in name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Role name.
    pub role: String,
    /// The TOTP secret (base32), to show the current code.
    pub totp_secret: String,
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How the server behaves beyond its parts.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Origins (`https://panel.example.org`) allowed to open the websocket and to send
    /// requests that change things. The server's own origin (from `Host`) always is.
    pub allowed_origins: Vec<String>,
    /// Whether cookies carry `Secure` (everything but loopback).
    pub secure_cookies: bool,
    /// Websocket limits.
    pub ws: WsLimits,
    /// Demo users, under `tocsin demo` only.
    pub demo_users: Vec<DemoUser>,
    /// Tocsin's public base URL (`[server] public_url`): the links of the public alert
    /// feed and its CAP documents. Unset, only a request to a loopback `Host` gets the
    /// feed (local use and tests).
    pub public_url: Option<String>,
    /// The CAP `sender` of the feed's alerts (`[server] cap_sender`); unset, the public
    /// URL's host.
    pub cap_sender: Option<String>,
    /// Connecting accounts through OAuth 2 (clients, public URL, token refresh).
    pub oauth: crate::oauth::OAuthConfig,
    /// Answer `GET /metrics` with 404 (`[server] metrics = false`); served by default.
    pub hide_metrics: bool,
    /// The hashtag monitor (`[monitor]`); off unless turned on.
    pub monitor: monitor::MonitorConfig,
}

/// Everything the server needs, built by the binary.
pub struct AppParts {
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
    pub config: ServerConfig,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) people: Arc<People>,
    pub(crate) library: Arc<Library>,
    pub(crate) composer: Arc<Composer>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) routes: Arc<Routes>,
    pub(crate) config: ServerConfig,
    pub(crate) hub: Hub,
    pub(crate) vault: Arc<AccountVault>,
    /// Panel events to and from other nodes (PostgreSQL only).
    pub(crate) relay: Option<relay::Relay>,
    /// Account changes made by other nodes and processes, applied to the routes.
    _account_follow: account_follow::AccountFollow,
    /// The hashtag monitor's state (its supervisor runs in [`serve`]).
    pub(crate) monitor: monitor::Monitor,
    dispatching: AtomicBool,
}

/// The server's shared state. Cheap to clone.
#[derive(Clone)]
pub struct App(pub(crate) Arc<Inner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// Builds the state and starts relaying the dispatcher's delivery events to panels.
    /// Must be called inside a tokio runtime.
    pub fn new(parts: AppParts) -> App {
        let hub = Hub::new(parts.config.ws.queue);
        hub.relay(parts.dispatcher.subscribe());
        let vault = Arc::new(AccountVault::new(
            parts.people.sealing_key(),
            parts.sandbox.clone(),
        ));
        vault.watch_deliveries(parts.store.clone(), parts.dispatcher.subscribe());
        oauth::install(&vault, &parts);
        // After the token manager is in place, so that its stored tokens are announced too.
        let account_follow =
            account_follow::AccountFollow::start(parts.store.clone(), &vault, &parts.routes);
        let relay = relay::start(
            &hub,
            parts.store.clone(),
            parts.dispatcher.node_id(),
            &vault,
            account_follow.follower(),
        );
        relay::connect_accounts_on_demand(&parts.routes, &vault, parts.store.clone());
        let monitor =
            monitor::Monitor::new(parts.config.monitor.clone(), parts.dispatcher.node_id());
        App(Arc::new(Inner {
            store: parts.store,
            people: parts.people,
            library: parts.library,
            composer: parts.composer,
            dispatcher: parts.dispatcher,
            routes: parts.routes,
            config: parts.config,
            hub,
            vault,
            relay,
            _account_follow: account_follow,
            monitor,
            dispatching: AtomicBool::new(false),
        }))
    }

    /// The event hub (panels' events).
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The routing table (to add accounts' connectors).
    pub fn routes(&self) -> &Arc<Routes> {
        &self.0.routes
    }

    /// The platform accounts' vault (seals their secrets, builds their routes).
    pub fn vault(&self) -> &Arc<AccountVault> {
        &self.0.vault
    }

    /// Connects every stored account (see [`AccountVault::connect_stored`]); call once at
    /// start, before serving.
    pub async fn connect_stored_accounts(
        &self,
    ) -> Result<Vec<crate::accounts::Connection>, tocsin_store::StoreError> {
        self.0
            .vault
            .connect_stored(&self.0.store, &self.0.routes)
            .await
    }

    pub(crate) fn dispatching(&self) -> bool {
        self.0.dispatching.load(Ordering::Relaxed)
    }
}

/// Every route of the server.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .route(
            "/session",
            post(auth::sign_in)
                .delete(auth::sign_out)
                .fallback(error::method_not_allowed),
        )
        .route("/session/reauthenticate", post(auth::reauthenticate))
        .route("/me", get(auth::me))
        .route("/demo", get(auth::demo))
        .route("/openapi.json", get(openapi::document))
        .route("/playbooks", get(catalog::list))
        .route("/playbooks/{id}", get(catalog::detail))
        .route("/playbooks/{id}/preview", post(catalog::preview))
        .route("/drafts", get(drafts::list).post(drafts::create))
        .route("/drafts/{id}", get(drafts::get_one).put(drafts::edit))
        .route("/drafts/{id}/submit", post(drafts::submit))
        .route(
            "/drafts/{id}/request-changes",
            post(drafts::request_changes),
        )
        .route("/drafts/{id}/approve", post(drafts::approve))
        .route("/drafts/{id}/break-glass", post(drafts::break_glass))
        .route("/drafts/{id}/withdraw", post(drafts::withdraw))
        .route("/messages", get(messages::list))
        .route("/messages/{id}", get(messages::get_one))
        .route("/messages/{id}/retract", post(messages::retract))
        .route(
            "/messages/{id}/deliveries/{account_id}/retry",
            post(messages::retry),
        )
        .route("/messages/{id}/review", post(messages::review))
        .route("/reviews", get(messages::reviews))
        .route("/messages/{id}/schedules", post(schedules::add))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{id}/cancel", post(schedules::cancel))
        .route("/sessions", get(sessions::list).post(sessions::create))
        .route("/sessions/{id}", get(sessions::get_one))
        .route("/sessions/{id}/end", post(conversation::end))
        .route("/sessions/{id}/conversation", get(conversation::list))
        .route(
            "/sessions/{id}/conversation/{post_id}/question",
            post(conversation::set_question),
        )
        .route("/monitor", get(conversation::monitor))
        .route("/consents", get(consent::list).post(consent::add))
        .route("/consents/{reference}/revoke", post(consent::revoke))
        .route("/audit", get(audit::entries))
        .route("/audit/export", get(audit::export))
        .route("/audit/verify", get(audit::verify))
        .route("/users", get(admin::users).post(admin::add_user))
        .route("/users/{name}/role", post(admin::set_role))
        .route("/users/{name}/disable", post(admin::disable_user))
        .route("/users/{name}/reset-totp", post(admin::reset_totp))
        .route("/accounts", get(admin::accounts).post(admin::add_account))
        .route("/accounts/platforms", get(admin::platforms))
        .route("/accounts/{id}/disable", post(admin::disable_account))
        .route("/accounts/{id}/secret", post(admin::replace_secret))
        .route("/accounts/oauth/start", post(oauth::start))
        .fallback(error::not_found)
        // After every route: a known path with a method it does not take answers the
        // JSON error too, not axum's empty 405.
        .method_not_allowed_fallback(error::method_not_allowed);
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/feed/alerts.atom", get(feed::alerts))
        .route("/feed/exercise.atom", get(feed::exercise))
        .route("/feed/cap/{file}", get(feed::cap_document))
        .route("/metrics", get(metrics::metrics))
        .route("/ws", get(ws::upgrade))
        .route("/oauth/callback", get(oauth::callback))
        .route("/", get(panel::index))
        .route("/panel/{*path}", get(panel::asset))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::guard_origin,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(axum::middleware::from_fn(health::security_headers))
        .layer(axum::middleware::from_fn(request_log::trace_requests))
        .with_state(app)
}

/// Serves on `listener` until `shutdown` completes, running this node's dispatcher
/// alongside. On shutdown the listener stops accepting, open requests finish, and the
/// dispatcher records every delivery it had in flight before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let dispatcher = app.0.dispatcher.clone();
    let mut dispatcher_stop = stop_rx.clone();
    app.0.dispatching.store(true, Ordering::Relaxed);
    let dispatching = {
        let app = app.clone();
        tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = dispatcher_stop.wait_for(|stopped| *stopped).await;
                })
                .await;
            app.0.dispatching.store(false, Ordering::Relaxed);
        })
    };
    let monitoring = monitor::start(&app, stop_rx.clone());
    let hub = app.0.hub.clone();
    let router = router(app);
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Open websockets would hold the server open: tell them we are going.
        hub.shut_down();
        let _ = stop_tx.send(true);
    })
    .await;
    let _ = dispatching.await;
    if let Some(monitoring) = monitoring {
        // Its streams close cleanly (bounded by the monitor's close grace).
        let _ = monitoring.await;
    }
    result
}
