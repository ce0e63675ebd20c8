//! Platform accounts with their credentials: settings, a sealed secret, and a status.
//!
//! The store never sees a secret in clear: callers seal it (XChaCha20-Poly1305, bound to
//! the account's id) and hand over the sealed bytes, or a closure that seals once the new
//! account's id is known, so insert, seal and store happen in one transaction. Every
//! change is audited in its transaction (`account.add`, `account.secret_replace`,
//! `account.status`, `account.disable`, `secrets.rotate_key`); no audit entry holds a
//! secret, sealed or not.
//!
//! [`Tx::rotate_sealed`] re-seals every sealed value in the database (account secrets and
//! users' TOTP secrets) in one transaction, for `tocsin accounts rotate-key`.

use crate::aggregates::*;
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*, schedules::*,
    variants::*,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use tocsin_domain::account_languages::AccountLanguages;
use tocsin_domain::Platform;

use crate::time::{opt_time, platform_col, DbTime};
use tocsin_audit::AuditEvent;

/// A platform account to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// The platform (`Sandbox` for a sandbox destination).
    pub platform: Platform,
    /// For a sandbox account, the platform it stands in for (whose text it gets).
    pub stands_for: Option<Platform>,
    /// The account on that platform, e.g. `@health@example.social`.
    pub handle: String,
    /// How people call it in the control panel.
    pub display_name: String,
    /// Whether it is a sandbox destination (exercises send only to these).
    pub sandbox: bool,
    /// The groups it belongs to (checked names, see `tocsin_domain::audience`).
    pub groups: Vec<String>,
}

/// A stored platform account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// The platform.
    pub platform: Platform,
    /// For a sandbox account, the platform it stands in for.
    pub stands_for: Option<Platform>,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Sandbox destination.
    pub sandbox: bool,
    /// Where it stands.
    pub status: AccountStatus,
    /// Its groups, sorted.
    pub groups: Vec<String>,
}

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// In fan-out; its credentials were last known to work (or were never refused).
    Connected,
    /// Its secret was refused by the platform or could not be opened: an admin must
    /// replace it.
    AuthFailed,
    /// Taken out of fan-out by an admin; the row and its history stay.
    Disabled,
}

impl AccountStatus {
    /// The stored and shown name: `connected`, `auth_failed`, `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Connected => "connected",
            AccountStatus::AuthFailed => "auth_failed",
            AccountStatus::Disabled => "disabled",
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "connected" => Ok(AccountStatus::Connected),
            "auth_failed" => Ok(AccountStatus::AuthFailed),
            "disabled" => Ok(AccountStatus::Disabled),
            other => Err(StoreError::Database(sqlx::Error::Decode(
                format!("unknown account status `{other}`").into(),
            ))),
        }
    }
}

/// A stored account with its settings, sealed secret and status.
#[derive(Clone, PartialEq)]
pub struct AccountRecord {
    /// Row id.
    pub id: i64,
    /// The platform (`Sandbox` for a sandbox destination).
    pub platform: Platform,
    /// For a sandbox account, the platform it stands in for.
    pub stands_for: Option<Platform>,
    /// The account on its platform.
    pub handle: String,
    /// How people call it.
    pub display_name: String,
    /// A sandbox destination.
    pub sandbox: bool,
    /// Its groups, sorted.
    pub groups: Vec<String>,
    /// The platform's settings (non-secret), as given when the account was added.
    pub settings: Value,
    /// The sealed secret, if one is stored.
    pub secret_sealed: Option<Vec<u8>>,
    /// Where it stands.
    pub status: AccountStatus,
    /// Why, in words (never a secret).
    pub status_detail: Option<String>,
    /// When the status last changed.
    pub status_updated_at: Option<DateTime<Utc>>,
    /// When the sealed secret was last stored.
    pub secret_updated_at: Option<DateTime<Utc>>,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// Stored with `--skip-check`: its credentials were never tried against the platform.
    pub unchecked: bool,
    /// The languages it posts, and how.
    pub languages: AccountLanguages,
}

impl fmt::Debug for AccountRecord {
    // The sealed secret stays out of debug output; only whether there is one shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("stands_for", &self.stands_for)
            .field("handle", &self.handle)
            .field("display_name", &self.display_name)
            .field("sandbox", &self.sandbox)
            .field("groups", &self.groups)
            .field("secret_stored", &self.secret_sealed.is_some())
            .field("status", &self.status)
            .field("status_detail", &self.status_detail)
            .finish_non_exhaustive()
    }
}

/// Which kind of sealed value a re-seal is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A platform account's secret; the owner is the account id.
    AccountSecret,
    /// A user's TOTP secret; the owner is the user id.
    TotpSecret,
}

/// One sealed value to re-seal during a key rotation.
#[derive(Debug, Clone, Copy)]
pub struct SealedValue<'a> {
    /// What it is.
    pub kind: SealedKind,
    /// The row it belongs to (account or user id), as bound into its associated data.
    pub owner: i64,
    /// The value sealed under the old key.
    pub sealed: &'a [u8],
    /// For an account secret, the account's platform and settings (its associated data
    /// binds them too).
    pub account: Option<(Platform, &'a Value)>,
}

/// What a key rotation re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Account secrets re-sealed.
    pub account_secrets: u64,
    /// Users' TOTP secrets re-sealed.
    pub totp_secrets: u64,
}

const ACCOUNT_COLUMNS: &str = "id, platform, stands_for, handle, display_name, sandbox, \
     settings_json, token_encrypted, status, status_detail, status_updated_at, \
     secret_updated_at, created_at, unchecked, languages, language_posts";

type AccountRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    bool,
    String,
    Option<Vec<u8>>,
    String,
    Option<String>,
    Option<DbTime>,
    Option<DbTime>,
    DbTime,
    bool,
    String,
    String,
);

fn record_from_row(row: AccountRow) -> Result<AccountRecord, StoreError> {
    let (
        id,
        platform,
        stands_for,
        handle,
        display_name,
        sandbox,
        settings,
        sealed,
        status,
        detail,
        status_at,
        secret_at,
        created,
        unchecked,
        languages,
        language_posts,
    ) = row;
    let languages = AccountLanguages::parse(&languages, &language_posts).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(format!("account {id}: {e}").into()))
    })?;
    let settings = serde_json::from_str(&settings).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("account {id}: settings are not JSON: {e}").into(),
        ))
    })?;
    Ok(AccountRecord {
        id,
        platform: platform_col(&platform)?,
        stands_for: stands_for.as_deref().map(platform_col).transpose()?,
        handle,
        display_name,
        sandbox,
        groups: Vec::new(),
        settings,
        secret_sealed: sealed,
        status: status.parse()?,
        status_detail: detail,
        status_updated_at: opt_time(status_at),
        secret_updated_at: opt_time(secret_at),
        created_at: created.get(),
        unchecked,
        languages,
    })
}

/// Names an account's groups on its audit entry (none: nothing added).
fn with_groups(event: AuditEvent, groups: &[String]) -> AuditEvent {
    if groups.is_empty() {
        event
    } else {
        event.subject("groups", groups.join(","))
    }
}

impl AccountsTx<'_, '_> {
    /// Adds a platform account (audited as `account.add`).
    pub async fn add(&mut self, actor: &str, account: &NewAccount) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO accounts (platform, handle, display_name, sandbox, created_at, stands_for) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(account.platform.as_str())
            .bind(&account.handle)
            .bind(&account.display_name)
            .bind(account.sandbox)
            .bind(now)
            .bind(account.stands_for.map(Platform::as_str))
            .fetch_one(&mut *c)
            .await?
        });
        self.write_groups(id, &account.groups).await?;
        self.tx
            .append_audit(with_groups(
                AuditEvent::new(actor, "account.add")
                    .subject("account", id.to_string())
                    .subject("platform", account.platform.as_str()),
                &account.groups,
            ))
            .await?;
        Ok(id)
    }

    /// Adds an account with its settings and, if `seal` gives one, its sealed secret, in
    /// this transaction: the row is inserted, `seal` is called with the new id (to bind
    /// the secret to it), and the sealed bytes are stored. Audited as `account.add`.
    /// A failing `seal` fails the call; drop the transaction and nothing was written.
    pub async fn add_sealed(
        &mut self,
        actor: &str,
        account: &NewAccount,
        settings: &Value,
        seal: impl FnOnce(i64) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let settings_json = serde_json::to_string(settings)
            .map_err(|e| StoreError::Conflict(format!("account settings: {e}")))?;
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO accounts (platform, handle, display_name, sandbox, settings_json, \
                 status, created_at, stands_for) VALUES ($1, $2, $3, $4, $5, 'connected', $6, $7) \
                 RETURNING id",
            )
            .bind(account.platform.as_str())
            .bind(&account.handle)
            .bind(&account.display_name)
            .bind(account.sandbox)
            .bind(&settings_json)
            .bind(now)
            .bind(account.stands_for.map(Platform::as_str))
            .fetch_one(&mut *c)
            .await?
        });
        self.write_groups(id, &account.groups).await?;
        let sealed = seal(id).map_err(StoreError::Sealing)?;
        if let Some(sealed) = &sealed {
            on_tx!(self.tx, c => {
                sqlx::query(
                    "UPDATE accounts SET token_encrypted = $1, secret_updated_at = $2 WHERE id = $3",
                )
                .bind(sealed.as_slice())
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            });
        }
        self.tx
            .append_audit(with_groups(
                AuditEvent::new(actor, "account.add")
                    .subject("account", id.to_string())
                    .subject("platform", account.platform.as_str())
                    .outcome(if sealed.is_some() {
                        "secret sealed"
                    } else {
                        "no secret"
                    }),
                &account.groups,
            ))
            .await?;
        Ok(id)
    }

    /// Replaces an account's groups with `groups` (names checked by the caller). Audited
    /// as `account.groups`, naming the new groups. A disabled account may be regrouped:
    /// its history stays and it may be used again in a drill.
    pub async fn set_groups(
        &mut self,
        actor: &str,
        id: i64,
        groups: &[String],
    ) -> Result<(), StoreError> {
        let exists: Option<i64> = on_tx!(self.tx, c => {
            sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        });
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM account_group_members WHERE account_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        self.write_groups(id, groups).await?;
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.groups")
                    .subject("account", id.to_string())
                    .outcome(if groups.is_empty() {
                        "no groups".to_string()
                    } else {
                        groups.join(",")
                    }),
            )
            .await?;
        Ok(())
    }

    /// Sets the languages an account posts and how, audited as `account.languages` (the
    /// list and the mode, e.g. `en,es separate`).
    pub async fn set_languages(
        &mut self,
        actor: &str,
        id: i64,
        languages: &AccountLanguages,
    ) -> Result<(), StoreError> {
        let changed = on_tx!(self.tx, c => {
            sqlx::query("UPDATE accounts SET languages = $1, language_posts = $2 WHERE id = $3")
                .bind(languages.list())
                .bind(languages.posts.as_str())
                .bind(id)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        let list = languages.list();
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.languages")
                    .subject("account", id.to_string())
                    .outcome(format!(
                        "{} {}",
                        if list.is_empty() {
                            "primary"
                        } else {
                            list.as_str()
                        },
                        languages.posts.as_str()
                    )),
            )
            .await?;
        Ok(())
    }

    /// Marks an account just added as stored without the platform's check of its
    /// credentials (`--skip-check`), audited as `account.unchecked`.
    pub async fn mark_unchecked(&mut self, actor: &str, id: i64) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE accounts SET unchecked = TRUE WHERE id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.unchecked")
                    .subject("account", id.to_string())
                    .outcome("stored without the platform's credential check"),
            )
            .await?;
        Ok(())
    }

    /// Clears the unchecked mark of account `id`: its credentials have now been seen to
    /// work (`how` says by what: a health check, a delivery, a new secret that passed the
    /// platform's check). Returns whether the account was marked; only then is it audited,
    /// as `account.checked` with `how` as outcome, so repeating it is harmless.
    pub async fn mark_checked(
        &mut self,
        actor: &str,
        id: i64,
        how: &str,
    ) -> Result<bool, StoreError> {
        let cleared: Option<i64> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "UPDATE accounts SET unchecked = FALSE WHERE id = $1 AND unchecked RETURNING id",
            )
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        });
        if cleared.is_none() {
            return Ok(false);
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.checked")
                    .subject("account", id.to_string())
                    .outcome(how),
            )
            .await?;
        Ok(true)
    }

    /// Makes account `id` a member of `groups`, making the groups that do not exist yet
    /// (a group, once made, stays: with nobody in it, it shows as empty).
    async fn write_groups(&mut self, id: i64, groups: &[String]) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        for name in groups {
            on_tx!(self.tx, c => {
                sqlx::query(
                    "INSERT INTO account_groups (name, created_at) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(now)
                .execute(&mut *c)
                .await?;
                sqlx::query(
                    "INSERT INTO account_group_members (group_id, account_id) \
                     SELECT id, $1 FROM account_groups WHERE name = $2 \
                     ON CONFLICT (group_id, account_id) DO NOTHING",
                )
                .bind(id)
                .bind(name)
                .execute(&mut *c)
                .await?;
            });
        }
        Ok(())
    }

    /// Replaces an account's sealed secret (sealed by the caller, bound to `id`) and
    /// marks it connected again. Refused for a disabled or sandbox account. Audited as
    /// `account.secret_replace`.
    pub async fn replace_secret(
        &mut self,
        actor: &str,
        id: i64,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let platform: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "UPDATE accounts SET token_encrypted = $1, secret_updated_at = $2, \
                 status = 'connected', status_detail = NULL, status_updated_at = $2 \
                 WHERE id = $3 AND status <> 'disabled' AND NOT sandbox RETURNING platform",
            )
            .bind(sealed)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some(platform) = platform else {
            return Err(self.why_unchanged(id).await);
        };
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.secret_replace")
                    .subject("account", id.to_string())
                    .subject("platform", platform),
            )
            .await?;
        Ok(())
    }

    /// Replaces an account's sealed secret with the same secret sealed anew (bound to
    /// other associated data), if `old` is still the one stored; audited as
    /// `account.secret_reseal`. Returns whether it was replaced.
    pub async fn reseal_secret(
        &mut self,
        actor: &str,
        id: i64,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query("UPDATE accounts SET token_encrypted = $1 WHERE id = $2 AND token_encrypted = $3")
                .bind(new)
                .bind(id)
                .bind(old)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if rows == 1 {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "account.secret_reseal")
                        .subject("account", id.to_string())
                        .outcome("bound to the account's platform and endpoint"),
                )
                .await?;
        }
        Ok(rows == 1)
    }

    /// Sets a status other than disabled (use [`Tx::disable_account`]) with its detail.
    /// A disabled account is left as it is. Returns whether the status changed; only a
    /// change is audited (as `account.status`, the new status as outcome).
    pub async fn set_status(
        &mut self,
        actor: &str,
        id: i64,
        status: AccountStatus,
        detail: Option<&str>,
    ) -> Result<bool, StoreError> {
        if status == AccountStatus::Disabled {
            return Err(StoreError::Conflict(
                "an account is disabled with disable_account, not set_account_status".into(),
            ));
        }
        let now = DbTime(self.tx.now());
        let before: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar("SELECT status FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some(before) = before else {
            return Err(StoreError::NotFound(format!("account {id}")));
        };
        let before: AccountStatus = before.parse()?;
        if before == AccountStatus::Disabled {
            return Ok(false);
        }
        let changed = before != status;
        on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE accounts SET status = $1, status_detail = $2, \
                 status_updated_at = CASE WHEN status = $1 THEN status_updated_at ELSE $3 END \
                 WHERE id = $4",
            )
            .bind(status.as_str())
            .bind(detail)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await?;
        });
        if changed {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "account.status")
                        .subject("account", id.to_string())
                        .outcome(status.as_str()),
                )
                .await?;
        }
        Ok(changed)
    }

    /// Takes an account out of fan-out for good: its status becomes `disabled`; its row,
    /// deliveries and audit entries stay (and its sealed secret, which key rotations keep
    /// re-sealing). Audited as `account.disable`.
    pub async fn disable(&mut self, actor: &str, id: i64) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let detail = format!("disabled by {actor}");
        let platform: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "UPDATE accounts SET status = 'disabled', status_detail = $1, status_updated_at = $2 \
                 WHERE id = $3 AND status <> 'disabled' RETURNING platform",
            )
            .bind(&detail)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some(platform) = platform else {
            return Err(self.why_unchanged(id).await);
        };
        self.tx
            .append_audit(
                AuditEvent::new(actor, "account.disable")
                    .subject("account", id.to_string())
                    .subject("platform", platform),
            )
            .await?;
        Ok(())
    }

    /// Why an update of account `id` touched no row: it does not exist, is disabled, or
    /// is a sandbox account.
    async fn why_unchanged(&mut self, id: i64) -> StoreError {
        let row: Result<Option<(String, bool)>, sqlx::Error> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT status, sandbox FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await
        });
        match row {
            Ok(None) => StoreError::NotFound(format!("account {id}")),
            Ok(Some((status, _))) if status == "disabled" => {
                StoreError::Conflict(format!("account {id} is disabled"))
            }
            Ok(Some((_, true))) => StoreError::Conflict(format!(
                "account {id} is a sandbox account: it has no secret"
            )),
            Ok(Some(_)) => StoreError::Conflict(format!("account {id} changed meanwhile")),
            Err(e) => StoreError::Database(e),
        }
    }

    /// Re-seals every sealed value in the database: each account secret and each user's
    /// TOTP secret is handed to `reseal` (which opens it under the old key and seals it
    /// under the new one, with the same associated data) and written back, all in this
    /// transaction. A value `reseal` refuses, or one that changed meanwhile, fails the
    /// call and nothing is written. Audited as `secrets.rotate_key` with the counts.
    pub async fn rotate_sealed(
        &mut self,
        actor: &str,
        mut reseal: impl FnMut(SealedValue<'_>) -> Result<Vec<u8>, String>,
    ) -> Result<Rotated, StoreError> {
        let rows: Vec<(i64, Vec<u8>, String, String)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT id, token_encrypted, platform, settings_json FROM accounts \
                 WHERE token_encrypted IS NOT NULL ORDER BY id",
            )
            .fetch_all(&mut *c)
            .await?
        });
        let mut accounts = Vec::with_capacity(rows.len());
        for (id, sealed, platform, settings) in rows {
            let settings: Value = serde_json::from_str(&settings).map_err(|e| {
                StoreError::Database(sqlx::Error::Decode(
                    format!("account {id}: settings are not JSON: {e}").into(),
                ))
            })?;
            accounts.push((id, sealed, platform_col(&platform)?, settings));
        }
        // Active second factors, and those being set up (pending a code).
        let mut users: Vec<(&str, i64, Vec<u8>)> = Vec::new();
        for column in ["totp_secret_encrypted", "totp_pending_encrypted"] {
            let sql =
                format!("SELECT id, {column} FROM users WHERE {column} IS NOT NULL ORDER BY id");
            let rows: Vec<(i64, Vec<u8>)> = on_tx!(self.tx, c => {
                sqlx::query_as(&sql).fetch_all(&mut *c).await?
            });
            users.extend(rows.into_iter().map(|(id, v)| (column, id, v)));
        }
        let mut rotated = Rotated::default();
        for (id, old, platform, settings) in &accounts {
            let new = reseal(SealedValue {
                kind: SealedKind::AccountSecret,
                owner: *id,
                sealed: old,
                account: Some((*platform, settings)),
            })
            .map_err(StoreError::Sealing)?;
            let rows = on_tx!(self.tx, c => {
                sqlx::query(
                    "UPDATE accounts SET token_encrypted = $1 WHERE id = $2 AND token_encrypted = $3",
                )
                .bind(new.as_slice())
                .bind(*id)
                .bind(old.as_slice())
                .execute(&mut *c)
                .await?
                .rows_affected()
            });
            if rows != 1 {
                return Err(StoreError::Conflict(format!(
                    "account {id}'s secret changed during the rotation; nothing was changed, run it again"
                )));
            }
            rotated.account_secrets += 1;
        }
        for (column, id, old) in &users {
            let new = reseal(SealedValue {
                kind: SealedKind::TotpSecret,
                owner: *id,
                sealed: old,
                account: None,
            })
            .map_err(StoreError::Sealing)?;
            let sql = format!("UPDATE users SET {column} = $1 WHERE id = $2 AND {column} = $3");
            let rows = on_tx!(self.tx, c => {
                sqlx::query(&sql)
                .bind(new.as_slice())
                .bind(*id)
                .bind(old.as_slice())
                .execute(&mut *c)
                .await?
                .rows_affected()
            });
            if rows != 1 {
                return Err(StoreError::Conflict(format!(
                    "user {id}'s second factor changed during the rotation; nothing was changed, run it again"
                )));
            }
            rotated.totp_secrets += 1;
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "secrets.rotate_key").outcome(format!(
                    "{} account secrets and {} second-factor secrets re-sealed",
                    rotated.account_secrets, rotated.totp_secrets
                )),
            )
            .await?;
        Ok(rotated)
    }
}

impl Accounts<'_> {
    /// Adds an account in its own transaction.
    pub async fn add(self, actor: &str, account: &NewAccount) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.accounts().add(actor, account).await?)
    }

    /// Every account with its status and groups, by id.
    pub async fn list(self) -> Result<Vec<Account>, StoreError> {
        type Row = (i64, String, Option<String>, String, String, bool, String);
        let rows: Vec<Row> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT id, platform, stands_for, handle, display_name, sandbox, status \
                 FROM accounts ORDER BY id",
            )
            .fetch_all(p)
            .await?
        });
        let mut groups = self.all_groups().await?;
        rows.into_iter()
            .map(
                |(id, platform, stands_for, handle, display_name, sandbox, status)| {
                    Ok(Account {
                        id,
                        platform: platform_col(&platform)?,
                        stands_for: stands_for.as_deref().map(platform_col).transpose()?,
                        handle,
                        display_name,
                        sandbox,
                        status: status.parse()?,
                        groups: groups.remove(&id).unwrap_or_default(),
                    })
                },
            )
            .collect()
    }

    /// Every account's groups, by account id (sorted names).
    pub async fn all_groups(self) -> Result<BTreeMap<i64, Vec<String>>, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT m.account_id, g.name FROM account_group_members m \
                 JOIN account_groups g ON g.id = m.group_id ORDER BY m.account_id, g.name",
            )
            .fetch_all(p)
            .await?
        });
        let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (id, name) in rows {
            out.entry(id).or_default().push(name);
        }
        Ok(out)
    }

    /// Every group ever made, by name, including those nobody is in any more.
    pub async fn group_names(self) -> Result<Vec<String>, StoreError> {
        let names: Vec<String> = on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT name FROM account_groups ORDER BY name")
                .fetch_all(p)
                .await?
        });
        Ok(names)
    }

    /// Sets an account's languages in its own transaction (see
    /// [`AccountsTx::set_languages`]).
    pub async fn set_languages(
        self,
        actor: &str,
        id: i64,
        languages: &AccountLanguages,
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.accounts().set_languages(actor, id, languages).await?)
    }

    /// Replaces an account's groups in its own transaction (see [`AccountsTx::set_groups`]).
    pub async fn set_groups(
        self,
        actor: &str,
        id: i64,
        groups: &[String],
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.accounts().set_groups(actor, id, groups).await?)
    }

    /// Adds an account with its settings and sealed secret in its own transaction (see
    /// [`Tx::add_account_sealed`]).
    pub async fn add_sealed(
        self,
        actor: &str,
        account: &NewAccount,
        settings: &Value,
        seal: impl FnOnce(i64) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.store.begin().await?;
        let id = tx
            .accounts()
            .add_sealed(actor, account, settings, seal)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces an account's sealed secret in its own transaction.
    pub async fn replace_secret(
        self,
        actor: &str,
        id: i64,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.accounts().replace_secret(actor, id, sealed).await?;
        tx.commit().await
    }

    /// Clears account `id`'s unchecked mark in its own transaction (see the `Tx` twin);
    /// returns whether it was marked.
    pub async fn mark_checked(self, actor: &str, id: i64, how: &str) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let cleared = tx.accounts().mark_checked(actor, id, how).await?;
        tx.commit().await?;
        Ok(cleared)
    }

    /// Re-seals an account's secret in its own transaction (see the `Tx` twin).
    pub async fn reseal_secret(
        self,
        actor: &str,
        id: i64,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let done = tx.accounts().reseal_secret(actor, id, old, new).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Sets an account's status in its own transaction; returns whether it changed.
    pub async fn set_status(
        self,
        actor: &str,
        id: i64,
        status: AccountStatus,
        detail: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let changed = tx.accounts().set_status(actor, id, status, detail).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Disables an account in its own transaction.
    pub async fn disable(self, actor: &str, id: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.accounts().disable(actor, id).await?;
        tx.commit().await
    }

    /// Re-seals every sealed value in one transaction (see [`Tx::rotate_sealed`]).
    pub async fn rotate_sealed(
        self,
        actor: &str,
        reseal: impl FnMut(SealedValue<'_>) -> Result<Vec<u8>, String>,
    ) -> Result<Rotated, StoreError> {
        let mut tx = self.store.begin().await?;
        let rotated = tx.accounts().rotate_sealed(actor, reseal).await?;
        tx.commit().await?;
        Ok(rotated)
    }

    /// One account with its settings, sealed secret and status.
    pub async fn get(self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row: Option<AccountRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
        });
        let mut groups = self.all_groups().await?;
        row.map(|r| {
            record_from_row(r).map(|mut rec| {
                rec.groups = groups.remove(&rec.id).unwrap_or_default();
                rec
            })
        })
        .transpose()
    }

    /// Every account with its settings, sealed secret and status, by id.
    pub async fn records(self) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id");
        let rows: Vec<AccountRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        let mut groups = self.all_groups().await?;
        rows.into_iter()
            .map(|r| {
                record_from_row(r).map(|mut rec| {
                    rec.groups = groups.remove(&rec.id).unwrap_or_default();
                    rec
                })
            })
            .collect()
    }

    /// How many times any account was added or changed, by any process on this database
    /// (counted by triggers in the changing transaction). A running server reads it now
    /// and then and re-reads its accounts when it moved: that is how a change made with
    /// `tocsin accounts ...` reaches it.
    pub async fn change_count(self) -> Result<i64, StoreError> {
        let n: i64 = on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT n FROM account_changes WHERE id = 1")
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }
}
