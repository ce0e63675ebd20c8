//! "Pre-approved" as a checked fact: a playbook may be used only while its content hash
//! equals the hash its latest approval covered.
//!
//! Where approvals are kept is the caller's business (the store records them, with an audit
//! entry); this module only decides, from the recorded approvals, what state a playbook is in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A recorded approval of one exact version of a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookApproval {
    /// The playbook approved.
    pub playbook_id: String,
    /// The content hash approved ([`crate::content_hash::content_hash`]).
    pub content_hash: String,
    /// Who approved it (e.g. the clinical or legal reviewer).
    pub approved_by: String,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// Why, or a reference to the review record.
    pub note: Option<String>,
}

/// Whether a playbook may be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PreapprovalStatus {
    /// The current content is exactly what was last approved.
    Approved {
        /// The approval covering it.
        approval: PlaybookApproval,
    },
    /// The playbook or a template changed since its last approval.
    Changed {
        /// The last approval, which covered other content.
        approval: PlaybookApproval,
        /// The content hash now.
        current_hash: String,
    },
    /// Nobody ever approved this playbook.
    NeverApproved,
}

impl PreapprovalStatus {
    /// Whether messages may be drafted from the playbook.
    pub fn is_usable(&self) -> bool {
        matches!(self, PreapprovalStatus::Approved { .. })
    }

    /// One word for lists: `approved`, `changed`, `unapproved`.
    pub fn label(&self) -> &'static str {
        match self {
            PreapprovalStatus::Approved { .. } => "approved",
            PreapprovalStatus::Changed { .. } => "changed",
            PreapprovalStatus::NeverApproved => "unapproved",
        }
    }
}

/// The state of a playbook whose content hash is `current_hash`, given its recorded
/// approvals (any order; other playbooks' approvals are ignored). Only the most recent
/// approval counts: reverting to older approved content needs a fresh approval, so the
/// reviewers' latest decision is always the one in force.
pub fn preapproval_status(
    playbook_id: &str,
    current_hash: &str,
    approvals: &[PlaybookApproval],
) -> PreapprovalStatus {
    let latest = approvals
        .iter()
        .filter(|a| a.playbook_id == playbook_id)
        .max_by_key(|a| a.approved_at);
    match latest {
        None => PreapprovalStatus::NeverApproved,
        Some(a) if a.content_hash == current_hash => PreapprovalStatus::Approved {
            approval: a.clone(),
        },
        Some(a) => PreapprovalStatus::Changed {
            approval: a.clone(),
            current_hash: current_hash.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn approval(hash: &str, day: u32) -> PlaybookApproval {
        PlaybookApproval {
            playbook_id: "boil-water".into(),
            content_hash: hash.into(),
            approved_by: "legal".into(),
            approved_at: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
            note: None,
        }
    }

    #[test]
    fn a_playbook_is_approved_only_while_its_hash_matches_the_latest_approval() {
        assert_eq!(
            preapproval_status("boil-water", "h1", &[]),
            PreapprovalStatus::NeverApproved
        );
        let approvals = [approval("h1", 1), approval("h2", 2)];
        assert!(preapproval_status("boil-water", "h2", &approvals).is_usable());
        let old = preapproval_status("boil-water", "h1", &approvals);
        assert_eq!(old.label(), "changed");
        assert!(!old.is_usable());
    }

    #[test]
    fn approvals_of_other_playbooks_do_not_count() {
        let mut a = approval("h1", 1);
        a.playbook_id = "other".into();
        assert_eq!(
            preapproval_status("boil-water", "h1", &[a]),
            PreapprovalStatus::NeverApproved
        );
    }
}
