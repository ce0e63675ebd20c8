//! Tocsin's web layer: [`server`], the axum server (JSON API, websocket, control panel),
//! and [`people`]: users, roles,
//! passwords, the TOTP second factor, sessions and sign-in throttling, over the store.
//!
//! Everything here takes its time from the store's clock and its state from values passed
//! in, so tests move time by hand and run the same stories on SQLite and PostgreSQL.

pub mod people;
pub mod server;
