//! The audit viewer's API: filtered entries with paging, exports (JSONL with its signed
//! checkpoints, or CSV) and verification of the live chain.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tocsin_store::audit_log::{AuditFilter, ExportFormat};

use super::error::{ApiError, ApiResult, Json, Query};
use super::WebState;
use tocsin_app::people::Permission;
use tocsin_app::Authed;

/// Filters, as query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    playbook: Option<String>,
    account: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after_seq: Option<u64>,
    before_seq: Option<u64>,
    /// `newest` (newest first, the viewer's default) or `oldest` (the chain's order).
    order: Option<String>,
    limit: Option<u64>,
    format: Option<String>,
}

fn time(field: &str, text: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|n| n.and_utc()));
    }
    if let Ok(n) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Ok(Some(n.and_utc()));
    }
    Err(ApiError::invalid(
        field,
        format!("`{text}` is not a time: write 2026-07-14 or 2026-07-14T09:30:00Z"),
    ))
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        Ok(AuditFilter {
            since: time("since", self.since.as_deref())?,
            until: time("until", self.until.as_deref())?,
            actor: non_empty(&self.actor),
            playbook: non_empty(&self.playbook),
            account: non_empty(&self.account),
            action: non_empty(&self.action),
            outcome: non_empty(&self.outcome),
            after_seq: self.after_seq,
            before_seq: self.before_seq,
            newest_first: match self.order.as_deref().map(str::trim) {
                None | Some("") | Some("oldest") => false,
                Some("newest") => true,
                Some(other) => {
                    return Err(ApiError::invalid(
                        "order",
                        format!("`{other}` is not an order: use newest or oldest"),
                    ))
                }
            },
            mentions: Vec::new(),
            limit: None,
        })
    }
}

/// One entry as the viewer shows it.
#[derive(Debug, Serialize)]
pub struct EntryView {
    seq: u64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    subjects: BTreeMap<String, String>,
    outcome: Option<String>,
    exercise: bool,
    hash: String,
}

impl From<tocsin_store::StoredEntry> for EntryView {
    fn from(r: tocsin_store::StoredEntry) -> EntryView {
        EntryView {
            seq: r.entry.seq,
            at: r.entry.time,
            actor: r.entry.event.actor,
            action: r.entry.event.action,
            subjects: r.entry.event.subjects,
            outcome: r.entry.event.outcome,
            exercise: r.entry.event.exercise,
            hash: r.hash.to_hex(),
        }
    }
}

/// A page of entries.
#[derive(Debug, Serialize)]
pub struct EntriesPage {
    entries: Vec<EntryView>,
    head_seq: u64,
}

/// `GET /api/audit`.
pub async fn entries(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<EntriesPage>> {
    who.require(&web.app, Permission::ReadAudit)?;
    let mut filter = q.filter()?;
    filter.limit = Some(q.limit.unwrap_or(100).clamp(1, 1000));
    let rows = web.app.store().audit().read(&filter).await?;
    let head_seq = web.app.store().audit().entry_count().await?;
    Ok(Json(EntriesPage {
        entries: rows.into_iter().map(EntryView::from).collect(),
        head_seq,
    }))
}

/// What the audit viewer's filters offer: the actors and actions of the newest entries,
/// and the playbooks of the library.
#[derive(Debug, Serialize)]
pub struct FacetsView {
    actors: Vec<String>,
    actions: Vec<String>,
    playbooks: Vec<PlaybookChoice>,
}

/// A playbook as a filter choice.
#[derive(Debug, Serialize)]
pub struct PlaybookChoice {
    id: String,
    title: String,
}

/// How many of the newest entries the filter choices are read from.
const FACETS_FROM: i64 = 20_000;

/// `GET /api/audit/facets`.
pub async fn facets(State(web): State<WebState>, who: Authed) -> ApiResult<Json<FacetsView>> {
    who.require(&web.app, Permission::ReadAudit)?;
    let found = web.app.store().audit().facets(FACETS_FROM).await?;
    let mut playbooks: Vec<PlaybookChoice> = web
        .app
        .library()
        .playbooks()
        .iter()
        .map(|p| PlaybookChoice {
            id: p.id.clone(),
            title: p.title.clone(),
        })
        .collect();
    playbooks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(FacetsView {
        actors: found.actors,
        actions: found.actions,
        playbooks,
    }))
}

/// One message's whole story, from the audit log.
#[derive(Debug, Serialize)]
pub struct StoryView {
    message_id: i64,
    draft_id: i64,
    /// Its retraction and corrections.
    acted_on_by: Vec<i64>,
    /// Every entry naming the message, its draft, or a message acting on it (and that
    /// one's draft), oldest first: drafted, reviewed, approved, each delivery, retracted.
    entries: Vec<EntryView>,
}

/// The most entries a story shows (a fan-out to thousands of accounts is one entry per
/// delivery; the export has them all).
const STORY_LIMIT: u64 = 5_000;

/// `GET /api/messages/{id}/story` (who may read the audit log).
pub async fn story(
    State(web): State<WebState>,
    who: Authed,
    super::error::Path(id): super::error::Path<i64>,
) -> ApiResult<Json<StoryView>> {
    who.require(&web.app, Permission::ReadAudit)?;
    let store = web.app.store();
    let m = store
        .messages()
        .summary(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    let acting = store.messages().acting_on(id).await?;
    let mut mentions = vec![
        ("message".to_string(), id.to_string()),
        ("draft".to_string(), m.draft_id.to_string()),
    ];
    for (message, draft) in &acting {
        mentions.push(("message".into(), message.to_string()));
        mentions.push(("draft".into(), draft.to_string()));
    }
    let filter = AuditFilter {
        mentions,
        limit: Some(STORY_LIMIT),
        ..AuditFilter::default()
    };
    let rows = store.audit().read(&filter).await?;
    Ok(Json(StoryView {
        message_id: id,
        draft_id: m.draft_id,
        acted_on_by: acting.iter().map(|(m, _)| *m).collect(),
        entries: rows.into_iter().map(EntryView::from).collect(),
    }))
}

/// `GET /api/audit/export`: the file `tocsin audit export` writes, streamed a page of
/// entries at a time (a large log is never held in memory whole). A failure part-way
/// cuts the transfer off, so a partial download never looks complete.
pub async fn export(
    State(web): State<WebState>,
    who: Authed,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    who.require(&web.app, Permission::ExportAudit)?;
    let mut filter = q.filter()?;
    // An export is in the chain's order, whatever the viewer shows.
    filter.newest_first = false;
    let format = q.format.as_deref().unwrap_or("jsonl");
    let (kind, content_type, name) = match format {
        "jsonl" => (
            ExportFormat::Jsonl,
            "application/x-ndjson",
            "tocsin-audit.jsonl",
        ),
        "csv" => (
            ExportFormat::Csv,
            "text/csv; charset=utf-8",
            "tocsin-audit.csv",
        ),
        other => {
            return Err(ApiError::invalid(
                "format",
                format!("`{other}` is not an export format (jsonl, csv)"),
            ))
        }
    };
    // The export itself is an audited act, recorded before any of it is sent.
    web.app
        .store()
        .append_audit(
            tocsin_audit::AuditEvent::new(who.user(), "audit.export")
                .subject("format", format)
                .outcome("ok"),
        )
        .await?;
    let (chunks, rx) = tokio::sync::mpsc::channel(4);
    let store = web.app.store().clone();
    tokio::spawn(async move {
        if let Err(e) = store.audit().stream_export(&filter, kind, chunks).await {
            tracing::warn!(error = %e, "an audit export stopped part-way");
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The verification result.
#[derive(Debug, Serialize)]
pub struct VerifyAnswer {
    ok: bool,
    entries: u64,
    checkpoints: usize,
    problems: Vec<String>,
}

/// `GET /api/audit/verify`.
pub async fn verify(State(web): State<WebState>, who: Authed) -> ApiResult<Json<VerifyAnswer>> {
    who.require(&web.app, Permission::ReadAudit)?;
    let trusted = web.app.store().kept_checkpoint().map_err(ApiError::from)?;
    Ok(Json(
        match web
            .app
            .store()
            .audit()
            .verify_live(trusted.as_deref())
            .await?
        {
            Ok(v) => VerifyAnswer {
                ok: true,
                entries: v.entries,
                checkpoints: v.checkpoints,
                problems: Vec::new(),
            },
            Err(b) => VerifyAnswer {
                ok: false,
                entries: b.seq.saturating_sub(1),
                checkpoints: 0,
                problems: vec![format!("entry {}: {}", b.seq, b.problem)],
            },
        },
    ))
}
