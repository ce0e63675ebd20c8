//! The token manager: starts and finishes authorisations, and wraps every OAuth account's
//! connector so its token is refreshed before it expires and once after a 401. Tokens it
//! stores (an account connected, a refresh) are announced to the other nodes by account id
//! only, so they take them at once.
//!
//! Why a wrapper: connectors take their token once, at build time, and report a refused
//! token as [`ConnectorError::Auth`]; the dispatcher gives such a delivery up at once and
//! the vault marks the account `auth_failed`. Putting the refresh in a [`Connector`] that
//! holds the platform's connector (rebuilt with each new token) keeps connectors and the
//! dispatcher unchanged: the dispatcher still sees exactly one result per attempt, and an
//! account whose refresh is refused fails like any other account with a refused token.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use oauth2::PkceCodeChallenge;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::future::Future;
use std::sync::{Arc, OnceLock, Weak};
use tocsin_connector::descriptor::{
    OAuthApi, OAuthClient, OAuthFacts, OAuthIdentity, TokenDialect, TokenRefresh, UserPart,
};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::tls::TlsTrust;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostOutcome, PublishingQuota, RemotePost,
};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_connectors::{build_connector, AccountSpec};
use tocsin_domain::Platform;
use tocsin_store::oauth::{NewOAuthPending, OAuthClientRecord, OAuthPending, OAuthTokenMeta};
use tocsin_store::{AccountRecord, AccountStatus, NewAccount, Store, StoreError};
use tokio::sync::Mutex;

use super::bundle::TokenBundle;
use super::platform::{self, Identity, ResolvedClient, TokenError, Tokens};
use super::{checked_url, redirect_uri, OAuthConfig, Refusal};
use crate::accounts::{account_aad, coerce_settings, AccountChanged};
use crate::people::SealingKey;

/// The associated data a pending authorisation's verifier is sealed to.
fn pending_aad(state_hash: &str) -> Vec<u8> {
    format!("tocsin-oauth-pending:{state_hash}").into_bytes()
}

/// The associated data a registered client is sealed to.
pub(crate) fn client_aad(instance: &str) -> Vec<u8> {
    format!("tocsin-oauth-client:{instance}").into_bytes()
}

/// The SHA-256 (hex) of a state: what the store keeps.
pub fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// An admin's request to connect an account.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The platform.
    pub platform: Platform,
    /// Mastodon's instance (`https://mastodon.example`).
    pub instance_url: Option<String>,
    /// How the account is called in the panel.
    pub display_name: String,
    /// The account the admin means (`@CountyHealth`): a token for another is refused.
    pub handle: Option<String>,
    /// The connector's settings (`base_url`, `page_id`, ...).
    pub settings: Value,
    /// An existing account to connect again (its settings and handle are kept).
    pub account_id: Option<i64>,
    /// The groups a new account joins (checked names).
    pub groups: Vec<String>,
}

/// An authorisation begun: where to send the browser.
#[derive(Debug, Clone)]
pub struct Started {
    /// The platform's consent page, with state (and PKCE challenge).
    pub authorize_url: String,
    /// When the authorisation stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// An account connected by a callback.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The stored account.
    pub record: AccountRecord,
    /// Whether it was an existing account connected again.
    pub reconnected: bool,
}

/// Starts and finishes authorisations and refreshes OAuth accounts' tokens. One per
/// server, shared by the vault (which wraps OAuth accounts' connectors with it).
pub struct TokenManager {
    store: Store,
    key: Arc<SealingKey>,
    config: OAuthConfig,
    /// The certificate authorities its HTTP client trusts (`[tls]`).
    trust: TlsTrust,
    http: OnceLock<HttpClient>,
    sandbox: Arc<SandboxLog>,
    live: DashMap<i64, Weak<OAuthConnector>>,
    /// Tells other nodes an account's tokens were stored (set by the relay).
    changed: OnceLock<AccountChanged>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager").finish_non_exhaustive()
    }
}

fn misconfigured(e: impl std::fmt::Display) -> Refusal {
    Refusal::new("internal", format!("Tocsin cannot make HTTP requests: {e}"))
}

fn token_refusal(platform: Platform, stage: &str, e: &TokenError) -> Refusal {
    let name = platform.display_name();
    if e.is_invalid_grant() {
        return Refusal::new(
            "code_rejected",
            format!(
                "{name} refused the authorization code: it expired or was already used. Nothing was stored; connect again."
            ),
        );
    }
    let code = match e {
        TokenError::Refused { .. } => "token_refused",
        TokenError::Unreadable { .. } => "platform_unreadable",
        TokenError::Unreachable(_) => "platform_unreachable",
    };
    Refusal::new(code, format!("{name} {stage}: {e}. Nothing was stored."))
}

/// The API base a platform's token owner is read from, for an account with these
/// settings (where Instagram's long-lived token endpoints also are).
fn identity_api(facts: &OAuthFacts, settings: &Value) -> String {
    match facts.identity {
        OAuthIdentity::User {
            api: OAuthApi::Setting { setting, default },
            ..
        }
        | OAuthIdentity::ManagedPage {
            api: OAuthApi::Setting { setting, default },
            ..
        } => text_setting(settings, setting).unwrap_or_else(|| default.to_string()),
        _ => String::new(),
    }
}

fn text_setting(settings: &Value, key: &str) -> Option<String> {
    settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A handle as people write it, for comparing: no leading `@`, lower case.
fn bare(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_ascii_lowercase()
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

impl TokenManager {
    /// A manager sealing with `key`, configured by `config`.
    pub fn new(
        store: Store,
        key: Arc<SealingKey>,
        config: OAuthConfig,
        sandbox: Arc<SandboxLog>,
        trust: TlsTrust,
    ) -> Arc<TokenManager> {
        Arc::new(TokenManager {
            store,
            key,
            config,
            trust,
            http: OnceLock::new(),
            sandbox,
            live: DashMap::new(),
            changed: OnceLock::new(),
        })
    }

    /// Announces the accounts whose tokens this manager stores through `changed`.
    pub(crate) fn on_change(&self, changed: AccountChanged) {
        let _ = self.changed.set(changed);
    }

    /// Tells other nodes that account `id`'s tokens changed, so they re-read them.
    fn announce(&self, id: i64) {
        if let Some(changed) = self.changed.get() {
            changed(id);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// Makes OAuth requests (instances, token endpoints) refuse internal addresses
    /// except on the hosts `policy` lists. Call before the first request.
    pub fn restrict_egress(
        &self,
        policy: tocsin_connector::egress::EgressPolicy,
    ) -> Result<(), String> {
        let http = HttpClient::with_egress(
            HttpLimits {
                max_redirects: 0,
                ..HttpLimits::default()
            },
            &self.trust,
            policy,
        )
        .map_err(|e| e.to_string())?;
        self.http
            .set(http)
            .map_err(|_| "the OAuth HTTP client was built already".to_string())
    }

    /// Tocsin's bounded HTTP client, following no redirects (a token endpoint that
    /// redirects is refused rather than followed).
    fn http(&self) -> Result<&HttpClient, Refusal> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = HttpClient::with_trust(
            HttpLimits {
                max_redirects: 0,
                ..HttpLimits::default()
            },
            &self.trust,
        )
        .map_err(misconfigured)?;
        Ok(self.http.get_or_init(|| http))
    }

    /// The client for `platform` (Mastodon: registered with the instance, once, and kept
    /// sealed; `register` allows registering now).
    async fn client(
        &self,
        actor: &str,
        platform: Platform,
        instance: Option<&str>,
        settings: &Value,
        redirect: &str,
        register: bool,
    ) -> Result<ResolvedClient, Refusal> {
        let not_oauth = || {
            Refusal::new(
                "invalid",
                format!(
                    "{} accounts are not connected through OAuth",
                    platform.display_name()
                ),
            )
        };
        let facts = platform::facts(platform).ok_or_else(not_oauth)?;
        let version = platform::api_version(facts, settings);
        let mut def =
            platform::definition(platform, instance, version.as_deref()).ok_or_else(not_oauth)?;
        if let OAuthClient::PerInstance { .. } = facts.client {
            let instance = instance.unwrap_or_default();
            let (client_id, client_secret) = self
                .instance_client(actor, platform, facts, instance, redirect, register)
                .await?;
            return Ok(ResolvedClient {
                def,
                client_id,
                client_secret: Some(client_secret),
                redirect_uri: redirect.to_string(),
            });
        }
        let Some(configured) = self.config.client(platform) else {
            return Err(Refusal::new(
                "not_configured",
                format!(
                    "no OAuth client is configured for {}: register Tocsin with the platform \
                     (redirect URI {redirect}) and set its client id and secret in [oauth]",
                    platform.display_name()
                ),
            ));
        };
        if let Some(url) = &configured.authorize_url {
            def.authorize_url = url.clone();
        }
        if let Some(url) = &configured.token_url {
            def.token_url = url.clone();
        }
        Ok(ResolvedClient {
            def,
            client_id: configured.client_id.clone(),
            client_secret: configured.client_secret.clone(),
            redirect_uri: redirect.to_string(),
        })
    }

    /// The client registered with `instance` (Mastodon's): the stored one if it was
    /// registered with this redirect URI and these scopes, else a new registration (when
    /// `register`).
    async fn instance_client(
        &self,
        actor: &str,
        platform: Platform,
        facts: &OAuthFacts,
        instance: &str,
        redirect: &str,
        register: bool,
    ) -> Result<(String, SecretString), Refusal> {
        let scopes = facts.scopes.join(" ");
        let stored = self
            .store
            .oauth()
            .client(instance)
            .await
            .map_err(store_refusal)?;
        if let Some(stored) = stored.filter(|c| c.redirect_uri == redirect && c.scopes == scopes) {
            let plain = self
                .key
                .open(&stored.client_sealed, &client_aad(instance))
                .map_err(|_| {
                    Refusal::new(
                        "internal",
                        "the client registered with this instance does not open with this server's key",
                    )
                })?;
            let v: Value = serde_json::from_slice(plain.expose_secret())
                .map_err(|_| Refusal::new("internal", "the stored client is unreadable"))?;
            let id = v
                .get("client_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let secret = v
                .get("client_secret")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Ok((id.to_string(), SecretString::from(secret.to_string())));
        }
        if !register {
            return Err(Refusal::new(
                "not_configured",
                format!(
                    "Tocsin is not registered with this {} instance any more: connect the account again",
                    platform.display_name()
                ),
            ));
        }
        let registered = platform::register_instance_client(
            self.http()?,
            instance,
            &self.config.client_name,
            redirect,
            &scopes,
        )
        .await
        .map_err(|e| {
            Refusal::new(
                if e.is_transient() {
                    "platform_unreachable"
                } else {
                    "registration_refused"
                },
                format!(
                    "the {} instance did not register Tocsin as an app: {e}",
                    platform.display_name()
                ),
            )
        })?;
        let plain = serde_json::json!({
            "client_id": registered.client_id,
            "client_secret": registered.client_secret.expose_secret(),
        })
        .to_string();
        let sealed = self
            .key
            .seal(plain.as_bytes(), &client_aad(instance))
            .map_err(misconfigured)?;
        self.store
            .oauth()
            .save_client(
                actor,
                &OAuthClientRecord {
                    instance_url: instance.to_string(),
                    platform,
                    client_sealed: sealed,
                    redirect_uri: redirect.to_string(),
                    scopes,
                    created_at: self.store.now(),
                },
            )
            .await
            .map_err(store_refusal)?;
        Ok((registered.client_id, registered.client_secret))
    }

    /// Begins an authorisation for `user`; `public_url` is Tocsin's (the redirect URI is
    /// `<public_url>/oauth/callback`). Stored (audited as `account.oauth_start`) before the
    /// URL is answered.
    pub async fn start(
        &self,
        user: &str,
        request: StartRequest,
        public_url: &str,
    ) -> Result<Started, Refusal> {
        let platform = request.platform;
        let Some(facts) = platform::facts(platform) else {
            return Err(Refusal::new(
                "invalid",
                format!(
                    "{} accounts are connected with a pasted secret, not OAuth",
                    platform.display_name()
                ),
            ));
        };
        let instance_setting = match facts.client {
            OAuthClient::PerInstance { instance_setting } => Some(instance_setting),
            OAuthClient::Registered { .. } => None,
        };
        let (settings, expected, display_name, instance) = match request.account_id {
            Some(id) => {
                let record = self
                    .store
                    .accounts()
                    .get(id)
                    .await
                    .map_err(store_refusal)?
                    .ok_or_else(|| Refusal::new("not_found", format!("no account {id}")))?;
                if record.sandbox || record.platform != platform {
                    return Err(Refusal::new(
                        "invalid",
                        format!("account {id} is not a {} account", platform.display_name()),
                    ));
                }
                if record.status == AccountStatus::Disabled {
                    return Err(Refusal::new(
                        "conflict",
                        format!("account {id} is disabled"),
                    ));
                }
                let instance = instance_setting.and_then(|s| text_setting(&record.settings, s));
                (
                    record.settings.clone(),
                    Some(record.handle.clone()),
                    record.display_name.clone(),
                    instance,
                )
            }
            None => {
                let name = request.display_name.trim();
                if name.is_empty()
                    || name.chars().count() > 100
                    || name.chars().any(char::is_control)
                {
                    return Err(Refusal::new(
                        "invalid",
                        "display name is 1 to 100 characters",
                    ));
                }
                let settings = coerce_settings(platform, request.settings.clone())
                    .map_err(|e| Refusal::new("invalid", e.to_string()))?;
                let instance = match instance_setting {
                    Some(setting) => {
                        let given = request
                            .instance_url
                            .clone()
                            .or_else(|| text_setting(&settings, setting))
                            .ok_or_else(|| {
                                Refusal::new(
                                    "invalid",
                                    format!(
                                        "a {} account needs its instance URL",
                                        platform.display_name()
                                    ),
                                )
                            })?;
                        Some(checked_url("instance_url", &given)?)
                    }
                    None => None,
                };
                for key in facts.required_settings {
                    if text_setting(&settings, key).is_none() {
                        return Err(Refusal::new(
                            "invalid",
                            format!(
                                "a {} account needs the setting {key}",
                                platform.display_name()
                            ),
                        ));
                    }
                }
                // A user name the account keeps in its settings is the one the admin means.
                let named = match facts.identity {
                    OAuthIdentity::User {
                        keep: Some((setting, UserPart::Username)),
                        ..
                    } => text_setting(&settings, setting),
                    _ => None,
                };
                let expected = request
                    .handle
                    .as_deref()
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .or(named);
                (settings, expected, name.to_string(), instance)
            }
        };
        let redirect = redirect_uri(public_url);
        let client = self
            .client(
                user,
                platform,
                instance.as_deref(),
                &settings,
                &redirect,
                true,
            )
            .await?;
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let hash = state_hash(&state);
        let (challenge, verifier) = if client.def.pkce {
            let (c, v) = PkceCodeChallenge::new_random_sha256();
            (Some(c), v.secret().clone())
        } else {
            (None, String::new())
        };
        let verifier_sealed = self
            .key
            .seal(verifier.as_bytes(), &pending_aad(&hash))
            .map_err(misconfigured)?;
        let authorize_url = client
            .authorize_url(&state, challenge)
            .map_err(|e| Refusal::new("not_configured", e.to_string()))?;
        let ttl = chrono::Duration::from_std(self.config.pending_ttl)
            .unwrap_or_else(|_| chrono::Duration::minutes(10));
        let expires_at = self.store.now() + ttl;
        self.store
            .oauth()
            .insert_pending(&NewOAuthPending {
                state_hash: hash,
                platform,
                instance_url: instance,
                account_id: request.account_id,
                expected_handle: expected,
                display_name,
                settings,
                verifier_sealed,
                redirect_uri: redirect,
                started_by: user.to_string(),
                expires_at,
                groups: request.groups.clone(),
            })
            .await
            .map_err(store_refusal)?;
        Ok(Started {
            authorize_url,
            expires_at,
        })
    }

    /// Finishes an authorisation the callback has checked and used: exchanges the code,
    /// asks the platform whose token it is, refuses a token for another account than the
    /// one named, and stores the account (or its new tokens) with the sealed bundle in one
    /// transaction. Nothing is stored when any step fails.
    pub async fn finish(&self, pending: &OAuthPending, code: &str) -> Result<Finished, Refusal> {
        let platform = pending.platform;
        let facts = platform::facts(platform)
            .ok_or_else(|| Refusal::new("invalid", "not a platform connected through OAuth"))?;
        let instance = pending.instance_url.as_deref();
        let settings = &pending.settings;
        let client = self
            .client(
                &pending.started_by,
                platform,
                instance,
                settings,
                &pending.redirect_uri,
                false,
            )
            .await?;
        let http = self.http()?;
        let verifier = self
            .key
            .open(&pending.verifier_sealed, &pending_aad(&pending.state_hash))
            .map_err(|_| {
                Refusal::new(
                    "internal",
                    "the authorisation does not open with this server's key",
                )
            })?;
        let verifier = String::from_utf8(verifier.expose_secret().to_vec()).unwrap_or_default();
        let verifier = (!verifier.is_empty()).then(|| SecretString::from(verifier));
        let tokens = client
            .exchange_code(http, code, verifier.as_ref())
            .await
            .map_err(|e| token_refusal(platform, "refused the code exchange", &e))?;
        let (tokens, identity) = self
            .after_exchange(&client, platform, facts, instance, settings, tokens)
            .await?;
        self.check_identity(pending, platform, facts, instance, &identity)?;
        let mut settings = settings.as_object().cloned().unwrap_or_else(Map::new);
        let handle = match facts.identity {
            OAuthIdentity::User { api, keep, .. } => {
                if let OAuthClient::PerInstance { instance_setting } = facts.client {
                    settings.insert(
                        instance_setting.into(),
                        Value::from(instance.unwrap_or_default()),
                    );
                }
                if let Some((setting, part)) = keep {
                    let kept = match part {
                        UserPart::Id => &identity.id,
                        UserPart::Username => &identity.username,
                    };
                    settings.insert(setting.into(), Value::from(kept.clone()));
                }
                match api {
                    OAuthApi::Instance => format!(
                        "@{}@{}",
                        identity.username,
                        host_of(instance.unwrap_or_default())
                    ),
                    OAuthApi::Setting { .. } if identity.username.is_empty() => identity.id.clone(),
                    OAuthApi::Setting { .. } => format!("@{}", identity.username),
                }
            }
            OAuthIdentity::ManagedPage { .. } | OAuthIdentity::AsGiven { .. } => pending
                .expected_handle
                .clone()
                .unwrap_or_else(|| identity.username.clone()),
        };
        let settings = Value::Object(settings);
        let now = self.store.now();
        let scopes = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| client.def.scopes.iter().map(|s| s.to_string()).collect());
        let bundle = TokenBundle {
            tocsin_oauth2: 1,
            platform: platform.as_str().to_string(),
            access_token: tokens.access.expose_secret().to_string(),
            refresh_token: tokens
                .refresh
                .as_ref()
                .map(|r| r.expose_secret().to_string()),
            issued_at: now,
            expires_at: tokens
                .expires_in
                .and_then(|s| i64::try_from(s).ok())
                .map(|s| now + chrono::Duration::seconds(s)),
            scopes: scopes.clone(),
            instance_url: pending.instance_url.clone(),
        };
        let spec = AccountSpec {
            id: "new".into(),
            platform,
            name: handle.clone(),
            settings: settings.clone(),
            secret: Some(bundle.access_secret()),
        };
        build_connector(&spec, http, &self.sandbox).map_err(|e| {
            Refusal::new(
                "connector_refused",
                format!("the account's settings were refused: {e}. Nothing was stored."),
            )
        })?;
        let meta = OAuthTokenMeta {
            platform,
            instance_url: pending.instance_url.clone(),
            remote_id: identity.id.clone(),
            remote_name: handle.clone(),
            scopes,
            expires_at: bundle.expires_at,
            refreshable: refreshable(platform, &bundle),
        };
        let secret = bundle.to_secret();
        let actor = pending.started_by.as_str();
        let mut tx = self.store.begin().await.map_err(store_refusal)?;
        let (id, reconnected) = match pending.account_id {
            Some(id) => {
                // Bound to the account as stored: a reconnection keeps its settings.
                let stored = self
                    .store
                    .accounts()
                    .get(id)
                    .await
                    .map_err(store_refusal)?
                    .ok_or_else(|| {
                        Refusal::new("gone", "the account to reconnect no longer exists")
                    })?;
                let aad = account_aad(id, stored.platform, &stored.settings);
                let sealed = self
                    .key
                    .seal(secret.expose_secret().as_bytes(), &aad)
                    .map_err(misconfigured)?;
                tx.oauth()
                    .reconnect_account(actor, id, &sealed, &meta)
                    .await
                    .map_err(store_refusal)?;
                // The platform named the account with the new token: it works, so an
                // unchecked mark goes (not when the organisation is taken as given).
                if !matches!(facts.identity, OAuthIdentity::AsGiven { .. }) {
                    tx.accounts()
                        .mark_checked(
                            actor,
                            id,
                            "reconnected through OAuth: the platform named the account",
                        )
                        .await
                        .map_err(store_refusal)?;
                }
                (id, true)
            }
            None => {
                let row = NewAccount {
                    platform,
                    stands_for: None,
                    handle: handle.clone(),
                    display_name: pending.display_name.clone(),
                    sandbox: false,
                    groups: pending.groups.clone(),
                };
                let added = tx
                    .oauth()
                    .add_account(actor, &row, &settings, &meta, |id| {
                        self.key
                            .seal(
                                secret.expose_secret().as_bytes(),
                                &account_aad(id, platform, &settings),
                            )
                            .map_err(|e| e.to_string())
                    })
                    .await;
                match added {
                    Ok(id) => (id, false),
                    Err(StoreError::Database(sqlx::Error::Database(e)))
                        if e.is_unique_violation() =>
                    {
                        return Err(Refusal::new(
                            "taken",
                            format!(
                                "a {} account {handle} exists already: use its Reconnect button",
                                platform.display_name()
                            ),
                        ));
                    }
                    Err(e) => return Err(store_refusal(e)),
                }
            }
        };
        tx.oauth()
            .set_pending_outcome(&pending.state_hash, "connected")
            .await
            .map_err(store_refusal)?;
        tx.commit().await.map_err(store_refusal)?;
        self.announce(id);
        let record = self
            .store
            .accounts()
            .get(id)
            .await
            .map_err(store_refusal)?
            .ok_or_else(|| Refusal::new("internal", "the stored account vanished"))?;
        Ok(Finished {
            record,
            reconnected,
        })
    }

    /// The platform's steps after the code exchange (its [`TokenDialect`]), and who the
    /// token belongs to (its [`OAuthIdentity`]).
    async fn after_exchange(
        &self,
        client: &ResolvedClient,
        platform: Platform,
        facts: &OAuthFacts,
        instance: Option<&str>,
        settings: &Value,
        tokens: Tokens,
    ) -> Result<(Tokens, Identity), Refusal> {
        let http = self.http()?;
        let who = |e: TokenError| token_refusal(platform, "did not say whose token this is", &e);
        let long = match facts.dialect {
            TokenDialect::Standard => None,
            TokenDialect::FacebookLogin => {
                Some(client.facebook_long_lived(http, &tokens.access).await)
            }
            TokenDialect::ThreadsLongLived => {
                Some(client.threads_long_lived(http, &tokens.access).await)
            }
            TokenDialect::InstagramLongLived => {
                let origin = platform::api_origin(&identity_api(facts, settings));
                Some(
                    client
                        .instagram_long_lived(http, &origin, &tokens.access)
                        .await,
                )
            }
        };
        let tokens = match long {
            None => tokens,
            Some(long) => {
                let long =
                    long.map_err(|e| token_refusal(platform, "refused a long-lived token", &e))?;
                Tokens {
                    scopes: tokens.scopes.or(long.scopes),
                    // The user the code exchange named, to check against whose it is.
                    user_id: tokens.user_id.or(long.user_id),
                    ..long
                }
            }
        };
        let api = |api: OAuthApi| match api {
            OAuthApi::Instance => instance.unwrap_or_default().to_string(),
            OAuthApi::Setting { setting, default } => {
                text_setting(settings, setting).unwrap_or_else(|| default.to_string())
            }
        };
        match facts.identity {
            OAuthIdentity::User {
                api: base,
                path,
                id,
                username,
                keep,
            } => {
                let identity = platform::user_identity(
                    http,
                    &format!("{}{path}", api(base)),
                    &tokens.access,
                    id,
                    username,
                    matches!(keep, Some((_, UserPart::Id))),
                )
                .await
                .map_err(who)?;
                if tokens.user_id.as_ref().is_some_and(|u| *u != identity.id) {
                    return Err(Refusal::new(
                        "platform_unreadable",
                        format!(
                            "{} named two different users for one token; nothing was stored",
                            platform.display_name()
                        ),
                    ));
                }
                Ok((tokens, identity))
            }
            OAuthIdentity::ManagedPage { setting, api: base } => {
                let page_id = text_setting(settings, setting).unwrap_or_default();
                let version = platform::api_version(facts, settings).unwrap_or_default();
                let page =
                    platform::facebook_page(http, &api(base), &version, &tokens.access, &page_id)
                        .await
                        .map_err(who)?;
                let Some((identity, page_token)) = page else {
                    return Err(Refusal::new(
                        "wrong_account",
                        format!(
                            "the {name} user who consented does not manage Page {page_id}; nothing was stored. \
                             Sign in to {name} as one of the Page's admins and connect again.",
                            name = platform.display_name()
                        ),
                    ));
                };
                // A Page token obtained from a long-lived user token does not expire.
                Ok((
                    Tokens {
                        access: page_token,
                        refresh: None,
                        expires_in: None,
                        scopes: tokens.scopes,
                        user_id: None,
                    },
                    identity,
                ))
            }
            OAuthIdentity::AsGiven { setting } => {
                // The token's scope cannot read who consented: the organisation the admin
                // named is taken as given (the first post shows whether it works).
                let org = text_setting(settings, setting).unwrap_or_default();
                Ok((
                    tokens,
                    Identity {
                        id: org.clone(),
                        username: format!("organization {org}"),
                    },
                ))
            }
        }
    }

    /// Refuses a token for another account than the one the admin named (or the one
    /// being connected again).
    fn check_identity(
        &self,
        pending: &OAuthPending,
        platform: Platform,
        facts: &OAuthFacts,
        instance: Option<&str>,
        identity: &Identity,
    ) -> Result<(), Refusal> {
        let wrong = |asked: &str, got: &str| {
            Refusal::new(
                "wrong_account",
                format!(
                    "the token is for {got} on {}, but {asked} was asked for; nothing was stored. \
                     Sign in to the platform as {asked} and connect again.",
                    platform.display_name()
                ),
            )
        };
        let OAuthIdentity::User { api, keep, .. } = facts.identity else {
            return Ok(());
        };
        let Some(expected) = pending.expected_handle.as_deref() else {
            // An account kept by its user id is that user, named or not.
            if let Some((setting, UserPart::Id)) = keep {
                if let Some(id) = text_setting(&pending.settings, setting) {
                    if id != identity.id {
                        return Err(wrong(
                            &format!("user {id}"),
                            &format!("user {}", identity.id),
                        ));
                    }
                }
            }
            return Ok(());
        };
        let asked = bare(expected);
        match api {
            OAuthApi::Setting { .. } => {
                let ok = asked == identity.username.to_ascii_lowercase() || asked == identity.id;
                if !ok {
                    return Err(wrong(
                        &format!("@{asked}"),
                        &format!("@{}", identity.username),
                    ));
                }
            }
            OAuthApi::Instance => {
                let host = host_of(instance.unwrap_or_default());
                let (user, at_host) = match asked.split_once('@') {
                    Some((u, h)) => (u.to_string(), Some(h.to_string())),
                    None => (asked.clone(), None),
                };
                let ok = user == identity.username.to_ascii_lowercase()
                    && at_host.is_none_or(|h| h == host);
                if !ok {
                    return Err(wrong(
                        &format!("@{asked}"),
                        &format!("@{}@{host}", identity.username),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Wraps the connector of an OAuth account so its token is refreshed (see the module
    /// documentation). `spec` carries the settings; its secret is replaced by the bundle's
    /// access token.
    pub fn wrap(
        self: &Arc<Self>,
        spec: AccountSpec,
        bundle: TokenBundle,
        sealed: Vec<u8>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let id: i64 = spec.id.parse().unwrap_or_default();
        let http = self.http().map_err(|e| ConnectorError::Config(e.message))?;
        let inner = build_with(&spec, &bundle, http, &self.sandbox)?;
        let connector = Arc::new(OAuthConnector {
            id,
            platform: spec.platform,
            idempotent: inner.idempotent(),
            can_delete: inner.can_delete(),
            spec,
            manager: Arc::downgrade(self),
            state: Mutex::new(TokenState {
                inner,
                bundle,
                sealed,
                generation: 0,
                failed: None,
            }),
        });
        self.live.insert(id, Arc::downgrade(&connector));
        Ok(connector)
    }

    /// Refreshes every live OAuth account whose token is due (the background sweep);
    /// returns how many were refreshed.
    pub async fn refresh_due(&self) -> usize {
        let connectors: Vec<Arc<OAuthConnector>> = self
            .live
            .iter()
            .filter_map(|e| e.value().upgrade())
            .collect();
        self.live.retain(|_, w| w.strong_count() > 0);
        let mut refreshed = 0;
        for c in connectors {
            if c.refresh_if_due().await {
                refreshed += 1;
            }
        }
        refreshed
    }

    /// New tokens for a bundle, from the platform.
    async fn refresh_tokens(
        &self,
        platform: Platform,
        settings: &Value,
        bundle: &TokenBundle,
    ) -> Result<TokenBundle, TokenError> {
        let http = self
            .http()
            .map_err(|e| TokenError::Unreachable(e.message))?;
        let redirect = redirect_uri(
            self.config
                .public_url
                .as_deref()
                .unwrap_or("http://127.0.0.1"),
        );
        let client = self
            .client(
                "system",
                platform,
                bundle.instance_url.as_deref(),
                settings,
                &redirect,
                false,
            )
            .await
            .map_err(|r| TokenError::Refused {
                code: r.code.to_string(),
                description: Some(r.message),
                status: 0,
            })?;
        let renewal = platform::facts(platform).map(|f| f.refresh);
        let tokens = match renewal {
            Some(TokenRefresh::LongLivedToken) => match platform::facts(platform) {
                Some(facts) if facts.dialect == TokenDialect::InstagramLongLived => {
                    let origin = platform::api_origin(&identity_api(facts, settings));
                    client
                        .instagram_refresh(http, &origin, &bundle.access_secret())
                        .await?
                }
                _ => {
                    client
                        .threads_refresh(http, &bundle.access_secret())
                        .await?
                }
            },
            _ => {
                let Some(refresh) = &bundle.refresh_token else {
                    return Err(TokenError::Refused {
                        code: "no_refresh_token".into(),
                        description: Some("the platform gave no refresh token".into()),
                        status: 0,
                    });
                };
                client
                    .refresh(http, &SecretString::from(refresh.clone()))
                    .await?
            }
        };
        let now = self.store.now();
        Ok(TokenBundle {
            access_token: tokens.access.expose_secret().to_string(),
            // Platforms that rotate refresh tokens send a new one; others keep the old.
            refresh_token: tokens
                .refresh
                .map(|r| r.expose_secret().to_string())
                .or_else(|| bundle.refresh_token.clone()),
            issued_at: now,
            expires_at: tokens
                .expires_in
                .and_then(|s| i64::try_from(s).ok())
                .map(|s| now + chrono::Duration::seconds(s)),
            scopes: tokens.scopes.unwrap_or_else(|| bundle.scopes.clone()),
            ..bundle.clone()
        })
    }
}

fn store_refusal(e: StoreError) -> Refusal {
    tracing::error!(error = %e, "oauth: the store failed");
    Refusal::new(
        "internal",
        "the database failed; nothing was stored. Try again.",
    )
}

/// Whether a platform's token can be renewed without the admin.
fn refreshable(platform: Platform, bundle: &TokenBundle) -> bool {
    match platform::facts(platform).map(|f| f.refresh) {
        Some(TokenRefresh::LongLivedToken) => bundle.expires_at.is_some(),
        Some(TokenRefresh::RefreshToken) => bundle.refresh_token.is_some(),
        Some(TokenRefresh::Never) | None => false,
    }
}

fn build_with(
    spec: &AccountSpec,
    bundle: &TokenBundle,
    http: &HttpClient,
    sandbox: &Arc<SandboxLog>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let spec = AccountSpec {
        secret: Some(bundle.access_secret()),
        ..spec.clone()
    };
    build_connector(&spec, http, sandbox)
}

struct TokenState {
    inner: Arc<dyn Connector>,
    bundle: TokenBundle,
    sealed: Vec<u8>,
    generation: u64,
    failed: Option<String>,
}

/// An OAuth account's connector: the platform's connector with a token that is kept
/// fresh. Refreshes are serialised per account.
struct OAuthConnector {
    id: i64,
    platform: Platform,
    idempotent: bool,
    can_delete: bool,
    spec: AccountSpec,
    manager: Weak<TokenManager>,
    state: Mutex<TokenState>,
}

impl std::fmt::Debug for OAuthConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConnector")
            .field("account", &self.id)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// How a refresh ended.
enum Refreshed {
    /// New tokens are in place.
    Yes,
    /// Not possible now; worth trying later (the platform is unreachable).
    Later(String),
    /// Refused for good: the account is now `auth_failed`.
    Refused(String),
}

impl OAuthConnector {
    fn manager(&self) -> Result<Arc<TokenManager>, ConnectorError> {
        self.manager
            .upgrade()
            .ok_or_else(|| ConnectorError::Transient("the server is shutting down".into()))
    }

    /// Replaces the connector and bundle in `state` with `bundle`.
    fn adopt(
        &self,
        manager: &TokenManager,
        state: &mut TokenState,
        bundle: TokenBundle,
        sealed: Vec<u8>,
    ) -> Result<(), String> {
        let http = manager.http().map_err(|e| e.message)?;
        let inner =
            build_with(&self.spec, &bundle, http, &manager.sandbox).map_err(|e| e.to_string())?;
        state.inner = inner;
        state.bundle = bundle;
        state.sealed = sealed;
        state.generation += 1;
        state.failed = None;
        Ok(())
    }

    /// Takes the stored bundle if another node (or a reconnection) replaced ours.
    async fn adopt_stored(
        &self,
        manager: &TokenManager,
        state: &mut TokenState,
    ) -> Result<bool, String> {
        let record = manager
            .store
            .accounts()
            .get(self.id)
            .await
            .map_err(|e| e.to_string())?;
        let Some(record) = record else {
            return Err("the account no longer exists".into());
        };
        let Some(sealed) = record.secret_sealed else {
            return Ok(false);
        };
        if sealed == state.sealed {
            return Ok(false);
        }
        let opened = manager
            .key
            .open(
                &sealed,
                &account_aad(self.id, self.platform, &self.spec.settings),
            )
            .map_err(|_| "the stored token does not open with this server's key".to_string())?;
        let text = String::from_utf8(opened.expose_secret().to_vec()).unwrap_or_default();
        let Some(bundle) = TokenBundle::from_secret(&SecretString::from(text)) else {
            return Ok(false);
        };
        self.adopt(manager, state, bundle, sealed)?;
        Ok(true)
    }

    /// Refreshes the token held in `state` (the caller holds the lock).
    async fn refresh_locked(&self, state: &mut TokenState, why: &str) -> Refreshed {
        let manager = match self.manager() {
            Ok(m) => m,
            Err(e) => return Refreshed::Later(e.to_string()),
        };
        match self.adopt_stored(&manager, state).await {
            Ok(true) => return Refreshed::Yes,
            Ok(false) => {}
            Err(e) => return Refreshed::Later(e),
        }
        let fresh = manager
            .refresh_tokens(self.platform, &self.spec.settings, &state.bundle)
            .await;
        let bundle = match fresh {
            Ok(b) => b,
            Err(e) if e.is_transient() => {
                tracing::warn!(account = self.id, platform = self.platform.as_str(), reason = why, error = %e, "token refresh failed; will try again");
                return Refreshed::Later(format!("token refresh: {e}"));
            }
            Err(e) => {
                // Another node may have refreshed with the same (rotating) refresh token
                // a moment before: its tokens are then in the store, and they are ours.
                if let Ok(true) = self.adopt_stored(&manager, state).await {
                    return Refreshed::Yes;
                }
                let text = e.to_string();
                tracing::warn!(account = self.id, platform = self.platform.as_str(), reason = why, error = %text, "token refresh refused; the account needs connecting again");
                state.failed = Some(text.clone());
                if let Err(se) = manager
                    .store
                    .oauth()
                    .record_refresh_failure("system", self.id, &text)
                    .await
                {
                    tracing::error!(account = self.id, platform = self.platform.as_str(), error = %se, "could not record the failed refresh");
                }
                return Refreshed::Refused(text);
            }
        };
        let sealed = match manager.key.seal(
            bundle.to_secret().expose_secret().as_bytes(),
            &account_aad(self.id, self.platform, &self.spec.settings),
        ) {
            Ok(s) => s,
            Err(e) => return Refreshed::Later(e.to_string()),
        };
        let stored = manager
            .store
            .oauth()
            .store_refreshed_tokens(
                "system",
                self.id,
                &state.sealed,
                &sealed,
                &bundle.scopes,
                bundle.expires_at,
            )
            .await;
        match stored {
            Ok(true) => {
                // Stored: the other nodes take the new tokens now, not at their next 401.
                manager.announce(self.id);
                match self.adopt(&manager, state, bundle, sealed) {
                    Ok(()) => {
                        tracing::info!(
                            account = self.id,
                            platform = self.platform.as_str(),
                            reason = why,
                            "token refreshed"
                        );
                        Refreshed::Yes
                    }
                    Err(e) => Refreshed::Later(e),
                }
            }
            // Someone stored another bundle meanwhile: take theirs.
            Ok(false) => match self.adopt_stored(&manager, state).await {
                Ok(true) => Refreshed::Yes,
                Ok(false) => Refreshed::Later("the account changed during the refresh".into()),
                Err(e) => Refreshed::Later(e),
            },
            Err(e) => Refreshed::Later(format!("storing the refreshed token: {e}")),
        }
    }

    fn can_refresh(&self, bundle: &TokenBundle) -> bool {
        refreshable(self.platform, bundle)
    }

    /// The connector to use now: refreshed first if the token is due.
    async fn current(&self) -> Result<(Arc<dyn Connector>, u64), ConnectorError> {
        let mut state = self.state.lock().await;
        if let Some(failed) = &state.failed {
            return Err(ConnectorError::Auth(format!(
                "token refresh failed: {failed}; connect the account again"
            )));
        }
        let manager = self.manager()?;
        let now = manager.store.now();
        if self.can_refresh(&state.bundle) && state.bundle.due(now, manager.config.refresh_margin) {
            match self.refresh_locked(&mut state, "expiring").await {
                Refreshed::Yes => {}
                Refreshed::Later(why) if state.bundle.expired(now) => {
                    return Err(ConnectorError::Transient(why));
                }
                Refreshed::Later(_) => {}
                Refreshed::Refused(why) => {
                    return Err(ConnectorError::Auth(format!("token refresh failed: {why}")));
                }
            }
        }
        Ok((state.inner.clone(), state.generation))
    }

    /// After the platform refused the token of `generation`: refresh once (unless another
    /// call already did) and return the connector to retry with.
    async fn after_refusal(
        &self,
        generation: u64,
        refused: String,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let mut state = self.state.lock().await;
        if state.generation != generation {
            return Ok(state.inner.clone());
        }
        if let Some(failed) = &state.failed {
            return Err(ConnectorError::Auth(format!(
                "token refresh failed: {failed}"
            )));
        }
        if !self.can_refresh(&state.bundle) {
            // Nothing to refresh with (Mastodon, a Page token): the refusal stands, unless
            // the account was connected again meanwhile.
            let manager = self.manager()?;
            return match self.adopt_stored(&manager, &mut state).await {
                Ok(true) => Ok(state.inner.clone()),
                _ => Err(ConnectorError::Auth(refused)),
            };
        }
        match self
            .refresh_locked(&mut state, "refused by the platform")
            .await
        {
            Refreshed::Yes => Ok(state.inner.clone()),
            Refreshed::Later(why) => Err(ConnectorError::Transient(why)),
            Refreshed::Refused(why) => Err(ConnectorError::Auth(format!(
                "token refresh failed: {why} (after: {refused})"
            ))),
        }
    }

    /// Runs `op` with the current connector; after an authentication failure, refreshes
    /// once and runs it once more.
    async fn with_token<T, F, Fut>(&self, op: F) -> Result<T, ConnectorError>
    where
        F: Fn(Arc<dyn Connector>) -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let (inner, generation) = self.current().await?;
        match op(inner).await {
            Err(ConnectorError::Auth(why)) => {
                let inner = self.after_refusal(generation, why).await?;
                op(inner).await
            }
            other => other,
        }
    }

    /// The sweep: refreshes if due; whether it did.
    async fn refresh_if_due(&self) -> bool {
        let Ok(manager) = self.manager() else {
            return false;
        };
        let mut state = self.state.lock().await;
        if state.failed.is_some() || !self.can_refresh(&state.bundle) {
            return false;
        }
        if !state
            .bundle
            .due(manager.store.now(), manager.config.refresh_margin)
        {
            return false;
        }
        matches!(
            self.refresh_locked(&mut state, "expiring (sweep)").await,
            Refreshed::Yes
        )
    }
}

#[async_trait::async_trait]
impl Connector for OAuthConnector {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn idempotent(&self) -> bool {
        self.idempotent
    }

    fn can_delete(&self) -> bool {
        self.can_delete
    }

    async fn post(&self, post: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        self.with_token(|c| async move { c.post(post).await }).await
    }

    async fn delete(&self, remote: &RemotePost) -> Result<(), ConnectorError> {
        self.with_token(|c| async move { c.delete(remote).await })
            .await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        self.with_token(|c| async move { c.lookup(post).await })
            .await
    }

    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        self.with_token(|c| async move { c.healthcheck().await })
            .await
    }

    async fn publishing_quota(&self) -> Result<Option<PublishingQuota>, ConnectorError> {
        self.with_token(|c| async move { c.publishing_quota().await })
            .await
    }
}
