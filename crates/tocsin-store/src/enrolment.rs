//! People set their own credentials: one-time enrolment links (kept only as the SHA-256
//! of their token), a second factor set up as "pending" until proved with a code, and a
//! change of password. Each change appends its audit entry in the same transaction;
//! nothing here sees a password, a code or an unsealed secret.

use crate::aggregates::*;
use crate::time::{db, DbTime};
use crate::tx::{on_pool, on_tx};
use crate::*;
use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

/// A current enrolment link: whose it is and until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentLink {
    /// The user's id.
    pub user_id: i64,
    /// The user's name.
    pub user: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl PeopleTx<'_, '_> {
    /// Stores a new enrolment link for the user (by its token's SHA-256), replacing any
    /// earlier one, so only the newest link works (audited as `user.enrolment_link`).
    pub async fn issue_enrolment_link(
        &mut self,
        actor: &str,
        name: &str,
        token_sha256: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let expires = db(&expires_at);
        on_tx!(self.tx, c => {
            let user_id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *c)
                .await?;
            let Some(user_id) = user_id else {
                return Err(StoreError::NotFound(format!("user `{name}`")));
            };
            sqlx::query("DELETE FROM enrolment_links WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "INSERT INTO enrolment_links (token_sha256, user_id, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_sha256)
            .bind(user_id)
            .bind(actor)
            .bind(now)
            .bind(expires)
            .execute(&mut *c)
            .await?;
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "user.enrolment_link")
                    .subject("user", name)
                    .outcome(format!("valid until {expires}")),
            )
            .await?;
        Ok(())
    }

    /// Stores a freshly sealed second factor as pending (not yet usable to sign in).
    pub async fn set_pending_totp(
        &mut self,
        user_id: i64,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        on_tx!(self.tx, c => {
            sqlx::query("UPDATE users SET totp_pending_encrypted = $1 WHERE id = $2")
                .bind(sealed)
                .bind(user_id)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Uses up the enrolment link (it must still be current at `now`), sets the password
    /// hash, makes the pending second factor the active one with `step` as its last used
    /// step, and ends the user's sessions (audited as `user.enrol`). Returns false, changing
    /// nothing, when the link is gone or expired or no second factor is pending.
    pub async fn complete_enrolment(
        &mut self,
        token_sha256: &str,
        user_id: i64,
        name: &str,
        password_hash: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let now = DbTime(self.tx.now());
        let done = on_tx!(self.tx, c => {
            let used = sqlx::query(
                "DELETE FROM enrolment_links WHERE token_sha256 = $1 AND user_id = $2 AND expires_at > $3",
            )
            .bind(token_sha256)
            .bind(user_id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if used != 1 {
                false
            } else {
                let set = sqlx::query(
                    "UPDATE users SET password_hash = $1, totp_secret_encrypted = totp_pending_encrypted, \
                     totp_pending_encrypted = NULL, totp_last_step = $2, totp_confirmed_at = $3 \
                     WHERE id = $4 AND totp_pending_encrypted IS NOT NULL",
                )
                .bind(password_hash)
                .bind(step)
                .bind(now)
                .bind(user_id)
                .execute(&mut *c)
                .await?
                .rows_affected();
                if set == 1 {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *c)
                        .await?;
                }
                set == 1
            }
        });
        if done {
            self.tx
                .append_audit(
                    AuditEvent::new(name, "user.enrol")
                        .subject("user", name)
                        .outcome("password and second factor set"),
                )
                .await?;
        }
        Ok(done)
    }

    /// Makes the pending second factor the active one, `step` its last used step
    /// (audited as `user.totp_reenrol`). Returns false when none is pending.
    pub async fn activate_pending_totp(
        &mut self,
        user_id: i64,
        name: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let now = DbTime(self.tx.now());
        let rows = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE users SET totp_secret_encrypted = totp_pending_encrypted, \
                 totp_pending_encrypted = NULL, totp_last_step = $1, totp_confirmed_at = $2 \
                 WHERE id = $3 AND totp_pending_encrypted IS NOT NULL",
            )
            .bind(step)
            .bind(now)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if rows == 1 {
            self.tx
                .append_audit(
                    AuditEvent::new(name, "user.totp_reenrol")
                        .subject("user", name)
                        .outcome("ok"),
                )
                .await?;
        }
        Ok(rows == 1)
    }

    /// Replaces the user's password hash and ends their other sessions (all but
    /// `keep_session`, the SHA-256 of the one making the change), audited as
    /// `user.password_change`.
    pub async fn change_password(
        &mut self,
        user_id: i64,
        name: &str,
        password_hash: &str,
        keep_session: &str,
    ) -> Result<(), StoreError> {
        let ended = on_tx!(self.tx, c => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_sha256 <> $2")
                .bind(user_id)
                .bind(keep_session)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        self.tx
            .append_audit(
                AuditEvent::new(name, "user.password_change")
                    .subject("user", name)
                    .outcome(format!("ok; {ended} other sessions ended")),
            )
            .await?;
        Ok(())
    }
}

impl People<'_> {
    /// The enrolment link behind a token's SHA-256, if there is one (expired or not: the
    /// caller compares `expires_at` with its clock).
    pub async fn enrolment_link(
        self,
        token_sha256: &str,
    ) -> Result<Option<EnrolmentLink>, StoreError> {
        let row: Option<(i64, String, DbTime)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT l.user_id, u.name, l.expires_at FROM enrolment_links l \
                 JOIN users u ON u.id = l.user_id WHERE l.token_sha256 = $1",
            )
            .bind(token_sha256)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(user_id, user, expires)| EnrolmentLink {
            user_id,
            user,
            expires_at: expires.get(),
        }))
    }
}
