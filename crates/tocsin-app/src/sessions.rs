//! Live sessions (live-tweeting a procedure under a shared hashtag): start one, list
//! them, and see one with its posts and each account's reply chain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tocsin_store::LiveSessionRow;

use crate::catalog::{playbook, targeting};
use crate::error::{AppError, AppResult};
use crate::events::PanelEvent;
use crate::people::Permission;
use crate::views::MessageView;
use crate::Authed;
use crate::Tocsin;
use tocsin_domain::audience::TargetSpec;

/// A live session.
#[derive(Debug, Clone, Serialize)]
pub struct LiveSession {
    id: i64,
    playbook: String,
    title: String,
    hashtag: String,
    exercise: bool,
    created_by: String,
    created_at: DateTime<Utc>,
    /// `open`, or `ended` once ended (`POST /api/sessions/{id}/end`).
    state: String,
    /// Who every post goes to (`None`: the playbook's audience).
    targets: Option<TargetSpec>,
    /// The values fixed for every post (the playbook's `[session] fixed` variables).
    values: BTreeMap<String, String>,
}

impl From<&LiveSessionRow> for LiveSession {
    fn from(s: &LiveSessionRow) -> LiveSession {
        LiveSession {
            id: s.id,
            playbook: s.playbook_id.clone(),
            title: s.title.clone(),
            hashtag: s.hashtag.clone(),
            exercise: s.exercise,
            created_by: s.created_by.clone(),
            created_at: s.created_at,
            state: s.state.as_str().to_string(),
            targets: s.targets.clone(),
            values: s.values.clone(),
        }
    }
}

/// One post in an account's thread.
#[derive(Debug, Serialize)]
pub struct ThreadPost {
    message_id: i64,
    url: Option<String>,
    state: String,
    /// The text this account got (its platform's approved variant; `None` once purged).
    text: Option<String>,
}

/// An account's reply chain.
#[derive(Debug, Serialize)]
pub struct Thread {
    account_id: i64,
    account: String,
    platform: String,
    /// The platform whose text it gets, in words.
    platform_name: &'static str,
    posts: Vec<ThreadPost>,
}

/// A session with its posts and threads.
#[derive(Debug, Serialize)]
pub struct SessionDetail {
    #[serde(flatten)]
    session: LiveSession,
    messages: Vec<MessageView>,
    threads: Vec<Thread>,
}

/// Every live session.
pub async fn list(app: &Tocsin, who: &Authed) -> AppResult<Vec<LiveSession>> {
    who.require(app, Permission::ViewDrafts)?;
    let rows = app.0.store.live_sessions().list().await?;
    Ok(rows.iter().map(LiveSession::from).collect())
}

/// A new session.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    playbook: String,
    hashtag: String,
    #[serde(default)]
    exercise: bool,
    /// Who every post of the session goes to (the playbook's audience when left out).
    #[serde(default)]
    targets: Option<TargetSpec>,
    /// Values of the playbook's `[session] fixed` variables, set once for every post
    /// (any left out are asked of each post instead).
    #[serde(default)]
    values: BTreeMap<String, String>,
}

/// The fixed values a session starts with, checked against the playbook: each names a
/// `[session] fixed` variable and passes its rules; empty ones are left out.
fn fixed_values(
    p: &tocsin_domain::playbook::Playbook,
    given: &BTreeMap<String, String>,
) -> AppResult<BTreeMap<String, String>> {
    let fixed: &[String] = p.session.as_ref().map_or(&[], |s| s.fixed.as_slice());
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let field = format!("values.{name}");
        if !fixed.contains(name) {
            return Err(AppError::invalid(
                field,
                format!(
                    "`{name}` is not fixed for a session of `{}` (fixed: {}); give it with each post",
                    p.id,
                    if fixed.is_empty() { "none".to_string() } else { fixed.join(", ") }
                ),
            ));
        }
        if value.trim().is_empty() {
            continue;
        }
        let spec = p
            .variable(name)
            .ok_or_else(|| AppError::invalid(field.clone(), format!("no variable `{name}`")))?;
        spec.parse(value)
            .map_err(|e| AppError::invalid(field, e.to_string()))?;
        out.insert(name.clone(), value.trim().to_string());
    }
    Ok(out)
}

/// Whether a hashtag (without `#`) is usable on every platform: 1 to 100 letters,
/// digits or `_`, not only digits.
pub fn valid_hashtag(tag: &str) -> bool {
    let n = tag.chars().count();
    (1..=100).contains(&n)
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !tag.chars().all(|c| c.is_ascii_digit())
}

/// Starts a live session under a hashtag (drafter and up).
pub async fn create(app: &Tocsin, who: &Authed, form: CreateSession) -> AppResult<LiveSession> {
    who.require(app, Permission::EditDrafts)?;
    let p = playbook(app, &form.playbook)?;
    if p.session.is_none() {
        return Err(AppError::invalid(
            "playbook",
            format!("playbook `{}` is not a live-session playbook", p.id),
        ));
    }
    let tag = form.hashtag.trim().trim_start_matches('#');
    if !valid_hashtag(tag) {
        return Err(AppError::invalid(
            "hashtag",
            "a hashtag is 1 to 100 letters, digits or _, and not only digits",
        ));
    }
    let values = fixed_values(p, &form.values)?;
    // Checked against the first step's audience now; kept as chosen (the accounts are
    // resolved again for each post, and each post's approval covers them).
    let first = p.steps.first().map(|s| s.id.clone()).unwrap_or_default();
    // A set that reaches nothing yet is kept (the hashtag can be watched already); its
    // posts cannot be submitted until it reaches an account.
    let (targeting, _) = targeting(app, p, &first, form.targets.as_ref(), form.exercise).await?;
    let mut tx = app.0.store.begin().await?;
    let id = tx
        .live_sessions()
        .create(who.user(), &p.id, &p.title, tag, form.exercise)
        .await?;
    tx.live_sessions()
        .set_targets(who.user(), id, &targeting.spec)
        .await?;
    if !values.is_empty() {
        tx.live_sessions()
            .set_values(who.user(), id, &values)
            .await?;
    }
    tx.commit().await?;
    // Its hashtag is heard from now on.
    app.0.monitor.wake();
    let row = session_or_404(app, id).await?;
    let session = LiveSession::from(&row);
    // Other nodes' monitors start its streams when the relay brings them this frame.
    app.0.hub.publish(&PanelEvent::LiveSession {
        session: session.clone(),
    });
    Ok(session)
}

/// Live session `id`, or 404 naming it.
pub(crate) async fn session_or_404(
    app: &Tocsin,
    id: i64,
) -> AppResult<tocsin_store::LiveSessionRow> {
    app.0
        .store
        .live_sessions()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no live session {id}")))
}

/// Refuses a post or preview into `session` for another playbook than `p` (422 naming
/// `session_id`).
pub(crate) fn runs_playbook(
    session: &tocsin_store::LiveSessionRow,
    p: &tocsin_domain::playbook::Playbook,
) -> AppResult<()> {
    if session.playbook_id == p.id {
        return Ok(());
    }
    Err(AppError::invalid(
        "session_id",
        format!(
            "live session {} runs playbook `{}`",
            session.id, session.playbook_id
        ),
    ))
}

/// A live session with its posts and each account's thread.
pub async fn get_one(app: &Tocsin, who: &Authed, id: i64) -> AppResult<SessionDetail> {
    who.require(app, Permission::ViewDeliveries)?;
    let row = session_or_404(app, id).await?;
    let mut messages = app.0.store.live_sessions().messages(id).await?;
    messages.sort_by_key(|m| m.id);
    let mut threads: BTreeMap<i64, Thread> = BTreeMap::new();
    for m in messages
        .iter()
        .filter(|m| m.kind == tocsin_store::outbox::MessageKind::Post)
    {
        let texts: BTreeMap<tocsin_domain::Platform, String> = app
            .0
            .store
            .messages()
            .variants(m.id)
            .await?
            .into_iter()
            .filter_map(|v| Some((v.target.platform()?, v.body?)))
            .collect();
        for d in app.0.store.messages().delivery_rows(m.id).await? {
            let platform = crate::catalog::text_platform(d.platform, d.stands_for);
            let thread = threads.entry(d.account_id).or_insert_with(|| Thread {
                account_id: d.account_id,
                account: if d.display_name.is_empty() {
                    d.handle.clone()
                } else {
                    d.display_name.clone()
                },
                platform: d.platform.as_str().to_string(),
                platform_name: platform.display_name(),
                posts: Vec::new(),
            });
            thread.posts.push(ThreadPost {
                message_id: m.id,
                url: crate::views::shown_link(d.remote_url.as_deref()),
                state: crate::views::public_state(d.state.as_str()).to_string(),
                text: texts.get(&platform).cloned(),
            });
        }
    }
    Ok(SessionDetail {
        session: LiveSession::from(&row),
        messages: messages.iter().map(MessageView::from).collect(),
        threads: threads.into_values().collect(),
    })
}
