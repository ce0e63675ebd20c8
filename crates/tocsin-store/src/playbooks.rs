//! Pre-approvals of playbook content: who approved which content hash, and when. The
//! domain decides what a playbook's state is from these.

use tocsin_audit::AuditEvent;

use crate::aggregates::*;
use crate::time::{db, DbTime};
use crate::tx::{on_pool, on_tx, one_tx};
use crate::*;

#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*, variants::*,
};
/// A playbook pre-approval: who approved which content, when (the domain's type).
pub use tocsin_domain::preapproval::PlaybookApproval;

impl PlaybooksTx<'_, '_> {
    /// Records a playbook pre-approval (audited as `playbook.approve`).
    pub async fn record_approval(
        &mut self,
        approval: &PlaybookApproval,
    ) -> Result<i64, StoreError> {
        let at = db(&approval.approved_at);
        let id: i64 = on_tx!(self.tx, c => {
            sqlx::query_scalar(
                "INSERT INTO playbook_approvals (playbook_id, content_hash, approved_by, approved_at, note) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&approval.playbook_id)
            .bind(&approval.content_hash)
            .bind(&approval.approved_by)
            .bind(at)
            .bind(&approval.note)
            .fetch_one(&mut *c)
            .await?
        });
        let mut event = AuditEvent::new(approval.approved_by.as_str(), "playbook.approve")
            .subject("playbook", approval.playbook_id.as_str())
            .subject("content", approval.content_hash.as_str())
            .outcome("approved");
        if let Some(note) = &approval.note {
            event = event.payload(note.as_bytes());
        }
        self.tx.append_audit(event).await?;
        Ok(id)
    }
}

impl Playbooks<'_> {
    /// Records a playbook approval in its own transaction.
    pub async fn record_approval(self, approval: &PlaybookApproval) -> Result<i64, StoreError> {
        one_tx!(self.store, tx => tx.playbooks().record_approval(approval).await?)
    }

    /// Every approval of a playbook, oldest first.
    pub async fn approvals(self, playbook_id: &str) -> Result<Vec<PlaybookApproval>, StoreError> {
        let rows: Vec<(String, String, String, DbTime, Option<String>)> = on_pool!(self.store, p => {
            sqlx::query_as(
                "SELECT playbook_id, content_hash, approved_by, approved_at, note FROM playbook_approvals \
                 WHERE playbook_id = $1 ORDER BY id",
            )
            .bind(playbook_id)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(playbook_id, content_hash, approved_by, at, note)| {
                Ok(PlaybookApproval {
                    playbook_id,
                    content_hash,
                    approved_by,
                    approved_at: at.get(),
                    note,
                })
            })
            .collect()
    }
}
