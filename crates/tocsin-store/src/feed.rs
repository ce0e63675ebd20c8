//! What the public alert feed reads: approved messages of the playbooks that publish
//! alerts, each with the draft it came from (playbook, step, values) and its approved
//! texts, newest first. Read-only; nothing here writes or audits.
//!
//! A deletion keeps the draft of the message it acts on, so the same playbook filter finds
//! the originals and what withdrew them; a correction has its own approved draft (of a
//! playbook with CAP fields, such as `correction`).

use crate::aggregates::*;
use crate::tx::on_pool;
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use crate::time::{db, opt_time, DbTime};

/// Message ids per variants query (one parameter each, far below both backends' limits).
const IDS_PER_QUERY: usize = 500;

/// An approved message as the feed reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedMessage {
    /// Row id.
    pub id: i64,
    /// `post`, `delete` or `correction`.
    pub kind: MessageKind,
    /// For deletions and corrections: the message they act on.
    pub target_message_id: Option<i64>,
    /// The approved headline (posts).
    pub title: Option<String>,
    /// When it was approved.
    pub approved_at: DateTime<Utc>,
    /// When it may go out, if it was scheduled.
    pub not_before: Option<DateTime<Utc>>,
    /// When it was retracted, if it was.
    pub retracted_at: Option<DateTime<Utc>>,
    /// Whether it is an exercise.
    pub exercise: bool,
    /// The draft approved (for deletions: the original's).
    pub draft_id: i64,
    /// The draft's playbook.
    pub playbook_id: String,
    /// The draft's step.
    pub step_id: String,
    /// The draft's values as JSON (may hold PHI: kept out of `Debug`).
    pub variables_json: String,
    /// The approved texts, per platform (bodies `None` once retention purged them).
    pub variants: Vec<StoredVariant>,
}

impl std::fmt::Debug for FeedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("target_message_id", &self.target_message_id)
            .field("approved_at", &self.approved_at)
            .field("not_before", &self.not_before)
            .field("retracted_at", &self.retracted_at)
            .field("exercise", &self.exercise)
            .field("playbook_id", &self.playbook_id)
            .field("step_id", &self.step_id)
            .field("variants", &self.variants.len())
            .finish_non_exhaustive()
    }
}

/// `id, kind, target_message_id, title, approved_at, not_before, retracted_at, exercise,
/// draft_id, playbook_id, step_id, variables_json`.
type FeedRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    DbTime,
    Option<DbTime>,
    Option<DbTime>,
    bool,
    i64,
    String,
    String,
    String,
);

/// `n` query placeholders from `first` on, as `backend` writes them (positional `?` on
/// SQLite, where sqlx looks `$n` names up one by one; `$n` on PostgreSQL).
fn placeholders(backend: Backend, first: usize, n: usize) -> Vec<String> {
    (first..first + n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${i}"),
        })
        .collect()
}

/// What the public feed shows can change only when this does: how many messages there
/// are and the newest, how many are retracted, and how many are due (sent) by a time.
pub type FeedFingerprint = (i64, i64, i64, i64);

impl Feed<'_> {
    /// The [`FeedFingerprint`] of the real or exercise messages at `now`: one cheap query,
    /// so the feed is recomposed only when a message was added, retracted or fell due.
    pub async fn fingerprint(
        self,
        exercise: bool,
        now: DateTime<Utc>,
    ) -> Result<FeedFingerprint, StoreError> {
        let now = db(&now);
        Ok(on_pool!(self.store, c => {
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(MAX(id), 0), COUNT(retracted_at), \
                 COUNT(CASE WHEN COALESCE(not_before, approved_at) <= $2 THEN 1 END) \
                 FROM messages WHERE exercise = $1",
            )
            .bind(exercise)
            .bind(now)
            .fetch_one(c)
            .await?
        }))
    }

    /// Up to `limit` approved messages, newest (highest id) first, real or exercise as
    /// `exercise` says, from drafts of `playbooks`, with ids up to `up_to` when given,
    /// whose target set reaches `public_group` (or every account; a retraction follows
    /// its original; a message from before audiences went to every account).
    pub async fn messages(
        self,
        exercise: bool,
        playbooks: &[String],
        public_group: &str,
        up_to: Option<i64>,
        limit: i64,
    ) -> Result<Vec<FeedMessage>, StoreError> {
        if playbooks.is_empty() || limit <= 0 {
            return Ok(Vec::new());
        }
        let p = placeholders(self.store.backend(), 1, playbooks.len() + 4);
        let (head, rest) = p.split_at(2);
        let (listed, last) = rest.split_at(playbooks.len());
        // The stored target set is `{"spec":{"everyone":..,"groups":[..],
        // "exclude_accounts":..`: group names (lowercase letters, digits, dashes) are the
        // only strings between `"groups":[` and `],"exclude_accounts"`.
        let sql = format!(
            "SELECT m.id, m.kind, m.target_message_id, m.title, m.approved_at, m.not_before, \
             m.retracted_at, m.exercise, m.draft_id, d.playbook_id, d.step_id, d.variables_json \
             FROM messages m JOIN drafts d ON d.id = m.draft_id \
             LEFT JOIN messages o ON o.id = m.target_message_id \
             WHERE m.exercise = {} AND m.id <= {} AND d.playbook_id IN ({}) \
             AND (COALESCE(m.targets_json, o.targets_json) IS NULL \
                  OR COALESCE(m.targets_json, o.targets_json) LIKE '%\"everyone\":true%' \
                  OR COALESCE(m.targets_json, o.targets_json) LIKE {}) \
             ORDER BY m.id DESC LIMIT {}",
            head.first().map_or("", String::as_str),
            head.get(1).map_or("", String::as_str),
            listed.join(", "),
            last.first().map_or("", String::as_str),
            last.get(1).map_or("", String::as_str),
        );
        let group_pattern = format!("%\"groups\":[%\"{public_group}\"%],\"exclude_accounts\"%");
        let rows: Vec<FeedRow> = on_pool!(self.store, c => {
            let mut q = sqlx::query_as(&sql).bind(exercise).bind(up_to.unwrap_or(i64::MAX));
            for playbook in playbooks {
                q = q.bind(playbook);
            }
            q.bind(&group_pattern).bind(limit).fetch_all(c).await?
        });
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut variants = self.variants_of(&ids).await?;
        rows.into_iter()
            .map(|r| {
                Ok(FeedMessage {
                    id: r.0,
                    kind: crate::time::enum_col("message kind", &r.1, MessageKind::parse)?,
                    target_message_id: r.2,
                    title: r.3,
                    approved_at: r.4.get(),
                    not_before: opt_time(r.5),
                    retracted_at: opt_time(r.6),
                    exercise: r.7,
                    draft_id: r.8,
                    playbook_id: r.9,
                    step_id: r.10,
                    variables_json: r.11,
                    variants: variants.remove(&r.0).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The stored variants of these messages, per message, in stored order.
    async fn variants_of(
        self,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, Vec<StoredVariant>>, StoreError> {
        let mut out: BTreeMap<i64, Vec<StoredVariant>> = BTreeMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT v.message_id, v.target, v.body_sha256, b.body FROM rendered_variants v \
                 LEFT JOIN rendered_bodies b ON b.variant_id = v.id \
                 WHERE v.message_id IN ({}) ORDER BY v.id",
                placeholders(self.store.backend(), 1, chunk.len()).join(", ")
            );
            let rows: Vec<(i64, String, String, Option<String>)> = on_pool!(self.store, c => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(c).await?
            });
            for (message, target, body_sha256, body) in rows {
                out.entry(message).or_default().push(StoredVariant {
                    target: crate::time::target_col(&target)?,
                    body_sha256,
                    body,
                });
            }
        }
        Ok(out)
    }
}
