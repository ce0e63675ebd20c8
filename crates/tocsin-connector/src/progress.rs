//! Durable progress of a post sent as several parts (SMS: one message per recipient).
//!
//! A connector that sends one post as several platform messages records each part as it
//! goes through the post's [`PartLedger`], and asks it first which parts went out
//! already: a claim taken over after a crash resumes with the parts not yet sent, instead
//! of texting everyone again. The dispatcher gives the ledger (the outbox); without one
//! a connector remembers in memory only.

use async_trait::async_trait;
use std::sync::Arc;

use crate::ConnectorError;

/// Where the parts of one delivery that went out are kept.
#[async_trait]
pub trait PartLedger: Send + Sync + std::fmt::Debug {
    /// The parts already sent for this delivery: (part, the platform's id for it).
    async fn sent_parts(&self) -> Result<Vec<(String, String)>, ConnectorError>;
    /// Records that `part` went out as `remote_id` (kept even if the claim moved on: it
    /// was sent).
    async fn part_sent(&self, part: &str, remote_id: &str) -> Result<(), ConnectorError>;
}

/// A post's ledger, if the dispatcher gave one. Any two compare equal: a ledger is where
/// progress goes, not part of what is posted.
#[derive(Debug, Clone, Default)]
pub struct Ledger(pub Option<Arc<dyn PartLedger>>);

impl PartialEq for Ledger {
    fn eq(&self, _: &Ledger) -> bool {
        true
    }
}

impl Eq for Ledger {}
