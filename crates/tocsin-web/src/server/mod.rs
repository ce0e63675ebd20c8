//! The HTTP server: the JSON API the control panel and scripts use, the websocket the
//! panel listens on, the panel's static files, health and readiness probes.
//!
//! [`serve`] runs it on a listener until a shutdown signal, with the application's
//! services alongside, then lets the dispatcher finish what it has in flight (what it
//! never claimed stays in the outbox for the next start). Handlers read the request and
//! hand it to a use case of [`tocsin_app`], which authorises it by role and decides: the
//! same function serves a route and its websocket frame.

mod admin;
mod audit;
mod auth;
mod calendar;
mod cards;
mod catalog;
pub mod client_addr;
mod consent;
mod conversation;
pub mod diagnostics;
mod drafts;
mod enrol;
pub mod error;
mod feed;
pub mod harness;
mod health;
mod host;
mod images;
pub mod listener;
mod messages;
mod metrics;
mod oauth;
mod openapi;
mod panel;
mod request_log;
mod sandbox_posts;
mod schedules;
mod sessions;
pub mod ws;

use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tocsin_app::{Shutdown, Tocsin};

pub use listener::ListenerLimits;
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

/// How the web front door behaves.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Origins (`https://panel.example.org`) allowed to open the websocket and to send
    /// requests that change things. The server's own origin (from `Host`) always is.
    pub allowed_origins: Vec<String>,
    /// Whether cookies carry `Secure` and the `__Host-` prefix: when the public URL is
    /// `https`, and whenever the server listens beyond loopback (see
    /// [`tocsin_app::people::session::secure_cookies_for`]).
    pub secure_cookies: bool,
    /// Send `Strict-Transport-Security` (the public URL is `https`).
    pub hsts: bool,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client (`[server]
    /// trusted_proxies`); nobody else's are believed.
    pub trusted_proxies: client_addr::TrustedProxies,
    /// Websocket limits.
    pub ws: WsLimits,
    /// The listener's timeouts and connection limit.
    pub listener: ListenerLimits,
    /// Demo users, under `tocsin demo` only.
    pub demo_users: Vec<DemoUser>,
    /// Tocsin's public base URL (`[server] public_url`): the links of the public alert
    /// feed and its CAP documents. Unset, only a request to a loopback `Host` gets the
    /// feed (local use and tests).
    pub public_url: Option<String>,
    /// The CAP `sender` of the feed's alerts (`[server] cap_sender`); unset, the public
    /// URL's host.
    pub cap_sender: Option<String>,
    /// Answer `GET /metrics` with 404 (`[server] metrics = false`); served by default.
    pub hide_metrics: bool,
    /// The account group that counts as public (`[server] public_group`): only messages
    /// whose targets include it are in the public alert feed. Unset: `public`.
    pub public_group: Option<String>,
    /// The organisation's name and colours on alert cards (`[cards]`).
    pub card_style: tocsin_cards::CardStyle,
}

impl WebConfig {
    /// The group whose messages the public alert feed carries.
    pub fn public_group(&self) -> &str {
        self.public_group.as_deref().unwrap_or(DEFAULT_PUBLIC_GROUP)
    }
}

/// The group that counts as public when `[server] public_group` does not say.
pub const DEFAULT_PUBLIC_GROUP: &str = "public";

/// What every handler gets: the application and the web layer's settings. Cheap to
/// clone; building it starts nothing, so a test can hand it to [`router`] and call
/// the router directly.
#[derive(Debug, Clone)]
pub struct WebState {
    /// The application.
    pub app: Tocsin,
    /// The web layer's settings.
    pub config: Arc<WebConfig>,
    /// The public feed as last composed (see [`feed`]).
    pub(crate) feed_cache: Arc<feed::FeedCache>,
    /// The alert-card renderer, built on first use (see [`cards`]).
    pub(crate) cards: Arc<std::sync::OnceLock<Arc<tocsin_cards::CardRenderer>>>,
}

impl WebState {
    /// The state for `app` with `config`.
    pub fn new(app: Tocsin, config: WebConfig) -> WebState {
        WebState {
            app,
            config: Arc::new(config),
            feed_cache: Arc::default(),
            cards: Arc::default(),
        }
    }
}

/// Every route of the server.
pub fn router(state: WebState) -> Router {
    let api = Router::new()
        .route(
            "/session",
            post(auth::sign_in)
                .delete(auth::sign_out)
                .fallback(error::method_not_allowed),
        )
        .route("/session/reauthenticate", post(auth::reauthenticate))
        .route("/me", get(auth::me))
        .route("/me/password", post(enrol::change_password))
        .route("/me/second-factor", post(enrol::new_second_factor))
        .route(
            "/me/second-factor/confirm",
            post(enrol::confirm_second_factor),
        )
        .route("/enrolment/start", post(enrol::start))
        .route("/enrolment/complete", post(enrol::complete))
        .route("/demo", get(auth::demo))
        .route("/openapi.json", get(openapi::document))
        .route("/playbooks", get(catalog::list))
        .route("/playbooks/{id}", get(catalog::detail))
        .route("/playbooks/{id}/preview", post(catalog::preview))
        .route(
            "/images",
            post(images::upload).layer(axum::extract::DefaultBodyLimit::max(
                images::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/images/{sha256}", get(images::get_one))
        .route("/playbooks/{id}/card", post(cards::card))
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
        .route("/messages/{id}/follow-up", post(messages::follow_up))
        .route("/messages/{id}/story", get(audit::story))
        .route(
            "/messages/{id}/deliveries/{account_id}/retry",
            post(messages::retry),
        )
        .route("/messages/{id}/review", post(messages::review))
        .route("/reviews", get(messages::reviews))
        .route("/messages/{id}/schedules", post(schedules::add))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{id}/cancel", post(schedules::cancel))
        .route("/calendar", get(calendar::window))
        .route("/messages/{id}/cancel", post(calendar::cancel))
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
        .route("/audit/facets", get(audit::facets))
        .route("/audit/verify", get(audit::verify))
        .route("/users", get(admin::users).post(admin::add_user))
        .route("/users/{name}/role", post(admin::set_role))
        .route("/users/{name}/disable", post(admin::disable_user))
        .route("/users/{name}/reset-totp", post(admin::reset_totp))
        .route("/accounts", get(admin::accounts).post(admin::add_account))
        .route("/accounts/platforms", get(admin::platforms))
        .route("/accounts/quotas", post(admin::quotas))
        .route("/accounts/{id}/disable", post(admin::disable_account))
        .route("/accounts/{id}/secret", post(admin::replace_secret))
        .route("/accounts/{id}/groups", post(admin::set_groups))
        .route("/accounts/{id}/languages", post(admin::set_languages))
        .route("/accounts/oauth/start", post(oauth::start))
        .route("/sandbox/{account}/{post}", get(sandbox_posts::get_one))
        .fallback(error::not_found)
        // After every route: a known path with a method it does not take answers the
        // JSON error too, not axum's empty 405.
        .method_not_allowed_fallback(error::method_not_allowed);
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/diagnostics/request", get(diagnostics::request_seen))
        .route("/feed/alerts.atom", get(feed::alerts))
        .route("/feed/exercise.atom", get(feed::exercise))
        .route("/feed/cap/{file}", get(feed::cap_document))
        .route("/metrics", get(metrics::metrics))
        .route("/ws", get(ws::upgrade))
        .route("/oauth/callback", get(oauth::callback))
        .route("/sandbox/{account}/{post}", get(sandbox_posts::page))
        .route("/media/{token}", get(images::public_image))
        .route("/media/{token}/square", get(images::public_square))
        .route("/", get(panel::index))
        .route("/panel/{*path}", get(panel::asset))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard_origin,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            listener::time_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::security_headers,
        ))
        .layer(axum::middleware::from_fn(request_log::trace_requests))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, running the application's services
/// alongside, within the listener's limits ([`ListenerLimits`]: header-read and request
/// timeouts, a connection limit). On shutdown the listener stops accepting, open
/// requests finish, and the services stop; the dispatcher records every delivery it had
/// in flight before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (trigger, stop) = Shutdown::new();
    let mut services = state.app.start(&stop);
    let hub = state.app.hub().clone();
    let limits = state.config.listener;
    let router = router(state);
    let result = listener::run(listener, router, limits, async move {
        shutdown.await;
        // Open websockets would hold the server open: tell them we are going.
        hub.shut_down();
        trigger.fire();
    })
    .await;
    while services.join_next().await.is_some() {}
    result
}
