//! The consent register: records of a patient's written consent, what playbooks and
//! channels they cover and until when, added and withdrawn by compliance.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::time::{opt_time, DbTime};
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*, schedules::*,
    variants::*,
};

/// A consent to publish protected health information, to record.
#[derive(Clone, PartialEq, Eq)]
pub struct NewConsent {
    /// The register's reference, unique (named by an approval override).
    pub reference: String,
    /// Who consented (PHI: the chain holds only a commitment, `Debug` hides it).
    pub subject: String,
    /// The playbooks it covers (at least one).
    pub scope_playbooks: Vec<String>,
    /// The channels (platform names) it covers (at least one).
    pub scope_channels: Vec<String>,
    /// When it lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the signed form is kept.
    pub form_location: String,
}

impl std::fmt::Debug for NewConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConsent")
            .field("reference", &self.reference)
            .field("scope_playbooks", &self.scope_playbooks)
            .field("scope_channels", &self.scope_channels)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A recorded consent.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The register's reference.
    pub reference: String,
    /// Who consented (PHI: `Debug` hides it).
    pub subject: String,
    /// The playbooks it covers (at least one).
    pub scope_playbooks: Vec<String>,
    /// The channels (platform names) it covers (at least one).
    pub scope_channels: Vec<String>,
    /// When it lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the signed form is kept.
    pub form_location: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoke_reason: Option<String>,
}

impl std::fmt::Debug for ConsentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentRecord")
            .field("reference", &self.reference)
            .field("scope_playbooks", &self.scope_playbooks)
            .field("scope_channels", &self.scope_channels)
            .field("expires_at", &self.expires_at)
            .field("recorded_by", &self.recorded_by)
            .field("recorded_at", &self.recorded_at)
            .field("revoked_at", &self.revoked_at)
            .field("revoked_by", &self.revoked_by)
            .finish_non_exhaustive()
    }
}

impl ConsentRecord {
    /// `revoked`, `expired` (at or after `expires_at`) or `valid`, as of `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| now >= e) {
            "expired"
        } else {
            "valid"
        }
    }

    /// Whether its scope covers `playbook_id` and every one of `channels`. A record is
    /// bound to its playbooks and channels: an empty list (which older releases stored to
    /// mean "any") covers nothing. Says nothing about revocation or expiry: see
    /// [`ConsentRecord::state_at`].
    pub fn covers(&self, playbook_id: &str, channels: &[&str]) -> bool {
        let playbook_ok = self.scope_playbooks.iter().any(|p| p == playbook_id);
        let channels_ok = !self.scope_channels.is_empty()
            && channels
                .iter()
                .all(|c| self.scope_channels.iter().any(|s| s == c));
        playbook_ok && channels_ok
    }

    /// Why this record does not cover a message of `playbook_id` to `channels` at `now`
    /// (withdrawn, expired, or out of its scope), or `None` when it does.
    pub fn problem(
        &self,
        playbook_id: &str,
        channels: &[&str],
        now: DateTime<Utc>,
    ) -> Option<String> {
        match self.state_at(now) {
            "revoked" => Some(format!("consent record {} was withdrawn", self.reference)),
            "expired" => Some(format!("consent record {} has expired", self.reference)),
            _ if !self.covers(playbook_id, channels) => Some(format!(
                "consent record {} does not cover playbook {playbook_id} on {}",
                self.reference,
                channels.join(", ")
            )),
            _ => None,
        }
    }
}

fn json_list(items: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Database(sqlx::Error::Encode(e.into())))
}

fn parse_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("bad scope list `{text}`: {e}").into(),
        ))
    })
}

/// The commitment the chain keeps for a consent: SHA-256 (taken by
/// [`AuditEvent::payload`]) of this canonical JSON of who consented and where the form is.
fn consent_commitment(record: &NewConsent) -> Vec<u8> {
    let map: BTreeMap<&str, &str> = [
        ("form_location", record.form_location.as_str()),
        ("subject", record.subject.as_str()),
    ]
    .into_iter()
    .collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

fn scope_text(items: &[String]) -> String {
    if items.is_empty() {
        "any".into()
    } else {
        items.join(",")
    }
}

/// `reference, subject, scope_playbooks, scope_channels, expires_at, form_location,
/// recorded_by, recorded_at, revoked_at, revoked_by, revoke_reason` of a consent.
type ConsentRow = (
    String,
    String,
    String,
    String,
    Option<DbTime>,
    String,
    String,
    DbTime,
    Option<DbTime>,
    Option<String>,
    Option<String>,
);

const CONSENT_COLUMNS: &str = "reference, subject, scope_playbooks, scope_channels, expires_at, \
                               form_location, recorded_by, recorded_at, revoked_at, revoked_by, \
                               revoke_reason";

fn consent_from_row(row: ConsentRow) -> Result<ConsentRecord, StoreError> {
    let (reference, subject, playbooks, channels, expires, form, by, at, revoked, rby, reason) =
        row;
    Ok(ConsentRecord {
        reference,
        subject,
        scope_playbooks: parse_list(&playbooks)?,
        scope_channels: parse_list(&channels)?,
        expires_at: opt_time(expires),
        form_location: form,
        recorded_by: by,
        recorded_at: at.get(),
        revoked_at: opt_time(revoked),
        revoked_by: rby,
        revoke_reason: reason,
    })
}

impl ConsentsTx<'_, '_> {
    /// A consent, read in this transaction. On PostgreSQL the row is locked for share, so
    /// a revocation racing an approval that relies on it waits for the approval to commit
    /// (or the approval waits and then sees it revoked).
    pub async fn get(&mut self, reference: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let lock = match self.tx.store.backend() {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        let sql =
            format!("SELECT {CONSENT_COLUMNS} FROM consent_records WHERE reference = $1{lock}");
        let row: Option<ConsentRow> = on_tx!(self.tx, c => {
            sqlx::query_as(&sql).bind(reference).fetch_optional(&mut *c).await?
        });
        row.map(consent_from_row).transpose()
    }

    /// Records a consent ([`StoreError::Conflict`] if the reference exists), audited as
    /// `consent.add` with subject `consent` = the reference and a commitment to who
    /// consented and where the form is (never the text itself).
    pub async fn add(&mut self, actor: &str, record: &NewConsent) -> Result<(), StoreError> {
        if record.scope_playbooks.is_empty() || record.scope_channels.is_empty() {
            return Err(StoreError::Conflict(format!(
                "consent record {} needs a scope: the playbooks and the channels it covers",
                record.reference
            )));
        }
        let now = DbTime(self.tx.now());
        let (playbooks, channels) = (
            json_list(&record.scope_playbooks)?,
            json_list(&record.scope_channels)?,
        );
        let expires = record.expires_at.map(DbTime);
        let inserted = on_tx!(self.tx, c => {
            sqlx::query(
                "INSERT INTO consent_records (reference, subject, scope_playbooks, scope_channels, \
                 expires_at, form_location, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (reference) DO NOTHING",
            )
            .bind(&record.reference)
            .bind(&record.subject)
            .bind(&playbooks)
            .bind(&channels)
            .bind(expires)
            .bind(&record.form_location)
            .bind(actor)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "consent {} already exists",
                record.reference
            )));
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "consent.add")
                    .subject("consent", record.reference.as_str())
                    .outcome(format!(
                        "playbooks {}; channels {}; expires {}",
                        scope_text(&record.scope_playbooks),
                        scope_text(&record.scope_channels),
                        expires.map_or_else(|| "never".to_string(), |t| t.to_string())
                    ))
                    .payload(&consent_commitment(record)),
            )
            .await?;
        Ok(())
    }

    /// Revokes a consent ([`StoreError::Conflict`] if unknown or already revoked), audited
    /// as `consent.revoke` with a commitment to the reason.
    pub async fn revoke(
        &mut self,
        actor: &str,
        reference: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = DbTime(self.tx.now());
        let changed = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE consent_records SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
                 WHERE reference = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(actor)
            .bind(reason)
            .bind(reference)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            let exists: Option<String> = on_tx!(self.tx, c => {
                sqlx::query_scalar("SELECT reference FROM consent_records WHERE reference = $1")
                    .bind(reference)
                    .fetch_optional(&mut *c)
                    .await?
            });
            return Err(StoreError::Conflict(match exists {
                None => format!("consent {reference} not found"),
                Some(_) => format!("consent {reference} is already revoked"),
            }));
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "consent.revoke")
                    .subject("consent", reference)
                    .outcome("revoked")
                    .payload(reason.as_bytes()),
            )
            .await?;
        Ok(())
    }
}

impl Consents<'_> {
    /// [`Tx::add_consent`] in its own transaction.
    pub async fn add(self, actor: &str, record: &NewConsent) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.consents().add(actor, record).await?)
    }

    /// [`Tx::revoke_consent`] in its own transaction.
    pub async fn revoke(
        self,
        actor: &str,
        reference: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        one_tx!(self.store, tx => tx.consents().revoke(actor, reference, reason).await?)
    }

    /// A consent by reference.
    pub async fn get(self, reference: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_records WHERE reference = $1");
        let row: Option<ConsentRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).bind(reference).fetch_optional(p).await?
        });
        row.map(consent_from_row).transpose()
    }

    /// Every consent, most recently recorded first.
    pub async fn list(self) -> Result<Vec<ConsentRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM consent_records ORDER BY recorded_at DESC, reference"
        );
        let rows: Vec<ConsentRow> = on_pool!(self.store, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(consent_from_row).collect()
    }
}
