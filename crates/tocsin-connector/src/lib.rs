//! What every platform connector is, and the one layer that retries for all of them.
//!
//! A [`Connector`] speaks one platform's wire format for one account: post, reply in a
//! thread, delete, look a post up for reconciliation, health-check, and read the
//! account's [`PublishingQuota`] where the platform has one. It never retries:
//! it answers with a [`ConnectorError`] that says what kind of failure happened, and the
//! shared layer decides ([`retry::RetryPolicy`], [`breaker::CircuitBreaker`],
//! [`rate_limit`]). [`http::HttpClient`] gives connectors bounded HTTP: timeouts on
//! connect, request and body, a cap on response size, no redirect loops.
//! [`tls::TlsTrust`] says which certificate authorities connections trust (the system
//! store, the bundled roots, a private CA).
//! [`PlatformDescriptor`] is what the rest of Tocsin knows of a platform besides its
//! connector: settings, secret, host, OAuth facts, counting rule and capabilities.

mod account;
pub mod breaker;
mod connector;
pub mod descriptor;
pub mod egress;
mod error;
pub mod http;
mod model;
pub mod progress;
pub mod rate_limit;
pub mod retry;
pub mod tls;

pub use account::AccountSpec;
pub use connector::Connector;
pub use descriptor::PlatformDescriptor;
pub use error::ConnectorError;
pub use model::{
    OutgoingPost, PostImage, PostOutcome, PublishingQuota, RateLimitStatus, RemotePost,
};
