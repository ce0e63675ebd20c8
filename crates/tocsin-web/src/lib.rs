//! Tocsin's web layer: [`server`], the axum server (JSON API, websocket, control panel),
//! [`people`]: users, roles,
//! passwords, the TOTP second factor, sessions and sign-in throttling, over the store,
//! [`accounts`]: platform accounts' secrets sealed at rest and their connectors, and
//! [`oauth`]: accounts connected through OAuth 2 and their tokens kept fresh.
//!
//! Everything here takes its time from the store's clock and its state from values passed
//! in, so tests move time by hand and run the same stories on SQLite and PostgreSQL.

pub mod accounts;
pub mod oauth;
pub mod people;
pub mod server;
