//! Paging the on-call approvers (`[notify]`): when a draft is submitted, a short text goes
//! through already-connected internal accounts (a staff Slack, an SMS list, ...) with
//! their own connectors, never as a message or a delivery; it names the playbook, the
//! step, who submitted and a link, never a variable value (they may hold PHI).
//!
//! A draft still submitted `escalate_after` later pages the second list, once. With
//! several nodes, the escalation is claimed in the audit log: the claim is appended (which
//! holds the log's head until commit), counted, and rolled back when another node's came
//! first, so no table is needed. Every page is audited as `notify.page`.

use std::time::Duration;
use tocsin_audit::AuditEvent;
use tocsin_connector::OutgoingPost;
use tocsin_domain::approval::DraftState;
use tocsin_store::drafts::WorkflowDraft;

use crate::shutdown::Shutdown;
use crate::Tocsin;

/// The default time between two looks for drafts to escalate.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(30);

/// Who is paged, and when (`[notify]`).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Accounts paged when a draft is submitted.
    pub on_submit: Vec<i64>,
    /// How long a submitted draft waits before the escalation list is paged; `None`: never.
    pub escalate_after: Option<Duration>,
    /// Accounts paged once a draft has waited `escalate_after`.
    pub escalate_to: Vec<i64>,
    /// The panel's public address, for the link in a page (`[server] public_url`).
    pub public_url: Option<String>,
    /// How often drafts are looked at for escalation.
    pub check_every: Duration,
}

impl Default for NotifyConfig {
    /// Nobody is paged.
    fn default() -> NotifyConfig {
        NotifyConfig {
            on_submit: Vec::new(),
            escalate_after: None,
            escalate_to: Vec::new(),
            public_url: None,
            check_every: DEFAULT_CHECK_EVERY,
        }
    }
}

/// Why a page goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Submitted,
    Escalated,
}

impl Page {
    fn as_str(self) -> &'static str {
        match self {
            Page::Submitted => "submit",
            Page::Escalated => "escalation",
        }
    }
}

/// Pages `[notify] on_submit` about a draft just submitted by `by`, in the background (a
/// slow platform does not hold up the submission).
pub(crate) fn draft_submitted(app: &Tocsin, draft_id: i64, by: &str) {
    if app.0.config.notify.on_submit.is_empty() {
        return;
    }
    let app = app.clone();
    let by = by.to_string();
    tokio::spawn(async move {
        match app.0.store.drafts().get(draft_id).await {
            Ok(Some(d)) => {
                let accounts = app.0.config.notify.on_submit.clone();
                page_all(&app, &d, &accounts, Page::Submitted, Some(&by)).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, draft = draft_id, "cannot page about a submitted draft")
            }
        }
    });
}

/// The page's text: playbook and step titles, who, a link; no variable value.
fn page_text(app: &Tocsin, d: &WorkflowDraft, page: Page, by: Option<&str>) -> (String, String) {
    let playbook = app.0.library.get(&d.playbook_id);
    let title = playbook.map_or(d.playbook_id.as_str(), |p| p.title.as_str());
    let step = playbook
        .and_then(|p| p.step(&d.step_id))
        .map_or(d.step_id.as_str(), |s| s.title.as_str());
    let exercise = if d.exercise { "[EXERCISE] " } else { "" };
    let head = match page {
        Page::Submitted => "Tocsin: a draft waits for approval".to_string(),
        Page::Escalated => {
            let minutes = app
                .0
                .config
                .notify
                .escalate_after
                .map_or(0, |a| a.as_secs() / 60);
            format!("Tocsin: a draft still waits for approval after {minutes} minutes")
        }
    };
    let who = by.map_or_else(String::new, |b| format!(", submitted by {b}"));
    let link = match app.0.config.notify.public_url.as_deref() {
        Some(base) if !base.is_empty() => {
            format!(" {}/#/drafts/{}", base.trim_end_matches('/'), d.id)
        }
        _ => format!(" (draft {})", d.id),
    };
    (
        format!("{exercise}Draft waits for approval: {title}"),
        format!("{exercise}{head}: {title} · {step}{who}.{link}"),
    )
}

async fn page_all(app: &Tocsin, d: &WorkflowDraft, accounts: &[i64], page: Page, by: Option<&str>) {
    let (title, text) = page_text(app, d, page, by);
    let stamp = d.updated_at.timestamp();
    for &account in accounts {
        let mut post = OutgoingPost::new(
            format!("tocsin-page-{}-{account}-{}-{stamp}", d.id, page.as_str()),
            text.clone(),
        );
        post.title = Some(title.clone());
        post.exercise = d.exercise;
        let result = match app.0.routes.get_or_resolve(account).await {
            Some(route) => route
                .connector
                .post(&post)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Err("the account is not connected on this node".to_string()),
        };
        let mut event = AuditEvent::new("system", "notify.page")
            .subject("draft", d.id.to_string())
            .subject("account", account.to_string())
            .subject("playbook", d.playbook_id.clone())
            .subject("page", page.as_str())
            .exercise(d.exercise);
        event = match &result {
            Ok(()) => event.outcome("ok"),
            Err(e) => {
                tracing::warn!(draft = d.id, account, error = %e, "a page failed");
                event
                    .outcome("failed")
                    .subject("error", e.chars().take(300).collect::<String>())
            }
        };
        if let Err(e) = app.0.store.append_audit(event).await {
            tracing::warn!(draft = d.id, account, error = %e, "could not audit a page");
        }
    }
}

/// Pages `[notify] escalate_to` about every draft submitted at least `escalate_after` ago
/// and not yet escalated (by this node or another); returns how many drafts it escalated.
pub async fn escalate_due(app: &Tocsin) -> usize {
    let cfg = &app.0.config.notify;
    let Some(after) = cfg.escalate_after else {
        return 0;
    };
    if cfg.escalate_to.is_empty() {
        return 0;
    }
    let Ok(after) = chrono::Duration::from_std(after) else {
        return 0;
    };
    let waiting = match app
        .0
        .store
        .drafts()
        .list(Some(DraftState::Submitted), 1000)
        .await
    {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list drafts to escalate");
            return 0;
        }
    };
    let now = app.0.store.now();
    let mut escalated = 0;
    for item in waiting.iter().filter(|d| now - d.updated_at >= after) {
        match claim(app, item.id, &item.playbook_id, item.updated_at, after).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(draft = item.id, error = %e, "cannot claim an escalation");
                continue;
            }
        }
        // Approved or withdrawn since the list was read: nothing to page.
        let Ok(Some(d)) = app.0.store.drafts().get(item.id).await else {
            continue;
        };
        if d.state != DraftState::Submitted {
            continue;
        }
        page_all(app, &d, &cfg.escalate_to, Page::Escalated, None).await;
        escalated += 1;
    }
    escalated
}

/// Writes `notify.escalate` for this submission of the draft unless one is there
/// already; true when this call wrote it.
async fn claim(
    app: &Tocsin,
    draft: i64,
    playbook: &str,
    submitted: chrono::DateTime<chrono::Utc>,
    after: chrono::Duration,
) -> Result<bool, tocsin_store::StoreError> {
    let draft = draft.to_string();
    let submitted = submitted.timestamp().to_string();
    let subjects = [("draft", draft.as_str()), ("submitted", submitted.as_str())];
    // Cheap look first: most ticks find the escalation done long ago.
    {
        let mut tx = app.0.store.begin().await?;
        let n = tx.audit_count_with("notify.escalate", &subjects).await?;
        tx.rollback().await?;
        if n > 0 {
            return Ok(false);
        }
    }
    let mut tx = app.0.store.begin().await?;
    tx.append_audit(
        AuditEvent::new("system", "notify.escalate")
            .subject("draft", draft.clone())
            .subject("submitted", submitted.clone())
            .subject("playbook", playbook)
            .subject("after_minutes", after.num_minutes().to_string()),
    )
    .await?;
    if tx.audit_count_with("notify.escalate", &subjects).await? > 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// The escalation service: looks every `check_every` until `stop` fires. Idle when no
/// escalation is configured.
pub(crate) async fn run_escalations(app: Tocsin, mut stop: Shutdown) {
    let cfg = &app.0.config.notify;
    if cfg.escalate_after.is_none() || cfg.escalate_to.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(cfg.check_every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.wait() => break,
            _ = tick.tick() => {}
        }
        let n = escalate_due(&app).await;
        if n > 0 {
            tracing::info!(drafts = n, "escalated drafts still waiting for approval");
        }
    }
}
