//! Platform accounts connected through OAuth 2: authorisations under way, clients
//! registered per Mastodon instance, and what the admin page shows of each account's
//! token (scopes, expiry, the last refresh), never the token.
//!
//! The token bundle itself (access token, refresh token, expiry, scopes) is the account's
//! secret and lives sealed in `accounts.token_encrypted` like every other secret, so key
//! rotation, the "secret stored" flag and building the account's connector treat it the
//! same way. An account and its first bundle are stored in one transaction
//! ([`Tx::add_oauth_account`]); a refreshed bundle replaces the old one only if the old
//! one is still the one stored ([`Tx::store_refreshed_tokens`], compare-and-set), so two
//! nodes refreshing at once cannot lose a rotated refresh token silently.
//!
//! Audited: `account.oauth_start` (an authorisation begins), `account.oauth_connect` (an
//! account and its tokens stored), `account.token_refresh` (refreshed, or failed with
//! why), `oauth.client_register` (a client registered with an instance). Refusals of a
//! callback are audited by the web layer as `account.oauth_refused`. No entry holds a
//! token, a code, a verifier or a client secret, sealed or not.

use tocsin_domain::Platform;

use crate::aggregates::*;
use crate::time::{db, opt_time, platform_col, DbTime};
use crate::tx::{on_pool, on_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tocsin_audit::AuditEvent;

fn decode(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

/// An authorisation to begin: what the admin asked for, with the PKCE verifier sealed.
#[derive(Clone)]
pub struct NewOAuthPending {
    /// SHA-256 (hex) of the `state` sent to the platform; the state itself is not kept.
    pub state_hash: String,
    /// The platform (`x`, `mastodon`, ...).
    pub platform: Platform,
    /// Mastodon's instance (normalised base URL).
    pub instance_url: Option<String>,
    /// The account to reconnect, if this is not a new one.
    pub account_id: Option<i64>,
    /// The handle the admin named: the platform's account must be this one.
    pub expected_handle: Option<String>,
    /// How the new account is called in the panel.
    pub display_name: String,
    /// The connector's settings the admin gave.
    pub settings: Value,
    /// The PKCE code verifier, sealed by the caller.
    pub verifier_sealed: Vec<u8>,
    /// The redirect URI sent to the platform (the code exchange repeats it).
    pub redirect_uri: String,
    /// The user who started it.
    pub started_by: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// The groups a new account joins.
    pub groups: Vec<String>,
}

impl std::fmt::Debug for NewOAuthPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOAuthPending")
            .field("platform", &self.platform)
            .field("instance_url", &self.instance_url)
            .field("account_id", &self.account_id)
            .field("started_by", &self.started_by)
            .finish_non_exhaustive()
    }
}

/// A stored authorisation (see [`NewOAuthPending`]).
#[derive(Clone)]
pub struct OAuthPending {
    /// SHA-256 (hex) of the state.
    pub state_hash: String,
    /// The platform.
    pub platform: Platform,
    /// Mastodon's instance.
    pub instance_url: Option<String>,
    /// The account to reconnect.
    pub account_id: Option<i64>,
    /// The handle the admin named.
    pub expected_handle: Option<String>,
    /// The new account's display name.
    pub display_name: String,
    /// The connector's settings.
    pub settings: Value,
    /// The sealed PKCE verifier.
    pub verifier_sealed: Vec<u8>,
    /// The redirect URI sent.
    pub redirect_uri: String,
    /// Who started it.
    pub started_by: String,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// The groups a new account joins.
    pub groups: Vec<String>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When a callback used it (it is used once).
    pub used_at: Option<DateTime<Utc>>,
    /// How it ended (`connected` or a refusal's code).
    pub outcome: Option<String>,
}

impl std::fmt::Debug for OAuthPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthPending")
            .field("platform", &self.platform)
            .field("instance_url", &self.instance_url)
            .field("account_id", &self.account_id)
            .field("started_by", &self.started_by)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

type PendingRow = (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    String,
    Vec<u8>,
    String,
    String,
    DbTime,
    DbTime,
    Option<DbTime>,
    Option<String>,
    Option<String>,
);

const PENDING_COLUMNS: &str = "state_hash, platform, instance_url, account_id, expected_handle, \
     display_name, settings_json, verifier_sealed, redirect_uri, started_by, created_at, \
     expires_at, used_at, outcome, groups_json";

fn pending_from_row(row: PendingRow) -> Result<OAuthPending, StoreError> {
    let (
        state_hash,
        platform,
        instance_url,
        account_id,
        expected_handle,
        display_name,
        settings,
        verifier_sealed,
        redirect_uri,
        started_by,
        created,
        expires,
        used,
        outcome,
        groups,
    ) = row;
    let groups: Vec<String> = match groups {
        Some(g) => serde_json::from_str(&g)
            .map_err(|e| decode(format!("oauth_pending groups are not a JSON list: {e}")))?,
        None => Vec::new(),
    };
    let settings = serde_json::from_str(&settings)
        .map_err(|e| decode(format!("oauth_pending settings are not JSON: {e}")))?;
    Ok(OAuthPending {
        groups,
        state_hash,
        platform: platform_col(&platform)?,
        instance_url,
        account_id,
        expected_handle,
        display_name,
        settings,
        verifier_sealed,
        redirect_uri,
        started_by,
        created_at: created.get(),
        expires_at: expires.get(),
        used_at: opt_time(used),
        outcome,
    })
}

/// What is known of an OAuth account's token besides the token (for the admin page and
/// for refreshing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokenMeta {
    /// The platform.
    pub platform: Platform,
    /// Mastodon's instance.
    pub instance_url: Option<String>,
    /// The account's id on the platform.
    pub remote_id: String,
    /// The account's name on the platform (`@CountyHealth`).
    pub remote_name: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires (`None`: it does not, or the platform did not say).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether a refresh token (or the platform's own refresh) can renew it.
    pub refreshable: bool,
}

/// A stored OAuth account's token facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOAuth {
    /// The account.
    pub account_id: i64,
    /// Scopes, expiry, identity.
    pub meta: OAuthTokenMeta,
    /// Who connected it.
    pub connected_by: String,
    /// When it was (last) connected.
    pub connected_at: DateTime<Utc>,
    /// When its token was last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Why the last refresh failed (cleared by a refresh or a reconnection).
    pub refresh_error: Option<String>,
}

type AccountOAuthRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<DbTime>,
    bool,
    String,
    DbTime,
    Option<DbTime>,
    Option<String>,
);

const ACCOUNT_OAUTH_COLUMNS: &str = "account_id, platform, instance_url, remote_id, remote_name, \
     scopes, expires_at, refreshable, connected_by, connected_at, refreshed_at, refresh_error";

fn scopes_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

fn account_oauth_from_row(row: AccountOAuthRow) -> Result<AccountOAuth, StoreError> {
    let (
        account_id,
        platform,
        instance_url,
        remote_id,
        remote_name,
        scopes,
        expires,
        refreshable,
        connected_by,
        connected_at,
        refreshed_at,
        refresh_error,
    ) = row;
    Ok(AccountOAuth {
        account_id,
        meta: OAuthTokenMeta {
            platform: platform_col(&platform)?,
            instance_url,
            remote_id,
            remote_name,
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            expires_at: opt_time(expires),
            refreshable,
        },
        connected_by,
        connected_at: connected_at.get(),
        refreshed_at: opt_time(refreshed_at),
        refresh_error,
    })
}

/// A client registered with one Mastodon instance; its id and secret sealed together.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClientRecord {
    /// The instance (normalised base URL).
    pub instance_url: String,
    /// The platform (`mastodon`).
    pub platform: Platform,
    /// Client id and secret, sealed by the caller (bound to the instance URL).
    pub client_sealed: Vec<u8>,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
    /// The scopes it was registered with (space-separated).
    pub scopes: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for OAuthClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClientRecord")
            .field("instance_url", &self.instance_url)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Which OAuth value a key rotation is re-sealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthSealedKind {
    /// A pending authorisation's PKCE verifier; the owner is its state hash.
    PendingVerifier,
    /// A registered client's id and secret; the owner is its instance URL.
    Client,
}

/// What an OAuth key rotation re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OAuthRotated {
    /// Pending authorisations' verifiers.
    pub pending: u64,
    /// Registered clients.
    pub clients: u64,
}

impl OAuthTx<'_, '_> {
    /// Records an authorisation under way; audited as `account.oauth_start`.
    pub async fn insert_pending(&mut self, pending: &NewOAuthPending) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let settings = serde_json::to_string(&pending.settings)
            .map_err(|e| StoreError::Conflict(format!("settings: {e}")))?;
        let groups = serde_json::to_string(&pending.groups)
            .map_err(|e| StoreError::Conflict(format!("groups: {e}")))?;
        on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO oauth_pending (state_hash, platform, instance_url, account_id, \
                 expected_handle, display_name, settings_json, verifier_sealed, redirect_uri, \
                 started_by, created_at, expires_at, groups_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&pending.state_hash)
            .bind(pending.platform.as_str())
            .bind(&pending.instance_url)
            .bind(pending.account_id)
            .bind(&pending.expected_handle)
            .bind(&pending.display_name)
            .bind(&settings)
            .bind(pending.verifier_sealed.as_slice())
            .bind(&pending.redirect_uri)
            .bind(&pending.started_by)
            .bind(now)
            .bind(db(&pending.expires_at))
            .bind(&groups)
            .execute(&mut *c)
            .await?;
        });
        let mut event = AuditEvent::new(&pending.started_by, "account.oauth_start")
            .subject("platform", pending.platform.as_str());
        if let Some(id) = pending.account_id {
            event = event.subject("account", id.to_string());
        }
        if let Some(instance) = &pending.instance_url {
            event = event.subject("instance", instance.as_str());
        }
        self.tx
            .append_audit(event.outcome(format!(
                "authorisation started, expires {}",
                db(&pending.expires_at)
            )))
            .await?;
        Ok(())
    }

    /// Marks an authorisation used, with how it ended, if nobody used it before; returns
    /// whether this call was the one that used it (a state is good for one callback).
    pub async fn finish_pending(
        &mut self,
        state_hash: &str,
        outcome: &str,
    ) -> Result<bool, StoreError> {
        let now = DbTime(self.tx.now());
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE oauth_pending SET used_at = $1, outcome = $2 \
                 WHERE state_hash = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(outcome)
            .bind(state_hash)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Sets how an authorisation ended (after [`Tx::finish_oauth_pending`] used it).
    pub async fn set_pending_outcome(
        &mut self,
        state_hash: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE oauth_pending SET outcome = $1 WHERE state_hash = $2")
                .bind(outcome)
                .bind(state_hash)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Deletes authorisations that expired before `before` (kept a while after expiry so
    /// a late callback is told "expired" or "used", not "unknown").
    pub async fn purge_pending(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = db(&before);
        let rows = on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM oauth_pending WHERE expires_at < $1")
                .bind(before)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(rows)
    }

    async fn upsert_account_oauth(
        &mut self,
        actor: &str,
        id: i64,
        meta: &OAuthTokenMeta,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let expires = meta.expires_at.map(DbTime);
        on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM account_oauth WHERE account_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "INSERT INTO account_oauth (account_id, platform, instance_url, remote_id, \
                 remote_name, scopes, expires_at, refreshable, connected_by, connected_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(meta.platform.as_str())
            .bind(&meta.instance_url)
            .bind(&meta.remote_id)
            .bind(&meta.remote_name)
            .bind(scopes_text(&meta.scopes))
            .bind(expires)
            .bind(meta.refreshable)
            .bind(actor)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    fn connect_event(actor: &str, id: i64, meta: &OAuthTokenMeta, what: &str) -> AuditEvent {
        AuditEvent::new(actor, "account.oauth_connect")
            .subject("account", id.to_string())
            .subject("platform", meta.platform.as_str())
            .outcome(format!(
                "{what} as {} (scopes: {}; {})",
                meta.remote_name,
                scopes_text(&meta.scopes),
                meta.expires_at.map_or_else(
                    || "no expiry".to_string(),
                    |t| format!("expires {}", tocsin_audit::entry::format_time(&t))
                )
            ))
    }

    /// Adds an account with its token bundle (sealed by `seal` once the new id is known)
    /// and its token facts, in this transaction: audited as `account.add` and
    /// `account.oauth_connect`. Nothing is stored if any part fails.
    pub async fn add_account(
        &mut self,
        actor: &str,
        account: &NewAccount,
        settings: &Value,
        meta: &OAuthTokenMeta,
        seal: impl FnOnce(i64) -> Result<Vec<u8>, String>,
    ) -> Result<i64, StoreError> {
        let id = self
            .tx
            .accounts()
            .add_sealed(actor, account, settings, |id| seal(id).map(Some))
            .await?;
        self.upsert_account_oauth(actor, id, meta).await?;
        self.tx
            .append_audit(Self::connect_event(actor, id, meta, "connected"))
            .await?;
        Ok(id)
    }

    /// Gives an existing account a new token bundle (sealed to its id) and token facts,
    /// and marks it connected: audited as `account.secret_replace` and
    /// `account.oauth_connect`.
    pub async fn reconnect_account(
        &mut self,
        actor: &str,
        id: i64,
        sealed: &[u8],
        meta: &OAuthTokenMeta,
    ) -> Result<(), StoreError> {
        self.tx.accounts().replace_secret(actor, id, sealed).await?;
        self.upsert_account_oauth(actor, id, meta).await?;
        self.tx
            .append_audit(Self::connect_event(actor, id, meta, "reconnected"))
            .await?;
        Ok(())
    }

    /// Stores a refreshed token bundle if `expected` is still the stored one (another
    /// node may have refreshed first: then nothing changes and this returns `false`).
    /// The token facts follow, a failed status from an earlier refresh is cleared, and
    /// the refresh is audited as `account.token_refresh`.
    pub async fn store_refreshed_tokens(
        &mut self,
        actor: &str,
        id: i64,
        expected: &[u8],
        sealed: &[u8],
        scopes: &[String],
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let now = DbTime(self.tx.now());
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE accounts SET token_encrypted = $1, secret_updated_at = $2 \
                 WHERE id = $3 AND token_encrypted = $4 AND status <> 'disabled'",
            )
            .bind(sealed)
            .bind(now)
            .bind(id)
            .bind(expected)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if rows != 1 {
            return Ok(false);
        }
        let expires = expires_at.map(DbTime);
        on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE account_oauth SET scopes = $1, expires_at = $2, refreshed_at = $3, \
                 refresh_error = NULL WHERE account_id = $4",
            )
            .bind(scopes_text(scopes))
            .bind(expires)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await?;
        });
        self.tx
            .accounts()
            .set_status(actor, id, AccountStatus::Connected, None)
            .await?;
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.token_refresh")
                    .subject("account", id.to_string())
                    .outcome(match &expires {
                        Some(t) => format!("refreshed, expires {t}"),
                        None => "refreshed".to_string(),
                    }),
            )
            .await?;
        Ok(true)
    }

    /// Records that refreshing an account's token failed for good (the platform refused
    /// the refresh token): the account becomes `auth_failed` with `why`, shown on the
    /// admin page, and the failure is audited as `account.token_refresh`.
    pub async fn record_refresh_failure(
        &mut self,
        actor: &str,
        id: i64,
        why: &str,
    ) -> Result<(), StoreError> {
        let why: String = why.chars().take(300).collect();
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE account_oauth SET refresh_error = $1 WHERE account_id = $2")
                .bind(&why)
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        let detail = format!("token refresh failed: {why}");
        self.tx
            .accounts()
            .set_status(actor, id, AccountStatus::AuthFailed, Some(&detail))
            .await?;
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.token_refresh")
                    .subject("account", id.to_string())
                    .outcome(format!("failed: {why}")),
            )
            .await?;
        Ok(())
    }

    /// Forgets an account's token facts (its secret was replaced by a pasted one).
    pub async fn forget_account(&mut self, id: i64) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM account_oauth WHERE account_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Stores (or replaces) the client registered with an instance; audited as
    /// `oauth.client_register`.
    pub async fn save_client(
        &mut self,
        actor: &str,
        client: &OAuthClientRecord,
    ) -> Result<(), StoreError> {
        let created = db(&client.created_at);
        on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM oauth_clients WHERE instance_url = $1")
                .bind(&client.instance_url)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "INSERT INTO oauth_clients (instance_url, platform, client_sealed, redirect_uri, \
                 scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&client.instance_url)
            .bind(client.platform.as_str())
            .bind(client.client_sealed.as_slice())
            .bind(&client.redirect_uri)
            .bind(&client.scopes)
            .bind(created)
            .execute(&mut *c)
            .await?;
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "oauth.client_register")
                    .subject("platform", client.platform.as_str())
                    .subject("instance", client.instance_url.as_str())
                    .outcome(format!("scopes: {}", client.scopes)),
            )
            .await?;
        Ok(())
    }

    /// Re-seals every sealed OAuth value (pending verifiers, registered clients) with
    /// `reseal` (owner: the state hash or the instance URL), in this transaction; a value
    /// `reseal` refuses fails the call.
    pub async fn rotate_sealed(
        &mut self,
        mut reseal: impl FnMut(OAuthSealedKind, &str, &[u8]) -> Result<Vec<u8>, String>,
    ) -> Result<OAuthRotated, StoreError> {
        let pending: Vec<(String, Vec<u8>)> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT state_hash, verifier_sealed FROM oauth_pending ORDER BY state_hash")
                .fetch_all(&mut *c)
                .await?
        });
        let clients: Vec<(String, Vec<u8>)> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT instance_url, client_sealed FROM oauth_clients ORDER BY instance_url")
                .fetch_all(&mut *c)
                .await?
        });
        let mut rotated = OAuthRotated::default();
        for (owner, old) in &pending {
            let new = reseal(OAuthSealedKind::PendingVerifier, owner, old)
                .map_err(StoreError::Sealing)?;
            on_tx!(self.tx, c => {
                sqlx::query("UPDATE oauth_pending SET verifier_sealed = $1 WHERE state_hash = $2")
                    .bind(new.as_slice())
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
            });
            rotated.pending += 1;
        }
        for (owner, old) in &clients {
            let new = reseal(OAuthSealedKind::Client, owner, old).map_err(StoreError::Sealing)?;
            on_tx!(self.tx, c => {
                sqlx::query("UPDATE oauth_clients SET client_sealed = $1 WHERE instance_url = $2")
                    .bind(new.as_slice())
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
            });
            rotated.clients += 1;
        }
        Ok(rotated)
    }
}

impl OAuth<'_> {
    /// An authorisation by the SHA-256 (hex) of its state.
    pub async fn pending(self, state_hash: &str) -> Result<Option<OAuthPending>, StoreError> {
        let sql = format!("SELECT {PENDING_COLUMNS} FROM oauth_pending WHERE state_hash = $1");
        let row: Option<PendingRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(state_hash).fetch_optional(p).await?
        });
        row.map(pending_from_row).transpose()
    }

    /// Records an authorisation under way in its own transaction (see
    /// [`Tx::insert_oauth_pending`]), first deleting ones that expired over a day ago.
    pub async fn insert_pending(self, pending: &NewOAuthPending) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let day_ago = self.store.now() - chrono::Duration::days(1);
        tx.oauth().purge_pending(day_ago).await?;
        tx.oauth().insert_pending(pending).await?;
        tx.commit().await
    }

    /// One account's token facts.
    pub async fn account(self, id: i64) -> Result<Option<AccountOAuth>, StoreError> {
        let sql =
            format!("SELECT {ACCOUNT_OAUTH_COLUMNS} FROM account_oauth WHERE account_id = $1");
        let row: Option<AccountOAuthRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(account_oauth_from_row).transpose()
    }

    /// Every OAuth account's token facts, by account id.
    pub async fn accounts(self) -> Result<Vec<AccountOAuth>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_OAUTH_COLUMNS} FROM account_oauth ORDER BY account_id");
        let rows: Vec<AccountOAuthRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(account_oauth_from_row).collect()
    }

    /// Stores a refreshed token bundle in its own transaction (see
    /// [`Tx::store_refreshed_tokens`]); `false` when another refresh got there first.
    pub async fn store_refreshed_tokens(
        self,
        actor: &str,
        id: i64,
        expected: &[u8],
        sealed: &[u8],
        scopes: &[String],
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let stored = tx
            .oauth()
            .store_refreshed_tokens(actor, id, expected, sealed, scopes, expires_at)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Records a failed refresh in its own transaction (see
    /// [`Tx::record_refresh_failure`]).
    pub async fn record_refresh_failure(
        self,
        actor: &str,
        id: i64,
        why: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.oauth().record_refresh_failure(actor, id, why).await?;
        tx.commit().await
    }

    /// The client registered with an instance, if any.
    pub async fn client(self, instance_url: &str) -> Result<Option<OAuthClientRecord>, StoreError> {
        let row: Option<(String, String, Vec<u8>, String, String, DbTime)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT instance_url, platform, client_sealed, redirect_uri, scopes, created_at \
                 FROM oauth_clients WHERE instance_url = $1",
            )
            .bind(instance_url)
            .fetch_optional(p)
            .await?
        });
        row.map(
            |(instance_url, platform, client_sealed, redirect_uri, scopes, created)| {
                Ok(OAuthClientRecord {
                    instance_url,
                    platform: platform_col(&platform)?,
                    client_sealed,
                    redirect_uri,
                    scopes,
                    created_at: created.get(),
                })
            },
        )
        .transpose()
    }

    /// Stores the client registered with an instance in its own transaction.
    pub async fn save_client(
        self,
        actor: &str,
        client: &OAuthClientRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.oauth().save_client(actor, client).await?;
        tx.commit().await
    }

    /// Forgets an account's token facts in its own transaction.
    pub async fn forget_account(self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.oauth().forget_account(id).await?;
        tx.commit().await
    }
}
