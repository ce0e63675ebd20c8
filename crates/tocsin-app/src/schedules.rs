//! Recurring updates: repeat an approved message every N minutes until a time (e.g.
//! "every 2 hours until Friday 6 PM"; a repeat without an end is refused), list the
//! repeats, cancel one. The dispatcher fires them; a run is a compare-and-set on its time,
//! so two nodes never fire the same run, and each firing checks again the consent, the
//! playbook's pre-approval and the creator's standing, stopping the repeat if one fails.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tocsin_store::schedules::RecurringSchedule;

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::Authed;
use crate::Tocsin;

/// A recurring repeat.
#[derive(Debug, Serialize)]
pub struct ScheduleView {
    id: i64,
    message_id: i64,
    next_run_at: DateTime<Utc>,
    every_minutes: i64,
    until: Option<DateTime<Utc>>,
    fired: i64,
    state: String,
    created_by: String,
    /// Why it stopped, when a check failed as it fired (consent, the playbook's
    /// pre-approval, its creator).
    stop_reason: Option<String>,
}

impl From<RecurringSchedule> for ScheduleView {
    fn from(s: RecurringSchedule) -> ScheduleView {
        ScheduleView {
            id: s.id,
            message_id: s.message_id,
            next_run_at: s.run_at,
            every_minutes: s.every_seconds / 60,
            until: s.until_at,
            fired: s.fired,
            state: s.state.as_str().to_string(),
            created_by: s.created_by,
            stop_reason: s.stop_reason,
        }
    }
}

/// Filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    message_id: Option<i64>,
}

/// Recurring schedules.
pub async fn list(app: &Tocsin, who: &Authed, q: ListQuery) -> AppResult<Vec<ScheduleView>> {
    who.require(app, Permission::ViewDeliveries)?;
    let rows = app.0.store.schedules().recurring(q.message_id).await?;
    Ok(rows.into_iter().map(ScheduleView::from).collect())
}

/// A new repeat.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSchedule {
    every_minutes: i64,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    first_at: Option<String>,
}

/// Reads an RFC 3339 time (`2026-07-14T11:30:00-05:00`).
pub fn parse_instant(field: &str, text: &str) -> AppResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AppError::invalid(
                field,
                format!("`{text}` is not a time with its offset, e.g. 2026-07-14T11:30:00-05:00"),
            )
        })
}

/// Repeats a sent message on a schedule (approver).
pub async fn add(
    app: &Tocsin,
    who: &Authed,
    message_id: i64,
    form: AddSchedule,
) -> AppResult<ScheduleView> {
    who.require_recent(app, Permission::Approve)?;
    if !(15..=7 * 24 * 60).contains(&form.every_minutes) {
        return Err(AppError::invalid(
            "every_minutes",
            "repeat every 15 minutes to 7 days (10080 minutes)",
        ));
    }
    let now = app.0.store.now();
    let every = Duration::minutes(form.every_minutes);
    let first_at = match form.first_at.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => parse_instant("first_at", t)?,
        None => now + every,
    };
    if first_at < now {
        return Err(AppError::invalid(
            "first_at",
            "the first repeat is in the past",
        ));
    }
    // A repeat always ends: one left to run "until cancelled" outlives the emergency.
    let until = match form.until.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => parse_instant("until", t)?,
        None => {
            return Err(AppError::invalid(
                "until",
                "say when the repeats end (a time with its offset, e.g. 2026-07-15T18:00:00-05:00): a repeat without an end is refused",
            ))
        }
    };
    if until <= first_at {
        return Err(AppError::invalid(
            "until",
            "`until` is before the first repeat",
        ));
    }
    let message = app
        .0
        .store
        .messages()
        .summary(message_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no message {message_id}")))?;
    if message.kind != tocsin_store::outbox::MessageKind::Post || message.retracted_at.is_some() {
        return Err(AppError::conflict(
            "only a published post that is not retracted can be repeated",
        ));
    }
    let mut tx = app.0.store.begin().await?;
    let id = tx
        .schedules()
        .add_recurring(who.user(), message_id, first_at, every, until)
        .await?;
    tx.commit().await?;
    let row = app
        .0
        .store
        .schedules()
        .recurring(Some(message_id))
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| AppError::not_found(format!("no schedule {id}")))?;
    Ok(row.into())
}

/// Cancels a schedule.
pub async fn cancel(app: &Tocsin, who: &Authed, id: i64) -> AppResult<()> {
    who.require(app, Permission::Approve)?;
    let mut tx = app.0.store.begin().await?;
    tx.schedules().cancel(who.user(), id).await?;
    tx.commit().await?;
    Ok(())
}
