//! Tocsin's platform connectors: one module per platform, each speaking that platform's
//! wire format for one account behind [`tocsin_connector::Connector`].
//!
//! Modules follow one layout (as vector's sinks do): `config.rs` holds the account's
//! settings (unknown fields refused), `mod.rs` the connector, `tests.rs` its tests
//! against the fake server in `tocsin-test-support`. [`build_connector`] turns an
//! [`AccountSpec`] into a ready connector. No connector retries: the shared layer does.

mod account;
pub mod sandbox;
pub mod mastodon;
pub mod bluesky;
pub mod email;
mod endpoint;
pub mod matrix;
pub mod webhook;
pub mod telegram;
pub mod discord;
//TMP pub mod slack;
//TMP pub mod teams;
//TMP pub mod sms;

pub use account::{build_connector, AccountSpec};
