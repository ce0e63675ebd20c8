//! The rows behind sign-in: users with their second factor and state, and sessions
//! (stored under the SHA-256 of their id, never the id itself).
//!
//! Changes to users are audited here, in the same transaction; sign-in, sign-out and
//! expiry entries are written by the caller (`tocsin-web`), which knows why they happened.
//! Nothing here sees a password, a TOTP code or an unsealed secret.

use crate::aggregates::*;
use crate::time::{db, opt_time, DbTime};
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, schedules::*,
    variants::*,
};
use chrono::{DateTime, Utc};
use sqlx::Row as _;
use tocsin_audit::AuditEvent;

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Sign-in name, unique.
    pub name: String,
    /// `viewer`, `drafter`, `approver`, `compliance` or `admin`.
    pub role: String,
    /// The argon2id hash (never the password).
    pub password_hash: String,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The argon2id hash.
    pub password_hash: String,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// A user with everything sign-in needs.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// The argon2id hash.
    pub password_hash: String,
    /// The sealed TOTP secret, if enrolled.
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// A sealed TOTP secret being set up, not yet proved with a code.
    pub totp_pending_sealed: Option<Vec<u8>>,
    /// The newest TOTP time step accepted.
    pub totp_last_step: Option<i64>,
    /// When the enrolled secret was first proved to work.
    pub totp_confirmed_at: Option<DateTime<Utc>>,
    /// When the user was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When added.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for UserRecord {
    // The hash and the sealed secret stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("totp_enrolled", &self.totp_secret_sealed.is_some())
            .field("totp_pending", &self.totp_pending_sealed.is_some())
            .field("totp_last_step", &self.totp_last_step)
            .field("totp_confirmed_at", &self.totp_confirmed_at)
            .field("disabled_at", &self.disabled_at)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A session to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the session id, hex.
    pub id_sha256: String,
    /// The user.
    pub user_id: i64,
    /// Sign-in time (also the last re-authentication).
    pub created_at: DateTime<Utc>,
    /// The absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// The client address at sign-in.
    pub client_ip: Option<String>,
}

/// A stored session with its user's current name, role and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session id, hex.
    pub id_sha256: String,
    /// The user's id.
    pub user_id: i64,
    /// The user's name.
    pub user: String,
    /// The user's role now (a role change applies to open sessions at once).
    pub role: String,
    /// When the user was disabled, if they were.
    pub user_disabled_at: Option<DateTime<Utc>>,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// Last re-authentication (sign-in counts).
    pub reauthenticated_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, name, role, password_hash, totp_secret_encrypted, totp_last_step, \
                            totp_confirmed_at, disabled_at, created_at, totp_pending_encrypted";

type UserRow = (
    i64,
    String,
    String,
    String,
    Option<Vec<u8>>,
    Option<i64>,
    Option<DbTime>,
    Option<DbTime>,
    DbTime,
    Option<Vec<u8>>,
);

fn user_from_row(row: UserRow) -> Result<UserRecord, StoreError> {
    let (id, name, role, password_hash, sealed, last_step, confirmed, disabled, created, pending) =
        row;
    Ok(UserRecord {
        id,
        name,
        role,
        password_hash,
        totp_secret_sealed: sealed,
        totp_pending_sealed: pending,
        totp_last_step: last_step,
        totp_confirmed_at: opt_time(confirmed),
        disabled_at: opt_time(disabled),
        created_at: created.get(),
    })
}

fn changed_one(rows: u64, name: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("user `{name}`")))
    }
}

impl PeopleTx<'_, '_> {
    /// Adds a user (audited as `user.add`).
    pub async fn add(&mut self, actor: &str, user: &NewUser) -> Result<i64, StoreError> {
        let now = DbTime(self.tx.now());
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&user.name)
            .bind(&user.role)
            .bind(&user.password_hash)
            .bind(now)
            .fetch_one(&mut *c)
            .await?
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "user.add")
                    .subject("user", user.name.as_str())
                    .outcome(user.role.as_str()),
            )
            .await?;
        Ok(id)
    }

    /// Stores a freshly sealed TOTP secret, unconfirmed, forgetting the old one and its
    /// last step (audited as `user.totp_enrol`).
    pub async fn set_totp_secret(
        &mut self,
        actor: &str,
        name: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE users SET totp_secret_encrypted = $1, totp_last_step = NULL, \
                 totp_confirmed_at = NULL WHERE name = $2",
            )
            .bind(sealed)
            .bind(name)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        changed_one(rows, name)?;
        self.tx
            .append_audit(AuditEvent::new(actor, "user.totp_enrol").subject("user", name))
            .await?;
        Ok(())
    }

    /// Records `step` as the newest accepted TOTP step for the user, only if it is newer
    /// than the stored one. Returns false when it is not (a replayed code, or another
    /// node accepted the same code first): the caller must refuse the sign-in.
    pub async fn advance_totp_step(&mut self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE users SET totp_last_step = $1 \
                 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            )
            .bind(step)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Marks the user's enrolled secret as proved to work, if not already (audited as
    /// `user.totp_confirm` the first time).
    pub async fn confirm_totp(&mut self, actor: &str, user_id: i64) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let (rows, name) = on_tx!(self.tx, c => {
            let name: Option<String> = sqlx::query_scalar(
                "UPDATE users SET totp_confirmed_at = $1 \
                 WHERE id = $2 AND totp_confirmed_at IS NULL AND totp_secret_encrypted IS NOT NULL \
                 RETURNING name",
            )
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?;
            (u64::from(name.is_some()), name)
        });
        if let (1, Some(name)) = (rows, name) {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "user.totp_confirm").subject("user", name.as_str()),
                )
                .await?;
        }
        Ok(())
    }

    /// Removes the user's second factor and ends their sessions; they cannot sign in
    /// until enrolled again (audited as `user.totp_reset`).
    pub async fn reset_totp(&mut self, actor: &str, name: &str) -> Result<(), StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE users SET totp_secret_encrypted = NULL, totp_last_step = NULL, \
                 totp_confirmed_at = NULL WHERE name = $1",
            )
            .bind(name)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        changed_one(rows, name)?;
        self.delete_sessions_of(name).await?;
        self.tx
            .append_audit(AuditEvent::new(actor, "user.totp_reset").subject("user", name))
            .await?;
        Ok(())
    }

    /// Changes a user's role (audited as `user.role`, the new role as outcome).
    pub async fn set_role(
        &mut self,
        actor: &str,
        name: &str,
        role: &str,
    ) -> Result<(), StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
                .bind(role)
                .bind(name)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        changed_one(rows, name)?;
        self.tx
            .append_audit(
                AuditEvent::new(actor, "user.role")
                    .subject("user", name)
                    .outcome(role),
            )
            .await?;
        Ok(())
    }

    /// The names of the admins who are not disabled, read under the transaction's write
    /// lock (on PostgreSQL the rows are locked), so two changes cannot both leave none.
    pub async fn enabled_admins(&mut self) -> Result<Vec<String>, StoreError> {
        let names: Vec<(String,)> = on_tx!(self.tx, c => {
            sqlx::query_as(if matches!(self.tx.store.backend(), crate::Backend::Postgres) {
                "SELECT name FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY name FOR UPDATE"
            } else {
                "SELECT name FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY name"
            })
            .fetch_all(&mut *c)
            .await?
        });
        Ok(names.into_iter().map(|(n,)| n).collect())
    }

    /// Disables a user and ends their sessions (audited as `user.disable`).
    pub async fn disable(&mut self, actor: &str, name: &str) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let rows = on_tx!(self.tx, c => {
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE name = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(name)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        changed_one(rows, name)?;
        let ended = self.delete_sessions_of(name).await?;
        self.tx
            .append_audit(
                AuditEvent::new(actor, "user.disable")
                    .subject("user", name)
                    .outcome(format!("{ended} sessions ended")),
            )
            .await?;
        Ok(())
    }

    /// Stores a new session (the caller audits the sign-in in this transaction).
    pub async fn insert_session(&mut self, session: &NewSession) -> Result<(), StoreError> {
        let created = db(&session.created_at);
        let expires = db(&session.expires_at);
        on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO sessions (id_sha256, user_id, created_at, last_seen_at, expires_at, \
                 reauthenticated_at, client_ip) VALUES ($1, $2, $3, $3, $4, $3, $5)",
            )
            .bind(&session.id_sha256)
            .bind(session.user_id)
            .bind(created)
            .bind(expires)
            .bind(session.client_ip.as_deref())
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Deletes a session; returns whether it existed.
    pub async fn delete_session(&mut self, id_sha256: &str) -> Result<bool, StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1")
                .bind(id_sha256)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Records a re-authentication on a session; returns whether it existed.
    pub async fn set_session_reauthenticated(
        &mut self,
        id_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = db(&at);
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE sessions SET reauthenticated_at = $1, last_seen_at = $1 WHERE id_sha256 = $2",
            )
            .bind(at)
            .bind(id_sha256)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Deletes every session of the named user; returns how many.
    pub async fn delete_sessions_of(&mut self, name: &str) -> Result<u64, StoreError> {
        let rows = on_tx!(self.tx, c => {
            sqlx::query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = $1)")
                .bind(name)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(rows)
    }
}

impl People<'_> {
    /// Adds a user in its own transaction.
    pub async fn add(self, actor: &str, user: &NewUser) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.people().add(actor, user).await?)
    }

    /// A user by name.
    pub async fn user(self, name: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, String, String, DbTime)> = on_pool!(self.store, p => {
            sqlx::query_as("SELECT id, name, role, password_hash, created_at FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
        });
        row.map(|(id, name, role, password_hash, at)| {
            Ok(User {
                id,
                name,
                role,
                password_hash,
                created_at: at.get(),
            })
        })
        .transpose()
    }

    /// A user with their second factor and state, by name.
    pub async fn record(self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row: Option<UserRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(name).fetch_optional(p).await?
        });
        row.map(user_from_row).transpose()
    }

    /// A user by id.
    pub async fn record_by_id(self, id: i64) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(user_from_row).transpose()
    }

    /// Every user, by name.
    pub async fn records(self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows: Vec<UserRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(user_from_row).collect()
    }

    /// A session with its user's current name, role and state.
    pub async fn session(self, id_sha256: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = "SELECT s.id_sha256, s.user_id, u.name, u.role, u.disabled_at, s.created_at, \
                   s.last_seen_at, s.expires_at, s.reauthenticated_at \
                   FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = $1";
        let row = on_pool!(self.store, p => {
            match sqlx::query(sql).bind(id_sha256).fetch_optional(p).await? {
                Some(r) => Some((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<String, _>(2)?,
                    r.try_get::<String, _>(3)?,
                    r.try_get::<Option<DbTime>, _>(4)?,
                    r.try_get::<DbTime, _>(5)?,
                    r.try_get::<DbTime, _>(6)?,
                    r.try_get::<DbTime, _>(7)?,
                    r.try_get::<Option<DbTime>, _>(8)?,
                )),
                None => None,
            }
        });
        let Some((id, user_id, user, role, disabled, created, seen, expires, reauth)) = row else {
            return Ok(None);
        };
        let created_at = created.get();
        Ok(Some(SessionRecord {
            id_sha256: id,
            user_id,
            user,
            role,
            user_disabled_at: opt_time(disabled),
            created_at,
            last_seen_at: seen.get(),
            expires_at: expires.get(),
            reauthenticated_at: opt_time(reauth).unwrap_or(created_at),
        }))
    }

    /// Moves a session's last use to `at`; returns whether it existed.
    pub async fn touch_session(
        self,
        id_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = db(&at);
        let rows = on_pool!(self.store, p => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_sha256 = $2")
                .bind(at)
                .bind(id_sha256)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }
}
