//! Delivery events: what the control panel's live grid shows, published in-process.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What happened to one (message, account) delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryEventKind {
    /// Waiting in the outbox again: a failed delivery queued for another try
    /// ([`crate::Dispatcher::queued`]).
    Queued,
    /// A worker is sending it.
    Sending {
        /// Attempt number.
        attempt: i64,
    },
    /// On the platform.
    Delivered {
        /// The platform's id.
        remote_id: String,
        /// Link to the live post.
        url: Option<String>,
    },
    /// Failed; will be tried again.
    Retrying {
        /// When.
        next_attempt_at: DateTime<Utc>,
        /// Why.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
        /// Whether the platform refused the account's credentials (the account needs
        /// a new token or a reconnect, not a retry).
        auth: bool,
    },
    /// Sent, but the platform's answer was lost: being reconciled.
    Unknown {
        /// Why.
        error: String,
    },
    /// Removed from the platform by a retraction: published for the original's row when
    /// the deletion is recorded as done.
    Retracted,
    /// Not sent: the message was retracted first.
    Cancelled,
    /// Not sent: the account was disabled after the message was approved.
    Skipped {
        /// Why.
        error: String,
    },
}

impl DeliveryEventKind {
    /// The state's name, as panels and metrics see it (`delivered`, `retrying`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryEventKind::Queued => "queued",
            DeliveryEventKind::Sending { .. } => "sending",
            DeliveryEventKind::Delivered { .. } => "delivered",
            DeliveryEventKind::Retrying { .. } => "retrying",
            DeliveryEventKind::Failed { .. } => "failed",
            DeliveryEventKind::Unknown { .. } => "unknown",
            DeliveryEventKind::Retracted => "retracted",
            DeliveryEventKind::Cancelled => "cancelled",
            DeliveryEventKind::Skipped { .. } => "skipped",
        }
    }
}

/// One delivery's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryEvent {
    /// The message.
    pub message_id: i64,
    /// The account.
    pub account_id: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: DeliveryEventKind,
}
