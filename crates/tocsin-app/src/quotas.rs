//! Publishing quotas shown before approval: how many posts each targeted account has
//! made in its platform's window and how many it allows (Instagram's
//! `content_publishing_limit`, Threads' `threads_publishing_limit`), read from the
//! platform through the account's connector, so an approver knows a post will be refused
//! before approving it. A platform without a quota says nothing; one that does not answer
//! in time is named as unknown, never guessed.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tocsin_domain::Platform;

use crate::error::{AppError, AppResult};
use crate::people::Permission;
use crate::{Authed, Tocsin};

/// Accounts asked about at once, at most.
pub const MAX_ACCOUNTS: usize = 200;

/// How long one platform is waited for.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The accounts to read quotas for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    /// Account ids (a draft's targeted accounts).
    pub accounts: Vec<i64>,
}

/// One account's quota.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuotaView {
    /// The account.
    pub account: i64,
    /// Its platform.
    pub platform: Platform,
    /// Its name as shown.
    pub display_name: String,
    /// Posts made in the window, when the platform answered.
    pub used: Option<u64>,
    /// Posts the window allows, when the platform answered.
    pub total: Option<u64>,
    /// The window, in hours.
    pub window_hours: Option<u64>,
    /// In words: "3 of 100 posts used in the last 24 hours", "limit reached: ...", or
    /// why it is unknown.
    pub summary: String,
    /// The limit is reached: a post now would be refused.
    pub exhausted: bool,
}

/// The quotas of `accounts` (viewers and up: what a reviewer sees), for those whose
/// platform has one; each read from the platform at once, each bounded by a timeout.
pub async fn read(app: &Tocsin, who: &Authed, request: &QuotaRequest) -> AppResult<Vec<QuotaView>> {
    who.require(app, Permission::ViewDrafts)?;
    if request.accounts.len() > MAX_ACCOUNTS {
        return Err(AppError::invalid(
            "accounts",
            format!(
                "{} accounts asked about; at most {MAX_ACCOUNTS} at once",
                request.accounts.len()
            ),
        ));
    }
    let mut reads = tokio::task::JoinSet::new();
    for &id in &request.accounts {
        let Some(record) = app.store().accounts().get(id).await? else {
            return Err(AppError::invalid("accounts", format!("no account {id}")));
        };
        // Sandbox accounts post nowhere: no quota to read.
        if record.sandbox {
            continue;
        }
        let Some(route) = app.routes().get(id) else {
            continue;
        };
        let display_name = record.display_name.clone();
        let platform = record.platform;
        reads.spawn(async move {
            let read = tokio::time::timeout(READ_TIMEOUT, route.connector.publishing_quota()).await;
            (id, platform, display_name, read)
        });
    }
    let mut views = Vec::new();
    while let Some(done) = reads.join_next().await {
        let (account, platform, display_name, read) = done.map_err(|e| AppError::internal(&e))?;
        let name = platform.display_name();
        let view = match read {
            Ok(Ok(None)) => continue,
            Ok(Ok(Some(q))) => {
                let hours = q.window.as_secs().div_ceil(3600);
                let exhausted = q.used >= q.total;
                QuotaView {
                    account,
                    platform,
                    display_name,
                    used: Some(q.used),
                    total: Some(q.total),
                    window_hours: Some(hours),
                    summary: if exhausted {
                        format!(
                            "{name}: limit reached ({} of {} posts in the last {hours} hours): a post now is refused",
                            q.used, q.total
                        )
                    } else {
                        format!(
                            "{name}: {} of {} posts used in the last {hours} hours",
                            q.used, q.total
                        )
                    },
                    exhausted,
                }
            }
            Ok(Err(e)) => unknown(
                account,
                platform,
                display_name,
                format!("{name}: publishing limit unknown ({e})"),
            ),
            Err(_) => unknown(
                account,
                platform,
                display_name,
                format!(
                    "{name}: publishing limit unknown (no answer within {} seconds)",
                    READ_TIMEOUT.as_secs()
                ),
            ),
        };
        views.push(view);
    }
    views.sort_by_key(|v| v.account);
    Ok(views)
}

fn unknown(account: i64, platform: Platform, display_name: String, summary: String) -> QuotaView {
    QuotaView {
        account,
        platform,
        display_name,
        used: None,
        total: None,
        window_hours: None,
        summary,
        exhausted: false,
    }
}
