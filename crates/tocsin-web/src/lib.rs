//! Tocsin's web layer. It will hold the axum server, its sessions and roles, and the
//! websocket protocol the control panel speaks; today it holds [`people`]: users, roles,
//! passwords, the TOTP second factor, sessions and sign-in throttling, over the store.
//!
//! Everything here takes its time from the store's clock and its state from values passed
//! in, so tests move time by hand and run the same stories on SQLite and PostgreSQL.

pub mod people;
