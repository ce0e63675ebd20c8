//! The consent register the compliance role keeps: which signed consent covers which
//! patient information in which playbooks and channels, until when, and where the signed
//! form is filed. Approvers cite a record when they override a PHI warning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tocsin_store::{ConsentRecord, NewConsent};

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::Authed;
use crate::Tocsin;

/// A consent record as the register shows it.
#[derive(Debug, Serialize)]
pub struct ConsentView {
    reference: String,
    subject: String,
    scope_playbooks: Vec<String>,
    scope_channels: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    form_location: String,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<String>,
    revoke_reason: Option<String>,
    /// `valid`, `expired` or `revoked`.
    state: &'static str,
}

fn view(r: ConsentRecord, now: DateTime<Utc>) -> ConsentView {
    let state = if r.revoked_at.is_some() {
        "revoked"
    } else if r.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "valid"
    };
    ConsentView {
        reference: r.reference,
        subject: r.subject,
        scope_playbooks: r.scope_playbooks,
        scope_channels: r.scope_channels,
        expires_at: r.expires_at,
        form_location: r.form_location,
        recorded_by: r.recorded_by,
        recorded_at: r.recorded_at,
        revoked_at: r.revoked_at,
        revoked_by: r.revoked_by,
        revoke_reason: r.revoke_reason,
        state,
    }
}

/// The consent register (compliance).
pub async fn list(app: &Tocsin, who: &Authed) -> AppResult<Vec<ConsentView>> {
    who.require(app, Permission::ManageConsent)?;
    let now = app.0.store.now();
    let rows = app.0.store.consents().list().await?;
    Ok(rows.into_iter().map(|r| view(r, now)).collect())
}

/// A new record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddConsent {
    reference: String,
    subject: String,
    #[serde(default)]
    scope_playbooks: Vec<String>,
    #[serde(default)]
    scope_channels: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
    form_location: String,
}

fn valid_reference(r: &str) -> bool {
    (1..=64).contains(&r.len())
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// Adds a consent record (compliance).
pub async fn add(app: &Tocsin, who: &Authed, form: AddConsent) -> AppResult<ConsentView> {
    who.require(app, Permission::ManageConsent)?;
    let reference = form.reference.trim().to_string();
    if !valid_reference(&reference) {
        return Err(AppError::invalid(
            "reference",
            "a record reference is 1 to 64 letters, digits, -, _, . or /",
        ));
    }
    if form.subject.trim().is_empty() {
        return Err(AppError::invalid("subject", "name who gave consent"));
    }
    if form.form_location.trim().is_empty() {
        return Err(AppError::invalid(
            "form_location",
            "say where the signed form is filed",
        ));
    }
    // A record is bound to what it covers: an empty scope would validate any override.
    if form.scope_playbooks.is_empty() {
        return Err(AppError::invalid(
            "scope_playbooks",
            "name the playbooks this consent covers (at least one)",
        ));
    }
    if form.scope_channels.is_empty() {
        return Err(AppError::invalid(
            "scope_channels",
            "name the channels (platforms) this consent covers (at least one)",
        ));
    }
    for p in &form.scope_playbooks {
        if app.0.library.get(p).is_none() {
            return Err(AppError::invalid(
                "scope_playbooks",
                format!("no playbook `{p}`"),
            ));
        }
    }
    for c in &form.scope_channels {
        if c.parse::<tocsin_domain::Platform>().is_err() && c != "email_html" {
            return Err(AppError::invalid(
                "scope_channels",
                format!("`{c}` is not a platform"),
            ));
        }
    }
    let expires_at = match form.expires_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(parse_time(text).ok_or_else(|| {
            AppError::invalid(
                "expires_at",
                format!("`{text}` is not a date: write 2027-01-31 or 2027-01-31T17:00:00Z"),
            )
        })?),
    };
    let record = NewConsent {
        reference: reference.clone(),
        subject: form.subject.trim().to_string(),
        scope_playbooks: form.scope_playbooks,
        scope_channels: form.scope_channels,
        expires_at,
        form_location: form.form_location.trim().to_string(),
    };
    let mut tx = app.0.store.begin().await?;
    tx.consents().add(who.user(), &record).await?;
    tx.commit().await?;
    let stored = app
        .0
        .store
        .consents()
        .get(&reference)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no consent record `{reference}`")))?;
    Ok(view(stored, app.0.store.now()))
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // A date alone means the end of that day (UTC).
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|n| n.and_utc())
}

/// A revocation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    reason: String,
}

/// Withdraws a consent record (compliance).
pub async fn revoke(
    app: &Tocsin,
    who: &Authed,
    reference: String,
    form: Revoke,
) -> AppResult<ConsentView> {
    who.require(app, Permission::ManageConsent)?;
    if form.reason.trim().is_empty() {
        return Err(AppError::invalid(
            "reason",
            "say why the consent is withdrawn",
        ));
    }
    let mut tx = app.0.store.begin().await?;
    tx.consents()
        .revoke(who.user(), &reference, form.reason.trim())
        .await?;
    tx.commit().await?;
    let stored = app
        .0
        .store
        .consents()
        .get(&reference)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no consent record `{reference}`")))?;
    Ok(view(stored, app.0.store.now()))
}
