//! The calendar: what goes out in a window of days, for people to see a week at a
//! glance. Posts approved for a later time (`send_at` on approval) and every run of the
//! recurring repeats that falls in the window, soonest first; and cancelling a post
//! approved for later before it goes (a repeat is cancelled in [`crate::schedules`]).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::schedules::parse_instant;
use crate::Authed;
use crate::Tocsin;
use tocsin_store::schedules::ScheduleState;

/// The most days one calendar read covers.
pub const MAX_DAYS: i64 = 42;

/// The most repeat runs one calendar read lists (a repeat every 15 minutes for six weeks
/// would be 4,032).
pub const MAX_RUNS: usize = 2_000;

/// Which window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// Its start, RFC 3339 with an offset (today at 00:00 UTC when left out).
    #[serde(default)]
    from: Option<String>,
    /// How many days (1 to [`MAX_DAYS`], default 7).
    #[serde(default)]
    days: Option<i64>,
}

/// One thing on the calendar.
#[derive(Debug, Serialize)]
pub struct CalendarEntry {
    /// `send` (a post approved for later) or `repeat` (a run of a recurring repeat).
    kind: &'static str,
    /// When it goes out.
    at: DateTime<Utc>,
    /// The message (the one repeated, for a repeat).
    message_id: i64,
    /// The repeat, for a run of one.
    schedule_id: Option<i64>,
    /// The message's headline.
    title: Option<String>,
    /// Its playbook and step.
    playbook: Option<String>,
    step: Option<String>,
    exercise: bool,
    /// `waiting`, `cancelled` or `sent` for a send; the repeat's state for a run.
    state: &'static str,
    /// For a repeat: every how many minutes, and until when.
    every_minutes: Option<i64>,
    until: Option<DateTime<Utc>>,
}

/// The window and what falls in it.
#[derive(Debug, Serialize)]
pub struct CalendarView {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    entries: Vec<CalendarEntry>,
    /// Whether repeat runs were cut at [`MAX_RUNS`].
    truncated: bool,
}

/// What goes out in the window (viewers of deliveries and up).
pub async fn window(app: &Tocsin, who: &Authed, q: CalendarQuery) -> AppResult<CalendarView> {
    who.require(app, Permission::ViewDeliveries)?;
    let days = q.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::invalid(
            "days",
            format!("a calendar covers 1 to {MAX_DAYS} days"),
        ));
    }
    let from = match q.from.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => parse_instant("from", t)?,
        None => {
            let now = app.0.store.now();
            now - Duration::seconds(i64::from(chrono::Timelike::num_seconds_from_midnight(&now)))
        }
    };
    let to = from + Duration::days(days);
    let mut entries: Vec<CalendarEntry> = app
        .0
        .store
        .messages()
        .scheduled_between(from, to)
        .await?
        .into_iter()
        .map(|s| CalendarEntry {
            kind: "send",
            at: s.send_at,
            message_id: s.message_id,
            schedule_id: None,
            title: s.title,
            playbook: s.playbook_id,
            step: s.step_id,
            exercise: s.exercise,
            state: if s.waiting > 0 {
                "waiting"
            } else if s.cancelled > 0 {
                "cancelled"
            } else {
                "sent"
            },
            every_minutes: None,
            until: None,
        })
        .collect();
    let mut truncated = false;
    for s in app.0.store.schedules().recurring(None).await? {
        if s.state != ScheduleState::Scheduled || s.every_seconds <= 0 {
            continue;
        }
        let Some(message) = app.0.store.messages().summary(s.message_id).await? else {
            continue;
        };
        let every = Duration::seconds(s.every_seconds);
        let mut at = s.run_at;
        if at < from {
            // The first run at or after `from`.
            let behind = (from - at).num_seconds();
            let steps = (behind + s.every_seconds - 1) / s.every_seconds;
            at += Duration::seconds(steps * s.every_seconds);
        }
        // A run at its `until` still fires (the dispatcher stops after the last run
        // not later than it).
        while at < to && s.until_at.is_none_or(|u| at <= u) {
            if entries.len() >= MAX_RUNS {
                truncated = true;
                break;
            }
            entries.push(CalendarEntry {
                kind: "repeat",
                at,
                message_id: s.message_id,
                schedule_id: Some(s.id),
                title: message.title.clone(),
                playbook: message.playbook_id.clone(),
                step: message.step_id.clone(),
                exercise: message.exercise,
                state: s.state.as_str(),
                every_minutes: Some(s.every_seconds / 60),
                until: s.until_at,
            });
            at += every;
        }
    }
    entries.sort_by_key(|e| (e.at, e.message_id));
    Ok(CalendarView {
        from,
        to,
        entries,
        truncated,
    })
}

/// Cancels a post approved for later, before its time (approver).
pub async fn cancel_send(app: &Tocsin, who: &Authed, message_id: i64) -> AppResult<u64> {
    who.require(app, Permission::Approve)?;
    Ok(app
        .0
        .store
        .messages()
        .cancel_scheduled(who.user(), message_id)
        .await?)
}
