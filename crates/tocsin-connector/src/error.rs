//! The one error type every connector answers with, classified so that the shared layer
//! (not the connector) decides whether to retry, wait, stop, or reconcile.

use std::time::Duration;

/// Why a platform call did not succeed, in the terms the retry layer needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Worth retrying after a backoff: 5xx, connection refused before sending, reset.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The platform asked us to slow down (429, or its own code for it).
    #[error("rate limited{}: {reason}", retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// How long the platform asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// What it said.
        reason: String,
    },
    /// The request was sent but its outcome is unknown (timeout, connection dropped after
    /// sending): the post may exist. Reconcile before any retry on platforms without
    /// idempotency keys.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// Will never succeed as sent (400, 404, 422, content refused).
    #[error("refused: {0}")]
    Permanent(String),
    /// The token or password was refused (401/403): needs an admin, not a retry.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The account is misconfigured (missing setting, bad URL).
    #[error("misconfigured: {0}")]
    Config(String),
    /// The platform cannot do this (e.g. delete an SMS).
    #[error("not supported by this platform: {0}")]
    Unsupported(String),
}

impl ConnectorError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient(_)
                | ConnectorError::RateLimited { .. }
                | ConnectorError::Unknown(_)
        )
    }

    /// Whether retrying can never succeed without a human.
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }

    /// Whether this failure counts against the account's circuit breaker: the platform
    /// looks down. Refusals of one post and rate limits do not.
    pub fn counts_as_outage(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient(_) | ConnectorError::Unknown(_)
        )
    }

    /// The same failure seen from a read (a lookup, a permalink, a health check): an
    /// unreadable answer to a read changed nothing, so `Unknown` becomes `Transient`.
    pub fn for_read(self) -> ConnectorError {
        match self {
            ConnectorError::Unknown(why) => ConnectorError::Transient(why),
            other => other,
        }
    }

    /// A short machine-readable kind, for records and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::Transient(_) => "transient",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::Unknown(_) => "unknown",
            ConnectorError::Permanent(_) => "permanent",
            ConnectorError::Auth(_) => "auth",
            ConnectorError::Config(_) => "config",
            ConnectorError::Unsupported(_) => "unsupported",
        }
    }
}
