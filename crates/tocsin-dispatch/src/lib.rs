//! Durable concurrent fan-out: every approved message reaches every account at once,
//! exactly once as far as each platform allows.
//!
//! The [`Dispatcher`] claims due outbox rows from the store in batches (leases and
//! fencing tokens), spawns one task per delivery bounded per platform host, sends through
//! the account's connector under the shared retry policy, per-account circuit breakers
//! and rate-limit pauses, and hands results to a recorder that commits them in groups
//! (one fsync for many results) with their audit entries. Unknown outcomes are reconciled
//! before any retry; live-session posts reply to each account's previous post; a retracted
//! message is deleted or corrected everywhere; recurring schedules fire once across nodes.
//! Every change is published as a [`DeliveryEvent`] for the control panel, and counted in
//! [`DispatchStats`] for operators.
//!
//! Layout: `worker` runs the claim loop and the steps of one attempt, each in its own
//! module: `send` (what one account gets, and the call), `admission` (rate-limit pause,
//! breaker, host limit, lease), `reconcile` (look before sending again), `decide` (retry,
//! backoff, reconcile or stop); every step ends in one `outcome`, which `record` commits
//! in groups and then publishes.

mod admission;
mod decide;
mod events;
mod languages;
mod outcome;
mod reconcile;
mod record;
mod routes;
mod send;
pub mod stats;
mod worker;

pub use events::{DeliveryEvent, DeliveryEventKind};
pub use routes::{AccountRoute, RouteResolver, Routes};
pub use stats::DispatchStats;
pub use worker::{DispatchConfig, Dispatcher, Handoff};
