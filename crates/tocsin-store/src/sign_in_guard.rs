//! Sign-in guessing, in the database so every node sees the same counts: the throttle's
//! rows (one per key, the caller decides the keys and the arithmetic) kept under a row
//! cap, and refused attempts counted per minute, account and address, then folded into
//! one audit entry per row once their minute is over.

use crate::aggregates::*;
use crate::time::{db, opt_time, DbTime};
use crate::tx::{on_pool, on_tx};
use crate::*;
use chrono::{DateTime, Utc};
use tocsin_audit::AuditEvent;

/// One throttle key's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRow {
    /// Failures counted (since the last forgotten stretch).
    pub failures: u32,
    /// The newest failure.
    pub last_failure: DateTime<Utc>,
    /// Blocked until then, if blocked.
    pub blocked_until: Option<DateTime<Utc>>,
}

type RawRow = (i64, DbTime, Option<DbTime>);

fn row_from(raw: RawRow) -> Result<ThrottleRow, StoreError> {
    let (failures, last, blocked) = raw;
    Ok(ThrottleRow {
        failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
        last_failure: last.get(),
        blocked_until: opt_time(blocked),
    })
}

/// A refused attempt to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal<'a> {
    /// `session.sign_in` or `session.reauthenticate`.
    pub action: &'a str,
    /// The user's name when it is a known user, else `unknown`.
    pub actor: &'a str,
    /// The client address.
    pub address: &'a str,
    /// Why (`refused: wrong password`, `refused: throttled`, ...).
    pub reason: &'a str,
}

impl People<'_> {
    /// The latest `blocked_until` among `keys` that is after `now`.
    pub async fn throttle_blocked_until(
        self,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut latest: Option<DateTime<Utc>> = None;
        for key in keys {
            let blocked: Option<Option<DbTime>> = on_pool!(self.store, p => {
                sqlx::query_scalar("SELECT blocked_until FROM sign_in_throttle WHERE throttle_key = $1")
                    .bind(*key)
                    .fetch_optional(p)
                    .await?
            });
            if let Some(Some(until)) = blocked {
                let until = until.get();
                if until > now && latest.is_none_or(|l| until > l) {
                    latest = Some(until);
                }
            }
        }
        Ok(latest)
    }

    /// Forgets a key (a successful sign-in clears its account-and-address row).
    pub async fn throttle_clear(self, key: &str) -> Result<(), StoreError> {
        on_pool!(self.store, p => {
            sqlx::query("DELETE FROM sign_in_throttle WHERE throttle_key = $1")
                .bind(key)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// How many throttle rows there are.
    pub async fn throttle_rows(self) -> Result<i64, StoreError> {
        Ok(on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_throttle").fetch_one(p).await?
        }))
    }

    /// Counts a refused attempt in its minute (no audit entry yet: see
    /// [`PeopleTx::fold_refusals`]). Past `max_rows` rows in the minute, the address is
    /// counted as `*`, so a flood from many addresses cannot grow the table without end.
    pub async fn count_refusal(
        self,
        refusal: &Refusal<'_>,
        at: DateTime<Utc>,
        max_rows: i64,
    ) -> Result<(), StoreError> {
        let minute = db(&minute_of(at));
        let rows: i64 = on_pool!(self.store, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_refusals WHERE minute = $1")
                .bind(minute)
                .fetch_one(p)
                .await?
        });
        let (actor, address) = if rows >= max_rows {
            ("*", "*")
        } else {
            (refusal.actor, refusal.address)
        };
        on_pool!(self.store, p => {
            sqlx::query(
                "INSERT INTO sign_in_refusals (minute, action, actor, address, reason, attempts) \
                 VALUES ($1, $2, $3, $4, $5, 1) \
                 ON CONFLICT (minute, action, actor, address, reason) \
                 DO UPDATE SET attempts = sign_in_refusals.attempts + 1",
            )
            .bind(minute)
            .bind(refusal.action)
            .bind(actor)
            .bind(address)
            .bind(refusal.reason)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}

/// The start of `at`'s minute.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(60) * 60;
    DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(at)
}

impl PeopleTx<'_, '_> {
    /// A key's row, locked for this transaction on PostgreSQL (SQLite's writer lock does
    /// the same), so two nodes counting at once both count.
    pub async fn throttle_row(&mut self, key: &str) -> Result<Option<ThrottleRow>, StoreError> {
        let sql = if matches!(self.tx.store.backend(), crate::Backend::Postgres) {
            "SELECT failures, last_failure, blocked_until FROM sign_in_throttle \
             WHERE throttle_key = $1 FOR UPDATE"
        } else {
            "SELECT failures, last_failure, blocked_until FROM sign_in_throttle \
             WHERE throttle_key = $1"
        };
        let raw: Option<RawRow> = on_tx!(self.tx, c => {
            sqlx::query_as(sql).bind(key).fetch_optional(&mut *c).await?
        });
        raw.map(row_from).transpose()
    }

    /// Writes a key's row.
    pub async fn put_throttle_row(
        &mut self,
        key: &str,
        row: &ThrottleRow,
    ) -> Result<(), StoreError> {
        let last = db(&row.last_failure);
        let blocked = row.blocked_until.map(DbTime);
        on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO sign_in_throttle (throttle_key, failures, last_failure, blocked_until) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (throttle_key) DO UPDATE SET \
                 failures = excluded.failures, last_failure = excluded.last_failure, \
                 blocked_until = excluded.blocked_until",
            )
            .bind(key)
            .bind(i64::from(row.failures))
            .bind(last)
            .bind(blocked)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Keeps the table under `cap` rows: first drops rows whose failures are older than
    /// `forget_before` and whose block has ended by `now`; if still over, the rows with
    /// the oldest failures. Returns how many went.
    pub async fn trim_throttle(
        &mut self,
        cap: i64,
        forget_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let count: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_throttle").fetch_one(&mut *c).await?
        });
        if count <= cap {
            return Ok(0);
        }
        let forget = db(&forget_before);
        let now = db(&now);
        let mut gone = on_tx!(self.tx, c => {
            sqlx::query(
                "DELETE FROM sign_in_throttle WHERE last_failure < $1 \
                 AND (blocked_until IS NULL OR blocked_until <= $2)",
            )
            .bind(forget)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        let left = count - i64::try_from(gone).unwrap_or(i64::MAX);
        if left > cap {
            gone += on_tx!(self.tx, c => {
                sqlx::query(
                    "DELETE FROM sign_in_throttle WHERE throttle_key IN \
                     (SELECT throttle_key FROM sign_in_throttle ORDER BY last_failure LIMIT $1)",
                )
                .bind(left - cap)
                .execute(&mut *c)
                .await?
                .rows_affected()
            });
        }
        Ok(gone)
    }

    /// Folds every counted refusal of a minute before `before`'s into one audit entry per
    /// (minute, action, account, address, reason) and deletes the counts, in this
    /// transaction (so each count is folded once, whichever node does it). Returns how
    /// many entries were written.
    pub async fn fold_refusals(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let before = db(&minute_of(before));
        let rows: Vec<(DbTime, String, String, String, String, i64)> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "DELETE FROM sign_in_refusals WHERE minute < $1 \
                 RETURNING minute, action, actor, address, reason, attempts",
            )
            .bind(before)
            .fetch_all(&mut *c)
            .await?
        });
        let mut rows = rows;
        rows.sort();
        for (minute, action, actor, address, reason, attempts) in &rows {
            self.tx
                .append_audit(
                    AuditEvent::new(actor.as_str(), action.as_str())
                        .subject("ip", address.as_str())
                        .subject("minute", minute.to_string())
                        .outcome(format!("{reason} ({attempts} attempts)")),
                )
                .await?;
        }
        Ok(rows.len())
    }
}
