//! Tocsin's platform connectors: one module per platform, each speaking that platform's
//! wire format for one account behind [`tocsin_connector::Connector`].
//!
//! Modules follow one layout (as vector's sinks do): `config.rs` holds the account's
//! settings (unknown fields refused), `mod.rs` the connector, `tests.rs` its tests
//! against the fake server in `tocsin-test-support`. [`build_connector`] turns an
//! [`AccountSpec`] into a ready connector. No connector retries: the shared layer does.

mod account;
pub mod bluesky;
pub mod discord;
pub mod email;
mod endpoint;
pub mod facebook;
pub mod linkedin;
pub mod mastodon;
pub mod matrix;
pub mod sandbox;
pub mod slack;
pub mod sms;
pub mod teams;
pub mod telegram;
pub mod threads;
pub mod webhook;
pub mod x;

pub use account::{build_connector, AccountSpec};
