//! Recurring repeats of a sent message ("every two hours until the all-clear"): added,
//! cancelled, and fired once across nodes when due.

use chrono::{DateTime, Duration, Utc};
use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::time::{db, opt_time, DbTime};
use crate::tx::{on_pool, on_tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    variants::*,
};

/// Where a recurring schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleState {
    /// It fires at its next run.
    Scheduled,
    /// Its end passed: it fires no more.
    Done,
    /// Cancelled by a person.
    Cancelled,
    /// Stopped when it fired: a check failed (consent, pre-approval, its creator).
    Stopped,
}

impl ScheduleState {
    /// The stored name: `scheduled`, `done`, `cancelled` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Scheduled => "scheduled",
            ScheduleState::Done => "done",
            ScheduleState::Cancelled => "cancelled",
            ScheduleState::Stopped => "stopped",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<ScheduleState> {
        match text {
            "scheduled" => Some(ScheduleState::Scheduled),
            "done" => Some(ScheduleState::Done),
            "cancelled" => Some(ScheduleState::Cancelled),
            "stopped" => Some(ScheduleState::Stopped),
            _ => None,
        }
    }
}

/// A recurring repeat of a message, as the panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringSchedule {
    /// Id.
    pub id: i64,
    /// The message repeated.
    pub message_id: i64,
    /// The next run.
    pub run_at: DateTime<Utc>,
    /// Seconds between runs.
    pub every_seconds: i64,
    /// No runs after this.
    pub until_at: Option<DateTime<Utc>>,
    /// Runs so far.
    pub fired: i64,
    /// `scheduled`, `done`, `cancelled` or `stopped`.
    pub state: ScheduleState,
    /// Who set it up.
    pub created_by: String,
    /// Why it stopped, when a check failed as it fired.
    pub stop_reason: Option<String>,
}

/// `id, message_id, run_at, every_seconds, until_at, created_by` of a schedule.
type ScheduleRow = (i64, i64, DbTime, i64, Option<DbTime>, String);

impl SchedulesTx<'_, '_> {
    /// Adds a recurring repeat of an approved message: every `every` from `first_at`
    /// until `until` (a repeat always ends), audited as `schedule.add`.
    pub async fn add_recurring(
        &mut self,
        actor: &str,
        message_id: i64,
        first_at: DateTime<Utc>,
        every: Duration,
        until: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        if until <= first_at {
            return Err(StoreError::Conflict(
                "a recurring update ends after its first run".into(),
            ));
        }
        let seconds = every.num_seconds();
        if seconds < 60 {
            return Err(StoreError::Conflict(
                "a recurring update repeats at most every minute".into(),
            ));
        }
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("message {message_id}")))?;
            sqlx::query_scalar(
                "INSERT INTO schedules (message_id, run_at, every_seconds, until_at, created_by, state) \
                 VALUES ($1, $2, $3, $4, $5, 'scheduled') RETURNING id",
            )
            .bind(message_id)
            .bind(db(&first_at))
            .bind(seconds)
            .bind(db(&until))
            .bind(actor)
            .fetch_one(&mut *c)
            .await?
        });
        self.tx
            .append_audit(
                AuditEvent::new(actor, "schedule.add")
                    .subject("schedule", id.to_string())
                    .subject("message", message_id.to_string())
                    .outcome(format!("every {seconds}s")),
            )
            .await?;
        Ok(id)
    }

    /// Cancels a schedule, audited as `schedule.cancel`.
    pub async fn cancel(&mut self, actor: &str, schedule_id: i64) -> Result<(), StoreError> {
        let changed = on_tx!(self.tx, c => {
            sqlx::query("UPDATE schedules SET state = 'cancelled' WHERE id = $1 AND state = 'scheduled'")
                .bind(schedule_id)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "active schedule {schedule_id}"
            )));
        }
        self.tx
            .append_audit(
                AuditEvent::new(actor, "schedule.cancel")
                    .subject("schedule", schedule_id.to_string()),
            )
            .await?;
        Ok(())
    }

    /// Fires every recurring schedule that is due: each firing repeats its message (same
    /// approved texts, same accounts) as a new message, and moves the schedule on. The
    /// move is a compare-and-set on `run_at`, so two nodes never fire the same run.
    /// Returns the new messages' ids.
    ///
    /// Each firing first checks again what made the message publishable: it is not
    /// retracted, the consent record its approval cited still covers it, its playbook's
    /// pre-approval is still the one it was drafted under, and the schedule's creator is
    /// enabled and holds one of `approving_roles`. A failed check stops the schedule
    /// (`stopped`, with the reason), audited as `schedule.stop`.
    pub async fn fire_due(
        &mut self,
        actor: &str,
        approving_roles: &[String],
    ) -> Result<Vec<i64>, StoreError> {
        let now = self.tx.now();
        let now_text = db(&now);
        let due: Vec<ScheduleRow> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT id, message_id, run_at, every_seconds, until_at, created_by FROM schedules \
                 WHERE state = 'scheduled' AND run_at <= $1 ORDER BY run_at, id",
            )
            .bind(now_text)
            .fetch_all(&mut *c)
            .await?
        });
        let mut created = Vec::new();
        for (id, message_id, run_at, every, until, created_by) in due {
            if let Some(reason) = self
                .firing_problem(message_id, &created_by, approving_roles)
                .await?
            {
                self.stop(actor, id, message_id, &run_at, &reason).await?;
                continue;
            }
            let mut next = run_at.get() + Duration::seconds(every);
            // After downtime, skip missed runs rather than firing them in a burst.
            while next <= now {
                next += Duration::seconds(every);
            }
            let finished = opt_time(until).is_some_and(|u| next > u);
            let moved = on_tx!(self.tx, c => {
                sqlx::query(
                    "UPDATE schedules SET run_at = $1, state = $2, fired = fired + 1 \
                     WHERE id = $3 AND run_at = $4 AND state = 'scheduled'",
                )
                .bind(db(&next))
                .bind(if finished { "done" } else { "scheduled" })
                .bind(id)
                .bind(run_at)
                .execute(&mut *c)
                .await?
                .rows_affected()
            });
            if moved == 0 {
                continue;
            }
            let original = self
                .tx
                .store
                .outbox()
                .message_for_sending(message_id)
                .await?;
            let accounts: Vec<i64> = on_tx!(self.tx, c => {
                sqlx::query_scalar("SELECT account_id FROM deliveries WHERE message_id = $1 ORDER BY account_id")
                    .bind(message_id)
                    .fetch_all(&mut *c)
                    .await?
            });
            let draft_id: i64 = on_tx!(self.tx, c => {
                sqlx::query_scalar("SELECT draft_id FROM messages WHERE id = $1")
                    .bind(message_id)
                    .fetch_one(&mut *c)
                    .await?
            });
            let Some(original) = original else { continue };
            let repeat = NewMessage {
                draft_id,
                approved_by: actor.to_string(),
                exercise: original.exercise,
                break_glass: false,
                variants: original
                    .texts
                    .iter()
                    .map(|(target, body)| RenderedVariant {
                        target: *target,
                        body: body.clone(),
                    })
                    .collect(),
                account_ids: accounts,
                targets: None,
            };
            let consent_ref: Option<String> = on_tx!(self.tx, c => {
                sqlx::query_scalar("SELECT consent_ref FROM messages WHERE id = $1")
                    .bind(message_id)
                    .fetch_one(&mut *c)
                    .await?
            });
            let placement = Placement {
                title: original.title.clone(),
                consent_ref,
                ..Placement::default()
            };
            let new_id = self.tx.outbox().place_message(&repeat, &placement).await?;
            // A repeat carries its original's images, with their approved descriptions.
            self.tx.images().copy(message_id, new_id).await?;
            // A repeat goes to whom its original was approved for.
            on_tx!(self.tx, c => {
                sqlx::query(
                    "UPDATE messages SET targets_json = \
                     (SELECT targets_json FROM messages WHERE id = $1) WHERE id = $2",
                )
                .bind(message_id)
                .bind(new_id)
                .execute(&mut *c)
                .await?;
            });
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "schedule.fire")
                        .subject("schedule", id.to_string())
                        .subject("message", new_id.to_string())
                        .subject("repeats", message_id.to_string()),
                )
                .await?;
            created.push(new_id);
        }
        Ok(created)
    }

    /// Why schedule `creator`'s repeat of `message_id` must not fire now, if it must not.
    async fn firing_problem(
        &mut self,
        message_id: i64,
        creator: &str,
        approving_roles: &[String],
    ) -> Result<Option<String>, StoreError> {
        type Row = (Option<DbTime>, String, String);
        let row: Option<Row> = on_tx!(self.tx, c => {
            sqlx::query_as(
                "SELECT m.retracted_at, d.playbook_id, d.content_hash FROM messages m \
                 JOIN drafts d ON d.id = m.draft_id WHERE m.id = $1",
            )
            .bind(message_id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((retracted, playbook, content_hash)) = row else {
            return Ok(Some(format!("message {message_id} no longer exists")));
        };
        if retracted.is_some() {
            return Ok(Some(format!("message {message_id} was retracted")));
        }
        let user: Option<(String, Option<DbTime>)> = on_tx!(self.tx, c => {
            sqlx::query_as("SELECT role, disabled_at FROM users WHERE name = $1")
                .bind(creator)
                .fetch_optional(&mut *c)
                .await?
        });
        match user {
            None => return Ok(Some(format!("its creator {creator} is no longer a user"))),
            Some((_, Some(_))) => return Ok(Some(format!("its creator {creator} is disabled"))),
            Some((role, None)) if !approving_roles.contains(&role) => {
                return Ok(Some(format!(
                    "its creator {creator} is now {role} and may no longer approve"
                )))
            }
            Some(_) => {}
        }
        let approved: Option<String> = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "SELECT content_hash FROM playbook_approvals WHERE playbook_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(&playbook)
            .fetch_optional(&mut *c)
            .await?
        });
        match approved {
            None => return Ok(Some(format!("playbook {playbook} has no pre-approval"))),
            Some(hash) if hash != content_hash => {
                return Ok(Some(format!(
                    "playbook {playbook} was approved again with other content since message {message_id} was drafted"
                )))
            }
            Some(_) => {}
        }
        let texts = self
            .tx
            .store
            .outbox()
            .message_for_sending(message_id)
            .await?
            .map(|m| m.texts)
            .unwrap_or_default();
        self.tx
            .store
            .outbox()
            .consent_problem(message_id, &texts)
            .await
    }

    /// Stops schedule `id` at its run `run_at` (compare-and-set), audited as
    /// `schedule.stop` with the reason.
    async fn stop(
        &mut self,
        actor: &str,
        id: i64,
        message_id: i64,
        run_at: &DbTime,
        reason: &str,
    ) -> Result<(), StoreError> {
        let stopped = on_tx!(self.tx, c => {
            sqlx::query(
                "UPDATE schedules SET state = 'stopped', stop_reason = $1 \
                 WHERE id = $2 AND run_at = $3 AND state = 'scheduled'",
            )
            .bind(reason)
            .bind(id)
            .bind(run_at)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if stopped > 0 {
            self.tx
                .append_audit(
                    AuditEvent::new(actor, "schedule.stop")
                        .subject("schedule", id.to_string())
                        .subject("message", message_id.to_string())
                        .outcome(format!("stopped: {reason}")),
                )
                .await?;
        }
        Ok(())
    }
}

impl Schedules<'_> {
    /// Recurring schedules, newest first (`message_id` narrows to one message's).
    pub async fn recurring(
        self,
        message_id: Option<i64>,
    ) -> Result<Vec<RecurringSchedule>, StoreError> {
        type Row = (
            i64,
            i64,
            DbTime,
            i64,
            Option<DbTime>,
            i64,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT id, message_id, run_at, every_seconds, until_at, fired, state, created_by, \
                 stop_reason FROM schedules WHERE ($1 IS NULL OR message_id = $1) ORDER BY id DESC",
            )
            .bind(message_id)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    id,
                    message_id,
                    run_at,
                    every_seconds,
                    until_at,
                    fired,
                    state,
                    created_by,
                    stop_reason,
                )| {
                    Ok(RecurringSchedule {
                        id,
                        message_id,
                        run_at: run_at.get(),
                        every_seconds,
                        until_at: opt_time(until_at),
                        fired,
                        state: crate::time::enum_col(
                            "schedule state",
                            &state,
                            ScheduleState::parse,
                        )?,
                        created_by,
                        stop_reason,
                    })
                },
            )
            .collect()
    }
}
